package trainer

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/models"
)

// tinyConfig is a run small enough for CI: a width-4 ResNet-18 on 16x16 synthetic images.
func tinyConfig(t *testing.T) Config {
	c := Default()
	c.Dataset, c.Augment = "synthetic", "solo-cifar"
	c.Model = models.Config{Arch: "resnet18", Stem: "cifar", Width: 4, InChannels: 3}
	c.Expander = "32-32"
	c.BatchSize, c.Steps, c.WarmupEpochs = 16, 4, 0
	c.CheckpointDir = filepath.Join(t.TempDir(), "ckpt")
	c.CheckpointEvery, c.LogEvery = 2, 1
	c.Workers = 2
	c.Subset, c.EvalSubset = 512, 256
	c.ProbeEpochs, c.Baselines = 2, false
	return c
}

func quiet() Options {
	return Options{Logger: log.New(io.Discard), NoProgressBar: true}
}

func TestParseFlagsDefaultsAndOverrides(t *testing.T) {
	c, err := ParseFlags(flag.NewFlagSet("t", flag.ContinueOnError), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); c.JSON() == nil || string(c.JSON()) != string(want.JSON()) {
		t.Errorf("no flags: got %s, want the mnist preset %s", c.JSON(), want.JSON())
	}
	c, err = ParseFlags(flag.NewFlagSet("t", flag.ContinueOnError), []string{"-preset", "cifar10", "-epochs", "7", "-lr=0.5"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Dataset != "cifar10" || c.Epochs != 7 || c.LR != 0.5 || c.Expander != "2048-2048-2048" || c.Model.Width != 64 {
		t.Errorf("-preset cifar10 -epochs 7 -lr=0.5: got %+v", c)
	}
}

func TestBadFlagsAreUsageErrorsNamingTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-dataset", "imagenet21k"}, "dataset"},
		{[]string{"-model", "vgg"}, "model"},
		{[]string{"-expander", "12-x"}, "expander"},
		{[]string{"-loss", "byol"}, "loss"},
		{[]string{"-batch-size", "1"}, "batch-size"},
		{[]string{"-optimizer", "adagrad"}, "optimizer"},
		{[]string{"-eta", "0"}, "eta"},
		{[]string{"-preset", "nope"}, "preset"},
		{[]string{"-epochs", "0"}, "epochs"},
		{[]string{"-on-nonfinite", "retry"}, "on-nonfinite"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		_, err := ParseFlags(fs, tc.args)
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Flag != tc.flag {
			t.Errorf("%v: want a usage error for -%s, got %v", tc.args, tc.flag, err)
		}
	}
}

func TestWrongChannelCountIsAUsageError(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Model.InChannels = 1 // synthetic images have 3 channels
	_, err := Run(b, c, quiet())
	var ue *UsageError
	if !errors.As(err, &ue) || ue.Flag != "channels" || !strings.Contains(err.Error(), "set -channels 3") {
		t.Errorf("want a -channels usage error, got %v", err)
	}
}

// TestRunWritesEverythingAndNeverRecompiles runs a short job end to end.
func TestRunWritesEverythingAndNeverRecompiles(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.ExportEncoder = filepath.Join(t.TempDir(), "encoder.safetensors")
	opts := quiet()
	calls := 0
	opts.AfterStep = func(int64) { calls++ }
	res, err := Run(b, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 4 || res.StepCompilations != 1 {
		t.Errorf("%d steps ran, the step was compiled %d times: want 4 steps and 1 compilation", calls, res.StepCompilations)
	}
	if res.Steps != 4 || res.Linear < 0 || res.KNN < 0 || res.ProbeAcc < 0 {
		t.Errorf("result %+v: want 4 steps and every accuracy measured", res)
	}
	for _, f := range []string{"metrics.jsonl", "metrics.svg", "ckpt-000000002.safetensors", "ckpt-000000004.safetensors"} {
		if _, err := os.Stat(filepath.Join(c.CheckpointDir, f)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	series, err := readMetrics(filepath.Join(c.CheckpointDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss", "invariance", "variance", "covariance", "lr", "images_per_sec", "probe_acc"} {
		if len(series[k]) == 0 {
			t.Errorf("metrics file has no %q", k)
		}
	}
	if got := len(series["loss"]); got != 4 {
		t.Errorf("%d loss lines, want 4 (one per step with -log-every 1)", got)
	}

	enc, err := checkpoints.LoadEncoder(b, c.ExportEncoder)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	emb, err := enc.Embed(make([]float32, 2*16*16*3), 2, 16, 16)
	if err != nil || len(emb) != 2*enc.Dim() || enc.Dim() != 32 {
		t.Errorf("exported encoder: dim %d, %d values, err %v", enc.Dim(), len(emb), err)
	}

	// A second run into the same folder without -resume must refuse, and touch nothing.
	before, _ := os.ReadFile(filepath.Join(c.CheckpointDir, "ckpt-000000004.safetensors"))
	_, err = Run(b, c, quiet())
	var ue *UsageError
	if !errors.As(err, &ue) || ue.Flag != "resume" {
		t.Errorf("second run without -resume: want a -resume usage error, got %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(c.CheckpointDir, "ckpt-000000004.safetensors"))
	if string(before) != string(after) {
		t.Error("the refused run changed the existing checkpoint")
	}
}

// TestResumeIsExact: 2 steps, interrupt, resume for 2 more equals 4 uninterrupted steps, bit for bit.
func TestResumeIsExact(t *testing.T) {
	b := backendtest.XLA(t)
	straight := tinyConfig(t)
	if _, err := Run(b, straight, quiet()); err != nil {
		t.Fatal(err)
	}

	split := tinyConfig(t)
	var stop atomic.Bool
	opts := quiet()
	opts.Stop = &stop
	opts.AfterStep = func(step int64) {
		if step == 2 {
			stop.Store(true)
		}
	}
	res, err := Run(b, split, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Steps != 2 {
		t.Fatalf("interrupted run: %+v, want interrupted after 2 steps", res)
	}
	split.Resume = true
	if res, err = Run(b, split, quiet()); err != nil {
		t.Fatal(err)
	} else if res.Steps != 4 {
		t.Fatalf("resumed run ended at step %d, want 4", res.Steps)
	}

	a, err := checkpoints.Load(filepath.Join(straight.CheckpointDir, "ckpt-000000004.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	bb, err := checkpoints.Load(filepath.Join(split.CheckpointDir, "ckpt-000000004.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Variables) != len(bb.Variables) {
		t.Fatalf("%d variables uninterrupted, %d resumed", len(a.Variables), len(bb.Variables))
	}
	for i, v := range a.Variables {
		w := bb.Variables[i]
		if v.Scope != w.Scope || v.Name != w.Name {
			t.Fatalf("variable %d: %s/%s vs %s/%s", i, v.Scope, v.Name, w.Scope, w.Name)
		}
		if !v.Value.Equal(w.Value) {
			t.Errorf("%s/%s differs between the uninterrupted and the resumed run", v.Scope, v.Name)
		}
	}

	// Resuming with another configuration is refused with the differences listed.
	split.LR = 0.123
	_, err = Run(b, split, quiet())
	if err == nil || !strings.Contains(err.Error(), "lr: saved 0.3, now 0.123") {
		t.Errorf("resume with another -lr: got %v", err)
	}
}

// TestEvalEveryMeasuresKNNDuringTraining: with -eval-every 1, each epoch end but the last (which
// the final evaluation covers) adds a kNN accuracy to the metrics.
func TestEvalEveryMeasuresKNNDuringTraining(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Subset, c.Steps, c.EvalEvery, c.CheckpointEvery = 64, 8, 1, 0 // 4 batches per epoch
	c.Baselines = true
	res, err := Run(b, c, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for name, acc := range map[string]float64{"pixels": res.PixelLinear, "random encoder": res.RandomLinear} {
		if acc < 0 || acc > 1 {
			t.Errorf("baseline %s: accuracy %v, want it measured", name, acc)
		}
	}
	series, err := readMetrics(filepath.Join(c.CheckpointDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	knn := series["knn_acc"]
	if len(knn) != 1 || knn[0][0] != 4 || knn[0][1] < 0 || knn[0][1] > 1 {
		t.Errorf("knn_acc series %v, want one accuracy at step 4", knn)
	}
	if got := len(series["probe_acc"]); got != 2 {
		t.Errorf("%d online probe evaluations, want 2 (one per epoch)", got)
	}
}
