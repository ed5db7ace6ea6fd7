// Package results reads and writes what runs leave beside their checkpoints: result.json (Pretrain,
// Finetune), evaluate's -result file (Evaluate) and metrics.jsonl (MetricsFile, ReadMetrics). It
// uses the standard library alone (and internal/atomicfile, which does too), so that a script or
// a notebook that reads results does not link XLA.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// File is the name of the file, beside a run's checkpoints, that holds its result.
const File = "result.json"

// The kinds of result ("kind" in the file), which tell the three formats apart.
const (
	KindPretrain = "pretrain" // Pretrain
	KindFinetune = "finetune" // Finetune
	KindEvaluate = "evaluate" // Evaluate
)

// Provenance is where a result comes from: the images, the seed, and the backend and machine
// that computed it, so that a result file read alone says what its figures are of. Every kind of
// result embeds it (its keys sit beside the result's own). Files written before it was recorded
// read with zero values.
type Provenance struct {
	// Dataset and DataDir are where the images came from (DataDir resolved as the data set
	// opened it; absent for the generated synthetic set).
	Dataset string `json:"dataset"`
	DataDir string `json:"data_dir,omitempty"`
	// Seed is -seed: for a training run, its initialisation, augmentation and data order; for
	// evaluate, the label subset and the probe's initialisation and data order.
	Seed uint64 `json:"seed"`
	// Backend is the GoMLX backend that computed the result, as GOMLX_BACKEND names it, with the
	// plugin GoMLX chose where it named none (backend.Name: "xla:cpu", "xla:cuda", "go").
	Backend string `json:"backend"`
	// Machine is the computer the result's timings were measured on.
	Machine *Machine `json:"machine,omitempty"`
	// Date is when the run (pretraining, fine-tuning) or the evaluation began, UTC, RFC 3339.
	Date string `json:"date"`
}

// KeepTrainedOn sets p's Backend, Machine and Date to those of old, the provenance of the result
// of the process that trained a run: the result of a process that resumed the run after its last
// step, trained nothing and kept old's training figures states where and when they were measured.
func (p *Provenance) KeepTrainedOn(old Provenance) {
	p.Backend, p.Machine, p.Date = old.Backend, old.Machine, old.Date
}

// MeasuredOn is the line that names where timings were measured, "Measured on xla:cpu: <the
// machine>", or "" without a machine.
func MeasuredOn(backend string, m *Machine) string {
	if m == nil {
		return ""
	}
	return fmt.Sprintf("Measured on %s: %s", backend, m)
}

// Machine is the computer a result's timings (training time, throughput, wall time) were
// measured on: XLA picks other kernels on each CPU type, and a GPU run's speed is its GPU's, so a
// speed holds for one kind of machine only.
type Machine struct {
	// CPU names the processor: model name, family and model numbers, logical CPUs (and how many
	// the process could use, where fewer), AVX-512, AVX512_BF16 and AMX (internal/cpuinfo's line).
	CPU string `json:"cpu"`
	// Devices are the backend's accelerators, one line each (for a GPU: index, name, memory and
	// driver, from nvidia-smi); absent on the CPU backends.
	Devices []string `json:"devices,omitempty"`
}

// String is the machine in one line: the CPU, then the devices.
func (m Machine) String() string {
	if len(m.Devices) == 0 {
		return m.CPU
	}
	return m.CPU + "; devices: " + strings.Join(m.Devices, "; ")
}

