package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/cmdtest"
)

// TestAccuracies reads the train command's final report as it prints it (train/main.go's
// printAccuracy), baselines and low-label lines included.
func TestAccuracies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "result.txt")
	report := `
Trained 468 steps in 3m59s; checkpoint runs/x/ckpt-000000468.safetensors

Accuracy on mnist/test, 10000 images (vicreg):
  linear probe, pretrained encoder   95.66%
  kNN (k=20), pretrained encoder     94.59%
  online linear probe                94.37%
  linear probe,    1% of the labels  90.00%   (kNN  89.00%, 599 images)
  linear probe, raw pixels           91.64%
  linear probe, random encoder       86.74%
`
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	acc, err := accuracies(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"linear": 95.66, "kNN": 94.59, "online": 94.37, "pixels": 91.64, "random": 86.74}
	for k, v := range want {
		if acc[k] != v {
			t.Errorf("%s = %g, want %g (all: %v)", k, acc[k], v, acc)
		}
	}
}

// TestInterruptedRunLeftOut: a run stopped by a signal (train exits 0 and prints no accuracies)
// is not finished: counting it would put a seed at 0% into the mean (here 47.83 ± 67.64 instead
// of 95.66).
func TestInterruptedRunLeftOut(t *testing.T) {
	runs := t.TempDir()
	write := func(dir, text string) {
		if err := os.MkdirAll(filepath.Join(runs, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(runs, dir, "result.txt"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("vicreg-seed0", "\nAccuracy on mnist/test, 10000 images (vicreg):\n  linear probe, pretrained encoder   95.66%\n  kNN (k=20), pretrained encoder     94.59%\n  online linear probe                94.37%\n")
	write("vicreg-seed1", "") // interrupted during training: nothing on standard output
	out := captureStdout(t, func() {
		if err := run(runs); err != nil {
			t.Fatal(err)
		}
	})
	want := "| vicreg | 0 | 95.66 | 94.59 | 94.37 |"
	if !strings.Contains(out, want) {
		t.Fatalf("the accuracy table lacks %q:\n%s", want, out)
	}
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	return cmdtest.Capture(t, &os.Stdout, f)
}

// TestMissingRunsRefused: a runs folder that does not exist (a typo), or holds neither a finished
// run nor an analysis, is an error; it printed the tables' headers with a dash in every cell and
// exited 0, as if the runs had not finished.
func TestMissingRunsRefused(t *testing.T) {
	tmp := t.TempDir()
	for _, dir := range []string{filepath.Join(tmp, "runs", "mnist-objectivs"), tmp} {
		if err := run(dir); err == nil {
			t.Errorf("run(%s): no error, want one naming the folder", dir)
		}
	}
	done := filepath.Join(tmp, "vicreg-seed0")
	if err := os.MkdirAll(done, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(done, "result.txt"), []byte("  linear probe, pretrained encoder   97.00%\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(tmp); err != nil {
		t.Errorf("a folder with a finished run: %v", err)
	}
}
