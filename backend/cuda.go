package backend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/go-xla/pkg/pjrt"
)

// CUDADirEnv names the folder where `make cuda` (scripts/install-cuda.sh) installs the CUDA
// plugin and its NVIDIA libraries; New looks there first. Default: DefaultCUDADir.
const CUDADirEnv = "VICREG_CUDA_DIR"

// CUDAPluginFile is the plugin's path inside an installation (a site-packages layout), as the
// jax-cuda13-pjrt wheel places it.
const CUDAPluginFile = "jax_plugins/xla_cuda13/xla_cuda_plugin.so"

// CUDAPluginPackage is the PyPI package that ships the plugin, and CUDAPinnedVersion the version
// `make cuda` installs.
const (
	CUDAPluginPackage = "jax-cuda13-pjrt"
	CUDAPinnedVersion = "0.11.2"
)

// MinCUDADriver is the oldest NVIDIA driver (major version) that runs CUDA 13 programs (CUDA's
// minor-version compatibility: any 13.x toolkit on a driver >= 580).
const MinCUDADriver = 580

// ErrNoGPU is returned (wrapped) by New when the CUDA plugin loads but finds no GPU.
var ErrNoGPU = errors.New("no GPU visible")

// NoGPUHelp ends the message of the ErrNoGPU error, which reads in full
//
//	no GPU visible: the CUDA plugin <plugin file> found no NVIDIA GPU; it needs one with NVIDIA driver 580 or newer (CUDA 13): check that nvidia-smi lists the GPU, or use GOMLX_BACKEND=xla:cpu
const NoGPUHelp = "it needs one with NVIDIA driver 580 or newer (CUDA 13): check that nvidia-smi lists the GPU, or use GOMLX_BACKEND=xla:cpu"

// CUDAInstall is a CUDA plugin installation with the site-packages layout of PyPI's wheels:
// the plugin in Root/jax_plugins/xla_cuda13/ and the NVIDIA libraries in Root/nvidia/.
type CUDAInstall struct {
	Root   string // the folder that holds jax_plugins/ and nvidia/
	Plugin string // the plugin file (absolute)
	Source string // how it was found: "make cuda", "$VICREG_CUDA_DIR", "python3 (...)" or "PJRT_PLUGIN_LIBRARY_PATH"
}

// DefaultCUDADir is where `make cuda` installs unless VICREG_CUDA_DIR says otherwise.
func DefaultCUDADir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "lib", "vicreg-cuda")
}

// DataDir is the CUDA folder of the installation that XLA needs at run time: bin/ptxas (PTX to
// GPU code) and nvvm/libdevice. It is "" when the installation has none.
func (c CUDAInstall) DataDir() string {
	for _, d := range []string{filepath.Join(c.Root, "nvidia", "cu13"), filepath.Join(filepath.Dir(c.Plugin), "nvidia", "cu13")} {
		if fileExists(filepath.Join(d, "nvvm", "libdevice", "libdevice.10.bc")) {
			return d
		}
	}
	return ""
}

// Wheels returns the versions of the plugin's and the NVIDIA libraries' wheels installed in the
// installation's root, by package name, read from their .dist-info/METADATA.
func (c CUDAInstall) Wheels() map[string]string {
	out := map[string]string{}
	for _, pattern := range []string{"jax_cuda13_pjrt-*.dist-info", "nvidia_*.dist-info"} {
		dirs, _ := filepath.Glob(filepath.Join(c.Root, pattern))
		for _, d := range dirs {
			if name, version, err := readWheelMetadata(filepath.Join(d, "METADATA")); err == nil {
				out[name] = version
			}
		}
	}
	return out
}