// Pretrain is the result.json of a pretraining run (go run ./train): a finished run, or one
// interrupted by a signal.
type Pretrain struct {
	Kind        string `json:"kind"` // KindPretrain (absent in files written before it was recorded)
	Steps       int64  `json:"steps"`
	Trained     int64  `json:"trained_steps"` // steps this process trained (Steps less the step it resumed from)
	Interrupted bool   `json:"interrupted"`   // stopped by a signal; a checkpoint was written
	Checkpoint  string `json:"checkpoint"`    // the newest checkpoint (written, or resumed from)
	// The accuracies, fractions in [0, 1], are absent (nil) where not measured: the online probe's
	// on the evaluation split at the end, the offline linear probe's and kNN's, and the baselines'
	// (a linear probe on raw pixels and on a randomly initialised encoder). Files written before
	// this release record -1 for them; Read makes those nil.
	ProbeAcc     *float64 `json:"online_probe,omitempty"`
	Linear       *float64 `json:"linear_probe,omitempty"`
	KNN          *float64 `json:"knn,omitempty"`
	PixelLinear  *float64 `json:"linear_pixels,omitempty"`
	RandomLinear *float64 `json:"linear_random,omitempty"`
	// LinearBalanced, KNNBalanced, PixelLinearBalanced and RandomLinearBalanced are the balanced
	// accuracies (eval.Balanced: the mean of the per-class recalls) of the offline linear probe,
	// kNN and the baselines, where measured.
	LinearBalanced       *float64 `json:"linear_probe_balanced,omitempty"`
	KNNBalanced          *float64 `json:"knn_balanced,omitempty"`
	PixelLinearBalanced  *float64 `json:"linear_pixels_balanced,omitempty"`
	RandomLinearBalanced *float64 `json:"linear_random_balanced,omitempty"`
	// LinearTop5 and KNNTop5 are the offline linear probe's and kNN's top-5 accuracies (the
	// label among the 5 classes scored highest), measured with more than 5 classes.
	LinearTop5 *float64 `json:"linear_probe_top5,omitempty"`
	KNNTop5    *float64 `json:"knn_top5,omitempty"`
	// Majority is the accuracy of always predicting MajorityClass, the training split's most
	// frequent class (eval.Majority): the floor the accuracies above should clear, high where the
	// classes are imbalanced. Absent where the linear probe was not measured.
	Majority      *float64 `json:"majority,omitempty"`
	MajorityClass string   `json:"majority_class,omitempty"`
	// Confusion is the offline linear probe's confusion matrix on the EvalSplit images, drawn to
	// the run's confusion.svg and confusion.png (absent where the probe was not measured).
	Confusion *Confusion `json:"confusion,omitempty"`
	// ClassWeight is the final linear probes' weighting of their training images by class
	// ("balanced", or absent for none: train -class-weight).
	ClassWeight string `json:"class_weight,omitempty"`
	// Map is the t-SNE map of the encoder's embeddings of EvalSplit images, drawn to the run's
	// map.svg and map.png, with the coordinates in map.csv (files relative to the run's folder;
	// absent without one: -map-points 0, too few images).
	Map       *EmbeddingMap `json:"map,omitempty"`
	TrainTime time.Duration `json:"train_ns"` // this process's training time (Trained steps)
	// EvalSplit names the images the accuracies are measured on ("test", or "validation": the
	// held-out training images), EvalImages their number.
	EvalSplit  string `json:"eval_split"`
	EvalImages int    `json:"eval_images"`
	// LowLabel holds the probes trained on fractions of the labels (the -low-label flag).
	LowLabel []LowLabel `json:"low_label,omitempty"`
	// StepCompilations counts how often the training step was compiled: 1, whatever the steps.
	StepCompilations int `json:"step_compilations"`
	// Provenance: a run resumed after its last step trains nothing and carries the training
	// figures of the result it replaces; Backend, Machine and Date go with them (they are those
	// of the process that trained, and empty where that result did not record them).
	Provenance
}

// LowLabel is the linear probe and kNN trained on Percent% of the training labels (Images
// images, class-balanced), with their balanced accuracies (absent in files written before they
// were recorded).
type LowLabel struct {
	Percent        float64  `json:"percent"`
	Images         int      `json:"images"`
	Linear         float64  `json:"linear_probe"`
	KNN            float64  `json:"knn"`
	LinearBalanced *float64 `json:"linear_probe_balanced,omitempty"`
	KNNBalanced    *float64 `json:"knn_balanced,omitempty"`
}

// Finetune is the result.json of a fine-tuning run (go run ./evaluate -weights): a finished run,
// or one interrupted by a signal.
type Finetune struct {
	Kind        string `json:"kind"` // KindFinetune (absent in files written before it was recorded)
	Steps       int64  `json:"steps"`
	Trained     int64  `json:"trained_steps"` // steps this process trained (Steps less the step it resumed from; 0 in files written before it was recorded)
	Interrupted bool   `json:"interrupted"`
	Checkpoint  string `json:"checkpoint"`
	TrainImages int    `json:"train_images"` // labelled images trained on (TrainPercent of the split)
	TestImages  int    `json:"test_images"`
	// Top1 and Top5 are the test accuracies at the end, absent (nil) where not measured (a run
	// stopped before its first evaluation; top-5 with 5 classes or fewer). Files written before
	// this release record -1; Read makes it nil.
	Top1 *float64 `json:"top1,omitempty"`
	Top5 *float64 `json:"top5,omitempty"`
	// Balanced is the balanced accuracy of the top-1 predictions at the end (eval.Balanced: the
	// mean of the per-class recalls), absent where not measured.
	Balanced *float64 `json:"balanced,omitempty"`
	// PerClass is each class's test images and the recall of the top-1 predictions on them, at
	// the end (absent where not measured).
	PerClass []ClassRecall `json:"per_class,omitempty"`
	// Confusion is the confusion matrix of the top-1 predictions at the end, drawn to the run's
	// confusion.svg and confusion.png (absent where not measured).
	Confusion *Confusion    `json:"confusion,omitempty"`
	TrainTime time.Duration `json:"train_ns"` // this process's training time (Trained steps)
	// Provenance: a run resumed after its last step trains nothing and carries the training
	// figures of the result it replaces; Backend, Machine and Date go with them (they are those
	// of the process that trained, and empty where that result did not record them).
	Provenance
}

