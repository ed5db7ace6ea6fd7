package finetune

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/plot/plottest"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
	"github.com/gomlx-ssl/vicreg/train/trainer"
)

// pretrained returns the configuration and variables of a tiny "pretrained" encoder (a width-4
// ResNet-18 with the CIFAR stem, randomly initialised) for the synthetic data set.
func pretrained(t *testing.T, b backends.Backend) (config.Config, []checkpoints.Variable) {
	t.Helper()
	cfg := config.Default()
	cfg.Dataset, cfg.Seed = "synthetic", 3
	cfg.Model = models.Config{Arch: "resnet18", Stem: "cifar", Width: 4, InChannels: 3}
	enc, err := encoder.Random(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if _, err := enc.Embed(make([]float32, 16*16*3), 1, 16, 16); err != nil { // creates the variables
		t.Fatal(err)
	}
	vars, err := checkpoints.FromContext(enc.Context())
	if err != nil {
		t.Fatal(err)
	}
	return cfg, encoder.Variables(vars)
}

func tinyConfig(t *testing.T, enc config.Config, vars []checkpoints.Variable, weights string) Config {
	c := Defaults(weights, 100)
	c.Encoder, c.EncoderSHA256 = enc, fingerprint(vars)
	c.Dataset, c.Augment, c.Seed = "synthetic", "none", 5
	c.BatchSize, c.Epochs, c.LogEvery, c.Workers, c.EvalSubset = 64, 1, 1, 2, 256
	c.CheckpointDir = filepath.Join(t.TempDir(), "ft")
	return c
}

func quiet() trainer.Options {
	return trainer.Options{Logger: log.New(io.Discard), NoProgressBar: true}
}

// finalEncoder loads the encoder variables of a run's newest checkpoint, by key.
func finalVariables(t *testing.T, dir string) map[string]checkpoints.Variable {
	t.Helper()
	st, _, err := (&checkpoints.Manager{Dir: dir}).LoadLatest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]checkpoints.Variable{}
	for _, v := range st.Variables {
		out[v.Key()] = v
	}
	return out
}

// Fine-tuning moves the encoder's weights (and batch-norm statistics) and reaches the Bayes
// accuracy of the synthetic mixture (its Bayes classifier, the nearest component mean, is known:
// equal weights, one isotropic variance); the frozen mode trains the classifier only and leaves
// every encoder variable exactly as it was.
func TestFinetuneMovesTheEncoderFreezeDoesNot(t *testing.T) {
	b := backendtest.XLA(t)
	enc, vars := pretrained(t, b)
	for _, weights := range []string{Freeze, Finetune} {
		c := tinyConfig(t, enc, vars, weights)
		c.Epochs, c.TrainPercent = 1, 25 // ~1024 images, 16 steps
		if weights == Finetune {
			c.Epochs, c.TrainPercent, c.LRBackbone, c.LRHead = 3, 100, 0.05, 0.1
		}
		res, err := Run(b, c, vars, quiet())
		if err != nil {
			t.Fatalf("%s: %v", weights, err)
		}
		got := finalVariables(t, c.CheckpointDir)
		changed := 0
		for _, v := range vars {
			w, ok := got[v.Key()]
			if !ok {
				t.Fatalf("%s: the checkpoint lacks %s", weights, v.Key())
			}
			if !w.Value.Equal(v.Value) {
				changed++
			}
		}
		if got["/"+HeadScope+"/weights"].Value == nil {
			t.Fatalf("%s: no classifier in the checkpoint", weights)
		}
		checkFigure(t, c.CheckpointDir, weights)
		switch weights {
		case Freeze:
			if changed != 0 {
				t.Errorf("freeze: %d of %d encoder variables changed, want none", changed, len(vars))
			}
		case Finetune:
			if changed < len(vars)/2 {
				t.Errorf("finetune: only %d of %d encoder variables changed", changed, len(vars))
			}
			bayes, bayesBalanced := bayesAccuracy(t, c.EvalSubset)
			if res.Top1 == nil || res.Top5 == nil || res.Balanced == nil {
				t.Fatalf("top-1 %v, top-5 %v, balanced %v: want all measured", res.Top1, res.Top5, res.Balanced)
			}
			top1, top5, balanced := *res.Top1, *res.Top5, *res.Balanced
			t.Logf("top-1 %.4f, top-5 %.4f, balanced %.4f; Bayes accuracy %.4f, balanced %.4f", top1, top5, balanced, bayes, bayesBalanced)
			if top1 < bayes-0.03 {
				t.Errorf("fine-tuned top-1 %.4f, want within 3 points of the Bayes accuracy %.4f", top1, bayes)
			}
			if balanced < bayesBalanced-0.03 || balanced > 1 {
				t.Errorf("fine-tuned balanced accuracy %.4f, want within 3 points of the Bayes classifier's %.4f", balanced, bayesBalanced)
			}
			// Per class: the test images add up, and the mean recall is the balanced accuracy.
			images, sum, present := 0, 0.0, 0
			for _, pc := range res.PerClass {
				images += pc.TestImages
				if pc.Recall != nil {
					sum, present = sum+*pc.Recall, present+1
				}
			}
			if images != res.TestImages || present == 0 || math.Abs(sum/float64(present)-balanced) > 1e-12 {
				t.Errorf("per class %+v: %d test images, mean recall %v; want %d images and the balanced accuracy %v", res.PerClass, images, sum/float64(present), res.TestImages, balanced)
			}
			if top5 < top1 || top5 > 1 {
				t.Errorf("top-5 %.4f should lie between top-1 %.4f and 1", top5, top1)
			}
		}
	}
}

