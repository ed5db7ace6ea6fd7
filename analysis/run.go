package analysis

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	_ "github.com/gomlx-ssl/vicreg/datasets/hfdata" // reads the datasets library's Arrow files as a folder
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/internal/progress"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// Options configure Run. DefaultOptions gives values sized so that one checkpoint of a width-16
// MNIST ResNet-18 takes well under a minute on 2 CPU cores.
type Options struct {
	// Checkpoints is one checkpoint file, or a folder of checkpoint files (ckpt-*) of one run (all of
	// them are analysed, oldest first).
	Checkpoints string `json:"checkpoints"`
	// Last, when > 0, keeps only the newest Last checkpoints of a folder.
	Last int `json:"last"`
	// DataDir is where the data set is read from (empty: the run's own, as its configuration
	// records it, or datasets.DefaultDataDir()).
	DataDir string `json:"-"`
	// ShardCache is a folder that keeps remote shards once downloaded (empty: the run's, when
	// that folder exists here).
	ShardCache string `json:"-"`
	// ShardCacheSize sets the size limit of the shard cache folder (datasets.LimitShardCache).
	ShardCacheSize string `json:"-"`
	// Baseline also analyses a freshly initialised encoder (same configuration and seed).
	Baseline bool `json:"baseline"`

	// A1: Anchors test images, Views views of each (the run's View1 augmentation, or, when
	// InputNoise > 0, the clean image plus N(0, InputNoise²I) in normalised pixel units). The
	// noise sweep uses the same anchors, Views noisy copies and Components principal components.
	Anchors     int     `json:"anchors"`
	Views       int     `json:"views"`
	InputNoise  float64 `json:"input_noise"`
	Components  int     `json:"components"`
	Projections int     `json:"projections"`
	Alpha       float64 `json:"alpha"`

	// NoiseLevels is the grid of the noise sweep (the paper's figure): normalised noise levels σ,
	// the noise's standard deviation as a fraction of the evaluation images' standard deviation.
	// At each σ every anchor gets Views noisy copies, and NormalityTest on their outputs' first
	// Components principal components gives one p-value (NullDraws: the size of its Monte Carlo
	// null). Empty: no sweep.
	NoiseLevels []float64 `json:"noise_levels"`
	NullDraws   int       `json:"null_draws"`

	// A2: noise scales, output directions and noise draws per anchor and scale (on the same anchors).
	Scales []float64 `json:"scales"`
	// AnchorJitter, when > 0, moves each A2 anchor once by N(0, AnchorJitter²I) before measuring:
	// images with a constant background put the anchor exactly on the network's kinks (max-pool
	// ties), where no gradient describes the map; a jittered anchor is a generic point.
	AnchorJitter float64 `json:"anchor_jitter"`
	Directions   int     `json:"directions"`
	NoiseSamples int     `json:"noise_samples"`

	// A3: EntropyImages test images (the first ones of an in-memory set such as MNIST, drawn at
	// random from an image folder or shards); KNNK for the kNN estimator. The other estimator
	// hyperparameters (eps, beta, sigma) are the run's loss parameters.
	EntropyImages int `json:"entropy_images"`
	KNNK          int `json:"knn_k"`

	// FitAnchors lets Anchors shrink to the held-out images when they are fewer (a default, not a
	// number the user asked for), logged; without it more anchors than images is refused.
	FitAnchors bool `json:"-"`

	// SkipBadImages leaves out the test images of a folder or shards that do not decode (each
	// logged), as the run's own -skip-bad-images does (which the analysis follows too): fewer
	// anchors or entropy images are measured, and the report says how many.
	SkipBadImages bool `json:"skip_bad_images"`

	// Seed makes everything reproducible; Chunk is the batch size of the compiled programs.
	Seed  uint64 `json:"seed"`
	Chunk int    `json:"chunk"`

	// Logger receives progress lines (nil: log.Default()).
	Logger *log.Logger `json:"-"`
}

