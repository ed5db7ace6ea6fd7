// Package backend chooses the GoMLX backend that every command and test of this module uses.
//
// The choice follows GOMLX_BACKEND when it is set ("xla:cpu", "xla:cuda", "go", ...). When it is
// unset, the XLA CPU backend is used if a PJRT CPU plugin is installed; otherwise New returns an
// error (ErrNoPlugin) whose message says how to install the plugin (`make xla`) or how to choose
// the pure Go backend.
//
// go-xla's auto-installer downloads plugins from GitHub. It is only attempted when no plugin is
// installed, GOMLX_NO_AUTO_INSTALL is unset and GitHub answers within a few seconds, so that a
// machine without internet fails fast with a clear message instead of hanging.
//
// GOMLX_BACKEND=xla:cuda uses JAX's CUDA 13 PJRT plugin (PyPI's jax-cuda13-pjrt) with its NVIDIA
// libraries: the folder `make cuda` installs (FindCUDA: $VICREG_CUDA_DIR, else
// ~/.local/lib/vicreg-cuda), else the jax-cuda13-pjrt that pip installed into the python3 on
// PATH. Nothing else needs setting: the plugin's RPATH finds the libraries, and New points XLA
// at the installation's ptxas and libdevice (--xla_gpu_cuda_data_dir in XLA_FLAGS). JAX's
// XLA_PYTHON_CLIENT_PREALLOCATE, XLA_PYTHON_CLIENT_MEM_FRACTION and XLA_PYTHON_CLIENT_ALLOCATOR
// set the plugin's memory pool as they do for JAX. VICREG_TF32 and VICREG_DETERMINISTIC choose
// the GPU arithmetic (TF32Env: TF32 or float32 products and convolutions; DeterministicEnv), and
// MeasureFloat32 measures which one is in effect. On a machine without a GPU, New returns
// ErrNoGPU with the message
//
//	no GPU visible: the CUDA plugin <plugin file> found no NVIDIA GPU; it needs one with NVIDIA driver 580 or newer (CUDA 13): check that nvidia-smi lists the GPU, or use GOMLX_BACKEND=xla:cpu
package backend

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // Registers the pure Go backend ("go").
	"github.com/gomlx/gomlx/backends/xla"        // Registers the XLA backend ("xla").

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
)

// EnvVar is the environment variable that selects the backend (GoMLX's own convention).
const EnvVar = backends.ConfigEnvVar

// PluginPathEnv lists the folders (":"-separated) where go-xla looks for PJRT plugins.
const PluginPathEnv = pjrt.PJRTPluginPathsEnv

// BuiltForPJRT is the PJRT C API version that go-xla v0.1.4 was compiled against (pjrt_c_api.h).
const BuiltForPJRT = "0.83"

// ErrNoPlugin is returned (wrapped) by New when XLA is wanted but no PJRT plugin can be found.
var ErrNoPlugin = errors.New("no XLA PJRT plugin found")

// NoPluginHelp is the text shown to a user who has no XLA plugin installed (where $PJRT_PLUGIN_LIBRARY_PATH
// is unset: see noPluginHelp).
const NoPluginHelp = `searched ` + "$" + PluginPathEnv + `, ~/.local/lib/go-xla, /usr/local/lib/go-xla and the system library folders.
Do one of:
  make xla                 # installs the XLA CPU plugin from PyPI into ~/.local/lib/go-xla (no root needed)
` + goBackendHint

// goBackendHint is the way out without any plugin, the last line of every no-plugin message.
const goBackendHint = `  export GOMLX_BACKEND=go  # pure Go backend: losses, estimators and inference, but no convolution training`

// noPluginHelp is NoPluginHelp, or, where $PJRT_PLUGIN_LIBRARY_PATH is set (paths, its value),
// what go-xla then searched: only those folders, so `make xla` (which installs into
// ~/.local/lib/go-xla) cannot help until that folder is added to it or the variable unset.
func noPluginHelp(paths string) string {
	if paths == "" {
		return NoPluginHelp
	}
	return fmt.Sprintf("searched only $%s=%s, which replaces the default folders (~/.local/lib/go-xla, ...).\n"+
		"Do one of:\n"+
		"  unset %s, then: make xla   # installs the XLA CPU plugin from PyPI into ~/.local/lib/go-xla\n"+
		"  put a PJRT plugin (pjrt_c_api_cpu_plugin.so) in one of its folders, or add ~/.local/lib/go-xla to it after make xla\n",
		PluginPathEnv, paths, PluginPathEnv) + goBackendHint
}

// init stops go-xla from downloading plugins by itself: New decides when a download may succeed.
func init() {
	xla.EnableAutoInstall(false)
}