// readWheelMetadata returns the Name and Version fields of a wheel's METADATA file.
func readWheelMetadata(path string) (name, version string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() && (name == "" || version == "") {
		line := sc.Text()
		if line == "" {
			break // end of the header
		}
		if v, ok := strings.CutPrefix(line, "Name: "); ok {
			name = strings.ToLower(strings.TrimSpace(v))
		} else if v, ok := strings.CutPrefix(line, "Version: "); ok {
			version = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("reading %s: %w", path, err)
	}
	if name == "" || version == "" {
		return "", "", fmt.Errorf("%s has no Name or Version field", path)
	}
	return name, version, nil
}

// FindCUDA looks for the CUDA plugin: in $VICREG_CUDA_DIR when it is set (and only there), else
// in the `make cuda` folder (DefaultCUDADir), else in the Python on PATH (a pip-installed
// jax-cuda13-pjrt), else a pjrt_c_api_cuda_plugin.so that go-xla's own discovery finds. The error
// (ErrNoPlugin) says what to do.
func FindCUDA() (CUDAInstall, error) {
	if dir, ok := os.LookupEnv(CUDADirEnv); ok && dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs // go-xla loads a plugin by path only when the path is absolute
		}
		c := CUDAInstall{Root: dir, Plugin: filepath.Join(dir, CUDAPluginFile), Source: "$" + CUDADirEnv}
		if !fileExists(c.Plugin) {
			return CUDAInstall{}, fmt.Errorf("%w: %s=%s has no %s: run `make cuda` with that variable set, or unset it",
				ErrNoPlugin, CUDADirEnv, dir, CUDAPluginFile)
		}
		return c, nil
	}
	var searched []string
	if dir := DefaultCUDADir(); dir != "" {
		c := CUDAInstall{Root: dir, Plugin: filepath.Join(dir, CUDAPluginFile), Source: "make cuda"}
		if fileExists(c.Plugin) {
			return c, nil
		}
		searched = append(searched, dir)
	}
	c, where := pythonCUDA()
	if c.Plugin != "" {
		return c, nil
	}
	searched = append(searched, where)
	if p, ok := cudaFromDiscovery(); ok {
		return p, nil
	}
	searched = append(searched, "$"+PluginPathEnv+" and go-xla's folders (pjrt_c_api_cuda_plugin.so)")
	return CUDAInstall{}, fmt.Errorf("%w: the CUDA plugin is not installed (searched %s). Do one of:\n"+
		"  make cuda                  # installs %s %s and its NVIDIA libraries into %s (no root, 2.4 GB download, 3.8 GB installed)\n"+
		"  pip install \"jax[cuda13]\"  # into the python3 on PATH, whose %s is then used",
		ErrNoPlugin, strings.Join(searched, "; "), CUDAPluginPackage, CUDAPinnedVersion, DefaultCUDADir(), CUDAPluginPackage)
}

// pythonScript prints the folder a pip-installed jax-cuda13-pjrt lives in (its site-packages),
// or exits with status 3 when the package is not installed.
const pythonScript = `import importlib.metadata as m, sys
try:
    d = m.distribution("jax-cuda13-pjrt")
except m.PackageNotFoundError:
    sys.exit(3)
print(d.locate_file(""))`

// pythonCUDA asks the python3 on PATH where its jax-cuda13-pjrt is installed. It returns the
// installation (empty when there is none) and what it searched, for the error message.
func pythonCUDA() (CUDAInstall, string) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return CUDAInstall{}, "python3 (not on PATH)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", pythonScript).Output()
	if err != nil {
		return CUDAInstall{}, fmt.Sprintf("%s (no %s)", py, CUDAPluginPackage)
	}
	root := strings.TrimSpace(string(out))
	c := CUDAInstall{Root: root, Plugin: filepath.Join(root, CUDAPluginFile), Source: "pip, " + py}
	if !fileExists(c.Plugin) {
		return CUDAInstall{}, fmt.Sprintf("%s (%s without %s)", py, CUDAPluginPackage, CUDAPluginFile)
	}
	return c, py
}

// cudaFromDiscovery is a CUDA plugin that go-xla finds by its file name (pjrt_c_api_cuda_plugin.so
// in PJRT_PLUGIN_LIBRARY_PATH or ~/.local/lib/go-xla). go-xla only lists it when an NVIDIA device
// file or nvidia-smi exists.
func cudaFromDiscovery() (CUDAInstall, bool) {
	p, ok := Plugins()["cuda"]
	if !ok {
		return CUDAInstall{}, false
	}
	return CUDAInstall{Root: filepath.Dir(filepath.Dir(filepath.Dir(p))), Plugin: p, Source: PluginPathEnv}, true
}