// Evaluate is what go run ./evaluate -result writes: one evaluation on frozen features, in the
// conventions of the runs' result.json (Pretrain, Finetune): snake_case keys, accuracies as fractions
// in [0, 1], durations in nanoseconds. What was not measured is absent, never -1: the probe's
// keys without a probe (-probe-epochs 0), kNN's without kNN (-knn-k 0), the image counts when
// nothing was scored, the bad-image counts unless bad images were skipped, the step for an
// exported encoder.
type Evaluate struct {
	// Kind is KindEvaluate, which tells this file from the runs' result.json.
	Kind string `json:"kind"`
	// Checkpoint is the file the encoder was loaded from (for a run folder, its newest valid
	// checkpoint) and Step its training step (absent for an exported encoder).
	Checkpoint string `json:"checkpoint"`
	Step       *int64 `json:"step,omitempty"`
	// TrainImages is the number of training images the probe and kNN used (TrainPercent% of the
	// split's images that were embedded), TestImages the number of test images scored.
	TrainImages  *int    `json:"train_images,omitempty"`
	TrainPercent float64 `json:"train_percent,omitempty"`
	TestImages   *int    `json:"test_images,omitempty"`
	// TestSplit is "test" when the test images are those of the test/ folder alone (evaluate
	// -test-split test), absent when they are val/'s (or else test/'s).
	TestSplit string `json:"test_split,omitempty"`
	// TrainBadImages and TestBadImages count the images left out because they did not decode:
	// present (0 or more) when bad images were skipped (-skip-bad-images, or the encoder's run
	// skipped them), absent otherwise (a bad image then stops the command).
	TrainBadImages *int `json:"train_bad_images,omitempty"`
	TestBadImages  *int `json:"test_bad_images,omitempty"`
	// ViewSize is the side of the images the encoder saw (absent when nothing was embedded).
	ViewSize int `json:"view_size,omitempty"`
	// LinearProbe is the linear probe's test top-1 accuracy after ProbeEpochs epochs,
	// LinearProbeTrain its accuracy on its training images; ClassWeight is its weighting of the
	// classes ("balanced": by inverse frequency, evaluate -class-weight; absent: none).
	LinearProbe      *float64 `json:"linear_probe,omitempty"`
	LinearProbeTrain *float64 `json:"linear_probe_train,omitempty"`
	ProbeEpochs      int      `json:"probe_epochs,omitempty"`
	ClassWeight      string   `json:"class_weight,omitempty"`
	// LinearProbeTop5 and KNNTop5 are their test top-5 accuracies (absent with 5 classes or
	// fewer).
	LinearProbeTop5 *float64 `json:"linear_probe_top5,omitempty"`
	KNNTop5         *float64 `json:"knn_top5,omitempty"`
	// KNN is the kNN classifier's test top-1 accuracy with KNNK neighbours at temperature KNNT.
	KNN  *float64 `json:"knn,omitempty"`
	KNNK int      `json:"knn_k,omitempty"`
	KNNT float64  `json:"knn_t,omitempty"`
	// LinearProbeBalanced and KNNBalanced are the balanced test accuracies (eval.Balanced: the
	// mean of the per-class recalls) of the probe and kNN, where measured.
	LinearProbeBalanced *float64 `json:"linear_probe_balanced,omitempty"`
	KNNBalanced         *float64 `json:"knn_balanced,omitempty"`
	// Majority is the test accuracy of always predicting MajorityClass, the training images' most
	// frequent class (eval.Majority): the floor the probe and kNN should clear (absent when
	// neither ran).
	Majority      *float64 `json:"majority,omitempty"`
	MajorityClass string   `json:"majority_class,omitempty"`
	// PerClass is each class's test images and the recall of the probe and kNN on them (evaluate
	// -per-class; absent without it); with CrossValidation, each class's labelled images and the
	// recall of their out-of-fold predictions (each image's by the fold that held it out).
	PerClass []ClassRecall `json:"per_class,omitempty"`
	// Confusion is the linear probe's confusion matrix on the test split, or with CrossValidation
	// of its out-of-fold predictions (evaluate -confusion; absent without it).
	Confusion *Confusion `json:"confusion,omitempty"`
	// CrossValidation is the k-fold cross-validation of the probe and kNN on the training split
	// (evaluate -folds), in place of the test split's figures (absent without -folds).
	CrossValidation *CrossValidation `json:"cross_validation,omitempty"`
	// Predictions is the file -predictions wrote, with the linear probe's predictions of
	// PredictionsImages images (absent without -predictions); with CrossValidation, the
	// out-of-fold predictions of the labelled images.
	Predictions       string `json:"predictions,omitempty"`
	PredictionsImages *int   `json:"predictions_images,omitempty"`
	// Map is the 2-D map of a split's embeddings that -map drew (absent without -map).
	Map *EmbeddingMap `json:"map,omitempty"`
	// Embeddings is the file -embeddings wrote, with the EmbeddingsImages images of the split
	// EmbeddingsSplit (absent without -embeddings).
	Embeddings       string `json:"embeddings,omitempty"`
	EmbeddingsSplit  string `json:"embeddings_split,omitempty"`
	EmbeddingsImages *int   `json:"embeddings_images,omitempty"`
	// Wall is the command's wall time up to the result, from the start of the backend on.
	Wall time.Duration `json:"wall_ns"`
	Provenance
}

