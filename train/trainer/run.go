package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	_ "github.com/gomlx-ssl/vicreg/datasets/hfdata" // reads the datasets library's Arrow files as a folder
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
	"github.com/gomlx-ssl/vicreg/train/optim"
)

// data is a run's training and evaluation sets, and their views.
type data struct {
	train, eval datasets.Data // eval is nil when there is nothing to evaluate against
	aug         datasets.Augmentation
	size        int // side of every view
}

// ResumeDataHint adds to err, the loader's refusal of the position resumed from (from, in the
// run folder dir), which data the run was trained on, as the folder's config.json records it.
func ResumeDataHint(err error, from Resumed, dir string) error {
	if from.Step == 0 || !errors.Is(err, datasets.ErrUsage) {
		return err
	}
	path := filepath.Join(dir, config.FileName)
	var saved struct {
		Dataset string `json:"dataset"`
		DataDir string `json:"data_dir"`
	}
	data, rerr := os.ReadFile(path)
	if rerr != nil || json.Unmarshal(data, &saved) != nil || saved.Dataset == "" {
		return err
	}
	where := saved.Dataset
	if saved.DataDir != "" {
		where += " in " + saved.DataDir
	}
	return fmt.Errorf("%w\nthe run was trained on %s (its %s)", err, where, path)
}

// DataError turns a data-set error into a usage error for -data-dir when the argument is at fault
// (a missing or empty folder, a bad shard pattern); damaged data stays an error (exit 1).
func DataError(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, datasets.ErrUsage) {
		return config.Errorf("data-dir", "%v", err)
	}
	return err
}

// loadData opens the training set and the evaluation set (the test split, or the held-out images
// with -validation) and checks them against the configuration. Image folders and shards are
// opened, not read: their images are decoded batch by batch.
func loadData(cfg config.Config, logger *log.Logger) (*data, error) {
	if err := datasets.LimitShardCache(cfg.ShardCache, cfg.ShardCacheSize); err != nil {
		return nil, err
	}
	opt := cfg.DataOptions(cfg.DataDir, cfg.ShardCache)
	opt.ShardReadAhead = cfg.ShardReadAhead
	train, err := datasets.Open(cfg.Dataset, datasets.SplitTrain, opt)
	if err != nil {
		return nil, DataError(err)
	}
	datasets.WarnLeftOut(train, logger) // before any refusal that what was left out may explain
	d := &data{}
	mem, inMemory := train.(*datasets.Dataset)
	switch {
	case !inMemory && cfg.Validation > 0:
		hint := "put the held-out images in a val/ folder"
		if strings.EqualFold(cfg.Dataset, "folder") {
			hint += ", or hold out a percentage of them with -val-percent"
		} else if strings.EqualFold(cfg.Dataset, "shards") {
			hint += ", or hold out a percentage of the shards with -val-percent"
		}
		return nil, config.Errorf("validation", "holds out images of in-memory data sets (mnist, cifar10, ...); for -dataset %s, %s", cfg.Dataset, hint)
	case !inMemory && cfg.Subset > 0:
		return nil, config.Errorf("subset", "applies to in-memory data sets (mnist, cifar10, ...), not to -dataset %s", cfg.Dataset)
	case !inMemory && cfg.EvalSubset > 0:
		return nil, config.Errorf("eval-subset", "applies to in-memory data sets (mnist, cifar10, ...), not to -dataset %s", cfg.Dataset)
	}
	if inMemory {
		if cfg.Validation > 0 {
			if cfg.Validation >= mem.N {
				return nil, config.Errorf("validation", "holding out %d images leaves none of the %d to train on", cfg.Validation, mem.N)
			}
			held := mem.Tail(cfg.Validation)
			held.Split = "validation"
			d.eval = held
			mem = mem.Head(mem.N - cfg.Validation)
		}
		if cfg.Subset > mem.N {
			return nil, config.Errorf("subset", "%d is more than the %d training images: use -subset 0 for all of them", cfg.Subset, mem.N)
		}
		mem = mem.Head(cfg.Subset)
		train = mem
	}
	info := train.Info()
	if info.Channels != cfg.Model.InChannels {
		return nil, config.Errorf("channels", "the encoder takes %d-channel images but %s has %d channels: set -channels %d",
			cfg.Model.InChannels, cfg.Dataset, info.Channels, info.Channels)
	}
	if info.Len < cfg.BatchSize {
		return nil, config.Errorf("batch-size", "%d is larger than the %d training images: give -batch-size %d or less (with so few images, a quarter of them, %d, gives four steps an epoch)",
			cfg.BatchSize, info.Len, info.Len, max(2, info.Len/4))
	}
	if d.aug, err = cfg.Augmentation(train); err != nil {
		return nil, err
	}
	d.size = d.aug.View1.Size
	if info.NumClasses > 0 && d.eval == nil {
		test, err := datasets.OpenTest(cfg.Dataset, opt)
		switch {
		case errors.Is(err, datasets.ErrNoSplit):
			logger.Warn("no evaluation split: the run is not evaluated (no online probe, kNN or linear probe)", "err", err)
		case err != nil:
			return nil, DataError(err)
		default:
			d.eval = test
			datasets.WarnLeftOut(test, logger)
		}
	}
	if info.NumClasses == 1 && d.eval != nil {
		// A single class folder (images put in one "dummy" class for pretraining, say): every
		// label is the same, and the probe and kNN would score 100% whatever the encoder.
		d.eval = nil
		logger.Warn("the training images are in one class folder: the run is not evaluated (no online probe, kNN or linear probe), as every accuracy would be 100% by construction; evaluate the encoder on a labelled data set of two or more classes (go run ./evaluate -checkpoint ... -data-dir ...)")
	}
	if info.NumClasses == 0 {
		d.eval = nil // nothing to evaluate against
		logger.Info("the training images have no labels: the run is not evaluated (no online probe, kNN or linear probe)")
	}
	if d.eval != nil && d.eval.Info().NumClasses == 0 {
		return nil, config.Errorf("data-dir", "the training images are labelled (%d classes) but the evaluation images (%s) are not: put them in the same class folders as the training images",
			info.NumClasses, d.eval.Info().Split)
	}
	if ds, ok := d.eval.(*datasets.Dataset); ok {
		if cfg.EvalSubset > ds.N {
			return nil, config.Errorf("eval-subset", "%d is more than the %d images of the %s split: use -eval-subset %d or less, or -eval-subset 0 for all of them",
				cfg.EvalSubset, ds.N, ds.Split, ds.N)
		}
		d.eval = ds.Head(cfg.EvalSubset)
	}
	d.train = train
	return d, nil
}

