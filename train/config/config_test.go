package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/datasets"
)

func parse(args ...string) (Config, error) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return ParseFlags(fs, args)
}

func TestParseFlagsDefaultsAndOverrides(t *testing.T) {
	c, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	if want.CheckpointDir, err = filepath.Abs(want.CheckpointDir); err != nil {
		t.Fatal(err)
	}
	if string(c.JSON()) != string(want.JSON()) {
		t.Errorf("no flags: got %s, want the mnist preset (its folder absolute) %s", c.JSON(), want.JSON())
	}
	c, err = parse("-preset", "cifar10", "-epochs", "7", "-lr=0.5")
	if err != nil {
		t.Fatal(err)
	}
	if c.Dataset != "cifar10" || c.Epochs != 7 || c.LR != 0.5 || c.Expander != "2048-2048-2048" || c.Model.Width != 64 {
		t.Errorf("-preset cifar10 -epochs 7 -lr=0.5: got %+v", c)
	}
	// -dataset sets the encoder's channels to the data set's, unless -channels is given; also with
	// -resume, so that the command that started a run, with -resume added, continues it (the
	// channels are not read from the run: with the preset's they were refused).
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"-dataset", "folder"}, 3},
		{[]string{"-dataset", "cifar10"}, 3},
		{[]string{"-preset", "cifar10", "-dataset", "mnist"}, 1},
		{[]string{"-dataset", "folder", "-channels", "1"}, 1},
		{[]string{"-channels", "1", "-dataset", "folder"}, 1},
		{[]string{"-preset", "cifar10"}, 3},
		{[]string{"-dataset", "folder", "-resume"}, 3},
		{[]string{"-dataset", "folder", "-channels", "1", "-resume"}, 1},
	} {
		c, err := parse(tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if c.Model.InChannels != tc.want {
			t.Errorf("%v: %d channels, want %d", tc.args, c.Model.InChannels, tc.want)
		}
	}
}

