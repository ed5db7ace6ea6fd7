// Command analyze checks the assumptions of the information-theoretic reading of VICReg on trained
// encoders, reproduces the paper's Gaussianity-under-noise figure, and measures the entropy
// estimators against ground truth.
//
//	go run ./analyze -checkpoints runs/vicreg           # every checkpoint of a run, plus a random-init baseline
//	go run ./analyze -checkpoints runs/vicreg/ckpt-000001170.safetensors -out report
//	go run ./analyze -compare runs/vicreg,runs/simclr   # the runs' newest checkpoints on one noise-sweep figure
//	go run ./analyze -calibrate -out calibration        # the normality test's calibration under the null
//	go run ./analyze -estimators -out estimators        # estimator-accuracy table on synthetic data
//	go run ./analyze -h                                 # every flag
//
// The noise sweep (on by default: -noise-levels) gives, for each anchor image and each normalised
// noise level σ (noise standard deviation as a fraction of the evaluation images' standard
// deviation), one p-value of multivariate normality of the encoder's outputs for noisy copies of
// the anchor: Henze–Zirkler on the first -components principal components, with an exact Monte
// Carlo null (-null-draws). -compare refuses runs whose data set, input size, architecture, stem,
// width, channels or precision differ, naming the field.
//
// The report folder holds report.json (every number), summary.md (what holds and what does not)
// and the figures gaussianity.svg, noise.svg/noise.png, affinity.svg and entropy.svg (-compare:
// report.json, summary.md and noise.svg/noise.png). Results depend only on the flags (and -seed).
// Exit status: 0 on success, 1 on failure, 2 on a usage error (a bad flag or value, a flag the
// mode chosen does not read, such as -knn-k with -estimators or -scales with -compare).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/analysis"
	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses the flags and runs the command, logging to standard error; it returns the process
// exit status.
func run(args []string) int { return runLogged(args, os.Stderr) }

// usageError is a bad flag value: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// floatList is a comma-separated list of numbers.
type floatList []float64

func (f *floatList) String() string {
	var s []string
	for _, v := range *f {
		s = append(s, strconv.FormatFloat(v, 'g', -1, 64))
	}
	return strings.Join(s, ",")
}

func (f *floatList) Set(v string) error {
	*f = nil
	if strings.TrimSpace(v) == "none" {
		return nil
	}
	for _, part := range strings.Split(v, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", part)
		}
		*f = append(*f, x)
	}
	return nil
}

// intList is a comma-separated list of integers.
type intList []int

func (l *intList) String() string {
	var s []string
	for _, v := range *l {
		s = append(s, strconv.Itoa(v))
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	*l = nil
	for _, part := range strings.Split(v, ",") {
		x, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("%q is not an integer", part)
		}
		*l = append(*l, x)
	}
	return nil
}

