package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// Result is what -result holds: one evaluation on frozen features, in the conventions of the
// runs' result.json (trainer.Result, finetune.Result): snake_case keys, accuracies as fractions
// in [0, 1], durations in nanoseconds. What was not measured is absent, never -1: the probe's
// keys without a probe (-probe-epochs 0), kNN's without kNN (-knn-k 0), the image counts when
// nothing was scored, the bad-image counts unless bad images were skipped, the step for an
// exported encoder.
type Result struct {
	// Kind is "evaluate", which tells this file from the runs' result.json (trainer.ResultKind,
	// finetune.ResultKind).
	Kind string `json:"kind"`
	// Checkpoint is the file the encoder was loaded from (for a run folder, its newest valid
	// checkpoint) and Step its training step (absent for an exported encoder).
	Checkpoint string `json:"checkpoint"`
	Step       *int64 `json:"step,omitempty"`
	// Dataset and DataDir are where the images came from (DataDir resolved as the data set
	// opened it; absent for the generated synthetic set).
	Dataset string `json:"dataset"`
	DataDir string `json:"data_dir,omitempty"`
	// TrainImages is the number of training images the probe and kNN used (TrainPercent% of the
	// split's images that were embedded), TestImages the number of test images scored.
	TrainImages  *int    `json:"train_images,omitempty"`
	TrainPercent float64 `json:"train_percent,omitempty"`
	TestImages   *int    `json:"test_images,omitempty"`
	// TrainBadImages and TestBadImages count the images left out because they did not decode:
	// present (0 or more) when bad images were skipped (-skip-bad-images, or the encoder's run
	// skipped them), absent otherwise (a bad image then stops the command).
	TrainBadImages *int `json:"train_bad_images,omitempty"`
	TestBadImages  *int `json:"test_bad_images,omitempty"`
	// ViewSize is the side of the images the encoder saw (absent when nothing was embedded).
	ViewSize int `json:"view_size,omitempty"`
	// LinearProbe is the linear probe's test top-1 accuracy after ProbeEpochs epochs,
	// LinearProbeTrain its accuracy on its training images.
	LinearProbe      *float64 `json:"linear_probe,omitempty"`
	LinearProbeTrain *float64 `json:"linear_probe_train,omitempty"`
	ProbeEpochs      int      `json:"probe_epochs,omitempty"`
	// KNN is the kNN classifier's test top-1 accuracy with KNNK neighbours at temperature KNNT.
	KNN  *float64 `json:"knn,omitempty"`
	KNNK int      `json:"knn_k,omitempty"`
	KNNT float64  `json:"knn_t,omitempty"`
	// Embeddings is the file -embeddings wrote, with the EmbeddingsImages images of the split
	// EmbeddingsSplit (absent without -embeddings).
	Embeddings       string `json:"embeddings,omitempty"`
	EmbeddingsSplit  string `json:"embeddings_split,omitempty"`
	EmbeddingsImages *int   `json:"embeddings_images,omitempty"`
	// Seed is -seed (the label subset and the probe's initialisation and data order).
	Seed uint64 `json:"seed"`
	// Backend is the GoMLX backend that computed the features, as GOMLX_BACKEND chose it
	// (backend.Config: "xla:cpu", "xla:cuda", "go").
	Backend string `json:"backend"`
	// Wall is the command's wall time up to the result, from the start of the backend on.
	Wall time.Duration `json:"wall_ns"`
	// Date is when the evaluation started, UTC, RFC 3339.
	Date string `json:"date"`
}

// write writes r to path as indented JSON, atomically: an existing file is replaced only by the
// complete new one.
func (r *Result) write(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0)
}

// checkOutputPath returns what is wrong with the path that flag names, a file the command will
// write (its folder does not exist or cannot be written, or the path is a folder), or "": checked
// before any work, so that a bad path does not cost an evaluation. example is a file name to
// suggest when path is a folder. It writes and removes a temporary file beside path, named as
// atomicfile names its own.
func checkOutputPath(flag, path, example string) string {
	if info, err := os.Stat(path); strings.HasSuffix(path, string(filepath.Separator)) || err == nil && info.IsDir() {
		return fmt.Sprintf("%s: %s is a folder: give a file name, such as %s", flag, path, filepath.Join(path, example))
	}
	if err := atomicfile.CheckWritable(path); err != nil {
		return flag + ": " + err.Error()
	}
	return ""
}
