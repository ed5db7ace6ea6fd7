package checkpoints

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/checkpoints/safetensors"
)

var updateSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzLoad")

// seedState is the small valid checkpoint the fuzz seeds are made from.
func seedState() *State {
	return &State{
		Step: 3, Epoch: 1, Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Config:  json.RawMessage(`{"batch_size":8,"loss":{"convention":"official"}}`),
		Data:    json.RawMessage(`{"position":24}`),
		Metrics: map[string]float64{"probe_acc": 0.25, "loss": math.NaN()},
		Variables: []Variable{
			{Scope: "/m", Name: "w", Trainable: true, Value: tensors.FromValue([][]float32{{1, -2}, {3.5, 4}})},
			{Scope: "/m", Name: "mask", Value: tensors.FromValue([]bool{true, false, true})},
			{Scope: "/m", Name: "empty", Value: tensors.FromShape(shapes.Make(dtypes.Float64, 0, 4))},
			{Scope: "/", Name: "#rngState", Value: tensors.FromValue([]uint64{1, math.MaxUint64, 3})},
		},
	}
}

func encodeToBytes(t testing.TB, s *State) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := encode(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFuzzSeeds checks the committed seeds still match the writer (run with -update-fuzz-seeds
// to rewrite them after a deliberate format change).
func TestFuzzSeeds(t *testing.T) {
	valid := encodeToBytes(t, seedState())
	n := int(binary.LittleEndian.Uint64(valid))
	step := bytes.Index(valid, []byte(`"step":"3"`)) + len(`"step":"`)
	seeds := map[string][]byte{
		"valid":          valid,
		"truncated_data": valid[:len(valid)-40],
		"flipped_step":   func() []byte { b := bytes.Clone(valid); b[step] = '4'; return b }(),
		"flipped_data":   func() []byte { b := bytes.Clone(valid); b[8+n+5] ^= 1; return b }(),
		"empty_state":    encodeToBytes(t, &State{Time: time.Unix(0, 0)}),
		"old_format":     []byte("vicreg-checkpoint 1\nheader 2\n{}"),
	}
	if step < len(`"step":"`) {
		t.Fatal("no step in the seed's header")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLoad")
	if *updateSeeds {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if _, ok := seeds[e.Name()]; !ok {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	for name, data := range seeds {
		path := filepath.Join(dir, name)
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
		if *updateSeeds {
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("fuzz seed %s is missing or stale (err %v): run go test ./checkpoints -run TestFuzzSeeds -update-fuzz-seeds", path, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(seeds) {
		t.Errorf("%s holds %d files, want the %d seeds", dir, len(entries), len(seeds))
	}
	// The damaged seeds are refused, the valid ones load: the seeds reach the checks they aim at.
	for name, data := range seeds {
		_, err := decode(bytes.NewReader(data), int64(len(data)))
		if (err == nil) != (name == "valid" || name == "empty_state") {
			t.Errorf("seed %s: decode error %v", name, err)
		}
	}
}

// fixChecksum returns data with the sha256 metadata value replaced by the right checksum of the
// rest, or nil when data has no parsable header with a checksum of the right length.
func fixChecksum(data []byte) []byte {
	h, err := safetensors.ReadHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(h.Metadata[metaSHA256]) != 2*sha256.Size {
		return nil
	}
	body := data[8+h.Len:]
	sums := make([][sha256.Size]byte, len(h.Tensors))
	for i, t := range h.Tensors {
		sums[i] = sha256.Sum256(body[t.Begin:t.End])
	}
	old := []byte(h.Metadata[metaSHA256])
	header := data[:8+h.Len]
	if bytes.Count(header, old) != 1 {
		return nil
	}
	fixed := bytes.Clone(data)
	i := bytes.Index(header, old)
	copy(fixed[i:], digest(h.Tensors, sums, h.Metadata))
	return fixed
}

// FuzzLoad feeds arbitrary bytes to the reader: it must never panic, never return a state with an
// error, and whatever it accepts must survive a write and a second read unchanged. Each input is
// also tried with its checksum recomputed, so that mutations reach the metadata checks and the
// tensor reader instead of stopping at the checksum.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		if fixed := fixChecksum(data); fixed != nil {
			checkDecode(t, fixed)
		}
	})
}

func checkDecode(t *testing.T, data []byte) {
	s, err := decode(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if s != nil {
			t.Fatalf("decode returned a state with error %v", err)
		}
		return
	}
	encoded := encodeToBytes(t, s)
	again, err := decode(bytes.NewReader(encoded), int64(len(encoded)))
	if err != nil {
		t.Fatalf("re-reading an accepted checkpoint: %v", err)
	}
	if again.Step != s.Step || again.Epoch != s.Epoch || !again.Time.Equal(s.Time) ||
		!bytes.Equal(again.Config, s.Config) || !bytes.Equal(again.Data, s.Data) ||
		len(again.Metrics) != len(s.Metrics) || len(again.Variables) != len(s.Variables) {
		t.Fatalf("second read differs")
	}
	for i, v := range s.Variables {
		w := again.Variables[i]
		if w.Key() != v.Key() || w.Trainable != v.Trainable || !w.Value.Shape().Equal(v.Value.Shape()) ||
			!bytes.Equal(rawBytes(t, w.Value), rawBytes(t, v.Value)) {
			t.Fatalf("variable %s differs after a second read", v.Key())
		}
	}
}
