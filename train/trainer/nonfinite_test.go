package trainer

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// assertFiniteCheckpoints loads every checkpoint in dir and fails if one holds a non-finite value.
func assertFiniteCheckpoints(t *testing.T, dir string) []string {
	t.Helper()
	mgr, err := checkpoints.NewManager(dir, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	paths, err := mgr.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		st, err := checkpoints.Load(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if key, i, ok := checkpoints.FirstNonFinite(st.Variables); !ok {
			t.Errorf("%s holds a non-finite value in %s[%d]", p, key, i)
		}
	}
	return paths
}

func TestDivergenceStopsWithoutSavingNonFiniteWeights(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Steps, c.CheckpointEvery = 6, 1
	c.LR = 1e30 // diverges within the first steps
	_, err := Run(b, c, quiet())
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("want ErrNonFinite, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "at step ") || !(strings.Contains(msg, " = ") || strings.Contains(msg, "variable /")) {
		t.Errorf("the message should name the step and the loss term or variable: %q", msg)
	}
	assertFiniteCheckpoints(t, c.CheckpointDir)
}

func TestInjectedNaNNamesStepAndTerm(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Steps, c.CheckpointEvery = 6, 2
	opts := quiet()
	opts.injectFault = func(step int64, out map[string]float64) {
		if step == 5 {
			out["variance"] = math.NaN()
		}
	}
	_, err := Run(b, c, opts)
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("want ErrNonFinite, got %v", err)
	}
	for _, want := range []string{"at step 5", "variance = NaN", "ckpt-000000004" + checkpoints.Ext + ", holds finite weights", "-on-nonfinite rollback"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if paths := assertFiniteCheckpoints(t, c.CheckpointDir); len(paths) != 2 {
		t.Errorf("want the checkpoints of steps 2 and 4 only, got %v", paths)
	}
}

func TestRollbackRecoversFromATransientFault(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	// A metrics line every 4 steps: the window of the line at step 4 holds steps 1 to 3 when
	// step 4 fails, and the rollback to the checkpoint at step 2 drops step 3's outputs from it.
	c.Steps, c.CheckpointEvery, c.LogEvery, c.OnNonFinite = 8, 2, 4, config.OnNonFiniteRollback
	opts := quiet()
	faults := 0
	opts.injectFault = func(step int64, out map[string]float64) {
		if step == 4 && faults == 0 { // once: a glitch, not a divergence
			faults++
			out["loss"] = math.Inf(1)
		}
	}
	res, err := Run(b, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 8 {
		t.Errorf("steps: got %d, want 8", res.Steps)
	}
	series, err := results.ReadMetrics(filepath.Join(c.CheckpointDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rb := series["rollback_from_step"]
	if len(rb) != 1 || rb[0].Step != 2 || rb[0].Value != 4 || !math.IsNaN(rb[0].Epoch) {
		t.Errorf("want one rollback from step 4 to step 2 in the metrics, got %v", rb)
	}
	assertFiniteCheckpoints(t, c.CheckpointDir)

	// The learning rate depends on the step alone: each line's mean equals a run's without the
	// fault when the window holds each step once (steps 1 to 4, not 1, 2, 3, 3, 4).
	ref := tinyConfig(t)
	ref.Steps, ref.CheckpointEvery, ref.LogEvery, ref.OnNonFinite = c.Steps, c.CheckpointEvery, c.LogEvery, c.OnNonFinite
	if _, err := Run(b, ref, quiet()); err != nil {
		t.Fatal(err)
	}
	want, err := results.ReadMetrics(filepath.Join(ref.CheckpointDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(series["lr"]), fmt.Sprint(want["lr"]); got != want {
		t.Errorf("mean learning rate of each metrics line after the rollback:\n got %s\nwant %s (the run without the fault)", got, want)
	}
}

func TestRollbackGivesUpOnAPersistentFault(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Steps, c.CheckpointEvery, c.OnNonFinite = 8, 2, config.OnNonFiniteRollback
	opts := quiet()
	opts.injectFault = func(step int64, out map[string]float64) {
		if step >= 3 {
			out["loss"] = math.NaN()
		}
	}
	_, err := Run(b, c, opts)
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("want ErrNonFinite, got %v", err)
	}
	if want := "already rolled back 3 times"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
	assertFiniteCheckpoints(t, c.CheckpointDir)
}