// DefaultOptions returns the defaults of the analyze command.
func DefaultOptions() Options {
	return Options{Baseline: true, Anchors: 64, Views: 64, Components: 5, Projections: 8, Alpha: 0.05,
		NoiseLevels: append([]float64(nil), DefaultNoiseLevels...), NullDraws: 19999,
		Scales: []float64{0.01, 0.05, 0.25}, Directions: 8, NoiseSamples: 16,
		EntropyImages: 2000, KNNK: 3, Seed: 0, Chunk: 64}
}

// Validate reports the first invalid option.
func (o *Options) Validate() error {
	if o.Checkpoints == "" {
		return errors.New("no checkpoints given: give -checkpoints (a run's checkpoint folder or one checkpoint file), or use -compare, -calibrate or -estimators")
	}
	return o.validateMeasures()
}

// validateMeasures checks every option but the checkpoints; errors name the analyze flag that sets
// the option.
func (o *Options) validateMeasures() error {
	switch {
	case o.Anchors < 1:
		return fmt.Errorf("-anchors: must be >= 1, got %d", o.Anchors)
	case o.Views < max(8, o.Components+4):
		return fmt.Errorf("-views: must be >= %d (8, and more than -components + 3), got %d", max(8, o.Components+4), o.Views)
	case o.Components < 1:
		return fmt.Errorf("-components: must be >= 1, got %d", o.Components)
	case o.Projections < 1:
		return fmt.Errorf("-projections: must be >= 1, got %d", o.Projections)
	case !(o.Alpha > 0 && o.Alpha < 1):
		return fmt.Errorf("-alpha: must be in (0, 1), got %g", o.Alpha)
	case o.Last < 0:
		return fmt.Errorf("-last: must be >= 0 (0: every checkpoint), got %d", o.Last)
	case !(o.InputNoise >= 0) || math.IsInf(o.InputNoise, 0):
		return fmt.Errorf("-input-noise: must be a number >= 0, got %g", o.InputNoise)
	case !(o.AnchorJitter >= 0) || math.IsInf(o.AnchorJitter, 0):
		return fmt.Errorf("-anchor-jitter: must be a number >= 0, got %g", o.AnchorJitter)
	case len(o.Scales) == 0:
		return errors.New("-scales: give at least one noise scale")
	case o.Directions < 1 || o.NoiseSamples < 1:
		return fmt.Errorf("-directions and -noise-samples: must be >= 1, got %d and %d", o.Directions, o.NoiseSamples)
	case o.EntropyImages < o.KNNK+1 || o.KNNK < 1:
		return fmt.Errorf("-knn-k and -entropy-images: need -knn-k >= 1 and more entropy images than it, got %d and %d", o.KNNK, o.EntropyImages)
	case o.Chunk < 1:
		return fmt.Errorf("-chunk: must be >= 1, got %d", o.Chunk)
	case len(o.NoiseLevels) > 0 && o.NullDraws < 99:
		return fmt.Errorf("-null-draws: must be >= 99, got %d", o.NullDraws)
	}
	for i, s := range o.NoiseLevels {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("-noise-levels: must be > 0, got %g", s)
		}
		if i > 0 && !(s > o.NoiseLevels[i-1]) {
			return fmt.Errorf("-noise-levels: give them smallest first, each larger than the one before (the claims compare the smallest with the largest): %g after %g", s, o.NoiseLevels[i-1])
		}
	}
	for _, s := range o.Scales {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("-scales: must be numbers > 0, got %g", s)
		}
	}
	return nil
}

