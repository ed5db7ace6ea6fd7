package checkpoints

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/x448/float16"

	"github.com/gomlx-ssl/vicreg/checkpoints/safetensors"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
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
		{"float32 matrix", tensors.FromValue([][]float32{{1.5, -2, 3}, {4, float32(math.Inf(1)), float32(math.Copysign(0, -1))}})},
		{"float32 NaN payload", tensors.FromValue([]float32{math.Float32frombits(0x7fc00001), math.Float32frombits(0xffbfffff)})},
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
		if !bytes.Equal(rawBytes(t, g.Value), rawBytes(t, w.Value)) { // bit for bit: NaN payloads, -0
			t.Errorf("variable %s: got %v, want %v", w.Key(), flatValue(t, g.Value), flatValue(t, w.Value))
		}
	}
}

func TestRoundTripEveryDType(t *testing.T) {
	dir := t.TempDir()
	for i, c := range dtypeCases() {
		t.Run(c.name, func(t *testing.T) {
			s := &State{Step: int64(i), Variables: []Variable{{Scope: "/", Name: "v", Trainable: true, Value: c.value}}}
			path := filepath.Join(dir, fmt.Sprintf("%d.safetensors", i))
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
	path := filepath.Join(t.TempDir(), "a.safetensors")
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
	path := filepath.Join(t.TempDir(), "a.safetensors")
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
// reference for the writer: the safetensors layout, the metadata keys and the checksum.
func TestLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.safetensors")
	s := &State{
		Step: 5, Epoch: 1, Time: time.Unix(0, 0),
		Config:  json.RawMessage(`{ "b": 1 }`),
		Metrics: map[string]float64{"loss": math.Inf(-1)},
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
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	hdr, data := raw[8:8+n], raw[8+n:]
	if trimmed := bytes.TrimRight(hdr, " "); len(hdr)-len(trimmed) >= 8 || trimmed[len(trimmed)-1] != '}' {
		t.Errorf("header padding: %q", hdr)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatalf("header %s: %v", hdr, err)
	}
	var meta map[string]string
	if err := json.Unmarshal(h["__metadata__"], &meta); err != nil {
		t.Fatal(err)
	}
	wantMeta := map[string]string{
		"format": "vicreg-checkpoint", "format_version": "2", "step": "5", "epoch": "1",
		"time": "1970-01-01T00:00:00Z", "config": `{"b":1}`, "metrics": `{"loss":"-Inf"}`,
		"trainable": `["/m/w"]`,
	}
	sum := meta["sha256"]
	delete(meta, "sha256")
	if !reflect.DeepEqual(meta, wantMeta) {
		t.Errorf("metadata\n got %v\nwant %v", meta, wantMeta)
	}
	type entry struct {
		DType       string  `json:"dtype"`
		Shape       []int   `json:"shape"`
		DataOffsets []int64 `json:"data_offsets"`
	}
	var w, rng entry
	if err := json.Unmarshal(h["/m/w"], &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(h["/#rngState"], &rng); err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || w.DType != "F32" || !reflect.DeepEqual(w.Shape, []int{2, 2}) || !reflect.DeepEqual(w.DataOffsets, []int64{0, 16}) ||
		rng.DType != "U64" || !reflect.DeepEqual(rng.Shape, []int{3}) || !reflect.DeepEqual(rng.DataOffsets, []int64{16, 40}) {
		t.Errorf("header %s", hdr)
	}
	var want []byte
	for _, f := range []float32{1, 2, 3, -4} {
		want = binary.LittleEndian.AppendUint32(want, math.Float32bits(f))
	}
	for _, u := range []uint64{0x0102030405060708, 9, 10} {
		want = binary.LittleEndian.AppendUint64(want, u)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("data\n got %x\nwant %x", data, want)
	}
	// The checksum, from the documented canonical serialisation: tensors and metadata keys in
	// byte-wise order ("/#" sorts before "/m").
	canon := "vicreg-checkpoint-sha256 2\n" +
		fmt.Sprintf("tensor 10:/#rngState U64 [3] 16 40 %x\n", sha256.Sum256(want[16:])) +
		fmt.Sprintf("tensor 4:/m/w F32 [2,2] 0 16 %x\n", sha256.Sum256(want[:16])) +
		"meta 6:config 7:{\"b\":1}\n" + "meta 5:epoch 1:1\n" + "meta 6:format 17:vicreg-checkpoint\n" +
		"meta 14:format_version 1:2\n" + "meta 7:metrics 15:{\"loss\":\"-Inf\"}\n" + "meta 4:step 1:5\n" +
		"meta 4:time 20:1970-01-01T00:00:00Z\n" + "meta 9:trainable 8:[\"/m/w\"]\n"
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte(canon))); sum != got {
		t.Errorf("sha256 %q, want %q (the documented serialisation)", sum, got)
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
		{"relative scope", &State{Variables: []Variable{{Scope: "a", Name: "b", Value: v}}}, `scope "a" is not absolute`},
		{"scope ending in a slash", &State{Variables: []Variable{{Scope: "/a/", Name: "b", Value: v}}}, `scope "/a/" ends with "/"`},
		{"slash in the name", &State{Variables: []Variable{{Scope: "/a", Name: "b/c", Value: v}}}, `name "b/c" contains "/"`},
		{"duplicate", &State{Variables: []Variable{{Scope: "/a", Name: "b", Value: v}, {Scope: "/a", Name: "b", Value: v}}}, `"/a/b" appears twice`},
		{"nil value", &State{Variables: []Variable{{Scope: "/a", Name: "b"}}}, `"/a/b" has no value`},
		{"complex128", &State{Variables: []Variable{{Scope: "/a", Name: "z", Value: tensors.FromValue([]complex128{1})}}},
			`"/a/z" has dtype Complex128, which safetensors files cannot hold (convert it to one of `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".safetensors")
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
	path := filepath.Join(dir, fmt.Sprintf("s%d.safetensors", step))
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
	path := filepath.Join(dir, "cut.safetensors")
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
	path := filepath.Join(dir, "flip.safetensors")
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

// withMeta rewrites the metadata of a valid checkpoint file with edit and, when fix is true,
// recomputes its checksum, so that a test reaches the checks behind the checksum.
func withMeta(t *testing.T, raw []byte, fix bool, edit func(meta map[string]string)) []byte {
	t.Helper()
	return withHeader(t, raw, fix, edit, nil)
}

// withHeader is withMeta that may also edit the tensor entries (their data stays where it was).
func withHeader(t *testing.T, raw []byte, fix bool, editMeta func(map[string]string), editTensors func([]safetensors.Info)) []byte {
	t.Helper()
	h, err := safetensors.ReadHeader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	meta := maps.Clone(h.Metadata)
	if editMeta != nil {
		editMeta(meta)
	}
	body := raw[8+h.Len:]
	infos := slices.Clone(h.Tensors)
	if editTensors != nil {
		editTensors(infos)
	}
	if fix {
		sums := make([][sha256.Size]byte, len(infos))
		for i, ti := range infos {
			sums[i] = sha256.Sum256(body[ti.Begin:ti.End])
		}
		meta["sha256"] = digest(infos, sums, meta)
	}
	// Encode by hand (Layout would recompute the offsets).
	m := map[string]any{"__metadata__": meta}
	for _, ti := range infos {
		m[ti.Name] = map[string]any{"dtype": ti.DType, "shape": ti.Shape, "data_offsets": []int64{ti.Begin, ti.End}}
	}
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(js))), js...), body...)
}

// TestChecksumCoversEveryField changes one field of the header at a time, keeping the file
// structurally valid: only the checksum can tell, and it must.
func TestChecksumCoversEveryField(t *testing.T) {
	dir := t.TempDir()
	_, raw := writeValid(t, dir, 1) // /m/w F32 [2,2], /m/flags BOOL [2], /#rngState U64 [3]
	meta := func(k, v string) func(map[string]string) { return func(m map[string]string) { m[k] = v } }
	tests := []struct {
		name    string
		meta    func(map[string]string)
		tensors func([]safetensors.Info)
	}{
		{"step digit", meta("step", "7"), nil},
		{"epoch", meta("epoch", "3"), nil},
		{"time", meta("time", "2030-01-01T00:00:00Z"), nil},
		{"config", meta("config", `{"batch_size":9}`), nil},
		{"metrics", meta("metrics", `{"probe_acc":0.6}`), nil},
		{"trainable", meta("trainable", `[]`), nil},
		{"added key", meta("note", "x"), nil},
		{"removed key", func(m map[string]string) { delete(m, "config") }, nil},
		{"shape", nil, func(ts []safetensors.Info) { ts[0].Shape = []int{4, 1} }},
		{"rename", nil, func(ts []safetensors.Info) { ts[1].Name = "/m/glags" }},
		{"dtype", nil, func(ts []safetensors.Info) { ts[1].DType = safetensors.I8 }},
		{"dtype and shape of the same size", nil, func(ts []safetensors.Info) { ts[0].Shape, ts[0].DType = []int{2}, safetensors.U64 }},
	}
	for _, tc := range tests {
		for _, fix := range []bool{false, true} {
			path := filepath.Join(dir, "edited.safetensors")
			if err := os.WriteFile(path, withHeader(t, raw, fix, tc.meta, tc.tensors), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if !fix && (err == nil || !strings.Contains(err.Error(), "SHA-256 checksum mismatch")) {
				t.Errorf("%s: error %v, want a checksum mismatch", tc.name, err)
			}
			if fix && err != nil && strings.Contains(err.Error(), "checksum") {
				t.Errorf("%s with the checksum recomputed: %v (the edit, not the checksum, must be all that differs)", tc.name, err)
			}
		}
	}
	// Two tensors of the same size exchange their data_offsets: each now reads the other's values.
	path := filepath.Join(dir, "swapped.safetensors")
	if err := Save(path, &State{Variables: []Variable{
		{Scope: "/", Name: "a", Value: tensors.FromValue([]float32{1, 2})},
		{Scope: "/", Name: "b", Value: tensors.FromValue([]float32{3, 4})},
	}}); err != nil {
		t.Fatal(err)
	}
	two, _ := os.ReadFile(path)
	swap := func(ts []safetensors.Info) {
		ts[0].Begin, ts[0].End, ts[1].Begin, ts[1].End = ts[1].Begin, ts[1].End, ts[0].Begin, ts[0].End
	}
	for _, fix := range []bool{false, true} {
		if err := os.WriteFile(path, withHeader(t, two, fix, nil, swap), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		switch {
		case !fix && (err == nil || !strings.Contains(err.Error(), "SHA-256 checksum mismatch")):
			t.Errorf("swapped data_offsets: error %v, want a checksum mismatch", err)
		case fix && err != nil:
			t.Errorf("swapped data_offsets with the checksum recomputed: %v", err)
		case fix && (s.Variables[0].Key() != "/b" || !reflect.DeepEqual(flatValue(t, s.Variables[0].Value), []float32{1, 2})):
			t.Errorf("swapped data_offsets, recomputed: the data order gives %s = %v first, want /b = [1 2] (a's bytes)", s.Variables[0].Key(), flatValue(t, s.Variables[0].Value))
		}
	}
}

func TestForeignAndOldFiles(t *testing.T) {
	dir := t.TempDir()
	_, raw := writeValid(t, dir, 1)
	foreign := func() []byte {
		var buf bytes.Buffer
		_ = safetensors.Write(&buf, &safetensors.File{Tensors: map[string]safetensors.Tensor{"conv1.weight": safetensors.FromFloat32([]int{1}, []float32{1})}})
		return buf.Bytes()
	}()
	tests := []struct {
		name    string
		content []byte
		want    string
		corrupt bool
	}{
		{"old format", []byte("vicreg-checkpoint 1\nheader 2\n{}"), "old .vckpt format (version 1), which this program no longer reads: convert it with\n  go run ./checkpoints/convert-vckpt ", false},
		{"future version", withMeta(t, raw, true, func(m map[string]string) { m["format_version"] = "3" }), `unsupported checkpoint format version "3" (this program reads version 2)`, false},
		{"torchvision weights", foreign, `not a VICReg checkpoint: a safetensors file whose metadata has format ""`, true},
		{"another format", withMeta(t, raw, true, func(m map[string]string) { m["format"] = "pt" }), `has format "pt"`, true},
		{"no checksum", withMeta(t, raw, false, func(m map[string]string) { delete(m, "sha256") }), `no valid "sha256" checksum`, true},
		{"upper-case checksum", withMeta(t, raw, false, func(m map[string]string) { m["sha256"] = strings.ToUpper(m["sha256"]) }), `no valid "sha256" checksum`, true},
		{"pytorch file", append([]byte("PK\x03\x04"), make([]byte, 200)...), "not a safetensors file", true},
		{"empty", nil, "not a safetensors file", true},
		// Behind a recomputed checksum: what Save never writes is still refused.
		{"bad step", withMeta(t, raw, true, func(m map[string]string) { m["step"] = "1e3" }), `"step" is "1e3", want an integer`, true},
		{"bad time", withMeta(t, raw, true, func(m map[string]string) { m["time"] = "yesterday" }), `"time" is "yesterday"`, true},
		{"bad config", withMeta(t, raw, true, func(m map[string]string) { m["config"] = "{" }), `"config" is not valid JSON`, true},
		{"bad metrics", withMeta(t, raw, true, func(m map[string]string) { m["metrics"] = `{"a":"huge"}` }), `metric "a" has value "huge"`, true},
		{"unknown trainable", withMeta(t, raw, true, func(m map[string]string) { m["trainable"] = `["/m/nope"]` }), `names "/m/nope", which is not a tensor`, true},
		{"no trainable", withMeta(t, raw, true, func(m map[string]string) { delete(m, "trainable") }), `"trainable" is ""`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			err := assertCorrupt(t, path, tc.name)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if errors.Is(err, ErrCorrupt) != tc.corrupt {
				t.Errorf("errors.Is(err, ErrCorrupt) = %v, want %v", !tc.corrupt, tc.corrupt)
			}
			if errors.Is(err, ErrOldFormat) != (tc.name == "old format") {
				t.Errorf("errors.Is(err, ErrOldFormat) wrong for %v", err)
			}
		})
	}
	// Negative control: withMeta with an unchanged metadata and a recomputed checksum gives back
	// a loadable file, so the failures above come from the edits.
	path := filepath.Join(dir, "unchanged.safetensors")
	if err := os.WriteFile(path, withMeta(t, raw, true, func(map[string]string) {}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("unchanged metadata: %v", err)
	}
	_, err := Load(filepath.Join(dir, "missing.safetensors"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing file: error %v", err)
	}
}

// TestOldFormatErrorNamesTheConversion loads a version-1 file: the error names it and the
// command that converts it, and the file it would write.
func TestOldFormatErrorNamesTheConversion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt-000000010.vckpt")
	if err := os.WriteFile(path, []byte("vicreg-checkpoint 1\nheader 2\n{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := "go run ./checkpoints/convert-vckpt " + path + "\n(it writes " + strings.TrimSuffix(path, ".vckpt") + ".safetensors beside it"
	if !errors.Is(err, ErrOldFormat) || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want ErrOldFormat saying %q", err, want)
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
	orig := atomicfile.Create
	atomicfile.Create = func(dir, pattern string) (atomicfile.File, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		return &failingFile{File: f, limit: limit, failSync: failSync}, nil
	}
	t.Cleanup(func() { atomicfile.Create = orig })
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
