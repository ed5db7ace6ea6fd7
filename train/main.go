// Command train pretrains a ResNet encoder with VICReg (or an information-theoretic variant) and
// evaluates the frozen encoder with a linear probe and a kNN classifier.
//
//	go run ./train                      # the default job: MNIST, small ResNet-18, VICReg, ~minutes on CPU
//	go run ./train -preset cifar10      # solo-learn's CIFAR-10 recipe (needs a GPU to be practical)
//	go run ./train -resume              # continue the run in -checkpoint-dir
//	go run ./train -backend-info        # which backend, devices and XLA plugin are in use
//	go run ./train -h                   # every flag
//
// Exit status: 0 on success (also after SIGINT/SIGTERM, once a checkpoint is written), 1 on
// failure, 2 on a usage error (a bad flag or value, an argument that is not a flag, a
// -checkpoint-dir that holds an earlier run's checkpoints without -resume or its result.json
// alone, or cannot be written, an -export-encoder or -metrics file whose folder does not exist
// or cannot be written, a resume with another configuration).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
	"github.com/gomlx-ssl/vicreg/train/trainer"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses the flags and runs the command; it returns the process exit status.
func run(args []string) int {
	logger := log.NewWithOptions(os.Stderr, log.Options{ReportTimestamp: true})
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	backendInfo := fs.Bool("backend-info", false, "print the backend, its devices and the XLA plugin in use, then exit")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./train [flags]\n\nPretrains an encoder with a self-supervised objective, then evaluates it.\nWith no flags: the default MNIST job. GOMLX_BACKEND picks the backend (xla:cpu, xla:cuda, go).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	cfg, err := config.ParseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		var ue *config.FieldError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "train: %v\nRun 'go run ./train -h' for the flags.\n", err)
		}
		return 2 // the flag package already printed its own parse errors
	}
	level, err := log.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "train: -log-level: %v\n", err)
		return 2
	}
	logger.SetLevel(level)

	b, err := backend.New()
	if err != nil {
		logger.Error(err)
		return 1
	}
	defer b.Finalize()
	if *backendInfo {
		fmt.Print(backend.Describe(b))
		if e, err := backend.MeasureFloat32(b); err != nil {
			fmt.Printf("float32:     not measured: %v\n", err)
		} else {
			fmt.Printf("float32:     %s\n", e)
		}
		fmt.Printf("jpeg:        %s\n", datasets.JPEGDecoder())
		fmt.Printf("webp:        %s\n", datasets.WebPDecoder())
		fmt.Printf("png:         %s\n", datasets.PNGDecoder())
		fmt.Printf("tiff:        %s\n", datasets.TIFFDecoder())
		fmt.Printf("heic, avif:  %s\n", datasets.HEIFDecoder())
		return 0
	}

	stop := trainer.StopOnSignal(logger)
	res, err := trainer.Run(b, cfg, trainer.Options{Logger: logger, Stop: stop})
	if err != nil {
		var ue *config.FieldError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "train: %v\n", err)
			return 2
		}
		logger.Error(err)
		return 1
	}
	if res.Interrupted {
		printAccuracy(os.Stdout, res, cfg) // the phases of the final evaluation that finished before the signal
		logger.Info("interrupted; checkpoint written", "step", res.Steps, "checkpoint", res.Checkpoint)
		fmt.Fprintf(os.Stderr, "To resume: go run ./train -config %s -resume\n", flagargs.ShellQuote(filepath.Join(cfg.CheckpointDir, config.FileName)))
		if cfg.CheckpointMirror != "" {
			fmt.Fprintf(os.Stderr, "On another machine: this command with -resume added (its checkpoints are restored from %s)\n", cfg.CheckpointMirror)
		}
		return 0
	}
	switch {
	case res.Trained == 0:
		fmt.Printf("\nNothing to train: the run was complete at step %d; checkpoint %s\n", res.Steps, res.Checkpoint)
	case res.Trained < res.Steps:
		fmt.Printf("\nTrained to step %d (%d steps in %s after resuming); checkpoint %s\n", res.Steps, res.Trained, res.TrainTime.Round(1e9), res.Checkpoint)
	default:
		fmt.Printf("\nTrained %d steps in %s; checkpoint %s\n", res.Steps, res.TrainTime.Round(1e9), res.Checkpoint)
	}
	if line := results.MeasuredOn(res.Backend, res.Machine); res.Trained > 0 && line != "" {
		fmt.Println(line)
	}
	printAccuracy(os.Stdout, res, cfg)
	return 0
}

