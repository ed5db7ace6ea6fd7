package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// tinyConfig is a run small enough for CI: a width-4 ResNet-18 on 16x16 synthetic images.
func tinyConfig(t *testing.T) config.Config {
	c := config.Default()
	c.Dataset, c.Augment = "synthetic", "solo-cifar"
	c.Model = models.Config{Arch: "resnet18", Stem: "cifar", Width: 4, InChannels: 3}
	c.Expander = "32-32"
	c.BatchSize, c.Steps, c.WarmupEpochs = 16, 4, 0
	c.CheckpointDir = filepath.Join(t.TempDir(), "ckpt")
	c.CheckpointEvery, c.LogEvery = 2, 1
	c.Workers = 2
	c.Subset, c.EvalSubset = 512, 256
	c.ProbeEpochs, c.Baselines = 2, false
	c.MapPoints = 0 // a t-SNE map costs a second; TestRunWritesEverythingAndNeverRecompiles draws one
	return c
}

func quiet() Options {
	return Options{Logger: log.New(io.Discard), NoProgressBar: true}
}

func TestWrongChannelCountIsAUsageError(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Model.InChannels = 1 // synthetic images have 3 channels
	_, err := Run(b, c, quiet())
	var ue *config.FieldError
	if !errors.As(err, &ue) || ue.Flag != "channels" || !strings.Contains(err.Error(), "set -channels 3") {
		t.Errorf("want a -channels usage error, got %v", err)
	}
}

// TestEvalSubsetLargerThanTheSplitRefused: -eval-subset N beyond the evaluation images (the test
// split, or the -validation images held out) was silently cut to them, so a run meant to be
// evaluated on N images reported an accuracy on fewer; it is a usage error naming the split.
func TestEvalSubsetLargerThanTheSplitRefused(t *testing.T) {
	for _, validation := range []int{0, 100} {
		c := tinyConfig(t)
		c.Validation = validation
		c.EvalSubset = 4097 // the synthetic test split holds 4096
		split, n := "test", 4096
		if validation > 0 {
			c.EvalSubset, split, n = 101, "validation", 100
		}
		_, err := loadData(c, log.New(io.Discard))
		var ue *config.FieldError
		want := fmt.Sprintf("%d is more than the %d images of the %s split", c.EvalSubset, n, split)
		if !errors.As(err, &ue) || ue.Flag != "eval-subset" || !strings.Contains(err.Error(), want) {
			t.Errorf("-validation %d -eval-subset %d: %v; want a -eval-subset usage error saying %q", validation, c.EvalSubset, err, want)
		}
		c.EvalSubset = n
		if _, err := loadData(c, log.New(io.Discard)); err != nil {
			t.Errorf("-validation %d -eval-subset %d (all of them): %v", validation, n, err)
		}
	}
}

