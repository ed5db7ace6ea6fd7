package analysis

import (
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// ErrNotComparable is returned by Compare when two runs differ in their encoder or their data.
var ErrNotComparable = errors.New("the runs cannot be compared")

// RunSweep is the noise sweep of one run's checkpoint in a Comparison.
type RunSweep struct {
	// Label is "<objective> seed <seed>" (with the path when two runs share it).
	Label     string        `json:"label"`
	Objective string        `json:"objective"`
	Seed      uint64        `json:"seed"`
	Path      string        `json:"path,omitempty"`
	Step      int64         `json:"step"`
	Run       config.Config `json:"run"`
	Seconds   float64       `json:"seconds"`
	Sweep     SweepResult   `json:"sweep"`
	Claims    []Verdict     `json:"claims"`
}

// ObjectiveLevel is, at one noise level, the mean across an objective's runs of their mean
// p-values, with the 95% t-interval across runs.
type ObjectiveLevel struct {
	Sigma float64      `json:"sigma"`
	P     MeanInterval `json:"p"`
}

// ObjectiveSweep aggregates the runs of one objective (present when it has at least two).
type ObjectiveSweep struct {
	Objective string           `json:"objective"`
	Runs      []string         `json:"runs"`
	Levels    []ObjectiveLevel `json:"levels"`
}

// Comparison is the outcome of Compare: the noise sweeps of several runs of one encoder
// architecture on one data set, measured on the same anchors with the same noise draws.
type Comparison struct {
	Options Options `json:"options"`
	// Backend is the backend (backend.Name: "xla:cpu"), Machine the computer the timings were
	// measured on.
	Backend string           `json:"backend"`
	Machine *results.Machine `json:"machine,omitempty"`
	Dataset string           `json:"dataset"`
	// Data is the images measured (the anchors of the sweep; its input scale from the first
	// Data.EntropyImages).
	Data      DataSource    `json:"data"`
	InputSize int           `json:"input_size"`
	Model     models.Config `json:"model"`
	// Baseline is a randomly initialised encoder of the first run's configuration (when
	// Options.Baseline).
	Baseline   *RunSweep        `json:"baseline,omitempty"`
	Runs       []RunSweep       `json:"runs"`
	Objectives []ObjectiveSweep `json:"objectives"`
	// Notes says why an objective of several runs has no aggregate (two of its runs share a seed).
	Notes []string `json:"notes,omitempty"`
}

// compared is one run to compare: its newest checkpoint (or the given file) and configuration.
type compared struct {
	path string
	step int64
	cfg  config.Config
	size int
}

// Compare measures the noise sweep of several runs side by side. Each path is a run's checkpoint
// folder (its newest valid checkpoint is used) or a checkpoint file. The runs must share the data
// set, the input size, the encoder's architecture, stem, width, channels and compute precision,
// whether images were turned by their EXIF orientation, and the labels' column of a folder's table;
// the objective and the seed (and the rest of the recipe) may differ. A mismatch is an error
// wrapping ErrNotComparable that names the field. Every run is measured on the same anchors and
// noise draws, through one compiled program.
func Compare(b backends.Backend, paths []string, opts Options) (*Comparison, error) {
	logger := opts.Logger
	if logger == nil {
		logger = log.Default()
	}
	if len(paths) < 1 {
		return nil, errors.New("compare: no runs given")
	}
	if len(opts.NoiseLevels) == 0 {
		return nil, errors.New("compare: no noise levels: the comparison is the noise sweep")
	}
	if err := opts.validateMeasures(); err != nil {
		return nil, err
	}
	runs := make([]compared, len(paths))
	for i, p := range paths {
		state, file, err := loadNewest(p)
		if err != nil {
			return nil, err
		}
		cfg, err := encoder.ParseConfig(state.Config)
		runs[i] = compared{path: file, step: state.Step, cfg: cfg}
		state.Free()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if i > 0 {
			if err := sameEncoder(runs[0], runs[i], opts.DataDir != ""); err != nil {
				return nil, err
			}
		}
	}
	first := runs[0].cfg
	set, err := testImages(first, opts, logger)
	if err != nil {
		return nil, err
	}
	opts.Anchors = len(set.anchors) // fewer, where bad images were left out
	for i := range runs {
		aug, err := runs[i].cfg.Augmentation(set.data)
		if err != nil {
			return nil, fmt.Errorf("%s: the run's augmentation: %w", runs[i].path, err)
		}
		runs[i].size = inputSize(aug, set.ds)
		if i > 0 {
			if err := sameEncoder(runs[0], runs[i], opts.DataDir != ""); err != nil {
				return nil, err
			}
		}
	}
	size := runs[0].size
	anchors, std := sweepInputs(set, size)
	random, err := encoder.Random(b, first)
	if err != nil {
		return nil, err
	}
	net, err := NewNetwork(random, size, size, opts.Chunk)
	if err != nil {
		random.Close()
		return nil, err
	}
	defer net.Close()
	cmp := &Comparison{Options: opts, Backend: backend.Name(b), Machine: backend.Machine(b), Dataset: first.Dataset, Data: set.source, InputSize: size, Model: first.Model}
	scfg := sweepConfig(opts, std)
	sweep := func(label string) (SweepResult, float64, error) {
		start := time.Now()
		sw, err := NoiseSweep(net, anchors, opts.Anchors, scfg)
		if err != nil {
			return sw, 0, fmt.Errorf("%s: %w", label, err)
		}
		secs := time.Since(start).Seconds()
		logger.Info("noise sweep", "model", label, "seconds", fmt.Sprintf("%.1f", secs))
		return sw, secs, nil
	}
	if opts.Baseline {
		label := fmt.Sprintf("random init (seed %d)", first.Seed)
		sw, secs, err := sweep(label)
		if err != nil {
			return nil, err
		}
		cmp.Baseline = &RunSweep{Label: label, Objective: "random init", Seed: first.Seed, Run: first, Seconds: secs, Sweep: sw, Claims: sw.Claims()}
	}
	labels := runLabels(runs)
	for i, r := range runs {
		state, err := checkpoints.Load(r.path)
		if err != nil {
			return nil, err
		}
		err = net.Encoder().SetVariables(state.Variables)
		state.Free()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.path, err)
		}
		sw, secs, err := sweep(labels[i])
		if err != nil {
			return nil, err
		}
		cmp.Runs = append(cmp.Runs, RunSweep{Label: labels[i], Objective: r.cfg.Loss, Seed: r.cfg.Seed, Path: r.path, Step: r.step,
			Run: r.cfg, Seconds: secs, Sweep: sw, Claims: sw.Claims()})
	}
	cmp.Objectives, cmp.Notes = aggregateObjectives(cmp.Runs)
	for _, n := range cmp.Notes {
		logger.Warn(n)
	}
	return cmp, nil
}