// printAccuracy prints the final evaluation's accuracies that were measured (all of them, or
// those of the phases that finished before a signal), and where the map of the embeddings is, with
// its trustworthiness.
func printAccuracy(w io.Writer, res *results.Pretrain, cfg config.Config) {
	if res.Linear == nil || res.KNN == nil {
		return
	}
	weights := ""
	if res.ClassWeight != "" {
		weights = "; the linear probes with " + res.ClassWeight + " class weights"
	}
	fmt.Fprintf(w, "\nAccuracy on %s/%s, %d images (%s%s):\n", cfg.Dataset, res.EvalSplit, res.EvalImages, cfg.Loss, weights)
	fmt.Fprintf(w, "  linear probe, pretrained encoder  %6.2f%%\n", 100**res.Linear)
	fmt.Fprintf(w, "  kNN (k=%d), pretrained encoder    %6.2f%%\n", cfg.KNNK, 100**res.KNN)
	if res.LinearBalanced != nil && res.KNNBalanced != nil {
		// One line, ending in a figure as the lines above do (docs/experiments/summarize reads them).
		line := fmt.Sprintf("  balanced accuracy (mean per-class recall): linear probe %.2f%%, kNN %.2f%%", 100**res.LinearBalanced, 100**res.KNNBalanced)
		for _, ll := range res.LowLabel {
			if ll.LinearBalanced != nil && ll.KNNBalanced != nil {
				line += fmt.Sprintf("; %g%% of the labels: linear probe %.2f%%, kNN %.2f%%", ll.Percent, 100**ll.LinearBalanced, 100**ll.KNNBalanced)
			}
		}
		if res.PixelLinearBalanced != nil {
			line += fmt.Sprintf("; raw pixels %.2f%%", 100**res.PixelLinearBalanced)
		}
		if res.RandomLinearBalanced != nil {
			line += fmt.Sprintf("; random encoder %.2f%%", 100**res.RandomLinearBalanced)
		}
		fmt.Fprintln(w, line)
	}
	if res.LinearTop5 != nil && res.KNNTop5 != nil {
		fmt.Fprintf(w, "  top-5 accuracy: linear probe %.2f%%, kNN %.2f%%\n", 100**res.LinearTop5, 100**res.KNNTop5)
	}
	if res.ProbeAcc != nil {
		fmt.Fprintf(w, "  online linear probe               %6.2f%%\n", 100**res.ProbeAcc)
	}
	for _, ll := range res.LowLabel {
		fmt.Fprintf(w, "  linear probe, %4g%% of the labels %6.2f%%   (kNN %6.2f%%, %d images)\n", ll.Percent, 100*ll.Linear, 100*ll.KNN, ll.Images)
	}
	if res.PixelLinear != nil {
		fmt.Fprintf(w, "  linear probe, raw pixels          %6.2f%%\n", 100**res.PixelLinear)
	}
	if res.RandomLinear != nil {
		fmt.Fprintf(w, "  linear probe, random encoder      %6.2f%%\n", 100**res.RandomLinear)
	}
	if res.Majority != nil {
		fmt.Fprintf(w, "  always the majority class         %6.2f%%   (%s, the most frequent in training)\n", 100**res.Majority, res.MajorityClass)
	}
	if m := res.Map; m != nil {
		about := ""
		if t := m.Trust(); t != "" {
			about = "; " + t
		}
		fmt.Fprintf(w, "\nThe %s map of %d %s images' embeddings%s: %s\n", m.Method, m.Images, m.Split, about, filepath.Join(cfg.CheckpointDir, m.Figure))
	}
}