// Run pretrains according to cfg, then evaluates the encoder.
func Run(b backends.Backend, cfg config.Config, opts Options) (res *results.Pretrain, rerr error) {
	start := time.Now()
	logger := opts.Logger
	if logger == nil {
		logger = log.Default()
	}
	plan, err := cfg.Plan()
	if err != nil {
		return nil, err
	}
	if !backend.IsXLA(b.Name()) {
		return nil, fmt.Errorf("backend %q cannot train convolutional networks (GoMLX's pure Go backend lacks the convolution gradient and batch-norm training ops): unset GOMLX_BACKEND or set it to xla:cpu or xla:cuda", b.Name())
	}
	if err := CheckDevices(b, cfg.Devices); err != nil {
		return nil, err
	}
	if err := checkExportPath(cfg.ExportEncoder); err != nil {
		return nil, err
	}
	if cfg.MetricsFile != "" {
		if err := atomicfile.CheckWritable(cfg.MetricsFile, results.MetricsFileName); err != nil {
			return nil, config.Errorf("metrics", "%v", err)
		}
		// The metrics file is appended to: one already there must open for writing.
		if f, err := os.OpenFile(cfg.MetricsFile, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			f.Close()
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, config.Errorf("metrics", "%v: give a file you can write to", err)
		}
	}
	d, err := loadData(cfg, logger)
	if err != nil {
		return nil, err
	}
	info := d.train.Info()
	net := NewNetwork(plan, info.NumClasses)
	batchesPerEpoch, total, optCfg := plan.ForData(info.Len)
	if w := optCfg.Schedule.WarmupSteps; w >= total && cfg.WarmupEpochs > 0 {
		logger.Warn("the warm-up lasts the whole run: the learning rate never reaches its peak; give -warmup-epochs below the run's length",
			"warmup_epochs", cfg.WarmupEpochs, "warmup_steps", w, "steps", total)
	}
	opt, err := optim.New(optCfg)
	if err != nil {
		return nil, fmt.Errorf("the optimiser: %w", err) // Plan validated every setting
	}

	mgr, unlock, err := OpenCheckpoints(cfg.CheckpointDir, cfg.KeepLast, results.KeyProbeAcc, logger)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, err
	}
	var from Resumed
	if !cfg.Resume {
		if err := RefuseOverwrite(mgr); err != nil {
			return nil, err
		}
	}
	if cfg.CheckpointMirror != "" { // before Resume: it restores the bucket's newer checkpoints
		if mgr.Mirror, err = OpenMirror(mgr, cfg.CheckpointMirror, cfg.Resume, logger); err != nil {
			return nil, err
		}
	}
	if cfg.Resume {
		if from, err = Resume(mgr, ctx, logger, func(saved json.RawMessage) []string { return diffConfig(saved, cfg) }); err != nil {
			return nil, err
		}
	}
	if from.Step == 0 {
		if err := RefuseOverResult(cfg.CheckpointDir); err != nil {
			return nil, err
		}
	}
	if mgr.Mirror != nil {
		// What the folder holds and the bucket lacks (a copy interrupted) goes up at once; and
		// whatever ends the run from here (its end, a signal, a failure), what it saved reaches
		// the bucket before it returns.
		mgr.Mirror.Sync()
		defer func() {
			if merr := FinishMirror(mgr.Mirror, logger); merr != nil && rerr == nil {
				res, rerr = nil, merr
			}
		}()
	}
	// The loader checks the position resumed from against the data set before config.json is
	// written: a -resume refused for other data leaves the run's record of its data as it was.
	loader, err := datasets.NewLoader(d.train, datasets.LoaderConfig{BatchSize: cfg.BatchSize, Seed: cfg.Seed,
		Workers: cfg.Workers, Augmentation: d.aug, SkipBadImages: cfg.SkipBadImages, ShuffleBuffer: cfg.ShuffleBuffer,
		ReducedDecode: cfg.ReducedDecode, Logger: logger}, from.Position)
	if err != nil {
		return nil, DataError(ResumeDataHint(err, from, cfg.CheckpointDir))
	}
	defer loader.Close()
	// config.json records the run, not this command's action: -resume is left out, so that
	// -config config.json repeats the run (into another folder) rather than resuming one there.
	stored := cfg
	stored.Resume = false
	if err := atomicfile.WriteFile(filepath.Join(cfg.CheckpointDir, config.FileName), append(stored.JSON(), '\n'), 0); err != nil {
		return nil, err
	}

	metricsPath := cfg.MetricsFile
	if metricsPath == "" {
		metricsPath = filepath.Join(cfg.CheckpointDir, results.MetricsFileName)
	}
	metrics, err := results.OpenMetrics(metricsPath)
	if err != nil {
		return nil, err
	}
	defer metrics.Close()

	trainStep, err := NewStepOn(b, ctx, net, opt, cfg.Devices)
	if err != nil {
		return nil, err
	}
	defer trainStep.Finalize()

	if (cfg.Dataset == "folder" || cfg.Dataset == "shards") && cfg.Augment == "mnist" {
		logger.Warn("your own images with the mnist recipe (the default preset): its augmentation has no flip, colour jitter, grayscale or solarisation, and its model is small; for photos start from -preset imagenet (the README's 'Your own images' gives smaller settings for small sets)")
	}
	logger.Info("training", "dataset", cfg.Dataset, "images", info.Len, "classes", info.NumClasses, "view", d.size, "jpeg", datasets.JPEGDecoder(), "model", cfg.Model.Arch, "width", cfg.Model.Width,
		"loss", cfg.Loss, "optimizer", cfg.Optimizer, "batch", cfg.BatchSize, "steps", total, "peak_lr", optCfg.Schedule.Base,
		"backend", backend.Name(b), "devices", cfg.Devices, "precision", cfg.Precision)
	if m, ok := backend.CUDAMath(); ok {
		logger.Info("GPU math: " + m.String())
	}

	ev := &evaluator{b: b, ctx: ctx, cfg: cfg, net: net, data: d, logger: logger, opts: opts}
	defer ev.close()
	loop := &Loop{
		Ctx: ctx, Manager: mgr, Config: cfg.JSON(), Metrics: metrics, Loader: loader,
		Total: total, BatchesPerEpoch: batchesPerEpoch, CheckpointEvery: int64(cfg.CheckpointEvery),
		LogEvery: int64(cfg.LogEvery), Rollback: cfg.OnNonFinite == config.OnNonFiniteRollback,
		Step: func(batch *datasets.Batch) (map[string]float64, error) {
			out, err := trainStep.Run(tensors.FromFlatDataAndDimensions(batch.View1, batch.Dims()...),
				tensors.FromFlatDataAndDimensions(batch.View2, batch.Dims()...), batch.Labels)
			if out != nil && cfg.SkipBadImages {
				out[results.KeyBadImages] = float64(len(batch.BadImages))
			}
			return out, err
		},
		Names:      trainStep.Names,
		EndOfEpoch: ev.endOfEpoch(batchesPerEpoch),
		SaveMetric: results.KeyProbeAcc,
		Logger:     logger, Opts: opts,
	}
	if from.Step >= total {
		logger.Info("the run is already complete: nothing to train; evaluating its last checkpoint", "step", from.Step, "checkpoint", from.Checkpoint)
	}
	lr, err := loop.Run(from)
	if err != nil {
		return nil, err
	}
	res = &results.Pretrain{Kind: results.KindPretrain, Steps: lr.Steps, Trained: lr.Trained, Interrupted: lr.Interrupted, Checkpoint: lr.Checkpoint, TrainTime: lr.TrainTime,
		StepCompilations: trainStep.Compilations(),
		Provenance:       backend.Provenance(b, cfg.Dataset, datasets.DataDirOf(cfg.Dataset, cfg.DataDir), cfg.Seed, start)}
	if v, ok := lr.Last[results.KeyProbeAcc]; ok {
		res.ProbeAcc = results.Acc(v)
	}
	// The figure is drawn once the metrics are complete (the final evaluation's line included),
	// also when the run is interrupted (the curves so far) or the final evaluation stops or fails.
	closeAndPlot := func() error {
		if err := metrics.Close(); err != nil {
			return err
		}
		if err := plotMetrics(metricsPath); err != nil {
			logger.Warn("could not plot the metrics", "err", err)
		}
		if err := PlotConfusion(cfg.CheckpointDir, res.Confusion, fmt.Sprintf("Offline linear probe of the encoder at step %d, the %s images", res.Steps, res.EvalSplit)); err != nil {
			logger.Warn("could not draw the confusion matrix", "err", err)
		}
		return nil
	}
	if lr.Interrupted {
		if err := closeAndPlot(); err != nil {
			return nil, err
		}
		return res, nil
	}
	if cfg.ExportEncoder != "" {
		if err := encoder.Export(cfg.ExportEncoder, ctx, cfg); err != nil {
			return nil, err
		}
		logger.Info("encoder exported", "path", cfg.ExportEncoder)
	}
	resultPath := filepath.Join(cfg.CheckpointDir, results.File)
	if d.eval != nil {
		res.EvalSplit = d.eval.Info().Split
		if err := ev.final(res); errors.Is(err, errEvaluationStopped) {
			logger.Warn("final evaluation stopped by a signal: the trained checkpoint is saved; -resume evaluates it", "checkpoint", res.Checkpoint)
			res.Interrupted = true
			// What the phases before the signal measured is kept; how it was trained is written now:
			// the resumed run trains nothing and carries it.
			if err := closeAndPlot(); err != nil {
				return nil, err
			}
			if res.Trained == 0 && completeResult(resultPath, res.Steps) {
				// A finished run evaluated again (-resume): the complete evaluation of the same
				// checkpoint already in result.json is not replaced by the phases done before the signal.
				logger.Warn("the evaluation again of the finished run was stopped: result.json keeps its earlier, complete evaluation", "result", resultPath)
				return res, nil
			}
			if err := writeResult(resultPath, res); err != nil {
				return nil, err
			}
			return res, nil
		} else if err != nil {
			_ = closeAndPlot()
			return nil, fmt.Errorf("%w\nthe trained checkpoint %s is saved: fix the cause and rerun with -resume, which evaluates it without training again%s",
				err, res.Checkpoint, ResumeAdvice(err))
		}
		// The final accuracies join the metrics, at the last step: the end of the kNN curve that
		// -eval-every draws.
		final := map[string]float64{results.KeyStep: float64(res.Steps), results.KeyEpoch: float64(res.Steps) / float64(batchesPerEpoch)}
		if res.Linear != nil {
			final[results.KeyLinearAcc] = *res.Linear
		}
		if res.KNN != nil {
			final[results.KeyKNNAcc] = *res.KNN
		}
		if err := metrics.Write(final); err != nil {
			return nil, err
		}
	}
	if err := closeAndPlot(); err != nil {
		return nil, err
	}
	if err := writeResult(resultPath, res); err != nil {
		return nil, err
	}
	return res, nil
}

