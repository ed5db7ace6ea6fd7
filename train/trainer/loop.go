package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/progress"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

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

// Loop is a training run in progress: it owns the step counter, the data loader's position, the
// checkpoints, the metrics file and the progress bar, and its methods are the phases of a run
// (resume, step, end of epoch, checkpoint, rollback). What is trained is given by its hooks:
// Step runs one compiled update on a batch, EndOfEpoch evaluates. Pretraining (Run) and
// fine-tuning use the same Loop.
type Loop struct {
	// Ctx holds every variable of the run (model, optimiser state, generator state).
	Ctx *context.Context
	// Manager stores the checkpoints; Config is the configuration stored in each of them.
	Manager *checkpoints.Manager
	Config  json.RawMessage
	// Metrics receives one line per LogEvery steps and one per evaluation.
	Metrics *results.MetricsFile
	// Loader produces the training batches; its position is stored in every checkpoint.
	Loader *datasets.Loader
	// Total is the number of steps of the run, BatchesPerEpoch the number of steps per epoch.
	Total, BatchesPerEpoch int64
	// CheckpointEvery is the number of steps between checkpoints (0: at every epoch end); a
	// checkpoint is always written at the end and on interruption.
	CheckpointEvery int64
	// LogEvery is the number of steps between metric lines.
	LogEvery int64
	// Rollback: on a non-finite state, restore the newest checkpoint instead of stopping.
	Rollback bool

	// Step runs one training step on b and returns its outputs by name (names lists them in
	// order, for messages and the progress bar).
	Step  func(b *datasets.Batch) (map[string]float64, error)
	Names func() []string
	// EndOfEpoch, when set, evaluates after each epoch (and at the end, with last set); the
	// values are written to the metrics file, and SaveMetric's value goes into checkpoints (the
	// manager keeps the best by it).
	EndOfEpoch func(step int64, epoch float64, last bool) (map[string]float64, error)
	SaveMetric string

	Logger *log.Logger
	Opts   Options

	step      int64
	win       *window // the steps since the last metrics line
	rollbacks int
	lastSave  string
	kept      map[string]float64
	evalDue   bool // the evaluation of this step failed: the checkpoint says so, and a resume redoes it
	bar       *progress.Bar
	began     time.Time
}

// Resumed is where a run continues from: the step, the loader's position, and the checkpoint it
// was restored from with the metrics saved in it. Its zero value is a new run.
type Resumed struct {
	Step       int64
	Position   datasets.Position
	Checkpoint string
	Metrics    map[string]float64
	pending    *pendingWindow // the metrics window the checkpoint holds (nil in older checkpoints)
	evalDue    bool           // the checkpoint was written after its step's evaluation failed
}

// loopState is a checkpoint's data: the loader's position, and the step outputs summed since the
// last metrics line, so that the first line after a resume averages the same steps as an
// uninterrupted run's (with the same -log-every: a resume may change it, and its first line then
// averages the steps since the last line). Older checkpoints hold the position alone; their first
// line after a resume averages the steps trained since. EvalDue marks a checkpoint written after
// its step's evaluation failed: a resume runs that evaluation first.
type loopState struct {
	datasets.Position
	Window  *pendingWindow `json:",omitempty"`
	EvalDue bool           `json:",omitempty"`
}

// pendingWindow is a window's sums of step outputs and its number of steps.
type pendingWindow struct {
	Steps int
	Sums  map[string]float64
}