// ModelReport holds every measurement of one encoder.
type ModelReport struct {
	// Label is "random init" for the baseline, else the checkpoint file name.
	Label string `json:"label"`
	// Step is the checkpoint's training step (0 for the baseline).
	Step    int64   `json:"step"`
	Path    string  `json:"path,omitempty"`
	Seconds float64 `json:"seconds"`
	// PhaseSeconds splits Seconds by measurement: "a1", "sweep", "a2", "a3" (the first model's include the
	// compilation of the encoder's programs).
	PhaseSeconds map[string]float64 `json:"phase_seconds"`
	Gaussianity  GaussianityResult  `json:"gaussianity"`
	// NoiseSweep is the p-value of each anchor's outputs under input noise at each level of
	// Options.NoiseLevels (nil when there are none).
	NoiseSweep *SweepResult    `json:"noise_sweep,omitempty"`
	Affinity   []AffinityScale `json:"affinity"`
	Entropy    EntropyResult   `json:"entropy"`
}

// Report is the outcome of Run.
type Report struct {
	Options Options       `json:"options"`
	Run     config.Config `json:"run"`
	// Backend is the backend (backend.Name: "xla:cpu"), Machine the computer the timings were
	// measured on.
	Backend string           `json:"backend"`
	Machine *results.Machine `json:"machine,omitempty"`
	// Data is what was measured: the images read and how they were chosen.
	Data   DataSource    `json:"data"`
	Models []ModelReport `json:"models"`
}

// DataSource says which images an analysis measured.
type DataSource struct {
	// Dataset is the data set's name; Dir the folder (or shard pattern) it was read from, "" for
	// a data set in the cache folder (datasets.DefaultDataDir).
	Dataset string `json:"dataset"`
	Dir     string `json:"dir,omitempty"`
	// Split is the split measured: "test", or "train" where the data has no held-out split.
	Split string `json:"split"`
	// Images is the number of images of the split; EntropyImages the number measured by A3
	// (at most Options.EntropyImages), chosen as EntropySelection says: "first" (the first of
	// the split: the published sets, whose order is random) or "random" (drawn with the seed from
	// the whole split: image folders and shards, whose files come class by class).
	Images           int    `json:"images"`
	EntropyImages    int    `json:"entropy_images"`
	EntropySelection string `json:"entropy_selection"`
	// Anchors is the number of anchors measured; BadImages the images left out because they did
	// not decode (-skip-bad-images), among the anchors and the entropy images.
	Anchors   int `json:"anchors"`
	BadImages int `json:"bad_images,omitempty"`
}

// Describe is one line naming the images measured, for summaries.
func (d DataSource) Describe() string {
	s := fmt.Sprintf("%s %s split (%d images)", d.Dataset, d.Split, d.Images)
	if d.Dir != "" {
		s += " from " + d.Dir
	}
	if d.BadImages > 0 {
		s += fmt.Sprintf(", %d bad images left out", d.BadImages)
	}
	return s
}

// EntropyText says which images A3 measured ("the first 2000 test images", "500 test images
// drawn at random").
func (d DataSource) EntropyText() string {
	if d.EntropySelection == "random" {
		return fmt.Sprintf("%d %s images drawn at random", d.EntropyImages, d.Split)
	}
	return fmt.Sprintf("the first %d %s images", d.EntropyImages, d.Split)
}

// inputs are the images every model is measured on (normalised, NHWC, flattened).
type inputs struct {
	size, channels  int
	anchors         []float32 // [Anchors, p]
	affinityAnchors []float32 // anchors, jittered by AnchorJitter
	views           []float32 // [Anchors*Views, p]
	clean           []float32 // [EntropyImages, p]
	std             float64   // standard deviation of the values of clean
	view1, view2    []float32 // [EntropyImages, p]
	n               int       // EntropyImages actually used
}

// ErrNoCheckpoint is returned when the folder holds no checkpoint.
var ErrNoCheckpoint = errors.New("no checkpoint found")

// ErrUsage marks an error of the options given, found once the data is known (more anchors than
// test images): errors.Is(err, ErrUsage).
var ErrUsage = errors.New("usage error")

// usageError is an error that is ErrUsage without saying so in its text.
type usageError struct{ error }