// checkFigure fails unless a run's folder holds the metrics figure, as SVG and PNG, with the
// training loss and the test accuracy drawn (a series without points gets no legend entry).
func checkFigure(t *testing.T, dir, name string) {
	t.Helper()
	paths := trainer.MetricsFigures(filepath.Join(dir, "metrics.jsonl"))
	for _, p := range paths {
		if info, err := os.Stat(p); err != nil || info.Size() == 0 {
			t.Errorf("%s: no metrics figure %s: %v", name, filepath.Base(p), err)
		}
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		return
	}
	doc, err := plottest.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, s := range []string{legendLoss, legendTop1, legendTop5, legendBalanced} {
		if doc.Count(s) != 1 {
			t.Errorf("%s: legend entry %q appears %d times in the metrics figure, want once", name, s, doc.Count(s))
		}
	}
}

// bayesAccuracy is the accuracy and the balanced accuracy of the nearest-mean classifier on the
// first n synthetic test images.
func bayesAccuracy(t *testing.T, n int) (acc, balanced float64) {
	test, err := datasets.LoadWith("synthetic", datasets.SplitTest, datasets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	test = test.Head(n)
	hits := 0
	pred := make([]int32, test.N)
	for i := range test.N {
		best, bestD := 0, math.Inf(1)
		for k, m := range test.Mixture.Means {
			var d float64
			for j, p := range test.Image(i) {
				d += (float64(p) - m[j]) * (float64(p) - m[j])
			}
			if d < bestD {
				best, bestD = k, d
			}
		}
		if pred[i] = int32(best); pred[i] == test.Label(i) {
			hits++
		}
	}
	return float64(hits) / float64(test.N), eval.Balanced(pred, test.Labels, test.NumClasses)
}

// An interrupted fine-tuning run, resumed, ends bit-identical to an uninterrupted one; a resume
// with another learning rate is refused, naming it. As evaluate.py, an epoch ends with the
// partial batch of the images left over (the resume starts there) and the cosine schedule steps
// once an epoch.
func TestFinetuneResumeIsExact(t *testing.T) {
	b := backendtest.XLA(t)
	enc, vars := pretrained(t, b)
	straight := tinyConfig(t, enc, vars, Finetune)
	straight.TrainPercent, straight.Epochs = 10, 2 // ~409 images: 6 full batches of 64 and one partial
	first, err := Run(b, straight, vars, quiet())
	if err != nil {
		t.Fatal(err)
	}
	n, batch := first.TrainImages, straight.BatchSize
	perEpoch := (n + batch - 1) / batch
	if n%batch == 0 || first.Steps != int64(2*perEpoch) {
		t.Fatalf("%d training images at batch %d in %d steps, want a partial batch and %d steps (%d an epoch)", n, batch, first.Steps, 2*perEpoch, perEpoch)
	}
	series, err := results.ReadMetrics(filepath.Join(straight.CheckpointDir, results.MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(series[results.KeyLRHead]) != 2*perEpoch {
		t.Fatalf("%d logged head learning rates, want one a step (%d)", len(series[results.KeyLRHead]), 2*perEpoch)
	}
	for i, p := range series[results.KeyLRHead] { // CosineAnnealingLR(T_max 2): 1 in epoch 0, 1/2 in epoch 1
		want := straight.LRHead * []float64{1, 0.5}[i/perEpoch]
		if math.Abs(p.Value-want) > 1e-6 {
			t.Errorf("step %d: head learning rate %v, want %v", i+1, p.Value, want)
		}
	}
	split := straight
	split.CheckpointDir = filepath.Join(t.TempDir(), "split")
	var stop atomic.Bool
	opts := quiet()
	opts.Stop = &stop
	stopAt := int64(perEpoch - 1) // the next batch is the first epoch's partial one
	opts.AfterStep = func(step int64) { stop.Store(step == stopAt) }
	res, err := Run(b, split, vars, opts)
	if err != nil || !res.Interrupted || res.Steps != stopAt {
		t.Fatalf("interrupted run: %+v, %v; want interrupted at step %d", res, err, stopAt)
	}
	// The interrupted run draws the curves so far.
	figures := trainer.MetricsFigures(filepath.Join(split.CheckpointDir, "metrics.jsonl"))
	for _, f := range figures {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the interrupted run drew no %s: %v", filepath.Base(f), err)
		}
		os.Remove(f)
	}
	// The resumed run draws the figure; its PNG cannot be written (a folder holds the name): a
	// warning, and the run, its checkpoints and its result are as they would be.
	if err := os.Mkdir(figures[1], 0o755); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	resumeOpts := quiet()
	resumeOpts.Logger = log.New(&logged)
	split.Resume = true
	if res, err = Run(b, split, vars, resumeOpts); err != nil || res.Steps != first.Steps {
		t.Fatalf("resumed run: %+v, %v; want %d steps", res, err, first.Steps)
	}
	if !strings.Contains(logged.String(), "could not plot the fine-tuning metrics") {
		t.Errorf("no warning for the figure that could not be written; log:\n%s", logged.String())
	}
	var stored results.Finetune
	if data, err := os.ReadFile(filepath.Join(split.CheckpointDir, results.File)); err != nil {
		t.Errorf("a figure that failed to draw lost the result: %v", err)
	} else if json.Unmarshal(data, &stored) != nil || stored.Kind != "finetune" {
		t.Errorf("%s: kind %q, want finetune:\n%s", results.File, stored.Kind, data)
	} else if p := stored.Provenance; p.Dataset != split.Dataset || p.Seed != split.Seed || p.Backend != backend.Name(b) ||
		p.Machine == nil || p.Machine.CPU != cpuinfo.Describe() || p.Date == "" {
		t.Errorf("%s: provenance %+v (machine %+v), want %s, seed %d, %s, this CPU, a date", results.File, p, p.Machine, split.Dataset, split.Seed, backend.Name(b))
	}
	if _, err := os.Stat(figures[0]); err != nil {
		t.Errorf("the resumed run drew no %s: %v", filepath.Base(figures[0]), err)
	}
	if res.Trained != first.Steps-stopAt || stored.Trained != res.Trained {
		t.Errorf("the resumed run trained %d steps (%d in %s), want %d", res.Trained, stored.Trained, results.File, first.Steps-stopAt)
	}
	// Resuming the finished run trains nothing and measures both accuracies again: result.json
	// stays as it was, byte for byte (how the run was trained, and where and when: planted here as
	// another machine's).
	resultPath := filepath.Join(split.CheckpointDir, results.File)
	stored.Backend, stored.Date = "xla:cuda", "2000-01-01T00:00:00Z"
	stored.Machine = &results.Machine{CPU: "elsewhere", Devices: []string{"0, NVIDIA H100 80GB HBM3, 81559 MiB, 580.65"}}
	if err := results.Write(resultPath, stored); err != nil {
		t.Fatal(err)
	}
	resultBefore, err := os.ReadFile(resultPath)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := Run(b, split, vars, quiet()); err != nil || again.Trained != 0 || again.Steps != first.Steps {
		t.Errorf("the finished run resumed: %+v, %v; want %d steps, none trained", again, err, first.Steps)
	}
	if resultAfter, err := os.ReadFile(resultPath); err != nil || string(resultAfter) != string(resultBefore) {
		t.Errorf("%s after resuming the finished run (%v):\n%s\nwant it unchanged:\n%s", results.File, err, resultAfter, resultBefore)
	}
	// A signal during that evaluation stops it: the run reports itself interrupted and
	// result.json is left as it was.
	var stopNow atomic.Bool
	stopNow.Store(true)
	stoppedOpts := quiet()
	stoppedOpts.Stop = &stopNow
	if stopped, err := Run(b, split, vars, stoppedOpts); err != nil || !stopped.Interrupted || stopped.Trained != 0 {
		t.Errorf("the finished run resumed and stopped: %+v, %v; want interrupted, none trained", stopped, err)
	}
	if resultAfter, err := os.ReadFile(resultPath); err != nil || string(resultAfter) != string(resultBefore) {
		t.Errorf("%s after a stopped re-evaluation (%v):\n%s\nwant it unchanged:\n%s", results.File, err, resultAfter, resultBefore)
	}
	// Every key of the metrics file is a results.Key constant (cross-entropy has no terms), and
	// those fine-tuning always writes are there.
	series, err = results.ReadMetrics(filepath.Join(split.CheckpointDir, results.MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	for k := range series {
		if !slices.Contains(results.Keys, k) {
			t.Errorf("metrics key %q is not a results.Key constant", k)
		}
	}
	for _, k := range []string{results.KeyLoss, results.KeyBatchAcc, results.KeyLRHead, results.KeyImagesPerSec, results.KeyStepImagesPerSec, results.KeyTop1} {
		if len(series[k]) == 0 {
			t.Errorf("metrics file has no %q", k)
		}
	}
	a, c := finalVariables(t, straight.CheckpointDir), finalVariables(t, split.CheckpointDir)
	for k, v := range a {
		if !v.Value.Equal(c[k].Value) {
			t.Errorf("%s differs between the uninterrupted and the resumed run", k)
		}
	}
	split.LRHead = 0.5
	_, err = Run(b, split, vars, quiet())
	var fe *config.FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "lr_head: saved 0.1, now 0.5") {
		t.Errorf("resume with another -lr-head: got %v, want a usage error naming lr_head", err)
	}
}

func TestBadInputIsAFieldError(t *testing.T) {
	b := backendtest.XLA(t)
	enc, vars := pretrained(t, b)
	single := t.TempDir() // a folder of one labelled training image
	datasetstest.WriteImageFolder(t, filepath.Join(single, "train"), []string{"a"}, 1)
	datasetstest.WriteImageFolder(t, filepath.Join(single, "val"), []string{"a"}, 1)
	twoClasses := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(twoClasses, "train"), []string{"a", "b"}, 2)
	datasetstest.WriteImageFolder(t, filepath.Join(twoClasses, "val"), []string{"a", "b"}, 1)
	for _, tc := range []struct {
		name, flag, want string
		mutate           func(*Config)
	}{
		{"percent 0", "train-percent", "(0, 100]", func(c *Config) { c.TrainPercent = 0 }},
		{"percent 150", "train-percent", "(0, 100]", func(c *Config) { c.TrainPercent = 150 }},
		{"unknown weights", "weights", "unknown mode", func(c *Config) { c.Weights = "partial" }},
		{"channels", "dataset", "takes 1-channel images", func(c *Config) { c.Encoder.Model.InChannels = 1 }},
		{"batch larger than the subset", "batch-size", "larger than the", func(c *Config) { c.TrainPercent, c.BatchSize = 1, 64 }},
		{"a default batch fitted to one image", "train-percent", "batch norm needs at least 2", func(c *Config) {
			c.Dataset, c.DataDir, c.FitBatch, c.EvalSubset = "folder", single, true, 0
		}},
		{"eval-subset of a folder", "eval-subset", "applies to in-memory data sets (mnist, cifar10, ...), not to -dataset folder", func(c *Config) {
			c.Dataset, c.DataDir, c.TrainPercent, c.BatchSize, c.EvalSubset = "folder", twoClasses, 100, 2, 1
		}},
	} {
		c := tinyConfig(t, enc, vars, Finetune)
		tc.mutate(&c)
		_, err := Run(b, c, vars, quiet())
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Flag != tc.flag || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a -%s error containing %q", tc.name, err, tc.flag, tc.want)
		}
	}
}

// TestDefaultBatchFitsFewImages: a default batch larger than the training images (FitBatch)
// becomes all of them, one step per epoch, recorded in config.json; -resume accepts the run.
// The same batch asked for is refused (TestBadInputIsAFieldError).
func TestDefaultBatchFitsFewImages(t *testing.T) {
	b := backendtest.XLA(t)
	enc, vars := pretrained(t, b)
	c := tinyConfig(t, enc, vars, Freeze)
	c.TrainPercent, c.BatchSize, c.Epochs, c.FitBatch = 1, 64, 2, true
	res, err := Run(b, c, vars, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if res.TrainImages >= 64 || res.Steps != 2 {
		t.Fatalf("%d training images in %d steps, want fewer than 64 in 2 (one per epoch)", res.TrainImages, res.Steps)
	}
	data, err := os.ReadFile(filepath.Join(c.CheckpointDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var saved Config
	if err := json.Unmarshal(data, &saved); err != nil || saved.BatchSize != res.TrainImages {
		t.Errorf("config.json records batch %d (%v), want the %d training images", saved.BatchSize, err, res.TrainImages)
	}
	c.Resume = true
	if again, err := Run(b, c, vars, quiet()); err != nil || again.Steps != 2 {
		t.Errorf("-resume of the finished run: %+v, %v", again, err)
	}
}

// TestRefusesAnEarlierRunsResult: as pretraining, a fine-tuning run that would start from step 0
// in a folder holding an earlier run's result.json but no checkpoint is a -checkpoint-dir usage
// error that leaves that result as it was (it was replaced by the new run's).
func TestRefusesAnEarlierRunsResult(t *testing.T) {
	b := backendtest.XLA(t)
	enc, vars := pretrained(t, b)
	c := tinyConfig(t, enc, vars, Freeze)
	if err := os.MkdirAll(c.CheckpointDir, 0o755); err != nil {
		t.Fatal(err)
	}
	earlier := `{"kind": "finetune", "top1": 0.9}` + "\n"
	path := filepath.Join(c.CheckpointDir, results.File)
	if err := os.WriteFile(path, []byte(earlier), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, resume := range []bool{false, true} {
		c.Resume = resume
		_, err := Run(b, c, vars, quiet())
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Flag != "checkpoint-dir" || !strings.Contains(err.Error(), results.File) {
			t.Errorf("resume %v: want a -checkpoint-dir usage error naming %s, got %v", resume, results.File, err)
		}
	}
	if data, _ := os.ReadFile(path); string(data) != earlier {
		t.Errorf("%s was changed to %q", results.File, data)
	}
}

// TestPartialBatchOfOneOnOneByOneMapsRefused: with the ImageNet stem a 16-pixel image ends in 1x1
// feature maps (the default MNIST encoder's 28 pixels too), so an epoch's last batch of a single
// image cannot go through batch norm in training mode (PyTorch's evaluate.py stops there with
// "Expected more than 1 value per channel when training"). Fine-tuning refuses such a batch size
// before it trains, naming -batch-size, rather than failing at the end of the first epoch with no
// checkpoint written; the frozen mode (batch norm in evaluation mode) trains.
func TestPartialBatchOfOneOnOneByOneMapsRefused(t *testing.T) {
	b := backendtest.XLA(t)
	enc := config.Default()
	enc.Dataset, enc.Seed = "synthetic", 3
	enc.Model = models.Config{Arch: "resnet18", Stem: "imagenet", Width: 4, InChannels: 3}
	if side := enc.Model.LastFeatureSide(16); side != 1 {
		t.Fatalf("the last feature maps of 16-pixel images: %dx%d, want 1x1", side, side)
	}
	if side := enc.Model.LastFeatureSide(28); side != 1 {
		t.Fatalf("the last feature maps of 28-pixel images: %dx%d, want 1x1", side, side)
	}
	if side := (models.Config{Arch: "resnet18", Stem: "cifar", Width: 4, InChannels: 3}).LastFeatureSide(16); side != 2 {
		t.Fatalf("the CIFAR stem's last feature maps of 16-pixel images: %dx%d, want 2x2", side, side)
	}
	e, err := encoder.Random(b, enc)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Embed(make([]float32, 16*16*3), 1, 16, 16); err != nil {
		t.Fatal(err)
	}
	all, err := checkpoints.FromContext(e.Context())
	if err != nil {
		t.Fatal(err)
	}
	vars := encoder.Variables(all)
	c := tinyConfig(t, enc, vars, Finetune)
	c.TrainPercent = 5 // 205 images: batches of 51, 51, 51, 51 and 1
	c.BatchSize = 51
	steps := 0
	opts := quiet()
	opts.AfterStep = func(int64) { steps++ }
	_, err = Run(b, c, vars, opts)
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Flag != "batch-size" || steps != 0 {
		t.Fatalf("a last batch of 1 image on 1x1 feature maps: %v after %d steps, want -batch-size refused before training", err, steps)
	}
	c = tinyConfig(t, enc, vars, Freeze)
	c.TrainPercent, c.BatchSize = 5, 51
	if res, err := Run(b, c, vars, quiet()); err != nil || res.Steps != 5 || res.TrainImages != 205 {
		t.Fatalf("frozen, the same batches: %+v, %v; want 5 steps over 205 images", res, err)
	}
}

// TestResumeOfAnEarlierFinishedRunSaysWhatToDo: -resume of a run saved before epochs kept their
// last partial batch (here a finished one: 1 epoch of 6 steps) is refused before any work, and the
// message offers what can be done: not "rerun with the saved values" (no flag brings the earlier
// epochs back), and, for a finished run that -resume would have measured again, where its
// accuracies are (result.json).
func TestResumeOfAnEarlierFinishedRunSaysWhatToDo(t *testing.T) {
	b := backendtest.XLA(t)
	enc, vars := pretrained(t, b)
	c := tinyConfig(t, enc, vars, Finetune)
	c.TrainPercent = 10
	var old map[string]any
	if err := json.Unmarshal(c.JSON(), &old); err != nil {
		t.Fatal(err)
	}
	delete(old, "last_partial_batch")
	saved, _ := json.Marshal(old)
	mgr, err := checkpoints.NewManager(c.CheckpointDir, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.Save(&checkpoints.State{Step: 6, Config: saved, Data: json.RawMessage(`{"Epoch":1,"Batch":0}`)}); err != nil {
		t.Fatal(err)
	}
	c.Resume = true
	_, err = Run(b, c, vars, quiet())
	var fe *config.FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "earlier version") || strings.Contains(err.Error(), "rerun with the saved values") ||
		!strings.Contains(err.Error(), results.File) || !strings.Contains(err.Error(), "another -checkpoint-dir") {
		t.Errorf("-resume of an earlier run: %v; want a usage error that names %s and another -checkpoint-dir, and no saved values to rerun with", err, results.File)
	}
}