// Resume restores the newest valid checkpoint of the manager's folder into ctx and says where to
// continue from. A folder without checkpoints is a new run (the zero Resumed, with a warning);
// one whose checkpoints are all damaged is an error, and one whose configuration differs (diff
// lists the differences) a *config.FieldError; neither deletes anything.
func Resume(mgr *checkpoints.Manager, ctx *context.Context, logger *log.Logger, diff func(saved json.RawMessage) []string) (Resumed, error) {
	state, path, err := mgr.LoadLatest()
	switch {
	case errors.Is(err, checkpoints.ErrNoCheckpoint):
		logger.Warn("-resume: no checkpoint to resume from, so a new run starts here (if a run was meant, check -checkpoint-dir)", "dir", mgr.Dir)
		return Resumed{}, nil
	case errors.Is(err, checkpoints.ErrOldFormat):
		return Resumed{}, fmt.Errorf("cannot resume: %w", err)
	case err != nil:
		return Resumed{}, fmt.Errorf("cannot resume: %w\nnothing was deleted: restore a good checkpoint into %s, or move the damaged ones away to start a new run", err, mgr.Dir)
	}
	defer state.Free()
	if d := diff(state.Config); len(d) > 0 {
		return Resumed{}, &config.FieldError{Msg: fmt.Sprintf("cannot resume from %s: the configuration differs:\n  %s\nrerun with the saved values, or use another -checkpoint-dir",
			path, strings.Join(d, "\n  "))}
	}
	if err := checkpoints.ToContext(ctx, state.Variables); err != nil {
		return Resumed{}, fmt.Errorf("resuming from %s: %w", path, err)
	}
	r := Resumed{Step: state.Step, Checkpoint: path, Metrics: state.Metrics}
	var ls loopState
	if err := json.Unmarshal(state.Data, &ls); err != nil {
		return Resumed{}, fmt.Errorf("resuming from %s: data position: %w", path, err)
	}
	r.Position, r.pending, r.evalDue = ls.Position, ls.Window, ls.EvalDue
	logger.Info("resuming", "checkpoint", path, "step", state.Step, "epoch", r.Position.Epoch)
	return r, nil
}

// LoopResult is where a Loop stopped.
type LoopResult struct {
	Steps       int64
	Trained     int64  // steps this Run took (0 when it resumed a finished run)
	Interrupted bool   // stopped by Options.Stop; a checkpoint was written
	Checkpoint  string // the newest checkpoint: the last one written, or the one resumed from
	TrainTime   time.Duration
	// Last holds EndOfEpoch's last values (nil without EndOfEpoch), or, when no evaluation ran,
	// those saved in the checkpoint resumed from.
	Last map[string]float64
}

// Run trains from where from says (the zero Resumed: from the start) to l.Total.
func (l *Loop) Run(from Resumed) (*LoopResult, error) {
	start := from.Step
	l.step, l.began = start, time.Now()
	// The checkpoint resumed from is the newest one until this run writes another, and its saved
	// metric goes into the next checkpoints until the next evaluation, as it would have without
	// the interruption.
	l.lastSave, l.kept = from.Checkpoint, from.Metrics
	l.bar = progress.New("training", l.Total, start, progress.Options{Writer: l.Opts.Progress, Logger: l.Logger,
		Quiet: l.Opts.NoProgressBar, Unit: "steps"})
	l.win = newWindow(from.pending)
	res := &LoopResult{Last: from.Metrics}
	if start > 0 || l.Metrics.HadLines() {
		// The lines that an earlier process wrote after its last checkpoint (a run killed, not
		// stopped; or a first attempt that failed before its first checkpoint, when start is 0)
		// are superseded by the steps trained again from here: ReadMetrics drops them.
		if err := l.Metrics.Write(map[string]float64{results.KeyStep: float64(start), results.ResumedKey: 1}); err != nil {
			return nil, err
		}
	}
	if from.evalDue && l.EndOfEpoch != nil {
		// The evaluation that failed before the checkpoint resumed from, on its weights; the
		// checkpoint is written again with its result (its metric ranks it among the kept ones).
		l.Logger.Info("running the evaluation that failed before the checkpoint resumed from", "step", l.step)
		if err := l.endOfEpoch(res); err != nil {
			return nil, l.saveAfterFailedEvaluation(err)
		}
		if err := l.checkpoint(); err != nil {
			return nil, err
		}
	}
	for l.step < l.Total {
		if l.Opts.Stop != nil && l.Opts.Stop.Load() {
			if err := l.checkpoint(); err != nil {
				return nil, err
			}
			res.Interrupted, res.Steps, res.Trained, res.Checkpoint = true, l.step, l.step-start, l.lastSave
			return res, nil
		}
		out, err := l.trainStep()
		if err != nil {
			var nf *nonFiniteError
			if errors.As(err, &nf) {
				if err := l.rollback(nf); err != nil {
					return nil, err
				}
				continue
			}
			return nil, l.stoppedBy(err)
		}
		l.win.add(out)
		if l.step%l.LogEvery == 0 || l.step == l.Total {
			if err := l.logLine(); err != nil {
				return nil, err
			}
		}
		endOfEpoch := l.step%l.BatchesPerEpoch == 0
		if endOfEpoch || l.step == l.Total {
			if err := l.endOfEpoch(res); err != nil {
				return nil, l.saveAfterFailedEvaluation(err)
			}
		}
		if (l.CheckpointEvery > 0 && l.step%l.CheckpointEvery == 0) || (l.CheckpointEvery == 0 && endOfEpoch) || l.step == l.Total {
			if err := l.checkpoint(); err != nil {
				var nf *nonFiniteError
				if !errors.As(err, &nf) {
					return nil, err
				}
				if err := l.rollback(nf); err != nil {
					return nil, err
				}
			}
		}
	}
	l.bar.Finish()
	res.Steps, res.Trained, res.Checkpoint, res.TrainTime = l.step, l.step-start, l.lastSave, time.Since(l.began)
	return res, nil
}