func (e usageError) Unwrap() error        { return e.error }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// Run analyses the checkpoints of opts (and the baseline) on backend b.
func Run(b backends.Backend, opts Options) (*Report, error) {
	logger := opts.Logger
	if logger == nil {
		logger = log.Default()
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	paths, err := listCheckpoints(opts.Checkpoints, opts.Last)
	if err != nil {
		return nil, err
	}
	first, err := checkpoints.Load(paths[0])
	if err != nil {
		return nil, err
	}
	run, err := encoder.ParseConfig(first.Config)
	first.Free()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", paths[0], err)
	}
	set, err := testImages(run, opts, logger)
	if err != nil {
		return nil, err
	}
	opts.Anchors = len(set.anchors) // fewer, where bad images were left out
	in, err := prepareInputs(set, opts, logger)
	if err != nil {
		return nil, err
	}
	rep := &Report{Options: opts, Run: run, Backend: backend.Name(b), Machine: backend.Machine(b), Data: set.source}
	ent, err := newEntropyEstimator(b, EntropyConfig{Eps: run.LossParams.Eps, Beta: run.LossParams.Beta, Sigma: run.LossParams.Sigma, KNNK: opts.KNNK})
	if err != nil {
		return nil, err
	}
	defer ent.exec.Finalize()
	// One network: its programs compile once; each checkpoint only replaces the variables' values.
	random, err := encoder.Random(b, run)
	if err != nil {
		return nil, err
	}
	net, err := NewNetwork(random, in.size, in.size, opts.Chunk)
	if err != nil {
		random.Close()
		return nil, err
	}
	defer net.Close()
	if opts.Baseline {
		start := time.Now()
		m, err := measure(net, in, opts, ent)
		if err != nil {
			return nil, fmt.Errorf("random init: %w", err)
		}
		m.Label, m.Seconds = "random init", time.Since(start).Seconds()
		logger.Info("analysed", "model", m.Label, "seconds", fmt.Sprintf("%.1f", m.Seconds), "phases", phaseText(m.PhaseSeconds))
		rep.Models = append(rep.Models, m)
	}
	analysed := 0
	for _, path := range paths {
		start := time.Now()
		state, err := checkpoints.Load(path)
		if errors.Is(err, fs.ErrNotExist) && len(paths) > 1 {
			// Checkpoints are read without the folder's lock: a run still training into it deletes
			// its older checkpoints (-keep) while the analysis works through the list read at the
			// start.
			logger.Warn("skipping a checkpoint removed since the folder was listed (by the run's -keep, if it is still training?)", "checkpoint", path)
			continue
		}
		if err != nil {
			return nil, err
		}
		analysed++
		cfg, err := encoder.ParseConfig(state.Config)
		if err != nil || cfg.Model != run.Model {
			state.Free()
			return nil, fmt.Errorf("%s: not the same run as %s (model configuration differs or is missing)", path, paths[0])
		}
		err = net.Encoder().SetVariables(state.Variables)
		step := state.Step
		state.Free()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m, err := measure(net, in, opts, ent)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m.Label, m.Step, m.Path, m.Seconds = baseName(path), step, path, time.Since(start).Seconds()
		logger.Info("analysed", "checkpoint", path, "step", step, "seconds", fmt.Sprintf("%.1f", m.Seconds), "phases", phaseText(m.PhaseSeconds))
		rep.Models = append(rep.Models, m)
	}
	if analysed == 0 {
		return nil, fmt.Errorf("%s: every checkpoint listed at the start was removed during the analysis (a run still training into the folder, with -keep?): analyse a copy of the checkpoints, or give -last 1", opts.Checkpoints)
	}
	return rep, nil
}

// phaseText is the seconds of each phase, in the order they run: "a1 1.3s, sweep 0.4s, ...".
func phaseText(secs map[string]float64) string {
	var parts []string
	for _, p := range []string{"a1", "sweep", "a2", "a3"} {
		if v, ok := secs[p]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1fs", p, v))
		}
	}
	return strings.Join(parts, ", ")
}

func baseName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[i+1:]
		}
	}
	return path
}