// Config returns the backend configuration that New will use, after applying the defaults:
// the value of GOMLX_BACKEND, or "xla:cpu" when it is unset.
func Config() string {
	if c, ok := os.LookupEnv(EnvVar); ok && c != "" {
		return normalize(c)
	}
	return "xla:cpu"
}

// normalize maps the short names users type to GoMLX's backend names.
func normalize(config string) string {
	name, rest, _ := strings.Cut(config, ":")
	switch name {
	case "go", "simplego":
		if rest != "" {
			return "go:" + rest // the Go backend's options (parallelism=N, ...): GoMLX checks them
		}
		return "go"
	case "cpu", "cuda", "tpu":
		if rest != "" {
			return "xla:" + name + ":" + rest // not a plugin name: New refuses it rather than drop it
		}
		return "xla:" + name
	}
	if rest == "" {
		return name
	}
	return name + ":" + rest
}

// IsXLA reports whether the configuration names GoMLX's XLA backend (or one of its aliases).
func IsXLA(config string) bool {
	name, _, _ := strings.Cut(config, ":")
	return slices.Contains([]string{"xla", "stablehlo", "hlo", "shlo"}, name)
}

// Plugins returns the PJRT plugins that go-xla can find, by name, with their paths.
func Plugins() map[string]string {
	return pjrt.AvailablePlugins()
}

// New returns the backend chosen by GOMLX_BACKEND (see the package documentation).
func New() (backends.Backend, error) {
	config := Config()
	name, pluginName, _ := strings.Cut(config, ":")
	if !slices.Contains(backends.List(), name) {
		return nil, fmt.Errorf("%s=%q names an unknown backend %q: use one of xla:cpu, xla:cuda, go", EnvVar, config, name)
	}
	if IsXLA(config) {
		var options string
		pluginName, options, _ = strings.Cut(pluginName, ",")
		if pluginName == "cuda" || (filepath.IsAbs(pluginName) && isCUDAPlugin(pluginName)) {
			return newCUDA(pluginName, options)
		}
		if err := ensurePlugin(pluginName); err != nil {
			return nil, err
		}
	}
	b, err := backends.NewWithConfig(config)
	if err != nil {
		return nil, fmt.Errorf("starting backend %q: %w", config, err)
	}
	return b, nil
}

// cudaInUse is the CUDA installation of the last backend newCUDA started, and cudaMath its GPU
// arithmetic (for Describe).
var (
	cudaMu    sync.Mutex
	cudaInUse *CUDAInstall
	cudaMath  GPUMath
)

// newCUDA starts the XLA backend on the CUDA plugin: plugin is "cuda" (found by FindCUDA) or the
// plugin file's absolute path; options are GoMLX's backend options (after the first comma).
func newCUDA(plugin, options string) (backends.Backend, error) {
	c := CUDAInstall{Root: filepath.Dir(filepath.Dir(filepath.Dir(plugin))), Plugin: plugin, Source: EnvVar}
	if plugin == "cuda" {
		var err error
		if c, err = FindCUDA(); err != nil {
			return nil, err
		}
	}
	math, err := prepareCUDA(c)
	if err != nil {
		return nil, fmt.Errorf("setting up the CUDA plugin %s: %w", c.Plugin, err)
	}
	clientOptions, err := cudaClientOptions()
	if err != nil {
		return nil, err
	}
	config := c.Plugin
	if options != "" {
		config += "," + options
	}
	var b *xla.Backend
	// The plugin logs its failure to find a GPU (cuInit, a source-location trace) on file
	// descriptor 2 before it returns the error: keep that out of the user's terminal, and pass it
	// on when the client starts.
	logs := captureStderr(func() { b, err = xla.NewWithOptions(config, clientOptions) })
	if err != nil {
		e := cudaError(c.Plugin, err)
		if !errors.Is(e, ErrNoGPU) {
			if l := pluginErrorLines(logs, 5); l != "" {
				e = fmt.Errorf("%w\nthe plugin logged:\n%s", e, l)
			}
		}
		return nil, e
	}
	_, _ = os.Stderr.Write(logs)
	cudaMu.Lock()
	cudaInUse, cudaMath = &c, math
	cudaMu.Unlock()
	return b, nil
}

// CUDAMath returns the GPU arithmetic of the last CUDA backend New started, and false when New has
// started none.
func CUDAMath() (GPUMath, bool) {
	cudaMu.Lock()
	defer cudaMu.Unlock()
	return cudaMath, cudaInUse != nil
}

