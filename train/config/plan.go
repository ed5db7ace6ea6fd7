package config

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/optim"
)

// FieldError is an invalid configuration value. Flag names the command-line flag that sets it
// (without the dash; "config" for a problem with a configuration file, "" for one that no single
// flag causes); commands exit with status 2 for it.
type FieldError struct {
	Flag, Msg string
}

func (e *FieldError) Error() string {
	if e.Flag == "" {
		return e.Msg
	}
	return fmt.Sprintf("-%s: %s", e.Flag, e.Msg)
}

// NotUTF8 says why a path that is not valid UTF-8 is refused, and what to do: config.json records
// paths as JSON strings, which are Unicode, so its other bytes would come back as U+FFFD, naming a
// folder that does not exist.
func NotUTF8(path string) string {
	return fmt.Sprintf("%q holds bytes that are not UTF-8 (a name from an old archive, in Latin-1 say), which config.json cannot record: evaluate, analyze and -config config.json -resume would look for another folder; rename it in UTF-8 (for instance convmv -f latin1 -t utf8 -r --notest FOLDER)", path)
}

// Errorf returns a *FieldError for flag.
func Errorf(flag, format string, args ...any) error {
	return &FieldError{Flag: flag, Msg: fmt.Sprintf(format, args...)}
}

// Plan is what a valid Config builds, once: the objective, the expander's widths, the compute
// precision and the optimiser's settings. Validation is building it.
type Plan struct {
	Config    Config
	Objective losses.Objective
	Expander  []int
	Precision dtypes.DType
	// Optimizer holds every optimiser setting; its schedule's length is set by ForData.
	Optimizer optim.Config
}

// Validate checks every field and returns a *FieldError naming the flag of the first bad one.
func (c Config) Validate() error {
	_, err := c.Plan()
	return err
}