// TestRefusesAnEarlierRunsResult: a run that would start from step 0 (with or without -resume) in
// a folder that holds an earlier run's result.json but no checkpoint is a -checkpoint-dir usage
// error that leaves the earlier run's files as they were.
func TestRefusesAnEarlierRunsResult(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	if err := os.MkdirAll(c.CheckpointDir, 0o755); err != nil {
		t.Fatal(err)
	}
	earlier := map[string]string{results.File: `{"kind": "pretrain", "linear_probe": 0.98}` + "\n", config.FileName: "{}\n", "metrics.jsonl": `{"step": 1}` + "\n"}
	for name, data := range earlier {
		if err := os.WriteFile(filepath.Join(c.CheckpointDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, resume := range []bool{false, true} {
		c.Resume = resume
		_, err := Run(b, c, quiet())
		var ue *config.FieldError
		if !errors.As(err, &ue) || ue.Flag != "checkpoint-dir" || !strings.Contains(err.Error(), results.File) {
			t.Errorf("resume %v: want a -checkpoint-dir usage error naming %s, got %v", resume, results.File, err)
		}
	}
	for name, want := range earlier {
		if data, _ := os.ReadFile(filepath.Join(c.CheckpointDir, name)); string(data) != want {
			t.Errorf("%s was changed to %q", name, data)
		}
	}
}

// TestOneClassIsNotEvaluated: training images in a single class folder (a "dummy" class for
// pretraining) train, but the run is not evaluated and says why: every accuracy would be 100%.
func TestOneClassIsNotEvaluated(t *testing.T) {
	b := backendtest.XLA(t)
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"all"}, 16)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"all"}, 4)
	c := tinyConfig(t)
	c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16
	c.Subset, c.EvalSubset, c.Steps = 0, 0, 1
	var logged strings.Builder
	res, err := Run(b, c, Options{Logger: log.New(&logged), NoProgressBar: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Linear != nil || res.KNN != nil || res.ProbeAcc != nil {
		t.Errorf("one class: linear %s, kNN %s, online probe %s; want none measured", acc(res.Linear), acc(res.KNN), acc(res.ProbeAcc))
	}
	if !strings.Contains(logged.String(), "one class folder") {
		t.Errorf("the log does not say why the run is not evaluated:\n%s", logged.String())
	}
}

// TestValPercentEvaluatesHeldOutImages: a labelled folder without split folders is not evaluated
// (its test split would be the training images) unless -val-percent holds out some of its images:
// then training reads the others, and the evaluation those held out (20% of each class of 10: 2).
func TestValPercentEvaluatesHeldOutImages(t *testing.T) {
	b := backendtest.XLA(t)
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, root, []string{"a", "b"}, 10)
	c := tinyConfig(t)
	c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16
	c.Subset, c.EvalSubset, c.Steps, c.ProbeEpochs, c.BatchSize = 0, 0, 1, 1, 8
	var logged strings.Builder
	res, err := Run(b, c, Options{Logger: log.New(&logged), NoProgressBar: true})
	if err != nil || res.Linear != nil || !strings.Contains(logged.String(), "no held-out images") {
		t.Fatalf("without -val-percent: %v, linear probe %s; want no evaluation, saying why:\n%s", err, acc(res.Linear), logged.String())
	}
	// Balanced class weights, of balanced classes: every weight is 1, the figures below hold.
	c.ValPercent, c.CheckpointDir, c.ProbeClassWeight = 20, t.TempDir(), "balanced"
	logged.Reset()
	if res, err = Run(b, c, Options{Logger: log.New(&logged), NoProgressBar: true}); err != nil {
		t.Fatal(err)
	}
	if res.Linear == nil || res.KNN == nil || !strings.Contains(logged.String(), "images=16 ") || !strings.Contains(logged.String(), "eval_images=4 ") {
		t.Errorf("-val-percent 20: linear probe %s, kNN %s; want both measured, training on 16 images and evaluating on 4:\n%s", acc(res.Linear), acc(res.KNN), logged.String())
	}
	if res.ClassWeight != "balanced" || !finalProbe(c).Balanced || finalProbe(tinyConfig(t)).Balanced {
		t.Errorf("class weights %q recorded, probe balanced: %v (without: %v); want balanced, true (false)", res.ClassWeight, finalProbe(c).Balanced, finalProbe(tinyConfig(t)).Balanced)
	}
	// 8 training images of each class: the tie goes to the first class, a, 2 of the 4 held out.
	if res.Majority == nil || *res.Majority != 0.5 || res.MajorityClass != "a" {
		t.Errorf("majority baseline %s of class %q; want 50%% (always a)", acc(res.Majority), res.MajorityClass)
	}
	// 2 held-out images of each class: the balanced accuracy is the accuracy.
	if res.LinearBalanced == nil || res.KNNBalanced == nil || *res.LinearBalanced != *res.Linear || *res.KNNBalanced != *res.KNN {
		t.Errorf("balanced accuracies: linear probe %s, kNN %s; want them measured, equal to the accuracies %s and %s (the classes are balanced)",
			acc(res.LinearBalanced), acc(res.KNNBalanced), acc(res.Linear), acc(res.KNN))
	}
}

// TestResumeOnOtherDataLeavesTheRunAsItWas: -resume with a -data-dir of another size is refused
// (a usage error naming the data the run was trained on), and config.json, which records that
// data, is left as it was: -config config.json -resume must still work afterwards.
func TestResumeOnOtherDataLeavesTheRunAsItWas(t *testing.T) {
	b := backendtest.XLA(t)
	first, other := t.TempDir(), t.TempDir()
	datasetstest.WriteImageFolder(t, first, []string{"a", "b"}, 8)
	datasetstest.WriteImageFolder(t, other, []string{"a", "b"}, 9)
	c := tinyConfig(t)
	c.Dataset, c.DataDir, c.ImageSize = "folder", first, 16
	c.Subset, c.EvalSubset, c.Steps, c.ProbeEpochs = 0, 0, 1, 1
	if _, err := Run(b, c, quiet()); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(c.CheckpointDir, config.FileName)
	before, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir, c.Resume = other, true
	_, err = Run(b, c, quiet())
	var fe *config.FieldError
	want := "the run was trained on folder in " + first + " (its " + cfgPath + ")"
	if !errors.As(err, &fe) || fe.Flag != "data-dir" || !strings.Contains(err.Error(), "16 images in 2 classes, but this one has 18 in 2") || !strings.Contains(err.Error(), want) {
		t.Errorf("resume on other data: %v; want a -data-dir error containing %q", err, want)
	}
	if after, _ := os.ReadFile(cfgPath); string(after) != string(before) {
		t.Errorf("config.json changed by the refused resume:\n%s\nwas\n%s", after, before)
	}
}

