// Command evaluate measures a pretrained encoder: a linear probe and a kNN classifier on a labeled
// data set, and optionally writes the embeddings of one split to a .npy or .csv file.
//
//	go run ./evaluate -checkpoint runs/vicreg                 # newest checkpoint of a run
//	go run ./evaluate -checkpoint encoder.safetensors -embeddings test.npy
//
// Exit status: 0 on success, 1 on failure (including a damaged checkpoint or data file), 2 on a
// usage error (a bad flag value, a -checkpoint path that does not exist or holds no checkpoint, a
// data set whose images do not fit the encoder).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/eval"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	ckpt := fs.String("checkpoint", "", "a checkpoint file, an exported encoder, or a run's checkpoint folder (its newest valid checkpoint)")
	dataset := fs.String("dataset", "", "labeled data set to evaluate on (default: the one the encoder was trained on)")
	dataDir := fs.String("data-dir", "", "folder of the data sets")
	subset := fs.Int("subset", 0, "use the first N images of each split (0: all)")
	probeEpochs := fs.Int("probe-epochs", 30, "epochs of the linear probe (0: skip the probe)")
	knnK := fs.Int("knn-k", 20, "neighbours of the kNN classifier (0: skip kNN)")
	knnT := fs.Float64("knn-t", 0.07, "temperature of the kNN classifier")
	embeddings := fs.String("embeddings", "", "write the embeddings of -split to this .npy or .csv file")
	split := fs.String("split", datasets.SplitTest, "split whose embeddings -embeddings writes")
	batch := fs.Int("batch-size", 256, "images per forward pass")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "evaluate: "+format+"\n", a...)
		return 2
	}
	if *ckpt == "" {
		return usage("-checkpoint is required")
	}
	switch {
	case *batch < 1:
		return usage("-batch-size: must be > 0, got %d", *batch)
	case *knnT <= 0:
		return usage("-knn-t: must be > 0, got %g", *knnT)
	case *probeEpochs < 0:
		return usage("-probe-epochs: must be >= 0, got %d", *probeEpochs)
	case *knnK < 0:
		return usage("-knn-k: must be >= 0, got %d", *knnK)
	case *subset < 0:
		return usage("-subset: must be >= 0, got %d", *subset)
	case *dataset != "" && !slices.Contains(datasets.Names(), *dataset):
		return usage("-dataset: unknown data set %q: use one of %s", *dataset, strings.Join(datasets.Names(), ", "))
	case !slices.Contains(splits, *split):
		return usage("-split: unknown split %q: use one of %s", *split, strings.Join(splits, ", "))
	case *embeddings != "" && !slices.Contains([]string{".npy", ".csv"}, strings.ToLower(filepath.Ext(*embeddings))):
		return usage("-embeddings: %s: the file name must end in .npy or .csv", *embeddings)
	}
	if msg := checkCheckpointPath(*ckpt); msg != "" {
		return usage("-checkpoint: %s", msg)
	}
	b, err := backend.New()
	if err != nil {
		log.Error(err)
		return 1
	}
	defer b.Finalize()
	enc, err := checkpoints.LoadEncoder(b, *ckpt)
	if err != nil {
		log.Error(err)
		return 1
	}
	defer enc.Close()
	if *dataset == "" {
		*dataset = enc.Dataset
	}
	load := func(split string) (*datasets.Dataset, error) {
		ds, err := datasets.LoadWith(*dataset, split, datasets.Options{DataDir: *dataDir})
		if err != nil {
			return nil, err
		}
		if ds.Channels != enc.Config.InChannels {
			return nil, &usageError{fmt.Sprintf("-dataset: the encoder takes %d-channel images but %s has %d channels: evaluate it on a %d-channel data set",
				enc.Config.InChannels, *dataset, ds.Channels, enc.Config.InChannels)}
		}
		return ds.Head(*subset), nil
	}
	// fail reports err and returns the exit status: 2 for a usage error, 1 otherwise.
	fail := func(err error) int {
		var ue *usageError
		if errors.As(err, &ue) {
			return usage("%s", ue.msg)
		}
		log.Error(err)
		return 1
	}
	features := map[string]eval.Features{}
	get := func(split string) (eval.Features, error) {
		if f, ok := features[split]; ok {
			return f, nil
		}
		ds, err := load(split)
		if err != nil {
			return eval.Features{}, err
		}
		f, err := eval.Embed(enc, ds, *batch)
		features[split] = f
		return f, err
	}
	if *probeEpochs > 0 || *knnK > 0 {
		train, err := get(datasets.SplitTrain)
		if err != nil {
			return fail(err)
		}
		test, err := get(datasets.SplitTest)
		if err != nil {
			return fail(err)
		}
		fmt.Printf("encoder %s (%s, width %d, %d-dim), %s: %d train / %d test images\n",
			enc.Config.Arch, enc.Config.Stem, enc.Config.Width, enc.Dim(), *dataset, train.N, test.N)
		if *probeEpochs > 0 {
			res, err := eval.LinearProbe(b, train, test, eval.ProbeConfig{Epochs: *probeEpochs})
			if err != nil {
				log.Error(err)
				return 1
			}
			fmt.Printf("linear probe: train %.2f%%, test %.2f%%\n", 100*res.TrainAccuracy, 100*res.TestAccuracy)
		}
		if *knnK > 0 {
			acc, err := eval.KNN(b, train, test, eval.KNNConfig{K: *knnK, Temperature: *knnT})
			if err != nil {
				log.Error(err)
				return 1
			}
			fmt.Printf("kNN (k=%d, T=%g): test %.2f%%\n", *knnK, *knnT, 100*acc)
		}
	}
	if *embeddings != "" {
		f, err := get(*split)
		if err != nil {
			return fail(err)
		}
		if err := eval.WriteEmbeddings(*embeddings, f); err != nil {
			log.Error(err)
			return 1
		}
		fmt.Printf("wrote %d embeddings of dimension %d to %s\n", f.N, f.D, *embeddings)
	}
	return 0
}

// splits are the values -split accepts (not every data set has every split).
var splits = []string{datasets.SplitTrain, datasets.SplitTest, datasets.SplitUnlabeled, datasets.SplitTrainUnlabeled}

// usageError is a problem with the flags found after parsing them (such as a data set whose
// images do not fit the encoder); it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// checkCheckpointPath returns what is wrong with the -checkpoint path as given by the user (it
// does not exist, or is a folder without any checkpoint file), or "". A checkpoint that exists
// but is damaged is not a usage error: loading it reports the damage.
func checkCheckpointPath(path string) string {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Sprintf("%s does not exist (give a checkpoint file, an exported encoder or a run's checkpoint folder)", path)
	}
	if !info.IsDir() {
		return ""
	}
	paths, err := (&checkpoints.Manager{Dir: path}).List()
	if err != nil {
		return err.Error()
	}
	if len(paths) == 0 {
		return fmt.Sprintf("the folder %s holds no checkpoint (ckpt-*%s)", path, checkpoints.Ext)
	}
	return ""
}
