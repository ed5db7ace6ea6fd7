package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/optim"
)

// FileName is the name of the resolved configuration a run writes beside its checkpoints;
// `-config <checkpoint-dir>/config.json` repeats the run.
const FileName = "config.json"

// BindFlags registers one flag per field of c on fs, with c's current values as defaults.
// -preset and -config are handled by ParseFlags.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Dataset, "dataset", c.Dataset, "data set: "+strings.Join(datasets.Names(), ", "))
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "folder of the data sets (downloaded there when missing and online); for -dataset folder, the image folder (one subfolder per class, or flat; train/ and val/ as splits), or the folder of ImageNet's archives (ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz, read without extracting them), or a Hugging Face data set's Arrow files (the folder that save_to_disk wrote, or the datasets library's cache of one data set); for -dataset shards, a folder of .tar shards (train/ and val/ as splits, or shards named for their splits: NAME-train-0000.tar, NAME-validation-0000.tar), a pattern such as dir/train-{000000..000146}.tar (or https://host/train-{000000..000146}.tar, hf://datasets/OWNER/NAME/train-{0000..0099}.tar, s3://bucket/shards/ or gs://..., or pipe:COMMAND that writes each shard), the index.json that mkshards writes, or timm's _info.json (as the Hugging Face Hub's timm/*-wds data sets hold it)")
	fs.StringVar(&c.Augment, "augment", c.Augment, "two-view augmentation preset: "+strings.Join(datasets.PresetNames(), ", "))
	fs.IntVar(&c.ImageSize, "image-size", c.ImageSize, "side of the views in pixels (presets: 224 imagenet, 32 cifar10/cifar100; 0: the data set's own size, e.g. 28 MNIST, 96 STL-10, and 224 for folders and shards, whose images differ in size)")
	fs.StringVar(&c.CropScale, "crop-scale", c.CropScale, "MIN,MAX area range of the random resized crop, as fractions of the image (e.g. 0.08,1; empty: the -augment preset's)")
	fs.IntVar(&c.ShuffleBuffer, "shuffle-buffer", c.ShuffleBuffer, "-dataset shards: samples held in the shuffle buffer (0: 1000)")
	fs.StringVar(&c.ShardCache, "shard-cache", c.ShardCache, "-dataset shards over HTTP or pipe:: a folder that keeps the shards once downloaded, so that later epochs and runs read them there")
	fs.StringVar(&c.ShardCacheSize, "shard-cache-size", c.ShardCacheSize, "size limit of the -shard-cache folder, kept in it for every later use (e.g. 200GB, 1.5TiB; 0: none; empty: the folder's own): shards not read by this run are removed to make room, least recently read first, and the shards that still do not fit are downloaded each time they are read")
	fs.IntVar(&c.ShardReadAhead, "shard-read-ahead", c.ShardReadAhead, "-dataset shards over HTTP or pipe:: shards downloaded at once into TMPDIR, the one read included (0: 4; -1: none, each streamed as it is read)")
	fs.BoolVar(&c.ReducedDecode, "reduced-decode", c.ReducedDecode, "decode JPEGs at 1/2, 1/4 or 1/8 of their size when the crops allow it (libjpeg-turbo; faster for small views, slightly other pixels)")
	fs.BoolVar(&c.ExifOrientation, "exif-orientation", c.ExifOrientation, "-dataset folder or shards: turn images (JPEG, PNG, WebP, TIFF) upright as their EXIF orientation says (a phone's portrait photos), as PIL's ImageOps.exif_transpose; default: as torchvision's ImageFolder reads them (as stored, but a TIFF by its Orientation tag)")
	fs.StringVar(&c.LabelColumn, "label-column", c.LabelColumn, "-dataset folder: the column of labels in a metadata.csv or metadata.jsonl beside the images (Hugging Face's imagefolder layout: a file_name column names each image; default \"label\", when the table has it), or in -label-table; -dataset shards: the member of each sample that holds its class: cls (the default), another extension (label), or EXT:FIELD for a field of a JSON member (json:label), a class index or name, or none to read them without labels")
	fs.StringVar(&c.ClassNames, "class-names", c.ClassNames, "-dataset shards: a file (or URL) of class names, one per line in the order of the class indices (classes.txt's format), for shards whose classes nothing beside them names (timm's _info.json on the Hugging Face Hub, pipe:): it numbers the classes in place of the list beside the shards or in their index")
	fs.StringVar(&c.LabelTable, "label-table", c.LabelTable, "-dataset folder: a CSV (or JSON Lines) table of labels outside the folder, as Kaggle ships one (train.csv): its file_name column, or else its first, names each image by its path under the split folder, with or without its extension; its labels are in -label-column, or \"label\", or else its second column")
	fs.BoolVar(&c.SkipBadImages, "skip-bad-images", c.SkipBadImages, "replace images that do not decode by another of the batch (logged by name; bad_images in the metrics: images replaced per step, a mean over each line) instead of stopping")
	fs.IntVar(&c.Subset, "subset", c.Subset, "train on the first N training images only (0: all; in-memory data sets: mnist, cifar10, ...)")
	fs.IntVar(&c.Validation, "validation", c.Validation, "hold out the last N training images and evaluate on them instead of the test split (for choosing a recipe; 0: none; in-memory data sets: for a folder or shards, -val-percent)")
	fs.Float64Var(&c.ValPercent, "val-percent", c.ValPercent, "-dataset folder: hold out this percentage of each class's training images as the test split, chosen by their paths (the same images in every run, evaluate and analyze included): for a folder without val/ (Kaggle's train_images/, say), or to choose a recipe without looking at val/, which is then not read; -dataset shards: this percentage of the training shards, whole, chosen by their names; 0: none")
	fs.StringVar(&c.SplitColumn, "split-column", c.SplitColumn, "-dataset folder: the column of the label table (-label-table, or metadata.csv) that assigns each image to a split, in place of a val/ folder: COLUMN, its values train, val or test (test is left out when there are val images) or true/false (fastai's is_valid: true is held out), or COLUMN=VALUE, VALUE marking the held-out images and the others trained on (a Kaggle fold: fold=0)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "data goroutines (0: one per CPU); results do not depend on it")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of initialisation, data order and augmentations")
	fs.StringVar(&c.Model.Arch, "model", c.Model.Arch, "encoder: "+strings.Join(models.Archs, ", "))
	fs.StringVar(&c.Model.Stem, "stem", c.Model.Stem, "encoder stem: "+strings.Join(models.Stems, ", "))
	fs.IntVar(&c.Model.Width, "width", c.Model.Width, "encoder base width (64 is torchvision's)")
	fs.IntVar(&c.Model.InChannels, "channels", c.Model.InChannels, "image channels the encoder takes (1 or 3); must match the data set (-dataset sets it to that data set's unless given)")
	fs.BoolVar(&c.Model.ZeroInitResidual, "zero-init-residual", c.Model.ZeroInitResidual, "zero-initialise the last batch-norm scale of each residual block")
	fs.StringVar(&c.Expander, "expander", c.Expander, "expander widths, e.g. 2048-2048-2048")
	fs.StringVar(&c.Loss, "loss", c.Loss, "objective: "+strings.Join(losses.Names(), ", "))
	fs.Float64Var(&c.LossParams.Lambda, "lambda", c.LossParams.Lambda, "VICReg invariance weight")
	fs.Float64Var(&c.LossParams.Mu, "mu", c.LossParams.Mu, "VICReg variance weight")
	fs.Float64Var(&c.LossParams.Nu, "nu", c.LossParams.Nu, "VICReg covariance weight")
	fs.Float64Var(&c.LossParams.Gamma, "gamma", c.LossParams.Gamma, "VICReg target standard deviation")
	fs.StringVar(&c.LossParams.VarianceConvention, "variance-convention", c.LossParams.VarianceConvention, "VICReg variance term: sum (paper, solo-learn) or half (official code)")
	fs.Float64Var(&c.LossParams.EntropyWeight, "entropy-weight", c.LossParams.EntropyWeight, "weight of the entropy estimate (vicreg-logdet, vicreg-pairdist)")
	fs.Var(losses.ScaleFlag(&c.LossParams.Beta), "beta", "LogDet estimator scale β in 0.5·logdet(I + β·Σ_Z) (vicreg-logdet): auto (β = d/tr Σ_Z per batch, MCR²'s normalisation) or a number (default auto)")
	fs.Var(losses.ScaleFlag(&c.LossParams.Sigma), "sigma", "pairwise-distance kernel width σ (vicreg-pairdist; keep entropy-weight/σ² ≥ 1): a number, or auto (σ² = median pairwise squared distance / (2 ln n) per batch, without gradient: trained far worse than σ = 1 on MNIST, see docs/paper.md)")
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
	fs.BoolVar(&c.Clip, "lars-clip", c.Clip, "solo-learn's LARS (its trust ratio and clipping min(ratio/lr, 1)) instead of the official VICReg's")
	fs.Float64Var(&c.WarmupEpochs, "warmup-epochs", c.WarmupEpochs, "linear warm-up, in epochs (may be fractional)")
	fs.Float64Var(&c.ProbeLR, "probe-lr", c.ProbeLR, "learning rate of the online linear probe")
	fs.IntVar(&c.Devices, "devices", c.Devices, "devices to split each batch over (data parallel; XLA CPU exposes several, xla:cuda one per GPU); must divide -batch-size")
	fs.StringVar(&c.Precision, "precision", c.Precision, "compute precision: "+strings.Join(Precisions, ", ")+" (bf16: bfloat16 convolutions and matrix products, float32 weights, batch-norm statistics and losses)")
	fs.StringVar(&c.CheckpointDir, "checkpoint-dir", c.CheckpointDir, "folder of checkpoints, metrics, plots and the run's "+FileName)
	fs.StringVar(&c.CheckpointMirror, "checkpoint-mirror", c.CheckpointMirror, "a bucket folder (s3://BUCKET/PREFIX/ or gs://BUCKET/PREFIX/) that keeps a copy of -checkpoint-dir, updated after each checkpoint; -resume on another machine restores from it")
	fs.IntVar(&c.KeepLast, "keep", c.KeepLast, "checkpoints to keep (plus the best by probe accuracy)")
	fs.IntVar(&c.CheckpointEvery, "checkpoint-every", c.CheckpointEvery, "steps between checkpoints (0: at the end of every epoch)")
	fs.BoolVar(&c.Resume, "resume", c.Resume, "continue from the newest valid checkpoint in -checkpoint-dir (a folder without checkpoints starts a new run, with a warning)")
	fs.StringVar(&c.MetricsFile, "metrics", c.MetricsFile, "metrics file, JSON lines (default <checkpoint-dir>/metrics.jsonl); its folder must exist")
	fs.IntVar(&c.LogEvery, "log-every", c.LogEvery, "steps between metric lines")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "epochs between kNN evaluations during training (0: only at the end)")
	fs.IntVar(&c.KNNK, "knn-k", c.KNNK, "neighbours of the kNN classifier")
	fs.Float64Var(&c.KNNTemperature, "knn-t", c.KNNTemperature, "temperature of the kNN classifier")
	fs.IntVar(&c.ProbeEpochs, "probe-epochs", c.ProbeEpochs, "epochs of the final offline linear probe (at least 1)")
	fs.StringVar(&c.ProbeClassWeight, "class-weight", c.ProbeClassWeight, "the final linear probes' weighting of their training images by class: \"\" (none) or balanced (each by its class's inverse frequency, scikit-learn's class_weight=\"balanced\": on imbalanced classes, every class counts alike)")
	fs.BoolVar(&c.Baselines, "baselines", c.Baselines, "also probe raw pixels and a randomly initialised encoder")
	fs.Var((*percentList)(&c.LowLabel), "low-label", "also probe with these percentages of the training labels, comma-separated (e.g. 1,10: a class-balanced subset fixed by -seed)")
	fs.IntVar(&c.MapPoints, "map-points", c.MapPoints, "the most held-out images on the final t-SNE map of the embeddings, drawn to map.svg and map.png in -checkpoint-dir, each class in its colour (0: no map; exact t-SNE up to 2,000, its time growing as their square, Barnes-Hut's above: 20,000 take about a minute on two CPU cores)")
	fs.IntVar(&c.EvalSubset, "eval-subset", c.EvalSubset, "evaluate on the first N evaluation images (0: all; in-memory data sets)")
	fs.StringVar(&c.ExportEncoder, "export-encoder", c.ExportEncoder, "also write the trained encoder alone to this .safetensors file (torchvision's names); its folder must exist")
	fs.StringVar(&c.OnNonFinite, "on-nonfinite", c.OnNonFinite, "when the loss or a weight becomes NaN/Inf: stop (nothing is saved), or rollback to the newest checkpoint, skipping the batches since (at most 3 times)")
}