// trainStep takes the next batch, runs one step and checks its outputs; it returns a
// *nonFiniteError when one of them is NaN or infinite.
func (l *Loop) trainStep() (map[string]float64, error) {
	batch, err := l.Loader.Next()
	if err != nil {
		return nil, fmt.Errorf("step %d: %w", l.step+1, err)
	}
	t0 := time.Now()
	out, err := l.Step(batch)
	if err != nil {
		return nil, fmt.Errorf("step %d: %w", l.step+1, err)
	}
	busy := time.Since(t0)
	l.step++
	if l.Opts.injectFault != nil {
		l.Opts.injectFault(l.step, out)
	}
	if bad := nonFinite(out, l.Names()); len(bad) > 0 {
		return nil, &nonFiniteError{step: l.step, what: strings.Join(bad, ", ")}
	}
	out[busyKey], out[imagesKey] = busy.Seconds(), float64(batch.Valid)
	if l.Opts.AfterStep != nil {
		l.Opts.AfterStep(l.step)
	}
	l.bar.Set(l.step, describe(batch.Position.Epoch, out, l.Names()))
	return out, nil
}

// busyKey and imagesKey carry a step's compute time and its number of images (images, not
// views; fewer in an epoch's last partial batch) from trainStep to the metrics window.
const (
	busyKey   = "\x00busy"
	imagesKey = "\x00images"
)

// logLine writes the window's averages as a metrics line; its epoch is the epochs completed
// (step / steps per epoch), as in the evaluation lines.
func (l *Loop) logLine() error {
	line := l.win.flush()
	line[results.KeyStep], line[results.KeyEpoch] = float64(l.step), float64(l.step)/float64(l.BatchesPerEpoch)
	return l.Metrics.Write(line)
}

// endOfEpoch runs the evaluation hook and writes its values.
func (l *Loop) endOfEpoch(res *LoopResult) error {
	if l.EndOfEpoch == nil {
		return nil
	}
	l.bar.Clear()
	epochs := float64(l.step) / float64(l.BatchesPerEpoch)
	values, err := l.EndOfEpoch(l.step, epochs, l.step == l.Total)
	if err != nil {
		return err
	}
	line := map[string]float64{results.KeyStep: float64(l.step), results.KeyEpoch: epochs}
	for k, v := range values {
		line[k] = v
	}
	if v, ok := values[l.SaveMetric]; ok {
		l.kept = map[string]float64{l.SaveMetric: v}
	}
	res.Last = values
	return l.Metrics.Write(line)
}

// stoppedBy adds to err, a failure of a training step (a bad image, a data file gone), what
// this run saved and how to continue from it.
func (l *Loop) stoppedBy(err error) error {
	if l.lastSave == "" {
		return fmt.Errorf("%w\nno checkpoint was written by this run: fix the cause and start it again%s", err, ResumeAdvice(err))
	}
	return fmt.Errorf("%w\nthe training up to %s is saved: fix the cause and continue with -resume%s", err, l.lastSave, ResumeAdvice(err))
}

// ResumeAdvice is what to add, after an error that stopped a run, about a bad image: a training
// image must be replaced, not deleted (that changes the training set, which -resume refuses), or
// skipped with -skip-bad-images; an evaluation image may also be deleted. "" for other errors.
func ResumeAdvice(err error) string {
	if !errors.Is(err, datasets.ErrBadImage) {
		return ""
	}
	return " (a bad training image must be replaced with a good one, not deleted: -resume refuses a training set of another size; an evaluation image may be deleted; or add -skip-bad-images)"
}

