package finetune

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	_ "github.com/gomlx-ssl/vicreg/datasets/hfdata" // reads the datasets library's Arrow files as a folder
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/linalg"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
	"github.com/gomlx-ssl/vicreg/train/optim"
	"github.com/gomlx-ssl/vicreg/train/trainer"
)

// Pretrained loads the encoder to fine-tune from path (a run folder, a checkpoint or an exported
// encoder) and returns its variables and their fingerprint.
func Pretrained(b backends.Backend, path string) (config.Config, []checkpoints.Variable, string, error) {
	enc, err := encoder.Load(b, path)
	if err != nil {
		return config.Config{}, nil, "", err
	}
	defer enc.Close()
	vars, err := checkpoints.FromContext(enc.Context())
	if err != nil {
		return config.Config{}, nil, "", err
	}
	vars = encoder.Variables(vars)
	return enc.Config, vars, fingerprint(vars), nil
}

// fingerprint is a SHA-256 over the variables' names, shapes and values, in key order.
func fingerprint(vars []checkpoints.Variable) string {
	sorted := append([]checkpoints.Variable(nil), vars...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key() < sorted[j].Key() })
	h := sha256.New()
	for _, v := range sorted {
		fmt.Fprintf(h, "%s %s\n", v.Key(), v.Value.Shape())
		_ = v.Value.ConstBytes(func(data []byte) { h.Write(data) })
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Run fine-tunes according to cfg, starting from the encoder variables init (those of
// Pretrained; nil with cfg.Scratch).
func Run(b backends.Backend, cfg Config, init []checkpoints.Variable, opts trainer.Options) (res *results.Finetune, rerr error) {
	start := time.Now()
	logger := opts.Logger
	if logger == nil {
		logger = log.Default()
	}
	cfg.LastBatch = true
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !backend.IsXLA(b.Name()) {
		return nil, fmt.Errorf("backend %q cannot train convolutional networks: unset GOMLX_BACKEND or set it to xla:cpu or xla:cuda", b.Name())
	}
	if cfg.Scratch != (init == nil) {
		return nil, errors.New("finetune.Run: give the pretrained variables, or set Scratch (not both)") // programming error
	}
	dtype, err := config.PrecisionDType(cfg.Encoder.Precision)
	if err != nil {
		return nil, err
	}
	train, test, err := loadData(cfg, logger)
	if err != nil {
		return nil, err
	}
	if n := train.Info().Len; n < cfg.BatchSize {
		if n < 2 {
			return nil, config.Errorf("train-percent", "%g%% of the labels is %d training image: batch norm needs at least 2 per batch; use a larger -train-percent", cfg.TrainPercent, n)
		}
		logger.Info("fewer training images than the default batch: each step takes all of them (-batch-size sets it)",
			"images", n, "default_batch", cfg.BatchSize)
		cfg.BatchSize = n
	}
	classes := train.Info().NumClasses
	if classes == 1 {
		return nil, config.Errorf("data-dir", "%s: the images are in one class folder: every accuracy would be 100%% by construction; fine-tune on a data set of two or more classes", datasets.DataDirOf(cfg.Dataset, cfg.DataDir))
	}
	// The encoder sees another data set's images as it saw its training images: at its view size,
	// normalised with their statistics (as frozen-feature evaluation does).
	size, err := cfg.Encoder.ViewSize()
	if err != nil {
		return nil, err
	}
	if n := train.Info().Len; cfg.Weights != Freeze && n%cfg.BatchSize == 1 && cfg.Encoder.Model.LastFeatureSide(size) == 1 {
		// Each epoch ends with a batch of one image (as evaluate.py's), whose 1x1 feature maps
		// batch norm cannot normalise in training mode: refused now, not at the first epoch's end.
		return nil, config.Errorf("batch-size", "%d training images at batch %d leave a last batch of 1 image each epoch, and the encoder's last feature maps are 1x1 at %d pixels: batch norm in training mode cannot normalise it (PyTorch refuses it too); use another -batch-size",
			n, cfg.BatchSize, size)
	}
	mean, std := cfg.Encoder.Normalisation(train.Info())
	aug := augmentation(cfg.Augment, size)

	mgr, unlock, err := trainer.OpenCheckpoints(cfg.CheckpointDir, cfg.KeepLast, results.KeyTop1, logger)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, err
	}
	if init != nil {
		if err := checkpoints.ToContext(ctx, init); err != nil {
			return nil, fmt.Errorf("the pretrained encoder: %w", err)
		}
	}
	var from trainer.Resumed
	if !cfg.Resume {
		if err := trainer.RefuseOverwrite(mgr); err != nil {
			return nil, err
		}
	}
	if cfg.CheckpointMirror != "" { // before Resume: it restores the bucket's newer checkpoints
		if mgr.Mirror, err = trainer.OpenMirror(mgr, cfg.CheckpointMirror, cfg.Resume, logger); err != nil {
			return nil, err
		}
	}
	if cfg.Resume {
		earlier := false
		diff := func(saved json.RawMessage) []string {
			d := cfg.diff(saved)
			earlier = len(d) == 1 && d[0] == earlierVersion
			return d
		}
		if from, err = trainer.Resume(mgr, ctx, logger, diff); err != nil {
			if earlier { // no saved values to rerun with: say what can be done
				return nil, &config.FieldError{Msg: fmt.Sprintf("cannot resume %s: %s", cfg.CheckpointDir, earlierVersion)}
			}
			return nil, err
		}
	}
	if from.Step == 0 {
		if err := trainer.RefuseOverResult(cfg.CheckpointDir); err != nil {
			return nil, err
		}
	}
	if mgr.Mirror != nil {
		// As in pretraining: what the folder holds and the bucket lacks goes up at once, and
		// whatever ends the run from here, what it saved reaches the bucket before it returns.
		mgr.Mirror.Sync()
		defer func() {
			if merr := trainer.FinishMirror(mgr.Mirror, logger); merr != nil && rerr == nil {
				res, rerr = nil, merr
			}
		}()
	}
	if cfg.Weights == Freeze {
		freeze(ctx)
	}
	// The position resumed from is checked against the data before config.json is written.
	loader, err := datasets.NewLoader(train, datasets.LoaderConfig{BatchSize: cfg.BatchSize, Seed: cfg.Seed, KeepLastBatch: true,
		Workers: cfg.Workers, Augmentation: aug, Mean: mean, Std: std, SkipBadImages: cfg.SkipBadImages, Logger: logger}, from.Position)
	if err != nil {
		return nil, trainer.DataError(trainer.ResumeDataHint(err, from, cfg.CheckpointDir))
	}
	defer loader.Close()
	stored := cfg // the run, not this command's -resume (as pretraining's config.json)
	stored.Resume = false
	if err := atomicfile.WriteFile(filepath.Join(cfg.CheckpointDir, config.FileName), append(stored.JSON(), '\n'), 0); err != nil {
		return nil, err
	}
	metricsPath := filepath.Join(cfg.CheckpointDir, results.MetricsFileName)
	metrics, err := results.OpenMetrics(metricsPath)
	if err != nil {
		return nil, err
	}
	defer metrics.Close()

	// As evaluate.py: an epoch trains on every image, the last batch smaller (a second compiled
	// program), and the cosine schedule steps once an epoch (CosineAnnealingLR, T_max epochs).
	batchesPerEpoch := int64(loader.BatchesPerEpoch())
	total := int64(cfg.Epochs) * batchesPerEpoch
	schedule := optim.Schedule{Base: cfg.LRBackbone, TotalSteps: int64(cfg.Epochs), Every: batchesPerEpoch}
	// evaluate.py's SGD decays every backbone parameter, batch norm's included (DecayAll).
	opt, err := optim.New(optim.Config{Kind: "sgd", Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay, DecayAll: true,
		Schedule:  schedule,
		HeadScope: "/" + HeadScope, HeadLR: cfg.LRHead, HeadScheduled: true, HeadWeightDecay: cfg.WeightDecay})
	if err != nil {
		return nil, fmt.Errorf("the optimiser: %w", err)
	}
	net := &network{model: cfg.Encoder.Model, dtype: dtype, classes: classes, frozen: cfg.Weights == Freeze}
	var classWeights []float32
	if cfg.ClassWeight == "balanced" {
		classWeights = eval.ClassWeightsOf(labelCounts(train, classes)) // loadData checked that there are counts
		logger.Info("class weights (balanced)", "weights", classWeights)
	}
	stepExec, err := context.NewExec(b, ctx.Checked(false), func(ctx *context.Context, images, labels *Node) []*Node {
		g := images.Graph()
		loss, acc := trainer.MaskedCrossEntropy(net.logits(ctx, images, !net.frozen), labels, classWeights)
		lr := schedule.WithBase(cfg.LRHead).Graph(optim.StepVar(ctx).ValueGraph(g))
		opt.UpdateGraph(ctx, g, loss)
		return []*Node{loss, acc, lr}
	})
	if err != nil {
		return nil, fmt.Errorf("building the fine-tuning step: %w", err)
	}
	stepExec = stepExec.SetMaxCache(2) // the full batches and the last, smaller one
	defer stepExec.Finalize()
	evalExec, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, images *Node) *Node {
		return net.logits(ctx, images, false)
	})
	if err != nil {
		return nil, fmt.Errorf("building the evaluation program: %w", err)
	}
	defer evalExec.Finalize()

	logger.Info("fine-tuning", "weights", cfg.Weights, "scratch", cfg.Scratch, "dataset", cfg.Dataset,
		"train_images", train.Info().Len, "view", size, "percent", cfg.TrainPercent, "epochs", cfg.Epochs, "steps", total,
		"lr_backbone", cfg.LRBackbone, "lr_head", cfg.LRHead, "wd", cfg.WeightDecay, "batch", cfg.BatchSize)
	res = &results.Finetune{Kind: results.KindFinetune, TrainImages: train.Info().Len, TestImages: test.Info().Len,
		Provenance: backend.Provenance(b, cfg.Dataset, datasets.DataDirOf(cfg.Dataset, cfg.DataDir), cfg.Seed, start)}
	// evaluate measures the test accuracies of the classifier as it is at epoch; it returns
	// errStopped once stop (if not nil) is set.
	var last accuracies // the latest evaluation's, for its per-class figures
	evaluate := func(epoch float64, stop *atomic.Bool) (map[string]float64, error) {
		acc, err := accuracy(evalExec, test, datasets.EvalConfig{BatchSize: max(cfg.BatchSize, 256), Size: size,
			Mean: mean, Std: std, SkipBadImages: cfg.SkipBadImages}, classes, stop)
		if err != nil {
			return nil, err
		}
		last = acc
		logger.Info("evaluated", "epoch", fmt.Sprintf("%.2f", epoch), "top1", fmt.Sprintf("%.4f", acc.top1), "top5", fmt.Sprintf("%.4f", acc.top5),
			"balanced", fmt.Sprintf("%.4f", acc.balanced))
		out := map[string]float64{results.KeyTop1: acc.top1, results.KeyBalanced: acc.balanced}
		if acc.top5 >= 0 {
			out[results.KeyTop5] = acc.top5
		}
		return out, nil
	}
	loop := &trainer.Loop{
		Ctx: ctx, Manager: mgr, Config: cfg.JSON(), Metrics: metrics, Loader: loader,
		Total: total, BatchesPerEpoch: batchesPerEpoch, LogEvery: int64(cfg.LogEvery),
		Step: func(batch *datasets.Batch) (map[string]float64, error) {
			outs, err := stepExec.Exec(tensors.FromFlatDataAndDimensions(batch.View1, batch.Dims()...), batch.Labels)
			if err != nil {
				return nil, err
			}
			values := make(map[string]float64, len(outs))
			for i, o := range outs {
				values[stepOutputs[i]] = float64(tensors.ToScalar[float32](o))
				o.FinalizeAll()
			}
			return values, nil
		},
		Names: func() []string { return stepOutputs },
		EndOfEpoch: func(step int64, epoch float64, last bool) (map[string]float64, error) {
			return evaluate(epoch, nil) // the loop checks the signal between steps
		},
		SaveMetric: results.KeyTop1, Logger: logger, Opts: opts,
	}
	lr, err := loop.Run(from)
	if err != nil {
		return nil, err
	}
	if lr.Trained == 0 && !lr.Interrupted {
		// A finished run resumed: its checkpoint holds top-1 alone; both accuracies are measured
		// again on its last checkpoint (what the run measured at its end). A signal stops the
		// evaluation between batches, and result.json is left as it was.
		logger.Info("the run is already complete: nothing to train; evaluating its last checkpoint", "step", lr.Steps, "checkpoint", lr.Checkpoint)
		last, err := evaluate(float64(lr.Steps)/float64(batchesPerEpoch), opts.Stop)
		switch {
		case errors.Is(err, errStopped):
			logger.Warn("evaluation stopped by a signal: result.json is unchanged", "checkpoint", lr.Checkpoint)
			lr.Interrupted = true
		case err != nil:
			return nil, err
		default:
			lr.Last = last
		}
	}
	res.Steps, res.Trained, res.Interrupted, res.Checkpoint, res.TrainTime = lr.Steps, lr.Trained, lr.Interrupted, lr.Checkpoint, lr.TrainTime
	if v, ok := lr.Last[results.KeyTop1]; ok {
		res.Top1 = results.Acc(v)
	}
	if v, ok := lr.Last[results.KeyTop5]; ok {
		res.Top5 = results.Acc(v)
	}
	if v, ok := lr.Last[results.KeyBalanced]; ok {
		res.Balanced = results.Acc(v)
	}
	if last.confusion != nil {
		res.Confusion = trainer.NewConfusion(train.Info(), last.confusion)
	}
	for c, row := range last.confusion {
		pc := results.ClassRecall{Class: train.Info().ClassName(c)}
		for _, n := range row {
			pc.TestImages += n
		}
		if pc.TestImages > 0 {
			pc.Recall = results.Acc(float64(row[c]) / float64(pc.TestImages))
		}
		res.PerClass = append(res.PerClass, pc)
	}
	if err := metrics.Close(); err != nil {
		return nil, err
	}
	// The figure is drawn last, once what it could cost is written (the checkpoints, the metrics,
	// the result): the curves so far when the run was interrupted.
	defer func() {
		if err := plotMetrics(metricsPath, cfg); err != nil {
			logger.Warn("could not plot the fine-tuning metrics", "err", err)
		}
		if err := trainer.PlotConfusion(cfg.CheckpointDir, res.Confusion, confusionTitle(res, cfg)); err != nil {
			logger.Warn("could not draw the confusion matrix", "err", err)
		}
	}()
	if res.Interrupted {
		return res, nil
	}
	if cfg.ExportEncoder != "" {
		if err := encoder.Export(cfg.ExportEncoder, ctx, cfg.Encoder); err != nil {
			return nil, err
		}
	}
	resultPath := filepath.Join(cfg.CheckpointDir, results.File)
	written := *res
	if res.Trained == 0 {
		keepTraining(resultPath, &written)
	}
	if err := results.Write(resultPath, written); err != nil {
		return nil, err
	}
	if cfg.Predictions != "" {
		target, root := test, datasets.DataDirOf(cfg.Dataset, cfg.DataDir)
		if cfg.Predict != "" {
			if target, err = datasets.Open("folder", "", datasets.Options{DataDir: cfg.Predict, ExifOrientation: cfg.Encoder.ExifOrientation}); err != nil {
				return nil, config.Errorf("predict", "%v", err)
			}
			datasets.WarnLeftOut(target, logger)
			root = cfg.Predict
		}
		n, err := writePredictions(evalExec, target, root, datasets.EvalConfig{BatchSize: max(cfg.BatchSize, 256), Size: size,
			Mean: mean, Std: std, SkipBadImages: cfg.SkipBadImages}, train.Info(), cfg.Predictions, cfg.Probabilities, opts.Stop)
		if err != nil {
			return nil, err
		}
		logger.Info("wrote the classifier's predictions", "images", n, "file", cfg.Predictions)
	}
	return res, nil
}

