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
package backend

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // Registers the pure Go backend ("go").
	"github.com/gomlx/gomlx/backends/xla"        // Registers the XLA backend ("xla").
)

// EnvVar is the environment variable that selects the backend (GoMLX's own convention).
const EnvVar = backends.ConfigEnvVar

// PluginPathEnv lists the folders (":"-separated) where go-xla looks for PJRT plugins.
const PluginPathEnv = pjrt.PJRTPluginPathsEnv

// BuiltForPJRT is the PJRT C API version that go-xla v0.1.4 was compiled against (pjrt_c_api.h).
const BuiltForPJRT = "0.83"

// ErrNoPlugin is returned (wrapped) by New when XLA is wanted but no PJRT plugin can be found.
var ErrNoPlugin = errors.New("no XLA PJRT plugin found")

// NoPluginHelp is the text shown to a user who has no XLA plugin installed.
const NoPluginHelp = `searched ` + "$" + PluginPathEnv + `, ~/.local/lib/go-xla, /usr/local/lib/go-xla and the system library folders.
Do one of:
  make xla                 # installs the XLA CPU plugin from PyPI into ~/.local/lib/go-xla (no root needed)
  export GOMLX_BACKEND=go  # pure Go backend: losses, estimators and inference, but no convolution training`

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
		return "go"
	case "cpu", "cuda", "tpu":
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
		pluginName, _, _ = strings.Cut(pluginName, ",")
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
		return fmt.Errorf("%w; %s", ErrNoPlugin, NoPluginHelp)
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
func Describe(b backends.Backend) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "backend:     %s\n", b.Name())
	fmt.Fprintf(&sb, "description: %s\n", b.Description())
	fmt.Fprintf(&sb, "devices:     %d\n", b.NumDevices())
	if IsXLA(b.Name()) {
		_, pluginName, _ := strings.Cut(Config(), ":")
		pluginName, _, _ = strings.Cut(pluginName, ",")
		if p, err := pjrt.GetPlugin(pluginName); err == nil {
			major, minor := p.Version()
			fmt.Fprintf(&sb, "plugin:      %s (PJRT C API %d.%d; go-xla v0.1.4 was built for %s)\n",
				p.Path(), major, minor, BuiltForPJRT)
		}
	}
	return sb.String()
}