// ClassRecall is one class's test images and the recall on them (the share of its images
// predicted as it) of the probe and kNN (Evaluate), or of the fine-tuned classifier (Finetune);
// absent where not run, or where the class has no test image.
type ClassRecall struct {
	Class       string   `json:"class"`
	TestImages  int      `json:"test_images"`
	LinearProbe *float64 `json:"linear_probe_recall,omitempty"`
	KNN         *float64 `json:"knn_recall,omitempty"`
	Recall      *float64 `json:"recall,omitempty"`
}

// Confusion is a classifier's confusion matrix: Counts[t][p] is the number of images of class
// Classes[t] that it predicted as Classes[p]; Figure is the file it was drawn to (in a run's
// result.json, relative to the run's folder: confusion.svg).
type Confusion struct {
	Classes []string `json:"classes"`
	Counts  [][]int  `json:"counts"`
	Figure  string   `json:"figure,omitempty"`
}

// EmbeddingMap is a 2-D map of the embeddings of a split's images (evaluate -map): the figure
// and the CSV file of each image's coordinates, the method ("t-SNE" or "PCA"), the split and the
// images mapped (of how many) and drawn as thumbnails, with t-SNE's perplexity and
// Kullback-Leibler divergence, or PCA's shares of the variance along its two axes.
type EmbeddingMap struct {
	Figure      string   `json:"figure"`
	Coordinates string   `json:"coordinates"`
	Method      string   `json:"method"`
	Split       string   `json:"split"`
	Images      int      `json:"images"`
	Of          int      `json:"of"`
	Thumbnails  int      `json:"thumbnails,omitempty"` // images drawn at their places on the map
	Perplexity  float64  `json:"perplexity,omitempty"`
	KL          *float64 `json:"kl_divergence,omitempty"`
	// Solver is t-SNE's gradient, "exact" or "barnes-hut" (embedmap.TSNEConfig.Solver), and
	// Angle Barnes-Hut's θ; absent for PCA, and in files written before Barnes-Hut.
	Solver   string    `json:"solver,omitempty"`
	Angle    float64   `json:"angle,omitempty"`
	Variance []float64 `json:"variance_share,omitempty"`
	// Trustworthiness is the map's at TrustNeighbours neighbours (embedmap.Trustworthiness: 1
	// when every neighbour on the map is one of the embeddings; about 0.5 at random); absent for
	// a map of too few images, and in files written before it was measured.
	Trustworthiness *float64 `json:"trustworthiness,omitempty"`
	TrustNeighbours int      `json:"trustworthiness_neighbours,omitempty"`
}

// Trust says the map's trustworthiness, as "trustworthiness 0.931 at 5 neighbours", or "" where
// it was not measured.
func (m *EmbeddingMap) Trust() string {
	if m.Trustworthiness == nil {
		return ""
	}
	return fmt.Sprintf("trustworthiness %.3f at %d neighbours", *m.Trustworthiness, m.TrustNeighbours)
}

