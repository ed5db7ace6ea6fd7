// Package config is the one configuration of a pretraining run: its fields (stored in every
// checkpoint and exported encoder, read back by the trainer, the evaluation and the analysis),
// the named presets, the command-line flags, configuration files, and the Plan that a valid
// configuration builds (the objective, the expander, the optimiser).
//
// Fields tagged `config:"local"` say where and how a run executes (folders, workers, logging,
// evaluation settings) but not what it computes: a resumed run may change them. Every other field
// changes the computation, and a resume with another value of any of them is refused.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"reflect"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/gomlx-ssl/vicreg/internal/flagargs"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
)

// Config is everything that defines a pretraining run.
type Config struct {
	Dataset string `json:"dataset"`
	// DataDir is where the data lives (for "folder" and "shards", the images themselves).
	DataDir string `json:"data_dir" config:"local"`
	Augment string `json:"augment"`
	// Subset trains on the first Subset training images only (0: all).
	Subset int `json:"subset"`
	// Validation holds out the last Validation training images: training uses the others, and
	// every evaluation (online probe, kNN, final probe) uses the held-out ones instead of the test
	// split, so that a recipe can be chosen without looking at the test set. 0: no hold-out.
	Validation int `json:"validation"`
	// ValPercent holds out this percentage of an image folder's training images (each class's,
	// chosen by their paths: the same images in every run) as its test split, for a folder
	// without a val/ folder: training, the evaluations and every later command read the split so.
	// 0: none. See datasets.Options.ValPercent.
	ValPercent float64 `json:"val_percent"`
	// SplitColumn is a column of an image folder's label table that assigns each image to a
	// split, in place of a val/ folder: "COLUMN" (values train, val or test, or true/false:
	// fastai's is_valid) or "COLUMN=VALUE" (VALUE marks the held-out images: a fold). "": none.
	// See datasets.FolderLabels.SplitColumn.
	SplitColumn string `json:"split_column"`
	// ImageSize is the side of the training and evaluation views in pixels (0: the preset's, or
	// the data set's own for sets of one size). Folders and shards need one.
	ImageSize int `json:"image_size"`
	// CropScale, "MIN,MAX", overrides the augmentation's random-resized-crop area range
	// (fractions of the image area; "" keeps the preset's).
	CropScale string `json:"crop_scale"`
	// ShuffleBuffer is the number of samples held to shuffle tar shards (0: 1000).
	ShuffleBuffer int `json:"shuffle_buffer"`
	// ReducedDecode decodes JPEGs at 1/2, 1/4 or 1/8 of their size when the crops allow it
	// (libjpeg's DCT scaling, PIL's draft mode): faster for small views, slightly other pixels.
	ReducedDecode bool `json:"reduced_decode"`
	// ExifOrientation turns the images of image folders and shards upright as their EXIF data says
	// (PIL's ImageOps.exif_transpose), in training and in every evaluation and analysis of the
	// run; false reads them as torchvision's ImageFolder does (as stored, but for a TIFF's
	// Orientation tag).
	ExifOrientation bool `json:"exif_orientation"`
	// LabelColumn is the column of an image folder's metadata.csv or metadata.jsonl that holds
	// the labels ("": "label", when the table has it); see datasets.Folder. Of shards, the member
	// of each sample that holds its class ("": .cls; datasets.ParseShardLabel).
	LabelColumn string `json:"label_column"`
	// LabelTable is a CSV (or JSON Lines) table of labels outside the image folder, as Kaggle
	// ships one ("": none); see datasets.FolderLabels. Like DataDir, it says where the run's files
	// are.
	LabelTable string `json:"label_table" config:"local"`
	// ClassNames is a class list for shards (a file or URL: one name a line, in the order of the
	// class indices), in place of the list beside the shards or in their index ("": none); see
	// datasets.Options.ClassNames. Like DataDir, it says where the run's files are.
	ClassNames string `json:"class_names" config:"local"`
	// SkipBadImages replaces images that do not decode (logged by name; "bad_images" in the
	// metrics, images replaced per step) instead of stopping; the replacement is the same on resume.
	SkipBadImages bool `json:"skip_bad_images" config:"local"`
	// Workers is the number of data goroutines; results do not depend on it.
	Workers int `json:"workers" config:"local"`
	// ShardReadAhead is the number of remote shards downloaded at once, ahead of the one read
	// (0: datasets.DefaultReadAhead; -1: none); results do not depend on it.
	ShardReadAhead int `json:"shard_read_ahead" config:"local"`
	// ShardCache is a folder that keeps remote shards once downloaded ("": none).
	ShardCache string `json:"shard_cache" config:"local"`
	// ShardCacheSize sets the size limit of the ShardCache folder ("200GB"; "0": none), kept in
	// the folder for every later use; "" leaves the folder's limit as it is.
	ShardCacheSize string `json:"shard_cache_size" config:"local"`
	Seed           uint64 `json:"seed"`

	Model    models.Config `json:"model"`
	Expander string        `json:"expander"`

	Loss       string        `json:"loss"`
	LossParams losses.Params `json:"loss_params"`

	Epochs       int     `json:"epochs"`
	Steps        int64   `json:"steps"` // when > 0, overrides Epochs
	BatchSize    int     `json:"batch_size"`
	LR           float64 `json:"lr"` // base learning rate, for a batch of 256
	WeightDecay  float64 `json:"weight_decay"`
	Optimizer    string  `json:"optimizer"`
	Momentum     float64 `json:"momentum"`
	Eta          float64 `json:"eta"`
	Clip         bool    `json:"lars_clip"`
	WarmupEpochs float64 `json:"warmup_epochs"`
	ProbeLR      float64 `json:"probe_lr"`

	// Devices is the number of devices the training step is split over (data parallel). Local:
	// results equal one device's up to float32 rounding, so a run may resume on another number.
	Devices int `json:"devices" config:"local"`
	// Precision is the compute precision, one of Precisions.
	Precision string `json:"precision"`

	CheckpointDir string `json:"checkpoint_dir" config:"local"`
	// CheckpointMirror is a bucket folder (s3://BUCKET/PREFIX/, gs://...) that keeps a copy of
	// CheckpointDir, restored from with -resume ("": none).
	CheckpointMirror string  `json:"checkpoint_mirror" config:"local"`
	KeepLast         int     `json:"keep" config:"local"`
	CheckpointEvery  int     `json:"checkpoint_every" config:"local"` // steps between checkpoints (0: every epoch end)
	Resume           bool    `json:"resume" config:"local"`
	MetricsFile      string  `json:"metrics" config:"local"`
	LogEvery         int     `json:"log_every" config:"local"`  // steps between metric lines
	EvalEvery        int     `json:"eval_every" config:"local"` // epochs between kNN evaluations (0: only at the end)
	KNNK             int     `json:"knn_k" config:"local"`
	KNNTemperature   float64 `json:"knn_t" config:"local"`
	ProbeEpochs      int     `json:"probe_epochs" config:"local"`
	// ProbeClassWeight weights the training images of the final evaluation's linear probes by
	// class: "" none, or "balanced" (eval.ProbeConfig.Balanced: each class's images by its inverse
	// frequency, so that every class counts alike).
	ProbeClassWeight string `json:"probe_class_weight" config:"local"`
	Baselines        bool   `json:"baselines" config:"local"` // also probe raw pixels and a random encoder
	// LowLabel lists label percentages (in (0, 100)) at which the final evaluation also trains
	// the linear probe and kNN on a class-balanced subset of the training labels (1 and 10 are
	// the VICReg paper's semi-supervised budgets); the subsets are nested and fixed by Seed.
	LowLabel []float64 `json:"low_label" config:"local"`
	// MapPoints is the most held-out images that the final evaluation lays out on a t-SNE map of
	// the encoder's embeddings, drawn to the run's map.svg and map.png, the coordinates in
	// map.csv (0: no map).
	MapPoints     int    `json:"map_points" config:"local"`
	EvalSubset    int    `json:"eval_subset" config:"local"` // evaluate on the first EvalSubset images (0: all)
	ExportEncoder string `json:"export_encoder" config:"local"`
	OnNonFinite   string `json:"on_nonfinite" config:"local"` // OnNonFiniteStop or OnNonFiniteRollback
}