// runLogged is run with the log lines written to logw.
func runLogged(args []string, logw io.Writer) int {
	logger := log.NewWithOptions(logw, log.Options{ReportTimestamp: true})
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	o := analysis.DefaultOptions()
	e := analysis.DefaultEstimatorConfig()
	scales, levels := floatList(o.Scales), floatList(o.NoiseLevels)
	dims, ns := intList(e.Dims), intList(e.Ns)
	fs.StringVar(&o.Checkpoints, "checkpoints", "", "a checkpoint file, or a folder of ckpt-*.safetensors files of one run (required unless -compare, -calibrate or -estimators)")
	out := fs.String("out", "analysis-report", "report folder (created; files in it are replaced)")
	fs.StringVar(&o.DataDir, "data-dir", "", "data folder; for a run on an image folder or shards, the folder whose val/ (or test/) split is analysed (default: the one the run recorded)")
	fs.StringVar(&o.ShardCache, "shard-cache", "", "shards over HTTP or pipe:: a folder that keeps the shards once downloaded (default: the run's, when it exists here)")
	fs.StringVar(&o.ShardCacheSize, "shard-cache-size", "", "size limit of the shard cache folder, kept in it for every later use (e.g. 200GB; 0: none; empty: the folder's own, as train -shard-cache-size set it)")
	fs.IntVar(&o.Last, "last", 0, "analyse only the newest N checkpoints of the folder (0: all)")
	noBaseline := fs.Bool("no-baseline", false, "skip the randomly initialised encoder")
	fs.BoolVar(&o.SkipBadImages, "skip-bad-images", false, "leave out the test images that do not decode, each logged (a run trained with -skip-bad-images is analysed so anyway)")
	fs.IntVar(&o.Anchors, "anchors", o.Anchors, "A1, noise sweep, A2: number of test-set anchor images (by default at most the split's images)")
	fs.IntVar(&o.Views, "views", o.Views, "A1: views per anchor (augmentations; in the noise sweep, noisy copies)")
	fs.Float64Var(&o.InputNoise, "input-noise", 0, "A1: when > 0, views are the anchor plus N(0, s²I) noise (normalised pixels) instead of the run's augmentation")
	fs.IntVar(&o.Components, "components", o.Components, "A1: principal components for Mardia's tests and the noise sweep's Henze-Zirkler test")
	fs.IntVar(&o.Projections, "projections", o.Projections, "A1: random projections for the 1-D tests")
	fs.Float64Var(&o.Alpha, "alpha", o.Alpha, "A1: level of the tests")
	fs.Var(&levels, "noise-levels", "noise sweep: normalised noise levels σ, comma-separated (noise sd as a fraction of the evaluation images' sd); \"none\" skips the sweep")
	fs.IntVar(&o.NullDraws, "null-draws", o.NullDraws, "noise sweep: Gaussian samples in the Monte Carlo null of the normality test (p-values are multiples of 1/(N+1))")
	compare := fs.String("compare", "", "instead of -checkpoints: comma-separated run folders (each one's newest checkpoint) or checkpoint files, compared on one noise-sweep figure and table")
	calibrate := fs.Bool("calibrate", false, "instead of checkpoints, write the normality test's calibration table (calibration.md, calibration.json)")
	calReps := fs.Int("cal-reps", analysis.DefaultCalibrationConfig().Reps, "-calibrate: replications per condition")
	calDim := fs.Int("cal-dim", analysis.DefaultCalibrationConfig().Dim, "-calibrate: dimension of the simulated representations")
	fs.Var(&scales, "scales", "A2: noise scales s, comma-separated (normalised pixel units)")
	fs.Float64Var(&o.AnchorJitter, "anchor-jitter", 0, "A2: when > 0, move each anchor once by N(0, s²I) (normalised pixels) so that it is a generic point of the network, not on a kink")
	fs.IntVar(&o.Directions, "directions", o.Directions, "A2: random output directions")
	fs.IntVar(&o.NoiseSamples, "noise-samples", o.NoiseSamples, "A2: noise draws per anchor and scale")
	fs.IntVar(&o.EntropyImages, "entropy-images", o.EntropyImages, "A3: test images for the entropy estimators")
	fs.IntVar(&o.KNNK, "knn-k", o.KNNK, "A3: neighbour rank of the kNN entropy estimator")
	seed := fs.Uint64("seed", 0, "random seed (anchors, views, noise, directions)")
	fs.IntVar(&o.Chunk, "chunk", o.Chunk, "batch size of the compiled encoder programs")
	estimators := fs.Bool("estimators", false, "instead of checkpoints, write the estimator-accuracy table (estimators.md, estimators.json)")
	fs.Var(&dims, "est-dims", "-estimators: dimensions")
	fs.Var(&ns, "est-ns", "-estimators: sample sizes")
	fs.IntVar(&e.Reps, "est-reps", e.Reps, "-estimators: samples per cell")
	fs.IntVar(&e.MCSamples, "est-mc", e.MCSamples, "-estimators: Monte Carlo samples of the mixtures' true entropy")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./analyze -checkpoints DIR|FILE [flags]\n       go run ./analyze -compare DIR1,DIR2,... [flags]\n"+
			"       go run ./analyze -calibrate [flags]\n       go run ./analyze -estimators [flags]\n\n"+
			"Checks conditional Gaussianity (A1: under the run's augmentation, and under input noise at each -noise-levels σ, the paper's figure),\n"+
			"local affinity (A2) and entropy/mutual information (A3) on trained encoders. -compare puts several runs' noise sweeps on one\n"+
			"figure and table (same data set, input size and encoder architecture; objective and seed may differ). -calibrate checks that\n"+
			"the normality test's p-values are uniform under the null; -estimators measures the entropy estimators against ground truth.\n"+
			"GOMLX_BACKEND picks the backend (xla:cpu, xla:cuda, go).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := flagargs.Parse(fs, args, "./analyze"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if msg := flagargs.Stray(fs, args); msg != "" {
		fmt.Fprintf(os.Stderr, "analyze: %s\nRun 'go run ./analyze -h' for the flags.\n", msg)
		return 2
	}
	if _, err := datasets.ParseSize(o.ShardCacheSize); err != nil {
		fmt.Fprintf(os.Stderr, "analyze: -shard-cache-size: %v\nRun 'go run ./analyze -h' for the flags.\n", err)
		return 2
	}
	// A quoted "~/runs" is the home folder, as the shell would have made it.
	datasets.ExpandHomes(&o.Checkpoints, &o.DataDir, out, &o.ShardCache)
	o.Scales, o.NoiseLevels, o.Seed, o.Baseline, o.Logger = scales, levels, *seed, !*noBaseline, logger
	anchorsGiven := false
	fs.Visit(func(f *flag.Flag) { anchorsGiven = anchorsGiven || f.Name == "anchors" })
	o.FitAnchors = !anchorsGiven // the default -anchors shrinks to a small split; a number asked for does not
	e.Dims, e.Ns, e.Seed = dims, ns, *seed
	modes := 0
	for _, on := range []bool{o.Checkpoints != "", *compare != "", *calibrate, *estimators} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		fmt.Fprintf(os.Stderr, "analyze: give one of -checkpoints, -compare, -calibrate and -estimators\nRun 'go run ./analyze -h' for the flags.\n")
		return 2
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if msg := otherModeFlag(given); msg != "" {
		fmt.Fprintf(os.Stderr, "analyze: %s\nRun 'go run ./analyze -h' for the flags.\n", msg)
		return 2
	}
	if *estimators {
		if msg := checkEstimators(e); msg != "" {
			fmt.Fprintf(os.Stderr, "analyze: %s\nRun 'go run ./analyze -h' for the flags.\n", msg)
			return 2
		}
	}
	if *calibrate {
		return runCalibration(*out, o, *calReps, *calDim, *seed, logger)
	}
	// Runs in a bucket are read from their copies in the cache folder, made or updated first.
	localCopy := func(loc string) (string, bool) {
		local, err := checkpoints.LocalCopy(context.Background(), loc, logger)
		if err != nil {
			fmt.Fprintf(os.Stderr, "analyze: %v\n", err)
			return "", false
		}
		return local, true
	}
	var ok bool
	if o.Checkpoints, ok = localCopy(o.Checkpoints); !ok {
		return 2
	}
	var runs []string
	if *compare != "" {
		for _, p := range strings.Split(*compare, ",") {
			if p = datasets.ExpandHome(strings.TrimSpace(p)); p != "" {
				if p, ok = localCopy(p); !ok {
					return 2
				}
				runs = append(runs, p)
			}
		}
		if len(o.NoiseLevels) == 0 {
			fmt.Fprintf(os.Stderr, "analyze: -compare compares noise sweeps: give -noise-levels\n")
			return 2
		}
		for _, p := range runs {
			if _, err := os.Stat(p); err != nil {
				fmt.Fprintf(os.Stderr, "analyze: -compare: %v\n", err)
				return 2
			}
		}
		o.Checkpoints = strings.Join(runs, ",")
	}
	if !*estimators {
		if err := o.Validate(); err != nil {
			fmt.Fprintf(os.Stderr, "analyze: %v\nRun 'go run ./analyze -h' for the flags.\n", err)
			return 2
		}
		if _, err := os.Stat(o.Checkpoints); err != nil && runs == nil {
			hint := ""
			if strings.Contains(o.Checkpoints, ",") {
				hint = "\nTo compare several runs, use -compare " + o.Checkpoints
			}
			fmt.Fprintf(os.Stderr, "analyze: -checkpoints: %v: give a run's checkpoint folder (its -checkpoint-dir) or one of its ckpt-*%s files%s\n", err, checkpoints.Ext, hint)
			return 2
		}
	}

	// The report folder is made (and tried) before any work: a bad -out must not cost an analysis.
	// One made here is removed again if the analysis fails before writing into it.
	_, statErr := os.Stat(*out)
	if err := writableFolder(*out); err != nil {
		return outError(err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		defer os.Remove(*out) // only while empty
	}
	b, err := backend.New()
	if err != nil {
		logger.Error(err)
		return 1
	}
	defer b.Finalize()
	if *estimators {
		rows, err := analysis.EstimatorTable(b, e)
		if err != nil {
			logger.Error(err)
			return 1
		}
		if err := analysis.WriteEstimatorTable(*out, e, rows); err != nil {
			logger.Error(err)
			return 1
		}
		logger.Info("estimator table written", "folder", *out)
		return 0
	}
	if runs != nil {
		cmp, err := analysis.Compare(b, runs, o)
		if err != nil {
			return failed(logger, err)
		}
		if err := analysis.WriteComparison(*out, cmp); err != nil {
			logger.Error(err)
			return 1
		}
		logger.Info("comparison written", "folder", *out, "summary", *out+"/"+analysis.ReportSummary, "figure", *out+"/"+analysis.FigNoisePNG)
		return 0
	}
	rep, err := analysis.Run(b, o)
	if err != nil {
		return failed(logger, err)
	}
	if err := analysis.WriteReport(*out, rep); err != nil {
		logger.Error(err)
		return 1
	}
	logger.Info("report written", "folder", *out, "summary", *out+"/"+analysis.ReportSummary)
	return 0
}

