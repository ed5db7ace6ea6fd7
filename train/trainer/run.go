package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/optim"
)

// Result summarises a finished (or interrupted) run.
type Result struct {
	Steps        int64
	Interrupted  bool    // stopped by a signal; a checkpoint was written
	Checkpoint   string  // the last checkpoint written
	ProbeAcc     float64 // online probe accuracy on the test split at the end (-1 if none)
	Linear       float64 // offline linear probe test accuracy (-1 if not run)
	KNN          float64 // kNN test accuracy (-1 if not run)
	PixelLinear  float64 // baseline: linear probe on raw pixels (-1 if not run)
	RandomLinear float64 // baseline: linear probe on a randomly initialised encoder (-1 if not run)
	TrainTime    time.Duration
	// StepCompilations counts how often the training step was compiled: 1, whatever the steps.
	StepCompilations int
}

// Options are the parts of a run that are not part of its configuration.
type Options struct {
	Logger *log.Logger
	// Stop, when it becomes true, makes the loop finish the current step, write a checkpoint and
	// return with Result.Interrupted set (the command sets it on SIGINT and SIGTERM).
	Stop *atomic.Bool
	// Progress is where the progress bar is drawn (nil: standard error).
	Progress *os.File
	// NoProgressBar disables the bar (tests, non-interactive runs).
	NoProgressBar bool
	// AfterStep, when set, is called after every training step with the number of steps done.
	AfterStep func(step int64)

	// injectFault, in tests, may alter a step's outputs before they are checked.
	injectFault func(step int64, out map[string]float64)
}

// ErrNonFinite is wrapped by the error returned when a loss term or a variable becomes NaN or
// infinite.
var ErrNonFinite = errors.New("non-finite training state")

// MaxRollbacks bounds how often one run rolls back to a checkpoint with -on-nonfinite rollback.
const MaxRollbacks = 3

// nonFiniteError says which step and which value went non-finite, and what is safe on disk.
type nonFiniteError struct {
	step  int64
	what  string // "loss = NaN" or "variable /encoder/conv1/weights[12]"
	saved string
}

func (e *nonFiniteError) Error() string {
	return fmt.Sprintf("%v at step %d: %s; stopping without saving (%s): lower -lr, check the data, or pass -on-nonfinite rollback",
		ErrNonFinite, e.step, e.what, e.saved)
}

func (e *nonFiniteError) Unwrap() error { return ErrNonFinite }

