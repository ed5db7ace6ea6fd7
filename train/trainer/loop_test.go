package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/results"
)

// loopHarness drives a Loop with a fake training step (no compiled program): the step adds 1
// to the variable /w and outputs loss = the step number, and the evaluation hook reports
// probe_acc = step/100. The loader is real (32 synthetic images, batch 16: 2 batches per epoch).
type loopHarness struct {
	t       *testing.T
	dir     string
	data    *data
	nan     func(step int64) bool // the step whose loss is NaN
	evalErr func(step int64) error
	stop    atomic.Bool
	stopAt  func(step int64) bool // set Stop after the fake step's outputs at this step
}

func newLoopHarness(t *testing.T) *loopHarness {
	c := tinyConfig(t)
	c.Subset = 32
	d, err := loadData(c, log.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	return &loopHarness{t: t, dir: c.CheckpointDir, data: d}
}

// loop returns a Loop over a fresh context and the Resumed to run it from (resume: from the
// folder's newest checkpoint).
func (h *loopHarness) loop(total, checkpointEvery, logEvery int64, resume bool) (*Loop, Resumed, func()) {
	t := h.t
	logger := log.New(io.Discard)
	mgr, unlock, err := OpenCheckpoints(h.dir, 100, results.KeyProbeAcc, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	ctx.VariableWithValue("w", []float32{0})
	var from Resumed
	if resume {
		if from, err = Resume(mgr, ctx, logger, func(json.RawMessage) []string { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	metrics, err := results.OpenMetrics(filepath.Join(h.dir, results.MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	loader, err := datasets.NewLoader(h.data.train, datasets.LoaderConfig{BatchSize: 16, Seed: 1, Workers: 1, Augmentation: h.data.aug}, from.Position)
	if err != nil {
		t.Fatal(err)
	}
	step := from.Step
	opts := quiet()
	opts.Stop = &h.stop
	l := &Loop{
		Ctx: ctx, Manager: mgr, Config: json.RawMessage(`{}`), Metrics: metrics, Loader: loader,
		Total: total, BatchesPerEpoch: 2, CheckpointEvery: checkpointEvery, LogEvery: logEvery, Rollback: true,
		Step: func(*datasets.Batch) (map[string]float64, error) {
			step++
			loss := float64(step)
			if h.nan != nil && h.nan(step) {
				loss = math.NaN()
			}
			if h.stopAt != nil && h.stopAt(step) {
				h.stop.Store(true)
			}
			return map[string]float64{results.KeyLoss: loss}, nil
		},
		Names: func() []string { return []string{results.KeyLoss} },
		EndOfEpoch: func(s int64, _ float64, _ bool) (map[string]float64, error) {
			if h.evalErr != nil {
				if err := h.evalErr(s); err != nil {
					return nil, err
				}
			}
			return map[string]float64{results.KeyProbeAcc: float64(s) / 100}, nil
		},
		SaveMetric: results.KeyProbeAcc,
		Logger:     logger, Opts: opts,
	}
	return l, from, func() { loader.Close(); metrics.Close(); unlock() }
}

// TestFailedEvaluationIsRedoneOnResume: an epoch-end evaluation that fails (an unreadable
// evaluation image) saves the training done and says "fix the cause and continue with -resume".
// The resumed run then measures what the uninterrupted run measured: the online probe at the end
// of the last epoch (step 4: 0.04 by the hook) is the run's last value (result.json's
// "online_probe") and the metric of the checkpoint written again at step 4, and metrics.jsonl
// has probe_acc at steps 2 and 4.
func TestFailedEvaluationIsRedoneOnResume(t *testing.T) {
	h := newLoopHarness(t)
	failed := false
	h.evalErr = func(step int64) error {
		if step == 4 && !failed {
			failed = true
			return errors.New("unreadable evaluation image")
		}
		return nil
	}
	l, from, done := h.loop(4, 0, 1, false)
	_, err := l.Run(from)
	done()
	if err == nil {
		t.Fatal("the failing evaluation was not reported")
	}
	l, from, done = h.loop(4, 0, 1, true)
	res, err := l.Run(from)
	done()
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Last[results.KeyProbeAcc]; got != 0.04 {
		t.Errorf("online probe accuracy of the resumed run: got %v (Last %v), want 0.04, measured at the last step as without the failure", got, res.Last)
	}
	m, err := results.ReadMetrics(filepath.Join(h.dir, results.MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(stepsOf(m[results.KeyProbeAcc])); got != "[2 4]" {
		t.Errorf("probe_acc in metrics.jsonl at steps %s, want [2 4] (one evaluation per epoch)", got)
	}
	st, err := checkpoints.Load(filepath.Join(h.dir, "ckpt-000000004"+checkpoints.Ext))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Free()
	if got := st.Metrics[results.KeyProbeAcc]; got != 0.04 {
		t.Errorf("ckpt-4 after the resumed evaluation holds probe_acc %v, want 0.04", got)
	}
}

func stepsOf(pts []results.MetricPoint) []float64 {
	var s []float64
	for _, p := range pts {
		s = append(s, p.Step)
	}
	return s
}

// TestRollbackRestoresSavedMetric: a rollback restores the newest checkpoint, but the
// metric the loop puts into later checkpoints (the last evaluation's probe_acc) stays the one
// measured after that checkpoint, on the weights rolled back. Checkpoints every 3 steps, an
// evaluation every 2: ckpt-3 holds probe_acc 0.02 (the evaluation at step 2); the evaluation at
// step 4 gives 0.04; step 5 is NaN and rolls back to ckpt-3; a SIGINT arriving during step 5
// then checkpoints step 3 again. That checkpoint must say what the state of step 3 was
// measured at, 0.02, not 0.04 (which Best and a resumed run's online probe would take).
func TestRollbackRestoresSavedMetric(t *testing.T) {
	h := newLoopHarness(t)
	h.nan = func(step int64) bool { return step == 5 }
	h.stopAt = func(step int64) bool { return step == 5 }
	l, from, done := h.loop(8, 3, 1, false)
	res, err := l.Run(from)
	done()
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Steps != 3 {
		t.Fatalf("want a run interrupted after rolling back to step 3, got %+v", res)
	}
	st, err := checkpoints.Load(filepath.Join(h.dir, "ckpt-000000003"+checkpoints.Ext))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Free()
	if got := st.Metrics[results.KeyProbeAcc]; got != 0.02 {
		t.Errorf("ckpt-3 after the rollback holds probe_acc %v, want 0.02 (the evaluation of the state it holds, as saved before the rollback)", got)
	}
}

// TestWindowCountsEachStepsImages: the step throughput is the images the steps trained over their
// compute time, a smaller last batch counted as what it is (16 + 16 + 4 images in 0.5 s).
func TestWindowCountsEachStepsImages(t *testing.T) {
	w := newWindow(nil)
	for _, n := range []float64{16, 16, 4} {
		w.add(map[string]float64{"loss": n, busyKey: 0.5 / 3, imagesKey: n})
	}
	line := w.flush()
	if got := line[results.KeyStepImagesPerSec]; math.Abs(got-72) > 1e-9 {
		t.Errorf("step images/s %v, want 72 (36 images in 0.5 s)", got)
	}
	if got := line["loss"]; got != 12 {
		t.Errorf("mean loss %v, want 12", got)
	}
	if _, ok := line[imagesKey]; ok {
		t.Error("the image count leaked into the metrics line")
	}
}