// listCheckpoints returns the checkpoint files of path (a file, or a folder of a run).
func listCheckpoints(path string, last int) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	paths, err := (&checkpoints.Manager{Dir: path}).List()
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: %w (want ckpt-*"+checkpoints.Ext+" files written by the trainer)", path, ErrNoCheckpoint)
	}
	if last > 0 && len(paths) > last {
		paths = paths[len(paths)-last:]
	}
	return paths, nil
}

// inputSize is the side of the images the run's encoder sees.
func inputSize(aug datasets.Augmentation, ds *datasets.Dataset) int {
	if aug.View1.Size > 0 {
		return aug.View1.Size
	}
	return min(ds.Height, ds.Width)
}

// cleanImages returns a function that gives image i of ds, normalised with the data set's
// statistics: ds holds the images as evaluate prepares them (testImages), already at size.
func cleanImages(ds *datasets.Dataset, size int) func(i int) []float32 {
	p := size * size * ds.Channels
	clean := datasets.Augmentation{Name: "resize", View1: datasets.ViewConfig{Size: size}, View2: datasets.ViewConfig{Size: size}}
	tmp := make([]float32, p)
	return func(i int) []float32 {
		out := make([]float32, p)
		clean.AugmentPair(ds, i, 0, 0, out, tmp, ds.Mean, ds.Std)
		return out
	}
}

// sweepInputs returns the anchors of the noise sweep and the standard deviation of the values of
// the evaluation images (the EntropyImages test images that A3 measures, normalised), as
// prepareInputs does.
func sweepInputs(set *evalSet, size int) ([]float32, float64) {
	img := cleanImages(set.ds, size)
	var anchors, eval []float32
	for _, idx := range set.anchors {
		anchors = append(anchors, img(idx)...)
	}
	for i := range set.n {
		eval = append(eval, img(i)...)
	}
	return anchors, valueStd(eval)
}

// prepareInputs draws the anchors' views and the entropy images' views.
func prepareInputs(set *evalSet, opts Options, logger *log.Logger) (*inputs, error) {
	ds := set.ds
	size := inputSize(set.aug, ds)
	in := &inputs{size: size, channels: ds.Channels, n: set.n}
	cleanImage := cleanImages(ds, size)
	noise := rand.New(rand.NewPCG(opts.Seed, 0x7015e))
	for _, idx := range set.anchors {
		x := cleanImage(idx)
		in.anchors = append(in.anchors, x...)
		if opts.InputNoise > 0 {
			for range opts.Views {
				for _, v := range x {
					in.views = append(in.views, v+float32(opts.InputNoise*noise.NormFloat64()))
				}
			}
		}
	}
	in.affinityAnchors = in.anchors
	if opts.AnchorJitter > 0 {
		jit := rand.New(rand.NewPCG(opts.Seed, 0x717e))
		in.affinityAnchors = make([]float32, len(in.anchors))
		for i, v := range in.anchors {
			in.affinityAnchors[i] = v + float32(opts.AnchorJitter*jit.NormFloat64())
		}
	}
	for i := range in.n {
		in.clean = append(in.clean, cleanImage(i)...)
	}
	in.std = valueStd(in.clean)
	if err := viewInputs(set, in, opts, logger); err != nil {
		return nil, err
	}
	return in, nil
}