// keepTraining carries the training figures (steps trained, time) of the result already at path
// into res, the stored result of a run resumed after its last step that trained nothing:
// evaluating it again must not erase how it was trained. The backend, the machine and the date go
// with them: those of the process that trained (empty where the old result did not record them).
func keepTraining(path string, res *results.Finetune) {
	if old, err := results.ReadAs[results.Finetune](path); err == nil && old.Steps == res.Steps {
		res.Trained, res.TrainTime = old.Trained, old.TrainTime
		res.KeepTrainedOn(old.Provenance)
	}
}

// errStopped is accuracy's error when its stop flag is set (a signal).
var errStopped = errors.New("evaluation stopped by a signal")

// stepOutputs name the training step's outputs, in order: their means over each log window are
// the training lines of metrics.jsonl (the evaluation lines hold "top1" and "top5").
var stepOutputs = []string{results.KeyLoss, results.KeyBatchAcc, results.KeyLRHead}

// freeze makes every encoder variable non-trainable (the classifier alone learns).
func freeze(ctx *context.Context) {
	for v := range ctx.IterVariables() {
		if isEncoderScope(v.Scope()) {
			v.SetTrainable(false)
		}
	}
}

func isEncoderScope(scope string) bool {
	p := context.ScopeSeparator + encoder.Scope
	return scope == p || len(scope) > len(p) && scope[:len(p)+1] == p+context.ScopeSeparator
}