// TestRunWritesEverythingAndNeverRecompiles runs a short job end to end.
func TestRunWritesEverythingAndNeverRecompiles(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.ExportEncoder = filepath.Join(t.TempDir(), "encoder.safetensors")
	c.LowLabel = []float64{10}
	c.MapPoints = 100
	opts := quiet()
	calls := 0
	opts.AfterStep = func(int64) { calls++ }
	c.Seed = 5
	started := time.Now().Truncate(time.Second)
	res, err := Run(b, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	// result.json says what its figures are of: the data, the seed, the backend and the machine.
	stored, err := results.ReadAs[results.Pretrain](filepath.Join(c.CheckpointDir, results.File))
	if err != nil {
		t.Fatal(err)
	}
	date, err := time.Parse(time.RFC3339, stored.Date)
	if p := stored.Provenance; err != nil || p.Dataset != "synthetic" || p.DataDir != "" || p.Seed != 5 || p.Backend != backend.Name(b) ||
		p.Machine == nil || p.Machine.CPU != cpuinfo.Describe() || p.Machine.Devices != nil || date.Before(started) || date.After(time.Now()) {
		t.Errorf("result.json's provenance %+v (machine %+v; date: %v), want synthetic, seed 5, %s, this CPU, started after %v",
			p, p.Machine, err, backend.Name(b), started)
	}
	if calls != 4 || res.StepCompilations != 1 {
		t.Errorf("%d steps ran, the step was compiled %d times: want 4 steps and 1 compilation", calls, res.StepCompilations)
	}
	if res.Steps != 4 || !fraction(res.Linear) || !fraction(res.KNN) || !fraction(res.ProbeAcc) {
		t.Errorf("result %+v: want 4 steps and every accuracy measured", res)
	}
	// 10% of the labels of 512 training images: a class-balanced subset of about 51.
	if len(res.LowLabel) != 1 || res.LowLabel[0].Percent != 10 || res.LowLabel[0].Images < 45 || res.LowLabel[0].Images > 57 ||
		res.LowLabel[0].Linear < 0 || res.LowLabel[0].KNN < 0 || !fraction(res.LowLabel[0].LinearBalanced) || !fraction(res.LowLabel[0].KNNBalanced) {
		t.Errorf("low-label results %+v, want one at 10%% of the 512 training labels", res.LowLabel)
	}
	for _, f := range []string{"metrics.jsonl", "metrics.svg", "metrics.png", "confusion.svg", "confusion.png", "map.svg", "map.png", "map.csv", results.File, "ckpt-000000002" + checkpoints.Ext, "ckpt-000000004" + checkpoints.Ext, config.FileName} {
		if _, err := os.Stat(filepath.Join(c.CheckpointDir, f)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	// The probe's confusion matrix: of every evaluation image once, its diagonal the images the
	// probe's accuracy counts right.
	if cm := stored.Confusion; cm == nil || cm.Figure != "confusion.svg" || len(cm.Classes) != len(cm.Counts) {
		t.Errorf("result.json's confusion %+v, want the probe's, drawn in confusion.svg", cm)
	} else {
		right, total := 0, 0
		for i, row := range cm.Counts {
			right += row[i]
			for _, n := range row {
				total += n
			}
		}
		if total != stored.EvalImages || float64(right)/float64(total) != *stored.Linear {
			t.Errorf("confusion matrix of %d images, %d right; want the %d evaluation images, right as often as the probe's %v", total, right, stored.EvalImages, *stored.Linear)
		}
	}
	// Top-5 accuracies with more than 5 classes, at least the top-1 accuracies; none with fewer.
	if classes := len(stored.Confusion.Classes); classes > 5 {
		if !fraction(stored.LinearTop5) || !fraction(stored.KNNTop5) || *stored.LinearTop5 < *stored.Linear || *stored.KNNTop5 < *stored.KNN {
			t.Errorf("%d classes: top-5 %s (probe) and %s (kNN), want at least the top-1 %s and %s", classes, acc(stored.LinearTop5), acc(stored.KNNTop5), acc(stored.Linear), acc(stored.KNN))
		}
	} else if stored.LinearTop5 != nil || stored.KNNTop5 != nil {
		t.Errorf("%d classes: top-5 accuracies recorded", classes)
	}
	// The t-SNE map of 100 of the 256 evaluation images, each once, by its index and label.
	if m := stored.Map; m == nil || m.Figure != "map.svg" || m.Coordinates != "map.csv" || m.Method != "t-SNE" || m.Split != "test" ||
		m.Images != 100 || m.Of != stored.EvalImages || m.Perplexity != 30 || m.KL == nil || !(*m.KL > 0) || m.Trustworthiness == nil || m.TrustNeighbours != 5 {
		t.Errorf("result.json's map %+v, want a t-SNE map of 100 of the %d test images in map.svg", m, stored.EvalImages)
	}
	if raw, err := os.ReadFile(filepath.Join(c.CheckpointDir, "map.csv")); err != nil {
		t.Error(err)
	} else if lines := strings.Split(strings.TrimSpace(string(raw)), "\n"); len(lines) != 101 || lines[0] != "index,label,x,y" {
		t.Errorf("map.csv: %d lines, the first %q; want index,label,x,y and 100 images", len(lines), lines[0])
	} else {
		seen := map[string]bool{}
		for _, l := range lines[1:] {
			f := strings.Split(l, ",")
			if i, err := strconv.Atoi(f[0]); err != nil || i < 0 || i >= stored.EvalImages || seen[f[0]] || f[1] == "" {
				t.Errorf("map.csv line %q: want an evaluation image's index, once, and its label", l)
			}
			seen[f[0]] = true
		}
	}
	series, err := results.ReadMetrics(filepath.Join(c.CheckpointDir, "metrics.jsonl"))
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
	// Every key is a results.Key constant or a term of the objective, and those a pretraining run
	// always writes are there.
	for k := range series {
		if !slices.Contains(results.Keys, k) && !slices.Contains([]string{"invariance", "variance", "covariance"}, k) {
			t.Errorf("metrics key %q is neither a results.Key constant nor a term of VICReg", k)
		}
	}
	for _, k := range []string{results.KeyLoss, results.KeyLR, results.KeyZStd, results.KeyProbeLoss, results.KeyProbeBatchAcc, results.KeyImagesPerSec,
		results.KeyStepImagesPerSec, results.KeyProbeAcc, results.KeyKNNAcc, results.KeyLinearAcc} {
		if len(series[k]) == 0 {
			t.Errorf("metrics file has no %q", k)
		}
	}
	// Every line, training or evaluation, counts epochs the same way: steps / steps per epoch
	// (512 images in batches of 16: 32 steps per epoch).
	raw, _ := os.ReadFile(filepath.Join(c.CheckpointDir, "metrics.jsonl"))
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]float64
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["epoch"] != m["step"]/32 {
			t.Errorf("metrics line at step %g has epoch %g, want %g:\n%s", m["step"], m["epoch"], m["step"]/32, line)
		}
	}

	// The exported encoder (torchvision's names and layout) computes exactly what the last
	// checkpoint's encoder computes.
	exported, err := encoder.Load(b, c.ExportEncoder)
	if err != nil {
		t.Fatal(err)
	}
	defer exported.Close()
	fromCkpt, err := encoder.Load(b, c.CheckpointDir)
	if err != nil {
		t.Fatal(err)
	}
	defer fromCkpt.Close()
	images := make([]float32, 2*16*16*3)
	for i := range images {
		images[i] = float32(i%17)/8 - 1
	}
	got, err := exported.Embed(images, 2, 16, 16)
	if err != nil || len(got) != 2*exported.Dim() || exported.Dim() != 32 {
		t.Fatalf("exported encoder: dim %d, %d values, err %v", exported.Dim(), len(got), err)
	}
	want, err := fromCkpt.Embed(images, 2, 16, 16)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the exported encoder's embeddings differ from the checkpoint's:\n%v\n%v", got[:4], want[:4])
	}
	if exported.Config.Model != c.Model || exported.Config.Seed != c.Seed {
		t.Errorf("exported configuration %+v, want the run's %+v", exported.Config.Model, c.Model)
	}

	// A second run into the same folder without -resume must refuse, and touch nothing.
	before, _ := os.ReadFile(filepath.Join(c.CheckpointDir, "ckpt-000000004"+checkpoints.Ext))
	_, err = Run(b, c, quiet())
	var ue *config.FieldError
	if !errors.As(err, &ue) || ue.Flag != "checkpoint-dir" || !strings.Contains(err.Error(), "pass -resume") {
		t.Errorf("second run without -resume: want a -checkpoint-dir usage error that suggests -resume, got %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(c.CheckpointDir, "ckpt-000000004"+checkpoints.Ext))
	if string(before) != string(after) {
		t.Error("the refused run changed the existing checkpoint")
	}
}

// TestResumeIsExact: 2 steps, interrupt, resume for 2 more equals 4 uninterrupted steps, bit for
// bit, with the same result and metrics; so does a run stopped in its final evaluation once
// resumed.
func TestResumeIsExact(t *testing.T) {
	b := backendtest.XLA(t)
	// A metrics line every 3 steps: the window of the line at step 3 spans the checkpoint at step 2.
	const logEvery = 3
	straight := tinyConfig(t)
	straight.LogEvery = logEvery
	want, err := Run(b, straight, quiet())
	if err != nil {
		t.Fatal(err)
	}
	wantMetrics, err := results.ReadMetrics(filepath.Join(straight.CheckpointDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(wantMetrics["loss"]) != 2 {
		t.Fatalf("the uninterrupted run's loss at %v, want it at steps 3 and 4", wantMetrics["loss"])
	}
	// sameMetrics: the run in dir wrote the uninterrupted run's metrics, read back (time-based
	// ones aside), the first line after its resume included.
	sameMetrics := func(what, dir string) {
		t.Helper()
		got, err := results.ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range wantMetrics {
			if k == "images_per_sec" || k == "step_images_per_sec" {
				continue
			}
			if g := got[k]; fmt.Sprint(g) != fmt.Sprint(want) {
				t.Errorf("metric %s of %s, read back:\n got %v\nwant %v (the uninterrupted run's)", k, what, g, want)
			}
		}
		if _, ok := got[results.ResumedKey]; ok {
			t.Errorf("%s: the resume marker is read as a metric", what)
		}
	}

	// The interrupted run is mirrored to a bucket (the tests' fake S3), and resumed on "another
	// machine": a new, empty -checkpoint-dir, the first one deleted. (Not in a binary built
	// without the S3 client, as the GPU check's are: there it resumes in its own folder.)
	var bucket *remotetest.S3
	split := tinyConfig(t)
	split.LogEvery = logEvery
	if remote.BucketsSupported {
		bucket = fakeBucket(t)
		split.CheckpointMirror = "s3://runs/split"
	}
	res, err := Run(b, split, stopAfter(2))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Steps != 2 {
		t.Fatalf("interrupted run: %+v, want interrupted after 2 steps", res)
	}
	for _, f := range MetricsFigures(filepath.Join(split.CheckpointDir, "metrics.jsonl")) {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the interrupted run drew no %s (the curves so far): %v", filepath.Base(f), err)
		}
	}
	if bucket != nil {
		bucket.HoldsFolder(t, split.CheckpointDir, "runs/split/", checkpoints.Mirrored)
		if err := os.RemoveAll(split.CheckpointDir); err != nil {
			t.Fatal(err)
		}
		split.CheckpointDir = filepath.Join(t.TempDir(), "elsewhere")
	}
	split.Resume = true
	if res, err = Run(b, split, quiet()); err != nil {
		t.Fatal(err)
	} else if res.Steps != 4 || res.Trained != 2 {
		t.Fatalf("resumed run ended at step %d after %d steps, want 4 after 2", res.Steps, res.Trained)
	}
	// The same result as the uninterrupted run's, online probe included.
	sameResult := func(what string, got *results.Pretrain, trained int64, dir string) {
		t.Helper()
		w := *want
		w.Trained, w.TrainTime = trained, got.TrainTime
		w.Checkpoint = filepath.Join(dir, filepath.Base(want.Checkpoint))
		if trained == 0 {
			w.StepCompilations = 0 // this process compiled no step (result.json keeps the run's count)
		}
		w.Provenance = got.Provenance // this process's (TestRunWritesEverythingAndNeverRecompiles checks it)
		gj, _ := json.Marshal(got)    // the accuracies' values, not their pointers
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s:\n got %s\nwant %s", what, gj, wj)
		}
	}
	sameResult("the resumed run's result", res, 2, split.CheckpointDir)
	sameMetrics("the interrupted and resumed run", split.CheckpointDir)
	if bucket != nil {
		bucket.HoldsFolder(t, split.CheckpointDir, "runs/split/", checkpoints.Mirrored)
	}
	// config.json records the run, not the -resume of the command that continued it: -config
	// config.json repeats the run rather than resuming one.
	if stored, err := config.Load(filepath.Join(split.CheckpointDir, config.FileName)); err != nil || stored.Resume || stored.Seed != split.Seed {
		t.Errorf("config.json after -resume: resume %v, seed %d (want false, %d): %v", stored.Resume, stored.Seed, split.Seed, err)
	}

	// Resuming a finished run trains nothing, writes no checkpoint, and evaluates its last
	// checkpoint again: result.json is the same, byte for byte (not an empty one, and how it was
	// trained is kept). Where and when it was trained are kept too: planted here as another
	// machine's, then as absent (a result written before they were recorded).
	// The folder's files but the TensorBoard event files, and how many of those there are: each
	// process writes its own.
	folder := func() (files []string, events int) {
		entries, _ := os.ReadDir(split.CheckpointDir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), results.EventsPrefix) {
				events++
			} else {
				files = append(files, e.Name())
			}
		}
		return files, events
	}
	before, eventsBefore := folder()
	resultPath := filepath.Join(split.CheckpointDir, results.File)
	for _, trainedOn := range []results.Provenance{
		{Backend: "xla:cuda", Machine: &results.Machine{CPU: "elsewhere", Devices: []string{"0, NVIDIA H100 80GB HBM3, 81559 MiB, 580.65"}}, Date: "2000-01-01T00:00:00Z"},
		{},
	} {
		stored, err := results.ReadAs[results.Pretrain](resultPath)
		if err != nil {
			t.Fatal(err)
		}
		stored.Backend, stored.Machine, stored.Date = trainedOn.Backend, trainedOn.Machine, trainedOn.Date
		if err := results.Write(resultPath, stored); err != nil {
			t.Fatal(err)
		}
		resultBefore, err := os.ReadFile(resultPath)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Run(b, split, quiet())
		if err != nil {
			t.Fatal(err)
		}
		sameResult("resuming the finished run", again, 0, split.CheckpointDir)
		sameMetrics("the finished run evaluated again", split.CheckpointDir)
		eventsBefore++
		if after, events := folder(); !slices.Equal(after, before) || events != eventsBefore {
			t.Errorf("resuming the finished run: its folder holds %q and %d event files, held %q and %d before this process's", after, events, before, eventsBefore-1)
		}
		if resultAfter, err := os.ReadFile(resultPath); err != nil || string(resultAfter) != string(resultBefore) {
			t.Errorf("result.json after resuming the finished run trained on %+v (%v):\n%s\nwant it unchanged:\n%s", trainedOn, err, resultAfter, resultBefore)
		}
	}

	a, err := checkpoints.Load(filepath.Join(straight.CheckpointDir, "ckpt-000000004"+checkpoints.Ext))
	if err != nil {
		t.Fatal(err)
	}
	bb, err := checkpoints.Load(filepath.Join(split.CheckpointDir, "ckpt-000000004"+checkpoints.Ext))
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

	// A run killed after step 4 but before its checkpoint (the uninterrupted run's folder without
	// ckpt-4): -resume trains steps 3 and 4 again, and metrics.jsonl holds them twice; read back,
	// each step is there once, with the values of the uninterrupted run (time-based ones aside).
	killed := tinyConfig(t)
	killed.LogEvery = logEvery
	if err := os.CopyFS(killed.CheckpointDir, os.DirFS(straight.CheckpointDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(killed.CheckpointDir, "ckpt-000000004"+checkpoints.Ext)); err != nil {
		t.Fatal(err)
	}
	killed.Resume = true
	if _, err := Run(b, killed, quiet()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(killed.CheckpointDir, "metrics.jsonl"))
	lossLines := 0 // training lines of step 4
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["step"] == 4.0 && rec["loss"] != nil {
			lossLines++
		}
	}
	if lossLines != 2 {
		t.Errorf("metrics.jsonl of the killed run holds %d training lines of step 4, want 2 (the file keeps both processes' lines)", lossLines)
	}
	sameMetrics("the killed and resumed run", killed.CheckpointDir)

	// A stop request after the last step (nothing left to train) stops the final evaluation: the
	// run is interrupted, its last checkpoint saved, and result.json says so, with how it was
	// trained and no accuracy; -resume then evaluates that checkpoint, with the uninterrupted run's
	// result, and result.json keeps how it was trained.
	c := tinyConfig(t)
	res, err = Run(b, c, stopAfter(c.Steps))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Steps != 4 || res.Linear != nil || res.KNN != nil {
		t.Fatalf("stopped in the final evaluation: %+v, want interrupted at step 4 with no accuracy", res)
	}
	readResult := func() results.Pretrain {
		t.Helper()
		var r results.Pretrain
		data, err := os.ReadFile(filepath.Join(c.CheckpointDir, results.File))
		if err != nil || json.Unmarshal(data, &r) != nil {
			t.Fatalf("%s: %v\n%s", results.File, err, data)
		}
		return r
	}
	stopped := readResult()
	if stopped.Kind != "pretrain" {
		t.Errorf("%s: kind %q, want pretrain", results.File, stopped.Kind)
	}
	// What was not measured is absent from the file, not a number that could be averaged.
	if data, _ := os.ReadFile(filepath.Join(c.CheckpointDir, results.File)); strings.Contains(string(data), "linear_probe") ||
		strings.Contains(string(data), `"knn"`) || strings.Contains(string(data), ": -1,") {
		t.Errorf("%s of the run stopped before its probe records it or -1:\n%s", results.File, data)
	}
	if !stopped.Interrupted || stopped.Trained != 4 || stopped.TrainTime != res.TrainTime || stopped.TrainTime <= 0 || stopped.Linear != nil || stopped.StepCompilations != 1 {
		t.Errorf("%s of the run stopped in its final evaluation: %+v, want interrupted, 4 steps trained in %v, no accuracy", results.File, stopped, res.TrainTime)
	}
	c.Resume = true
	again, err := Run(b, c, quiet())
	if err != nil {
		t.Fatal(err)
	}
	sameResult("-resume after the stopped evaluation", again, 0, c.CheckpointDir)
	if r := readResult(); r.Interrupted || r.Trained != 4 || r.TrainTime != res.TrainTime || r.StepCompilations != 1 || !sameAcc(r.Linear, want.Linear) {
		t.Errorf("%s once the stopped evaluation was resumed: %+v, want the training of the first process (4 steps in %v, 1 compilation) and the accuracies", results.File, r, res.TrainTime)
	}

	// Resuming with another configuration is refused with the differences listed.
	split.LR = 0.123
	_, err = Run(b, split, quiet())
	if err == nil || !strings.Contains(err.Error(), "lr: saved 0.3, now 0.123") {
		t.Errorf("resume with another -lr: got %v", err)
	}
}

