package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// trainBinary builds this command once per test binary and returns its path.
func trainBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "train-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "train")
		buildOut, buildErr = exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// environ returns the current environment without the named variables, plus the extra ones.
func environ(drop []string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			keep = keep && name != d
		}
		if keep {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func TestNoPluginGivesInstructionsNotAStackTrace(t *testing.T) {
	bin := trainBinary(t)
	cmd := exec.Command(bin, "-backend-info")
	cmd.Env = environ([]string{"GOMLX_BACKEND", "PJRT_PLUGIN_LIBRARY_PATH", "LD_LIBRARY_PATH"},
		"PJRT_PLUGIN_LIBRARY_PATH="+t.TempDir(), "GOMLX_NO_AUTO_INSTALL=1")
	out, err := cmd.CombinedOutput()
	exitErr, ok := err.(*exec.ExitError)
	if !ok || exitErr.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got err=%v\n%s", err, out)
	}
	for _, want := range []string{"no XLA PJRT plugin found", "make xla", "GOMLX_BACKEND=go"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not mention %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"panic:", "goroutine ", ".go:"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("output contains %q (a stack trace):\n%s", bad, out)
		}
	}
}
