package backend

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gomlx/go-xla/pkg/pjrt"
)

// gpuVisible reports what go-xla's discovery also checks: an NVIDIA device file.
func gpuVisible() bool {
	m, _ := filepath.Glob("/dev/nvidia[0-9]*")
	return len(m) > 0
}

// installedCUDA returns the `make cuda` installation, or skips the test with the reason.
func installedCUDA(t *testing.T) CUDAInstall {
	t.Helper()
	dir := os.Getenv(CUDADirEnv)
	if dir == "" {
		dir = DefaultCUDADir()
	}
	c := CUDAInstall{Root: dir, Plugin: filepath.Join(dir, CUDAPluginFile)}
	if !fileExists(c.Plugin) {
		t.Skipf("`make cuda` has not run: %s is missing (the wheels are 2.4 GB, so make test does not install them)", c.Plugin)
	}
	return c
}

// TestCUDAPluginWithoutGPU is the GPU path on a machine without a GPU, after `make cuda`: the
// plugin loads and reports its PJRT C API version, New points XLA at the installation's CUDA
// folder, accepts JAX's memory settings, and fails with exactly the documented message.
func TestCUDAPluginWithoutGPU(t *testing.T) {
	c := installedCUDA(t)
	if gpuVisible() {
		t.Skip("a GPU is visible: TestCUDAOnGPU covers this machine")
	}
	t.Setenv("GOPJRT_CUDA_CHECKS", "0") // as New sets it: go-xla's layout warning does not apply
	p, err := pjrt.GetPlugin(c.Plugin)
	if err != nil {
		t.Fatalf("loading %s: %v", c.Plugin, err)
	}
	// jax-cuda13-pjrt 0.11.2 implements PJRT C API 0.115 and was built for CUDA 13.0.
	if major, minor := p.Version(); major != 0 || minor != 115 {
		t.Errorf("PJRT C API %d.%d, want 0.115 (jax-cuda13-pjrt %s)", major, minor, CUDAPinnedVersion)
	}
	if v, _ := p.Attributes()["cuda_version"].(int64); v != 13000 {
		t.Errorf("cuda_version attribute %v, want 13000", p.Attributes()["cuda_version"])
	}
	if got := c.Wheels()[CUDAPluginPackage]; got != CUDAPinnedVersion {
		t.Errorf("installed %s %q, want %s", CUDAPluginPackage, got, CUDAPinnedVersion)
	}

	want := "no GPU visible: the CUDA plugin " + c.Plugin + " found no NVIDIA GPU; it needs one with NVIDIA driver 580 or newer (CUDA 13): check that nvidia-smi lists the GPU, or use GOMLX_BACKEND=xla:cpu"
	for _, config := range []string{"xla:cuda", "cuda", "xla:" + c.Plugin} {
		t.Setenv(EnvVar, config)
		t.Setenv("XLA_FLAGS", "")
		t.Setenv(TF32Env, "") // the defaults: only the data folder is added to XLA_FLAGS
		t.Setenv(DeterministicEnv, "")
		t.Setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false") // the plugin rejects unknown option
		t.Setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.5")  // names and wrong types before it
		t.Setenv("XLA_PYTHON_CLIENT_ALLOCATOR", "bfc")     // looks for a GPU: these are accepted
		b, err := New()
		if err == nil {
			b.Finalize()
			t.Fatalf("%s=%s started without a GPU", EnvVar, config)
		}
		if !errors.Is(err, ErrNoGPU) || err.Error() != want {
			t.Errorf("%s=%s: error\n  %v\nwant\n  %s", EnvVar, config, err, want)
		}
		dataDir := filepath.Join(c.Root, "nvidia", "cu13")
		if got := os.Getenv("XLA_FLAGS"); got != "--xla_gpu_cuda_data_dir="+dataDir {
			t.Errorf("XLA_FLAGS=%q, want --xla_gpu_cuda_data_dir=%s", got, dataDir)
		}
		if fi, err := os.Stat(filepath.Join(dataDir, "bin", "ptxas")); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s/bin/ptxas is not an executable file: %v", dataDir, err)
		}
	}
}