// isCUDAPlugin reports whether an XLA plugin name (or path: its file name, not its folders) is
// NVIDIA's.
func isCUDAPlugin(name string) bool {
	n := strings.ToLower(filepath.Base(name))
	return strings.Contains(n, "cuda") || strings.Contains(n, "nvidia")
}

// TF32Env and DeterministicEnv choose how XLA computes on an NVIDIA GPU; both are read by New and
// apply to the CUDA backend only (XLA on a CPU computes float32 in float32, deterministically).
//
//   - VICREG_TF32=1 (the default) keeps XLA's default precision, as JAX and TensorFlow do: on
//     GPUs since Ampere, float32 matrix products and convolutions round their operands to TF32
//     (a 10-bit mantissa) on the tensor cores, several times faster than float32. VICREG_TF32=0
//     computes them in float32: it sets NVIDIA_TF32_OVERRIDE=0, which turns TF32 off in cuBLAS and
//     cuDNN, and --xla_gpu_enable_triton_gemm=false, so that no product runs in XLA's own Triton
//     kernels, which take the precision from the graph (GoMLX leaves it at the default).
//   - VICREG_DETERMINISTIC=1 adds --xla_gpu_deterministic_ops=true: deterministic scatters and
//     no autotuning, so that two runs of one program, or a run and its resumption, compute the
//     same bits. The default, 0, lets XLA autotune (faster, but a resumed run may pick other
//     kernels than the first and drift from it by rounding).
//
// The tests (backendtest) set VICREG_TF32=0 and VICREG_DETERMINISTIC=1 when they are unset, so
// that on a GPU they hold to the tolerances and exact round trips they assert on a CPU.
// `go run ./train -backend-info` measures which arithmetic is in effect (MeasureFloat32).
const (
	TF32Env          = "VICREG_TF32"
	DeterministicEnv = "VICREG_DETERMINISTIC"
)

// GPUMath is the GPU arithmetic chosen by TF32Env and DeterministicEnv.
type GPUMath struct {
	TF32          bool // float32 products and convolutions may use TF32 (XLA's default)
	Deterministic bool // deterministic kernels, no autotuning
}

// GPUMathFromEnv reads TF32Env and DeterministicEnv (unset or empty: the defaults, TF32 allowed
// and autotuned kernels); a value other than 0 or 1 is an error that names the variable.
func GPUMathFromEnv() (GPUMath, error) {
	tf32, err := envBit(TF32Env, true)
	if err != nil {
		return GPUMath{}, err
	}
	det, err := envBit(DeterministicEnv, false)
	return GPUMath{TF32: tf32, Deterministic: det}, err
}

// envBit reads an environment variable that holds 0 or 1, def when it is unset or empty.
func envBit(name string, def bool) (bool, error) {
	switch v := os.Getenv(name); v {
	case "":
		return def, nil
	case "0", "1":
		return v == "1", nil
	default:
		return def, fmt.Errorf("%s=%q: want 0 or 1 (see go doc ./backend)", name, v)
	}
}

// String describes the choice for -backend-info.
func (m GPUMath) String() string {
	s := "TF32 allowed (XLA's default; " + TF32Env + "=0 for float32)"
	if !m.TF32 {
		s = "float32 (" + TF32Env + "=0: NVIDIA_TF32_OVERRIDE=0, no Triton GEMMs)"
	}
	if m.Deterministic {
		return s + ", deterministic kernels (" + DeterministicEnv + "=1)"
	}
	return s + ", autotuned kernels (" + DeterministicEnv + "=1 for deterministic ones)"
}