// viewInputs draws the views of in from the test images as decoded, as the run's training drew
// them (datasets.Augmentation.AugmentImage: the run's augmentation on the whole image, with the
// random draws of the image's sample index): the anchors' Views views (unless InputNoise made
// them), view m the run's first view of "epoch" m, and a pair for each entropy image.
func viewInputs(set *evalSet, in *inputs, opts Options, logger *log.Logger) error {
	p := in.size * in.size * in.channels
	views := opts.Views
	if opts.InputNoise > 0 {
		views = 0
	}
	in.view1, in.view2 = make([]float32, in.n*p), make([]float32, in.n*p)
	if views > 0 {
		in.views = make([]float32, len(set.anchors)*views*p)
	}
	anchorOf := make(map[int]int, len(set.anchors)) // position in ds -> anchor
	for a, k := range set.anchors {
		anchorOf[k] = a
	}
	at := make(map[int]int, len(set.indices)) // sample index -> position in ds
	var samples []int
	for k, i := range set.indices {
		if _, isAnchor := anchorOf[k]; k < in.n || isAnchor && views > 0 {
			at[i] = k
			samples = append(samples, i)
		}
	}
	info, mean, std := set.data.Info(), set.ds.Mean, set.ds.Std
	_, inMemory := set.data.(*datasets.Dataset) // no files to decode: no bar
	bar := progress.New("drawing views", int64(len(samples)), 0, progress.Options{Logger: logger, Unit: "images", Quiet: inMemory})
	defer bar.Finish()
	err := datasets.Visit(set.data, samples, datasets.GatherConfig{Progress: func(done int) { bar.Set(int64(done), "") }},
		func(i int, _ int32, img datasets.Image) error {
			if img.C != in.channels {
				return fmt.Errorf("%s sample %d has %d channels, want %d", info.Name, i, img.C, in.channels)
			}
			k := at[i]
			if k < in.n {
				set.aug.AugmentImage(img, i, opts.Seed^0x5eed, 0, in.view1[k*p:(k+1)*p], in.view2[k*p:(k+1)*p], mean, std)
			}
			if a, ok := anchorOf[k]; ok && views > 0 {
				other := make([]float32, p)
				for m := range views {
					// View m of the anchor is the run's first view with the random draws of "epoch" m.
					j := a*views + m
					set.aug.AugmentImage(img, i, opts.Seed, m, in.views[j*p:(j+1)*p], other, mean, std)
				}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("drawing the views of the test images: %w", err)
	}
	return nil
}

// valueStd is the standard deviation of the values of x (in float64).
func valueStd(x []float32) float64 {
	if len(x) < 2 {
		return math.NaN()
	}
	mean := 0.0
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	ss := 0.0
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(x)-1))
}

// sweepConfig is the noise sweep of opts on inputs whose values have standard deviation std.
func sweepConfig(opts Options, std float64) SweepConfig {
	return SweepConfig{Levels: opts.NoiseLevels, InputStd: std, Copies: opts.Views, Components: opts.Components,
		NullDraws: opts.NullDraws, Alpha: opts.Alpha, Seed: opts.Seed}
}

// measure runs A1, A2 and A3 on one encoder.
func measure(f Func, in *inputs, opts Options, ent *entropyEstimator) (ModelReport, error) {
	m := ModelReport{PhaseSeconds: map[string]float64{}}
	q := f.OutDim()
	t0 := time.Now()
	emb, err := f.Forward(in.views, opts.Anchors*opts.Views)
	if err != nil {
		return m, err
	}
	views := make([][][]float64, opts.Anchors)
	for a := range views {
		views[a] = rows(emb[a*opts.Views*q:(a+1)*opts.Views*q], opts.Views, q)
	}
	if m.Gaussianity, err = Gaussianity(views, GaussianityConfig{Components: opts.Components, Projections: opts.Projections, Alpha: opts.Alpha, Seed: opts.Seed}); err != nil {
		return m, err
	}
	m.PhaseSeconds["a1"] = time.Since(t0).Seconds()
	if len(opts.NoiseLevels) > 0 {
		t0 = time.Now()
		sw, err := NoiseSweep(f, in.anchors, opts.Anchors, sweepConfig(opts, in.std))
		if err != nil {
			return m, err
		}
		m.NoiseSweep = &sw
		m.PhaseSeconds["sweep"] = time.Since(t0).Seconds()
	}
	t0 = time.Now()
	if m.Affinity, err = Affinity(f, in.affinityAnchors, opts.Anchors, AffinityConfig{Scales: opts.Scales, Directions: opts.Directions, Samples: opts.NoiseSamples, Seed: opts.Seed}); err != nil {
		return m, err
	}
	m.PhaseSeconds["a2"] = time.Since(t0).Seconds()
	t0 = time.Now()
	var z, z1, z2 []float32
	if z, err = f.Forward(in.clean, in.n); err != nil {
		return m, err
	}
	if z1, err = f.Forward(in.view1, in.n); err != nil {
		return m, err
	}
	if z2, err = f.Forward(in.view2, in.n); err != nil {
		return m, err
	}
	m.Entropy, err = ent.run(rows(z, in.n, q), rows(z1, in.n, q), rows(z2, in.n, q))
	m.PhaseSeconds["a3"] = time.Since(t0).Seconds()
	return m, err
}

