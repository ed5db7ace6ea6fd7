// Command evaluate measures a pretrained encoder on a labelled data set, as the official VICReg
// evaluate.py does and more:
//
//	go run ./evaluate -checkpoint runs/vicreg                          # linear probe + kNN on frozen features
//	go run ./evaluate -checkpoint runs/vicreg -train-percent 1          # ... trained on 1% of the labels
//	go run ./evaluate -checkpoint runs/vicreg -finetune -train-percent 1 # fine-tune encoder + classifier
//	go run ./evaluate -checkpoint runs/vicreg -weights freeze           # evaluate.py's linear evaluation
//	go run ./evaluate -checkpoint encoder.safetensors -embeddings test.npy
//	go run ./evaluate -checkpoint runs/vicreg -export-encoder encoder.safetensors -probe-epochs 0 -knn-k 0
//	go run ./evaluate -checkpoint runs/vicreg/ckpt-000001170.safetensors -result eval-1170.json
//	go run ./evaluate -checkpoint runs/photos -per-class                # each class's recall
//	go run ./evaluate -checkpoint runs/photos -folds 5                  # 5-fold cross-validation
//	go run ./evaluate -checkpoint runs/photos -test-split test          # test/ in place of val/
//	go run ./evaluate -checkpoint runs/photos -predictions p.csv -predict ~/new-photos
//
// The data set is the encoder's own unless -dataset or -data-dir say otherwise (for an image folder
// or shards, the folder it was trained on), read as its training run read it for evaluation.
// Images of another data set are resized to the encoder's view size and normalised with its
// training images' statistics, for frozen features and fine-tuning alike (config.Config.ViewSize
// and Normalisation).
//
// Without -weights it embeds the images once and trains a linear probe and a kNN classifier on the
// frozen features; -result FILE also writes what it measured as JSON (results.Evaluate: the
// checkpoint and its step, the data and the images used, the accuracies, the settings, the
// backend, the wall time and the date; what was not measured is absent), replacing FILE
// atomically; FILE's folder must exist. With -weights freeze|finetune (-finetune for short) it runs evaluate.py's
// protocol as a training run (progress, metrics.jsonl, checkpoints, -resume, SIGINT): a linear
// classifier on the encoder, trained with augmentation, the encoder frozen or fine-tuned, SGD with
// momentum and a cosine schedule, top-1 and top-5 accuracy on the test split after every epoch;
// and the same procedure from a randomly initialised encoder (supervised training from scratch)
// unless -baseline=false, so that the gain from pretraining is one line of the output.
//
// An image folder's held-out split is its val/ (or else test/), or the images that -val-percent
// or a column of its label table (-split-column) hold out; -test-split test scores test/ instead
// (or the split column's test images), for the final figure. -folds K cross-validates the probe
// and kNN on the training split in place of the test split. -per-class prints each class's
// recall; -predictions FILE.csv writes each test image's predicted class and its probability (of
// the probe, or with -weights of the fine-tuned classifier), or with -predict DIR each image's of
// DIR; -confusion FILE.svg draws the probe's confusion matrix. With -folds, these three report
// the out-of-fold predictions (each labelled image's by the fold that holds it out). Images are
// named by their file, the WebDataset key of shards, or their index. -class-weight balanced
// weights the probe's (or the fine-tuned classifier's) training images by their class's inverse
// frequency. -map FILE.svg draws the embeddings of -split on a plane (t-SNE, or -map-method pca),
// each class in its colour, and writes each image's coordinates beside it (FILE.csv).
//
// SIGINT or SIGTERM stops an evaluation on frozen features at once (exit status 130): the files
// written before it are complete, and the one being written is not kept (no temporary file is
// left behind).
//
// Exit status: 0 on success (also after SIGINT with -weights, once a checkpoint is written), 1 on failure
// (including a damaged checkpoint or data file), 2 on a usage error (a bad flag value, an
// argument that is not a flag, a -checkpoint path that does not exist, holds no checkpoint or is
// one of a run's other files, a -result, -embeddings, -predictions or -export-encoder file whose folder does
// not exist or cannot be written, -result with -weights, a flag of the other mode (-eval-subset
// without -weights, -probe-epochs with it), a data set without labels, of one class or whose
// images do not fit the encoder, a resume with another configuration).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	_ "github.com/gomlx-ssl/vicreg/datasets/hfdata" // reads the datasets library's Arrow files as a folder
	"github.com/gomlx-ssl/vicreg/embedmap"
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
	"github.com/gomlx-ssl/vicreg/internal/progress"
	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
	"github.com/gomlx-ssl/vicreg/train/finetune"
	"github.com/gomlx-ssl/vicreg/train/trainer"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// flags are the command's settings.
type flags struct {
	ckpt, dataset, dataDir, embeddings, split, result  string
	shardCache, shardCacheSize, labelColumn            string
	labelTable, classNames, splitColumn, testSplit     string
	predictions, predict, confusion, classWeight       string
	mapFile, mapMethod, tsneSolver                     string
	subset, probeEpochs, knnK, batch, folds, mapPoints int
	mapImages                                          int
	knnT, percent, valPercent, perplexity              float64
	seed                                               uint64

	weights                                          string
	finetune, baseline, perClass, classProbabilities bool
	ft                                               finetune.Config // the fine-tuning settings given on the command line
	set                                              map[string]bool // flags given explicitly
}