// CrossValidation is a k-fold cross-validation: each fold's figures, and their mean and sample
// standard deviation over the folds (those of the probe without a probe, and kNN's without kNN,
// absent).
type CrossValidation struct {
	Folds               []Fold  `json:"folds"`
	LinearProbe         *MeanSD `json:"linear_probe,omitempty"`
	LinearProbeBalanced *MeanSD `json:"linear_probe_balanced,omitempty"`
	KNN                 *MeanSD `json:"knn,omitempty"`
	KNNBalanced         *MeanSD `json:"knn_balanced,omitempty"`
	// LinearProbeTop5 and KNNTop5 are the mean and sd of their top-5 accuracies (of more than 5
	// classes).
	LinearProbeTop5 *MeanSD `json:"linear_probe_top5,omitempty"`
	KNNTop5         *MeanSD `json:"knn_top5,omitempty"`
}

// Fold is one fold of a cross-validation: its test images and their accuracies, of the probe and
// kNN trained on the other folds' images.
type Fold struct {
	TestImages          int      `json:"test_images"`
	LinearProbe         *float64 `json:"linear_probe,omitempty"`
	LinearProbeBalanced *float64 `json:"linear_probe_balanced,omitempty"`
	KNN                 *float64 `json:"knn,omitempty"`
	KNNBalanced         *float64 `json:"knn_balanced,omitempty"`
	// LinearProbeTop5 and KNNTop5 are their top-5 accuracies (absent with 5 classes or fewer).
	LinearProbeTop5 *float64 `json:"linear_probe_top5,omitempty"`
	KNNTop5         *float64 `json:"knn_top5,omitempty"`
}

// MeanSD is a mean over folds and its sample standard deviation (n-1 in the denominator).
type MeanSD struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
}

// Write writes r (a Pretrain, Finetune or Evaluate, or a pointer to one) to path as indented
// JSON, atomically: an existing file is replaced only by the complete new one.
func Write(path string, r any) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0)
}

// Read reads the result file at path: a *Pretrain, *Finetune or *Evaluate according to its
// "kind". A file written before kinds were recorded is a *Finetune when it has fine-tuning's
// "top1", a *Pretrain when it has pretraining's "linear_probe" (Kind is then filled in); any
// other JSON object without a kind (a run's config.json, say) is an error.
func Read(path string) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var head struct {
		Kind   string   `json:"kind"`
		Top1   *float64 `json:"top1"`
		Linear *float64 `json:"linear_probe"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%s: %w (want a result file: a run's %s or evaluate -result's)", path, err, File)
	}
	var r any
	switch {
	case head.Kind == "" && head.Top1 == nil && head.Linear == nil:
		return nil, fmt.Errorf("%s: not a result file: no \"kind\" (want a run's %s or evaluate -result's)", path, File)
	case head.Kind == KindPretrain || head.Kind == "" && head.Top1 == nil:
		r = &Pretrain{}
	case head.Kind == KindFinetune || head.Kind == "":
		r = &Finetune{}
	case head.Kind == KindEvaluate:
		r = &Evaluate{}
	default:
		return nil, fmt.Errorf("%s: unknown kind %q of result (want %s, %s or %s): written by a newer version?", path, head.Kind, KindPretrain, KindFinetune, KindEvaluate)
	}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// A file written before kinds were recorded reads with its kind filled in, and one written
	// before unmeasured accuracies were left out reads without its -1s.
	switch r := r.(type) {
	case *Pretrain:
		r.Kind = KindPretrain
		for _, p := range []**float64{&r.ProbeAcc, &r.Linear, &r.KNN, &r.PixelLinear, &r.RandomLinear} {
			*p = measured(*p)
		}
	case *Finetune:
		r.Kind = KindFinetune
		r.Top1, r.Top5 = measured(r.Top1), measured(r.Top5)
	}
	return r, nil
}

// measured is acc, or nil for the -1 of a file that recorded an accuracy not measured that way.
func measured(acc *float64) *float64 {
	if acc != nil && *acc < 0 {
		return nil
	}
	return acc
}

// Acc is a pointer to a measured accuracy, for the fields of Pretrain and Finetune.
func Acc(v float64) *float64 { return &v }

// ReadAs reads the result file at path (Read) as a T: Pretrain, Finetune or Evaluate. A file of
// another kind is an error that says which kind it holds.
func ReadAs[T Pretrain | Finetune | Evaluate](path string) (*T, error) {
	r, err := Read(path)
	if err != nil {
		return nil, err
	}
	if t, ok := r.(*T); ok {
		return t, nil
	}
	return nil, fmt.Errorf("%s holds a %s result, not a %s one", path, kindOf(r), kindOf(new(T)))
}

// kindOf is the kind of a *Pretrain, *Finetune or *Evaluate.
func kindOf(r any) string {
	switch r.(type) {
	case *Pretrain:
		return KindPretrain
	case *Finetune:
		return KindFinetune
	case *Evaluate:
		return KindEvaluate
	}
	return fmt.Sprintf("%T", r)
}