// What a run does when a loss term or a variable becomes NaN or infinite (Config.OnNonFinite).
const (
	OnNonFiniteStop     = "stop"     // stop with an error; nothing non-finite is saved
	OnNonFiniteRollback = "rollback" // restore the newest checkpoint and go on (a bounded number of times)
)

// Precisions are the accepted values of Config.Precision: "f32" computes in float32; "bf16" is
// mixed precision: the encoder's and expander's convolutions and matrix products run in bfloat16
// on float32 master weights, while batch-norm statistics, every loss reduction, the online probe,
// the gradients' accumulation and the optimiser state stay float32.
var Precisions = []string{"f32", "bf16"}

// PrecisionDType returns the compute dtype of a precision name ("" is "f32").
func PrecisionDType(precision string) (dtypes.DType, error) {
	switch precision {
	case "", "f32":
		return dtypes.Float32, nil
	case "bf16":
		return dtypes.BFloat16, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("unknown precision %q: use one of %s", precision, strings.Join(Precisions, ", "))
}

// JSON returns the whole configuration as JSON: what checkpoints store and what a configuration
// file (-config) holds.
func (c Config) JSON() json.RawMessage {
	data, err := json.Marshal(c)
	if err != nil {
		panic(err) // Config holds only plain values.
	}
	return data
}

// Stored returns the configuration with every local field zeroed: two runs compute the same
// thing exactly when their Stored configurations are equal.
func (c Config) Stored() Config {
	v := reflect.ValueOf(&c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("config") == "local" {
			v.Field(i).SetZero()
		}
	}
	return c
}

// StoredJSON is Stored as JSON without the local fields' keys, for comparing runs.
func (c Config) StoredJSON() json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(c.JSON(), &m); err != nil {
		panic(err)
	}
	t := reflect.TypeOf(c)
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("config") == "local" {
			delete(m, strings.Split(f.Tag.Get("json"), ",")[0])
		}
	}
	data, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return data
}

