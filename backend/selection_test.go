package backend_test

// Tests of backend selection that run New (and so belong to the external test package).

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/backend"
)

// TestGoBackendOptionsAreNotDropped: GOMLX_BACKEND="go:<options>" is GoMLX's syntax for
// the pure Go backend's options (simplego.New parses "parallelism=N", "ops_sequential", ... and
// rejects unknown ones). Config/normalize keeps only "go", so a documented option is silently
// ignored and a misspelt one is silently accepted.
func TestGoBackendOptionsAreNotDropped(t *testing.T) {
	t.Setenv(backend.EnvVar, "go:parallelism=1")
	if got, want := backend.Config(), "go:parallelism=1"; got != want {
		t.Errorf("%s=go:parallelism=1: Config()=%q, want %q (the option is dropped)", backend.EnvVar, got, want)
	}

	const typo = "go:ops_sequentail"
	// Independent expectation: GoMLX itself rejects the misspelt option.
	if b, err := backends.NewWithConfig(typo); err == nil {
		b.Finalize()
		t.Fatalf("GoMLX accepted %q; the premise of this test is wrong", typo)
	}
	t.Setenv(backend.EnvVar, typo)
	b, err := backend.New()
	if err == nil {
		defer b.Finalize()
		t.Errorf("%s=%q: New() started %q without an error; GoMLX rejects the misspelt option", backend.EnvVar, typo, backend.Name(b))
	}
}

// TestCPUPluginUnderFolderNamedCUDAIsNotCUDA: New routes an absolute plugin path to the
// CUDA set-up when any folder of the path contains "cuda" or "nvidia" (isCUDAPlugin looks at the
// whole path), so a CPU plugin (pjrt_c_api_cpu_plugin.so, go-xla's naming) in, say,
// /home/nvidia/... or ~/cuda-work/... gets GOPJRT_CUDA_CHECKS=0, the GPU-math variables and a
// "CUDA plugin ... needs an NVIDIA GPU" error. onAccelerator, by contrast, looks at the file name.
func TestCPUPluginUnderFolderNamedCUDAIsNotCUDA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cuda-work")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(dir, "pjrt_c_api_cpu_plugin.so")
	if err := os.WriteFile(plugin, []byte("not a shared library"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(backend.EnvVar, "xla:"+plugin)
	t.Setenv("GOPJRT_CUDA_CHECKS", "")
	t.Setenv(backend.TF32Env, "")
	t.Setenv(backend.DeterministicEnv, "")
	b, err := backend.New()
	if err == nil {
		b.Finalize()
		t.Fatal("New() loaded a file that is not a shared library")
	}
	if strings.Contains(err.Error(), "the CUDA plugin") || strings.Contains(err.Error(), "NVIDIA GPU") {
		t.Errorf("a CPU plugin was started as the CUDA plugin: %v", err)
	}
	if got := os.Getenv("GOPJRT_CUDA_CHECKS"); got != "" {
		t.Errorf("GOPJRT_CUDA_CHECKS=%q after starting a CPU plugin, want it untouched", got)
	}
}

// TestRelativeCUDADirGivesAbsolutePlugin: CUDAInstall.Plugin is documented as absolute,
// and go-xla loads a plugin by path only when the path is absolute (a relative one is searched
// for as a plugin *name*). install-cuda.sh accepts a relative VICREG_CUDA_DIR (pip --target
// resolves it), but FindCUDA returns the relative path as is.
func TestRelativeCUDADirGivesAbsolutePlugin(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.MkdirAll(filepath.Join("cuda", filepath.Dir(backend.CUDAPluginFile)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("cuda", backend.CUDAPluginFile), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(backend.CUDADirEnv, "cuda")
	c, err := backend.FindCUDA()
	if err != nil {
		t.Fatalf("FindCUDA with %s=cuda: %v", backend.CUDADirEnv, err)
	}
	if !filepath.IsAbs(c.Plugin) {
		t.Errorf("FindCUDA().Plugin=%q, want an absolute path (CUDAInstall.Plugin is \"the plugin file (absolute)\")", c.Plugin)
	}
	t.Setenv(backend.EnvVar, "xla:cuda")
	t.Setenv("XLA_FLAGS", "")
	_, err = backend.New()
	if err != nil && strings.Contains(err.Error(), "not found: available plugins") {
		t.Errorf("New() searched for the installed plugin file as a plugin name: %v", err)
	}
}

// TestNoPluginMessageWhenPJRTPathIsSet: go-xla searches only the folders of
// PJRT_PLUGIN_LIBRARY_PATH when that variable is set (pkg/pjrt/dynamiclib_base.go init), yet
// ErrNoPlugin's message says ~/.local/lib/go-xla was searched and tells the user to run `make xla`,
// which installs there and then reports "already installed": the advice cannot help. Where the
// variable is set, the message should name the folders it lists and say that they replace the
// default ones.
func TestNoPluginMessageWhenPJRTPathIsSet(t *testing.T) {
	if os.Getenv("VICREG_NOPLUGIN_CHILD") == "1" {
		_, err := backend.New()
		if !errors.Is(err, backend.ErrNoPlugin) {
			t.Fatalf("want ErrNoPlugin, got %v", err)
		}
		os.Stdout.WriteString("ERR<<" + err.Error() + ">>\n")
		return
	}
	empty := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoPluginMessageWhenPJRTPathIsSet$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VICREG_NOPLUGIN_CHILD=1", "PJRT_PLUGIN_LIBRARY_PATH="+empty,
		"GOMLX_NO_AUTO_INSTALL=1", backend.EnvVar+"=xla:cpu")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	msg := string(out)
	if strings.Contains(msg, "~/.local/lib/go-xla, /usr/local/lib/go-xla") {
		t.Errorf("with PJRT_PLUGIN_LIBRARY_PATH=%s (the only folder go-xla searched) the message claims the default folders were searched:\n%s", empty, msg)
	}
	if !strings.Contains(msg, empty) {
		t.Errorf("the message does not name the folder that was searched (%s):\n%s", empty, msg)
	}
}