// Plan validates c and builds what it describes; errors are *FieldError.
func (c Config) Plan() (*Plan, error) {
	if !slices.Contains(datasets.Names(), c.Dataset) {
		return nil, Errorf("dataset", "unknown data set %q: use one of %s", c.Dataset, strings.Join(datasets.Names(), ", "))
	}
	if !slices.Contains(datasets.PresetNames(), c.Augment) {
		return nil, Errorf("augment", "unknown augmentation preset %q: use one of %s", c.Augment, strings.Join(datasets.PresetNames(), ", "))
	}
	if _, err := datasets.ParseSize(c.ShardCacheSize); err != nil {
		return nil, Errorf("shard-cache-size", "%v", err)
	}
	switch m := c.Model; {
	case !slices.Contains(models.Archs, m.Arch):
		return nil, Errorf("model", "unknown encoder %q: use one of %s", m.Arch, strings.Join(models.Archs, ", "))
	case !slices.Contains(models.Stems, m.Stem):
		return nil, Errorf("stem", "unknown stem %q: use one of %s", m.Stem, strings.Join(models.Stems, ", "))
	case m.Width <= 0:
		return nil, Errorf("width", "must be a positive number of channels (64 is torchvision's), got %d", m.Width)
	case m.InChannels != 1 && m.InChannels != 3:
		return nil, Errorf("channels", "must be 1 (grayscale) or 3 (RGB), got %d", m.InChannels)
	}
	if err := c.Model.Validate(); err != nil {
		return nil, Errorf("model", "%v", err) // a check models has and the cases above lack
	}
	p := &Plan{Config: c}
	var err error
	if p.Expander, err = models.ParseExpander(c.Expander); err != nil {
		return nil, Errorf("expander", "%v", err)
	}
	if p.Objective, err = losses.New(c.Loss, c.LossParams); err != nil {
		return nil, lossError(err)
	}
	if p.Precision, err = PrecisionDType(c.Precision); err != nil {
		return nil, Errorf("precision", "%v", err)
	}
	if c.SplitColumn != "" {
		if _, _, err := datasets.ParseSplitColumn(c.SplitColumn); err != nil {
			return nil, Errorf("split-column", "%v", err)
		}
	}
	switch {
	case c.Epochs <= 0 && c.Steps <= 0:
		return nil, Errorf("epochs", "must be > 0 (or give -steps)")
	case c.Steps < 0:
		return nil, Errorf("steps", "must be >= 0")
	case c.BatchSize < 2:
		return nil, Errorf("batch-size", "must be at least 2 (batch statistics need two samples), got %d", c.BatchSize)
	case c.Devices < 1:
		return nil, Errorf("devices", "must be >= 1, got %d", c.Devices)
	case c.BatchSize%c.Devices != 0:
		return nil, Errorf("devices", "%d devices do not divide the batch of %d: use a -batch-size that is a multiple of -devices", c.Devices, c.BatchSize)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return nil, Errorf("lr", "must be a number > 0, got %g", c.LR)
	case c.Workers < 0:
		return nil, Errorf("workers", "must be >= 0 (0: one per CPU), got %d", c.Workers)
	case c.Subset < 0:
		return nil, Errorf("subset", "must be >= 0")
	case c.ImageSize < 0:
		return nil, Errorf("image-size", "must be >= 0, got %d", c.ImageSize)
	case c.ExifOrientation && !strings.EqualFold(c.Dataset, "folder") && !strings.EqualFold(c.Dataset, "shards"):
		return nil, Errorf("exif-orientation", "turns the images of image folders and shards (-dataset folder or shards); %s has no EXIF data", c.Dataset)
	case c.LabelColumn != "" && !strings.EqualFold(c.Dataset, "folder") && !strings.EqualFold(c.Dataset, "shards"):
		return nil, Errorf("label-column", "names the column of labels in an image folder's metadata table (-dataset folder), or the member of shards that holds the classes (-dataset shards); %s has its own labels", c.Dataset)
	case strings.EqualFold(c.Dataset, "shards") && shardLabelErr(c.LabelColumn) != nil:
		return nil, Errorf("label-column", "%v", shardLabelErr(c.LabelColumn))
	case c.ClassNames != "" && !strings.EqualFold(c.Dataset, "shards"):
		return nil, Errorf("class-names", "names the classes of shards (-dataset shards); %s has its own classes", c.Dataset)
	case c.ClassNames != "" && shardLabelNone(c.LabelColumn):
		return nil, Errorf("class-names", "names the classes of labels that -label-column none leaves unread: leave one of them out")
	case c.LabelTable != "" && !strings.EqualFold(c.Dataset, "folder"):
		return nil, Errorf("label-table", "labels an image folder (-dataset folder); %s has its own labels", c.Dataset)
	case c.ShuffleBuffer < 0:
		return nil, Errorf("shuffle-buffer", "must be >= 0, got %d", c.ShuffleBuffer)
	case c.ShardReadAhead < -1:
		return nil, Errorf("shard-read-ahead", "must be -1 (none), 0 (the default, %d) or more, got %d", datasets.DefaultReadAhead, c.ShardReadAhead)
	case c.ShardCacheSize != "" && c.ShardCache == "":
		return nil, Errorf("shard-cache-size", "limits the size of a shard cache: give its folder with -shard-cache")
	case c.Validation < 0:
		return nil, Errorf("validation", "must be >= 0")
	case !(c.ValPercent >= 0 && c.ValPercent < 100):
		return nil, Errorf("val-percent", "want a percentage in [0, 100) (0: none), got %g", c.ValPercent)
	case c.ValPercent > 0 && !strings.EqualFold(c.Dataset, "folder") && !strings.EqualFold(c.Dataset, "shards"):
		return nil, Errorf("val-percent", "holds out images of an image folder or shards (-dataset folder or shards); for %s, use -validation N", c.Dataset)
	case c.SplitColumn != "" && !strings.EqualFold(c.Dataset, "folder"):
		return nil, Errorf("split-column", "names a column of an image folder's label table (-dataset folder); for %s, use -validation N (in-memory data sets) or a val/ folder of shards", c.Dataset)
	case c.SplitColumn != "" && c.ValPercent > 0:
		return nil, Errorf("split-column", "and -val-percent both choose the held-out images: give one of them")
	case !(c.WarmupEpochs >= 0) || math.IsInf(c.WarmupEpochs, 0):
		return nil, Errorf("warmup-epochs", "must be a number >= 0, got %g", c.WarmupEpochs)
	case c.KeepLast < 1:
		return nil, Errorf("keep", "must keep at least 1 checkpoint")
	case c.CheckpointEvery < 0:
		return nil, Errorf("checkpoint-every", "must be >= 0")
	case c.LogEvery < 1:
		return nil, Errorf("log-every", "must be >= 1")
	case c.EvalEvery < 0:
		return nil, Errorf("eval-every", "must be >= 0")
	case c.KNNK < 1:
		return nil, Errorf("knn-k", "must be >= 1")
	case !(c.KNNTemperature > 0) || math.IsInf(c.KNNTemperature, 0):
		return nil, Errorf("knn-t", "must be a number > 0, got %g", c.KNNTemperature)
	case !(c.ProbeLR > 0) || math.IsInf(c.ProbeLR, 0):
		return nil, Errorf("probe-lr", "must be a number > 0, got %g", c.ProbeLR)
	case c.ProbeEpochs < 1:
		// eval.LinearProbe reads 0 as its default, 30 epochs: 0 would run 30 while config.json
		// records 0 (and evaluate's -probe-epochs 0 skips the probe).
		return nil, Errorf("probe-epochs", "must be >= 1 (the final linear probe always runs: evaluate -probe-epochs 0 is the command that skips it), got %d", c.ProbeEpochs)
	case c.ProbeClassWeight != "" && c.ProbeClassWeight != "balanced":
		return nil, Errorf("class-weight", "unknown weighting %q: use balanced, or give none", c.ProbeClassWeight)
	case c.EvalSubset < 0:
		return nil, Errorf("eval-subset", "must be >= 0")
	case c.MapPoints < 0:
		return nil, Errorf("map-points", "must be >= 0 (0: no map)")
	case !validPercents(c.LowLabel):
		return nil, Errorf("low-label", "want percentages in (0, 100), got %v", c.LowLabel)
	case c.CheckpointDir == "":
		return nil, Errorf("checkpoint-dir", "must not be empty")
	case !utf8.ValidString(c.DataDir):
		return nil, Errorf("data-dir", "%s", NotUTF8(c.DataDir))
	case !utf8.ValidString(c.CheckpointDir):
		return nil, Errorf("checkpoint-dir", "%s", NotUTF8(c.CheckpointDir))
	case CheckMirror(c.CheckpointMirror) != nil:
		return nil, CheckMirror(c.CheckpointMirror)
	case strings.EqualFold(c.Dataset, "folder") && c.DataDir != "" && datasets.Within(c.CheckpointDir, c.DataDir):
		return nil, Errorf("checkpoint-dir", "%s is inside the image folder -data-dir %s, where its checkpoints and figures would be read as images (or as a class): choose a folder outside it", c.CheckpointDir, c.DataDir)
	case c.OnNonFinite != OnNonFiniteStop && c.OnNonFinite != OnNonFiniteRollback:
		return nil, Errorf("on-nonfinite", "unknown action %q: use %s or %s", c.OnNonFinite, OnNonFiniteStop, OnNonFiniteRollback)
	}
	if c.CropScale != "" {
		if _, err := datasets.ParseCropScale(c.CropScale); err != nil {
			return nil, Errorf("crop-scale", "%v", err)
		}
	}
	p.Optimizer = optim.Config{Kind: c.Optimizer, WeightDecay: c.WeightDecay, Momentum: c.Momentum,
		Eta: c.Eta, Clip: c.Clip,
		Schedule:  optim.Schedule{Base: c.LR * float64(c.BatchSize) / 256, TotalSteps: 1, FinalFraction: 0.001},
		HeadScope: "/" + ProbeScope, HeadLR: c.ProbeLR}
	if err := p.Optimizer.Validate(); err != nil {
		return nil, optimizerError(err)
	}
	return p, nil
}