// pluginErrorLines returns up to n of the error lines ("E...") of a plugin's captured log.
func pluginErrorLines(logs []byte, n int) string {
	var out []string
	for _, l := range strings.Split(string(logs), "\n") {
		if strings.HasPrefix(l, "E") && len(out) < n {
			out = append(out, "  "+strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}

// ensurePlugin makes sure the named plugin (or any plugin, if the name is empty) is installed,
// running go-xla's auto-installer only where it can succeed.
func ensurePlugin(name string) error {
	if hasPlugin(name) || strings.HasPrefix(name, "/") {
		return nil
	}
	if _, off := os.LookupEnv(xla.NoAutoInstallEnv); !off && githubReachable() {
		if err := xla.AutoInstall(); err == nil && hasPlugin(name) {
			return nil
		}
	}
	if name == "" || name == "cpu" {
		return fmt.Errorf("%w; %s", ErrNoPlugin, noPluginHelp(os.Getenv(PluginPathEnv)))
	}
	return fmt.Errorf("%w: plugin %q is not installed (found: %v); see the README section on GPUs and TPUs",
		ErrNoPlugin, name, pluginNames())
}

func hasPlugin(name string) bool {
	plugins := Plugins()
	if name == "" {
		return len(plugins) > 0
	}
	_, ok := plugins[name]
	return ok
}

func pluginNames() []string {
	var names []string
	for n := range Plugins() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// githubReachable reports whether go-xla's download site answers within a short time.
func githubReachable() bool {
	conn, err := net.DialTimeout("tcp", "github.com:443", 3*time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// Describe returns a human-readable description of a backend: its name, description, devices
// and, for XLA, the plugin file and its PJRT C API version next to the one go-xla was built for.
// For the CUDA plugin it adds where the installation was found, the CUDA version the plugin was
// built for and the versions of the NVIDIA libraries' wheels, the CUDA data folder given to XLA,
// the GPU math chosen (GPUMath), and each GPU with its memory (from nvidia-smi: go-xla v0.1.4
// does not expose PJRT's device memory statistics).
func Describe(b backends.Backend) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "backend:     %s\n", Name(b))
	fmt.Fprintf(&sb, "description: %s\n", b.Description())
	fmt.Fprintf(&sb, "devices:     %d\n", b.NumDevices())
	fmt.Fprintf(&sb, "CPU:         %s\n", cpuinfo.Describe())
	if !IsXLA(b.Name()) {
		return sb.String()
	}
	_, pluginName, _ := strings.Cut(Name(b), ":")
	pluginName, _, _ = strings.Cut(pluginName, ",")
	cudaMu.Lock()
	cuda, math := cudaInUse, cudaMath
	cudaMu.Unlock()
	if cuda != nil && isCUDAPlugin(pluginName) {
		pluginName = cuda.Plugin
	}
	p, err := pjrt.GetPlugin(pluginName)
	if err != nil {
		return sb.String()
	}
	major, minor := p.Version()
	fmt.Fprintf(&sb, "plugin:      %s (PJRT C API %d.%d; go-xla v0.1.4 was built for %s)\n",
		p.Path(), major, minor, BuiltForPJRT)
	if cuda == nil || pluginName != cuda.Plugin {
		return sb.String()
	}
	fmt.Fprintf(&sb, "found by:    %s (%s)\n", cuda.Source, cuda.Root)
	fmt.Fprintf(&sb, "CUDA:        %s\n", cudaVersions(p.Attributes(), cuda.Wheels()))
	if dir := cuda.DataDir(); dir != "" {
		fmt.Fprintf(&sb, "CUDA data:   %s (--xla_gpu_cuda_data_dir: ptxas, libdevice)\n", dir)
	}
	fmt.Fprintf(&sb, "GPU math:    %s\n", math)
	for i := range b.NumDevices() {
		fmt.Fprintf(&sb, "device %d:    %s\n", i, b.DeviceDescription(backends.DeviceNum(i)))
	}
	for _, l := range nvidiaSMI() {
		fmt.Fprintf(&sb, "nvidia-smi:  %s (index, name, memory, driver)\n", l)
	}
	return sb.String()
}

// cudaVersions describes the CUDA the plugin was built for (its cuda_version attribute, e.g.
// 13000 for 13.0) and the versions of the plugin's and the main NVIDIA libraries' wheels.
func cudaVersions(attrs pjrt.NamedValuesMap, wheels map[string]string) string {
	var parts []string
	if v, ok := attrs["cuda_version"].(int64); ok {
		parts = append(parts, fmt.Sprintf("plugin built for %d.%d", v/1000, v%1000/10))
	}
	for _, w := range []struct{ pkg, label string }{
		{CUDAPluginPackage, CUDAPluginPackage},
		{"nvidia-cuda-runtime", "runtime"},
		{"nvidia-cudnn-cu13", "cuDNN"},
		{"nvidia-cublas", "cuBLAS"},
		{"nvidia-nccl-cu13", "NCCL"},
		{"nvidia-cuda-nvcc", "ptxas"},
	} {
		if v, ok := wheels[w.pkg]; ok {
			parts = append(parts, w.label+" "+v)
		}
	}
	return strings.Join(parts, ", ")
}