// Run pretrains according to cfg (which must be valid), then evaluates the encoder.
func Run(b backends.Backend, cfg Config, opts Options) (*Result, error) {
	logger := opts.Logger
	if logger == nil {
		logger = log.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res := &Result{ProbeAcc: -1, Linear: -1, KNN: -1, PixelLinear: -1, RandomLinear: -1}

	// Data.
	loadOpt := datasets.Options{DataDir: cfg.DataDir}
	train, err := datasets.LoadWith(cfg.Dataset, datasets.SplitTrain, loadOpt)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usage("data-dir", "%v", err)
	}
	if err != nil {
		return nil, err
	}
	train = train.Head(cfg.Subset)
	if train.Channels != cfg.Model.InChannels {
		return nil, usage("channels", "the encoder takes %d-channel images but %s has %d channels: set -channels %d",
			cfg.Model.InChannels, cfg.Dataset, train.Channels, train.Channels)
	}
	if train.N < cfg.BatchSize {
		return nil, usage("batch-size", "%d is larger than the %d training images", cfg.BatchSize, train.N)
	}
	var test *datasets.Dataset
	if train.NumClasses > 0 {
		if test, err = datasets.LoadWith(cfg.Dataset, datasets.SplitTest, loadOpt); err != nil {
			return nil, err
		}
		test = test.Head(cfg.EvalSubset)
	}
	aug, err := datasets.Preset(cfg.Augment, train)
	if err != nil {
		return nil, usage("augment", "%v", err)
	}

	if !backend.IsXLA(b.Name()) {
		return nil, fmt.Errorf("backend %q cannot train convolutional networks (GoMLX's pure Go backend lacks the convolution gradient and batch-norm training ops): unset GOMLX_BACKEND or set it to xla:cpu or xla:cuda", b.Name())
	}

	// Network, objective, optimiser.
	objective, err := losses.New(cfg.Loss, cfg.LossParams)
	if err != nil {
		return nil, usage("loss", "%v", err)
	}
	expander, _ := models.ParseExpander(cfg.Expander)
	if err := CheckDevices(b, cfg.Devices); err != nil {
		return nil, err
	}
	net := &Network{Model: cfg.Model, Expander: expander, NumClasses: train.NumClasses, Objective: objective, Precision: cfg.Precision}
	batchesPerEpoch := int64(train.N / cfg.BatchSize)
	total := cfg.Steps
	if total <= 0 {
		total = int64(cfg.Epochs) * batchesPerEpoch
	}
	peak := cfg.LR * float64(cfg.BatchSize) / 256
	warmup := min(int64(math.Round(cfg.WarmupEpochs*float64(batchesPerEpoch))), total)
	opt, err := optim.New(optim.Config{Kind: cfg.Optimizer, WeightDecay: cfg.WeightDecay, Momentum: cfg.Momentum,
		Eta: cfg.Eta, Clip: cfg.Clip, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8,
		Schedule:  optim.Schedule{Base: peak, WarmupSteps: warmup, TotalSteps: total, FinalFraction: 0.001},
		HeadScope: "/" + ProbeScope, HeadLR: cfg.ProbeLR})
	if err != nil {
		return nil, usage("optimizer", "%v", err)
	}

	// Checkpoints and resume. The folder's lock comes first: NewManager removes leftover
	// temporary files, which must not be those of another process writing into the folder.
	// (Temporary wiring of the storage branch: the lead redoes it in the restructured trainer.)
	lock, err := checkpoints.Lock(cfg.CheckpointDir, logger)
	if err != nil {
		return nil, usage("checkpoint-dir", "%v", err)
	}
	defer lock.Unlock()
	mgr, err := checkpoints.NewManager(cfg.CheckpointDir, cfg.KeepLast, "probe_acc")
	if err != nil {
		return nil, usage("checkpoint-dir", "%v", err)
	}
	mgr.Logger = logger
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, err
	}
	start := datasets.Position{}
	var step int64
	if cfg.Resume {
		state, path, err := mgr.LoadLatest()
		switch {
		case errors.Is(err, checkpoints.ErrNoCheckpoint):
			logger.Info("no checkpoint to resume from: starting a new run", "dir", cfg.CheckpointDir)
		case err != nil:
			return nil, fmt.Errorf("cannot resume: %w\nnothing was deleted: restore a good checkpoint into %s, or move the damaged ones away to start a new run", err, cfg.CheckpointDir)
		default:
			if diff := checkpoints.DiffConfig(state.Config, cfg.JSON()); len(diff) > 0 {
				return nil, &UsageError{Msg: fmt.Sprintf("cannot resume from %s: the configuration differs:\n  %s\nrerun with the saved values, or use another -checkpoint-dir",
					path, strings.Join(diff, "\n  "))}
			}
			if err := checkpoints.ToContext(ctx, state.Variables); err != nil {
				return nil, fmt.Errorf("resuming from %s: %w", path, err)
			}
			if err := json.Unmarshal(state.Data, &start); err != nil {
				return nil, fmt.Errorf("resuming from %s: data position: %w", path, err)
			}
			step = state.Step
			logger.Info("resuming", "checkpoint", path, "step", step, "epoch", start.Epoch)
		}
	} else if paths, err := mgr.List(); err != nil {
		return nil, err // e.g. only checkpoints of the old format: the error names the converter
	} else if len(paths) > 0 {
		return nil, &UsageError{Flag: "resume", Msg: fmt.Sprintf("%s already holds checkpoints of a run: pass -resume to continue it, or choose another -checkpoint-dir (nothing was overwritten)", cfg.CheckpointDir)}
	}

	metricsPath := cfg.MetricsFile
	if metricsPath == "" {
		metricsPath = filepath.Join(cfg.CheckpointDir, "metrics.jsonl")
	}
	metrics, err := openMetrics(metricsPath)
	if err != nil {
		return nil, err
	}
	defer metrics.Close()

	loader, err := datasets.NewLoader(train, datasets.LoaderConfig{BatchSize: cfg.BatchSize, Seed: cfg.Seed,
		Workers: cfg.Workers, Augmentation: aug}, start)
	if err != nil {
		return nil, err
	}
	defer loader.Close()

	trainStep, err := NewStepOn(b, ctx, net, opt, cfg.Devices)
	if err != nil {
		return nil, err
	}
	defer trainStep.Finalize()

	logger.Info("training", "dataset", cfg.Dataset, "images", train.N, "model", cfg.Model.Arch, "width", cfg.Model.Width,
		"loss", cfg.Loss, "optimizer", cfg.Optimizer, "batch", cfg.BatchSize, "steps", total, "peak_lr", peak, "backend", b.Name(),
		"devices", cfg.Devices, "precision", cfg.Precision)

	var bar *progressbar.ProgressBar
	w := opts.Progress
	if w == nil {
		w = os.Stderr
	}
	if !opts.NoProgressBar && isatty.IsTerminal(w.Fd()) {
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
			progressbar.OptionShowIts(), progressbar.OptionSetItsString("steps"), progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(250*time.Millisecond), progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish())
		_ = bar.Set64(step)
	}

	window := newWindow()
	began := time.Now()
	firstStep := step
	lastSave := ""
	save := func(metricsAtSave map[string]float64) error {
		pos := loader.Position()
		data, _ := json.Marshal(pos)
		vars, err := checkpoints.FromContext(ctx)
		if err != nil {
			return fmt.Errorf("step %d: reading the variables for a checkpoint: %w", step, err)
		}
		if key, i, ok := checkpoints.FirstNonFinite(vars); !ok {
			return &nonFiniteError{step: step, what: fmt.Sprintf("variable %s[%d]", key, i)}
		}
		st := &checkpoints.State{Step: step, Epoch: pos.Epoch, Config: cfg.JSON(), Data: data,
			Metrics: metricsAtSave, Variables: vars}
		path, err := mgr.Save(st)
		if err != nil {
			return fmt.Errorf("step %d: writing a checkpoint: %w (the previous checkpoints are intact)", step, err)
		}
		lastSave = path
		return nil
	}
	var embedder *Embedder
	// evalProbe returns the online probe's test accuracy and, with withKNN, the kNN accuracy of
	// the current encoder (-1 when not measured).
	evalProbe := func(withKNN bool) (probeAcc, knnAcc float64, err error) {
		if test == nil {
			return -1, -1, nil
		}
		if embedder == nil {
			if embedder, err = NewEmbedder(b, ctx, net, evalBatch(cfg), true); err != nil {
				return -1, -1, err
			}
		}
		testF, probeAcc, err := embedder.Run(test)
		if err != nil || !withKNN {
			return probeAcc, -1, err
		}
		trainF, _, err := embedder.Run(train)
		if err != nil {
			return probeAcc, -1, err
		}
		knnAcc, err = eval.KNN(b, trainF, testF, eval.KNNConfig{K: cfg.KNNK, Temperature: cfg.KNNTemperature})
		return probeAcc, knnAcc, err
	}
	defer func() {
		if embedder != nil {
			embedder.Finalize()
		}
	}()
	rollbacks := 0
	// recoverNonFinite handles a loss term or a variable that went non-finite: with -on-nonfinite
	// rollback (at most MaxRollbacks times) it restores the newest checkpoint and lets the loop go
	// on; the data loader is not rewound, so the batches seen since that checkpoint are skipped and
	// the replay differs from the run that diverged. Otherwise it returns the error that stops the run.
	recoverNonFinite := func(nf *nonFiniteError) error {
		nf.saved = "no checkpoint was written by this run"
		if lastSave != "" {
			nf.saved = fmt.Sprintf("the last checkpoint, %s, holds finite weights", lastSave)
		}
		if cfg.OnNonFinite != OnNonFiniteRollback {
			return nf
		}
		if rollbacks >= MaxRollbacks {
			nf.saved += fmt.Sprintf("; already rolled back %d times", rollbacks)
			return nf
		}
		state, path, err := mgr.LoadLatest()
		if err != nil {
			return fmt.Errorf("%w; rolling back: %v", nf, err)
		}
		if err := checkpoints.ToContext(ctx, state.Variables); err != nil {
			return fmt.Errorf("%w; rolling back to %s: %v", nf, path, err)
		}
		rollbacks++
		logger.Warn("non-finite training state: rolled back to the newest checkpoint, skipping the batches seen since",
			"at_step", nf.step, "value", nf.what, "checkpoint", path, "resumed_step", state.Step, "skipped_batches", nf.step-state.Step,
			"rollback", fmt.Sprintf("%d/%d", rollbacks, MaxRollbacks))
		step = state.Step
		if bar != nil {
			_ = bar.Set64(step)
		}
		return metrics.Write(map[string]float64{"step": float64(step), "rollback_from_step": float64(nf.step)})
	}

	for step < total {
		if opts.Stop != nil && opts.Stop.Load() {
			if err := save(nil); err != nil {
				return nil, err
			}
			res.Interrupted, res.Steps, res.Checkpoint = true, step, lastSave
			return res, nil
		}
		batch, err := loader.Next()
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		out, err := trainStep.Run(tensors.FromFlatDataAndDimensions(batch.View1, batch.Dims()...),
			tensors.FromFlatDataAndDimensions(batch.View2, batch.Dims()...), batch.Labels)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step, err)
		}
		step++
		if opts.injectFault != nil {
			opts.injectFault(step, out)
		}
		if bad := nonFinite(out, trainStep.Names()); len(bad) > 0 {
			if err := recoverNonFinite(&nonFiniteError{step: step, what: strings.Join(bad, ", ")}); err != nil {
				return nil, err
			}
			continue
		}
		window.add(out, time.Since(t0), cfg.BatchSize)
		if opts.AfterStep != nil {
			opts.AfterStep(step)
		}
		if bar != nil {
			bar.Describe(describe(batch.Position.Epoch, out, trainStep.Names()))
			_ = bar.Set64(step)
		}
		if step%int64(cfg.LogEvery) == 0 || step == total {
			line := window.flush()
			line["step"], line["epoch"] = float64(step), float64(batch.Position.Epoch)
			if bar == nil && !opts.NoProgressBar && (step%int64(10*cfg.LogEvery) == 0 || step == total) {
				// No terminal for a bar: a log line every 10 metric lines instead.
				left := time.Duration(float64(time.Since(began)) / float64(step-firstStep) * float64(total-step))
				logger.Info("progress", "step", fmt.Sprintf("%d/%d", step, total), "loss", fmt.Sprintf("%.4f", line["loss"]),
					"views_per_s", fmt.Sprintf("%.0f", line["images_per_sec"]), "eta", left.Round(time.Second))
			}
			if err := metrics.Write(line); err != nil {
				return nil, err
			}
		}
		endOfEpoch := step%batchesPerEpoch == 0
		if endOfEpoch || step == total {
			epochsDone := float64(step) / float64(batchesPerEpoch)
			withKNN := cfg.EvalEvery > 0 && endOfEpoch && int(step/batchesPerEpoch)%cfg.EvalEvery == 0 && step != total
			acc, knnAcc, err := evalProbe(withKNN)
			if err != nil {
				return nil, err
			}
			res.ProbeAcc = acc
			line := map[string]float64{"step": float64(step), "epoch": epochsDone, "probe_acc": acc}
			if withKNN {
				line["knn_acc"] = knnAcc
				logger.Info("kNN", "epochs", fmt.Sprintf("%.2f", epochsDone), "knn_acc", fmt.Sprintf("%.4f", knnAcc))
			}
			if err := metrics.Write(line); err != nil {
				return nil, err
			}
			if bar != nil {
				_ = bar.Clear()
			}
			logger.Info("evaluated", "epochs", fmt.Sprintf("%.2f", epochsDone), "step", step, "online_probe_acc", fmt.Sprintf("%.4f", acc),
				"elapsed", time.Since(began).Round(time.Second))
		}
		if (cfg.CheckpointEvery > 0 && step%int64(cfg.CheckpointEvery) == 0) ||
			(cfg.CheckpointEvery == 0 && endOfEpoch) || step == total {
			if err := save(map[string]float64{"probe_acc": res.ProbeAcc}); err != nil {
				var nf *nonFiniteError
				if !errors.As(err, &nf) {
					return nil, err
				}
				if err := recoverNonFinite(nf); err != nil {
					return nil, err
				}
			}
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	res.Steps, res.Checkpoint, res.TrainTime = step, lastSave, time.Since(began)
	res.StepCompilations = trainStep.Compilations()
	if err := metrics.Close(); err != nil {
		return nil, err
	}
	if err := plotMetrics(metricsPath, strings.TrimSuffix(metricsPath, filepath.Ext(metricsPath))+".svg"); err != nil {
		logger.Warn("could not plot the metrics", "err", err)
	}
	if cfg.ExportEncoder != "" {
		if err := ExportEncoder(cfg.ExportEncoder, ctx, cfg); err != nil {
			return nil, err
		}
		logger.Info("encoder exported", "path", cfg.ExportEncoder)
	}
	if test != nil {
		if err := finalEvaluation(b, ctx, net, cfg, train, test, res, logger); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// describe is the progress bar's text: the epoch, the loss and its terms.
func describe(epoch int, out map[string]float64, names []string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "epoch %d", epoch)
	for _, n := range names {
		if n == "probe_loss" || n == "probe_batch_acc" || n == "lr" || n == "z_std" {
			continue
		}
		fmt.Fprintf(&sb, " %s %.3f", n, out[n])
	}
	return sb.String()
}

func evalBatch(cfg Config) int { return max(cfg.BatchSize, 256) }

// finalEvaluation runs the offline linear probe and kNN on the frozen encoder and the baselines.
func finalEvaluation(b backends.Backend, ctx *context.Context, net *Network, cfg Config,
	train, test *datasets.Dataset, res *Result, logger *log.Logger) error {
	probeCfg := eval.ProbeConfig{Epochs: cfg.ProbeEpochs, Seed: cfg.Seed}
	probeAndKNN := func(ctx *context.Context) (float64, float64, error) {
		emb, err := NewEmbedder(b, ctx, net, evalBatch(cfg), false)
		if err != nil {
			return 0, 0, err
		}
		defer emb.Finalize()
		trainF, _, err := emb.Run(train)
		if err != nil {
			return 0, 0, err
		}
		testF, _, err := emb.Run(test)
		if err != nil {
			return 0, 0, err
		}
		lin, err := eval.LinearProbe(b, trainF, testF, probeCfg)
		if err != nil {
			return 0, 0, err
		}
		knn, err := eval.KNN(b, trainF, testF, eval.KNNConfig{K: cfg.KNNK, Temperature: cfg.KNNTemperature})
		return lin.TestAccuracy, knn, err
	}
	logger.Info("evaluating the frozen encoder", "train_images", train.N, "test_images", test.N)
	var err error
	if res.Linear, res.KNN, err = probeAndKNN(ctx); err != nil {
		return err
	}
	if cfg.Baselines {
		pixTrain, err := eval.Pixels(train)
		if err != nil {
			return err
		}
		pixTest, err := eval.Pixels(test)
		if err != nil {
			return err
		}
		pix, err := eval.LinearProbe(b, pixTrain, pixTest, probeCfg)
		if err != nil {
			return err
		}
		res.PixelLinear = pix.TestAccuracy
		random := context.New()
		if err := random.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
			return err
		}
		if res.RandomLinear, _, err = probeAndKNN(random); err != nil {
			return err
		}
	}
	return nil
}