// run runs the command with args, printing the results to stdout and the log, usage errors and
// help to stderr, and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	start := time.Now()
	logger := log.NewWithOptions(stderr, log.Options{ReportTimestamp: true})
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f flags
	fs.StringVar(&f.ckpt, "checkpoint", "", "a checkpoint file, an exported encoder, or a run's checkpoint folder (its newest valid checkpoint)")
	fs.StringVar(&f.dataset, "dataset", "", "labelled data set to evaluate on (default: the one the encoder was trained on)")
	fs.StringVar(&f.dataDir, "data-dir", "", "folder of the data sets; for -dataset folder or shards, the images (default: the folder the encoder was trained on)")
	fs.StringVar(&f.labelColumn, "label-column", "", "-dataset folder: the column of labels in the folder's metadata.csv or metadata.jsonl, or in -label-table (default: the encoder run's, when evaluating on its data set; otherwise \"label\", when the table has it); -dataset shards: the member of each sample that holds its class (cls, label, json:FIELD; default: the encoder run's, when evaluating on its data set; otherwise cls)")
	fs.StringVar(&f.classNames, "class-names", "", "-dataset shards: a file (or URL) of class names, one per line in the order of the class indices, for shards whose classes nothing beside them names (default: the encoder run's, when evaluating on its data set); see train -h")
	fs.StringVar(&f.labelTable, "label-table", "", "-dataset folder: a CSV (or JSON Lines) table of labels outside the folder, as Kaggle ships one (default: the encoder run's, when evaluating on its data set); see train -h")
	fs.Float64Var(&f.valPercent, "val-percent", 0, "-dataset folder without a val/ folder: hold out this percentage of each class's images as the test split, chosen by their paths as train -val-percent chooses them; -dataset shards: this percentage of the training shards, whole, chosen by their names (default: the encoder run's, when evaluating on its data set)")
	fs.StringVar(&f.splitColumn, "split-column", "", "-dataset folder: the column of the label table that assigns each image to a split, as train -split-column reads it (COLUMN or COLUMN=VALUE: a fold; default: the encoder run's, when evaluating on its data set); see train -h")
	fs.StringVar(&f.testSplit, "test-split", "val", "-dataset folder or shards: the held-out split scored: val (val/, or else test/; a split column's val images, or else its test images) or test (test/ alone, or the split column's test images: the final figure, once the recipe was chosen on val)")
	fs.StringVar(&f.shardCache, "shard-cache", "", "-dataset shards over HTTP or pipe:: a folder that keeps the shards once downloaded (default: the training run's, when it exists here)")
	fs.StringVar(&f.shardCacheSize, "shard-cache-size", "", "size limit of the shard cache folder, kept in it for every later use (e.g. 200GB; 0: none; empty: the folder's own, as train -shard-cache-size set it)")
	fs.IntVar(&f.subset, "subset", 0, "frozen features: use the first N images of each split, at most as many as the smaller split holds (0: all; in-memory data sets: mnist, cifar10, ...)")
	fs.IntVar(&f.probeEpochs, "probe-epochs", 30, "frozen features: epochs of the linear probe (0: skip the probe)")
	fs.IntVar(&f.knnK, "knn-k", 20, "frozen features: neighbours of the kNN classifier (0: skip kNN)")
	fs.BoolVar(&f.perClass, "per-class", false, "print each class's test images and the recall of the probe and kNN on them (recorded in -result), or with -weights of the fine-tuned classifiers (always in their result.json); with -folds, of the out-of-fold predictions")
	fs.IntVar(&f.folds, "folds", 0, "frozen features: K-fold cross-validation of the probe and kNN on the training split's labelled images, in place of the test split: K folds stratified by class, chosen by path (the same folds in every run), each held out in turn; prints each fold and the mean ± sd (0: none; for a small labelled set); with -predictions and -per-class, each image's out-of-fold prediction")
	fs.Float64Var(&f.knnT, "knn-t", 0.07, "frozen features: temperature of the kNN classifier")
	fs.StringVar(&f.predictions, "predictions", "", "write the linear probe's prediction (with -weights, the trained classifier's) for each test image (or -predict's; with -folds, each labelled image's out-of-fold prediction, and its fold) to this .csv file: file (or WebDataset key, or index), label, predicted class and its probability")
	fs.StringVar(&f.classWeight, "class-weight", "", "the weighting by class of the linear probe's training images (with -weights, of the fine-tuned classifier's, and the baseline's): \"\" (none) or balanced (each image's loss weighted by its class's inverse frequency, scikit-learn's class_weight=\"balanced\": on imbalanced classes, every class counts alike, for the balanced accuracy)")
	fs.StringVar(&f.confusion, "confusion", "", "draw the linear probe's confusion matrix on the test images (with -folds, of its out-of-fold predictions) to this .svg or .png file, print the most frequent confusions, and record the counts in -result")
	fs.BoolVar(&f.classProbabilities, "class-probabilities", false, "with -predictions: a column per class, p_CLASS, with each image's probability of it (for a submission that wants them, or for stacking -folds' out-of-fold predictions)")
	fs.StringVar(&f.predict, "predict", "", "with -predictions: the folder of images to classify in place of the test split (unlabelled photos, a Kaggle test_images/; its class folders, if any, give the label column)")
	fs.StringVar(&f.embeddings, "embeddings", "", "write the embeddings of -split to this .npy or .csv file (each row's file, or WebDataset key, to NAME.files.txt or NAME.keys.txt beside it); its folder must exist")
	fs.StringVar(&f.mapFile, "map", "", "draw a 2-D map of the embeddings of -split to this .svg or .png file, each class in its colour (whether the classes fall apart, which mingle), and write each image's coordinates beside it (NAME.csv)")
	fs.StringVar(&f.mapMethod, "map-method", embedmap.MethodTSNE, "-map's layout: tsne (t-SNE, scikit-learn's defaults: neighbours stay near) or pca (the first two principal axes: linear, fast)")
	fs.StringVar(&f.tsneSolver, "tsne-solver", "auto", "-map-method tsne: how its gradient is computed: exact (every pair, on the backend: time and memory grow as the images' square; 2,000 take about 9 s on two CPU cores), barnes-hut (each image's nearest neighbours and a quadtree, on the CPU's cores: time grows as N log N; 20,000 take about 50 s on two cores) or auto (exact up to 2,000 images; Barnes-Hut maps 5,000 in 10 s where the exact gradient takes 70 s, as trustworthy)")
	fs.IntVar(&f.mapPoints, "map-points", 2000, "-map: the most images mapped, chosen at random by -seed (t-SNE of more than 2,000 uses Barnes-Hut: see -tsne-solver)")
	fs.IntVar(&f.mapImages, "map-images", 0, "-map: draw this many of the mapped images (chosen by -seed, spread out so that they overlap as little as the map allows) as thumbnails at their places, framed in their class's colour, to see what lies where (of shards, read in one pass over those that hold them; 0: none)")
	fs.Float64Var(&f.perplexity, "perplexity", 30, "-map-method tsne: the number of neighbours, in effect, each image's affinities spread over (below the images mapped)")
	fs.StringVar(&f.result, "result", "", "frozen features: write the result (checkpoint and step, data, images used, accuracies, settings, backend, wall time, date) to this JSON file, replaced atomically; its folder must exist (with -weights each run writes its own result.json)")
	fs.StringVar(&f.split, "split", datasets.SplitTest, "split whose embeddings -embeddings writes (for an image folder, test is its val/ or test/ folder; val is accepted for it)")
	fs.IntVar(&f.batch, "batch-size", 256, "images per batch (forward passes; fine-tuning steps: by default at most the training images)")
	fs.Float64Var(&f.percent, "train-percent", 100, "percentage of the training labels to train on, in (0, 100]: a class-balanced subset fixed by -seed (nested: 1% lies inside 10%)")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the label subset, the classifier's initialisation, the data order and the augmentations")
	fs.StringVar(&f.weights, "weights", "", "freeze (evaluate.py's linear evaluation) or finetune (encoder and classifier trained together); empty: probe and kNN on frozen features")
	fs.BoolVar(&f.finetune, "finetune", false, "short for -weights finetune")
	fs.BoolVar(&f.baseline, "baseline", true, "with -weights: also run the same training from a randomly initialised encoder (supervised from scratch)")
	fs.IntVar(&f.ft.Epochs, "epochs", 0, "with -weights: training epochs (default from -weights and -train-percent: see -h)")
	fs.Float64Var(&f.ft.LRBackbone, "lr-backbone", 0, "with -weights finetune: the encoder's peak learning rate (default by -train-percent)")
	fs.Float64Var(&f.ft.LRHead, "lr-head", 0, "with -weights: the classifier's peak learning rate (default by -weights and -train-percent)")
	fs.Float64Var(&f.ft.WeightDecay, "wd", 0, "with -weights: weight decay (default by -weights)")
	fs.StringVar(&f.ft.Augment, "augment", "", "with -weights: training augmentation, "+strings.Join(finetune.Augmentations, " or ")+" (default: mnist for MNIST, crop-flip otherwise)")
	fs.StringVar(&f.ft.CheckpointDir, "checkpoint-dir", "", "with -weights: the run's folder (default: beside the encoder, finetune-<weights>-<percent>pct; the baseline in scratch-...)")
	fs.StringVar(&f.ft.CheckpointMirror, "checkpoint-mirror", "", "with -weights: a bucket folder (s3://BUCKET/PREFIX/, gs://...) that keeps a copy of -checkpoint-dir, updated after each checkpoint (the baseline's in PREFIX-scratch/); -resume on another machine restores from it")
	fs.BoolVar(&f.ft.Resume, "resume", false, "with -weights: continue the runs in their folders")
	fs.IntVar(&f.ft.Workers, "workers", 0, "with -weights: data goroutines (0: one per CPU)")
	fs.IntVar(&f.ft.LogEvery, "log-every", 10, "with -weights: training steps between lines of metrics.jsonl (means over the window) and points of its figure")
	fs.BoolVar(&f.ft.SkipBadImages, "skip-bad-images", false, "replace training images that do not decode and leave them out of the evaluation, logged by name, instead of stopping (default: as the encoder's run did)")
	fs.IntVar(&f.ft.EvalSubset, "eval-subset", 0, "with -weights: evaluate on the first N test images (0: all)")
	fs.StringVar(&f.ft.ExportEncoder, "export-encoder", "", "write the encoder to this .safetensors file (torchvision's names): the one loaded, or with -weights finetune the fine-tuned one; its folder must exist")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./evaluate -checkpoint PATH [flags]\n\n"+
			"Defaults with -weights (evaluate.py's; fewer epochs on CPU): freeze: lr-head 0.02, wd 1e-6, 10 epochs;\n"+
			"finetune 1%%: lr-backbone 0.03, lr-head 0.08, wd 0, 20 epochs; 10%%: 0.01, 0.1, 0, 20 epochs; 100%%: 0.01, 0.1, 0, 10 epochs.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := flagargs.Parse(fs, args, "./evaluate"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	// The flags after a stray argument were not read: refuse rather than run without them.
	if msg := flagargs.Stray(fs, args); msg != "" {
		return usage(stderr, "%s", msg)
	}
	// A quoted "~/runs" is the home folder, as the shell would have made it.
	// Absolute, as the run's own config.json: the fine-tuning run and -result store them.
	datasets.AbsPaths(&f.ckpt, &f.dataDir, &f.embeddings, &f.result, &f.ft.CheckpointDir, &f.ft.ExportEncoder, &f.shardCache, &f.labelTable, &f.classNames, &f.predictions, &f.predict, &f.confusion, &f.mapFile)
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if f.split == "val" {
		f.split = datasets.SplitTest // an image folder's val/ is its test split
	}
	if f.finetune {
		if f.weights != "" && f.weights != finetune.Finetune {
			return usage(stderr, "-finetune and -weights %s contradict each other", f.weights)
		}
		f.weights = finetune.Finetune
	}
	if msg := f.check(); msg != "" {
		return usage(stderr, "%s", msg)
	}
	if remote.IsObject(f.ckpt) {
		if f.weights != "" && f.ft.CheckpointDir == "" {
			return usage(stderr, "-checkpoint-dir: with an encoder in a bucket (%s), name the folder of the fine-tuning runs", f.ckpt)
		}
		local, err := checkpoints.LocalCopy(context.Background(), f.ckpt, logger)
		if err != nil {
			return usage(stderr, "-checkpoint: %v", err)
		}
		if msg := checkCheckpointPath(local); msg != "" {
			return usage(stderr, "%s", msg)
		}
		f.ckpt = local
	}
	b, err := backend.New()
	if err != nil {
		logger.Error(err)
		return 1
	}
	defer b.Finalize()
	if f.weights != "" {
		return fail(stderr, logger, runFinetune(b, &f, stdout, stderr, logger))
	}
	defer stopOnSignal(stderr)()
	return fail(stderr, logger, frozenFeatures(b, &f, start, stdout, logger))
}