func TestBadFlagsAreFieldErrorsNamingTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
		want string // in the message
	}{
		{[]string{"-dataset", "imagenet21k"}, "dataset", "unknown data set"},
		{[]string{"-model", "vgg"}, "model", "vgg"},
		{[]string{"-stem", "cifar10"}, "stem", `unknown stem "cifar10"`},
		{[]string{"-width", "0"}, "width", "got 0"},
		{[]string{"-channels", "2"}, "channels", "got 2"},
		{[]string{"-lr", "-1"}, "lr", "got -1"}, // what was typed, not the batch-scaled peak
		{[]string{"-workers", "-1"}, "workers", "got -1"},
		{[]string{"-expander", "12-x"}, "expander", "12-x"},
		{[]string{"-loss", "byol"}, "loss", "byol"},
		{[]string{"-batch-size", "1"}, "batch-size", "at least 2"},
		{[]string{"-optimizer", "adagrad"}, "optimizer", "adagrad"},
		{[]string{"-eta", "0"}, "eta", "eta"},
		{[]string{"-momentum", "1.5"}, "momentum", "momentum"},
		{[]string{"-wd", "-1"}, "wd", "weight decay"},
		{[]string{"-preset", "nope"}, "preset", "nope"},
		{[]string{"-epochs", "0"}, "epochs", "> 0"},
		{[]string{"-on-nonfinite", "retry"}, "on-nonfinite", "retry"},
		{[]string{"-validation", "-3"}, "validation", ">= 0"},
		{[]string{"-shard-read-ahead", "-2"}, "shard-read-ahead", "got -2"},
		{[]string{"-shard-cache", "/c", "-shard-cache-size", "12X"}, "shard-cache-size", `size "12X": not a size (write one such as 200GB`},
		{[]string{"-shard-cache-size", "1GB"}, "shard-cache-size", "give its folder with -shard-cache"},
		{[]string{"-devices", "0"}, "devices", "must be >= 1"},
		{[]string{"-devices", "3"}, "devices", "3 devices do not divide the batch of 256"},
		{[]string{"-devices", "4", "-batch-size", "6"}, "devices", "4 devices do not divide the batch of 6"},
		{[]string{"-precision", "fp8"}, "precision", `unknown precision "fp8": use one of f32, bf16`},
		{[]string{"-preset", "mnist", "-config", "x.json"}, "config", "not both"},
		{[]string{"-exif-orientation"}, "exif-orientation", "turns the images of image folders and shards (-dataset folder or shards); mnist has no EXIF data"},
		{[]string{"-label-column", "breed"}, "label-column", "names the column of labels in an image folder's metadata table (-dataset folder), or the member of shards that holds the classes (-dataset shards); mnist has its own labels"},
		{[]string{"-dataset", "shards", "-label-column", "jpg"}, "label-column", `"jpg" is an image member's extension`},
		{[]string{"-label-table", "train.csv"}, "label-table", "labels an image folder (-dataset folder); mnist has its own labels"},
		{[]string{"-class-names", "synsets.txt"}, "class-names", "names the classes of shards (-dataset shards); mnist has its own classes"},
		{[]string{"-dataset", "shards", "-class-names", "synsets.txt", "-label-column", "None"}, "class-names", "names the classes of labels that -label-column none leaves unread"},
		{[]string{"-val-percent", "10"}, "val-percent", "holds out images of an image folder or shards (-dataset folder or shards); for mnist, use -validation N"},
		{[]string{"-dataset", "folder", "-val-percent", "100"}, "val-percent", "want a percentage in [0, 100) (0: none), got 100"},
		{[]string{"-dataset", "folder", "-val-percent", "NaN"}, "val-percent", "got NaN"},
		{[]string{"-split-column", "fold=1"}, "split-column", "names a column of an image folder's label table (-dataset folder); for mnist, use -validation N"},
		{[]string{"-dataset", "folder", "-split-column", "fold", "-val-percent", "10"}, "split-column", "and -val-percent both choose the held-out images"},
		{[]string{"-dataset", "folder", "-split-column", "fold="}, "split-column", `"fold=" gives no value after =`},
		{[]string{"-checkpoint-mirror", "/backups/run"}, "checkpoint-mirror", `"/backups/run" is not a bucket folder: give s3://BUCKET/PREFIX/ or gs://BUCKET/PREFIX/`},
		// Loss parameters name their flag, also those the chosen objective (vicreg) ignores.
		{[]string{"-lambda", "-1"}, "lambda", "must be a finite number >= 0, got -1"},
		{[]string{"-variance-convention", "foo"}, "variance-convention", `must be "sum" or "half", got "foo"`},
		{[]string{"-pair-distance", "foo"}, "pair-distance", `got "foo"`},
		{[]string{"-entropy-weight", "-1"}, "entropy-weight", "must be a finite number >= 0, got -1"},
		{[]string{"-temperature", "0"}, "temperature", "must be a finite number > 0, got 0"},
		{[]string{"-loss", "simclr", "-temperature", "0"}, "temperature", "must be a finite number > 0, got 0"},
		// NaN fails every comparison and +Inf passes "> 0": both are refused, naming the flag.
		{[]string{"-lambda", "+Inf"}, "lambda", "must be a finite number >= 0, got +Inf"},
		{[]string{"-loss", "simclr", "-temperature", "NaN"}, "temperature", "must be a finite number > 0, got NaN"},
		{[]string{"-warmup-epochs", "NaN"}, "warmup-epochs", "must be a number >= 0, got NaN"},
		{[]string{"-warmup-epochs", "+Inf"}, "warmup-epochs", "must be a number >= 0, got +Inf"},
		{[]string{"-knn-t", "NaN"}, "knn-t", "must be a number > 0, got NaN"},
		// eval.LinearProbe reads 0 epochs as its default, 30: accepted, 0 ran the 30-epoch probe
		// while config.json recorded 0 (evaluate's -probe-epochs 0 skips the probe).
		{[]string{"-probe-epochs", "0"}, "probe-epochs", "must be >= 1"},
		{[]string{"-probe-lr", "NaN"}, "probe-lr", "must be a number > 0, got NaN"},
		{[]string{"-class-weight", "inverse"}, "class-weight", `unknown weighting "inverse": use balanced, or give none`},
		{[]string{"-wd", "NaN"}, "wd", "weight decay"},
		// A run folder inside the image folder would be read as images, or as a class.
		{[]string{"-dataset", "folder", "-data-dir", "/data/photos", "-checkpoint-dir", "/data/photos/run"}, "checkpoint-dir",
			"/data/photos/run is inside the image folder -data-dir /data/photos"},
	} {
		_, err := parse(tc.args...)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Flag != tc.flag || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want a -%s error containing %q", tc.args, err, tc.flag, tc.want)
		}
	}
	// Every parameter's flag exists; Eps, which has none, is named by its key in -config's file.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var c Config
	c.BindFlags(fs)
	for field, name := range lossParamFlags {
		if fs.Lookup(name) == nil {
			t.Errorf("lossParamFlags: %s maps to -%s, which does not exist", field, name)
		}
	}
	bad := Default()
	bad.LossParams.Eps = 0
	if err := bad.Validate(); err == nil || err.Error() != "-config: loss_params.Eps must be a finite number > 0, got 0" {
		t.Errorf("Eps = 0: %v, want a -config error naming loss_params.Eps", err)
	}
	// A run started with such a value before it was refused can still be resumed.
	if _, err := parse("-temperature", "0", "-resume"); err != nil {
		t.Errorf("-resume of a vicreg run with -temperature 0: %v", err)
	}
	for _, ok := range [][]string{{"-devices", "2"}, {"-precision", "bf16"}, {"-validation", "10000"}, {"-shard-cache", "/c", "-shard-cache-size", "1.5TiB"}} {
		if _, err := parse(ok...); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}

