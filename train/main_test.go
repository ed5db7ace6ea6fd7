package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
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

// tinyArgs is a run small enough for CI.
func tinyArgs(dir string, extra ...string) []string {
	args := []string{"-dataset", "synthetic", "-augment", "solo-cifar", "-stem", "cifar", "-width", "4",
		"-channels", "3", "-expander", "32-32", "-batch-size", "16", "-subset", "512", "-eval-subset", "128",
		"-baselines=false", "-probe-epochs", "1", "-log-every", "1", "-checkpoint-dir", dir}
	return append(args, extra...)
}

func TestUsageErrorsExitWithStatus2(t *testing.T) {
	bin := trainBinary(t)
	for _, args := range [][]string{
		{"-epochs", "-3"},
		{"-no-such-flag"},
		{"-loss", "byol"},
		append(tinyArgs(t.TempDir()), "-channels", "1", "-steps", "1"),
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		exitErr, ok := err.(*exec.ExitError)
		if !ok || exitErr.ExitCode() != 2 {
			t.Errorf("%v: want exit status 2, got %v\n%s", args, err, out)
		}
		if strings.Contains(string(out), "goroutine ") || strings.Contains(string(out), "panic:") {
			t.Errorf("%v: stack trace in the output:\n%s", args, out)
		}
	}
}

// TestBadExportPathRefusedBeforeTraining: an -export-encoder file that cannot be written is a
// usage error found before any work (the encoder is written after the last step, where a bad path
// would cost the whole training), naming the flag and what to do; no run folder is made.
func TestBadExportPathRefusedBeforeTraining(t *testing.T) {
	bin := trainBinary(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "run")
	missing := filepath.Join(tmp, "no-such-folder")
	for _, tc := range []struct {
		name, path string
		wants      []string
	}{
		{"missing folder", filepath.Join(missing, "encoder.safetensors"), []string{"-export-encoder", missing, "mkdir -p " + missing}},
		{"a folder", tmp, []string{"-export-encoder", tmp + " is a folder", "give a file name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, tinyArgs(dir, "-steps", "1", "-export-encoder", tc.path)...).CombinedOutput()
			exitErr, ok := err.(*exec.ExitError)
			if !ok || exitErr.ExitCode() != 2 {
				t.Errorf("want exit status 2, got %v\n%s", err, out)
			}
			for _, want := range tc.wants {
				if !strings.Contains(string(out), want) {
					t.Errorf("the output does not mention %q:\n%s", want, out)
				}
			}
			if strings.Contains(string(out), "training") {
				t.Errorf("it trained before the refusal:\n%s", out)
			}
		})
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("the refusals made the run folder %s", dir)
	}
}

// TestSIGINTWritesACheckpointAndExitsZero interrupts a long run after its first step: it exits
// 0 with a checkpoint and a resume command that works when pasted into a shell, also for a run
// folder whose path has a space.
func TestSIGINTWritesACheckpointAndExitsZero(t *testing.T) {
	if os.Getenv("GOMLX_BACKEND") == "go" {
		t.Skip("needs the XLA backend (training a ResNet); GOMLX_BACKEND=go")
	}
	bin := trainBinary(t)
	dir := filepath.Join(t.TempDir(), "my run")
	cmd := exec.Command(bin, tinyArgs(dir, "-steps", "100000")...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	metrics := filepath.Join(dir, "metrics.jsonl")
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if data, err := os.ReadFile(metrics); err == nil && len(data) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no training step after 5 minutes:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGINT: %v\n%s", err, out.String())
	}
	var hint string
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "To resume: "); ok {
			hint = rest
		}
	}
	// The shell splits the printed command into exactly these words.
	words, err := exec.Command("sh", "-c", "printf '%s\\n' "+hint).Output()
	want := []string{"go", "run", "./train", "-config", filepath.Join(dir, "config.json"), "-resume"}
	if got := strings.Split(strings.TrimSuffix(string(words), "\n"), "\n"); err != nil || !slices.Equal(got, want) {
		t.Errorf("the resume command %q splits in the shell into %q (%v), want %q:\n%s", hint, got, err, want, out.String())
	}
	state, path, err := (&checkpoints.Manager{Dir: dir}).LoadLatest()
	if err != nil {
		t.Fatalf("no loadable checkpoint after SIGINT: %v\n%s", err, out.String())
	}
	if state.Step < 1 {
		t.Errorf("%s holds step %d, want >= 1", path, state.Step)
	}
}

// TestExportedEncoderLoadsInAnotherProgram trains two steps, exports the encoder and runs the
// retrieval example on it.
func TestExportedEncoderLoadsInAnotherProgram(t *testing.T) {
	if os.Getenv("GOMLX_BACKEND") == "go" {
		t.Skip("needs the XLA backend (training a ResNet); GOMLX_BACKEND=go")
	}
	bin := trainBinary(t)
	dir := t.TempDir()
	encoder := filepath.Join(dir, "encoder.safetensors")
	out, err := exec.Command(bin, tinyArgs(filepath.Join(dir, "run"), "-steps", "2", "-export-encoder", encoder)...).CombinedOutput()
	if err != nil {
		t.Fatalf("training: %v\n%s", err, out)
	}
	// The training time is printed with the machine it was measured on.
	if want := "Measured on " + backend.Name(backendtest.Backend(t)) + ": " + cpuinfo.Describe() + "\n"; !strings.Contains(string(out), want) {
		t.Errorf("the output lacks %q:\n%s", want, out)
	}
	example := exec.Command("go", "run", "../examples/retrieval", "-encoder", encoder, "-n", "64", "-queries", "2", "-k", "3")
	out, err = example.CombinedOutput()
	if err != nil {
		t.Fatalf("retrieval example: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "neighbours with the query's label:") || !strings.Contains(string(out), "of 6") {
		t.Errorf("unexpected retrieval output:\n%s", out)
	}
}