// stopOnSignal makes SIGINT and SIGTERM stop the evaluation on frozen features at once (exit
// status 130), removing the temporary file of a write in progress (the embeddings of a large
// data set take gigabytes); the files already written are complete. The returned function
// restores the default handling.
func stopOnSignal(stderr io.Writer) func() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-signals:
			removed := atomicfile.RemovePending()
			fmt.Fprintf(stderr, "evaluate: interrupted (%v): stopped; the files written before are complete, and the %d being written were not kept\n", s, len(removed))
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(signals)
		close(done)
	}
}

// check returns what is wrong with the flags, or "".
func (f *flags) check() string {
	if _, err := datasets.ParseSize(f.shardCacheSize); err != nil {
		return "-shard-cache-size: " + err.Error()
	}
	if err := config.CheckMirror(f.ft.CheckpointMirror); err != nil {
		return err.Error()
	}
	switch {
	case f.ckpt == "":
		return "-checkpoint is required"
	case f.batch < 1:
		return fmt.Sprintf("-batch-size: must be > 0, got %d", f.batch)
	case !(f.knnT > 0) || math.IsInf(f.knnT, 0):
		return fmt.Sprintf("-knn-t: must be a number > 0, got %g", f.knnT)
	case f.ft.Workers < 0:
		return fmt.Sprintf("-workers: must be >= 0 (0: one per CPU), got %d", f.ft.Workers)
	case f.probeEpochs < 0:
		return fmt.Sprintf("-probe-epochs: must be >= 0, got %d", f.probeEpochs)
	case f.knnK < 0:
		return fmt.Sprintf("-knn-k: must be >= 0, got %d", f.knnK)
	case f.subset < 0:
		return fmt.Sprintf("-subset: must be >= 0, got %d", f.subset)
	case !(f.percent > 0 && f.percent <= 100):
		return fmt.Sprintf("-train-percent: want a percentage in (0, 100], got %g", f.percent)
	case !(f.valPercent >= 0 && f.valPercent < 100):
		return fmt.Sprintf("-val-percent: want a percentage in [0, 100) (0: none), got %g", f.valPercent)
	case f.testSplit != "val" && f.testSplit != "test":
		return fmt.Sprintf("-test-split: want val or test, got %q", f.testSplit)
	case f.splitColumn != "" && f.valPercent > 0:
		return "-split-column and -val-percent both choose the held-out images: give one of them"
	case f.splitColumn != "" && splitColumnErr(f.splitColumn) != nil:
		return "-split-column " + splitColumnErr(f.splitColumn).Error()
	case f.dataset != "" && !slices.Contains(datasets.Names(), f.dataset):
		return fmt.Sprintf("-dataset: unknown data set %q: use one of %s", f.dataset, strings.Join(datasets.Names(), ", "))
	case !slices.Contains(splits, f.split):
		return fmt.Sprintf("-split: unknown split %q: use one of %s", f.split, strings.Join(splits, ", "))
	case f.embeddings != "" && !slices.Contains([]string{".npy", ".csv"}, strings.ToLower(filepath.Ext(f.embeddings))):
		return fmt.Sprintf("-embeddings: %s: the file name must end in .npy or .csv", f.embeddings)
	case f.weights != "" && f.weights != finetune.Freeze && f.weights != finetune.Finetune:
		return fmt.Sprintf("-weights: unknown mode %q: use %s or %s", f.weights, finetune.Freeze, finetune.Finetune)
	case f.weights != "" && f.embeddings != "":
		return "-embeddings writes frozen features: give it without -weights"
	case f.weights != "" && f.mapFile != "":
		return "-map draws the encoder's frozen features: give it without -weights"
	case f.mapFile != "" && !slices.Contains([]string{".svg", ".png"}, strings.ToLower(filepath.Ext(f.mapFile))):
		return fmt.Sprintf("-map: %s: the file name must end in .svg or .png (the coordinates go beside it, as .csv)", f.mapFile)
	case f.mapMethod != embedmap.MethodTSNE && f.mapMethod != embedmap.MethodPCA:
		return fmt.Sprintf("-map-method: unknown layout %q: use tsne or pca", f.mapMethod)
	case !slices.Contains([]string{"auto", embedmap.SolverExact, embedmap.SolverBarnesHut}, f.tsneSolver):
		return fmt.Sprintf("-tsne-solver: unknown solver %q: use auto, exact or barnes-hut", f.tsneSolver)
	case f.mapPoints < 3:
		return fmt.Sprintf("-map-points: want 3 or more, got %d", f.mapPoints)
	case f.perplexity < 1:
		return fmt.Sprintf("-perplexity: want 1 or more, got %g", f.perplexity)
	case f.mapImages < 0:
		return fmt.Sprintf("-map-images: want 0 or more, got %d", f.mapImages)
	case f.mapFile == "" && (f.set["map-method"] || f.set["map-points"] || f.set["perplexity"] || f.set["map-images"] || f.set["tsne-solver"]):
		return "-map-method, -map-points, -map-images, -perplexity and -tsne-solver shape the map that -map draws: give -map FILE.svg too"
	case f.mapMethod == embedmap.MethodPCA && (f.set["perplexity"] || f.set["tsne-solver"]):
		return "-perplexity and -tsne-solver are t-SNE's: -map-method pca has neither"
	case f.folds < 0 || f.folds == 1:
		return fmt.Sprintf("-folds: want 2 or more (0: no cross-validation), got %d", f.folds)
	case f.folds > 0 && f.testSplit == "test":
		return "-folds cross-validates on the training split, in place of the test split: give it without -test-split test"
	case f.folds > 0 && f.percent < 100:
		return "-folds cross-validates with every label of the training split: give it without -train-percent"
	case f.classProbabilities && f.predictions == "":
		return "-class-probabilities adds columns to -predictions' file: give -predictions FILE.csv too"
	case f.predict != "" && f.predictions == "":
		return "-predict names the images to classify: give -predictions FILE.csv too, where the predictions go"
	case f.predictions != "" && !strings.EqualFold(filepath.Ext(f.predictions), ".csv"):
		return fmt.Sprintf("-predictions: %s: the file name must end in .csv", f.predictions)
	case f.predictions != "" && f.weights == "" && f.probeEpochs == 0:
		return "-predictions writes the linear probe's predictions: give -probe-epochs above 0"
	case f.confusion != "" && !slices.Contains([]string{".svg", ".png"}, strings.ToLower(filepath.Ext(f.confusion))):
		return fmt.Sprintf("-confusion: %s: the file name must end in .svg or .png", f.confusion)
	case f.classWeight != "" && f.classWeight != "balanced":
		return fmt.Sprintf("-class-weight: unknown weighting %q: use balanced, or give none", f.classWeight)
	case f.classWeight != "" && f.weights == "" && f.probeEpochs == 0:
		return "-class-weight weights the linear probe's training: give -probe-epochs above 0"
	case f.confusion != "" && f.probeEpochs == 0:
		return "-confusion draws the linear probe's confusion matrix: give -probe-epochs above 0"
	case f.predict != "" && f.folds > 0:
		return "-predict classifies new images with the probe trained on the training split; -folds trains one per fold: give one of them (-folds with -predictions writes each labelled image's out-of-fold prediction)"
	case f.perClass && f.weights == "" && f.probeEpochs == 0 && f.knnK == 0:
		return "-per-class reports the recall of the probe and kNN: give -probe-epochs or -knn-k above 0"
	case f.folds > 0 && f.probeEpochs == 0 && f.knnK == 0:
		return "-folds cross-validates the probe and kNN: give -probe-epochs or -knn-k above 0"
	case f.weights != "" && f.result != "":
		return "-result records an evaluation on frozen features (without -weights); with -weights each run writes its own result.json " +
			"in its folder (-checkpoint-dir; by default finetune-<weights>-<percent>pct beside the encoder, and scratch-<weights>-<percent>pct for the baseline)"
	}
	if msg := f.otherMode(); msg != "" {
		return msg
	}
	for _, out := range []struct{ flag, path, example string }{
		{"-result", f.result, "result.json"},
		{"-embeddings", f.embeddings, "embeddings.npy"},
		{"-predictions", f.predictions, "predictions.csv"},
		{"-confusion", f.confusion, "confusion.svg"},
		{"-map", f.mapFile, "map.svg"},
		{"-map", embedmap.CoordinatesFile(f.mapFile), "map.csv"},
		{"-export-encoder", f.ft.ExportEncoder, "encoder.safetensors"},
	} {
		if out.path == "" {
			continue
		}
		// Checked before any work, so that a bad path does not cost an evaluation.
		if err := atomicfile.CheckWritable(out.path, out.example); err != nil {
			return out.flag + ": " + err.Error()
		}
	}
	if remote.IsObject(f.ckpt) {
		return "" // checked once copied
	}
	return checkCheckpointPath(f.ckpt)
}