// ParseFlags parses args into a Config. The starting values come from -preset NAME (default
// "mnist") or from -config FILE (a configuration written by an earlier run, or by hand: any
// subset of its keys, the others from the mnist preset); every other flag given overrides them.
// -dataset without -channels gives the encoder that data set's channels (datasets.Channels),
// with or without -resume. An argument that is not a flag is an error
// (flagargs.Stray). Errors are *FieldError naming the flag (or flag.ErrHelp, or the flag
// package's parse errors, which it has already printed).
func ParseFlags(fs *flag.FlagSet, args []string) (Config, error) {
	preset, presetSet := lookAhead(args, "preset")
	file, fileSet := lookAhead(args, "config")
	if presetSet && fileSet {
		return Config{}, Errorf("config", "give -config or -preset, not both (a configuration file already holds a preset's values)")
	}
	if !presetSet {
		preset = "mnist"
	}
	mk, ok := Presets[preset]
	if !ok {
		return Config{}, Errorf("preset", "unknown preset %q: use one of %s", preset, strings.Join(PresetNames(), ", "))
	}
	c := mk()
	if fileSet {
		var err error
		if c, err = Load(datasets.ExpandHome(file)); err != nil {
			return Config{}, err
		}
	}
	fs.String("preset", "mnist", "starting configuration: "+strings.Join(PresetNames(), ", ")+"; other flags override it")
	fs.String("config", "", "starting configuration from a JSON file (e.g. a run's "+FileName+"); other flags override it")
	c.BindFlags(fs)
	if err := flagargs.Parse(fs, args, "./train"); err != nil {
		return Config{}, err // printed: one line, or the usage for -h
	}
	if msg := flagargs.Stray(fs, args); msg != "" {
		return Config{}, Errorf("", "%s", msg)
	}
	// -dataset without -channels: the encoder takes that data set's channels (3 for a folder with
	// the default mnist preset). Also on -resume: nothing here reads the run's encoder, so the
	// command that started a run, with -resume added, must give it the channels it had then.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["dataset"] && !given["channels"] {
		if ch := datasets.Channels(c.Dataset); ch > 0 {
			c.Model.InChannels = ch
		}
	}
	// A quoted "~/runs" (or one in a configuration file) is the home folder, not a folder named ~;
	// a relative path is made absolute, so that the configuration the run stores still names the
	// same folders when evaluate, analyze or -resume run from another working directory.
	datasets.AbsPaths(&c.DataDir, &c.CheckpointDir, &c.MetricsFile, &c.ExportEncoder, &c.ShardCache, &c.LabelTable, &c.ClassNames)
	if err := c.Validate(); err != nil {
		return c, err
	}
	// A new run also refuses a bad value of a loss parameter its objective ignores (a mistake,
	// such as -temperature 0 with vicreg); a resumed run keeps what it was started with.
	if !c.Resume {
		if err := c.LossParams.Validate(); err != nil {
			return c, lossError(err)
		}
	}
	return c, nil
}