// network is the encoder and a linear classifier.
type network struct {
	model   models.Config
	dtype   dtypes.DType
	classes int
	frozen  bool
}

// logits adds the encoder (in training mode when training) and the classifier to the graph. The
// classifier is evaluate.py's: weights ~ N(0, 0.01²), biases 0.
func (n *network) logits(ctx *context.Context, images *Node, training bool) *Node {
	g := images.Graph()
	ctx.SetTraining(g, training)
	f := encoder.Build(ctx, n.model, n.dtype, images)
	if n.frozen {
		f = StopGradient(f)
	}
	head := ctx.In(HeadScope)
	w := head.WithInitializer(initializers.RandomNormalFn(head, 0.01)).
		VariableWithShape("weights", shapes.Make(dtypes.Float32, f.Shape().Dimensions[1], n.classes)).ValueGraph(g)
	bias := head.WithInitializer(initializers.Zero).VariableWithShape("biases", shapes.Make(dtypes.Float32, n.classes)).ValueGraph(g)
	return Add(linalg.MatMul(f, w), InsertAxes(bias, 0))
}

// accuracies are a classifier's test accuracies: top-1, top-5 (only with more than 5 classes,
// else -1) and the balanced accuracy of its top-1 predictions; and their confusion matrix
// (eval.ConfusionMatrix), whose rows count each class's test images and whose diagonal those of
// them predicted right.
type accuracies struct {
	top1, top5, balanced float64
	confusion            [][]int
}