// probeConfig is the linear probe's configuration that the flags give (-probe-epochs, -seed,
// -class-weight).
func (f *flags) probeConfig() eval.ProbeConfig {
	return eval.ProbeConfig{Epochs: f.probeEpochs, Seed: f.seed, Balanced: f.classWeight == "balanced"}
}

// top5 is what follows a printed accuracy for its top-5 accuracy acc (-1: not measured).
func top5(acc float64) string {
	if acc < 0 {
		return ""
	}
	return fmt.Sprintf(", top-5 %.2f%%", 100*acc)
}

// probeName names the linear probe in what is printed: with its class weights, if any.
func (f *flags) probeName() string {
	if f.classWeight != "" {
		return "linear probe (" + f.classWeight + " class weights)"
	}
	return "linear probe"
}

// The flags that only one mode reads: the runs -weights starts (fine-tuning, evaluate.py's linear
// evaluation), and the probe and kNN on frozen features (without -weights). The flag package
// accepts either in both modes; given in the other, it would be ignored without a word.
var (
	weightsOnly = []string{"epochs", "lr-backbone", "lr-head", "wd", "augment", "checkpoint-dir", "checkpoint-mirror", "resume", "workers", "log-every", "eval-subset", "baseline"}
	frozenOnly  = []string{"subset", "probe-epochs", "knn-k", "knn-t", "folds", "confusion"}
)

// otherMode returns the usage error for a flag given that the mode chosen does not read (see
// weightsOnly and frozenOnly; -lr-backbone with the encoder frozen, -split without -embeddings),
// or "".
func (f *flags) otherMode() string {
	if f.weights == "" {
		for _, name := range weightsOnly {
			if f.set[name] {
				hint := ""
				switch name {
				case "eval-subset":
					hint = "; on frozen features, -subset N uses the first N images of each split"
				case "epochs":
					hint = "; on frozen features, the linear probe's epochs are -probe-epochs"
				}
				return fmt.Sprintf("-%s applies to the training runs of -weights freeze or -weights finetune, and -weights was not given: it would be ignored%s", name, hint)
			}
		}
	} else {
		for _, name := range frozenOnly {
			if f.set[name] {
				hint := ""
				switch name {
				case "subset":
					hint = "; with -weights, -train-percent chooses the training images and -eval-subset N the first N test images"
				case "confusion":
					hint = "; with -weights, each run draws its classifier's in its folder (confusion.svg and .png)"
				}
				return fmt.Sprintf("-%s applies to the probe and kNN on frozen features (without -weights): with -weights %s it would be ignored%s", name, f.weights, hint)
			}
		}
		if f.weights == finetune.Freeze && f.set["lr-backbone"] {
			return "-lr-backbone: the encoder is not trained with -weights freeze: give -lr-head alone, or use -weights finetune"
		}
	}
	if f.set["split"] && f.embeddings == "" && f.mapFile == "" {
		return "-split chooses the split whose embeddings -embeddings writes (or -map draws): give -embeddings or -map too"
	}
	return ""
}

// usage prints a usage error to w and returns exit status 2.
func usage(w io.Writer, format string, a ...any) int {
	fmt.Fprintf(w, "evaluate: "+format+"\nRun 'go run ./evaluate -h' for the flags.\n", a...)
	return 2
}