// Load reads a configuration file: a JSON object with any subset of a configuration's keys (the
// others take the mnist preset's values). Unknown keys and wrong types are *FieldErrors naming the
// key, with Flag "config".
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, Errorf("config", "%v", err)
	}
	c, err := Parse(data, Default())
	if fe, ok := err.(*FieldError); ok {
		fe.Msg = path + ": " + fe.Msg
	}
	return c, err
}

// lookAhead finds the value of -name (or --name, -name=value) in args before parsing.
func lookAhead(args []string, name string) (string, bool) {
	value, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		key, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if key != name {
			continue
		}
		found = true
		if hasValue {
			value = v
		} else if i+1 < len(args) {
			value = args[i+1]
			i++
		}
	}
	return value, found
}

// optimizerFlags maps optim.FieldError's fields to the flags that set them.
var optimizerFlags = map[string]string{
	"kind": "optimizer", "lr": "lr", "weight_decay": "wd", "momentum": "momentum", "eta": "eta",
	"warmup_steps": "warmup-epochs", "total_steps": "epochs", "head_lr": "probe-lr",
}

// optimizerError maps an optimiser validation error to the flag that sets the field at fault.
func optimizerError(err error) error {
	var fe *optim.FieldError
	if errors.As(err, &fe) {
		if flagName, ok := optimizerFlags[fe.Field]; ok {
			return &FieldError{Flag: flagName, Msg: fe.Message}
		}
	}
	return &FieldError{Msg: fmt.Sprintf("optimiser: %v", err)}
}

