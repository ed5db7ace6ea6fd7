package checkpoints

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/x448/float16"
)

// flatValue returns the flat Go slice of a tensor (a copy).
func flatValue(t *testing.T, tensor *tensors.Tensor) any {
	t.Helper()
	var out any
	if err := tensor.ConstFlatData(func(flat any) {
		v := reflect.ValueOf(flat)
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		out = c.Interface()
	}); err != nil {
		t.Fatalf("reading tensor: %v", err)
	}
	return out
}

// flat makes a rank-1 tensor from a slice.
func flat[T dtypes.Supported](data []T) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(data, len(data))
}

// rawBytes returns a copy of the in-memory bytes of a tensor.
func rawBytes(t *testing.T, tensor *tensors.Tensor) []byte {
	t.Helper()
	if tensor.Size() == 0 {
		return nil
	}
	var out []byte
	if err := tensor.ConstBytes(func(b []byte) { out = append([]byte{}, b...) }); err != nil {
		t.Fatalf("reading tensor bytes: %v", err)
	}
	return out
}

// dtypeCases has one tensor per supported dtype, built from Go values, plus scalars and empty ones.
func dtypeCases() []struct {
	name  string
	value *tensors.Tensor
} {
	return []struct {
		name  string
		value *tensors.Tensor
	}{
		{"float32 matrix", tensors.FromValue([][]float32{{1.5, -2, 3}, {4, float32(math.Inf(1)), -0.0}})},
		{"float64 scalar", tensors.FromAnyValue(math.Pi)},
		{"float64 3d", tensors.FromValue([][][]float64{{{1, 2}, {3, 4}}, {{5, 6}, {7, math.MaxFloat64}}})},
		{"int32", tensors.FromValue([]int32{math.MinInt32, -1, 0, math.MaxInt32})},
		{"int64 scalar", tensors.FromAnyValue(int64(-1234567890123))},
		{"uint64 rng state", tensors.FromValue([]uint64{0, 1 << 63, math.MaxUint64})},
		{"bool", tensors.FromValue([]bool{true, false, false, true, true})},
		{"int8", flat([]int8{-128, 0, 127})},
		{"int16", flat([]int16{-32768, 1, 32767})},
		{"uint8", tensors.FromValue([]uint8{0, 7, 255})},
		{"uint16", flat([]uint16{0, 513, 65535})},
		{"uint32", tensors.FromValue([]uint32{0, 1 << 31, math.MaxUint32})},
		{"float16", flat([]float16.Float16{float16.Fromfloat32(0.5), float16.Fromfloat32(-3)})},
		{"bfloat16", flat([]bfloat16.BFloat16{bfloat16.FromFloat32(0.25), bfloat16.FromFloat32(-7)})},
		{"complex64", tensors.FromValue([]complex64{complex(1, -2), complex(0.5, 3)})},
		{"complex128", tensors.FromValue([]complex128{complex(1e300, -2e-300)})},
		{"empty float32", tensors.FromShape(shapes.Make(dtypes.Float32, 0, 3))},
		{"bool scalar", tensors.FromAnyValue(true)},
	}
}

func sampleState(t *testing.T) *State {
	t.Helper()
	var vars []Variable
	for i, c := range dtypeCases() {
		vars = append(vars, Variable{Scope: fmt.Sprintf("/model/layer_%d", i), Name: strings.ReplaceAll(c.name, " ", "_"),
			Trainable: i%2 == 0, Value: c.value})
	}
	return &State{
		Step:  1234,
		Epoch: 7,
		Time:  time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.UTC),
		Config: json.RawMessage(`{
			"batch_size": 256,
			"optimizer": {"name": "lars", "lr": 0.3}
		}`),
		Data:      json.RawMessage(`{"epoch_seed": 42, "position": 1024}`),
		Metrics:   map[string]float64{"probe_acc": 0.875, "loss": math.NaN(), "grad_norm": math.Inf(1), "low": math.Inf(-1)},
		Variables: vars,
	}
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compacting %s: %v", raw, err)
	}
	return b.String()
}