// accuracy is the accuracies of the network on ds, in evaluation mode, its images prepared as ec
// says (with SkipBadImages, those that do not decode are left out). It returns errStopped once
// stop (if not nil) is set.
func accuracy(exec *context.Exec, ds datasets.Data, ec datasets.EvalConfig, classes int, stop *atomic.Bool) (acc accuracies, err error) {
	x, err := classScores(exec, ds, ec, classes, stop)
	if err != nil {
		return acc, err
	}
	scores, labels := x.X, x.Labels
	if acc.top1, err = eval.TopK(scores, labels, classes, 1); err != nil {
		return acc, err
	}
	pred := eval.Top1(scores, classes) // TopK has checked the scores
	acc.balanced, acc.confusion = eval.Balanced(pred, labels, classes), eval.ConfusionMatrix(pred, labels, classes)
	acc.top5 = -1
	if classes > 5 {
		if acc.top5, err = eval.TopK(scores, labels, classes, 5); err != nil {
			return acc, err
		}
	}
	return acc, nil
}

// classScores runs the network on ds, in evaluation mode, its images prepared as ec says (with
// SkipBadImages, those that do not decode are left out), and returns each image's scores as
// features (eval.Collect: the logits, row-major [images, classes], with each row's label and
// name). It returns errStopped once stop (if not nil) is set.
func classScores(exec *context.Exec, ds datasets.Data, ec datasets.EvalConfig, classes int, stop *atomic.Bool) (eval.Features, error) {
	return eval.Collect(ds, ec, func(bt *datasets.Batch) ([]float32, int, error) {
		if stop != nil && stop.Load() {
			return nil, 0, errStopped
		}
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(bt.View1, bt.Dims()...))
		if err != nil {
			return nil, 0, fmt.Errorf("evaluating: %w", err)
		}
		defer out[0].FinalizeAll()
		return tensors.MustCopyFlatData[float32](out[0]), classes, nil
	}, nil)
}