// rows converts a row-major [n, d] float32 slice to float64 rows.
func rows(x []float32, n, d int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, d)
		for j := range d {
			out[i][j] = float64(x[i*d+j])
		}
	}
	return out
}

// evalSet holds the test images that an analysis measures.
type evalSet struct {
	// data is the run's test split as opened; ds the images measured, in memory, prepared as
	// evaluate prepares them (datasets.GatherConfig.Size); indices[k] is image k's sample index
	// in data.
	data    datasets.Data
	ds      *datasets.Dataset
	indices []int
	// aug is the run's augmentation (its views' side comes from data, as in training).
	aug datasets.Augmentation
	// anchors are the indices in ds of the anchor images (drawn at random from the whole split,
	// the same for every mode and model); the entropy images are ds's first n.
	anchors []int
	n       int
	source  DataSource
}

// testImages opens the test split of the run's data set (from opts.DataDir, or when empty from
// the folder the run read; the training images, with a warning, where there is no held-out
// split) and brings into memory the images that the analysis measures: EntropyImages images
// (the first ones of an in-memory set such as MNIST or CIFAR, drawn at random from an image
// folder or shards) and the Anchors anchors, decoded (a folder's files in parallel, shards in one
// pass) and prepared as evaluate prepares them for the run's view side (its -image-size, or the
// size its preset chose; the evaluation transform, normalised as training normalised them). The
// views are drawn later from the images as decoded (viewInputs), as training drew them.
func testImages(run config.Config, opts Options, logger *log.Logger) (*evalSet, error) {
	opt := run.DataOptions(opts.DataDir, opts.ShardCache)
	if opt.DataDir == "" {
		opt.DataDir = run.DataDir
		if err := datasets.CheckRecordedDataDir(opt.DataDir); err != nil {
			return nil, err
		}
		if opt.ShardCache == "" {
			opt.ShardCache = datasets.RecordedShardCache(run.ShardCache)
		}
	}
	if err := datasets.LimitShardCache(opt.ShardCache, opts.ShardCacheSize); err != nil {
		return nil, err
	}
	split := datasets.SplitTest
	d, err := datasets.OpenTest(run.Dataset, opt)
	if errors.Is(err, datasets.ErrNoSplit) {
		// Without held-out images the measures are taken on training images: said, not refused.
		logger.Warn("no held-out split: the analysis measures training images", "err", err)
		split = datasets.SplitTrain
		d, err = datasets.Open(run.Dataset, datasets.SplitTrain, opt)
	}
	if errors.Is(err, fs.ErrNotExist) && opts.DataDir == "" && opt.DataDir != "" {
		return nil, fmt.Errorf("%w\n%s", err, datasets.MissingRunData(opt.DataDir))
	}
	if err != nil {
		return nil, err
	}
	info := d.Info()
	if info.Channels != run.Model.InChannels {
		return nil, fmt.Errorf("the encoder takes %d-channel images but %s has %d channels", run.Model.InChannels, run.Dataset, info.Channels)
	}
	aug, err := run.Augmentation(d)
	if err != nil {
		return nil, fmt.Errorf("the run's augmentation: %w", err)
	}
	if opts.Anchors > info.Len && opts.FitAnchors {
		logger.Warn("fewer held-out images than the default anchors: every image is an anchor (-anchors sets the number)",
			"images", info.Len, "default_anchors", opts.Anchors)
		opts.Anchors = info.Len
	}
	if opts.Anchors > info.Len {
		return nil, usageError{fmt.Errorf("-anchors: %d anchors requested but the %s %s split has %d images: give -anchors %d or fewer", opts.Anchors, info.Name, split, info.Len, info.Len)}
	}
	set := &evalSet{data: d, aug: aug, n: min(opts.EntropyImages, info.Len),
		anchors: rand.New(rand.NewPCG(opts.Seed, 0xa1c0)).Perm(info.Len)[:opts.Anchors]}
	set.source = DataSource{Dataset: run.Dataset, Split: split, Images: info.Len, EntropyImages: set.n, EntropySelection: "first", Anchors: len(set.anchors)}
	if run.Dataset == "folder" || run.Dataset == "shards" {
		set.source.Dir = datasets.ExpandHome(opt.DataDir)
	}
	// An in-memory set's entropy images are its first ones. An image folder lists its files class
	// by class (and shards may keep that order): its entropy images are drawn at random from the
	// whole split, as the anchors are. They come first in ds, then the anchors that are not among
	// them.
	_, inMemory := d.(*datasets.Dataset)
	var indices []int
	if inMemory {
		for i := range set.n {
			indices = append(indices, i)
		}
	} else {
		set.source.EntropySelection = "random"
		indices = rand.New(rand.NewPCG(opts.Seed, 0xe7)).Perm(info.Len)[:set.n]
	}
	at := make(map[int]int, len(indices)) // index in the split -> position in ds
	for k, i := range indices {
		at[i] = k
	}
	for k, a := range set.anchors {
		if _, ok := at[a]; !ok {
			at[a] = len(indices)
			indices = append(indices, a)
		}
		set.anchors[k] = at[a]
	}
	set.indices = indices
	bar := progress.New("reading test images", int64(len(indices)), 0, progress.Options{Logger: logger, Unit: "images", Quiet: inMemory})
	bad := map[int]bool{}
	set.ds, err = datasets.Gather(d, indices, datasets.GatherConfig{Size: aug.View1.Size, Progress: func(done int) { bar.Set(int64(done), "") },
		SkipBadImages: opts.SkipBadImages || run.SkipBadImages, Skipped: func(i int, err error) {
			bar.Clear()
			name := fmt.Sprintf("%s sample %d", info.Name, i)
			var de *datasets.DataError
			if errors.As(err, &de) {
				name = de.Name()
			}
			logger.Warn("skipping a bad image", "image", name, "err", datasets.Cause(err))
			bad[i] = true
		}})
	bar.Finish()
	if err != nil {
		return nil, fmt.Errorf("reading the test images: %w", err)
	}
	if len(bad) > 0 {
		set.dropBad(indices, bad)
	}
	set.source.Anchors, set.source.EntropyImages = len(set.anchors), set.n
	if len(set.anchors) == 0 {
		return nil, fmt.Errorf("every anchor is a bad image (%d left out): repair the images or draw others (-seed)", len(bad))
	}
	return set, nil
}

// dropBad renumbers the set after Gather left out the bad images (sample indices in bad) of
// indices: the entropy images and the anchors that remain, at their positions in ds.
func (set *evalSet) dropBad(indices []int, bad map[int]bool) {
	pos := make([]int, len(indices)) // position in indices -> position in ds, -1 if left out
	c := 0
	for k, i := range indices {
		pos[k] = -1
		if !bad[i] {
			pos[k] = c
			c++
		}
	}
	n := 0
	for k := range set.n {
		if pos[k] >= 0 {
			n++
		}
	}
	var anchors []int
	for _, p := range set.anchors {
		if pos[p] >= 0 {
			anchors = append(anchors, pos[p])
		}
	}
	set.indices = slices.DeleteFunc(slices.Clone(indices), func(i int) bool { return bad[i] })
	set.n, set.anchors, set.source.BadImages = n, anchors, len(bad)
}
