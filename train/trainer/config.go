// Package trainer pretrains an encoder with a self-supervised objective: the configuration
// (with named presets and command-line flags), the compiled training step, the loop with its
// online linear probe, checkpoints, metrics and the final evaluation.
//
// The command `go run ./train` is a thin wrapper around Run; other Go programs can call Run too.
package trainer

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/optim"
)

// Config is everything that defines a pretraining run. It is stored in every checkpoint, and a
// resume with a different value of any field that changes the computation is refused.
type Config struct {
	Dataset  string        `json:"dataset"`
	DataDir  string        `json:"-"` // where the data lives may change between runs
	Augment  string        `json:"augment"`
	Subset   int           `json:"subset"` // use only the first Subset training images (0: all)
	Workers  int           `json:"-"`      // augmentation goroutines; results do not depend on it
	Seed     uint64        `json:"seed"`
	Model    models.Config `json:"model"`
	Expander string        `json:"expander"`

	Loss       string        `json:"loss"`
	LossParams losses.Params `json:"loss_params"`

	Epochs       int     `json:"epochs"`
	Steps        int64   `json:"steps"` // when > 0, overrides Epochs
	BatchSize    int     `json:"batch_size"`
	LR           float64 `json:"lr"` // base learning rate, for a batch of 256
	WeightDecay  float64 `json:"weight_decay"`
	Optimizer    string  `json:"optimizer"`
	Momentum     float64 `json:"momentum"`
	Eta          float64 `json:"eta"`
	Clip         bool    `json:"lars_clip"`
	WarmupEpochs float64 `json:"warmup_epochs"`
	ProbeLR      float64 `json:"probe_lr"`

	// Devices is the number of devices the training step is split over (data parallel, see
	// NewStepOn). Not stored: results equal one device's up to float32 rounding, so a run may
	// resume on another number of devices.
	Devices int `json:"-"`
	// Precision is the compute precision, one of Precisions. Stored (bf16 changes the results);
	// the default "f32" is left out of the JSON so that checkpoints written before this option
	// existed still resume.
	Precision string `json:"precision,omitempty"`

	CheckpointDir   string  `json:"-"`
	KeepLast        int     `json:"-"`
	CheckpointEvery int     `json:"-"` // steps between checkpoints (0: at every epoch end)
	Resume          bool    `json:"-"`
	MetricsFile     string  `json:"-"`
	LogEvery        int     `json:"-"` // steps between metric lines
	EvalEvery       int     `json:"-"` // epochs between offline kNN evaluations during training (0: only at the end)
	KNNK            int     `json:"-"`
	KNNTemperature  float64 `json:"-"`
	ProbeEpochs     int     `json:"-"`
	Baselines       bool    `json:"-"` // also probe raw pixels and a randomly initialised encoder
	EvalSubset      int     `json:"-"` // evaluate on the first EvalSubset test images (0: all)
	ExportEncoder   string  `json:"-"`
	OnNonFinite     string  `json:"-"` // OnNonFiniteStop or OnNonFiniteRollback
}

// What a run does when a loss term or a variable becomes NaN or infinite (Config.OnNonFinite).
const (
	OnNonFiniteStop     = "stop"     // return ErrNonFinite; nothing is saved
	OnNonFiniteRollback = "rollback" // restore the newest checkpoint and go on, at most MaxRollbacks times
)

// Presets are named configurations. "mnist" is the default job: it runs on 2 CPU cores in
// minutes. "cifar10", "cifar100" reproduce solo-learn's VICReg recipe; "imagenet" the official one.
var Presets = map[string]func() Config{
	"mnist": func() Config {
		c := base()
		c.Dataset, c.Augment = "mnist", "mnist"
		c.Model = models.Config{Arch: "resnet18", Stem: "imagenet", Width: 24, InChannels: 1}
		c.Expander = "256-256-256"
		c.Epochs, c.BatchSize = 3, 256
		c.LR, c.Eta, c.WeightDecay, c.WarmupEpochs = 0.3, 0.02, 1e-4, 0.5
		return c
	},
	"cifar10":  func() Config { return soloCIFAR("cifar10") },
	"cifar100": func() Config { return soloCIFAR("cifar100") },
	"imagenet": func() Config {
		c := base()
		c.Dataset, c.Augment = "folder", "vicreg"
		c.Model = models.Config{Arch: "resnet50", Stem: "imagenet", Width: 64, InChannels: 3}
		c.Expander = "8192-8192-8192"
		c.Epochs, c.BatchSize = 1000, 2048
		c.LR, c.Eta, c.WeightDecay, c.WarmupEpochs = 0.2, 0.001, 1e-6, 10
		c.LossParams.VarianceConvention = "half"
		return c
	},
}