// fail reports err (a usage error to stderr, others to the log) and returns the exit status: 0
// for nil, 2 for a usage error, 1 otherwise.
func fail(stderr io.Writer, logger *log.Logger, err error) int {
	if err == nil {
		return 0
	}
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return usage(stderr, "%v", err)
	}
	logger.Error(err)
	return 1
}

// dataOf returns the data set to evaluate on, its folder and the shard cache: -dataset,
// -data-dir and -shard-cache when given, otherwise the encoder's own (for an image folder or
// shards, the folder it was trained on, but not a pipe: command, datasets.CheckRecordedDataDir;
// its shard cache if that folder exists here). It also sets f.labelColumn, f.labelTable,
// f.classNames and f.valPercent or f.splitColumn to the encoder run's when not given and the data set is the run's
// (either given leaves the run's other out: they exclude each other).
func (f *flags) dataOf(enc config.Config) (dataset, dataDir, cache string, err error) {
	dataset, dataDir, cache = f.dataset, f.dataDir, f.shardCache
	if dataset == "" {
		dataset = enc.Dataset
	}
	if !f.set["label-column"] && strings.EqualFold(dataset, enc.Dataset) {
		f.labelColumn = enc.LabelColumn
	}
	if !f.set["label-table"] && strings.EqualFold(dataset, enc.Dataset) {
		f.labelTable = enc.LabelTable
	}
	if !f.set["class-names"] && strings.EqualFold(dataset, enc.Dataset) {
		f.classNames = enc.ClassNames
	}
	if !f.set["val-percent"] && !f.set["split-column"] && strings.EqualFold(dataset, enc.Dataset) {
		f.valPercent, f.splitColumn = enc.ValPercent, enc.SplitColumn
	}
	if f.labelColumn != "" && !strings.EqualFold(dataset, "folder") && !strings.EqualFold(dataset, "shards") {
		return "", "", "", config.Errorf("label-column", "names the column of labels in an image folder's metadata table (-dataset folder), or the member of shards that holds the classes (-dataset shards); %s has its own labels", dataset)
	}
	if _, err := datasets.ParseShardLabel(f.labelColumn); err != nil && strings.EqualFold(dataset, "shards") {
		return "", "", "", config.Errorf("label-column", "%v", err)
	}
	if f.labelTable != "" && !strings.EqualFold(dataset, "folder") {
		return "", "", "", config.Errorf("label-table", "labels an image folder (-dataset folder); %s has its own labels", dataset)
	}
	if f.classNames != "" && !strings.EqualFold(dataset, "shards") {
		return "", "", "", config.Errorf("class-names", "names the classes of shards (-dataset shards); %s has its own classes", dataset)
	}
	if f.valPercent > 0 && !strings.EqualFold(dataset, "folder") && !strings.EqualFold(dataset, "shards") {
		return "", "", "", config.Errorf("val-percent", "holds out images of an image folder or shards (-dataset folder or shards); %s has its own test split", dataset)
	}
	if f.splitColumn != "" && !strings.EqualFold(dataset, "folder") {
		return "", "", "", config.Errorf("split-column", "names a column of an image folder's label table (-dataset folder); %s has its own test split", dataset)
	}
	if !f.set["data-dir"] && dataset == enc.Dataset {
		dataDir = enc.DataDir
		if cerr := datasets.CheckRecordedDataDir(dataDir); cerr != nil {
			err = config.Errorf("data-dir", "%v", cerr)
		}
		if cache == "" {
			cache = datasets.RecordedShardCache(enc.ShardCache)
		}
	}
	if err == nil {
		if lerr := datasets.LimitShardCache(cache, f.shardCacheSize); errors.Is(lerr, datasets.ErrUsage) {
			err = config.Errorf("shard-cache-size", "%v", lerr)
		} else {
			err = lerr
		}
	}
	return dataset, dataDir, cache, err
}

// skipBad is -skip-bad-images, or when not given the setting of the encoder's run.
func (f *flags) skipBad(enc config.Config) bool {
	if f.set["skip-bad-images"] {
		return f.ft.SkipBadImages
	}
	return enc.SkipBadImages
}