// loadNewest loads path: a checkpoint file, or the newest valid checkpoint of a run folder.
func loadNewest(path string) (*checkpoints.State, string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("compare: %w", err)
	}
	if !info.IsDir() {
		s, err := checkpoints.Load(path)
		return s, path, err
	}
	s, file, err := (&checkpoints.Manager{Dir: path}).LoadLatest()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w (want a run folder of ckpt-*%s files, or a checkpoint file)", path, err, checkpoints.Ext)
	}
	return s, file, nil
}

// sameEncoder reports the first field in which b's encoder or data differ from a's. Runs on an
// image folder or shards must have been trained on the same one (their data_dir) unless
// dataDirGiven (-data-dir): all are measured on one folder, the first run's or that one.
func sameEncoder(a, b compared, dataDirGiven bool) error {
	if own := a.cfg.Dataset == "folder" || a.cfg.Dataset == "shards"; own && !dataDirGiven && a.cfg.Dataset == b.cfg.Dataset && a.cfg.DataDir != b.cfg.DataDir {
		return fmt.Errorf("%w: %s and %s were trained on other images (-dataset %s in %s and in %s), and all runs are measured on the first run's; if both folders hold the same images, give -data-dir to measure every run on one of them",
			ErrNotComparable, a.path, b.path, a.cfg.Dataset, a.cfg.DataDir, b.cfg.DataDir)
	}
	for _, f := range []struct {
		name   string
		va, vb any
	}{
		{"data set (dataset)", a.cfg.Dataset, b.cfg.Dataset},
		{"model architecture (model.arch)", a.cfg.Model.Arch, b.cfg.Model.Arch},
		{"stem (model.stem)", a.cfg.Model.Stem, b.cfg.Model.Stem},
		{"width (model.width)", a.cfg.Model.Width, b.cfg.Model.Width},
		{"image channels (model.in_channels)", a.cfg.Model.InChannels, b.cfg.Model.InChannels},
		{"compute precision (precision)", a.cfg.Precision, b.cfg.Precision},
		{"reading of images' EXIF orientation (exif_orientation)", a.cfg.ExifOrientation, b.cfg.ExifOrientation},
		{"labels' column in the folder's metadata table (label_column)", a.cfg.LabelColumn, b.cfg.LabelColumn},
		{"percentage of the folder's images held out as the test split (val_percent)", a.cfg.ValPercent, b.cfg.ValPercent},
		{"label table's column of splits (split_column)", a.cfg.SplitColumn, b.cfg.SplitColumn},
		{"image size (the input size of augmentation " + a.cfg.Augment + " and " + b.cfg.Augment + ")", a.size, b.size},
	} {
		if f.va != f.vb {
			return fmt.Errorf("%w: %s and %s differ in the %s: %v against %v. Compare runs of one encoder on one data set; the objective, the seed and the rest of the recipe may differ",
				ErrNotComparable, a.path, b.path, f.name, f.va, f.vb)
		}
	}
	return nil
}