// lossParamFlags maps losses.ParamError's fields to the flags that set them (Eps has none).
var lossParamFlags = map[string]string{
	"Lambda": "lambda", "Mu": "mu", "Nu": "nu", "Gamma": "gamma", "VarianceConvention": "variance-convention",
	"EntropyWeight": "entropy-weight", "Beta": "beta", "Sigma": "sigma", "PairDistance": "pair-distance",
	"BarlowLambda": "barlow-lambda", "Temperature": "temperature",
}

// lossError maps an objective's validation error to the flag that sets the parameter at fault
// (to -config's loss_params for one without a flag), or to -loss.
func lossError(err error) error {
	var pe *losses.ParamError
	if !errors.As(err, &pe) {
		return &FieldError{Flag: "loss", Msg: err.Error()}
	}
	if flagName, ok := lossParamFlags[pe.Field]; ok {
		return &FieldError{Flag: flagName, Msg: pe.Msg}
	}
	return &FieldError{Flag: "config", Msg: fmt.Sprintf("loss_params.%s %s", pe.Field, pe.Msg)}
}

// percentList is a comma-separated list of percentages (a flag.Value).
type percentList []float64

func (l *percentList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (l *percentList) Set(v string) error {
	*l = nil
	if strings.TrimSpace(v) == "" {
		return nil
	}
	for _, part := range strings.Split(v, ",") {
		x, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(part), "%"), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", part)
		}
		*l = append(*l, x)
	}
	return nil
}