// RefuseOverResult returns a *config.FieldError (-checkpoint-dir) for a run about to start from
// its first step (pretraining or fine-tuning) in a folder that holds the result of an earlier run
// but no checkpoint (removed to save space, say): the new run would replace that result.json and
// config.json and add its lines to that metrics.jsonl.
func RefuseOverResult(dir string) error {
	path := filepath.Join(dir, results.File)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	return config.Errorf("checkpoint-dir", "%s holds the %s of an earlier run but no checkpoint: a new run would replace it and the %s beside it, and add to its metrics.jsonl; move them away or choose another -checkpoint-dir (nothing was overwritten)",
		dir, results.File, config.FileName)
}

// checkExportPath refuses, before any work, an -export-encoder file that could not be written
// (its folder does not exist or cannot be written, or it is a folder): the encoder is exported
// after the last step, and a bad path found then would cost the whole training.
func checkExportPath(path string) error {
	if path == "" {
		return nil
	}
	if err := atomicfile.CheckWritable(path, "encoder.safetensors"); err != nil {
		return config.Errorf("export-encoder", "%v", err)
	}
	return nil
}

// writeResult writes res to path; a run that trained nothing (resumed after its last step)
// keeps the training figures of the result already there.
func writeResult(path string, res *results.Pretrain) error {
	stored := *res
	if res.Trained == 0 {
		keepTraining(path, &stored)
	}
	return results.Write(path, stored)
}