// Scopes of the pretraining network's parts in the context (and so in checkpoints).
const (
	EncoderScope  = "encoder"
	ExpanderScope = "expander"
	ProbeScope    = "probe"
)

// ForData completes the plan for a training set of n images: the number of batches per epoch,
// the total number of steps (Steps, or Epochs full passes) and the optimiser with its schedule
// (linear warm-up of WarmupEpochs, then cosine decay to 0.1% of the peak).
func (p *Plan) ForData(n int) (batchesPerEpoch, total int64, opt optim.Config) {
	c := p.Config
	batchesPerEpoch = int64(n / c.BatchSize)
	total = c.Steps
	if total <= 0 {
		total = int64(c.Epochs) * batchesPerEpoch
	}
	opt = p.Optimizer
	opt.Schedule.TotalSteps = total
	// Clamped before the conversion: a warm-up longer than the run (even 1e19 epochs) is the run.
	opt.Schedule.WarmupSteps = int64(math.Round(math.Min(c.WarmupEpochs*float64(batchesPerEpoch), float64(total))))
	return batchesPerEpoch, total, opt
}

func validPercents(ps []float64) bool {
	for _, p := range ps {
		if !(p > 0 && p < 100) {
			return false
		}
	}
	return true
}

// ViewSize is the side of the views a run of this configuration trains on, known without reading
// its images: -image-size, or the size its augmentation preset chooses for the training images
// (28 for MNIST, 224 for an image folder or shards with the imagenet preset). An encoder it
// trained sees the images of any data set at this size.
func (c Config) ViewSize() (int, error) {
	side := datasets.ImageSide(c.Dataset)
	aug, err := c.Augmentation(infoOnly{Name: c.Dataset, Height: side, Width: side})
	if err != nil {
		return 0, err
	}
	return aug.View1.Size, nil
}

