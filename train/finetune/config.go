// Package finetune trains a pretrained encoder further on labels, as the official VICReg
// evaluate.py does: a linear classifier on the encoder, trained with the encoder frozen
// (Weights "freeze": batch norm in evaluation mode, the official linear evaluation) or together
// with it (Weights "finetune": batch norm in training mode), on all or a class-balanced fraction of
// the labelled training images (TrainPercent, the semi-supervised protocol), with SGD with momentum
// 0.9, separate learning rates for the encoder and the head, weight decay and a cosine schedule.
//
// A fine-tuning run is a training run: it uses the trainer's Loop (progress, metrics.jsonl,
// checkpoints with exact resume, interruption, non-finite checks) and the checkpoint manager, and
// its checkpoints load back with encoder.Load. A finished run draws its metrics beside them
// (metrics.svg and metrics.png). Run from a randomly initialised encoder
// (Scratch), the same procedure is supervised training from scratch: the baseline that measures
// what pretraining gives.
package finetune

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// Weights modes (Config.Weights), named as evaluate.py's --weights.
const (
	Freeze   = "freeze"   // train the classifier only; the encoder is fixed, batch norm in evaluation mode
	Finetune = "finetune" // train encoder and classifier together, batch norm in training mode
)

// HeadScope is the context scope of the classifier's variables.
const HeadScope = "head"

// Config is a fine-tuning run. Fields tagged `config:"local"` may change on resume; the others
// may not.
type Config struct {
	// Encoder is the configuration of the run that pretrained the encoder (its architecture,
	// precision and data set); EncoderSHA256 fingerprints the initial weights (empty with Scratch).
	Encoder       config.Config `json:"encoder"`
	EncoderSHA256 string        `json:"encoder_sha256"`
	// Source is where the encoder was loaded from.
	Source string `json:"source" config:"local"`
	// Scratch starts from a randomly initialised encoder (seeded with Seed) instead.
	Scratch bool `json:"scratch"`

	// Dataset is the labelled data set (default: the encoder's), DataDir where it lives.
	Dataset string `json:"dataset"`
	DataDir string `json:"data_dir" config:"local"`
	// LabelColumn is the column of labels in an image folder's metadata table ("": "label", when
	// the table has it; see datasets.Folder).
	LabelColumn string `json:"label_column"`
	// LabelTable is a table of labels outside the image folder ("": none; see datasets.FolderLabels).
	LabelTable string `json:"label_table" config:"local"`
	// ClassNames is a class list for shards ("": none; see datasets.Options.ClassNames).
	ClassNames string `json:"class_names" config:"local"`
	// ValPercent is the percentage of an image folder's training images held out as its test
	// split (0: none; see datasets.Options.ValPercent).
	ValPercent float64 `json:"val_percent"`
	// SplitColumn is the column of an image folder's label table that assigns each image to a
	// split ("": none; see datasets.FolderLabels.SplitColumn).
	SplitColumn string `json:"split_column"`
	// TestSplit is the held-out split scored: "" for val/ (or else test/), "test" for test/ alone
	// (see datasets.Options.TestSplit).
	TestSplit string `json:"test_split,omitempty"`
	// ShardCache is a folder that keeps remote shards once downloaded ("": none).
	ShardCache string `json:"shard_cache" config:"local"`
	// Weights is Freeze or Finetune.
	Weights string `json:"weights"`
	// TrainPercent is the percentage of the training labels used, in (0, 100]: a class-balanced
	// subset fixed by Seed, nested across percentages (datasets.LabelFraction).
	TrainPercent float64 `json:"train_percent"`
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	// LRBackbone and LRHead are the peak learning rates of the encoder and the classifier (no
	// scaling with the batch size, as evaluate.py); both follow one cosine schedule.
	LRBackbone  float64 `json:"lr_backbone"`
	LRHead      float64 `json:"lr_head"`
	WeightDecay float64 `json:"weight_decay"`
	Momentum    float64 `json:"momentum"`
	// Augment is the supervised training augmentation: "crop-flip" (RandomResizedCrop scale
	// 0.08-1 and a horizontal flip, evaluate.py's), "mnist" (a zoom and shift: crop
	// scale 0.6-1, aspect 0.8-1.25, no flip, no colour) or "none".
	Augment string `json:"augment"`
	Seed    uint64 `json:"seed"`
	// ClassWeight weights the classifier's loss by class: "" none, or "balanced", each image's
	// loss by its class's inverse frequency among the training images, N/(C·n_c)
	// (eval.ClassWeights), the weighted mean over a batch divided by its sum of weights, as
	// PyTorch's CrossEntropyLoss(weight=...): for imbalanced classes. It needs the training labels
	// beforehand: an in-memory data set or an image folder.
	ClassWeight string `json:"class_weight,omitempty"`

	CheckpointDir string `json:"checkpoint_dir" config:"local"`
	// CheckpointMirror is a bucket folder (s3://BUCKET/PREFIX/, gs://...) that keeps a copy of
	// CheckpointDir, as pretraining's -checkpoint-mirror: resuming, its newer checkpoints are
	// restored first (the run moved to another machine).
	CheckpointMirror string `json:"checkpoint_mirror" config:"local"`
	KeepLast         int    `json:"keep" config:"local"`
	Resume           bool   `json:"resume" config:"local"`
	// Predictions, when set, is a CSV file where the run, once trained (or resumed after its last
	// step), writes the classifier's prediction of each test image, or of each image of the
	// folder Predict (eval.WritePredictions). Neither is recorded: they do not change the run.
	Predictions string `json:"-"`
	Predict     string `json:"-"`
	// Probabilities adds each class's probability to the predictions (eval.Predictions).
	Probabilities bool `json:"-"`
	LogEvery      int  `json:"log_every" config:"local"`
	Workers       int  `json:"workers" config:"local"`
	// SkipBadImages replaces training images that do not decode and leaves them out of the
	// evaluation (logged by name) instead of stopping.
	SkipBadImages bool   `json:"skip_bad_images" config:"local"`
	EvalSubset    int    `json:"eval_subset" config:"local"`
	ExportEncoder string `json:"export_encoder" config:"local"`
	// LastBatch is true in Defaults and for every run Run starts: each epoch ends with the
	// partial batch of the images left over and the cosine schedule steps once an epoch, as
	// evaluate.py. Runs saved before it was recorded dropped that batch and stepped the schedule
	// every batch: they cannot be continued exactly, and -resume refuses them.
	LastBatch bool `json:"last_partial_batch"`
	// FitBatch lets a BatchSize larger than the training images (a default one, not one the
	// user asked for) shrink to all of them, one step per epoch, logged; without it such a
	// batch is refused. The size used is the one recorded.
	FitBatch bool `json:"-"`
}