// The file a run writes beside its checkpoints reproduces the configuration exactly, flags given
// with it override it, and an unknown key is an error naming it.
func TestConfigFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	orig, err := parse("-preset", "cifar100", "-epochs", "3", "-seed", "7", "-width", "16", "-checkpoint-dir", "runs/x", "-workers", "3", "-loss", "vicreg-logdet", "-beta", "0.5", "-sigma", "auto")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, orig.JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := parse("-config", path)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.JSON()) != string(orig.JSON()) {
		t.Errorf("-config of the written file:\n got %s\nwant %s", again.JSON(), orig.JSON())
	}
	over, err := parse("-config", path, "-epochs", "9", "-lr", "0.25")
	if err != nil {
		t.Fatal(err)
	}
	want := orig
	want.Epochs, want.LR = 9, 0.25
	if string(over.JSON()) != string(want.JSON()) {
		t.Errorf("-config with overrides:\n got %s\nwant %s", over.JSON(), want.JSON())
	}

	// A partial file: the keys it has, the mnist preset's values for the others.
	partial := filepath.Join(dir, "partial.json")
	os.WriteFile(partial, []byte(`{"epochs": 5, "model": {"arch": "resnet34", "stem": "cifar", "width": 8, "in_channels": 1}}`), 0o644)
	c, err := parse("-config", partial)
	if err != nil {
		t.Fatal(err)
	}
	if c.Epochs != 5 || c.Model.Arch != "resnet34" || c.BatchSize != Default().BatchSize {
		t.Errorf("partial file: got %+v", c)
	}

	for body, want := range map[string]string{
		`{"epochs": 5, "learning_rate": 0.1}`: `unknown key "learning_rate": a run's config.json lists every key`,
		`{"epochs": "five"}`:                  `key "epochs": a string where a whole number is wanted`,
		`{"epochs": 5`:                        "not a valid configuration",
		// A flag's name is not always its key: the message gives the key.
		`{"wd": 1e-5}`:          `unknown key "wd": the flag -wd is the key "weight_decay"`,
		`{"batch-size": 64}`:    `the flag -batch-size is the key "batch_size"`,
		`{"width": 16}`:         `the flag -width is the key "width" inside "model"`,
		`{"lambda": 10}`:        `the flag -lambda is the key "Lambda" inside "loss_params"`,
		`{"model": "resnet34"}`: `key "model": a string where an object is wanted`,
		// Misspelt keys, nested ones included, are errors (not silently the default).
		`{"loss_params": {"Lamda": 3}}`:    `unknown key "Lamda": did you mean "Lambda" inside "loss_params"?`,
		`{"model": {"widht": 8}}`:          `did you mean "width" inside "model"?`,
		`{"loss_params": {"Lambda": "x"}}`: `key "loss_params.Lambda": a string where a number is wanted`,
	} {
		bad := filepath.Join(dir, "bad.json")
		os.WriteFile(bad, []byte(body), 0o644)
		_, err := parse("-config", bad)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Flag != "config" || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: got %v, want a -config error naming the file and containing %q", body, err, want)
		}
	}
	if _, err := parse("-config", filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: got %v", err)
	}
}