// TestCUDAOnGPU runs where a GPU is visible and GOMLX_BACKEND=xla:cuda (the prepared GPU check):
// the backend starts and describes the plugin, its CUDA and the devices.
func TestCUDAOnGPU(t *testing.T) {
	if !gpuVisible() || !isCUDAPlugin(Config()) {
		t.Skipf("needs a visible NVIDIA GPU and %s=xla:cuda (have %s=%q)", EnvVar, EnvVar, Config())
	}
	b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if b.NumDevices() < 1 {
		t.Fatalf("%d devices", b.NumDevices())
	}
	d := Describe(b)
	for _, want := range []string{"PJRT C API 0.", "plugin built for 13.", "found by:", "GPU math:", "device 0:"} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe lacks %q:\n%s", want, d)
		}
	}
	t.Logf("\n%s", d)
}

// TestNoGPUErrorIsOneLine runs New in a child process, as the train command does, and checks that
// its stderr holds the one error line: the plugin's own log (cuInit, a source-location trace)
// is captured, not shown.
func TestNoGPUErrorIsOneLine(t *testing.T) {
	if os.Getenv("VICREG_BACKEND_CHILD") == "1" {
		_, err := New()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c := installedCUDA(t)
	if gpuVisible() {
		t.Skip("a GPU is visible")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoGPUErrorIsOneLine$")
	cmd.Env = append(os.Environ(), "VICREG_BACKEND_CHILD=1", EnvVar+"=xla:cuda", "TF_CPP_MIN_LOG_LEVEL=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	_ = cmd.Run()
	want := "no GPU visible: the CUDA plugin " + c.Plugin + " found no NVIDIA GPU; " + NoGPUHelp + "\n"
	if stderr.String() != want {
		t.Errorf("stderr of New without a GPU:\n%s\nwant only:\n%s", stderr.String(), want)
	}
}

func TestWithXLAFlag(t *testing.T) {
	for _, tc := range []struct{ flags, name, value, want string }{
		{"", "xla_gpu_cuda_data_dir", "/x/nvidia/cu13", "--xla_gpu_cuda_data_dir=/x/nvidia/cu13"},
		{"--xla_gpu_autotune_level=0", "xla_gpu_cuda_data_dir", "/x", "--xla_gpu_autotune_level=0 --xla_gpu_cuda_data_dir=/x"},
		{"--xla_gpu_cuda_data_dir=/mine", "xla_gpu_cuda_data_dir", "/x", "--xla_gpu_cuda_data_dir=/mine"}, // the user's wins
		{"--a=1", "xla_gpu_cuda_data_dir", "", "--a=1"},
		// A longer flag that starts with the name is another flag.
		{"--xla_gpu_enable_triton_gemm_int4=true", "xla_gpu_enable_triton_gemm", "false", "--xla_gpu_enable_triton_gemm_int4=true --xla_gpu_enable_triton_gemm=false"},
		{" --xla_gpu_enable_triton_gemm=true ", "xla_gpu_enable_triton_gemm", "false", " --xla_gpu_enable_triton_gemm=true "},
	} {
		if got := withXLAFlag(tc.flags, tc.name, tc.value); got != tc.want {
			t.Errorf("withXLAFlag(%q, %q, %q) = %q; want %q", tc.flags, tc.name, tc.value, got, tc.want)
		}
	}
}

// TestPrepareCUDASetsGPUMath checks the environment that the CUDA plugin will read for each
// choice of VICREG_TF32 and VICREG_DETERMINISTIC: what can be checked without a GPU (whether the
// settings have the effect described is measured on a GPU by -backend-info: MeasureFloat32).
func TestPrepareCUDASetsGPUMath(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "nvidia", "cu13")
	libdevice := filepath.Join(dataDir, "nvvm", "libdevice", "libdevice.10.bc")
	if err := os.MkdirAll(filepath.Dir(libdevice), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(libdevice, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := CUDAInstall{Root: root, Plugin: filepath.Join(root, CUDAPluginFile)}
	unset := func(names ...string) {
		for _, n := range names {
			t.Setenv(n, "") // restored after the test
			if err := os.Unsetenv(n); err != nil {
				t.Fatal(err)
			}
		}
	}
	dirFlag := "--xla_gpu_cuda_data_dir=" + dataDir
	for _, tc := range []struct {
		tf32, det, userFlags string
		wantFlags, override  string // override "-" is unset
		wantMath             GPUMath
	}{
		{"", "", "", dirFlag, "-", GPUMath{TF32: true}},
		{"1", "0", "", dirFlag, "-", GPUMath{TF32: true}},
		{"0", "", "", dirFlag + " --xla_gpu_enable_triton_gemm=false", "0", GPUMath{}},
		{"", "1", "", dirFlag + " --xla_gpu_deterministic_ops=true", "-", GPUMath{TF32: true, Deterministic: true}},
		{"0", "1", "--xla_gpu_autotune_level=2", "--xla_gpu_autotune_level=2 " + dirFlag + " --xla_gpu_enable_triton_gemm=false --xla_gpu_deterministic_ops=true", "0", GPUMath{Deterministic: true}},
		// The user's own flag stays.
		{"0", "", "--xla_gpu_enable_triton_gemm=true", "--xla_gpu_enable_triton_gemm=true " + dirFlag, "0", GPUMath{}},
	} {
		name := fmt.Sprintf("TF32=%q,DET=%q,XLA_FLAGS=%q", tc.tf32, tc.det, tc.userFlags)
		unset("NVIDIA_TF32_OVERRIDE", "GOPJRT_CUDA_CHECKS")
		t.Setenv(TF32Env, tc.tf32)
		t.Setenv(DeterministicEnv, tc.det)
		t.Setenv("XLA_FLAGS", tc.userFlags)
		m, err := prepareCUDA(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m != tc.wantMath {
			t.Errorf("%s: GPU math %+v, want %+v", name, m, tc.wantMath)
		}
		if got := os.Getenv("XLA_FLAGS"); got != tc.wantFlags {
			t.Errorf("%s: XLA_FLAGS=%q, want %q", name, got, tc.wantFlags)
		}
		override, ok := os.LookupEnv("NVIDIA_TF32_OVERRIDE")
		if !ok {
			override = "-"
		}
		if override != tc.override {
			t.Errorf("%s: NVIDIA_TF32_OVERRIDE %q, want %q", name, override, tc.override)
		}
		if got := os.Getenv("GOPJRT_CUDA_CHECKS"); got != "0" {
			t.Errorf("%s: GOPJRT_CUDA_CHECKS=%q, want 0", name, got)
		}
	}

	// Errors name the variable and what to do.
	t.Setenv(DeterministicEnv, "")
	for _, tc := range []struct{ env, value, want string }{
		{TF32Env, "off", `VICREG_TF32="off": want 0 or 1`},
		{DeterministicEnv, "true", `VICREG_DETERMINISTIC="true": want 0 or 1`},
	} {
		t.Setenv(TF32Env, "")
		t.Setenv(tc.env, tc.value)
		if _, err := prepareCUDA(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: error %v, want it to say %q", tc.env, tc.value, err, tc.want)
		}
		t.Setenv(tc.env, "")
	}
	t.Setenv(TF32Env, "0")
	t.Setenv("NVIDIA_TF32_OVERRIDE", "1")
	want := `VICREG_TF32=0 asks for float32 but NVIDIA_TF32_OVERRIDE="1" allows TF32: unset one of them`
	if _, err := prepareCUDA(c); err == nil || err.Error() != want {
		t.Errorf("conflicting settings: error %v, want %q", err, want)
	}
}

func TestCUDAErrorNamesTheCause(t *testing.T) {
	noGPU := cudaError("/p.so", errors.New("while creating plugin /p.so for backend \"xla\": PJRT error (code=9): No visible GPU devices."))
	if want := "no GPU visible: the CUDA plugin /p.so found no NVIDIA GPU; " + NoGPUHelp; !errors.Is(noGPU, ErrNoGPU) || noGPU.Error() != want {
		t.Errorf("got %v, want %s", noGPU, want)
	}
	// Another failure (an old driver) is not reported as a missing GPU.
	other := cudaError("/p.so", errors.New("PJRT error (code=13): CUDA_ERROR_SYSTEM_DRIVER_MISMATCH\ndetails"))
	if errors.Is(other, ErrNoGPU) {
		t.Errorf("%v is reported as no GPU", other)
	}
	if want := "starting the CUDA plugin /p.so: PJRT error (code=13): CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (it needs an NVIDIA GPU with driver 580 or newer, CUDA 13)"; other.Error() != want {
		t.Errorf("got %q, want %q", other, want)
	}
}

// fakeInstall writes an empty plugin file and a wheel's METADATA under root.
func fakeInstall(t *testing.T, root string) string {
	t.Helper()
	plugin := filepath.Join(root, CUDAPluginFile)
	for path, text := range map[string]string{
		plugin: "",
		filepath.Join(root, "jax_cuda13_pjrt-0.11.2.dist-info", "METADATA"):           "Metadata-Version: 2.4\nName: jax-cuda13-pjrt\nVersion: 0.11.2\n\nName: not-this\n",
		filepath.Join(root, "nvidia_cuda_runtime-13.5.37.dist-info", "METADATA"):      "Name: nvidia-cuda-runtime\nVersion: 13.5.37\n",
		filepath.Join(root, "nvidia_broken-1.dist-info", "METADATA"):                  "Name: nvidia-broken\n",
		filepath.Join(root, "nvidia", "cu13", "nvvm", "libdevice", "libdevice.10.bc"): "",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return plugin
}

// fakePython puts a python3 on PATH that prints root (status 0) or exits with status 3, as the
// lookup script does when jax-cuda13-pjrt is missing.
func fakePython(t *testing.T, root string) {
	t.Helper()
	bin := t.TempDir()
	script := "#!/bin/sh\nexit 3\n"
	if root != "" {
		script = "#!/bin/sh\necho " + root + "\n"
	}
	if err := os.WriteFile(filepath.Join(bin, "python3"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
}

func TestFindCUDASearchOrder(t *testing.T) {
	t.Setenv(PluginPathEnv, t.TempDir()) // no go-xla plugin either
	home := t.TempDir()
	t.Setenv("HOME", home)

	// 1. Nothing installed: the error says what to do.
	fakePython(t, "")
	t.Setenv(CUDADirEnv, "")
	_, err := FindCUDA()
	if !errors.Is(err, ErrNoPlugin) {
		t.Fatalf("FindCUDA with nothing installed: %v, want ErrNoPlugin", err)
	}
	for _, want := range []string{"make cuda", "pip install \"jax[cuda13]\"", filepath.Join(home, ".local/lib/vicreg-cuda"), "no jax-cuda13-pjrt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	// 2. A pip installation in the Python on PATH.
	site := t.TempDir()
	sitePlugin := fakeInstall(t, site)
	fakePython(t, site)
	c, err := FindCUDA()
	if err != nil || c.Plugin != sitePlugin || !strings.HasPrefix(c.Source, "pip, ") {
		t.Errorf("with a pip installation: %+v, %v; want plugin %s found by pip", c, err, sitePlugin)
	}
	if got := c.DataDir(); got != filepath.Join(site, "nvidia", "cu13") {
		t.Errorf("DataDir %q", got)
	}

	// 3. `make cuda`'s folder comes before the Python's.
	made := fakeInstall(t, filepath.Join(home, ".local", "lib", "vicreg-cuda"))
	c, err = FindCUDA()
	if err != nil || c.Plugin != made || c.Source != "make cuda" {
		t.Errorf("with make cuda's folder: %+v, %v; want %s from make cuda", c, err, made)
	}

	// 4. VICREG_CUDA_DIR is the only place searched when set.
	own := t.TempDir()
	t.Setenv(CUDADirEnv, own)
	if _, err := FindCUDA(); !errors.Is(err, ErrNoPlugin) || !strings.Contains(err.Error(), CUDADirEnv+"="+own+" has no "+CUDAPluginFile) {
		t.Errorf("empty %s: %v", CUDADirEnv, err)
	}
	ownPlugin := fakeInstall(t, own)
	if c, err := FindCUDA(); err != nil || c.Plugin != ownPlugin {
		t.Errorf("%s with a plugin: %+v, %v", CUDADirEnv, c, err)
	}
}

func TestWheelsReadsMetadata(t *testing.T) {
	root := t.TempDir()
	fakeInstall(t, root)
	got := CUDAInstall{Root: root}.Wheels()
	want := map[string]string{"jax-cuda13-pjrt": "0.11.2", "nvidia-cuda-runtime": "13.5.37"} // nvidia-broken has no Version
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Wheels() = %v, want %v", got, want)
	}
	if _, _, err := readWheelMetadata(filepath.Join(root, "nvidia_broken-1.dist-info", "METADATA")); err == nil || !strings.Contains(err.Error(), "no Name or Version") {
		t.Errorf("a METADATA without Version: %v", err)
	}
	attrs := pjrt.NamedValuesMap{"cuda_version": int64(13000)}
	if s := cudaVersions(attrs, got); s != "plugin built for 13.0, jax-cuda13-pjrt 0.11.2, runtime 13.5.37" {
		t.Errorf("cudaVersions = %q", s)
	}
}

func TestCUDAClientOptions(t *testing.T) {
	t.Setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
	t.Setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", ".25")
	t.Setenv("XLA_PYTHON_CLIENT_ALLOCATOR", "platform")
	opts, err := cudaClientOptions()
	if err != nil || opts["preallocate"] != false || opts["memory_fraction"] != float32(0.25) || opts["allocator"] != "platform" {
		t.Errorf("options %v, %v", opts, err)
	}
	for name, bad := range map[string]string{"XLA_PYTHON_CLIENT_PREALLOCATE": "maybe", "XLA_PYTHON_CLIENT_MEM_FRACTION": "1.5", "XLA_PYTHON_CLIENT_ALLOCATOR": "mine"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, bad)
			if _, err := cudaClientOptions(); err == nil || !strings.Contains(err.Error(), name+"=\""+bad+"\"") {
				t.Errorf("%s=%s: error %v should name it", name, bad, err)
			}
		})
	}
	for _, name := range []string{"XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_PYTHON_CLIENT_ALLOCATOR"} {
		t.Setenv(name, "")
	}
	if opts, err := cudaClientOptions(); err != nil || len(opts) != 0 {
		t.Errorf("no variables: %v, %v; want no options (the plugin's defaults)", opts, err)
	}
}

// TestCaptureStderr checks that writes to file descriptor 2 inside fn are captured and that fd 2
// is the same file afterwards.
func TestCaptureStderr(t *testing.T) {
	var before, after syscall.Stat_t
	if err := syscall.Fstat(2, &before); err != nil {
		t.Fatal(err)
	}
	out := captureStderr(func() { _, _ = syscall.Write(2, []byte("from C++\n")) })
	if string(out) != "from C++\n" {
		t.Errorf("captured %q", out)
	}
	if err := syscall.Fstat(2, &after); err != nil {
		t.Fatal(err)
	}
	if before.Ino != after.Ino || before.Dev != after.Dev {
		t.Error("fd 2 is another file after captureStderr")
	}
}