// The flags each mode reads besides -out and -seed: -estimators and -calibrate read only theirs;
// -compare reads every flag of the analysis but those of checkpointsOnly (it measures the noise
// sweep of each run's newest checkpoint); -checkpoints reads all of them. The flag package accepts
// every flag in every mode: a flag the mode does not read would be ignored without a word.
var (
	estimatorFlags   = []string{"estimators", "est-dims", "est-ns", "est-reps", "est-mc"}
	calibrationFlags = []string{"calibrate", "cal-reps", "cal-dim", "views", "components", "null-draws"}
	checkpointsOnly  = []string{"checkpoints", "last", "input-noise", "projections", "scales", "anchor-jitter", "directions", "noise-samples", "knn-k"}
)

// otherModeFlag returns the usage error for the first flag in given (the flags on the command
// line) that the mode chosen does not read, or "".
func otherModeFlag(given map[string]bool) string {
	names := slices.Sorted(maps.Keys(given))
	for _, name := range names {
		if name == "out" || name == "seed" {
			continue
		}
		switch {
		case given["estimators"] && !slices.Contains(estimatorFlags, name):
			return fmt.Sprintf("-%s does not apply to -estimators, which reads -%s, -out and -seed: it would be ignored", name, strings.Join(estimatorFlags[1:], ", -"))
		case given["calibrate"] && !slices.Contains(calibrationFlags, name):
			return fmt.Sprintf("-%s does not apply to -calibrate, which reads -%s, -out and -seed: it would be ignored", name, strings.Join(calibrationFlags[1:], ", -"))
		case given["estimators"] || given["calibrate"]:
		case slices.Contains(estimatorFlags, name):
			return fmt.Sprintf("-%s applies with -estimators: without it, it would be ignored", name)
		case slices.Contains(calibrationFlags[:3], name):
			return fmt.Sprintf("-%s applies with -calibrate: without it, it would be ignored", name)
		case given["compare"] && slices.Contains(checkpointsOnly, name):
			return fmt.Sprintf("-%s does not apply to -compare, which measures the noise sweep of each run's newest checkpoint: it would be ignored (analyse one run with -checkpoints for it)", name)
		}
	}
	return ""
}

