package results

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tbEvent is what the test reads back of an event: its step, its scalars, whether it is a file
// version or a SessionLog START.
type tbEvent struct {
	step    int64
	scalars map[string]float32
	version string
	start   bool
	raw     []byte
}

// readEvents reads a TFRecord file of events, checking each record's lengths and checksums, and
// decodes the fields MetricsFile writes (event.proto: wall_time 1, step 2, file_version 3,
// summary 5, session_log 7; summary.proto: Summary.value 1, Value.tag 1, Value.simple_value 2).
func readEvents(t *testing.T, path string) []tbEvent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []tbEvent
	for len(data) > 0 {
		if len(data) < 12 {
			t.Fatalf("%s: %d bytes left, not a record", path, len(data))
		}
		n := binary.LittleEndian.Uint64(data)
		if binary.LittleEndian.Uint32(data[8:]) != maskedCRC(data[:8]) || uint64(len(data)) < 16+n {
			t.Fatalf("%s: a record's length %d is damaged", path, n)
		}
		rec := data[12 : 12+n]
		if binary.LittleEndian.Uint32(data[12+n:]) != maskedCRC(rec) {
			t.Fatalf("%s: a record's data does not match its checksum", path)
		}
		data = data[16+n:]
		ev := tbEvent{scalars: map[string]float32{}, raw: rec}
		for field, v := range protoFields(t, rec) {
			switch field {
			case 2:
				ev.step = int64(v.varint)
			case 3:
				ev.version = string(v.bytes)
			case 5:
				for _, value := range protoFields(t, v.bytes) {
					var tag string
					var x float32
					for f, w := range protoFields(t, value.bytes) {
						if f == 1 {
							tag = string(w.bytes)
						} else if f == 2 {
							x = math.Float32frombits(uint32(w.varint))
						}
					}
					ev.scalars[tag] = x
				}
			case 7:
				for f, w := range protoFields(t, v.bytes) {
					ev.start = ev.start || f == 1 && w.varint == 1
				}
			}
		}
		out = append(out, ev)
	}
	return out
}

type protoValue struct {
	varint uint64 // varint, fixed64 and fixed32 values
	bytes  []byte
}

// protoFields decodes a protocol buffer message's fields in order (a field repeated is yielded
// each time).
func protoFields(t *testing.T, b []byte) func(func(int, protoValue) bool) {
	return func(yield func(int, protoValue) bool) {
		for len(b) > 0 {
			key, n := binary.Uvarint(b)
			if n <= 0 {
				t.Fatalf("a damaged field key in %x", b)
			}
			b = b[n:]
			var v protoValue
			switch key & 7 {
			case 0:
				v.varint, n = binary.Uvarint(b)
				b = b[n:]
			case 1:
				v.varint, b = binary.LittleEndian.Uint64(b), b[8:]
			case 2:
				l, n := binary.Uvarint(b)
				v.bytes, b = b[n:n+int(l)], b[n+int(l):]
			case 5:
				v.varint, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
			default:
				t.Fatalf("wire type %d", key&7)
			}
			if !yield(int(key>>3), v) {
				return
			}
		}
	}
}

func eventFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, EventsPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// tbRun writes the metrics of a run interrupted after step 3 (its last checkpoint at step 2) and
// resumed from step 2 by a second process, and returns its folder.
func tbRun(t *testing.T) string {
	dir := t.TempDir()
	m, err := OpenMetrics(filepath.Join(dir, MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []map[string]float64{
		{KeyStep: 1, KeyEpoch: 0.5, KeyLoss: 2.5, KeyKNNAcc: math.NaN()},
		{KeyStep: 2, KeyEpoch: 1, KeyLoss: 1.25, KeyLR: 0.125},
		{KeyStep: 3, KeyEpoch: 1.5, KeyLoss: 1},
	} {
		if err := m.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	m.Close()
	m, err = OpenMetrics(filepath.Join(dir, MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	m.Write(map[string]float64{KeyStep: 2, ResumedKey: 1})
	m.Write(map[string]float64{KeyStep: 3, KeyEpoch: 1.5, KeyLoss: 0.75})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Each process writes its metrics lines to an event file of its own, in TensorFlow's format: the
// file version first, each line's finite values (not the step or the epoch) as scalars at its
// step, and a resume as a SessionLog START at the step after the one resumed from.
func TestEventFiles(t *testing.T) {
	files := eventFiles(t, tbRun(t))
	if len(files) != 2 {
		t.Fatalf("event files %q, want one per process (2)", files)
	}
	// The first record of TensorFlow's event files: 24 bytes of event, and the masked CRC-32C of
	// that length, which every event file written by TensorFlow starts with.
	head, _ := os.ReadFile(files[0])
	if want := []byte{0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22}; !bytes.HasPrefix(head, want) {
		t.Fatalf("the event file starts % x, want % x", head[:min(12, len(head))], want)
	}
	first, second := readEvents(t, files[0]), readEvents(t, files[1])
	if len(first) != 4 || first[0].version != "brain.Event:2" || len(second) != 3 || second[0].version != "brain.Event:2" {
		t.Fatalf("%d and %d events, want 4 and 3, each file's first its version", len(first), len(second))
	}
	type scalarsAt struct {
		step    int64
		scalars map[string]float32
	}
	for i, want := range []scalarsAt{{1, map[string]float32{"loss": 2.5}}, {2, map[string]float32{"loss": 1.25, "lr": 0.125}}, {3, map[string]float32{"loss": 1}}} {
		if ev := first[i+1]; ev.step != want.step || !mapsEqual(ev.scalars, want.scalars) || ev.start {
			t.Errorf("event %d: step %d %v, want step %d %v", i+1, ev.step, ev.scalars, want.step, want.scalars)
		}
	}
	if ev := second[1]; !ev.start || ev.step != 3 || len(ev.scalars) != 0 {
		t.Errorf("the resume's event: start %v at step %d, %v; want a SessionLog START at step 3 alone", ev.start, ev.step, ev.scalars)
	}
	if ev := second[2]; ev.step != 3 || !mapsEqual(ev.scalars, map[string]float32{"loss": 0.75}) {
		t.Errorf("after the resume: step %d %v, want step 3 loss 0.75", ev.step, ev.scalars)
	}
	// The line at step 2, byte for byte after its wall time (event.proto and summary.proto):
	// step = 2 (field 2, varint), summary (field 5) of two values (field 1), in the order of their
	// tags, each a tag (field 1) and a simple_value (field 2, float).
	value := func(tag string, bits uint32) []byte {
		v := append([]byte{0x0a, byte(len(tag))}, tag...)
		v = append(v, 0x15)
		return binary.LittleEndian.AppendUint32(v, bits)
	}
	loss, lr := value("loss", math.Float32bits(1.25)), value("lr", math.Float32bits(0.125))
	summary := append(append([]byte{0x0a, byte(len(loss))}, loss...), append([]byte{0x0a, byte(len(lr))}, lr...)...)
	want := append([]byte{0x10, 0x02, 0x2a, byte(len(summary))}, summary...)
	if got := first[2].raw; len(got) < 9 || got[0] != 0x09 || !bytes.Equal(got[9:], want) {
		t.Errorf("the event of step 2:\n% x\nwant a wall time (09 and 8 bytes), then\n% x", got, want)
	}
}

func mapsEqual(a, b map[string]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Optional (VICREG_TB_PYTHON names a python3 with the tensorboard package from PyPI, else
// python3 if it imports it): TensorBoard reads from the event files the series that ReadMetrics
// reads from the metrics file, the steps trained again after the resume once.
func TestTensorBoardReadsTheEventFiles(t *testing.T) {
	python := os.Getenv("VICREG_TB_PYTHON")
	if python == "" {
		python = "python3"
	}
	if err := exec.Command(python, "-c", "import tensorboard").Run(); err != nil {
		t.Skipf("%s does not import tensorboard (pip install tensorboard; VICREG_TB_PYTHON names its python3)", python)
	}
	dir := tbRun(t)
	out, err := exec.Command(python, filepath.Join("testdata", "tensorboard_scalars.py"), dir).Output()
	if err != nil {
		t.Fatalf("%s: %v", python, err)
	}
	var got map[string][][2]float64
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	series, err := ReadMetrics(filepath.Join(dir, MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][][2]float64{}
	for k, pts := range series {
		for _, p := range pts {
			want[k] = append(want[k], [2]float64{p.Step, float64(float32(p.Value))})
		}
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) || !strings.Contains(string(wantJSON), "0.75") {
		t.Fatalf("TensorBoard reads %s\nReadMetrics %s", gotJSON, wantJSON)
	}
}