func assertStatesEqual(t *testing.T, want, got *State) {
	t.Helper()
	if got.Step != want.Step || got.Epoch != want.Epoch || !got.Time.Equal(want.Time) {
		t.Errorf("step/epoch/time: got %d/%d/%v, want %d/%d/%v", got.Step, got.Epoch, got.Time, want.Step, want.Epoch, want.Time)
	}
	if compact(t, got.Config) != compact(t, want.Config) {
		t.Errorf("config: got %s, want %s", got.Config, want.Config)
	}
	if compact(t, got.Data) != compact(t, want.Data) {
		t.Errorf("data: got %s, want %s", got.Data, want.Data)
	}
	if len(got.Metrics) != len(want.Metrics) {
		t.Errorf("metrics: got %v, want %v", got.Metrics, want.Metrics)
	}
	for k, w := range want.Metrics {
		g, ok := got.Metrics[k]
		if !ok || !(g == w || math.IsNaN(g) && math.IsNaN(w)) {
			t.Errorf("metric %q: got %v (present %v), want %v", k, g, ok, w)
		}
	}
	if len(got.Variables) != len(want.Variables) {
		t.Fatalf("got %d variables, want %d", len(got.Variables), len(want.Variables))
	}
	for i, w := range want.Variables {
		g := got.Variables[i]
		if g.Scope != w.Scope || g.Name != w.Name || g.Trainable != w.Trainable {
			t.Errorf("variable #%d: got %s (trainable %v), want %s (trainable %v)", i, g.Key(), g.Trainable, w.Key(), w.Trainable)
		}
		if !g.Value.Shape().Equal(w.Value.Shape()) {
			t.Errorf("variable %s: shape %s, want %s", w.Key(), g.Value.Shape(), w.Value.Shape())
			continue
		}
		if !reflect.DeepEqual(flatValue(t, g.Value), flatValue(t, w.Value)) {
			t.Errorf("variable %s: got %v, want %v", w.Key(), flatValue(t, g.Value), flatValue(t, w.Value))
		}
	}
}

func TestRoundTripEveryDType(t *testing.T) {
	dir := t.TempDir()
	for i, c := range dtypeCases() {
		t.Run(c.name, func(t *testing.T) {
			s := &State{Step: int64(i), Variables: []Variable{{Scope: "/", Name: "v", Trainable: true, Value: c.value}}}
			path := filepath.Join(dir, fmt.Sprintf("%d.vckpt", i))
			if err := Save(path, s); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := got.Variables[0].Value.Shape(), c.value.Shape(); !g.Equal(w) {
				t.Fatalf("shape %s, want %s", g, w)
			}
			if !bytes.Equal(rawBytes(t, got.Variables[0].Value), rawBytes(t, c.value)) {
				t.Errorf("bytes differ: got %v, want %v", flatValue(t, got.Variables[0].Value), flatValue(t, c.value))
			}
		})
	}
}

func TestRoundTripMetadata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.vckpt")
	want := sampleState(t)
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	assertStatesEqual(t, want, got)
}

func TestSaveSetsTimeAndEmptyState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.vckpt")
	before := time.Now()
	if err := Save(path, &State{}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Time.Before(before.Add(-time.Second)) || got.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("time %v, want about %v", got.Time, before)
	}
	if got.Config != nil || got.Data != nil || got.Metrics != nil || len(got.Variables) != 0 {
		t.Errorf("empty state came back as %+v", got)
	}
}

// TestLayout parses a file by hand, following the package documentation, as an independent
// reference for the writer.
func TestLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.vckpt")
	s := &State{
		Step: 5, Epoch: 1, Time: time.Unix(0, 0),
		Variables: []Variable{
			{Scope: "/m", Name: "w", Trainable: true, Value: tensors.FromValue([][]float32{{1, 2}, {3, -4}})},
			{Scope: "/", Name: "#rngState", Value: tensors.FromValue([]uint64{0x0102030405060708, 9, 10})},
		},
	}
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	body, sum := raw[:len(raw)-32], raw[len(raw)-32:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		t.Errorf("trailer is not the SHA-256 of the body")
	}
	r := bufio.NewReader(bytes.NewReader(body))
	line1, _ := r.ReadString('\n')
	line2, _ := r.ReadString('\n')
	if line1 != "vicreg-checkpoint 1\n" {
		t.Errorf("first line %q", line1)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(line2, "header "), "\n"))
	if err != nil {
		t.Fatalf("second line %q: %v", line2, err)
	}
	hdr := make([]byte, n)
	if _, err := r.Read(hdr); err != nil {
		t.Fatal(err)
	}
	var h struct {
		Step      int64
		Epoch     int
		Time      string
		DataBytes int64 `json:"data_bytes"`
		Tensors   []struct {
			Scope, Name, DType string
			Trainable          bool
			Shape              []int
			Offset, Bytes      int64
		}
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatalf("header %s: %v", hdr, err)
	}
	if h.Step != 5 || h.Epoch != 1 || h.Time != "1970-01-01T00:00:00Z" || h.DataBytes != 16+24 || len(h.Tensors) != 2 {
		t.Fatalf("header %s", hdr)
	}
	t0, t1 := h.Tensors[0], h.Tensors[1]
	if t0.Scope != "/m" || t0.Name != "w" || t0.DType != "float32" || !reflect.DeepEqual(t0.Shape, []int{2, 2}) ||
		t0.Offset != 0 || t0.Bytes != 16 || !t0.Trainable {
		t.Errorf("tensor 0: %+v", t0)
	}
	if t1.Scope != "/" || t1.Name != "#rngState" || t1.DType != "uint64" || !reflect.DeepEqual(t1.Shape, []int{3}) ||
		t1.Offset != 16 || t1.Bytes != 24 || t1.Trainable {
		t.Errorf("tensor 1: %+v", t1)
	}
	var want []byte
	for _, f := range []float32{1, 2, 3, -4} {
		want = binary.LittleEndian.AppendUint32(want, math.Float32bits(f))
	}
	for _, u := range []uint64{0x0102030405060708, 9, 10} {
		want = binary.LittleEndian.AppendUint64(want, u)
	}
	data := body[len(line1)+len(line2)+n:]
	if !bytes.Equal(data, want) {
		t.Errorf("data\n got %x\nwant %x", data, want)
	}
}

