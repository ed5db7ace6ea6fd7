package backend

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL
)

// float32Backend starts the backend of GOMLX_BACKEND for the tests of this file (the backend
// package's own tests cannot use backendtest, which imports it).
func float32Backend(t *testing.T) backends.Backend {
	t.Helper()
	b, err := New()
	if err != nil {
		t.Fatalf("starting the backend: %v", err)
	}
	t.Cleanup(b.Finalize)
	return b
}

// TestMeasureFloat32 measures the backend's float32 product and convolution against float64,
// and checks that the measurement tells the arithmetic apart: the same graphs with their operands
// rounded inside the graph to float16 (a 10-bit mantissa, as TF32) and to bfloat16 (8 bits) must
// be classified as such, so a GPU that rounds operands cannot pass for float32. On a CPU (and on
// a GPU under the tests' VICREG_TF32=0) the plain measurement must be full float32.
func TestMeasureFloat32(t *testing.T) {
	b := float32Backend(t)
	if m, _ := GPUMathFromEnv(); isCUDAPlugin(Config()) && m.TF32 {
		t.Skipf("%s allows TF32 here: the plain measurement is not required to be float32", TF32Env)
	}
	got, err := MeasureFloat32(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", Config(), got)
	if got.MatMul >= 2e-5 || got.Conv >= 2e-5 || got.MatMul <= 0 || got.Conv <= 0 {
		t.Errorf("float32 errors %.2e and %.2e, want in (0, 2e-5): float32 rounding, not exact, not coarser", got.MatMul, got.Conv)
	}
	if s := got.String(); !strings.HasSuffix(s, ": "+ClassFloat32) {
		t.Errorf("String() = %q, want it to end with %q", s, ClassFloat32)
	}

	if !IsXLA(Config()) {
		t.Skipf("the negative controls convert to float16, which GoMLX's %s backend lacks", Config())
	}
	for _, tc := range []struct {
		dtype dtypes.DType
		class string
	}{{dtypes.Float16, ClassTF32}, {dtypes.BFloat16, ClassBFloat16}} {
		e, err := measureFloat32(b, func(x *Node) *Node { return ConvertDType(ConvertDType(x, tc.dtype), dtypes.Float32) })
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("operands rounded to %s: %s", tc.dtype, e)
		for _, v := range []float64{e.MatMul, e.Conv} {
			if c := ClassifyFloat32(v); c != tc.class {
				t.Errorf("operands rounded to %s: error %.2e classified %q, want %q", tc.dtype, v, c, tc.class)
			}
		}
	}
}

// TestGPUMathOnGPU runs where a GPU is visible and GOMLX_BACKEND=xla:cuda (the prepared GPU
// check): in child processes (XLA reads its flags, cuBLAS its environment, once a process), it
// measures the float32 arithmetic under VICREG_TF32=0, which must be full float32, and under the
// default, which is logged (TF32 on GPUs since Ampere, if XLA keeps its default precision).
func TestGPUMathOnGPU(t *testing.T) {
	if os.Getenv("VICREG_FLOAT32_CHILD") == "1" {
		b, err := New()
		if err != nil {
			t.Fatal(err)
		}
		e, err := MeasureFloat32(b)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("MEASURED %g %g", e.MatMul, e.Conv)
		return
	}
	if !gpuVisible() || !isCUDAPlugin(Config()) {
		t.Skipf("needs a visible NVIDIA GPU and %s=xla:cuda (have %s=%q)", EnvVar, EnvVar, Config())
	}
	for _, tf32 := range []string{"0", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGPUMathOnGPU$", "-test.v")
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return strings.HasPrefix(kv, "NVIDIA_TF32_OVERRIDE=") || strings.HasPrefix(kv, "XLA_FLAGS=")
		}), "VICREG_FLOAT32_CHILD=1", TF32Env+"="+tf32)
		out, err := cmd.CombinedOutput()
		_, after, found := strings.Cut(string(out), "MEASURED ")
		fields := strings.Fields(after)
		if err != nil || !found || len(fields) < 2 {
			t.Fatalf("%s=%s: %v\n%s", TF32Env, tf32, err, out)
		}
		var e Float32Error
		e.MatMul, _ = strconv.ParseFloat(fields[0], 64)
		e.Conv, _ = strconv.ParseFloat(fields[1], 64)
		t.Logf("%s=%s: %s", TF32Env, tf32, e)
		if c := ClassifyFloat32(max(e.MatMul, e.Conv)); tf32 == "0" && c != ClassFloat32 {
			t.Errorf("%s=0: %s, want %s", TF32Env, e, ClassFloat32)
		}
	}
}