// TestEvalEveryMeasuresKNNDuringTraining: with -eval-every 1, each epoch end but the last (which
// the final evaluation covers) adds a kNN accuracy to the metrics; the final evaluation adds its
// kNN and linear-probe accuracies at the last step, the values of the result.
func TestEvalEveryMeasuresKNNDuringTraining(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Subset, c.Steps, c.EvalEvery, c.CheckpointEvery = 64, 8, 1, 0 // 4 batches per epoch
	c.Baselines = true
	res, err := Run(b, c, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]*float64{"pixels": res.PixelLinear, "random encoder": res.RandomLinear,
		"pixels, balanced": res.PixelLinearBalanced, "random encoder, balanced": res.RandomLinearBalanced} {
		if !fraction(a) {
			t.Errorf("baseline %s: accuracy %s, want it measured", name, acc(a))
		}
	}
	series, err := results.ReadMetrics(filepath.Join(c.CheckpointDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	knn := series["knn_acc"]
	if len(knn) != 2 || knn[0].Step != 4 || knn[0].Value < 0 || knn[0].Value > 1 || knn[1].Step != 8 || !sameAcc(&knn[1].Value, res.KNN) {
		t.Errorf("knn_acc series %v, want one accuracy at step 4 and the final one, %s, at step 8", knn, acc(res.KNN))
	}
	if lin := series["linear_acc"]; len(lin) != 1 || lin[0].Step != 8 || !sameAcc(&lin[0].Value, res.Linear) {
		t.Errorf("linear_acc series %v, want the final linear probe's accuracy, %s, at step 8", lin, acc(res.Linear))
	}
	if got := len(series["probe_acc"]); got != 2 {
		t.Errorf("%d online probe evaluations, want 2 (one per epoch)", got)
	}
}

// fakeBucket serves the tests' fake S3, with credentials for it, for -checkpoint-mirror s3://runs/...
func fakeBucket(t *testing.T) *remotetest.S3 {
	const secret = "trainer-secret"
	return remotetest.ServeS3(t, secret, remote.Forget)
}

// stopAfter is quiet() with a stop request (a signal's) raised at the end of the given step.
func stopAfter(step int64) Options {
	var stop atomic.Bool
	opts := quiet()
	opts.Stop = &stop
	opts.AfterStep = func(s int64) {
		if s == step {
			stop.Store(true)
		}
	}
	return opts
}

// TestStopInFinalEvaluationKeepsFinishedPhases: a signal during the final evaluation stops it
// before its next phase; the phases that finished (here the probe and kNN, stopped before the
// baselines) are in the result and in result.json, with the images they scored; the others are
// not measured (-1).
func TestStopInFinalEvaluationKeepsFinishedPhases(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Baselines = true
	var phases []string
	opts := quiet()
	var stop atomic.Bool
	opts.Stop = &stop
	opts.beforePhase = func(phase string) {
		phases = append(phases, phase)
		if phase == "raw pixels" {
			stop.Store(true)
		}
	}
	res, err := Run(b, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(phases, []string{"embedding", "probe and kNN", "raw pixels"}) {
		t.Errorf("phases %v, want embedding, probe and kNN, then the stop before raw pixels", phases)
	}
	if !res.Interrupted || !fraction(res.Linear) || !fraction(res.KNN) || res.EvalImages != c.EvalSubset || res.PixelLinear != nil || res.RandomLinear != nil {
		t.Errorf("result %+v: want interrupted, the probe and kNN measured on %d images, no baseline", res, c.EvalSubset)
	}
	var stored results.Pretrain
	data, err := os.ReadFile(filepath.Join(c.CheckpointDir, results.File))
	if err != nil || json.Unmarshal(data, &stored) != nil {
		t.Fatalf("%s: %v\n%s", results.File, err, data)
	}
	if !sameAcc(stored.Linear, res.Linear) || !sameAcc(stored.KNN, res.KNN) || stored.EvalImages != res.EvalImages || !stored.Interrupted || stored.PixelLinear != nil {
		t.Errorf("%s: %+v, want the measured figures of %+v", results.File, stored, res)
	}
}

// TestUnwritableOutputs: a -metrics file in a folder that does not exist is a -metrics usage
// error before any work, and a checkpoint folder that cannot be written (no permission, a
// read-only file system) says to choose another.
func TestUnwritableOutputs(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.MetricsFile = filepath.Join(t.TempDir(), "missing", "metrics.jsonl")
	_, err := Run(b, c, quiet())
	var ue *config.FieldError
	if !errors.As(err, &ue) || ue.Flag != "metrics" || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("-metrics in a missing folder: %v, want a -metrics usage error", err)
	}
	if _, err := os.Stat(c.CheckpointDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused run created its checkpoint folder: %v", err)
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&fs.PathError{Op: "mkdir", Path: "/x", Err: syscall.EACCES}, true},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EROFS}, true},
		{&fs.PathError{Op: "mkdir", Path: "/x", Err: syscall.ENOTDIR}, false},
	} {
		if got := unwritableAdvice(tc.err) != ""; got != tc.want {
			t.Errorf("%v: advice %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestResumeIntoAFineTuningRun: -resume into the folder of a fine-tuning run says so and how to
// continue it, rather than that its configuration cannot be read; a pretraining configuration
// that differs lists the difference.
func TestResumeIntoAFineTuningRun(t *testing.T) {
	c := config.Default()
	got := diffConfig(json.RawMessage(`{"encoder": `+string(c.JSON())+`, "weights": "finetune", "train_percent": 1}`), c)
	if len(got) != 1 || !strings.Contains(got[0], "fine-tuning run (-weights finetune)") || !strings.Contains(got[0], "go run ./evaluate -weights finetune -resume") {
		t.Errorf("a fine-tuning run's configuration: %q", got)
	}
	other := c
	other.Seed = 9
	if got := diffConfig(other.JSON(), c); len(got) != 1 || !strings.Contains(got[0], "seed") {
		t.Errorf("another seed: %q, want the seed named", got)
	}
}

// TestStartAgainOverAFailedAttempt: a run started again in a folder whose first attempt stopped
// before its first checkpoint (its metrics.jsonl lines, no checkpoint, no result) reads back as
// the new run alone, not as two curves one after the other.
func TestStartAgainOverAFailedAttempt(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Steps, c.ProbeEpochs = 2, 1
	if err := os.MkdirAll(c.CheckpointDir, 0o755); err != nil {
		t.Fatal(err)
	}
	attempt := `{"step": 1, "epoch": 0, "loss": 99}` + "\n" + `{"step": 2, "epoch": 0, "loss": 98}` + "\n"
	if err := os.WriteFile(filepath.Join(c.CheckpointDir, results.MetricsFileName), []byte(attempt), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(b, c, quiet()); err != nil {
		t.Fatal(err)
	}
	m, err := results.ReadMetrics(filepath.Join(c.CheckpointDir, results.MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	loss := m["loss"]
	if len(loss) != 2 || loss[0].Step != 1 || loss[1].Step != 2 || loss[0].Value == 99 || loss[1].Value == 98 {
		t.Errorf("loss read back %v, want the new run's steps 1 and 2 only", loss)
	}
	data, _ := os.ReadFile(filepath.Join(c.CheckpointDir, results.MetricsFileName))
	if !strings.HasPrefix(string(data), attempt) {
		t.Errorf("the first attempt's line is gone from the file (nothing saved may be lost):\n%s", data)
	}
}

// TestStoppedReevaluationKeepsTheResult: -resume on a finished run evaluates its last checkpoint
// again; a signal during that evaluation must not replace the complete result.json of the
// earlier evaluation (the baselines measured there) by the few phases that finished before the
// signal: result.json is left as it was, as fine-tuning leaves it.
func TestStoppedReevaluationKeepsTheResult(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Baselines = true
	first, err := Run(b, c, quiet())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.CheckpointDir, results.File)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := quiet()
	var stop atomic.Bool
	opts.Stop = &stop
	opts.beforePhase = func(phase string) {
		if phase == "raw pixels" {
			stop.Store(true)
		}
	}
	c.Resume = true
	res, err := Run(b, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Trained != 0 {
		t.Fatalf("re-evaluation stopped before the baselines: %+v, want interrupted with nothing trained", res)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		var r results.Pretrain
		json.Unmarshal(after, &r)
		t.Errorf("%s was rewritten by the stopped re-evaluation: pixel baseline %v (was %v), random %v (was %v), interrupted %v",
			results.File, acc(r.PixelLinear), acc(first.PixelLinear), acc(r.RandomLinear), acc(first.RandomLinear), r.Interrupted)
	}
}

// acc formats an accuracy of a result, or says it is absent.
func acc(p *float64) string {
	if p == nil {
		return "absent"
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

// fraction reports whether an accuracy was measured, in [0, 1].
func fraction(p *float64) bool { return p != nil && *p >= 0 && *p <= 1 }

// sameAcc reports whether two accuracies are both absent or equal.
func sameAcc(a, b *float64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