// nonFinite lists the outputs that are NaN or infinite as "name = value", the loss terms before
// the total "loss" (which is non-finite whenever a term is), in the order of names.
func nonFinite(out map[string]float64, names []string) []string {
	var terms []string
	total := ""
	for _, n := range names {
		if v := out[n]; math.IsNaN(v) || math.IsInf(v, 0) {
			if n == "loss" {
				total = fmt.Sprintf("%s = %v", n, v)
			} else {
				terms = append(terms, fmt.Sprintf("%s = %v", n, v))
			}
		}
	}
	if total != "" {
		terms = append(terms, total)
	}
	return terms
}

// window averages step outputs between two metric lines.
type window struct {
	sums   map[string]float64
	n      int
	images int
	busy   time.Duration
	start  time.Time
}

func newWindow() *window { return &window{sums: map[string]float64{}, start: time.Now()} }

func (w *window) add(out map[string]float64, d time.Duration, batch int) {
	for k, v := range out {
		w.sums[k] += v
	}
	w.n++
	w.images += 2 * batch
	w.busy += d
}

// flush returns the averages (and throughput: views per second, wall clock and step-only) and resets.
func (w *window) flush() map[string]float64 {
	line := map[string]float64{}
	keys := make([]string, 0, len(w.sums))
	for k := range w.sums {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line[k] = w.sums[k] / float64(max(w.n, 1))
	}
	line["images_per_sec"] = float64(w.images) / time.Since(w.start).Seconds()
	line["step_images_per_sec"] = float64(w.images) / w.busy.Seconds()
	*w = *newWindow()
	return line
}