// prepareCUDA sets the environment the plugin reads when it creates its client. XLA_FLAGS gets
// --xla_gpu_cuda_data_dir (the installation's ptxas and libdevice) and the flags of GPUMathFromEnv's
// choice, each unless the user's XLA_FLAGS already names that flag; GOPJRT_CUDA_CHECKS=0 stops
// go-xla from replacing the data folder with one of its author's home (go-xla v0.1.4,
// pkg/pjrt/cuda_linux.go) and from warning about a layout it does not know.
func prepareCUDA(c CUDAInstall) (GPUMath, error) {
	m, err := GPUMathFromEnv()
	if err != nil {
		return m, err
	}
	if err := os.Setenv("GOPJRT_CUDA_CHECKS", "0"); err != nil {
		return m, err
	}
	userFlags := os.Getenv("XLA_FLAGS")
	flags := withXLAFlag(userFlags, "xla_gpu_cuda_data_dir", c.DataDir())
	if !m.TF32 {
		if v := os.Getenv("NVIDIA_TF32_OVERRIDE"); v != "" && v != "0" {
			return m, fmt.Errorf("%s=0 asks for float32 but NVIDIA_TF32_OVERRIDE=%q allows TF32: unset one of them", TF32Env, v)
		}
		if err := os.Setenv("NVIDIA_TF32_OVERRIDE", "0"); err != nil {
			return m, err
		}
		flags = withXLAFlag(flags, "xla_gpu_enable_triton_gemm", "false")
	}
	if m.Deterministic {
		flags = withXLAFlag(flags, "xla_gpu_deterministic_ops", "true")
	}
	if flags != userFlags {
		return m, os.Setenv("XLA_FLAGS", flags)
	}
	return m, nil
}

// withXLAFlag adds --name=value to the XLA_FLAGS value flags, unless flags already sets that flag
// (the user's choice wins) or value is empty.
func withXLAFlag(flags, name, value string) string {
	if value == "" {
		return flags
	}
	for _, f := range strings.Fields(flags) {
		if n, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "="); n == name {
			return flags
		}
	}
	return strings.TrimSpace(flags + " --" + name + "=" + value)
}

// cudaClientOptions are the CUDA plugin's client options from JAX's environment variables, so
// that a JAX user's settings mean the same here: XLA_PYTHON_CLIENT_PREALLOCATE=false (grow the
// memory pool on demand instead of reserving 75% of the GPU at start),
// XLA_PYTHON_CLIENT_MEM_FRACTION=0.5 (the pool's share of the GPU) and
// XLA_PYTHON_CLIENT_ALLOCATOR=platform|bfc|cuda_async.
func cudaClientOptions() (pjrt.NamedValuesMap, error) {
	opts := pjrt.NamedValuesMap{}
	if v, ok := os.LookupEnv("XLA_PYTHON_CLIENT_PREALLOCATE"); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("XLA_PYTHON_CLIENT_PREALLOCATE=%q: want true or false", v)
		}
		opts["preallocate"] = b
	}
	if v, ok := os.LookupEnv("XLA_PYTHON_CLIENT_MEM_FRACTION"); ok && v != "" {
		f, err := strconv.ParseFloat(v, 32)
		if err != nil || f <= 0 || f > 1 {
			return nil, fmt.Errorf("XLA_PYTHON_CLIENT_MEM_FRACTION=%q: want a fraction in (0, 1]", v)
		}
		opts["memory_fraction"] = float32(f)
	}
	if v, ok := os.LookupEnv("XLA_PYTHON_CLIENT_ALLOCATOR"); ok && v != "" {
		if !slices.Contains([]string{"default", "platform", "bfc", "cuda_async"}, v) {
			return nil, fmt.Errorf("XLA_PYTHON_CLIENT_ALLOCATOR=%q: want default, platform, bfc or cuda_async", v)
		}
		opts["allocator"] = v
	}
	return opts, nil
}

// cudaError turns the plugin's failure to create a client into the message a user can act on:
// ErrNoGPU when it saw no GPU, otherwise the plugin's own error with the driver it needs.
func cudaError(plugin string, err error) error {
	msg := err.Error()
	for _, s := range []string{"No visible GPU devices", "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%w: the CUDA plugin %s found no NVIDIA GPU; %s", ErrNoGPU, plugin, NoGPUHelp)
		}
	}
	return fmt.Errorf("starting the CUDA plugin %s: %v (it needs an NVIDIA GPU with driver %d or newer, CUDA 13)", plugin, firstLine(msg), MinCUDADriver)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// nvidiaSMI returns one line per GPU from nvidia-smi's query (index, name, total memory, driver),
// or nil when nvidia-smi is not there or fails.
func nvidiaSMI() []string {
	smi, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, smi, "--query-gpu=index,name,memory.total,driver_version", "--format=csv,noheader").Output()
	if err != nil {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}