func TestSwapElementBytes(t *testing.T) {
	tests := []struct {
		in   []byte
		size int
		want []byte
	}{
		{[]byte{1, 2, 3, 4}, 1, []byte{1, 2, 3, 4}},
		{[]byte{1, 2, 3, 4}, 2, []byte{2, 1, 4, 3}},
		{[]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4, []byte{4, 3, 2, 1, 8, 7, 6, 5}},
		{[]byte{1, 2, 3, 4, 5, 6, 7, 8}, 8, []byte{8, 7, 6, 5, 4, 3, 2, 1}},
	}
	for _, tc := range tests {
		got := append([]byte{}, tc.in...)
		swapElementBytes(got, tc.size)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("swap(%v, %d) = %v, want %v", tc.in, tc.size, got, tc.want)
		}
	}
	if scalarUnit(dtypes.Complex128) != 8 || scalarUnit(dtypes.Float32) != 4 {
		t.Errorf("scalarUnit wrong")
	}
}

func TestSaveRejectsBadState(t *testing.T) {
	dir := t.TempDir()
	v := tensors.FromValue([]float32{1})
	tests := []struct {
		name string
		s    *State
		want string
	}{
		{"nil", nil, "nil state"},
		{"bad config", &State{Config: json.RawMessage(`{"a":`)}, "State.Config is not valid JSON"},
		{"bad data", &State{Data: json.RawMessage(`[1,,]`)}, "State.Data is not valid JSON"},
		{"empty name", &State{Variables: []Variable{{Scope: "/a", Value: v}}}, "empty name"},
		{"duplicate", &State{Variables: []Variable{{Scope: "/a", Name: "b", Value: v}, {Scope: "/a", Name: "b", Value: v}}}, `"/a/b" appears twice`},
		{"nil value", &State{Variables: []Variable{{Scope: "/a", Name: "b"}}}, `"/a/b" has no value`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".vckpt")
			err := Save(path, tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Save error %v, want one naming %s and containing %q", err, path, tc.want)
			}
			assertNoFiles(t, dir)
		})
	}
}

// assertNoFiles fails if dir holds any file other than the listed ones.
func assertNoFiles(t *testing.T, dir string, allowed ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		ok := false
		for _, a := range allowed {
			ok = ok || e.Name() == a
		}
		if !ok {
			t.Errorf("unexpected file %s left in %s", e.Name(), dir)
		}
	}
}

// writeValid saves a small valid checkpoint and returns its path and bytes.
func writeValid(t *testing.T, dir string, step int64) (string, []byte) {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("s%d.vckpt", step))
	s := &State{Step: step, Epoch: 2, Config: json.RawMessage(`{"batch_size":8}`), Metrics: map[string]float64{"probe_acc": 0.5},
		Variables: []Variable{
			{Scope: "/m", Name: "w", Trainable: true, Value: tensors.FromValue([][]float32{{1, 2}, {3, 4}})},
			{Scope: "/m", Name: "flags", Value: tensors.FromValue([]bool{true, false})},
			{Scope: "/", Name: "#rngState", Value: tensors.FromValue([]uint64{1, 2, 3})},
		}}
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, raw
}

// assertCorrupt checks that loading path fails with an error naming it, and returns the error.
func assertCorrupt(t *testing.T, path string, what string) error {
	t.Helper()
	s, err := Load(path)
	if err == nil {
		t.Fatalf("%s: Load succeeded, want an error", what)
	}
	if s != nil {
		t.Errorf("%s: Load returned a state with its error", what)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("%s: error %q does not name the file", what, err)
	}
	return err
}