// Parse reads a configuration stored by JSON (in a checkpoint, an exported encoder or a
// configuration file). Keys it does not know are an error naming them (a *FieldError whose Flag
// is "config"); keys it lacks keep the values of base.
func Parse(data []byte, base Config) (Config, error) {
	c := base
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		msg := err.Error()
		if _, key, ok := strings.Cut(msg, "json: unknown field "); ok {
			return c, &FieldError{Flag: "config", Msg: unknownKeyMessage(strings.Trim(key, `"`))}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return c, &FieldError{Flag: "config", Msg: fmt.Sprintf("key %q: %s where %s is wanted", te.Field, jsonKindOfValue(te.Value), jsonKindOfType(te.Type))}
		}
		return c, &FieldError{Flag: "config", Msg: "not a valid configuration: " + msg}
	}
	if dec.More() {
		return c, &FieldError{Flag: "config", Msg: "trailing data after the configuration object"}
	}
	return c, nil
}

// A Key is one key of a configuration file: its dotted path ("model.width",
// "loss_params.Lambda") and the flag that sets it ("" for none).
type Key struct {
	Path, Flag string
}

// Keys lists every key of a configuration file (the leaves of Config's JSON form), each with the
// command-line flag that sets it. A run's config.json holds them all.
func Keys() []Key {
	c := Default()
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	c.BindFlags(fs)
	flagAt := map[uintptr]string{} // a field's address -> the flag bound to it
	fs.VisitAll(func(f *flag.Flag) {
		if v := reflect.ValueOf(f.Value); v.Kind() == reflect.Pointer {
			flagAt[v.Pointer()] = f.Name
		}
	})
	var keys []Key
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			name := t.Field(i).Name
			if tag := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]; tag != "" {
				name = tag
			}
			if f := v.Field(i); f.Kind() == reflect.Struct {
				walk(f, prefix+name+".")
			} else {
				keys = append(keys, Key{Path: prefix + name, Flag: flagAt[f.Addr().Pointer()]})
			}
		}
	}
	walk(reflect.ValueOf(&c).Elem(), "")
	return keys
}

// unknownKeyMessage says what an unknown key of a configuration file probably meant: the key of
// the flag of that name (-wd is "weight_decay"), or the nearest key by spelling.
func unknownKeyMessage(key string) string {
	const hint = "a run's " + FileName + " lists every key"
	keys := Keys()
	flagName := strings.ReplaceAll(key, "_", "-")
	for _, k := range keys {
		if k.Flag == flagName {
			return fmt.Sprintf("unknown key %q: the flag -%s is the key %s; %s", key, k.Flag, nested(k.Path), hint)
		}
	}
	leaves := make([]string, len(keys))
	for i, k := range keys {
		leaves[i] = k.Path[strings.LastIndex(k.Path, ".")+1:]
	}
	if i := flagargs.Nearest(key, leaves); i >= 0 {
		best := keys[i].Path
		return fmt.Sprintf("unknown key %q: did you mean %s? %s", key, nested(best), hint)
	}
	return fmt.Sprintf("unknown key %q: %s", key, hint)
}

// nested writes a dotted key as it appears in the file: "weight_decay", or "Lambda" inside
// "loss_params".
func nested(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		return fmt.Sprintf("%q inside %q", path[i+1:], path[:i])
	}
	return fmt.Sprintf("%q", path)
}

// jsonKindOfValue names a JSON value as encoding/json's UnmarshalTypeError.Value does ("string",
// "number", "bool", "array", "object"), with its article.
func jsonKindOfValue(v string) string {
	switch {
	case v == "array" || v == "object":
		return "an " + v
	case strings.HasPrefix(v, "number"):
		return "a number"
	case v == "bool":
		return "true or false"
	}
	return "a " + v
}

// jsonKindOfType names what a Go type is written as in JSON, with its article.
func jsonKindOfType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}