// saveAfterFailedEvaluation keeps the training done when an evaluation fails (an unreadable
// evaluation image, say): it writes a checkpoint of the steps trained so far, marked so that
// -resume runs the evaluation first, and returns err saying where.
func (l *Loop) saveAfterFailedEvaluation(err error) error {
	l.evalDue = true
	defer func() { l.evalDue = false }()
	if cerr := l.checkpoint(); cerr != nil {
		return fmt.Errorf("%w\n(the training state could not be saved either: %v)", err, cerr)
	}
	return fmt.Errorf("%w\nthe training up to step %d is saved in %s: fix the cause and continue with -resume (which runs this evaluation first)", err, l.step, l.lastSave)
}

// checkpoint saves the run's state: every variable, the step, the loader's position, the
// configuration and the last evaluation's SaveMetric. It refuses to save a non-finite variable
// (returning a *nonFiniteError).
func (l *Loop) checkpoint() error {
	pos := l.Loader.Position()
	data, err := json.Marshal(loopState{Position: pos, Window: l.win.pending(), EvalDue: l.evalDue})
	if err != nil {
		return fmt.Errorf("step %d: the loader's position and metrics window for a checkpoint: %w", l.step, err) // step outputs are finite
	}
	vars, err := checkpoints.FromContext(l.Ctx)
	if err != nil {
		return fmt.Errorf("step %d: reading the variables for a checkpoint: %w", l.step, err)
	}
	if key, i, ok := checkpoints.FirstNonFinite(vars); !ok {
		return &nonFiniteError{step: l.step, what: fmt.Sprintf("variable %s[%d]", key, i)}
	}
	st := &checkpoints.State{Step: l.step, Epoch: pos.Epoch, Config: l.Config, Data: data, Metrics: l.kept, Variables: vars}
	path, err := l.Manager.Save(st)
	if err != nil {
		return fmt.Errorf("step %d: writing a checkpoint: %w (the previous checkpoints are intact)", l.step, err)
	}
	l.lastSave = path
	return nil
}

// rollback handles a loss term or a variable that went non-finite: with Rollback (at most
// MaxRollbacks times) it restores the newest checkpoint and the loop goes on; the loader is not
// rewound, so the batches seen since that checkpoint are skipped. Otherwise it returns the error
// that stops the run.
func (l *Loop) rollback(nf *nonFiniteError) error {
	nf.saved = "no checkpoint was written by this run"
	if l.lastSave != "" {
		nf.saved = fmt.Sprintf("the last checkpoint, %s, holds finite weights", l.lastSave)
	}
	if !l.Rollback {
		return nf
	}
	if l.rollbacks >= MaxRollbacks {
		nf.saved += fmt.Sprintf("; already rolled back %d times", l.rollbacks)
		return nf
	}
	state, path, err := l.Manager.LoadLatest()
	if err != nil {
		return fmt.Errorf("%w; rolling back: %v", nf, err)
	}
	defer state.Free()
	// The window restarts from the checkpoint's: the outputs of the steps rolled back are dropped.
	var ls loopState
	if err := json.Unmarshal(state.Data, &ls); err != nil {
		return fmt.Errorf("%w; rolling back to %s: data position: %v", nf, path, err)
	}
	if err := checkpoints.ToContext(l.Ctx, state.Variables); err != nil {
		return fmt.Errorf("%w; rolling back to %s: %v", nf, path, err)
	}
	l.rollbacks++
	l.Logger.Warn("non-finite training state: rolled back to the newest checkpoint, skipping the batches seen since",
		"at_step", nf.step, "value", nf.what, "checkpoint", path, "resumed_step", state.Step, "skipped_batches", nf.step-state.Step,
		"rollback", fmt.Sprintf("%d/%d", l.rollbacks, MaxRollbacks))
	l.win = newWindow(ls.Window)
	l.step = state.Step
	// The metric saved with the checkpoint, not that of an evaluation since, on weights dropped.
	l.kept = state.Metrics
	l.bar.Set(l.step, "")
	return l.Metrics.Write(map[string]float64{results.KeyStep: float64(l.step), results.KeyRollbackFromStep: float64(nf.step)})
}

// describe is the progress bar's text: the epoch, the loss and its terms.
func describe(epoch int, out map[string]float64, names []string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "epoch %d", epoch)
	for _, n := range names {
		if n == results.KeyProbeLoss || n == results.KeyProbeBatchAcc || n == results.KeyLR || n == results.KeyZStd {
			continue
		}
		fmt.Fprintf(&sb, " %s %.3f", n, out[n])
	}
	return sb.String()
}