// soloCIFAR is solo-learn's VICReg recipe for CIFAR (DESIGN section 5).
func soloCIFAR(dataset string) Config {
	c := base()
	c.Dataset, c.Augment = dataset, "solo-cifar"
	c.Model = models.Config{Arch: "resnet18", Stem: "cifar", Width: 64, InChannels: 3}
	c.Expander = "2048-2048-2048"
	c.Epochs, c.BatchSize = 1000, 256
	c.LR, c.Eta, c.WeightDecay, c.WarmupEpochs, c.Clip = 0.3, 0.02, 1e-4, 10, true
	return c
}

func base() Config {
	return Config{
		Seed: 0, Loss: "vicreg", LossParams: losses.Defaults(), Optimizer: "lars", Momentum: 0.9,
		ProbeLR: 0.1, CheckpointDir: "runs/vicreg", KeepLast: 3, LogEvery: 10, KNNK: 20,
		KNNTemperature: 0.07, ProbeEpochs: 30, Baselines: true, OnNonFinite: OnNonFiniteStop, Devices: 1, Precision: "f32",
	}
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	var names []string
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Default is the configuration of `go run ./train` with no flags: the "mnist" preset.
func Default() Config { return Presets["mnist"]() }

// UsageError is an invalid flag or configuration value; commands exit with status 2 for it.
type UsageError struct {
	Flag, Msg string
}

func (e *UsageError) Error() string {
	if e.Flag == "" {
		return e.Msg
	}
	return fmt.Sprintf("-%s: %s", e.Flag, e.Msg)
}

func usage(flag, format string, args ...any) error {
	return &UsageError{Flag: flag, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every field and returns a UsageError naming the flag of the first bad one.
func (c *Config) Validate() error {
	if !slices.Contains(datasets.Names(), c.Dataset) {
		return usage("dataset", "unknown data set %q: use one of %s", c.Dataset, strings.Join(datasets.Names(), ", "))
	}
	if !slices.Contains(datasets.PresetNames(), c.Augment) {
		return usage("augment", "unknown augmentation preset %q: use one of %s", c.Augment, strings.Join(datasets.PresetNames(), ", "))
	}
	if err := c.Model.Validate(); err != nil {
		return usage("model", "%v", err)
	}
	if _, err := models.ParseExpander(c.Expander); err != nil {
		return usage("expander", "%v", err)
	}
	if _, err := losses.New(c.Loss, c.LossParams); err != nil {
		return usage("loss", "%v", err)
	}
	switch {
	case c.Epochs <= 0 && c.Steps <= 0:
		return usage("epochs", "must be > 0 (or give -steps)")
	case c.Steps < 0:
		return usage("steps", "must be >= 0")
	case c.BatchSize < 2:
		return usage("batch-size", "must be at least 2 (batch statistics need two samples), got %d", c.BatchSize)
	case c.Devices < 1:
		return usage("devices", "must be >= 1, got %d", c.Devices)
	case c.BatchSize%c.Devices != 0:
		return usage("devices", "%d devices do not divide the batch of %d: use a -batch-size that is a multiple of -devices", c.Devices, c.BatchSize)
	case c.Subset < 0:
		return usage("subset", "must be >= 0")
	case c.WarmupEpochs < 0:
		return usage("warmup-epochs", "must be >= 0")
	case c.KeepLast < 1:
		return usage("keep", "must keep at least 1 checkpoint")
	case c.LogEvery < 1:
		return usage("log-every", "must be >= 1")
	case c.KNNK < 1:
		return usage("knn-k", "must be >= 1")
	case c.KNNTemperature <= 0:
		return usage("knn-t", "must be > 0")
	case c.ProbeLR <= 0:
		return usage("probe-lr", "must be > 0")
	case c.CheckpointDir == "":
		return usage("checkpoint-dir", "must not be empty")
	case c.OnNonFinite != OnNonFiniteStop && c.OnNonFinite != OnNonFiniteRollback:
		return usage("on-nonfinite", "unknown action %q: use %s or %s", c.OnNonFinite, OnNonFiniteStop, OnNonFiniteRollback)
	}
	if _, err := PrecisionDType(c.Precision); err != nil {
		return usage("precision", "%v", err)
	}
	oc := optim.Config{Kind: c.Optimizer, WeightDecay: c.WeightDecay, Momentum: c.Momentum, Eta: c.Eta,
		Schedule: optim.Schedule{Base: c.LR, TotalSteps: 1}}
	if err := oc.Validate(); err != nil {
		return usage(optimizerFlag(err), "%v", err)
	}
	return nil
}

func optimizerFlag(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "optimizer"):
		return "optimizer"
	case strings.Contains(msg, "eta"):
		return "eta"
	case strings.Contains(msg, "momentum"):
		return "momentum"
	case strings.Contains(msg, "weight decay"):
		return "wd"
	default:
		return "lr"
	}
}

// JSON returns the configuration as stored in checkpoints.
func (c *Config) JSON() json.RawMessage {
	cc := *c
	if cc.Precision == "f32" {
		cc.Precision = "" // the default is not written (see Config.Precision)
	}
	data, err := json.Marshal(cc)
	if err != nil {
		panic(err) // Config holds only plain values.
	}
	return data
}

// BindFlags registers one flag per tunable field of c on fs, with c's current values as defaults.
// Call it on a Config from a preset; -preset itself is handled by ParseFlags.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Dataset, "dataset", c.Dataset, "data set: "+strings.Join(datasets.Names(), ", "))
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "folder of the data sets (downloaded there when missing and online); for -dataset folder, the image folder")
	fs.StringVar(&c.Augment, "augment", c.Augment, "two-view augmentation preset: "+strings.Join(datasets.PresetNames(), ", "))
	fs.IntVar(&c.Subset, "subset", c.Subset, "train on the first N training images only (0: all)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "augmentation goroutines (0: one per CPU)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of initialisation, data order and augmentations")
	fs.StringVar(&c.Model.Arch, "model", c.Model.Arch, "encoder: "+strings.Join(models.Archs, ", "))
	fs.StringVar(&c.Model.Stem, "stem", c.Model.Stem, "encoder stem: "+strings.Join(models.Stems, ", "))
	fs.IntVar(&c.Model.Width, "width", c.Model.Width, "encoder base width (64 is torchvision's)")
	fs.IntVar(&c.Model.InChannels, "channels", c.Model.InChannels, "image channels the encoder takes (1 or 3); must match the data set")
	fs.BoolVar(&c.Model.ZeroInitResidual, "zero-init-residual", c.Model.ZeroInitResidual, "zero-initialise the last batch-norm scale of each residual block")
	fs.StringVar(&c.Expander, "expander", c.Expander, "expander widths, e.g. 2048-2048-2048")
	fs.StringVar(&c.Loss, "loss", c.Loss, "objective: "+strings.Join(losses.Names(), ", "))
	fs.Float64Var(&c.LossParams.Lambda, "lambda", c.LossParams.Lambda, "VICReg invariance weight")
	fs.Float64Var(&c.LossParams.Mu, "mu", c.LossParams.Mu, "VICReg variance weight")
	fs.Float64Var(&c.LossParams.Nu, "nu", c.LossParams.Nu, "VICReg covariance weight")
	fs.Float64Var(&c.LossParams.Gamma, "gamma", c.LossParams.Gamma, "VICReg target standard deviation")
	fs.StringVar(&c.LossParams.VarianceConvention, "variance-convention", c.LossParams.VarianceConvention, "VICReg variance term: sum (paper, solo-learn) or half (official code)")
	fs.Float64Var(&c.LossParams.EntropyWeight, "entropy-weight", c.LossParams.EntropyWeight, "weight of the entropy estimate (vicreg-logdet, vicreg-pairdist)")
	fs.Float64Var(&c.LossParams.Beta, "beta", c.LossParams.Beta, "LogDet estimator scale (vicreg-logdet)")
	fs.Float64Var(&c.LossParams.Sigma, "sigma", c.LossParams.Sigma, "pairwise-distance kernel width (vicreg-pairdist)")
	fs.StringVar(&c.LossParams.PairDistance, "pair-distance", c.LossParams.PairDistance, "pairwise distance: bhattacharyya or kl (vicreg-pairdist)")
	fs.Float64Var(&c.LossParams.BarlowLambda, "barlow-lambda", c.LossParams.BarlowLambda, "Barlow Twins off-diagonal weight")
	fs.Float64Var(&c.LossParams.Temperature, "temperature", c.LossParams.Temperature, "SimCLR NT-Xent temperature")
	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "training epochs")
	fs.Int64Var(&c.Steps, "steps", c.Steps, "training steps; when > 0, overrides -epochs")
	fs.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "images per batch (each gives two views)")
	fs.Float64Var(&c.LR, "lr", c.LR, "base learning rate for a batch of 256; the peak is lr*batch/256")
	fs.Float64Var(&c.WeightDecay, "wd", c.WeightDecay, "weight decay")
	fs.StringVar(&c.Optimizer, "optimizer", c.Optimizer, "optimizer: "+strings.Join(optim.Kinds, ", "))
	fs.Float64Var(&c.Momentum, "momentum", c.Momentum, "momentum (lars, sgd)")
	fs.Float64Var(&c.Eta, "eta", c.Eta, "LARS trust coefficient")
	fs.BoolVar(&c.Clip, "lars-clip", c.Clip, "LARS trust-ratio clipping (solo-learn)")
	fs.Float64Var(&c.WarmupEpochs, "warmup-epochs", c.WarmupEpochs, "linear warm-up, in epochs (may be fractional)")
	fs.Float64Var(&c.ProbeLR, "probe-lr", c.ProbeLR, "learning rate of the online linear probe")
	fs.IntVar(&c.Devices, "devices", c.Devices, "devices to split each batch over (data parallel; XLA CPU exposes several, xla:cuda one per GPU); must divide -batch-size")
	fs.StringVar(&c.Precision, "precision", c.Precision, "compute precision: "+strings.Join(Precisions, ", ")+" (bf16: bfloat16 convolutions and matrix products, float32 weights, batch-norm statistics and losses)")
	fs.StringVar(&c.CheckpointDir, "checkpoint-dir", c.CheckpointDir, "folder of checkpoints, metrics and plots")
	fs.IntVar(&c.KeepLast, "keep", c.KeepLast, "checkpoints to keep (plus the best by probe accuracy)")
	fs.IntVar(&c.CheckpointEvery, "checkpoint-every", c.CheckpointEvery, "steps between checkpoints (0: at the end of every epoch)")
	fs.BoolVar(&c.Resume, "resume", c.Resume, "continue from the newest valid checkpoint in -checkpoint-dir")
	fs.StringVar(&c.MetricsFile, "metrics", c.MetricsFile, "metrics file, JSON lines (default <checkpoint-dir>/metrics.jsonl)")
	fs.IntVar(&c.LogEvery, "log-every", c.LogEvery, "steps between metric lines")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "epochs between kNN evaluations during training (0: only at the end)")
	fs.IntVar(&c.KNNK, "knn-k", c.KNNK, "neighbours of the kNN classifier")
	fs.Float64Var(&c.KNNTemperature, "knn-t", c.KNNTemperature, "temperature of the kNN classifier")
	fs.IntVar(&c.ProbeEpochs, "probe-epochs", c.ProbeEpochs, "epochs of the final offline linear probe")
	fs.BoolVar(&c.Baselines, "baselines", c.Baselines, "also probe raw pixels and a randomly initialised encoder")
	fs.IntVar(&c.EvalSubset, "eval-subset", c.EvalSubset, "evaluate on the first N test images (0: all)")
	fs.StringVar(&c.ExportEncoder, "export-encoder", c.ExportEncoder, "also write the trained encoder alone to this file")
	fs.StringVar(&c.OnNonFinite, "on-nonfinite", c.OnNonFinite, "when the loss or a weight becomes NaN/Inf: stop (nothing is saved), or rollback to the newest checkpoint, skipping the batches since (at most 3 times)")
}

// ParseFlags parses args into a Config: -preset (default "mnist") picks the starting values, then
// every other flag given overrides its field. Errors are UsageErrors naming the flag.
func ParseFlags(fs *flag.FlagSet, args []string) (Config, error) {
	preset := "mnist"
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "preset" {
			if hasValue {
				preset = value
			} else if i+1 < len(args) {
				preset = args[i+1]
			}
		}
	}
	mk, ok := Presets[preset]
	if !ok {
		return Config{}, usage("preset", "unknown preset %q: use one of %s", preset, strings.Join(PresetNames(), ", "))
	}
	c := mk()
	fs.String("preset", "mnist", "starting configuration: "+strings.Join(PresetNames(), ", ")+"; other flags override it")
	c.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, usage("", "unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	return c, c.Validate()
}