// frozenFeatures embeds the images once and runs the linear probe, kNN, the embeddings export and
// the encoder export, and with -result writes what it measured there. Images are read and resized
// as the training run's evaluation reads them (an image folder or shards streamed, at the run's
// view size). start is when the command started (for the result's wall time).
func frozenFeatures(b backends.Backend, f *flags, start time.Time, stdout io.Writer, logger *log.Logger) error {
	enc, err := encoder.Load(b, f.ckpt)
	if err != nil {
		return err
	}
	defer enc.Close()
	logger.Info("encoder loaded", "from", enc.Source)
	res := results.Evaluate{Kind: results.KindEvaluate, Checkpoint: enc.Source}
	if enc.Step >= 0 {
		res.Step = &enc.Step
	}
	skipBad := f.skipBad(enc.Config)
	if f.ft.ExportEncoder != "" {
		if err := enc.Export(f.ft.ExportEncoder); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote the encoder to %s\n", f.ft.ExportEncoder)
	}
	dataset, dataDir, cache, err := f.dataOf(enc.Config)
	if err != nil {
		return err
	}
	res.Provenance = backend.Provenance(b, dataset, datasets.DataDirOf(dataset, dataDir), f.seed, start)
	probe := f.probeEpochs > 0 || f.knnK > 0
	dataOptions := func() datasets.Options {
		opt := enc.Config.DataOptions(dataDir, cache)
		opt.LabelColumn, opt.LabelTable, opt.ClassNames, opt.ValPercent, opt.SplitColumn = f.labelColumn, f.labelTable, f.classNames, f.valPercent, f.splitColumn
		opt.TestSplit = f.testSplit
		return opt
	}
	opened := map[string]datasets.Data{}
	open := func(split string) (datasets.Data, error) {
		if d, ok := opened[split]; ok {
			return d, nil
		}
		opt := dataOptions()
		var d datasets.Data
		var err error
		if split == datasets.SplitTest && probe {
			d, err = datasets.OpenTest(dataset, opt) // a probe needs held-out images
		} else {
			d, err = datasets.Open(dataset, split, opt)
		}
		if errors.Is(err, fs.ErrNotExist) && !f.set["data-dir"] && dataDir != "" {
			return nil, config.Errorf("data-dir", "%v\n%s", err, datasets.MissingRunData(dataDir))
		} else if errors.Is(err, fs.ErrNotExist) || errors.Is(err, datasets.ErrUsage) || errors.Is(err, datasets.ErrNoSplit) {
			return nil, config.Errorf("data-dir", "%v", err)
		} else if err != nil {
			return nil, err
		}
		datasets.WarnLeftOut(d, logger)
		if ch := d.Info().Channels; ch != enc.Config.Model.InChannels {
			return nil, config.Errorf("dataset", "the encoder takes %d-channel images but %s has %d channels: evaluate it on a %d-channel data set",
				enc.Config.Model.InChannels, dataset, ch, enc.Config.Model.InChannels)
		}
		if ds, ok := d.(*datasets.Dataset); ok {
			if f.subset > ds.N {
				return nil, config.Errorf("subset", "%d is more than the %d images of the %s split: use -subset %d or less, or -subset 0 for all of them", f.subset, ds.N, split, ds.N)
			}
			d = ds.Head(f.subset)
		} else if f.subset > 0 {
			return nil, config.Errorf("subset", "applies to in-memory data sets (mnist, cifar10, ...), not to -dataset %s", dataset)
		}
		opened[split] = d
		return d, nil
	}
	features := map[string]eval.Features{}
	bad := map[string]int{} // images of each split left out because they did not decode
	embed := func(d datasets.Data, what string) (x eval.Features, err error) {
		if res.ViewSize, err = enc.ViewSize(); err != nil {
			return eval.Features{}, err
		}
		bar := progress.New("embedding "+what, int64(d.Info().Len), 0, progress.Options{Logger: logger, Unit: "images"})
		x, err = enc.EmbedDataset(d, encoder.EmbedOptions{BatchSize: f.batch, Size: res.ViewSize, SkipBadImages: skipBad,
			Progress: func(done, _ int) { bar.Set(int64(done), "") }})
		bar.Finish()
		return x, err
	}
	get := func(split string) (eval.Features, error) {
		if x, ok := features[split]; ok {
			return x, nil
		}
		d, err := open(split)
		if err != nil {
			return eval.Features{}, err
		}
		x, err := embed(d, split)
		if err != nil {
			return eval.Features{}, err
		}
		features[split] = x
		bad[split] = d.Info().Len - x.N
		return x, nil
	}
	// probeAndPredict trains the linear probe on train and scores it on test; with -predictions it
	// also classifies test's images (testInfo names their classes), or -predict's.
	var predicted eval.Features
	var predictedInfo datasets.Info
	var predictedRoot string
	probeAndPredict := func(train, test eval.Features, testInfo datasets.Info) (eval.ProbeResult, error) {
		probeCfg := f.probeConfig()
		predicted, predictedInfo, predictedRoot = test, testInfo, datasets.DataDirOf(dataset, dataDir)
		if f.predict != "" {
			d, err := datasets.Open("folder", "", datasets.Options{DataDir: f.predict, ExifOrientation: enc.Config.ExifOrientation})
			if err != nil {
				return eval.ProbeResult{}, config.Errorf("predict", "%v", err)
			}
			datasets.WarnLeftOut(d, logger)
			if predicted, err = embed(d, f.predict); err != nil {
				return eval.ProbeResult{}, err
			}
			predictedInfo, predictedRoot = d.Info(), f.predict
		}
		if f.predictions != "" {
			probeCfg.Predict, probeCfg.Probabilities = []eval.Features{predicted}, f.classProbabilities
		}
		pr, err := eval.LinearProbe(b, train, test, probeCfg)
		if err == nil {
			res.LinearProbeTrain, res.ProbeEpochs, res.ClassWeight = &pr.TrainAccuracy, f.probeEpochs, f.classWeight
		}
		return pr, err
	}
	// wrotePredictions writes probeAndPredict's predictions to -predictions, if given.
	wrotePredictions := func(pr eval.ProbeResult) error {
		if f.predictions == "" {
			return nil
		}
		err := eval.WritePredictions(f.predictions, eval.Predictions{X: predicted, Root: predictedRoot, Labels: predictedInfo, Classes: opened[datasets.SplitTrain].Info(),
			P: pr.Predictions[0], Probabilities: f.classProbabilities})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote the linear probe's predictions of %d images to %s\n", predicted.N, f.predictions)
		res.Predictions, res.PredictionsImages = f.predictions, &predicted.N
		return nil
	}
	// openTrain opens the training split, refusing the images of one class folder.
	openTrain := func() (datasets.Data, error) {
		d, err := open(datasets.SplitTrain)
		if err == nil && d.Info().NumClasses == 1 {
			return nil, config.Errorf("data-dir", "%s: the images are in one class folder: every accuracy would be 100%% by construction; evaluate on a data set of two or more classes", datasets.DataDirOf(dataset, dataDir))
		}
		return d, err
	}
	// labelled returns the training features with -train-percent of their labels, refusing
	// features without labels, which what needs.
	labelled := func(train eval.Features, what string) (eval.Features, error) {
		if train.Labels == nil {
			if l, err := datasets.ParseShardLabel(f.labelColumn); err == nil && l.None && strings.EqualFold(dataset, "shards") {
				return eval.Features{}, config.Errorf("label-column", "none reads the shards without their labels (the run's, when not given): %s needs them; give the member that holds the classes (-label-column cls), with a classes.txt beside the shards or their index where nothing else names the classes", what)
			}
			return eval.Features{}, config.Errorf("dataset", "%s has no labels: %s needs a labelled data set", dataset, what)
		}
		if f.percent < 100 {
			idx, err := datasets.LabelFraction(train.Labels, train.NumClasses, f.percent, f.seed)
			if err != nil {
				return eval.Features{}, config.Errorf("train-percent", "%v", err)
			}
			train = train.Rows(idx)
		}
		return train, nil
	}
	if f.mapFile != "" {
		// Before any embedding: t-SNE's perplexity must be below the number of images mapped.
		d, err := open(f.split)
		if err != nil {
			return err
		}
		if err := checkPerplexity(f, d.Info().Len); err != nil {
			return err
		}
	}
	if probe && f.predict != "" && f.folds == 0 && !datasets.HasHeldOut(dataset, dataOptions()) {
		// No held-out images: the probe trains on every labelled image to classify -predict's,
		// and is scored on none.
		d, err := openTrain()
		if err != nil {
			return err
		}
		train, err := get(datasets.SplitTrain)
		if err == nil {
			train, err = labelled(train, "a probe")
		}
		if err != nil {
			return err
		}
		if f.confusion != "" {
			return config.Errorf("confusion", "%s has no held-out images to draw the linear probe's confusion matrix on: hold some out (-val-percent 10, -split-column, a val/ folder), or cross-validate (-folds 5 -predictions FILE.csv)", datasets.DataDirOf(dataset, dataDir))
		}
		logger.Warn("no held-out images: the linear probe trains on every labelled image to classify -predict's, and is scored on none (kNN and -per-class are left out); hold some out (-val-percent 10, -split-column, a val/ folder) to score it",
			"train_images", train.N)
		pr, err := probeAndPredict(train, train, d.Info())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: train %.2f%% (%d images; no held-out images to score it on)\n", f.probeName(), 100*pr.TrainAccuracy, train.N)
		res.TrainImages = &train.N
		if err := wrotePredictions(pr); err != nil {
			return err
		}
	} else if probe && f.folds > 0 {
		if _, err := openTrain(); err != nil {
			return err
		}
		train, err := get(datasets.SplitTrain)
		if err == nil {
			train, err = labelled(train, "cross-validation") // -folds refuses -train-percent
		}
		if err != nil {
			return err
		}
		if err := crossValidate(b, train, datasets.DataDirOf(dataset, dataDir), opened[datasets.SplitTrain].Info(), f, stdout, logger, &res); err != nil {
			return err
		}
	} else if probe {
		// Both splits are opened (listed, checked) before either is embedded: a missing or
		// mismatched test split must not cost the training split's embedding first.
		if _, err := openTrain(); err != nil {
			return err
		}
		if _, err := open(datasets.SplitTest); err != nil {
			return err
		}
		train, err := get(datasets.SplitTrain)
		if err != nil {
			return err
		}
		test, err := get(datasets.SplitTest)
		if err != nil {
			return err
		}
		if train, err = labelled(train, "a probe"); err != nil {
			return err
		}
		of := ""
		if f.percent < 100 {
			of = fmt.Sprintf(" (%g%% of the labels)", f.percent)
		}
		knnK, err := f.knnNeighbours(train.N, of)
		if err != nil {
			return err
		}
		res.TrainImages, res.TestImages, res.TrainPercent = &train.N, &test.N, f.percent
		if f.testSplit == "test" {
			res.TestSplit = f.testSplit
		}
		if skipBad {
			trainBad, testBad := bad[datasets.SplitTrain], bad[datasets.SplitTest]
			res.TrainBadImages, res.TestBadImages = &trainBad, &testBad
		}
		m := enc.Config.Model
		which := ""
		if f.testSplit == "test" {
			which = " (-test-split test)"
		}
		fmt.Fprintf(stdout, "encoder %s (%s, width %d, %d-dim), %s: %d train (%g%% of the labels) / %d test images%s\n",
			m.Arch, m.Stem, m.Width, enc.Dim(), dataset, train.N, f.percent, test.N, which)
		if class, acc := eval.Majority(train, test); class >= 0 {
			name := opened[datasets.SplitTrain].Info().ClassName(class)
			fmt.Fprintf(stdout, "always the majority class (%s, the most frequent in training): test %.2f%%\n", name, 100*acc)
			res.Majority, res.MajorityClass = &acc, name
		}
		var probePred, knnPred []int32
		if f.probeEpochs > 0 {
			pr, err := probeAndPredict(train, test, opened[datasets.SplitTest].Info())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: train %.2f%%, test %.2f%% (balanced: %.2f%%)%s\n", f.probeName(), 100*pr.TrainAccuracy, 100*pr.TestAccuracy, 100*pr.TestBalanced, top5(pr.TestTop5))
			res.LinearProbe, res.LinearProbeBalanced = &pr.TestAccuracy, &pr.TestBalanced
			if pr.TestTop5 >= 0 {
				res.LinearProbeTop5 = &pr.TestTop5
			}
			probePred = pr.TestPred
			if err := wrotePredictions(pr); err != nil {
				return err
			}
			if f.confusion != "" {
				info := opened[datasets.SplitTrain].Info()
				if res.Confusion, err = drawConfusion(stdout, f.confusion, "the test images", info, pr.TestPred, test.Labels, max(info.NumClasses, test.NumClasses)); err != nil {
					return err
				}
			}
		}
		if knnK > 0 {
			kr, err := eval.KNNScores(b, train, test, eval.KNNConfig{K: knnK, Temperature: f.knnT})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "kNN (k=%d, T=%g): test %.2f%% (balanced: %.2f%%)%s\n", knnK, f.knnT, 100*kr.Accuracy, 100*kr.Balanced, top5(kr.Top5))
			if kr.Top5 >= 0 {
				res.KNNTop5 = &kr.Top5
			}
			res.KNN, res.KNNBalanced, res.KNNK, res.KNNT = &kr.Accuracy, &kr.Balanced, knnK, f.knnT
			knnPred = kr.Pred
		}
		if f.perClass {
			res.PerClass = perClass(stdout, "the test images", opened[datasets.SplitTrain].Info(), test, probePred, knnPred)
		}
	}
	if f.embeddings != "" {
		x, err := get(f.split)
		if err != nil {
			return err
		}
		if err := eval.WriteEmbeddings(f.embeddings, x); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %d embeddings of dimension %d to %s\n", x.N, x.D, f.embeddings)
		if x.Files != nil {
			fmt.Fprintf(stdout, "each row's image file is in %s\n", eval.FilesFile(f.embeddings))
		}
		if x.Keys != nil {
			fmt.Fprintf(stdout, "each row's WebDataset key is in %s\n", eval.KeysFile(f.embeddings))
		}
		if x.Index != nil {
			where := eval.IndexFile(f.embeddings)
			if where == "" {
				where = "its index column"
			}
			fmt.Fprintf(stdout, "images left out because they did not decode: %d; each row's image index is in %s\n", bad[f.split], where)
		}
		res.Embeddings, res.EmbeddingsSplit, res.EmbeddingsImages = f.embeddings, f.split, &x.N
	}
	if f.mapFile != "" {
		x, err := get(f.split)
		if err != nil {
			return err
		}
		if res.Map, err = drawMap(b, stdout, logger, f, x, datasets.DataDirOf(dataset, dataDir), opened[f.split]); err != nil {
			return err
		}
	}
	if f.result != "" {
		res.Wall = time.Since(start)
		if err := results.Write(f.result, res); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote the result to %s\n", f.result)
	}
	return nil
}