// nonFinite lists the outputs that are NaN or infinite as "name = value", the loss terms before
// the total "loss" (which is non-finite whenever a term is), in the order of names.
func nonFinite(out map[string]float64, names []string) []string {
	var terms []string
	total := ""
	for _, n := range names {
		if v := out[n]; math.IsNaN(v) || math.IsInf(v, 0) {
			if n == results.KeyLoss {
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

// window averages step outputs between two metric lines. The throughput counts the steps this
// process trained (images, busy time, wall clock since start); the averages also count the steps
// a resumed checkpoint's window held.
type window struct {
	sums   map[string]float64
	n      int
	images int
	busy   float64
	start  time.Time
}

// newWindow starts a window, from the sums a checkpoint holds (p, nil for none).
func newWindow(p *pendingWindow) *window {
	w := &window{sums: map[string]float64{}, start: time.Now()}
	if p != nil {
		maps.Copy(w.sums, p.Sums)
		w.n = p.Steps
	}
	return w
}

// pending returns the window's sums for a checkpoint (nil when empty).
func (w *window) pending() *pendingWindow {
	if w == nil || w.n == 0 {
		return nil
	}
	return &pendingWindow{Steps: w.n, Sums: maps.Clone(w.sums)}
}

func (w *window) add(out map[string]float64) {
	for k, v := range out {
		switch k {
		case busyKey:
			w.busy += v
		case imagesKey:
			w.images += int(v)
		default:
			w.sums[k] += v
		}
	}
	w.n++
}

// flush returns the averages (and throughput: images per second, wall clock and step-only) and
// resets.
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
	line[results.KeyImagesPerSec] = float64(w.images) / time.Since(w.start).Seconds()
	line[results.KeyStepImagesPerSec] = float64(w.images) / w.busy
	*w = *newWindow(nil)
	return line
}

// Options are the parts of a run that are not part of its configuration.
type Options struct {
	Logger *log.Logger
	// Stop, when it becomes true, makes the loop finish the current step, write a checkpoint and
	// return with LoopResult.Interrupted set, and so the run's result (results.Pretrain,
	// results.Finetune) with its Interrupted (the command sets Stop on SIGINT and SIGTERM).
	Stop *atomic.Bool
	// Progress is where the progress bar is drawn (nil: standard error).
	Progress *os.File
	// NoProgressBar disables the bar (tests, non-interactive runs).
	NoProgressBar bool
	// AfterStep, when set, is called after every training step with the number of steps done.
	AfterStep func(step int64)

	// injectFault, in tests, may alter a step's outputs before they are checked.
	injectFault func(step int64, out map[string]float64)
	// beforePhase, in tests, is called before each phase of the final evaluation, by name.
	beforePhase func(phase string)
}

// OpenCheckpoints takes the lock of a run's checkpoint folder (for the process's life; release it
// with the returned function) and returns its manager. A folder another process uses, or one that
// cannot be created, is a *config.FieldError for -checkpoint-dir. The lock comes first: NewManager
// removes leftover temporary files, which must not be another process's file in the making.
func OpenCheckpoints(dir string, keep int, best string, logger *log.Logger) (*checkpoints.Manager, func(), error) {
	lock, err := checkpoints.Lock(dir, logger)
	if err != nil {
		return nil, nil, config.Errorf("checkpoint-dir", "%v%s", err, unwritableAdvice(err))
	}
	mgr, err := checkpoints.NewManager(dir, keep, best)
	if err != nil {
		lock.Unlock()
		return nil, nil, config.Errorf("checkpoint-dir", "%v%s", err, unwritableAdvice(err))
	}
	mgr.Logger = logger
	return mgr, func() { lock.Unlock() }, nil
}

// unwritableAdvice is what to do about a folder that cannot be written (no permission, a
// read-only file system), or "" for other errors.
func unwritableAdvice(err error) string {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return ": choose a -checkpoint-dir you can write to"
	}
	return ""
}

// RefuseOverwrite returns a *config.FieldError (-checkpoint-dir) when the manager's folder already
// holds checkpoints of a run (or an error naming the converter when they are of the old format).
func RefuseOverwrite(mgr *checkpoints.Manager) error {
	paths, err := mgr.List()
	if err != nil {
		return err
	}
	if len(paths) > 0 {
		return config.Errorf("checkpoint-dir", "%s already holds checkpoints of a run: pass -resume to continue it, or choose another -checkpoint-dir (nothing was overwritten)", mgr.Dir)
	}
	return nil
}