// runLabels names each run "<objective> seed <seed>", adding the path where two runs share it.
func runLabels(runs []compared) []string {
	count := map[string]int{}
	labels := make([]string, len(runs))
	for i, r := range runs {
		labels[i] = fmt.Sprintf("%s seed %d", r.cfg.Loss, r.cfg.Seed)
		count[labels[i]]++
	}
	for i, r := range runs {
		if count[labels[i]] > 1 {
			labels[i] += " (" + r.path + ")"
		}
	}
	return labels
}

// aggregateObjectives averages the per-run curves of every objective with at least two runs, all
// of distinct seeds: the interval is seed-to-seed variation, which two runs of one seed (a copy,
// or a resumed run) would understate. notes says which objectives were left out and why.
func aggregateObjectives(runs []RunSweep) (out []ObjectiveSweep, notes []string) {
	var order []string
	byObj := map[string][]RunSweep{}
	for _, r := range runs {
		if _, ok := byObj[r.Objective]; !ok {
			order = append(order, r.Objective)
		}
		byObj[r.Objective] = append(byObj[r.Objective], r)
	}
	for _, obj := range order {
		rs := byObj[obj]
		if len(rs) < 2 {
			continue
		}
		if a, b, ok := sharedSeed(rs); ok {
			notes = append(notes, fmt.Sprintf("%s: no seed-to-seed interval: %s and %s have the same seed %d (compare runs of distinct seeds)",
				obj, a.Path, b.Path, a.Seed))
			continue
		}
		o := ObjectiveSweep{Objective: obj}
		for _, r := range rs {
			o.Runs = append(o.Runs, r.Label)
		}
		for li, lv := range rs[0].Sweep.Levels {
			var means []float64
			for _, r := range rs {
				if li < len(r.Sweep.Levels) {
					means = append(means, r.Sweep.Levels[li].P.Mean)
				} else {
					means = append(means, math.NaN())
				}
			}
			o.Levels = append(o.Levels, ObjectiveLevel{Sigma: lv.Sigma, P: NewMeanInterval(means, 0, 1)})
		}
		out = append(out, o)
	}
	return out, notes
}

// sharedSeed returns two runs of rs with the same seed, if any.
func sharedSeed(rs []RunSweep) (a, b RunSweep, ok bool) {
	bySeed := map[uint64]RunSweep{}
	for _, r := range rs {
		if first, seen := bySeed[r.Seed]; seen {
			return first, r, true
		}
		bySeed[r.Seed] = r
	}
	return a, b, false
}