// runFinetune runs evaluate.py's protocol from the pretrained encoder and, with -baseline, from a
// random one, and prints both and the difference.
func runFinetune(b backends.Backend, f *flags, stdout, stderr io.Writer, logger *log.Logger) error {
	encCfg, vars, sum, err := finetune.Pretrained(b, f.ckpt)
	if err != nil {
		return err
	}
	cfg := finetune.Defaults(f.weights, f.percent)
	cfg.Encoder, cfg.EncoderSHA256, cfg.Source = encCfg, sum, f.ckpt
	if cfg.Dataset, cfg.DataDir, cfg.ShardCache, err = f.dataOf(encCfg); err != nil {
		return err
	}
	cfg.LabelColumn, cfg.LabelTable, cfg.ClassNames, cfg.ValPercent, cfg.SplitColumn = f.labelColumn, f.labelTable, f.classNames, f.valPercent, f.splitColumn
	if f.testSplit == "test" {
		cfg.TestSplit = f.testSplit
	}
	cfg.Predictions, cfg.Predict, cfg.Probabilities, cfg.ClassWeight = f.predictions, f.predict, f.classProbabilities, f.classWeight
	cfg.Seed, cfg.BatchSize, cfg.FitBatch = f.seed, f.batch, !f.set["batch-size"]
	cfg.Augment = "crop-flip"
	if cfg.Dataset == "mnist" {
		cfg.Augment = "mnist"
	}
	for name, apply := range map[string]func(){
		"epochs": func() { cfg.Epochs = f.ft.Epochs }, "lr-backbone": func() { cfg.LRBackbone = f.ft.LRBackbone },
		"lr-head": func() { cfg.LRHead = f.ft.LRHead }, "wd": func() { cfg.WeightDecay = f.ft.WeightDecay },
		"augment": func() { cfg.Augment = f.ft.Augment }, "log-every": func() { cfg.LogEvery = f.ft.LogEvery },
	} {
		if f.set[name] {
			apply()
		}
	}
	cfg.Resume, cfg.Workers, cfg.EvalSubset, cfg.ExportEncoder = f.ft.Resume, f.ft.Workers, f.ft.EvalSubset, f.ft.ExportEncoder
	cfg.SkipBadImages = f.skipBad(encCfg)
	cfg.CheckpointDir, cfg.CheckpointMirror = f.ft.CheckpointDir, f.ft.CheckpointMirror
	if cfg.CheckpointDir == "" {
		cfg.CheckpointDir = filepath.Join(runDir(f.ckpt), fmt.Sprintf("finetune-%s-%gpct", cfg.Weights, cfg.TrainPercent))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.ExportEncoder != "" && cfg.Weights != finetune.Finetune {
		return config.Errorf("export-encoder", "a frozen encoder does not change: export it without -weights (evaluate -checkpoint %s -export-encoder %s)", f.ckpt, cfg.ExportEncoder)
	}
	fmt.Fprintf(stdout, "fine-tuning configuration: %s\n", cfg.JSON())
	stop := trainer.StopOnSignal(logger)
	opts := trainer.Options{Logger: logger, Stop: stop}
	interrupted := func() error {
		fmt.Fprintf(stderr, "interrupted; to resume: the same command with -resume\n")
		if cfg.CheckpointMirror != "" {
			fmt.Fprintf(stderr, "On another machine: the same command with -resume (the runs' checkpoints are restored from %s)\n", cfg.CheckpointMirror)
		}
		return nil
	}
	res, err := finetune.Run(b, cfg, vars, opts)
	if err != nil {
		return err
	}
	if res.Interrupted {
		return interrupted()
	}
	var scratch *results.Finetune
	dirs := []string{cfg.CheckpointDir}
	if f.baseline {
		base := cfg
		base.Scratch, base.EncoderSHA256, base.ExportEncoder = true, "", ""
		base.Predictions, base.Predict = "", "" // the pretrained encoder's classifier's alone
		base.CheckpointDir = filepath.Join(filepath.Dir(cfg.CheckpointDir), "scratch-"+strings.TrimPrefix(filepath.Base(cfg.CheckpointDir), "finetune-"))
		if f.ft.CheckpointDir != "" {
			base.CheckpointDir = cfg.CheckpointDir + "-scratch"
		}
		if cfg.CheckpointMirror != "" {
			base.CheckpointMirror = strings.TrimSuffix(cfg.CheckpointMirror, "/") + "-scratch/"
		}
		dirs = append(dirs, base.CheckpointDir)
		if scratch, err = finetune.Run(b, base, nil, opts); err != nil {
			return err
		}
		if scratch.Interrupted {
			return interrupted()
		}
	}
	fmt.Fprintf(stdout, "\n%s, %s, %g%% of the labels (%d images), %d epochs; test accuracy (%d images):\n",
		cfg.Dataset, cfg.Weights, cfg.TrainPercent, res.TrainImages, cfg.Epochs, res.TestImages)
	line := func(name string, r *results.Finetune) {
		fmt.Fprintf(stdout, "  %-28s top-1 ", name)
		if r.Top1 == nil { // an interrupted run is reported above; this one was evaluated
			fmt.Fprint(stdout, "not measured")
		} else {
			fmt.Fprintf(stdout, "%6.2f%%", 100**r.Top1)
		}
		if r.Top5 != nil {
			fmt.Fprintf(stdout, "   top-5 %6.2f%%", 100**r.Top5)
		}
		if r.Balanced != nil {
			fmt.Fprintf(stdout, "   balanced %6.2f%%", 100**r.Balanced)
		}
		fmt.Fprintln(stdout)
	}
	line("pretrained encoder", res)
	if scratch != nil {
		line("from scratch (random init)", scratch)
		if res.Top1 != nil && scratch.Top1 != nil {
			fmt.Fprintf(stdout, "  gain from pretraining        %+6.2f points (top-1)\n", 100*(*res.Top1-*scratch.Top1))
		}
	}
	if f.perClass && len(res.PerClass) > 0 {
		columns := []string{"pretrained"}
		recalls := [][]results.ClassRecall{res.PerClass}
		if scratch != nil && len(scratch.PerClass) == len(res.PerClass) {
			columns, recalls = append(columns, "from scratch"), append(recalls, scratch.PerClass)
		}
		printPerClass(stdout, "the test images", res.PerClass, columns, func(c, j int) *float64 { return recalls[j][c].Recall })
	}
	fmt.Fprintf(stdout, "runs (checkpoints, metrics.jsonl, metrics.svg and .png, confusion.svg and .png, result.json): %s\n", strings.Join(dirs, ", "))
	if f.predictions != "" {
		fmt.Fprintf(stdout, "wrote the fine-tuned classifier's predictions to %s\n", f.predictions)
	}
	return nil
}

// runDir is the folder a -checkpoint path belongs to: itself for a folder, its folder for a file.
func runDir(path string) string {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return path
	}
	return filepath.Dir(path)
}