// Keys finds every key of a configuration file and the flag of each: every flag but -preset and
// -config sets exactly one key, and the keys are those of the JSON a run writes.
func TestKeysMatchFlagsAndJSON(t *testing.T) {
	var flat func(m map[string]any, prefix string, out map[string]bool)
	flat = func(m map[string]any, prefix string, out map[string]bool) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				flat(sub, prefix+k+".", out)
			} else {
				out[prefix+k] = true
			}
		}
	}
	var m map[string]any
	if err := json.Unmarshal(Default().JSON(), &m); err != nil {
		t.Fatal(err)
	}
	inJSON := map[string]bool{}
	flat(m, "", inJSON)
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c := Default()
	c.BindFlags(fs)
	flagged := map[string]string{}
	for _, k := range Keys() {
		if !inJSON[k.Path] {
			t.Errorf("key %q is not in a configuration's JSON", k.Path)
		}
		delete(inJSON, k.Path)
		if k.Flag != "" {
			if other, dup := flagged[k.Flag]; dup {
				t.Errorf("flag -%s sets both %q and %q", k.Flag, other, k.Path)
			}
			flagged[k.Flag] = k.Path
		}
	}
	for k := range inJSON {
		t.Errorf("key %q of the JSON is missing from Keys", k)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := flagged[f.Name]; !ok {
			t.Errorf("flag -%s sets no key", f.Name)
		}
	})
	for flagName, want := range map[string]string{"wd": "weight_decay", "width": "model.width", "beta": "loss_params.Beta", "low-label": "low_label"} {
		if flagged[flagName] != want {
			t.Errorf("flag -%s: key %q, want %q", flagName, flagged[flagName], want)
		}
	}
}

// Local fields (folders, workers, devices, evaluation settings) are not part of what a run
// computes: Stored drops them, and only them.
func TestStoredDropsOnlyLocalFields(t *testing.T) {
	a := Default()
	b := a
	b.CheckpointDir, b.Workers, b.Devices, b.ProbeEpochs, b.DataDir, b.Resume = "elsewhere", 7, 4, 3, "/data", true
	if string(a.StoredJSON()) != string(b.StoredJSON()) {
		t.Errorf("local fields changed the stored configuration:\n%s\n%s", a.StoredJSON(), b.StoredJSON())
	}
	var m map[string]any
	json.Unmarshal(a.StoredJSON(), &m)
	for _, k := range []string{"checkpoint_dir", "workers", "devices", "data_dir"} {
		if _, ok := m[k]; ok {
			t.Errorf("stored configuration has local key %q", k)
		}
	}
	for _, change := range []func(*Config){
		func(c *Config) { c.Precision = "bf16" },
		func(c *Config) { c.Seed = 1 },
		func(c *Config) { c.Validation = 100 },
		func(c *Config) { c.LossParams.Lambda = 1 },
	} {
		c := a
		change(&c)
		if string(c.StoredJSON()) == string(a.StoredJSON()) {
			t.Errorf("a computational change left the stored configuration equal: %s", c.StoredJSON())
		}
	}
}