// Augmentations lists the accepted values of Config.Augment.
var Augmentations = []string{"crop-flip", "mnist", "none"}

// Defaults returns the official evaluate.py settings for a mode and label percentage (its README's
// commands), with fewer epochs where the official number would take hours on a CPU:
//
//	freeze, any %:   lr-head 0.02, weight decay 1e-6, 100 epochs officially; 10 here
//	finetune, 1%:    lr-backbone 0.03, lr-head 0.08, weight decay 0, 20 epochs
//	finetune, 10%:   lr-backbone 0.01, lr-head 0.1,  weight decay 0, 20 epochs
//	finetune, 100%:  the 10% settings (the official README gives none), 10 epochs
//
// Batch 256, momentum 0.9. The 1% and 10% runs keep 20 epochs: they see few images per epoch.
func Defaults(weights string, percent float64) Config {
	c := Config{Weights: weights, TrainPercent: percent, BatchSize: 256, Momentum: 0.9, KeepLast: 2, LogEvery: 10, LastBatch: true}
	switch {
	case weights == Freeze:
		c.Epochs, c.LRHead, c.WeightDecay = 10, 0.02, 1e-6
	case percent <= 1:
		c.Epochs, c.LRBackbone, c.LRHead = 20, 0.03, 0.08
	case percent <= 10:
		c.Epochs, c.LRBackbone, c.LRHead = 20, 0.01, 0.1
	default:
		c.Epochs, c.LRBackbone, c.LRHead = 10, 0.01, 0.1
	}
	return c
}