// writePredictions writes the classifier's prediction of each image of ds (the test split, or
// the folder cfg.Predict) to cfg.Predictions (eval.WritePredictions: each image's file relative
// to root, or its key or index; with probabilities, every class's). classNames are the training
// split's classes.
func writePredictions(exec *context.Exec, ds datasets.Data, root string, ec datasets.EvalConfig, classNames datasets.Info, path string, probabilities bool, stop *atomic.Bool) (int, error) {
	x, err := classScores(exec, ds, ec, classNames.NumClasses, stop)
	if err != nil {
		return 0, err
	}
	p := eval.Predict(x.X, classNames.NumClasses)
	return x.N, eval.WritePredictions(path, eval.Predictions{X: x, Root: root, Labels: ds.Info(), Classes: classNames, P: p, Probabilities: probabilities})
}

// loadData opens the labelled training split (its TrainPercent fraction) and the test split.
func loadData(cfg Config, logger *log.Logger) (train, test datasets.Data, err error) {
	opt := cfg.Encoder.DataOptions(cfg.DataDir, cfg.ShardCache) // the images as the encoder saw them
	opt.LabelColumn, opt.LabelTable, opt.ClassNames, opt.ValPercent, opt.SplitColumn = cfg.LabelColumn, cfg.LabelTable, cfg.ClassNames, cfg.ValPercent, cfg.SplitColumn
	opt.TestSplit = cfg.TestSplit
	full, err := datasets.Open(cfg.Dataset, datasets.SplitTrain, opt)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, datasets.ErrUsage) {
		return nil, nil, config.Errorf("data-dir", "%v", err)
	}
	if err != nil {
		return nil, nil, err
	}
	datasets.WarnLeftOut(full, logger)
	info := full.Info()
	if info.NumClasses == 0 {
		return nil, nil, config.Errorf("dataset", "%s has no labels to fine-tune on: use a labelled data set", cfg.Dataset)
	}
	if info.Channels != cfg.Encoder.Model.InChannels {
		return nil, nil, config.Errorf("dataset", "the encoder takes %d-channel images but %s has %d channels: fine-tune it on a %d-channel data set",
			cfg.Encoder.Model.InChannels, cfg.Dataset, info.Channels, cfg.Encoder.Model.InChannels)
	}
	train = full
	if cfg.TrainPercent < 100 {
		src, ok := full.(datasets.Source)
		if !ok {
			return nil, nil, config.Errorf("train-percent", "label fractions need a data set read in any order (in memory or an image folder), not -dataset %s", cfg.Dataset)
		}
		idx, err := datasets.LabelFraction(datasets.Labels(src), info.NumClasses, cfg.TrainPercent, cfg.Seed)
		if err != nil {
			return nil, nil, config.Errorf("train-percent", "%v", err)
		}
		train = datasets.Select(src, idx)
	}
	if cfg.ClassWeight != "" && labelCounts(train, info.NumClasses) == nil {
		return nil, nil, config.Errorf("class-weight", "class weights need each class's number of training images beforehand, which the index %s does not record (written before indexes counted them, or by widsindex; or a part of its shards, held out by -val-percent): write it again with go run ./datasets/mkshards -index, or name the shards by their folder or a pattern (they are then scanned once, and their labels counted)", datasets.DataDirOf(cfg.Dataset, cfg.DataDir))
	}
	if n := train.Info().Len; n < cfg.BatchSize && !cfg.FitBatch {
		return nil, nil, config.Errorf("batch-size", "%d is larger than the %d training images (%g%% of %d): use a smaller -batch-size",
			cfg.BatchSize, n, cfg.TrainPercent, info.Len)
	}
	test, err = datasets.OpenTest(cfg.Dataset, opt)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, datasets.ErrUsage) {
		return nil, nil, config.Errorf("data-dir", "%v", err)
	}
	if err != nil {
		return nil, nil, err
	}
	datasets.WarnLeftOut(test, logger)
	if ds, ok := test.(*datasets.Dataset); ok {
		if cfg.EvalSubset > ds.N {
			return nil, nil, config.Errorf("eval-subset", "%d is more than the %d images of the test split: use -eval-subset %d or less, or -eval-subset 0 for all of them", cfg.EvalSubset, ds.N, ds.N)
		}
		test = ds.Head(cfg.EvalSubset)
	} else if cfg.EvalSubset > 0 {
		return nil, nil, config.Errorf("eval-subset", "applies to in-memory data sets (mnist, cifar10, ...), not to -dataset %s", cfg.Dataset)
	}
	return train, test, nil
}