// Augmentation is the preset at -image-size with -crop-scale, the views training and the analysis
// use; without them, the preset's own.
func TestAugmentation(t *testing.T) {
	syn := datasets.DefaultSynthetic()
	syn.N = 8
	ds, err := datasets.Synthetic(syn, datasets.SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Augment = "solo-cifar"
	preset, err := datasets.Preset("solo-cifar", ds)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Augmentation(ds); err != nil || got.View1 != preset.View1 || got.View2 != preset.View2 {
		t.Errorf("no -image-size or -crop-scale: %+v, %v; want the preset's %+v", got, err, preset)
	}
	c.ImageSize, c.CropScale = 20, "0.5,0.9"
	got, err := c.Augmentation(ds)
	if err != nil || got.View1.Size != 20 || got.View2.Size != 20 || got.View1.CropScale != [2]float64{0.5, 0.9} || got.View2.CropScale != [2]float64{0.5, 0.9} {
		t.Errorf("-image-size 20 -crop-scale 0.5,0.9: %+v, %v", got, err)
	}
	c.CropScale = "0.9,0.5"
	if _, err := c.Augmentation(ds); err == nil || !strings.Contains(err.Error(), "crop-scale") {
		t.Errorf("-crop-scale 0.9,0.5: got %v, want a -crop-scale error", err)
	}
}

// A quoted "~/..." path, on the command line or in a configuration file, is the home folder (as
// the shell would have made it), not a folder named "~" in the working directory.
func TestPathsExpandHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	file := filepath.Join(home, "run.json")
	if err := os.WriteFile(file, []byte(`{"checkpoint_dir": "~/runs/a", "data_dir": "~/photos"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := parse("-config", "~/run.json", "-metrics", "~/m.jsonl", "-export-encoder", "~/enc.safetensors", "-dataset", "folder", "-label-table", "~/train.csv")
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{c.CheckpointDir: filepath.Join(home, "runs", "a"), c.DataDir: filepath.Join(home, "photos"),
		c.MetricsFile: filepath.Join(home, "m.jsonl"), c.ExportEncoder: filepath.Join(home, "enc.safetensors"), c.LabelTable: filepath.Join(home, "train.csv")} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// A relative path is stored absolute: the run's configuration names the same folders from
	// any working directory.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if c, err = parse("-checkpoint-dir", "runs/~x", "-data-dir", "photos/{000..009}.tar"); err != nil ||
		c.CheckpointDir != filepath.Join(wd, "runs", "~x") || c.DataDir != filepath.Join(wd, "photos", "{000..009}.tar") {
		t.Errorf("relative paths (a ~ inside): %q and %q (%v), want them under %s", c.CheckpointDir, c.DataDir, err, wd)
	}
	if c, err = parse(); err != nil || c.DataDir != "" || c.MetricsFile != "" {
		t.Errorf("no -data-dir, no -metrics: %q, %q (%v), want them empty (the defaults)", c.DataDir, c.MetricsFile, err)
	}
}

// TestNormalisationOfOtherImages: an encoder sees its own data set's images with their own
// statistics (nil), another data set's with its training images' statistics where they are
// known and of as many channels, and otherwise with their own.
func TestNormalisationOfOtherImages(t *testing.T) {
	cifar := Default()
	cifar.Dataset = "cifar10"
	synthetic := Default()
	synthetic.Dataset = "synthetic"
	photos := datasets.Info{Name: "folder", Channels: 3}
	for _, tc := range []struct {
		name string
		cfg  Config
		d    datasets.Info
		want string
	}{
		{"a CIFAR-10 encoder on photos", cifar, photos, "[0.4914 0.4822 0.4465] [0.247 0.2435 0.2616]"},
		{"a CIFAR-10 encoder on CIFAR-10", cifar, datasets.Info{Name: "cifar10", Channels: 3}, "[] []"},
		{"a CIFAR-10 encoder on 1-channel images", cifar, datasets.Info{Name: "mnist", Channels: 1}, "[] []"},
		{"a synthetic-set encoder on photos", synthetic, photos, "[] []"},
	} {
		if m, s := tc.cfg.Normalisation(tc.d); fmt.Sprint(m, s) != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.name, m, s, tc.want)
		}
	}
}

// TestStrayArgument: an argument that is not a flag is a usage error; a true/false given apart
// from its boolean flag (-baselines false, which the flag package reads as -baselines and then
// stops) names the form that works.
func TestStrayArgument(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-baselines", "false", "-steps", "1"}, `unexpected argument "false" after -baselines: a boolean flag takes its value after =, as in -baselines=false`},
		{[]string{"--resume", "true"}, "-resume=true"},
		{[]string{"-steps", "1", "mnist"}, `unexpected argument "mnist" (flags start with -)`},
		{[]string{"-baselines=false", "false"}, `unexpected argument "false" (flags start with -)`},
	} {
		_, err := parse(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

// TestImagenetPresetIsTheOfficialRecipe: the imagenet preset against facebookresearch/vicreg's
// main_vicreg.py and its README's command: resnet50 built with zero_init_residual=True, expander
// 8192-8192-8192, batch 2048, base lr 0.2 (x batch/256), weight decay 1e-6, LARS with eta 0.001
// excluding biases and norms, 10 warm-up epochs, 1000 epochs, 224 px crops.
func TestImagenetPresetIsTheOfficialRecipe(t *testing.T) {
	c := Presets["imagenet"]()
	m := c.Model
	if m.Arch != "resnet50" || !m.ZeroInitResidual || m.Width != 64 || c.Expander != "8192-8192-8192" || c.BatchSize != 2048 ||
		c.LR != 0.2 || c.WeightDecay != 1e-6 || c.Optimizer != "lars" || c.Eta != 0.001 || c.WarmupEpochs != 10 ||
		c.Epochs != 1000 || c.ImageSize != 224 {
		t.Errorf("imagenet preset: %s", c.JSON())
	}
}

// TestForDataClampsTheWarmup: a warm-up longer than the run is the whole run, also one so long
// that its step count overflows an int64 (1e19 epochs); a fractional one rounds to steps.
func TestForDataClampsTheWarmup(t *testing.T) {
	for _, tc := range []struct {
		epochs float64
		want   int64
	}{{1e19, 2 * 234}, {3, 2 * 234}, {0.5, 117}, {0, 0}} {
		c := Default()
		c.Epochs, c.BatchSize, c.WarmupEpochs = 2, 256, tc.epochs
		p, err := c.Plan()
		if err != nil {
			t.Fatal(err)
		}
		if bpe, total, opt := p.ForData(60000); bpe != 234 || total != 2*234 || opt.Schedule.WarmupSteps != tc.want {
			t.Errorf("%g warm-up epochs: %d batches per epoch, %d steps, %d warm-up steps; want 234, 468, %d",
				tc.epochs, bpe, total, opt.Schedule.WarmupSteps, tc.want)
		}
	}
}

// TestPathsNotUTF8Refused: config.json records -data-dir and -checkpoint-dir as JSON strings,
// which are Unicode: a folder named in Latin-1 ("caf\xe9", from an old archive) came back as
// "caf\uFFFD", a folder that does not exist, so that evaluate and -config config.json -resume
// could not find the run's images after it had trained. Such a path is refused before training.
func TestPathsNotUTF8Refused(t *testing.T) {
	dir := "/data/caf\xe9"
	var back struct{ D string }
	data, _ := json.Marshal(struct{ D string }{dir})
	if json.Unmarshal(data, &back); back.D == dir {
		t.Fatalf("JSON kept %q: the premise of this test does not hold", dir)
	}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-dataset", "folder", "-data-dir", dir}, "data-dir"},
		{[]string{"-checkpoint-dir", "runs/caf\xe9"}, "checkpoint-dir"},
	} {
		_, err := parse(tc.args...)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Flag != tc.flag || !strings.Contains(err.Error(), "UTF-8") || !strings.Contains(err.Error(), `caf\xe9`) {
			t.Errorf("%q: got %v, want a -%s error that names the path and says it is not UTF-8", tc.args, err, tc.flag)
		}
	}
}