// splits are the values -split accepts (not every data set has every split).
var splits = []string{datasets.SplitTrain, datasets.SplitTest, datasets.SplitUnlabeled, datasets.SplitTrainUnlabeled}

// checkCheckpointPath returns what is wrong with the -checkpoint path as given by the user (it
// does not exist, or is a folder without any checkpoint file), or "". A checkpoint that exists
// but is damaged is not a usage error: loading it reports the damage.
func checkCheckpointPath(path string) string {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Sprintf("-checkpoint: %s does not exist (give a checkpoint file, an exported encoder or a run's checkpoint folder)", path)
	}
	if !info.IsDir() {
		// A run's other files (config.json, metrics.jsonl, result.json, the figures) are not
		// damaged checkpoints: the user meant the run.
		switch strings.ToLower(filepath.Ext(path)) {
		case ".json", ".jsonl", ".svg", ".png", ".md", ".npy", ".csv", ".txt":
			return fmt.Sprintf("-checkpoint: %s is not a checkpoint: give the run's folder %s (its newest valid checkpoint), one of its ckpt-*%s files or an exported encoder",
				path, filepath.Dir(path), checkpoints.Ext)
		}
		return ""
	}
	paths, err := (&checkpoints.Manager{Dir: path}).List()
	if err != nil {
		return "-checkpoint: " + err.Error()
	}
	if len(paths) == 0 {
		return fmt.Sprintf("-checkpoint: the folder %s holds no checkpoint (ckpt-*%s)", path, checkpoints.Ext)
	}
	return ""
}

// knnNeighbours is the k that kNN votes with among n training images: at most all of them, so
// that a -knn-k given beyond them is refused (naming the flag; of says what the n images are),
// the default one cut to them. The k used is what is printed and recorded.
func (f *flags) knnNeighbours(n int, of string) (int, error) {
	k := f.knnK
	if k > n {
		if f.set["knn-k"] {
			return 0, config.Errorf("knn-k", "%d is more than the %d training images%s: give -knn-k %d or fewer", k, n, of, n)
		}
		k = n
	}
	return k, nil
}

// splitColumnErr says what is wrong with a -split-column value, nil when nothing is.
func splitColumnErr(spec string) error {
	_, _, err := datasets.ParseSplitColumn(spec)
	return err
}

// printPerClass prints the table of per-class recalls: a row per class of pc (its name and test
// images), a column per name of columns, whose cells recall(class, column) gives (nil: "-").
func printPerClass(w io.Writer, on string, pc []results.ClassRecall, columns []string, recall func(c, j int) *float64) {
	width := len("class")
	for _, c := range pc {
		width = max(width, len(c.Class))
	}
	fmt.Fprintf(w, "per class, on %s (recall: the share of a class's images predicted as it):\n  %-*s  images", on, width, "class")
	for _, name := range columns {
		fmt.Fprintf(w, "  %*s", max(len(name), 7), name)
	}
	fmt.Fprintln(w)
	for c, row := range pc {
		fmt.Fprintf(w, "  %-*s  %6d", width, row.Class, row.TestImages)
		for j, name := range columns {
			cell := "-"
			if r := recall(c, j); r != nil {
				cell = fmt.Sprintf("%.2f%%", 100**r)
			}
			fmt.Fprintf(w, "  %*s", max(len(name), 7), cell)
		}
		fmt.Fprintln(w)
	}
}

// perClass prints each class's test images and the recall of the probe and kNN on them (from
// their predictions of test's rows; nil where not run), and returns them for -result.
func perClass(w io.Writer, on string, info datasets.Info, test eval.Features, probePred, knnPred []int32) []results.ClassRecall {
	classes := max(info.NumClasses, test.NumClasses)
	var rows, probeHits, knnHits []int
	if probePred != nil {
		rows, probeHits = eval.PerClass(probePred, test.Labels, classes)
	}
	if knnPred != nil {
		rows, knnHits = eval.PerClass(knnPred, test.Labels, classes)
	}
	recall := func(hits []int, c int) *float64 {
		if hits == nil || rows[c] == 0 {
			return nil
		}
		return results.Acc(float64(hits[c]) / float64(rows[c]))
	}
	out := make([]results.ClassRecall, classes)
	for c := range classes {
		out[c] = results.ClassRecall{Class: info.ClassName(c), TestImages: rows[c], LinearProbe: recall(probeHits, c), KNN: recall(knnHits, c)}
	}
	printPerClass(w, on, out, []string{"linear probe", "kNN"}, func(c, j int) *float64 {
		if j == 0 {
			return out[c].LinearProbe
		}
		return out[c].KNN
	})
	return out
}