func TestTruncationAtEveryOffset(t *testing.T) {
	dir := t.TempDir()
	_, raw := writeValid(t, dir, 1)
	path := filepath.Join(dir, "cut.vckpt")
	for n := 0; n < len(raw); n++ {
		if err := os.WriteFile(path, raw[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		err := assertCorrupt(t, path, fmt.Sprintf("truncated to %d of %d bytes", n, len(raw)))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d: error %v does not wrap ErrCorrupt", n, err)
		}
	}
	if err := os.WriteFile(path, append(append([]byte{}, raw...), 0), 0o644); err != nil {
		t.Fatal(err)
	}
	assertCorrupt(t, path, "one extra byte")
}

func TestEveryByteFlipped(t *testing.T) {
	dir := t.TempDir()
	good, raw := writeValid(t, dir, 1)
	path := filepath.Join(dir, "flip.vckpt")
	for i := range raw {
		for _, mask := range []byte{0x01, 0x80} {
			bad := append([]byte{}, raw...)
			bad[i] ^= mask
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			assertCorrupt(t, path, fmt.Sprintf("byte %d ^ %#x", i, mask))
		}
	}
	if _, err := Load(good); err != nil {
		t.Errorf("the untouched checkpoint no longer loads: %v", err)
	}
}

func TestMagicAndVersion(t *testing.T) {
	dir := t.TempDir()
	_, raw := writeValid(t, dir, 1)
	first := bytes.IndexByte(raw, '\n')
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"wrong magic", append([]byte("vicreg-chekpoint 1"), raw[first:]...), "not a VICReg checkpoint"},
		{"future version", append([]byte("vicreg-checkpoint 2"), raw[first:]...), "unsupported checkpoint format version 2"},
		{"bad version", append([]byte("vicreg-checkpoint x"), raw[first:]...), `bad format version "x"`},
		{"pytorch file", append([]byte("PK\x03\x04"), make([]byte, 200)...), "not a VICReg checkpoint"},
		{"empty", nil, "fewer than the smallest checkpoint"},
		{"endless first line", append([]byte("vicreg-checkpoint "), bytes.Repeat([]byte("1"), 500)...), "line longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".vckpt")
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			err := assertCorrupt(t, path, tc.name)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	_, err := Load(filepath.Join(dir, "missing.vckpt"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.vckpt") {
		t.Errorf("missing file: error %v", err)
	}
}

// failingFile wraps a real temporary file and fails writes after limit bytes, or Sync.
type failingFile struct {
	*os.File
	limit    int
	failSync bool
	written  int
}

func (f *failingFile) Write(p []byte) (int, error) {
	if f.written+len(p) > f.limit {
		n, _ := f.File.Write(p[:f.limit-f.written])
		f.written += n
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	n, err := f.File.Write(p)
	f.written += n
	return n, err
}

func (f *failingFile) Sync() error {
	if f.failSync {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Sync()
}

// withFailingTemp makes Save write through a failingFile for the duration of the test.
func withFailingTemp(t *testing.T, limit int, failSync bool) {
	t.Helper()
	orig := createTemp
	createTemp = func(dir, pattern string) (tempFile, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		return &failingFile{File: f, limit: limit, failSync: failSync}, nil
	}
	t.Cleanup(func() { createTemp = orig })
}

func TestSaveWriteFailureKeepsPrevious(t *testing.T) {
	tests := []struct {
		name     string
		limit    int
		failSync bool
		want     error
	}{
		{"disk full at once", 0, false, syscall.ENOSPC},
		{"disk full in header", 30, false, syscall.ENOSPC},
		{"disk full in data", 2 << 20, false, syscall.ENOSPC}, // past the first 1 MiB buffer flush
		{"sync fails", 1 << 30, true, syscall.EIO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, before := writeValid(t, dir, 1)
			withFailingTemp(t, tc.limit, tc.failSync)
			big := &State{Step: 2, Variables: []Variable{{Scope: "/", Name: "big", Value: tensors.FromShape(shapes.Make(dtypes.Float32, 1<<20))}}}
			err := Save(path, big)
			if err == nil || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Save error %v, want one naming %s and wrapping %v", err, path, tc.want)
			}
			assertNoFiles(t, dir, filepath.Base(path))
			after, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(after, before) {
				t.Errorf("previous checkpoint changed (err %v)", err)
			}
			if s, err := Load(path); err != nil || s.Step != 1 {
				t.Errorf("previous checkpoint does not load: %v", err)
			}
		})
	}
}

func TestSaveIntoReadOnlyFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: folder permissions are not enforced")
	}
	dir := t.TempDir()
	path, before := writeValid(t, dir, 1)
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	err := Save(path, &State{Step: 2})
	if err == nil || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Save error %v, want a permission error naming %s", err, path)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, before) {
		t.Errorf("previous checkpoint changed")
	}
}