// completeResult reports whether path holds the result of an evaluation of the checkpoint of
// step steps that was not interrupted.
func completeResult(path string, steps int64) bool {
	old, err := results.ReadAs[results.Pretrain](path)
	return err == nil && old.Steps == steps && !old.Interrupted
}

// keepTraining carries the training figures (steps trained, time, compilations) of the result
// already at path into res, the stored result of a run resumed after its last step that trained
// nothing: evaluating it again must not erase how it was trained. The backend, the machine and
// the date go with them: those of the process that trained (empty where the old result did not
// record them).
func keepTraining(path string, res *results.Pretrain) {
	if old, err := results.ReadAs[results.Pretrain](path); err == nil && old.Steps == res.Steps {
		res.Trained, res.TrainTime, res.StepCompilations = old.Trained, old.TrainTime, old.StepCompilations
		res.KeepTrainedOn(old.Provenance)
	}
}

// diffConfig lists how the configuration saved in a checkpoint differs from cfg in the fields
// that change the computation (local fields such as folders and workers may differ).
func diffConfig(saved json.RawMessage, cfg config.Config) []string {
	if _, weights, ok := encoder.FineTuning(saved); ok {
		return []string{fmt.Sprintf("the folder holds a fine-tuning run (-weights %s), not a pretraining run: continue it with go run ./evaluate -weights %[1]s -resume and the flags that started it",
			weights)}
	}
	old, err := config.Parse(saved, config.Config{})
	if err != nil {
		return []string{fmt.Sprintf("the saved configuration cannot be read: %v", err)}
	}
	return checkpoints.DiffConfig(old.StoredJSON(), cfg.StoredJSON())
}