// checkEstimators returns what is wrong with the -estimators grid (the -est-* flags), or "": a
// dimension below 1 or a sample size too small for the estimators (the Gaussian ones need two
// points, the kNN estimator k+1) would fail, or panic, after the backend is up.
func checkEstimators(e analysis.EstimatorConfig) string {
	switch {
	case len(e.Dims) == 0:
		return "-est-dims: give at least one dimension"
	case len(e.Ns) == 0:
		return "-est-ns: give at least one sample size"
	case e.Reps < 1:
		return fmt.Sprintf("-est-reps: must be >= 1, got %d", e.Reps)
	case e.MCSamples < 2:
		return fmt.Sprintf("-est-mc: must be >= 2, got %d", e.MCSamples)
	}
	for _, d := range e.Dims {
		if d < 1 {
			return fmt.Sprintf("-est-dims: each dimension must be >= 1, got %d", d)
		}
	}
	for _, n := range e.Ns {
		if minN := max(2, e.KNNK+1); n < minN {
			return fmt.Sprintf("-est-ns: each sample size must be >= %d (the kNN estimator's k = %d, plus one), got %d", minN, e.KNNK, n)
		}
	}
	return ""
}

// runCalibration writes the normality test's calibration table into dir.
func runCalibration(dir string, o analysis.Options, reps, dim int, seed uint64, logger *log.Logger) int {
	cfg := analysis.DefaultCalibrationConfig()
	cfg.Views, cfg.Components, cfg.NullDraws, cfg.Reps, cfg.Dim, cfg.Seed = o.Views, o.Components, o.NullDraws, reps, dim, seed
	// Checked before the report folder is made: a usage error leaves no empty folder behind.
	var msg string
	switch {
	case cfg.Components < 1:
		msg = fmt.Sprintf("-components: must be >= 1, got %d", cfg.Components)
	case cfg.Dim < cfg.Components:
		msg = fmt.Sprintf("-cal-dim: must be at least -components (%d), got %d", cfg.Components, cfg.Dim)
	case cfg.Views <= cfg.Components+3:
		msg = fmt.Sprintf("-views: must be more than -components + 3 (%d), got %d", cfg.Components+3, cfg.Views)
	case cfg.Reps < 10:
		msg = fmt.Sprintf("-cal-reps: must be >= 10 (each condition's uniformity test needs a sample), got %d", cfg.Reps)
	case cfg.NullDraws < 1:
		msg = fmt.Sprintf("-null-draws: must be >= 1, got %d", cfg.NullDraws)
	}
	if msg != "" {
		fmt.Fprintf(os.Stderr, "analyze: %s\nRun 'go run ./analyze -h' for the flags.\n", msg)
		return 2
	}
	if err := writableFolder(dir); err != nil {
		return outError(err)
	}
	logger.Info("calibrating the normality test", "views", cfg.Views, "components", cfg.Components, "dim", cfg.Dim, "reps", cfg.Reps, "null_draws", cfg.NullDraws)
	rows, err := analysis.Calibrate(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "analyze: %v\nRun 'go run ./analyze -h' for the flags.\n", err)
		return 2
	}
	if err := analysis.WriteCalibration(dir, cfg, rows); err != nil {
		logger.Error(err)
		return 1
	}
	logger.Info("calibration written", "folder", dir, "table", dir+"/"+analysis.CalibrationTable)
	return 0
}

// outError reports an -out folder that cannot be written (a usage error: exit status 2).
// failed logs the error of an analysis and returns the exit status: 2 for a usage error (runs
// that cannot be compared, a folder without checkpoints, a data folder that is missing or wrong,
// more anchors than images), 1 otherwise (damaged data or checkpoints, a failed computation).
func failed(logger *log.Logger, err error) int {
	logger.Error(err)
	for _, usage := range []error{analysis.ErrNotComparable, analysis.ErrNoCheckpoint, analysis.ErrUsage, datasets.ErrUsage, os.ErrNotExist} {
		if errors.Is(err, usage) && !errors.Is(err, datasets.ErrDamaged) {
			return 2
		}
	}
	return 1
}

func outError(err error) int {
	fmt.Fprintf(os.Stderr, "analyze: -out: %v\nGive a folder that can be created and written.\n", err)
	return 2
}

// writableFolder creates dir if needed and checks that a file can be written in it.
func writableFolder(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}