// Validate returns a *config.FieldError naming the flag of the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Weights != Freeze && c.Weights != Finetune:
		return config.Errorf("weights", "unknown mode %q: use %s or %s", c.Weights, Freeze, Finetune)
	case !(c.TrainPercent > 0 && c.TrainPercent <= 100):
		return config.Errorf("train-percent", "want a percentage in (0, 100], got %g", c.TrainPercent)
	case c.Epochs < 1:
		return config.Errorf("epochs", "must be >= 1, got %d", c.Epochs)
	case c.BatchSize < 2:
		return config.Errorf("batch-size", "must be at least 2 (batch norm needs two samples), got %d", c.BatchSize)
	case !(c.LRBackbone >= 0) || math.IsInf(c.LRBackbone, 0) || (c.Weights == Finetune && c.LRBackbone == 0):
		return config.Errorf("lr-backbone", "must be a number > 0 when fine-tuning (>= 0 frozen), got %g", c.LRBackbone)
	case !(c.LRHead > 0) || math.IsInf(c.LRHead, 0):
		return config.Errorf("lr-head", "must be a number > 0, got %g", c.LRHead)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return config.Errorf("wd", "must be a number >= 0, got %g", c.WeightDecay)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return config.Errorf("momentum", "must be in [0, 1), got %g", c.Momentum)
	case c.ClassWeight != "" && c.ClassWeight != "balanced":
		return config.Errorf("class-weight", "unknown weighting %q: use balanced, or give none", c.ClassWeight)
	case !contains(Augmentations, c.Augment):
		return config.Errorf("augment", "unknown augmentation %q: use one of %s", c.Augment, strings.Join(Augmentations, ", "))
	case c.CheckpointDir == "":
		return config.Errorf("checkpoint-dir", "must not be empty")
	case !utf8.ValidString(c.DataDir):
		return config.Errorf("data-dir", "%s", config.NotUTF8(c.DataDir))
	case !utf8.ValidString(c.CheckpointDir):
		return config.Errorf("checkpoint-dir", "%s", config.NotUTF8(c.CheckpointDir))
	case config.CheckMirror(c.CheckpointMirror) != nil:
		return config.CheckMirror(c.CheckpointMirror)
	case strings.EqualFold(c.Dataset, "folder") && c.DataDir != "" && datasets.Within(c.CheckpointDir, c.DataDir):
		return config.Errorf("checkpoint-dir", "%s is inside the image folder -data-dir %s, where its checkpoints and figures would be read as images (or as a class): choose a folder outside it", c.CheckpointDir, c.DataDir)
	case c.KeepLast < 1:
		return config.Errorf("keep", "must keep at least 1 checkpoint")
	case c.LogEvery < 1:
		return config.Errorf("log-every", "must be >= 1")
	case c.EvalSubset < 0:
		return config.Errorf("eval-subset", "must be >= 0")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// JSON is the configuration as stored in the run's checkpoints.
func (c Config) JSON() json.RawMessage {
	data, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return data
}

// storedJSON is the configuration without its local fields (nor the encoder's), for comparing
// runs on resume.
func (c Config) storedJSON() json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(c.JSON(), &m); err != nil {
		panic(err)
	}
	t := reflect.TypeOf(c)
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("config") == "local" {
			delete(m, strings.Split(f.Tag.Get("json"), ",")[0])
		}
	}
	m["encoder"] = c.Encoder.StoredJSON()
	data, _ := json.Marshal(m)
	return data
}

// earlierVersion is why a run saved before LastBatch was recorded cannot be resumed, neither
// continued nor, finished, measured again.
const earlierVersion = "the run was saved by an earlier version, whose epochs left out the last partial batch and whose cosine schedule stepped every batch (now: every image each epoch, one step of the schedule an epoch, as evaluate.py): -resume can neither continue it exactly nor, if it finished, measure it again (its result.json keeps the accuracies it measured); start it again with another -checkpoint-dir (the saved checkpoints stay as they are)"

// diff lists how a saved configuration differs from c (local fields aside).
func (c Config) diff(saved json.RawMessage) []string {
	var old Config
	if err := json.Unmarshal(saved, &old); err != nil {
		return []string{fmt.Sprintf("the saved configuration cannot be read: %v", err)}
	}
	if c.LastBatch && !old.LastBatch {
		return []string{earlierVersion}
	}
	return checkpoints.DiffConfig(old.storedJSON(), c.storedJSON())
}
