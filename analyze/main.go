// Command analyze checks the assumptions of the information-theoretic reading of VICReg on trained
// encoders, and measures the entropy estimators against ground truth.
//
//	go run ./analyze -checkpoints runs/vicreg           # every checkpoint of a run, plus a random-init baseline
//	go run ./analyze -checkpoints runs/vicreg/ckpt-000000390.safetensors -out report
//	go run ./analyze -estimators -out estimators        # estimator-accuracy table on synthetic data
//	go run ./analyze -h                                 # every flag
//
// The report folder holds report.json (every number), summary.md (what holds and what does not)
// and the figures gaussianity.svg, affinity.svg and entropy.svg. Results depend only on the flags
// (and -seed). Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/analysis"
	"github.com/gomlx-ssl/vicreg/backend"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

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

// run parses the flags and runs the command; it returns the process exit status.
func run(args []string) int {
	logger := log.NewWithOptions(os.Stderr, log.Options{ReportTimestamp: true})
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	o := analysis.DefaultOptions()
	e := analysis.DefaultEstimatorConfig()
	scales := floatList(o.Scales)
	dims, ns := intList(e.Dims), intList(e.Ns)
	fs.StringVar(&o.Checkpoints, "checkpoints", "", "a checkpoint file, or a folder of ckpt-*.safetensors files of one run (required unless -estimators)")
	out := fs.String("out", "analysis-report", "report folder (created; files in it are replaced)")
	fs.StringVar(&o.DataDir, "data-dir", "", "data folder (default: $VICREG_DATA or the user cache)")
	fs.IntVar(&o.Last, "last", 0, "analyse only the newest N checkpoints of the folder (0: all)")
	noBaseline := fs.Bool("no-baseline", false, "skip the randomly initialised encoder")
	fs.IntVar(&o.Anchors, "anchors", o.Anchors, "A1/A2: number of test-set anchor images")
	fs.IntVar(&o.Views, "views", o.Views, "A1: views per anchor")
	fs.Float64Var(&o.InputNoise, "input-noise", 0, "A1: when > 0, views are the anchor plus N(0, s²I) noise (normalised pixels) instead of the run's augmentation")
	fs.IntVar(&o.Components, "components", o.Components, "A1: principal components for Mardia's tests")
	fs.IntVar(&o.Projections, "projections", o.Projections, "A1: random projections for the 1-D tests")
	fs.Float64Var(&o.Alpha, "alpha", o.Alpha, "A1: level of the tests")
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
		fmt.Fprintf(fs.Output(), "Usage: go run ./analyze -checkpoints DIR|FILE [flags]\n       go run ./analyze -estimators [flags]\n\n"+
			"Checks conditional Gaussianity (A1), local affinity (A2) and entropy/mutual information (A3) on trained encoders,\n"+
			"or measures the entropy estimators against ground truth. GOMLX_BACKEND picks the backend (xla:cpu, xla:cuda, go).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "analyze: unexpected arguments %q (flags only)\nRun 'go run ./analyze -h' for the flags.\n", fs.Args())
		return 2
	}
	o.Scales, o.Seed, o.Baseline, o.Logger = scales, *seed, !*noBaseline, logger
	e.Dims, e.Ns, e.Seed = dims, ns, *seed
	if !*estimators {
		if err := o.Validate(); err != nil {
			fmt.Fprintf(os.Stderr, "analyze: %v\nRun 'go run ./analyze -h' for the flags.\n", err)
			return 2
		}
		if _, err := os.Stat(o.Checkpoints); err != nil {
			fmt.Fprintf(os.Stderr, "analyze: -checkpoints: %v\n", err)
			return 2
		}
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
	rep, err := analysis.Run(b, o)
	if err != nil {
		logger.Error(err)
		if errors.Is(err, analysis.ErrNoCheckpoint) {
			return 2
		}
		return 1
	}
	if err := analysis.WriteReport(*out, rep); err != nil {
		logger.Error(err)
		return 1
	}
	logger.Info("report written", "folder", *out, "summary", *out+"/"+analysis.ReportSummary)
	return 0
}