// Normalisation is how an encoder this configuration trained wants the images of the data set
// that d describes normalised: nil (d's own statistics) when d is its training data set, else
// its training images' statistics (datasets.Normalisation) where known and of d's channels.
func (c Config) Normalisation(d datasets.Info) (mean, std []float32) {
	if strings.EqualFold(d.Name, c.Dataset) {
		return nil, nil
	}
	if m, s, ok := datasets.Normalisation(c.Dataset); ok && len(m) == d.Channels {
		return m, s
	}
	return nil, nil
}

// infoOnly is a data set known by its description alone.
type infoOnly datasets.Info

func (i infoOnly) Info() datasets.Info { return datasets.Info(i) }

// Augmentation is the run's two-view augmentation for the images of d: the -augment preset at
// -image-size (0: the preset's size for d) with -crop-scale. Training, and every measurement that
// replays the training views (the analysis), take it from here. Errors are *FieldError.
func (c Config) Augmentation(d datasets.Data) (datasets.Augmentation, error) {
	aug, err := datasets.Preset(c.Augment, d)
	if err != nil {
		return aug, Errorf("augment", "%v", err)
	}
	aug = aug.WithSize(c.ImageSize)
	if c.CropScale != "" {
		scale, err := datasets.ParseCropScale(c.CropScale)
		if err != nil {
			return aug, Errorf("crop-scale", "%v", err)
		}
		if aug, err = aug.WithCropScale(scale[0], scale[1]); err != nil {
			return aug, Errorf("crop-scale", "%v", err)
		}
	}
	return aug, nil
}

// DataOptions are the options with which the run's images are read, from the folder or location
// dataDir through the shard cache shardCache (the run's own, or those an evaluation gives): every
// command that reads a run's data (training, fine-tuning, evaluation, analysis) reads it so.
func (c Config) DataOptions(dataDir, shardCache string) datasets.Options {
	return datasets.Options{DataDir: dataDir, ShardCache: shardCache, ExifOrientation: c.ExifOrientation, LabelColumn: c.LabelColumn, LabelTable: c.LabelTable, ClassNames: c.ClassNames, ValPercent: c.ValPercent, SplitColumn: c.SplitColumn}
}

// CheckMirror checks a -checkpoint-mirror location: "" (none) or a bucket folder. A local path is
// a *FieldError for it.
func CheckMirror(loc string) error {
	if loc != "" && !remote.IsObject(loc) {
		return Errorf("checkpoint-mirror", "%q is not a bucket folder: give s3://BUCKET/PREFIX/ or gs://BUCKET/PREFIX/ (for a local copy, use -checkpoint-dir on that disk)", loc)
	}
	return nil
}

// shardLabelErr says what is wrong with the -label-column of shards, nil when nothing is.
func shardLabelErr(spec string) error {
	_, err := datasets.ParseShardLabel(spec)
	return err
}

// shardLabelNone reports whether spec reads shards without their labels (-label-column none).
func shardLabelNone(spec string) bool {
	l, err := datasets.ParseShardLabel(spec)
	return err == nil && l.None
}