// augmentation is the supervised training augmentation (one view is used), of side size.
func augmentation(name string, size int) datasets.Augmentation {
	v := datasets.ViewConfig{Size: size, CropScale: [2]float64{0.08, 1}, CropRatio: [2]float64{0.75, 4.0 / 3}, FlipProb: 0.5}
	switch name {
	case "mnist":
		v = datasets.ViewConfig{Size: size, CropScale: [2]float64{0.6, 1}, CropRatio: [2]float64{0.8, 1.25}}
	case "none":
		v = datasets.ViewConfig{Size: size}
	}
	return datasets.Augmentation{Name: "supervised-" + name, View1: v, View2: datasets.ViewConfig{Size: size}}
}

// labelCounts returns the number of training images of each of classes classes: counted from the
// labels of a data set read in any order, or as shards' scan or index counted them; nil where
// they are not known beforehand (shards opened by an index that does not count them).
func labelCounts(train datasets.Data, classes int) []int {
	switch d := train.(type) {
	case datasets.Source:
		count := make([]int, classes)
		for _, l := range datasets.Labels(d) {
			if l >= 0 && int(l) < classes {
				count[l]++
			}
		}
		return count
	case *datasets.Shards:
		if c := d.LabelCounts(); c != nil {
			count := make([]int, classes)
			copy(count, c)
			return count
		}
	}
	return nil
}
