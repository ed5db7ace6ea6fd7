package trainer

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
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
	c.Steps, c.CheckpointEvery, c.OnNonFinite = 8, 2, config.OnNonFiniteRollback
	opts := quiet()
	faults := 0
	opts.injectFault = func(step int64, out map[string]float64) {
		if step == 5 && faults == 0 { // once: a glitch, not a divergence
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
	series, err := ReadMetrics(filepath.Join(c.CheckpointDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rb := series["rollback_from_step"]
	if len(rb) != 1 || rb[0].Step != 4 || rb[0].Value != 5 || !math.IsNaN(rb[0].Epoch) {
		t.Errorf("want one rollback from step 5 to step 4 in the metrics, got %v", rb)
	}
	assertFiniteCheckpoints(t, c.CheckpointDir)
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
