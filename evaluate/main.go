// Command evaluate measures a pretrained encoder: a linear probe and a kNN classifier on a labeled
// data set, and optionally writes the embeddings of one split to a .npy or .csv file.
//
//	go run ./evaluate -checkpoint runs/vicreg                 # newest checkpoint of a run
//	go run ./evaluate -checkpoint encoder.vckpt -embeddings test.npy
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

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
	if *batch < 1 || *probeEpochs < 0 || *knnK < 0 || *knnT <= 0 || *subset < 0 {
		return usage("-batch-size, -knn-t must be > 0; -probe-epochs, -knn-k, -subset >= 0")
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
		return ds.Head(*subset), nil
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
			log.Error(err)
			return 1
		}
		test, err := get(datasets.SplitTest)
		if err != nil {
			log.Error(err)
			return 1
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
			log.Error(err)
			return 1
		}
		if err := eval.WriteEmbeddings(*embeddings, f); err != nil {
			log.Error(err)
			return 1
		}
		fmt.Printf("wrote %d embeddings of dimension %d to %s\n", f.N, f.D, *embeddings)
	}
	return 0
}
