package checkpoints

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/x448/float16"
)

// systemPython is Debian's interpreter, which has python3-numpy and python3-torch.
const systemPython = "/usr/bin/python3"

// safetensorsPin is the version of PyPI's safetensors the interop test installs.
const safetensorsPin = "safetensors==0.8.0"

// pythonWithSafetensors returns a Python interpreter that imports safetensors (and Debian's numpy
// and torch): a virtual environment made with --system-site-packages in the user's cache folder,
// created once (pip install from PyPI). It skips the test, with the reason, when that is not
// possible.
func pythonWithSafetensors(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		t.Skipf("the Python interop test needs %s (Debian's python3 with python3-numpy and python3-torch): %v", systemPython, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "vicreg-tests")
	venv := filepath.Join(parent, "venv-"+strings.ReplaceAll(safetensorsPin, "==", "-"))
	python := filepath.Join(venv, "bin", "python")
	if exec.Command(python, "-c", "import safetensors, numpy").Run() == nil {
		return python
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Skipf("cannot create the cache folder for a Python virtual environment: %v", err)
	}
	tmp, err := os.MkdirTemp(parent, "venv-tmp-")
	if err != nil {
		t.Skipf("cannot create a Python virtual environment: %v", err)
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.Command(systemPython, "-m", "venv", "--system-site-packages", tmp).CombinedOutput(); err != nil {
		t.Skipf("%s -m venv failed (install python3-venv): %v\n%s", systemPython, err, out)
	}
	pip := exec.Command(filepath.Join(tmp, "bin", "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", safetensorsPin)
	if out, err := pip.CombinedOutput(); err != nil {
		t.Skipf("pip cannot install %s (offline?): %v\n%s", safetensorsPin, err, out)
	}
	// Move it into place; another test process may have won the race, then use its copy.
	if err := os.Rename(tmp, venv); err != nil && !errors.Is(err, os.ErrExist) && !strings.Contains(err.Error(), "not empty") {
		t.Skipf("cannot move the virtual environment into place: %v", err)
	}
	if out, err := exec.Command(python, "-c", "import safetensors, numpy").CombinedOutput(); err != nil {
		t.Skipf("the virtual environment %s does not import safetensors and numpy: %v\n%s", venv, err, out)
	}
	return python
}

// TestPythonReadsCheckpoint writes a checkpoint holding every dtype and has Python's safetensors
// open it (testdata/read_checkpoint.py): names, dtypes, shapes, values and metadata must be what
// was saved, and the checksum recomputed in Python must match. Two negative controls show the
// script catches a wrong value and a damaged byte.
func TestPythonReadsCheckpoint(t *testing.T) {
	python := pythonWithSafetensors(t)
	nan, inf := math.NaN(), math.Inf(1)
	f16 := func(v ...float32) *tensors.Tensor {
		out := make([]float16.Float16, len(v))
		for i, x := range v {
			out[i] = float16.Fromfloat32(x)
		}
		return tensors.FromFlatDataAndDimensions(out, len(v))
	}
	bf16 := func(v ...float32) *tensors.Tensor {
		out := make([]bfloat16.BFloat16, len(v))
		for i, x := range v {
			out[i] = bfloat16.FromFloat32(x)
		}
		return tensors.FromFlatDataAndDimensions(out, 1, len(v))
	}
	type tc struct {
		scope, name string
		value       *tensors.Tensor
		dtype       string
		shape       []int
		values      []any
	}
	cases := []tc{
		{"/encoder/layer1/0/conv1", "weights", tensors.FromValue([][]float32{{1.5, -2}, {float32(inf), float32(nan)}}), "F32", []int{2, 2}, []any{1.5, -2, "inf", "nan"}},
		{"/encoder/bn1", "mean", tensors.FromValue([]float64{math.Pi, -1e-300}), "F64", []int{2}, []any{math.Pi, -1e-300}},
		{"/optimizer", "global_step", tensors.FromAnyValue(int64(-1234567890123)), "I64", []int{}, []any{-1234567890123}},
		{"/", "#rngState", tensors.FromValue([]uint64{0, 1 << 63, math.MaxUint64}), "U64", []int{3}, []any{uint64(0), uint64(1 << 63), uint64(math.MaxUint64)}},
		{"/m", "i32", tensors.FromValue([]int32{math.MinInt32, math.MaxInt32}), "I32", []int{2}, []any{math.MinInt32, math.MaxInt32}},
		{"/m", "u32", tensors.FromValue([]uint32{0, math.MaxUint32}), "U32", []int{2}, []any{0, math.MaxUint32}},
		{"/m", "i16", tensors.FromFlatDataAndDimensions([]int16{-32768, 32767}, 2), "I16", []int{2}, []any{-32768, 32767}},
		{"/m", "u16", tensors.FromFlatDataAndDimensions([]uint16{0, 65535}, 2), "U16", []int{2}, []any{0, 65535}},
		{"/m", "i8", tensors.FromFlatDataAndDimensions([]int8{-128, 127}, 2), "I8", []int{2}, []any{-128, 127}},
		{"/m", "u8", tensors.FromValue([]uint8{0, 255}), "U8", []int{2}, []any{0, 255}},
		{"/m", "mask", tensors.FromValue([]bool{true, false, true}), "BOOL", []int{3}, []any{true, false, true}},
		{"/m", "f16", f16(0.5, -3, 65504), "F16", []int{3}, []any{0.5, -3, 65504}},
		{"/m", "bf16", bf16(0.25, -7), "BF16", []int{1, 2}, []any{0.25, -7}},
		{"/m", "c64", tensors.FromValue([]complex64{complex(1, -2), complex(0.5, 3)}), "C64", []int{2}, []any{[]any{1, -2}, []any{0.5, 3}}},
		{"/m", "empty", tensors.FromShape(shapes.Make(dtypes.Float32, 0, 3)), "F32", []int{0, 3}, []any{}},
		{"/m", "scalar", tensors.FromAnyValue(float32(2.5)), "F32", []int{}, []any{2.5}},
	}
	state := &State{Step: 42, Epoch: 3,
		Config:  json.RawMessage(`{"batch_size": 256, "model": {"arch": "resnet18"}}`),
		Data:    json.RawMessage(`{"epoch":3,"position":512}`),
		Metrics: map[string]float64{"probe_acc": 0.5, "loss": nan}}
	expect := map[string]any{}
	for i, c := range cases {
		state.Variables = append(state.Variables, Variable{Scope: c.scope, Name: c.name, Trainable: i == 0, Value: c.value})
		expect[key(c.scope, c.name)] = map[string]any{"dtype": c.dtype, "shape": c.shape, "values": c.values}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt-000000042.safetensors")
	if err := Save(path, state); err != nil {
		t.Fatal(err)
	}
	expectation := func(tensors map[string]any) string {
		js, err := json.Marshal(map[string]any{
			"tensors":  tensors,
			"metadata": map[string]string{"format": "vicreg-checkpoint", "format_version": "2", "step": "42", "epoch": "3"},
			"metadata_json": map[string]any{
				"config": map[string]any{"batch_size": 256, "model": map[string]any{"arch": "resnet18"}},
				"data":   map[string]any{"epoch": 3, "position": 512}, "metrics": map[string]any{"probe_acc": 0.5, "loss": "NaN"},
				"trainable": []string{"/encoder/layer1/0/conv1/weights"},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "expected.json")
		if err := os.WriteFile(p, js, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	script := filepath.Join("testdata", "read_checkpoint.py")
	runScript := func(ckpt, expected string) (string, error) {
		out, err := exec.Command(python, script, ckpt, expected).CombinedOutput()
		return string(out), err
	}
	out, err := runScript(path, expectation(expect))
	if err != nil || !strings.HasPrefix(out, "ok: 16 tensors") || !strings.Contains(out, "checksum verified") {
		t.Fatalf("Python's safetensors on %s: %v\n%s", path, err, out)
	}
	t.Logf("python: %s", strings.TrimSpace(out))

	// Negative control 1: a wrong expected value is reported.
	wrong := map[string]any{}
	for k, v := range expect {
		wrong[k] = v
	}
	wrong["/m/i16"] = map[string]any{"dtype": "I16", "shape": []int{2}, "values": []any{-32768, 32766}}
	if out, err := runScript(path, expectation(wrong)); err == nil || !strings.Contains(out, "/m/i16") {
		t.Errorf("a wrong expected value passed: %v\n%s", err, out)
	}
	// Negative control 2: one flipped bit in the data fails the script's own checksum.
	raw, _ := os.ReadFile(path)
	raw[len(raw)-1] ^= 1 // the last byte of /m/scalar
	damaged := filepath.Join(dir, "damaged.safetensors")
	if err := os.WriteFile(damaged, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runScript(damaged, expectation(expect)); err == nil || !strings.Contains(out, "SHA-256 checksum mismatch") {
		t.Errorf("a damaged file passed: %v\n%s", err, out)
	}
}
