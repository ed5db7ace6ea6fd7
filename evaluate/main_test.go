package main

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"gonum.org/v1/gonum/stat"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/embedmap"
	"github.com/gomlx-ssl/vicreg/encoder/encodertest"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/internal/cmdtest"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/plot/plottest"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
	"github.com/gomlx-ssl/vicreg/train/finetune"
)

// writeTinyRun writes a tiny run (encodertest.WriteTinyRuns) with checkpoints at the given steps
// and its configuration changed by edit.
func writeTinyRun(t *testing.T, edit func(*config.Config), steps ...int64) string {
	t.Helper()
	return encodertest.WriteTinyRuns(t, steps, edit)[0]
}

// output is what one run of the command left.
type output struct {
	code           int
	stdout, stderr string
	start, end     time.Time
}

// evaluate runs the command in this process.
func evaluate(t *testing.T, args ...string) output {
	t.Helper()
	var stdout, stderr bytes.Buffer
	o := output{start: time.Now()}
	o.code = run(args, &stdout, &stderr)
	o.end = time.Now()
	o.stdout, o.stderr = stdout.String(), stderr.String()
	t.Logf("evaluate %s: exit %d in %s\n%s", strings.Join(args, " "), o.code, o.end.Sub(o.start).Round(time.Millisecond), o.stdout)
	return o
}

// readResult reads path both as a Result and as a generic object (to see which keys exist).
func readResult(t *testing.T, path string) (results.Evaluate, map[string]any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r results.Evaluate
	var keys map[string]any
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s does not parse: %v\n%s", path, err, data)
	}
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s:\n%s", path, data)
	for k, v := range keys {
		if v == -1.0 {
			t.Errorf("%s: %s is -1: what was not measured must be absent", path, k)
		}
	}
	return r, keys
}

var (
	countsLine = regexp.MustCompile(`: (\d+) train \(([0-9.]+)% of the labels\) / (\d+) test images`)
	probeLine  = regexp.MustCompile(`linear probe: train ([0-9.]+)%, test ([0-9.]+)% \(balanced: ([0-9.]+)%\)(?:, top-5 ([0-9.]+)%)?`)
	knnLine    = regexp.MustCompile(`kNN \(k=(\d+), T=([0-9.e-]+)\): test ([0-9.]+)% \(balanced: ([0-9.]+)%\)(?:, top-5 ([0-9.]+)%)?`)
	// majorityLine is the majority-class baseline: the class and its test accuracy.
	majorityLine = regexp.MustCompile(`always the majority class \((.+), the most frequent in training\): test ([0-9.]+)%`)
	// embeddingsLine is -embeddings' line: the count and the file.
	embeddingsLine = regexp.MustCompile(`wrote (\d+) embeddings of dimension \d+ to (\S+)`)
)

// mismatches lists where the result r differs from what the command printed (stdout): the image
// counts, the probe's and kNN's accuracies (printed as percentages with two decimals) and
// settings. A figure the output prints must be in r; one it does not print must be absent.
func mismatches(stdout string, r results.Evaluate) []string {
	var bad []string
	pct := func(p *float64) string {
		if p == nil {
			return "absent"
		}
		return fmt.Sprintf("%.2f", 100**p)
	}
	count := func(p *int) string {
		if p == nil {
			return "absent"
		}
		return strconv.Itoa(*p)
	}
	same := func(what, got, printed string) {
		if got != printed {
			bad = append(bad, fmt.Sprintf("%s: the result has %s, the output printed %s", what, got, printed))
		}
	}
	if m := countsLine.FindStringSubmatch(stdout); m != nil {
		same("train_images", count(r.TrainImages), m[1])
		same("train_percent", strconv.FormatFloat(r.TrainPercent, 'g', -1, 64), m[2])
		same("test_images", count(r.TestImages), m[3])
	} else {
		same("train_images", count(r.TrainImages), "absent")
		same("test_images", count(r.TestImages), "absent")
	}
	if m := probeLine.FindStringSubmatch(stdout); m != nil {
		same("linear_probe_train", pct(r.LinearProbeTrain), m[1])
		same("linear_probe", pct(r.LinearProbe), m[2])
		same("linear_probe_balanced", pct(r.LinearProbeBalanced), m[3])
		same("linear_probe_top5", pct(r.LinearProbeTop5), cmp.Or(m[4], "absent"))
	} else {
		same("linear_probe", pct(r.LinearProbe), "absent")
		same("linear_probe_train", pct(r.LinearProbeTrain), "absent")
		same("linear_probe_balanced", pct(r.LinearProbeBalanced), "absent")
	}
	if m := knnLine.FindStringSubmatch(stdout); m != nil {
		same("knn_k", strconv.Itoa(r.KNNK), m[1])
		same("knn_t", strconv.FormatFloat(r.KNNT, 'g', -1, 64), m[2])
		same("knn", pct(r.KNN), m[3])
		same("knn_balanced", pct(r.KNNBalanced), m[4])
		same("knn_top5", pct(r.KNNTop5), cmp.Or(m[5], "absent"))
	} else {
		same("knn", pct(r.KNN), "absent")
		same("knn_balanced", pct(r.KNNBalanced), "absent")
	}
	if m := majorityLine.FindStringSubmatch(stdout); m != nil {
		same("majority_class", r.MajorityClass, m[1])
		same("majority", pct(r.Majority), m[2])
	} else {
		same("majority", pct(r.Majority), "absent")
	}
	if m := embeddingsLine.FindStringSubmatch(stdout); m != nil {
		same("embeddings_images", count(r.EmbeddingsImages), m[1])
		same("embeddings", r.Embeddings, m[2])
	} else {
		same("embeddings", r.Embeddings, "")
	}
	return bad
}

// TestResultFile evaluates a tiny run with -result and checks the file against what the command
// printed and against the inputs of the test (the checkpoint, the data, the flags).
func TestResultFile(t *testing.T) {
	const viewSize = 12 // the run's -image-size: synthetic images are 16x16, resized for the encoder
	dir := writeTinyRun(t, func(c *config.Config) { c.ImageSize = viewSize }, 10, 20)
	path := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(path, []byte("an older result\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := evaluate(t, "-checkpoint", dir, "-subset", "200", "-train-percent", "50", "-probe-epochs", "3",
		"-knn-k", "5", "-seed", "3", "-batch-size", "64", "-result", path)
	if o.code != 0 {
		t.Fatalf("exit status %d:\n%s", o.code, o.stderr)
	}
	if !strings.Contains(o.stdout, "wrote the result to "+path) {
		t.Errorf("the output does not say where the result went:\n%s", o.stdout)
	}
	r, keys := readResult(t, path)
	for _, msg := range mismatches(o.stdout, r) {
		t.Error(msg)
	}
	// Every figure printed is in the file (mismatches compares only the lines it finds).
	for _, line := range []*regexp.Regexp{countsLine, probeLine, knnLine, majorityLine} {
		if !line.MatchString(o.stdout) {
			t.Errorf("the output has no line matching %s:\n%s", line, o.stdout)
		}
	}

	ckpts, err := (&checkpoints.Manager{Dir: dir}).List()
	if err != nil || len(ckpts) != 2 {
		t.Fatalf("checkpoints of the tiny run: %v, %v", ckpts, err)
	}
	if r.Checkpoint != ckpts[1] || r.Step == nil || *r.Step != 20 {
		t.Errorf("checkpoint %q step %v, want the newest %q, step 20", r.Checkpoint, r.Step, ckpts[1])
	}
	if r.Dataset != "synthetic" || keys["data_dir"] != nil {
		t.Errorf("dataset %q, data_dir %v: want synthetic, which reads no folder", r.Dataset, keys["data_dir"])
	}
	if keys["kind"] != "evaluate" {
		t.Errorf("kind %v, want evaluate (what tells this file from the runs' result.json)", keys["kind"])
	}
	if r.TestImages == nil || *r.TestImages != 200 || r.TrainImages == nil || *r.TrainImages >= 200 || *r.TrainImages < 90 {
		t.Errorf("train %v / test %v images: want about half of -subset 200 / all 200", r.TrainImages, r.TestImages)
	}
	if r.ViewSize != viewSize {
		t.Errorf("view_size %d, want the run's image size %d", r.ViewSize, viewSize)
	}
	if r.ProbeEpochs != 3 || r.KNNK != 5 || r.KNNT != 0.07 || r.Seed != 3 || r.TrainPercent != 50 {
		t.Errorf("settings: probe_epochs %d knn_k %d knn_t %g seed %d train_percent %g; want 3, 5, 0.07, 3, 50",
			r.ProbeEpochs, r.KNNK, r.KNNT, r.Seed, r.TrainPercent)
	}
	if _, ok := keys["train_bad_images"]; ok {
		t.Error("train_bad_images is present, but the run does not skip bad images")
	}
	if r.Backend != backend.Name(backendtest.Backend(t)) {
		t.Errorf("backend %q, want %q", r.Backend, backend.Name(backendtest.Backend(t)))
	}
	if r.Machine == nil || r.Machine.CPU != cpuinfo.Describe() || r.Machine.Devices != nil {
		t.Errorf("machine %+v, want this CPU (%s) and no devices", r.Machine, cpuinfo.Describe())
	}
	if r.Wall <= 0 || r.Wall > o.end.Sub(o.start) {
		t.Errorf("wall_ns %v, want in (0, %v] (the command's time)", r.Wall, o.end.Sub(o.start))
	}
	date, err := time.Parse(time.RFC3339, r.Date)
	if err != nil || date.Before(o.start.Truncate(time.Second)) || date.After(o.end) {
		t.Errorf("date %q (%v): want RFC 3339 between %v and %v", r.Date, err, o.start, o.end)
	}

	// Negative control: had the file been written from the wrong variable, mismatches would say
	// so. The printed figures differ from each other here, so each confusion is visible.
	wrong := map[string]func(*results.Evaluate){
		"linear_probe from the probe's training accuracy": func(r *results.Evaluate) { r.LinearProbe = r.LinearProbeTrain },
		"knn from the linear probe":                       func(r *results.Evaluate) { r.KNN = r.LinearProbe },
		"train_images from the test images":               func(r *results.Evaluate) { r.TrainImages = r.TestImages },
		"no linear probe":                                 func(r *results.Evaluate) { r.LinearProbe = nil },
		"knn_balanced from the probe's":                   func(r *results.Evaluate) { r.KNNBalanced = r.LinearProbeBalanced },
		"no majority baseline":                            func(r *results.Evaluate) { r.Majority = nil },
	}
	for name, edit := range wrong {
		w := r
		edit(&w)
		if len(mismatches(o.stdout, w)) == 0 {
			t.Errorf("negative control %q: the check does not see it", name)
		}
	}
}

// TestResultOmitsWhatWasNotMeasured: without the probe its keys are absent, without kNN its keys,
// and with neither the image counts too (nothing is embedded); never a -1 (readResult).
func TestResultOmitsWhatWasNotMeasured(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	for _, tc := range []struct {
		name           string
		args           []string
		absent, always []string
	}{
		{"no probe", []string{"-probe-epochs", "0", "-knn-k", "3"},
			[]string{"linear_probe", "linear_probe_train", "linear_probe_balanced", "probe_epochs"}, []string{"knn", "knn_balanced", "knn_k", "knn_t", "train_images", "test_images", "view_size", "majority"}},
		{"no kNN", []string{"-probe-epochs", "1", "-knn-k", "0"},
			[]string{"knn", "knn_balanced", "knn_k", "knn_t"}, []string{"linear_probe", "linear_probe_train", "linear_probe_balanced", "probe_epochs", "train_images", "test_images", "view_size", "majority"}},
		{"neither", []string{"-probe-epochs", "0", "-knn-k", "0"},
			[]string{"linear_probe", "linear_probe_train", "linear_probe_balanced", "probe_epochs", "knn", "knn_balanced", "knn_k", "knn_t", "train_images", "test_images", "train_percent", "view_size", "embeddings", "majority", "majority_class"}, nil},
		{"embeddings only", []string{"-probe-epochs", "0", "-knn-k", "0", "-embeddings", filepath.Join(t.TempDir(), "e.csv")},
			[]string{"linear_probe", "knn", "train_images", "test_images"}, []string{"embeddings", "embeddings_split", "embeddings_images", "view_size"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			o := evaluate(t, append([]string{"-checkpoint", dir, "-subset", "64", "-batch-size", "64", "-result", path}, tc.args...)...)
			if o.code != 0 {
				t.Fatalf("exit status %d:\n%s", o.code, o.stderr)
			}
			r, keys := readResult(t, path)
			for _, msg := range mismatches(o.stdout, r) {
				t.Error(msg)
			}
			for _, k := range tc.absent {
				if v, ok := keys[k]; ok {
					t.Errorf("%s is present (%v) but was not measured", k, v)
				}
			}
			for _, k := range append(tc.always, "checkpoint", "step", "dataset", "seed", "backend", "wall_ns", "date") {
				if _, ok := keys[k]; !ok {
					t.Errorf("%s is absent", k)
				}
			}
		})
	}
	// An exported encoder has no training step: the key is absent, not 0 or -1. (The paths are
	// given as a quoted "~/..." would reach the command: they are the home folder's.)
	t.Run("exported encoder", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("HOME", tmp)
		exported, path := filepath.Join(tmp, "encoder.safetensors"), filepath.Join(tmp, "r.json")
		if o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "0", "-knn-k", "0", "-export-encoder", "~/encoder.safetensors"); o.code != 0 {
			t.Fatalf("export: exit status %d:\n%s", o.code, o.stderr)
		}
		if o := evaluate(t, "-checkpoint", "~/encoder.safetensors", "-probe-epochs", "0", "-knn-k", "0", "-result", "~/r.json"); o.code != 0 {
			t.Fatalf("exit status %d:\n%s", o.code, o.stderr)
		}
		r, keys := readResult(t, path)
		if _, ok := keys["step"]; ok || r.Checkpoint != exported {
			t.Errorf("checkpoint %q, step %v: want %s without a step", r.Checkpoint, keys["step"], exported)
		}
	})
}

// TestResultCountsBadImages evaluates a run on an image folder with undecodable images in both
// splits (two in train, one in val: counts that differ, so that a count taken from the wrong split
// shows): with -skip-bad-images the counts of the folder's files are in the result.
func TestResultCountsBadImages(t *testing.T) {
	root := t.TempDir()
	classes := []string{"a", "b"}
	train := datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), classes, 6)
	test := datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), classes, 4)
	for _, p := range []string{filepath.Join(root, "train", "a", "bad.png"), filepath.Join(root, "train", "b", "bad.jpg"), filepath.Join(root, "val", "b", "bad.jpg")} {
		if err := os.WriteFile(p, []byte("not an image"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 }, 3)
	path := filepath.Join(t.TempDir(), "r.json")
	emb := filepath.Join(t.TempDir(), "val.csv")
	o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "1", "-knn-k", "3", "-skip-bad-images", "-result", path, "-embeddings", emb)
	if o.code != 0 {
		t.Fatalf("exit status %d:\n%s", o.code, o.stderr)
	}
	// The val/ embeddings have a row per good image, each with its image's index in the folder.
	val, err := datasets.OpenFolder(root, datasets.SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	var wantIndex, wantFiles []string
	for i := range val.Info().Len {
		if filepath.Base(val.Path(i)) != "bad.jpg" {
			wantIndex = append(wantIndex, strconv.Itoa(i))
			wantFiles = append(wantFiles, val.Path(i))
		}
	}
	// And each row's file, one per line beside the export.
	files, err := os.ReadFile(strings.TrimSuffix(emb, ".csv") + ".files.txt")
	if got := strings.Split(strings.TrimSuffix(string(files), "\n"), "\n"); err != nil || !slices.Equal(got, wantFiles) ||
		!strings.Contains(o.stdout, "each row's image file is in "+strings.TrimSuffix(emb, ".csv")+".files.txt") {
		t.Errorf("val.files.txt: %v, %q; want %q, named in stdout:\n%s", err, got, wantFiles, o.stdout)
	}
	rows, _ := os.ReadFile(emb)
	lines := strings.Split(strings.TrimSpace(string(rows)), "\n")
	var gotIndex []string
	for _, l := range lines[1:] {
		gotIndex = append(gotIndex, strings.Split(l, ",")[0])
	}
	if !strings.HasPrefix(lines[0], "index,label,z0,") || strings.Join(gotIndex, " ") != strings.Join(wantIndex, " ") || len(wantIndex) != len(test) ||
		!strings.Contains(o.stdout, "images left out because they did not decode: 1; each row's image index is in its index column") {
		t.Errorf("-embeddings with a bad image left out: header %q, indices %v, want an index column and indices %v; stdout:\n%s",
			lines[0], gotIndex, wantIndex, o.stdout)
	}
	r, _ := readResult(t, path)
	for _, msg := range mismatches(o.stdout, r) {
		t.Error(msg)
	}
	want := func(name string, got *int, n int) {
		if got == nil {
			t.Errorf("%s is absent, want %d", name, n)
		} else if *got != n {
			t.Errorf("%s: %d, want %d", name, *got, n)
		}
	}
	want("train_images", r.TrainImages, len(train))
	want("test_images", r.TestImages, len(test))
	want("train_bad_images", r.TrainBadImages, 2)
	want("test_bad_images", r.TestBadImages, 1)
	if r.Dataset != "folder" || r.DataDir != root || r.ViewSize != 16 {
		t.Errorf("dataset %q, data_dir %q, view_size %d; want folder, %s, 16", r.Dataset, r.DataDir, r.ViewSize, root)
	}
}

// TestOutputPathsRefused: a -result, -embeddings or -export-encoder file that cannot be written
// is a usage error (exit status 2) that says what to do, found before the encoder is even loaded
// (-embeddings is written after the probe and kNN, the encoder after fine-tuning); and -result
// with -weights is refused, pointing at the runs' own result.json.
func TestOutputPathsRefused(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "no-such-folder")
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"missing folder", []string{"-result", filepath.Join(missing, "r.json")}, []string{"-result", missing, "does not exist", "mkdir -p " + missing}},
		{"folder given", []string{"-result", tmp}, []string{"-result", tmp + " is a folder", "give a file name"}},
		{"under a file", []string{"-result", filepath.Join(file, "r.json")}, []string{"-result", file + " is not a folder"}},
		{"with -weights", []string{"-weights", "freeze", "-result", filepath.Join(tmp, "r.json")}, []string{"-result", "without -weights", "result.json", "-checkpoint-dir"}},
		{"embeddings, missing folder", []string{"-embeddings", filepath.Join(missing, "e.npy")}, []string{"-embeddings", missing, "mkdir -p " + missing}},
		{"export, missing folder", []string{"-export-encoder", filepath.Join(missing, "e.safetensors")}, []string{"-export-encoder", missing, "mkdir -p " + missing}},
		{"export, a folder", []string{"-export-encoder", tmp}, []string{"-export-encoder", tmp + " is a folder", "give a file name"}},
		{"fine-tuning export, missing folder", []string{"-finetune", "-export-encoder", filepath.Join(missing, "e.safetensors")}, []string{"-export-encoder", missing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := evaluate(t, append([]string{"-checkpoint", dir}, tc.args...)...)
			if o.code != 2 {
				t.Errorf("exit status %d, want 2", o.code)
			}
			for _, w := range tc.wants {
				if !strings.Contains(o.stderr, w) {
					t.Errorf("the message does not say %q:\n%s", w, o.stderr)
				}
			}
			if strings.Contains(o.stderr, "encoder loaded") || strings.Contains(o.stderr, "done=") || o.stdout != "" {
				t.Errorf("work was done before the refusal:\n%s%s", o.stdout, o.stderr)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("the refusal created %s", missing)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 1 {
		t.Errorf("%s holds %d entries, want only the file the test wrote (no test file or result left)", tmp, len(entries))
	}
}

// TestStrayArgumentRefused: an argument that is not a flag is a usage error before any work; the
// flag package stops reading at it, so the flags after it would have been left at their defaults
// (-baseline false -probe-epochs 0 ran the default 30-epoch probe).
func TestStrayArgumentRefused(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"-checkpoint", dir, "-baseline", "false", "-probe-epochs", "0", "-knn-k", "0"}, []string{`"false"`, "-baseline=false"}},
		{[]string{"-checkpoint", dir, filepath.Join(dir, "other-run")}, []string{"unexpected argument", "other-run"}},
	} {
		refused(t, tc.args, tc.wants...)
	}
}

// TestOneClassRefused: a labelled image folder of one class is refused before any embedding, by
// the probe and kNN and by fine-tuning: every accuracy would be 100% by construction.
func TestOneClassRefused(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"all"}, 8)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"all"}, 4)
	for _, extra := range [][]string{{"-probe-epochs", "1"}, {"-finetune", "-epochs", "1", "-baseline=false", "-checkpoint-dir", t.TempDir()}} {
		o := evaluate(t, append([]string{"-checkpoint", dir, "-dataset", "folder", "-data-dir", root}, extra...)...)
		if o.code != 2 || !strings.Contains(o.stderr, "one class") || !strings.Contains(o.stderr, root) {
			t.Errorf("%q: exit %d, want 2 naming %s and its one class:\n%s%s", extra, o.code, root, o.stdout, o.stderr)
		}
		if strings.Contains(o.stderr, "done=") {
			t.Errorf("%q: images were embedded or trained on before the refusal:\n%s", extra, o.stderr)
		}
	}
}

// TestRunFileIsNotACheckpoint: -checkpoint given a run's config.json or metrics.jsonl is a usage
// error that points to the run's folder, not a "corrupt checkpoint" (exit 1).
func TestRunFileIsNotACheckpoint(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	for _, name := range []string{config.FileName, "metrics.jsonl"} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			if err := os.WriteFile(path, []byte("{}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		o := evaluate(t, "-checkpoint", path)
		if o.code != 2 || !strings.Contains(o.stderr, "not a checkpoint") || !strings.Contains(o.stderr, "folder "+dir) || strings.Contains(o.stderr, "corrupt") {
			t.Errorf("-checkpoint %s: exit %d, want 2 saying it is not a checkpoint and naming the folder %s:\n%s", name, o.code, dir, o.stderr)
		}
	}
}

// TestResultKeptOnFailure: an evaluation that fails leaves an existing result file as it was.
func TestResultKeptOnFailure(t *testing.T) {
	tmp := t.TempDir()
	damaged := filepath.Join(tmp, "ckpt-000000001"+checkpoints.Ext)
	if err := os.WriteFile(damaged, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(tmp, "r.json")
	if err := os.WriteFile(path, []byte("the previous result\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	backendtest.Backend(t)
	if o := evaluate(t, "-checkpoint", damaged, "-result", path); o.code != 1 {
		t.Errorf("exit status %d on a damaged checkpoint, want 1:\n%s", o.code, o.stderr)
	}
	if data, _ := os.ReadFile(path); string(data) != "the previous result\n" {
		t.Errorf("the result file was changed to %q", data)
	}
}

// TestRunDataMoved: an encoder whose run's image folder is no longer where its configuration
// says is a usage error (exit 2) that names the folder and says to give -data-dir; given, it is
// evaluated; given one without a test split, it is refused before any embedding.
func TestRunDataMoved(t *testing.T) {
	root := t.TempDir()
	for _, split := range []string{"train", "val"} {
		datasetstest.WriteImageFolder(t, filepath.Join(root, split), []string{"cat", "dog"}, 3)
	}
	moved := filepath.Join(t.TempDir(), "photos")
	dir := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", moved, 16 }, 3)
	o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "1", "-knn-k", "2", "-batch-size", "4")
	if o.code != 2 || !strings.Contains(o.stderr, moved) || !strings.Contains(o.stderr, "give the images' folder with -data-dir") {
		t.Errorf("exit status %d, want 2 naming %s and -data-dir:\n%s", o.code, moved, o.stderr)
	}
	if o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "1", "-knn-k", "2", "-batch-size", "4", "-data-dir", root); o.code != 0 {
		t.Errorf("with -data-dir: exit status %d:\n%s", o.code, o.stderr)
	}
	// A folder without a test split is refused before the training images are embedded.
	trainOnly := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(trainOnly, "train"), []string{"cat", "dog"}, 3)
	o = evaluate(t, "-checkpoint", dir, "-probe-epochs", "1", "-knn-k", "2", "-batch-size", "4", "-data-dir", trainOnly)
	if o.code != 2 || !strings.Contains(o.stderr, "test split") || strings.Contains(o.stderr, "embedding") {
		t.Errorf("a folder without val/: exit status %d, want 2 before any embedding:\n%s", o.code, o.stderr)
	}
}

// TestRecordedPipeNotRun: a run whose shards came through a pipe: command (its data_dir) is not
// evaluated by running that command again unless -data-dir gives it: the command runs then.
func TestRecordedPipeNotRun(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	pipe := "pipe:touch " + marker + "; cat /nonexistent/shard-{0..1}.tar"
	dir := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "shards", pipe, 16 }, 3)
	o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "1", "-knn-k", "2", "-batch-size", "4")
	if _, err := os.Stat(marker); o.code != 2 || err == nil || !strings.Contains(o.stderr, "not run again unasked (give it with -data-dir to run it)") {
		t.Errorf("exit status %d (the command ran: %v), want 2 without running it:\n%s", o.code, err == nil, o.stderr)
	}
	o = evaluate(t, "-checkpoint", dir, "-probe-epochs", "1", "-knn-k", "2", "-batch-size", "4", "-data-dir", pipe)
	if _, err := os.Stat(marker); err != nil || strings.Contains(o.stderr, "unasked") {
		t.Errorf("with -data-dir: the command did not run (exit status %d):\n%s", o.code, o.stderr)
	}
}

// TestRunsShardCache: shards over HTTP are evaluated through the shard cache the run recorded
// when that folder exists here (a second evaluation downloads nothing), and a recorded cache that
// does not exist here is not created.
func TestRunsShardCache(t *testing.T) {
	index, requests := datasetstest.ServeShards(t, []string{"cat", "dog"}, 3) // 3 shards a split
	cache := t.TempDir()
	missing := filepath.Join(t.TempDir(), "elsewhere")
	for _, tc := range []struct {
		cache string
		want  []int // shard requests in all after the first and the second evaluation
	}{{cache, []int{6, 6}}, {missing, []int{12, 18}}} {
		dir := writeTinyRun(t, func(c *config.Config) {
			c.Dataset, c.DataDir, c.ImageSize, c.ShardCache = "shards", index, 16, tc.cache
		}, 3)
		for i, want := range tc.want {
			if o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "1", "-knn-k", "2", "-batch-size", "4"); o.code != 0 {
				t.Fatalf("cache %s: exit status %d:\n%s", tc.cache, o.code, o.stderr)
			}
			if got := requests(); got != want {
				t.Errorf("cache %s, evaluation %d: %d shard requests in all, want %d", tc.cache, i+1, got, want)
			}
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the recorded cache %s that did not exist was made (%v)", missing, err)
	}
	// -shard-cache-size sets the limit of the cache used, the run's here, which keeps it; without
	// a cache, or with a size that is none, it is a usage error.
	withCache := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize, c.ShardCache = "shards", index, 16, cache }, 3)
	if o := evaluate(t, "-checkpoint", withCache, "-probe-epochs", "1", "-knn-k", "2", "-batch-size", "4", "-shard-cache-size", "1MB"); o.code != 0 {
		t.Fatalf("-shard-cache-size 1MB: exit status %d:\n%s", o.code, o.stderr)
	}
	if n, err := datasets.ShardCacheLimit(cache); n != 1e6 || err != nil {
		t.Errorf("-shard-cache-size 1MB: the folder's limit is %d (%v), want 1000000", n, err)
	}
	withoutCache := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "shards", index, 16 }, 3)
	for _, tc := range []struct{ run, size, want string }{
		{withoutCache, "1MB", "-shard-cache-size: a size limit for a shard cache, but no shard cache (give its folder with -shard-cache)"},
		{withCache, "12X", `-shard-cache-size: size "12X": not a size`},
	} {
		if o := evaluate(t, "-checkpoint", tc.run, "-shard-cache-size", tc.size); o.code != 2 || !strings.Contains(o.stderr, tc.want) {
			t.Errorf("-shard-cache-size %s: exit %d, want 2 with %q:\n%s", tc.size, o.code, tc.want, o.stderr)
		}
	}
}

// TestLogEveryReachesFineTuning: -log-every is the fine-tuning run's: checked as its own (a bad
// value is a usage error naming it, before any training), and recorded in its configuration.
func TestLogEveryReachesFineTuning(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	o := evaluate(t, "-checkpoint", dir, "-weights", "freeze", "-log-every", "0", "-checkpoint-dir", filepath.Join(t.TempDir(), "ft"))
	if o.code != 2 || !strings.Contains(o.stderr, "-log-every: must be >= 1") {
		t.Errorf("-log-every 0: exit %d, want 2 naming -log-every:\n%s", o.code, o.stderr)
	}
	o = evaluate(t, "-checkpoint", dir, "-weights", "freeze", "-log-every", "3", "-batch-size", "100000", "-checkpoint-dir", filepath.Join(t.TempDir(), "ft"))
	if !strings.Contains(o.stdout, `"log_every":3`) {
		t.Errorf("-log-every 3: the fine-tuning configuration does not hold it:\n%s\n%s", o.stdout, o.stderr)
	}
}

// TestDefaultFineTuningBatchFitsFewImages: without -batch-size, fine-tuning on 1% of the labels
// (fewer images than the default batch of 256) trains on batches of all of them, recorded in its
// configuration; the same 256 given as -batch-size is refused, naming the flag.
func TestDefaultFineTuningBatchFitsFewImages(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	ft := filepath.Join(t.TempDir(), "ft")
	o := evaluate(t, "-checkpoint", dir, "-weights", "freeze", "-train-percent", "1", "-epochs", "1", "-baseline=false",
		"-eval-subset", "64", "-checkpoint-dir", ft)
	if o.code != 0 || !strings.Contains(o.stderr, "fewer training images than the default batch") {
		t.Fatalf("the default batch on 1%% of the labels: exit %d, want 0 with the batch fitted:\n%s", o.code, o.stderr)
	}
	data, err := os.ReadFile(filepath.Join(ft, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		BatchSize int `json:"batch_size"`
	}
	if err := json.Unmarshal(data, &saved); err != nil || saved.BatchSize < 2 || saved.BatchSize >= 256 {
		t.Errorf("config.json records batch %d (%v), want the training images, fewer than 256", saved.BatchSize, err)
	}
	// The balanced accuracy is printed beside top-1, as result.json records it.
	res, err := results.ReadAs[results.Finetune](filepath.Join(ft, "result.json"))
	if err != nil || res.Balanced == nil || !strings.Contains(o.stdout, fmt.Sprintf("balanced %6.2f%%", 100**res.Balanced)) {
		t.Errorf("result.json %+v (%v); want its balanced accuracy printed:\n%s", res, err, o.stdout)
	}
	o = evaluate(t, "-checkpoint", dir, "-weights", "freeze", "-train-percent", "1", "-epochs", "1", "-baseline=false",
		"-batch-size", "256", "-checkpoint-dir", filepath.Join(t.TempDir(), "ft"))
	if o.code != 2 || !strings.Contains(o.stderr, "-batch-size: 256 is larger than the") {
		t.Errorf("-batch-size 256 on 1%% of the labels: exit %d, want 2 naming -batch-size:\n%s", o.code, o.stderr)
	}
}

// damagedCheckpoint writes a file that is no checkpoint: a command that gets past its flag checks
// fails loading it (exit 1) without training or embedding anything.
func damagedCheckpoint(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ckpt-000000005"+checkpoints.Ext)
	if err := os.WriteFile(path, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBadNumbersRefused: -knn-t and -workers are checked as train checks them (a number > 0;
// >= 0): a NaN temperature gave NaN votes and printed (and recorded) a meaningless kNN accuracy,
// and a negative -workers was silently taken as one per CPU, where train refuses it.
func TestBadNumbersRefused(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-checkpoint", dir, "-subset", "40", "-probe-epochs", "0", "-knn-k", "3", "-knn-t", "NaN"}, "-knn-t: must be a number > 0"},
		{[]string{"-checkpoint", dir, "-subset", "40", "-probe-epochs", "0", "-knn-k", "3", "-knn-t", "Inf"}, "-knn-t: must be a number > 0"},
		{[]string{"-checkpoint", damagedCheckpoint(t), "-weights", "freeze", "-workers", "-1", "-checkpoint-dir", t.TempDir()}, "-workers: must be >= 0"},
	} {
		o := evaluate(t, tc.args...)
		if o.code != 2 || !strings.Contains(o.stderr, tc.want) {
			t.Errorf("%q: exit %d, want 2 saying %q:\n%s%s", tc.args, o.code, tc.want, o.stdout, o.stderr)
		}
	}
}

// refused runs the command with args and checks that it is a usage error (exit status 2) whose
// message says each of wants, given before any work.
func refused(t *testing.T, args []string, wants ...string) {
	t.Helper()
	o := evaluate(t, args...)
	if o.code != 2 {
		t.Errorf("%q: exit status %d, want 2", args, o.code)
	}
	for _, w := range wants {
		if !strings.Contains(o.stderr, w) {
			t.Errorf("%q: the message does not say %q:\n%s", args, w, o.stderr)
		}
	}
	if strings.Contains(o.stderr, "encoder loaded") || o.stdout != "" {
		t.Errorf("%q: work was done before the refusal:\n%s%s", args, o.stdout, o.stderr)
	}
}

// TestOtherModesFlagsRefused: a flag that only the other mode reads is a usage error naming it,
// before any work. The flag package accepted them and the mode ignored them: train's
// -eval-subset 4 evaluated on every test image, -probe-epochs with -weights was never used, and
// -split without -embeddings chose nothing.
func TestOtherModesFlagsRefused(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	damaged := damagedCheckpoint(t) // a mode that ran past its flags would fail loading it
	ft := t.TempDir()
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		// On frozen features (the tiny run: 40 images of each split).
		{[]string{"-checkpoint", dir, "-subset", "40", "-probe-epochs", "1", "-knn-k", "3", "-eval-subset", "4"}, []string{"-eval-subset", "-weights", "-subset N"}},
		{[]string{"-checkpoint", dir, "-subset", "40", "-probe-epochs", "1", "-knn-k", "3", "-epochs", "5"}, []string{"-epochs", "-weights", "-probe-epochs"}},
		{[]string{"-checkpoint", dir, "-subset", "40", "-probe-epochs", "1", "-knn-k", "3", "-baseline=false"}, []string{"-baseline", "-weights"}},
		{[]string{"-checkpoint", dir, "-subset", "40", "-probe-epochs", "1", "-knn-k", "3", "-split", "train"}, []string{"-split", "-embeddings"}},
		// With -weights.
		{[]string{"-checkpoint", damaged, "-weights", "freeze", "-probe-epochs", "5", "-checkpoint-dir", ft}, []string{"-probe-epochs", "without -weights"}},
		{[]string{"-checkpoint", damaged, "-finetune", "-subset", "100", "-checkpoint-dir", ft}, []string{"-subset", "-train-percent", "-eval-subset"}},
		{[]string{"-checkpoint", damaged, "-weights", "freeze", "-lr-backbone", "0.1", "-checkpoint-dir", ft}, []string{"-lr-backbone", "freeze"}},
	} {
		refused(t, tc.args, tc.wants...)
	}
}

// TestMain runs the command itself in a child process of the test binary
// (TestInterruptedWriteLeavesNoTemporaryFile's, through cmdtest); the child's file writes stall
// after their first bytes, as a write of gigabytes of embeddings takes its time, so that the
// signal arrives during one.
func TestMain(m *testing.M) {
	cmdtest.Main(m, func(args []string) int {
		create := atomicfile.Create
		atomicfile.Create = func(dir, pattern string) (atomicfile.File, error) {
			f, err := create(dir, pattern)
			if err != nil {
				return nil, err
			}
			return &stallingFile{File: f}, nil
		}
		return run(args, os.Stdout, os.Stderr)
	})
}

// stallingFile writes its first bytes, then blocks: a long write, during which the signal comes.
type stallingFile struct{ atomicfile.File }

func (f *stallingFile) Write(p []byte) (int, error) {
	f.File.Write(p[:len(p)/2])
	select {}
}

// TestInterruptedWriteLeavesNoTemporaryFile: SIGINT while the embeddings are being written stops
// the command with a message and a failure status, and leaves no temporary file behind (for the
// embeddings of a large data set, gigabytes in a hidden file that nothing removes).
func TestInterruptedWriteLeavesNoTemporaryFile(t *testing.T) {
	dir := writeTinyRun(t, func(c *config.Config) { c.ImageSize = 12 }, 10)
	out := t.TempDir()
	cmd := cmdtest.Command("-checkpoint", dir, "-subset", "64", "-probe-epochs", "0", "-knn-k", "0",
		"-split", "train", "-embeddings", filepath.Join(out, "emb.npy"))
	var stderr, stdout bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	temps := func() []string {
		var names []string
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			if atomicfile.IsTemp(e.Name(), "") {
				names = append(names, e.Name())
			}
		}
		return names
	}
	// The write under way is a temporary file with bytes in it: the empty one that
	// atomicfile.CheckWritable makes and removes at the start, before the command handles signals,
	// is not it (a SIGINT then kills the command: this test failed so, now and then).
	writing := func() bool {
		for _, name := range temps() {
			if st, err := os.Stat(filepath.Join(out, name)); err == nil && st.Size() > 0 {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(3 * time.Minute); !writing(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no write began within 3 minutes:\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running a minute after SIGINT:\n%s", stderr.String())
	}
	if err == nil {
		t.Errorf("exit status 0 after SIGINT during the write")
	}
	if left := temps(); len(left) > 0 {
		t.Errorf("SIGINT during the write left %v in %s", left, out)
	}
	if !strings.Contains(stderr.String(), "evaluate: interrupted") {
		// An exit by the signal itself (not status 130) would mean that the handler was not ours.
		t.Errorf("the command does not say it was interrupted (%v); its output:\n%s%s", err, stdout.String(), stderr.String())
	}
}

// refusedBeforeWork runs the command with args and checks that it is a usage error (exit status
// 2) saying each of wants, before any image is embedded or trained on.
func refusedBeforeWork(t *testing.T, args []string, wants ...string) {
	t.Helper()
	o := evaluate(t, args...)
	if o.code != 2 {
		t.Errorf("%q: exit %d, want 2:\n%s%s", args, o.code, o.stdout, o.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(o.stderr, w) {
			t.Errorf("%q: the message does not say %q:\n%s", args, w, o.stderr)
		}
	}
	if strings.Contains(o.stderr, "done=") || strings.Contains(o.stdout, "wrote") {
		t.Errorf("%q: images were embedded or trained on before the refusal:\n%s%s", args, o.stdout, o.stderr)
	}
}

// TestSubsetLargerThanASplitRefused: -subset N larger than a split's images is a usage error
// naming the split, its size and -subset 0 (as train's -subset is), before any image is
// embedded; it silently used every image of the split.
func TestSubsetLargerThanASplitRefused(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5) // the synthetic set: 4096 images a split
	refusedBeforeWork(t, []string{"-checkpoint", dir, "-subset", "5000", "-probe-epochs", "1", "-knn-k", "0"},
		"-subset: 5000", "4096", "train split", "-subset 0")
	refusedBeforeWork(t, []string{"-checkpoint", dir, "-subset", "5000", "-probe-epochs", "0", "-knn-k", "0",
		"-split", "test", "-embeddings", filepath.Join(t.TempDir(), "e.npy")},
		"-subset: 5000", "4096", "test split", "-subset 0")
}

// TestEvalSubsetLargerThanTheTestSplitRefused: with -weights, -eval-subset N larger than the test
// split's images is a usage error naming the split, its size and -eval-subset 0, before any
// training; the run trained and evaluated on every test image.
func TestEvalSubsetLargerThanTheTestSplitRefused(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5) // the synthetic set: 4096 images a split
	refusedBeforeWork(t, []string{"-checkpoint", dir, "-weights", "freeze", "-eval-subset", "5000", "-epochs", "1", "-baseline=false",
		"-checkpoint-dir", filepath.Join(t.TempDir(), "ft")},
		"-eval-subset: 5000", "4096", "test split", "-eval-subset 0")
}

// TestKNNKLargerThanTheTrainingImages: -knn-k N more than the training images is a usage error
// naming them and the largest k, before the kNN or the probe runs; kNN voted with every training
// image and printed and recorded k=N. The default k on fewer images votes with all of them and
// says the k it used.
func TestKNNKLargerThanTheTrainingImages(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	o := evaluate(t, "-checkpoint", dir, "-subset", "10", "-probe-epochs", "1", "-knn-k", "20")
	for _, w := range []string{"-knn-k: 20", "10 training images", "-knn-k 10"} {
		if !strings.Contains(o.stderr, w) {
			t.Errorf("-knn-k 20 on 10 images: the message does not say %q:\n%s", w, o.stderr)
		}
	}
	if o.code != 2 || strings.Contains(o.stdout, "linear probe:") || strings.Contains(o.stdout, "kNN") {
		t.Errorf("-knn-k 20 on 10 images: exit %d, want 2 before the probe and kNN:\n%s%s", o.code, o.stdout, o.stderr)
	}
	path := filepath.Join(t.TempDir(), "result.json")
	o = evaluate(t, "-checkpoint", dir, "-subset", "10", "-probe-epochs", "0", "-result", path)
	if o.code != 0 || !strings.Contains(o.stdout, "kNN (k=10,") {
		t.Errorf("the default -knn-k on 10 images: exit %d, want 0 with kNN at k=10:\n%s%s", o.code, o.stdout, o.stderr)
	}
	if r, _ := readResult(t, path); r.KNNK != 10 {
		t.Errorf("result.json records knn_k %d, want the 10 used", r.KNNK)
	}
}

// setExifOrientation rewrites the JPEG at path with an EXIF segment (APP1, little-endian TIFF)
// that records orientation o, after its start-of-image marker.
func setExifOrientation(t *testing.T, path string, o uint16) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil || len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		t.Fatalf("%s: not a JPEG (%v)", path, err)
	}
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(o), byte(o >> 8), 0, 0, 0, 0, 0, 0}
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	out := append(append(append([]byte{}, data[:2]...), app1...), data[2:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A run trained with -exif-orientation is evaluated with its JPEGs turned as in training: the
// embeddings of a folder of JPEGs recorded as turned a quarter differ from those of the same run
// read as stored.
func TestEvaluateReadsTheRunsExifOrientation(t *testing.T) {
	root := t.TempDir()
	for _, split := range []string{"train", "val"} {
		for _, p := range datasetstest.WriteImageFolder(t, filepath.Join(root, split), []string{"a", "b"}, 4) {
			if strings.HasSuffix(p, ".jpg") {
				setExifOrientation(t, p, 6)
			}
		}
	}
	embeddings := func(orient bool) string {
		dir := writeTinyRun(t, func(c *config.Config) {
			c.Dataset, c.DataDir, c.ImageSize, c.ExifOrientation = "folder", root, 16, orient
		}, 3)
		emb := filepath.Join(t.TempDir(), "val.csv")
		if o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "0", "-knn-k", "0", "-embeddings", emb); o.code != 0 {
			t.Fatalf("exit status %d:\n%s", o.code, o.stderr)
		}
		data, err := os.ReadFile(emb)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	stored, turned := embeddings(false), embeddings(true)
	if stored == "" || turned == stored {
		t.Fatal("the run's exif_orientation does not change how evaluate reads its JPEGs")
	}
	// The PNGs, which have no EXIF data, are read alike: the rows of the even-numbered images.
	rows := func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
	a, b := rows(stored), rows(turned)
	if len(a) != len(b) || len(a) != 9 || a[1] != b[1] || a[2] == b[2] {
		t.Errorf("rows:\n%s\nand\n%s\nwant the PNG's (row 1) equal and the JPEG's (row 2) different", stored, turned)
	}
}

// TestLabelsFromMetadataTable: a folder whose labels come from a metadata.csv (the images flat in
// one subfolder, Hugging Face's imagefolder layout) evaluates as the same images in class folders
// do, with -label-column naming the column; without it the table is left aside, with a warning
// naming its columns (the images' folder is then one class, refused), and a table whose val/ labels are swapped scores otherwise (the negative control).
// A Kaggle-style table outside the folder (-label-table: ids without extensions, both splits in
// one table) scores as the class folders do. Fine-tuning reads the labels from the same column.
func TestLabelsFromMetadataTable(t *testing.T) {
	classes, table := t.TempDir(), t.TempDir()
	swapped, pooled := t.TempDir(), t.TempDir()
	// A Kaggle-style table outside the folder, for both splits: ids (no extension), then labels;
	// and one for both splits' images pooled in one folder, with fastai's is_valid column.
	var kaggle, pooledRows strings.Builder
	kaggle.WriteString("id,kind\n")
	pooledRows.WriteString("image,kind,is_valid\n")
	for _, split := range []string{"train", "val"} {
		var rows, swappedRows strings.Builder
		rows.WriteString("file_name,kind\n")
		swappedRows.WriteString("file_name,kind\n")
		for _, p := range datasetstest.WriteImageFolder(t, filepath.Join(classes, split), []string{"a", "b"}, 6) {
			class := filepath.Base(filepath.Dir(p))
			name := "pics/" + class + "_" + filepath.Base(p)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, root := range []string{table, swapped} {
				if err := os.MkdirAll(filepath.Join(root, split, "pics"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, split, filepath.FromSlash(name)), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			pooledName := split + "_" + name
			if err := os.MkdirAll(filepath.Join(pooled, split+"_pics"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(pooled, filepath.FromSlash(pooledName)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&pooledRows, "%s,%s,%v\n", pooledName, class, split == "val")
			fmt.Fprintf(&rows, "%s,%s\n", name, class)
			fmt.Fprintf(&kaggle, "%s,%s\n", strings.TrimSuffix(name, filepath.Ext(name)), class)
			other := map[string]string{"a": "b", "b": "a"}[class]
			if split == "train" {
				other = class
			}
			fmt.Fprintf(&swappedRows, "%s,%s\n", name, other)
		}
		for root, content := range map[string]string{table: rows.String(), swapped: swappedRows.String()} {
			if err := os.WriteFile(filepath.Join(root, split, "metadata.csv"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", classes, 16 }, 3)
	accuracies := func(extra ...string) (float64, float64) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "result.json")
		o := evaluate(t, append([]string{"-checkpoint", dir, "-probe-epochs", "3", "-knn-k", "3", "-result", out}, extra...)...)
		if o.code != 0 {
			t.Fatalf("%q: exit status %d:\n%s", extra, o.code, o.stderr)
		}
		r, _ := readResult(t, out)
		if r.LinearProbe == nil || r.KNN == nil {
			t.Fatalf("%q: no probe or kNN accuracy in the result", extra)
		}
		return *r.LinearProbe, *r.KNN
	}
	probe, knn := accuracies()
	probeTable, knnTable := accuracies("-data-dir", table, "-label-column", "kind")
	if probeTable != probe || knnTable != knn {
		t.Errorf("labels from the table: probe %g, kNN %g; want those of the class folders, %g and %g", probeTable, knnTable, probe, knn)
	}
	labelTable := filepath.Join(t.TempDir(), "train.csv")
	if err := os.WriteFile(labelTable, []byte(kaggle.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// The outside table takes the place of the folders' metadata.csv (column "kind" there too).
	if probeKaggle, knnKaggle := accuracies("-data-dir", table, "-label-table", labelTable); probeKaggle != probe || knnKaggle != knn {
		t.Errorf("labels from -label-table: probe %g, kNN %g; want those of the class folders, %g and %g", probeKaggle, knnKaggle, probe, knn)
	}
	// The images of both splits in one folder, split by the table's is_valid column.
	pooledTable := filepath.Join(t.TempDir(), "pooled.csv")
	if err := os.WriteFile(pooledTable, []byte(pooledRows.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if probePooled, knnPooled := accuracies("-data-dir", pooled, "-label-table", pooledTable, "-split-column", "is_valid"); probePooled != probe || knnPooled != knn {
		t.Errorf("one folder split by -split-column is_valid: probe %g, kNN %g; want those of train/ and val/, %g and %g", probePooled, knnPooled, probe, knn)
	}
	if _, knnSwapped := accuracies("-data-dir", swapped, "-label-column", "kind"); knnSwapped == knn {
		t.Errorf("val/ labels swapped: kNN %g, the same as with the right labels: the comparison above cannot fail", knnSwapped)
	}
	// One folder without val/ (the class folders of train/ alone): -val-percent holds out 25% of
	// each class (2 of 6) for the probe; without it, the probe is refused, suggesting it.
	flat := filepath.Join(classes, "train")
	if o := evaluate(t, "-checkpoint", dir, "-data-dir", flat, "-val-percent", "25", "-probe-epochs", "1", "-knn-k", "3"); o.code != 0 ||
		!strings.Contains(o.stdout, "folder: 8 train (100% of the labels) / 4 test images") ||
		!strings.Contains(o.stdout, "always the majority class (a, the most frequent in training): test 50.00%") {
		t.Errorf("-val-percent 25: exit %d; want 8 training and 4 test images, and the majority baseline (a tie: a, 50%%):\n%s%s", o.code, o.stdout, o.stderr)
	}
	if o := evaluate(t, "-checkpoint", dir, "-data-dir", flat, "-probe-epochs", "1"); o.code != 2 || !strings.Contains(o.stderr, "no held-out images") || !strings.Contains(o.stderr, "-val-percent 10") {
		t.Errorf("no val/, no -val-percent: exit %d; want 2, suggesting -val-percent:\n%s", o.code, o.stderr)
	}
	o := evaluate(t, "-checkpoint", dir, "-data-dir", table, "-probe-epochs", "1")
	if o.code != 2 || !strings.Contains(o.stderr, `the metadata table has no "label" column`) || !strings.Contains(o.stderr, "columns=file_name,kind") {
		t.Errorf("without -label-column: exit %d, want 2 and a warning that the table has no label column, naming its columns:\n%s", o.code, o.stderr)
	}
	o = evaluate(t, "-checkpoint", dir, "-data-dir", table, "-label-column", "kind", "-weights", "freeze", "-epochs", "1",
		"-baseline=false", "-checkpoint-dir", t.TempDir())
	if o.code != 0 || !strings.Contains(o.stdout, "top-1") {
		t.Errorf("-weights freeze -label-column kind: exit %d:\n%s%s", o.code, o.stdout, o.stderr)
	}
}

// TestLabelsOfTheRun: evaluating on the encoder's own data set reads its labels and splits as the
// run did (its -label-column, -label-table and -val-percent); on another data set, none; given for
// a data set with its own labels and splits, each is refused, naming the flag.
func TestLabelsOfTheRun(t *testing.T) {
	run := config.Config{Dataset: "folder", DataDir: "/photos", LabelColumn: "kind", LabelTable: "/photos.csv", ValPercent: 10}
	f := &flags{set: map[string]bool{}}
	if _, _, _, err := f.dataOf(run); err != nil || f.labelColumn != "kind" || f.labelTable != "/photos.csv" || f.valPercent != 10 {
		t.Errorf("the run's data set: label column %q, table %q, held out %g%% (%v); want the run's, kind, /photos.csv and 10%%", f.labelColumn, f.labelTable, f.valPercent, err)
	}
	f = &flags{dataset: "mnist", set: map[string]bool{"dataset": true}}
	if _, _, _, err := f.dataOf(run); err != nil || f.labelColumn != "" || f.labelTable != "" || f.valPercent != 0 {
		t.Errorf("another data set: label column %q, table %q, held out %g%% (%v); want none", f.labelColumn, f.labelTable, f.valPercent, err)
	}
	// A run whose split column chose the held-out images passes it on; -val-percent given in its
	// place leaves it out (they exclude each other), as -split-column does a run's -val-percent.
	byColumn := config.Config{Dataset: "folder", DataDir: "/photos", LabelTable: "/photos.csv", SplitColumn: "fold=2"}
	f = &flags{set: map[string]bool{}}
	if _, _, _, err := f.dataOf(byColumn); err != nil || f.splitColumn != "fold=2" || f.valPercent != 0 {
		t.Errorf("a run split by a column: split column %q, held out %g%% (%v); want the run's fold=2", f.splitColumn, f.valPercent, err)
	}
	f = &flags{valPercent: 20, set: map[string]bool{"val-percent": true}}
	if _, _, _, err := f.dataOf(byColumn); err != nil || f.splitColumn != "" || f.valPercent != 20 {
		t.Errorf("-val-percent 20 for a run split by a column: split column %q, held out %g%% (%v); want no column, 20%%", f.splitColumn, f.valPercent, err)
	}
	f = &flags{splitColumn: "is_valid", set: map[string]bool{"split-column": true}}
	if _, _, _, err := f.dataOf(run); err != nil || f.splitColumn != "is_valid" || f.valPercent != 0 {
		t.Errorf("-split-column is_valid for a run with -val-percent 10: split column %q, held out %g%% (%v); want is_valid, none", f.splitColumn, f.valPercent, err)
	}
	// Of shards, the run's label member and class list are passed on; a member that cannot hold
	// labels is refused.
	shards := config.Config{Dataset: "shards", DataDir: "/shards", LabelColumn: "json:label", ClassNames: "/synsets.txt"}
	f = &flags{set: map[string]bool{}}
	if _, _, _, err := f.dataOf(shards); err != nil || f.labelColumn != "json:label" || f.classNames != "/synsets.txt" {
		t.Errorf("a run on shards labelled by json:label: label column %q, class list %q (%v); want the run's", f.labelColumn, f.classNames, err)
	}
	f = &flags{labelColumn: "webp", set: map[string]bool{"label-column": true}}
	if _, _, _, err := f.dataOf(shards); err == nil || !strings.Contains(err.Error(), `-label-column: "webp" is an image member's extension`) {
		t.Errorf("-label-column webp for shards: %v; want it refused", err)
	}
	for _, flag := range []string{"label-column", "label-table", "class-names", "val-percent", "split-column"} {
		f = &flags{dataset: "mnist", set: map[string]bool{"dataset": true, flag: true}}
		switch flag {
		case "label-column":
			f.labelColumn = "x"
		case "label-table":
			f.labelTable = "x"
		case "class-names":
			f.classNames = "x"
		case "split-column":
			f.splitColumn = "fold=1"
		default:
			f.valPercent = 10
		}
		if _, _, _, err := f.dataOf(run); err == nil || !strings.Contains(err.Error(), "-"+flag) || !strings.Contains(err.Error(), "mnist has its own") {
			t.Errorf("-%s with -dataset mnist: %v; want it refused, naming the flag", flag, err)
		}
	}
}

// TestTestSplit: -test-split test scores the images of test/ where val/ is scored by default,
// recording it in -result; an unknown value is a usage error.
func TestTestSplit(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"a", "b"}, 6)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"a", "b"}, 2)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "test"), []string{"a", "b"}, 3)
	dir := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 }, 3)
	for _, tc := range []struct {
		args      []string
		images    int
		testSplit string
	}{{nil, 4, ""}, {[]string{"-test-split", "test"}, 6, "test"}} {
		out := filepath.Join(t.TempDir(), "result.json")
		o := evaluate(t, append([]string{"-checkpoint", dir, "-probe-epochs", "1", "-knn-k", "3", "-result", out}, tc.args...)...)
		if o.code != 0 {
			t.Fatalf("%v: exit %d:\n%s", tc.args, o.code, o.stderr)
		}
		r, _ := readResult(t, out)
		if r.TestImages == nil || *r.TestImages != tc.images || r.TestSplit != tc.testSplit ||
			!strings.Contains(o.stdout, fmt.Sprintf("12 train (100%% of the labels) / %d test images", tc.images)) {
			t.Errorf("%v: %v test images, test_split %q; want %d, %q:\n%s", tc.args, r.TestImages, r.TestSplit, tc.images, tc.testSplit, o.stdout)
		}
	}
	// Fine-tuning scores test/ too, and records it in its configuration.
	ft := filepath.Join(t.TempDir(), "ft")
	if o := evaluate(t, "-checkpoint", dir, "-weights", "freeze", "-epochs", "1", "-baseline=false", "-test-split", "test", "-checkpoint-dir", ft); o.code != 0 {
		t.Fatalf("-weights freeze -test-split test: exit %d:\n%s", o.code, o.stderr)
	}
	res, err := results.ReadAs[results.Finetune](filepath.Join(ft, "result.json"))
	cfg, cerr := os.ReadFile(filepath.Join(ft, "config.json"))
	if err != nil || cerr != nil || res.TestImages != 6 || !strings.Contains(string(cfg), `"test_split":"test"`) {
		t.Errorf("fine-tuning with -test-split test: %v test images (%v, %v), config.json:\n%s\nwant test/'s 6, and test_split recorded", res, err, cerr, cfg)
	}
	if o := evaluate(t, "-checkpoint", dir, "-test-split", "holdout"); o.code != 2 || !strings.Contains(o.stderr, `-test-split: want val or test, got "holdout"`) {
		t.Errorf("-test-split holdout: exit %d, want 2 and a usage error:\n%s", o.code, o.stderr)
	}
}

// foldsRun writes a flat image folder of n images of each class (a letter of classes each), a
// label table beside it with their labels and their folds of 3 (datasets.Folds), and a tiny run
// trained on the folder, whose folder it returns.
func foldsRun(t *testing.T, classes string, n int) string {
	t.Helper()
	flat := t.TempDir()
	names, classNames := datasetstest.Flatten(t, flat, datasetstest.WriteImageFolder(t, t.TempDir(), strings.Split(classes, ""), n))
	labels := make([]int32, len(names))
	for i, c := range classNames {
		labels[i] = int32(strings.Index(classes, c))
	}
	fold, err := datasets.Folds(labels, len(classes), names, 3)
	if err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(t.TempDir(), "labels.csv")
	var rows strings.Builder
	rows.WriteString("file_name,label,fold\n")
	for i, name := range names {
		fmt.Fprintf(&rows, "%s,%s,%d\n", name, classes[labels[i]:labels[i]+1], fold[i])
	}
	if err := os.WriteFile(table, []byte(rows.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize, c.LabelTable = "folder", flat, 16, table }, 3)
}

// crossValidated evaluates a tiny run on n images of each class of classes (foldsRun) with
// -folds 3, and returns the flags common to its evaluations (the run, the probe's epochs and
// kNN's k), what it printed and its result.
func crossValidated(t *testing.T, classes string, n int) ([]string, output, results.Evaluate) {
	t.Helper()
	common := []string{"-checkpoint", foldsRun(t, classes, n), "-probe-epochs", "2", "-knn-k", "3"}
	out := filepath.Join(t.TempDir(), "cv.json")
	o := evaluate(t, append(common, "-folds", "3", "-result", out)...)
	if o.code != 0 {
		t.Fatalf("-folds 3: exit %d:\n%s", o.code, o.stderr)
	}
	r, _ := readResult(t, out)
	return common, o, r
}

// TestFoldsTop5: of more than 5 classes, each fold's top-5 accuracies are those of evaluating with
// the folds as a split column (-split-column fold=i), printed, and their mean and sample standard
// deviation recorded; of 5 or fewer (TestFolds), none.
func TestFoldsTop5(t *testing.T) {
	common, o, r := crossValidated(t, "abcdef", 3)
	cv := r.CrossValidation
	if cv == nil || len(cv.Folds) != 3 || cv.LinearProbeTop5 == nil || cv.KNNTop5 == nil {
		t.Fatalf("cross-validation %+v: want 3 folds and the top-5 accuracies' mean and sd", cv)
	}
	var probe, knn []float64
	for i, f := range cv.Folds {
		ri := filepath.Join(t.TempDir(), "fold.json")
		if o := evaluate(t, append(common, "-split-column", fmt.Sprintf("fold=%d", i), "-result", ri)...); o.code != 0 {
			t.Fatalf("-split-column fold=%d: exit %d:\n%s", i, o.code, o.stderr)
		}
		want, _ := readResult(t, ri)
		if want.LinearProbeTop5 == nil || !sameAcc(f.LinearProbeTop5, want.LinearProbeTop5) || !sameAcc(f.KNNTop5, want.KNNTop5) {
			t.Errorf("fold %d: top-5 probe %v, kNN %v; want those of -split-column fold=%d: %v, %v", i, f.LinearProbeTop5, f.KNNTop5, i, want.LinearProbeTop5, want.KNNTop5)
			continue
		}
		probe, knn = append(probe, *f.LinearProbeTop5), append(knn, *f.KNNTop5)
		if !strings.Contains(o.stdout, fmt.Sprintf("  fold %d (%d test images): linear probe %.2f%% (balanced %.2f%%, top-5 %.2f%%)", i+1, f.TestImages, 100**f.LinearProbe, 100**f.LinearProbeBalanced, 100**f.LinearProbeTop5)) {
			t.Errorf("fold %d's top-5 is not printed:\n%s", i+1, o.stdout)
		}
	}
	if len(probe) == 3 {
		m, sd := stat.MeanStdDev(probe, nil)
		km, ksd := stat.MeanStdDev(knn, nil)
		if math.Abs(cv.LinearProbeTop5.Mean-m) > 1e-12 || math.Abs(cv.LinearProbeTop5.SD-sd) > 1e-12 || math.Abs(cv.KNNTop5.Mean-km) > 1e-12 || math.Abs(cv.KNNTop5.SD-ksd) > 1e-12 {
			t.Errorf("top-5 mean ± sd: probe %+v, kNN %+v; want %g ± %g and %g ± %g", *cv.LinearProbeTop5, *cv.KNNTop5, m, sd, km, ksd)
		}
		if want := fmt.Sprintf("top-5 %.2f ± %.2f%%)", 100*m, 100*sd); !strings.Contains(o.stdout, want) {
			t.Errorf("printed:\n%s\nwant %q", o.stdout, want)
		}
	}
}

// TestFolds: -folds 3 cross-validates the probe and kNN on the training split: three stratified
// folds (datasets.Folds) of the labelled images, each scored exactly as evaluating with the
// folds as a split column (-split-column fold=i) scores it, with the mean and sample standard
// deviation over the folds printed and in -result. Contradicting flags are refused.
func TestFolds(t *testing.T) {
	common, o, r := crossValidated(t, "ab", 7)
	cv := r.CrossValidation
	if cv == nil || len(cv.Folds) != 3 || r.TrainImages == nil || *r.TrainImages != 14 || r.TestImages != nil || r.LinearProbe != nil {
		t.Fatalf("result %+v: want 3 folds of the 14 images, and no test split's figures", r)
	}
	if cv.LinearProbeTop5 != nil || cv.KNNTop5 != nil || cv.Folds[0].LinearProbeTop5 != nil || cv.Folds[0].KNNTop5 != nil {
		t.Errorf("2 classes: top-5 accuracies recorded: %+v", cv)
	}
	var probe, knn []float64
	foldPredictions := map[string][]string{} // each image's prediction by the run of -split-column fold=i that holds it out
	knnHits := map[string]float64{}          // each class's kNN hits over those runs
	for i, f := range cv.Folds {
		ri, pi := filepath.Join(t.TempDir(), "fold.json"), filepath.Join(t.TempDir(), "fold.csv")
		if o := evaluate(t, append(common, "-split-column", fmt.Sprintf("fold=%d", i), "-result", ri, "-predictions", pi, "-class-probabilities", "-per-class")...); o.code != 0 {
			t.Fatalf("-split-column fold=%d: exit %d:\n%s", i, o.code, o.stderr)
		}
		want, _ := readResult(t, ri)
		for _, row := range readCSV(t, pi)[1:] { // file, label, predicted, probability, p_a, p_b
			foldPredictions[row[0]] = append(append(slices.Clone(row[:4]), strconv.Itoa(i+1)), row[4:]...)
		}
		for _, c := range want.PerClass {
			knnHits[c.Class] += *c.KNN * float64(c.TestImages)
		}
		if f.TestImages != *want.TestImages || !sameAcc(f.LinearProbe, want.LinearProbe) || !sameAcc(f.KNN, want.KNN) ||
			!sameAcc(f.LinearProbeBalanced, want.LinearProbeBalanced) || !sameAcc(f.KNNBalanced, want.KNNBalanced) {
			t.Errorf("fold %d: %d images, probe %v, kNN %v; want those of -split-column fold=%d: %d images, probe %v, kNN %v",
				i, f.TestImages, *f.LinearProbe, *f.KNN, i, *want.TestImages, *want.LinearProbe, *want.KNN)
		}
		probe, knn = append(probe, *f.LinearProbe), append(knn, *f.KNN)
		if !strings.Contains(o.stdout, fmt.Sprintf("  fold %d (%d test images): linear probe %.2f%%", i+1, f.TestImages, 100**f.LinearProbe)) {
			t.Errorf("fold %d is not printed:\n%s", i+1, o.stdout)
		}
	}
	mean := func(v []float64) float64 { return (v[0] + v[1] + v[2]) / 3 }
	sd := func(v []float64) float64 {
		m := mean(v)
		return math.Sqrt(((v[0]-m)*(v[0]-m) + (v[1]-m)*(v[1]-m) + (v[2]-m)*(v[2]-m)) / 2)
	}
	if math.Abs(cv.LinearProbe.Mean-mean(probe)) > 1e-12 || math.Abs(cv.LinearProbe.SD-sd(probe)) > 1e-12 ||
		math.Abs(cv.KNN.Mean-mean(knn)) > 1e-12 || math.Abs(cv.KNN.SD-sd(knn)) > 1e-12 {
		t.Errorf("mean ± sd: probe %+v, kNN %+v; want %g ± %g and %g ± %g", *cv.LinearProbe, *cv.KNN, mean(probe), sd(probe), mean(knn), sd(knn))
	}
	if want := fmt.Sprintf("mean ± sd over 3 folds: linear probe %.2f ± %.2f%%", 100*mean(probe), 100*sd(probe)); !strings.Contains(o.stdout, want) {
		t.Errorf("printed:\n%s\nwant %q", o.stdout, want)
	}
	// Out of fold: every labelled image predicted by the probe of the fold that holds it out, as
	// the run that holds out that fold predicts it; each class's recall, that of these predictions
	// (the probe's, counted here from the file; kNN's, from the runs' own per-class hits).
	oof, oofResult, oofFig := filepath.Join(t.TempDir(), "oof.csv"), filepath.Join(t.TempDir(), "oof.json"), filepath.Join(t.TempDir(), "oof.png")
	o = evaluate(t, append(common, "-folds", "3", "-per-class", "-predictions", oof, "-class-probabilities", "-result", oofResult, "-confusion", oofFig)...)
	if o.code != 0 {
		t.Fatalf("-folds 3 -per-class -predictions: exit %d:\n%s", o.code, o.stderr)
	}
	oofRows := readCSV(t, oof)
	if len(oofRows) != 15 || strings.Join(oofRows[0], ",") != "file,label,predicted,probability,fold,p_a,p_b" {
		t.Fatalf("%s: %v; want a header with a fold column and the 14 labelled images", oof, oofRows)
	}
	images, hits := map[string]int{}, map[string]int{}
	for _, row := range oofRows[1:] {
		if want := foldPredictions[row[0]]; !slices.Equal(row, want) {
			t.Errorf("out-of-fold prediction %v; want %v, that of the run holding out its fold", row, want)
		}
		images[row[1]]++
		if row[1] == row[2] {
			hits[row[1]]++
		}
	}
	r, _ = readResult(t, oofResult)
	checkConfusion(t, r.Confusion, oofFig, "", oofRows, o.stdout)
	if r.Predictions != oof || r.PredictionsImages == nil || *r.PredictionsImages != 14 || len(r.PerClass) != 2 {
		t.Fatalf("result %+v: want the predictions of 14 images and 2 classes' recalls", r)
	}
	for _, c := range r.PerClass {
		n := float64(images[c.Class])
		if c.TestImages != 7 || images[c.Class] != 7 || *c.LinearProbe != float64(hits[c.Class])/n || math.Abs(*c.KNN-knnHits[c.Class]/n) > 1e-12 {
			t.Errorf("class %s: %d images, probe %v, kNN %v; want 7, %d/7 and %v", c.Class, c.TestImages, *c.LinearProbe, *c.KNN, hits[c.Class], knnHits[c.Class]/n)
		}
	}
	if !strings.Contains(o.stdout, "per class, on the labelled images, each predicted by the fold that held it out") ||
		!strings.Contains(o.stdout, "wrote the linear probe's out-of-fold predictions of 14 images to "+oof) {
		t.Errorf("printed:\n%s\nwant the out-of-fold table and where the predictions went", o.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-folds", "1"}, "-folds: want 2 or more"},
		{[]string{"-folds", "3", "-predictions", oof, "-predict", t.TempDir()}, "-predict classifies new images with the probe trained on the training split; -folds trains one per fold"},
		{[]string{"-folds", "3", "-weights", "freeze"}, "-folds applies to the probe and kNN on frozen features (without -weights)"},
		{[]string{"-folds", "3", "-test-split", "test"}, "give it without -test-split test"},
		{[]string{"-folds", "3", "-train-percent", "10"}, "give it without -train-percent"},
		{[]string{"-folds", "15", "-probe-epochs", "1"}, "-folds: 15 folds of 14 labelled images"},
		{[]string{"-folds", "3", "-probe-epochs", "1", "-knn-k", "10"}, "-knn-k: 10 is more than the 9 training images of the smallest training fold (3 folds)"},
	} {
		if o := evaluate(t, append(slices.Clone(common[:2]), tc.args...)...); o.code != 2 || !strings.Contains(o.stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tc.args, o.code, tc.want, o.stderr)
		}
	}
}

// TestPredictionsOfShards: over tar shards, the probe's and a fine-tuned classifier's predictions
// and the embeddings' rows are named by each image's WebDataset key, which mkshards makes the
// image's path in its folder less its extension (datasets.ShardKey, here of val/'s files): a
// header "key", every held-out image once, each under its label's folder; a map of them names its
// points by key, and draws thumbnails of them.
func TestPredictionsOfShards(t *testing.T) {
	folders, shards := t.TempDir(), t.TempDir()
	var want []string // the keys of val/'s images
	for _, split := range []string{"train", "val"} {
		paths := datasetstest.WriteImageFolder(t, filepath.Join(folders, split), []string{"a", "b"}, map[string]int{"train": 6, "val": 3}[split])
		f, err := datasets.OpenFolder(filepath.Join(folders, split), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := datasets.WriteShards(f, filepath.Join(shards, split), datasets.ShardOptions{PerShard: 4}); err != nil {
			t.Fatal(err)
		}
		if split == "val" {
			for _, p := range paths {
				want = append(want, datasets.ShardKey(filepath.Join(folders, split), p))
			}
		}
	}
	slices.Sort(want)
	run := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "shards", shards, 16 }, 3)
	out, emb := filepath.Join(t.TempDir(), "p.csv"), filepath.Join(t.TempDir(), "e.npy")
	o := evaluate(t, "-checkpoint", run, "-probe-epochs", "2", "-knn-k", "0", "-predictions", out, "-embeddings", emb, "-split", "test")
	if o.code != 0 || !strings.Contains(o.stdout, "each row's WebDataset key is in "+eval.KeysFile(emb)) {
		t.Fatalf("exit %d:\n%s%s", o.code, o.stdout, o.stderr)
	}
	ft := filepath.Join(t.TempDir(), "ft.csv")
	if o := evaluate(t, "-checkpoint", run, "-weights", "freeze", "-epochs", "1", "-baseline=false", "-checkpoint-dir", filepath.Join(t.TempDir(), "ft"), "-predictions", ft); o.code != 0 {
		t.Fatalf("-weights freeze: exit %d:\n%s%s", o.code, o.stdout, o.stderr)
	}
	for _, path := range []string{out, ft} {
		rows := readCSV(t, path)
		var got []string
		for _, row := range rows[1:] {
			got = append(got, row[0])
			if !strings.HasPrefix(row[0], row[1]+"/") {
				t.Errorf("%s: row %v, want its key in its label's folder", path, row)
			}
		}
		slices.Sort(got)
		if strings.Join(rows[0], ",") != "key,label,predicted,probability" || !slices.Equal(got, want) {
			t.Errorf("%s: header %v, keys %v; want key first, and the keys %v", path, rows[0], got, want)
		}
	}
	// Class weights need each class's number of training images beforehand: a scan of the shards
	// counts them, and so does the index mkshards writes; an index without the counts does not.
	index := filepath.Join(shards, "train", "index.json")
	for _, dataDir := range []string{shards, index} {
		if o := evaluate(t, "-checkpoint", run, "-data-dir", dataDir, "-weights", "freeze", "-epochs", "1", "-baseline=false", "-checkpoint-dir", filepath.Join(t.TempDir(), "cw"), "-class-weight", "balanced"); o.code != 0 ||
			!strings.Contains(o.stderr, "class weights (balanced)") || !strings.Contains(o.stderr, "[1 1]") {
			t.Errorf("-class-weight balanced on shards by %s: exit %d, want 0 and the weights 1 and 1 logged:\n%s", dataDir, o.code, o.stderr)
		}
	}
	// Shards read without their labels (-label-column none, given or the run's) have no probe:
	// the refusal names the option.
	if o := evaluate(t, "-checkpoint", run, "-label-column", "none", "-probe-epochs", "1", "-knn-k", "0"); o.code != 2 ||
		!strings.Contains(o.stderr, "-label-column: none reads the shards without their labels") {
		t.Errorf("-label-column none: exit %d, want 2 and a refusal naming the option:\n%s", o.code, o.stderr)
	}
	raw, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "class_counts") // as widsindex writes it, or this toolkit before it counted classes
	uncounted, _ := json.Marshal(m)
	if err := os.WriteFile(index, uncounted, 0o644); err != nil {
		t.Fatal(err)
	}
	if o := evaluate(t, "-checkpoint", run, "-data-dir", index, "-weights", "freeze", "-epochs", "1", "-baseline=false", "-checkpoint-dir", filepath.Join(t.TempDir(), "cw2"), "-class-weight", "balanced"); o.code != 2 ||
		!strings.Contains(o.stderr, "class weights need each class's number of training images beforehand, which the index "+index+" does not record") ||
		!strings.Contains(o.stderr, "mkshards -index") {
		t.Errorf("-class-weight balanced on shards by an index without class counts: exit %d, want 2:\n%s", o.code, o.stderr)
	}
	if err := os.WriteFile(index, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// A map of shards names its points by key, and draws thumbnails of them (read in one pass).
	fig := filepath.Join(t.TempDir(), "map.svg")
	o = evaluate(t, "-checkpoint", run, "-probe-epochs", "0", "-knn-k", "0", "-map", fig, "-perplexity", "2")
	if rows := readCSV(t, embedmap.CoordinatesFile(fig)); o.code != 0 || len(rows) != 7 || rows[0][0] != "key" {
		t.Errorf("a map of shards: exit %d, coordinates %v; want the 6 images by key", o.code, rows)
	}
	mapResult := filepath.Join(t.TempDir(), "map.json")
	o = evaluate(t, "-checkpoint", run, "-probe-epochs", "0", "-knn-k", "0", "-map", fig, "-perplexity", "2", "-map-images", "3", "-result", mapResult)
	svg, _ := os.ReadFile(fig)
	if r, _ := readResult(t, mapResult); o.code != 0 || r.Map == nil || r.Map.Thumbnails != 3 || strings.Count(string(svg), "<image") != 3 {
		t.Errorf("-map-images 3 on shards: exit %d, %d images in the SVG; want 3:\n%s", o.code, strings.Count(string(svg), "<image"), o.stderr)
	}
	keys, err := os.ReadFile(eval.KeysFile(emb))
	if got := strings.Fields(string(keys)); err != nil || !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Errorf("%s: %q, %v; want the keys %v", eval.KeysFile(emb), keys, err, want)
	}
}

// TestClassWeight: -class-weight balanced trains the probe with class weights (eval's
// TestClassBalancedProbe checks what they do): on imbalanced training images its predictions
// differ from the plain probe's, it is named where its accuracy is printed, and the result records
// it; with -weights, the fine-tuned classifier's loss is weighted; a weighting it does not know,
// or no probe to weight, is refused.
func TestClassWeight(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"a"}, 9)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"x", "b"}, 2) // b: 2 images (x's go)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"a", "b"}, 2)
	if err := os.RemoveAll(filepath.Join(root, "train", "x")); err != nil {
		t.Fatal(err)
	}
	dir := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 }, 3)
	var probs [2][]string
	for k, weight := range []string{"", "balanced"} {
		out, result := filepath.Join(t.TempDir(), "p.csv"), filepath.Join(t.TempDir(), "r.json")
		o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "5", "-knn-k", "0", "-class-weight", weight, "-predictions", out, "-result", result)
		if o.code != 0 {
			t.Fatalf("-class-weight %q: exit %d:\n%s", weight, o.code, o.stderr)
		}
		r, _ := readResult(t, result)
		name := "linear probe: train "
		if weight != "" {
			name = "linear probe (balanced class weights): train "
		}
		if r.ClassWeight != weight || !strings.Contains(o.stdout, name) {
			t.Errorf("-class-weight %q: recorded %q, printed:\n%s\nwant %q", weight, r.ClassWeight, o.stdout, name)
		}
		for _, row := range readCSV(t, out)[1:] {
			probs[k] = append(probs[k], row[3])
		}
	}
	if len(probs[0]) != 4 || slices.Equal(probs[0], probs[1]) {
		t.Errorf("probabilities %v plain, %v balanced: want 4 each, not all equal", probs[0], probs[1])
	}
	// Fine-tuning: the run records the weighting in its config.json, and its first steps' loss,
	// the same images and initial weights, differs from the plain run's (trainer's
	// TestMaskedCrossEntropy checks the weighted loss itself).
	var losses [2]float64
	for k, weight := range []string{"", "balanced"} {
		ft := filepath.Join(t.TempDir(), "ft")
		if o := evaluate(t, "-checkpoint", dir, "-weights", "freeze", "-epochs", "1", "-baseline=false", "-checkpoint-dir", ft, "-class-weight", weight); o.code != 0 {
			t.Fatalf("-weights freeze -class-weight %q: exit %d:\n%s", weight, o.code, o.stderr)
		}
		data, err := os.ReadFile(filepath.Join(ft, config.FileName))
		if err != nil {
			t.Fatal(err)
		}
		var c finetune.Config
		if err := json.Unmarshal(data, &c); err != nil || c.ClassWeight != weight {
			t.Errorf("-class-weight %q: config.json records %q (%v)", weight, c.ClassWeight, err)
		}
		m, err := results.ReadMetrics(filepath.Join(ft, results.MetricsFileName))
		if err != nil || len(m[results.KeyLoss]) == 0 {
			t.Fatalf("-class-weight %q: metrics %v, %v", weight, m, err)
		}
		losses[k] = m[results.KeyLoss][0].Value
	}
	if losses[0] == losses[1] {
		t.Errorf("the first loss of the plain and the balanced fine-tuning: both %v, want them to differ", losses[0])
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-class-weight", "inverse"}, `-class-weight: unknown weighting "inverse": use balanced`},
		{[]string{"-class-weight", "balanced", "-probe-epochs", "0"}, "-class-weight weights the linear probe's training: give -probe-epochs above 0"},
	} {
		if o := evaluate(t, append([]string{"-checkpoint", dir}, tc.args...)...); o.code != 2 || !strings.Contains(o.stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tc.args, o.code, tc.want, o.stderr)
		}
	}
}

// checkConfusion checks a confusion matrix's record against the predictions of the same
// classifier (rows of a -predictions file, its header first: label in column 1, predicted class in
// column 2): each count is the number of rows of that label and prediction; the figure fig exists
// (in dir, for a run's, relative to its folder), and, where stdout is given (-confusion), its
// name and the most frequent confusion are printed.
func checkConfusion(t *testing.T, c *results.Confusion, fig, dir string, rows [][]string, stdout string) {
	t.Helper()
	if c == nil || c.Figure != fig || len(c.Counts) != len(c.Classes) {
		t.Fatalf("confusion %+v: want the counts and the figure %s", c, fig)
	}
	want := make([][]int, len(c.Classes))
	for i := range want {
		want[i] = make([]int, len(c.Classes))
	}
	worst := [3]int{-1, -1, 0} // the first of the largest off-diagonal counts
	for _, row := range rows[1:] {
		want[slices.Index(c.Classes, row[1])][slices.Index(c.Classes, row[2])]++
	}
	for i := range want {
		if !slices.Equal(c.Counts[i], want[i]) {
			t.Fatalf("confusion counts %v, want %v (counted from the predictions)", c.Counts, want)
		}
		for j, n := range want[i] {
			if i != j && n > worst[2] {
				worst = [3]int{i, j, n}
			}
		}
	}
	if st, err := os.Stat(filepath.Join(dir, fig)); err != nil || st.Size() == 0 {
		t.Errorf("the confusion figure: %v", err)
	}
	line := "no confusions: every image's class predicted"
	if worst[2] > 0 {
		line = fmt.Sprintf("  %s -> %s: %d of ", c.Classes[worst[0]], c.Classes[worst[1]], worst[2])
	}
	if stdout != "" && (!strings.Contains(stdout, "confusion matrix on") || !strings.Contains(stdout, fig) || !strings.Contains(stdout, line)) {
		t.Errorf("printed:\n%s\nwant the figure's name and %q", stdout, line)
	}
}

// readCSV reads the CSV file at path.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// sameAcc reports whether two accuracies are both absent, or both present and equal.
func sameAcc(a, b *float64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// TestPerClass: -per-class prints and records each class's test images (counted here from the
// layout: 3 of a, 1 of b) and the recall of the probe and kNN, whose mean over the classes is the
// balanced accuracy (with -folds, see TestFolds).
func TestPerClass(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"a", "b"}, 6)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val", "tmp"), []string{"a", "b"}, 3)
	// val/: a's 3 images, and 1 of b's.
	for _, class := range []string{"a", "b"} {
		if err := os.Rename(filepath.Join(root, "val", "tmp", class), filepath.Join(root, "val", class)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(root, "val", "tmp")); err != nil {
		t.Fatal(err)
	}
	bs, _ := filepath.Glob(filepath.Join(root, "val", "b", "*"))
	for _, p := range bs[1:] {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	dir := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 }, 3)
	out := filepath.Join(t.TempDir(), "result.json")
	o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "2", "-knn-k", "3", "-per-class", "-result", out)
	if o.code != 0 {
		t.Fatalf("exit %d:\n%s", o.code, o.stderr)
	}
	r, _ := readResult(t, out)
	if len(r.PerClass) != 2 || r.PerClass[0].Class != "a" || r.PerClass[0].TestImages != 3 || r.PerClass[1].Class != "b" || r.PerClass[1].TestImages != 1 {
		t.Fatalf("per class %+v, want a with 3 test images and b with 1", r.PerClass)
	}
	a, b := r.PerClass[0], r.PerClass[1]
	if a.LinearProbe == nil || b.LinearProbe == nil || a.KNN == nil || b.KNN == nil ||
		(*a.LinearProbe+*b.LinearProbe)/2 != *r.LinearProbeBalanced || (*a.KNN+*b.KNN)/2 != *r.KNNBalanced {
		t.Errorf("recalls %+v and %+v; want their means to be the balanced accuracies %v and %v", a, b, *r.LinearProbeBalanced, *r.KNNBalanced)
	}
	for _, c := range r.PerClass {
		if line := fmt.Sprintf("  %-5s  %6d       %6.2f%%  %6.2f%%", c.Class, c.TestImages, 100**c.LinearProbe, 100**c.KNN); !strings.Contains(o.stdout, line) {
			t.Errorf("printed:\n%s\nwant the line %q", o.stdout, line)
		}
	}
	// Fine-tuning records the same per class in its result.json, and prints it with -per-class:
	// the mean of its recalls is its balanced accuracy.
	ft := filepath.Join(t.TempDir(), "ft")
	o = evaluate(t, "-checkpoint", dir, "-weights", "freeze", "-epochs", "1", "-checkpoint-dir", ft, "-per-class")
	if o.code != 0 {
		t.Fatalf("-weights freeze -per-class: exit %d:\n%s", o.code, o.stderr)
	}
	fr, err := results.ReadAs[results.Finetune](filepath.Join(ft, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if pc := fr.PerClass; len(pc) != 2 || pc[0].TestImages != 3 || pc[1].TestImages != 1 || pc[0].Recall == nil || pc[1].Recall == nil ||
		(*pc[0].Recall+*pc[1].Recall)/2 != *fr.Balanced {
		t.Errorf("fine-tuning per class %+v; want a's 3 and b's 1 test images, recalls whose mean is the balanced accuracy %v", pc, *fr.Balanced)
	} else if line := fmt.Sprintf("  a           3  %10s", fmt.Sprintf("%.2f%%", 100**pc[0].Recall)); !strings.Contains(o.stdout, "images  pretrained  from scratch") || !strings.Contains(o.stdout, line) {
		t.Errorf("printed:\n%s\nwant the per-class table of both runs, with the line %q", o.stdout, line)
	}
}

// TestPredictions: -predictions writes the probe's prediction of each test image (its file under
// the data folder, its label, the class predicted and its probability), right exactly as often as
// the probe's test accuracy says; with -predict DIR, of DIR's images instead, unlabelled: copies
// of the test images get the predictions the test images got. With -weights, the fine-tuned
// classifier's, also from a finished run resumed. Bad combinations are refused.
func TestPredictions(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"a", "b"}, 6)
	val := datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"a", "b"}, 3)
	dir := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 }, 3)
	out, result, fig := filepath.Join(t.TempDir(), "pred.csv"), filepath.Join(t.TempDir(), "r.json"), filepath.Join(t.TempDir(), "c.svg")
	o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "3", "-knn-k", "0", "-predictions", out, "-result", result, "-confusion", fig)
	if o.code != 0 {
		t.Fatalf("exit %d:\n%s", o.code, o.stderr)
	}
	r, _ := readResult(t, result)
	rows := readCSV(t, out)
	checkConfusion(t, r.Confusion, fig, "", rows, o.stdout)
	if len(rows) != 7 || strings.Join(rows[0], ",") != "file,label,predicted,probability" || r.PredictionsImages == nil || *r.PredictionsImages != 6 {
		t.Fatalf("%s: %v (result %+v); want a header and the 6 test images", out, rows, r)
	}
	right := 0
	byFile := map[string][]string{}
	for _, row := range rows[1:] {
		p, err := strconv.ParseFloat(row[3], 64)
		if _, serr := os.Stat(filepath.Join(root, row[0])); serr != nil || err != nil || p < 0.5 || p > 1 || !strings.HasPrefix(row[0], "val/"+row[1]+"/") {
			t.Errorf("row %v: want a file of val/ in its label's folder and a probability in [0.5, 1] (%v, %v)", row, serr, err)
		}
		if row[1] == row[2] {
			right++
		}
		byFile[filepath.Base(row[0])+row[1]] = row
	}
	if float64(right)/6 != *r.LinearProbe {
		t.Errorf("%d of 6 predictions right; want the probe's test accuracy %v", right, *r.LinearProbe)
	}
	// The test images again, in one unlabelled folder.
	flat := t.TempDir()
	datasetstest.Flatten(t, flat, val)
	out2 := filepath.Join(t.TempDir(), "pred.csv")
	if o := evaluate(t, "-checkpoint", dir, "-probe-epochs", "3", "-knn-k", "0", "-predictions", out2, "-predict", flat); o.code != 0 {
		t.Fatalf("-predict: exit %d:\n%s", o.code, o.stderr)
	}
	rows2 := readCSV(t, out2)
	if len(rows2) != 7 {
		t.Fatalf("-predict: %v, want the 6 images of the folder", rows2)
	}
	for _, row := range rows2[1:] {
		class, base, _ := strings.Cut(row[0], "_")
		want := byFile[base+class]
		if row[1] != "" || want == nil || row[2] != want[2] || row[3] != want[3] {
			t.Errorf("-predict: %v; want no label, and the prediction of %v", row, want)
		}
	}
	// A fine-tuned classifier's predictions: right as often as its top-1 says; resumed after its
	// last step (training nothing), the run classifies the folder, copies as their originals.
	ft, ftOut := filepath.Join(t.TempDir(), "ft"), filepath.Join(t.TempDir(), "ft.csv")
	tune := []string{"-checkpoint", dir, "-weights", "freeze", "-epochs", "1", "-baseline=false", "-checkpoint-dir", ft}
	if o := evaluate(t, append(tune, "-predictions", ftOut, "-class-probabilities")...); o.code != 0 || !strings.Contains(o.stdout, "wrote the fine-tuned classifier's predictions to "+ftOut) {
		t.Fatalf("-weights freeze -predictions: exit %d:\n%s%s", o.code, o.stdout, o.stderr)
	}
	res, err := results.ReadAs[results.Finetune](filepath.Join(ft, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	ftRows := readCSV(t, ftOut)
	right, ftByFile := 0, map[string][]string{}
	if strings.Join(ftRows[0], ",") != "file,label,predicted,probability,p_a,p_b" {
		t.Errorf("fine-tuned predictions with -class-probabilities: header %v", ftRows[0])
	}
	for _, row := range ftRows[1:] {
		pa, _ := strconv.ParseFloat(row[4], 64)
		pb, _ := strconv.ParseFloat(row[5], 64)
		if p := map[string]float64{"a": pa, "b": pb}[row[2]]; math.Abs(pa+pb-1) > 2e-6 || strconv.FormatFloat(p, 'f', 6, 64) != row[3] || p < math.Max(pa, pb) {
			t.Errorf("fine-tuned prediction %v: want class probabilities summing to 1, the predicted class's the largest and its probability", row)
		}
		if row[1] == row[2] {
			right++
		}
		ftByFile[filepath.Base(row[0])+row[1]] = row
	}
	if len(ftRows) != 7 || float64(right)/6 != *res.Top1 {
		t.Errorf("fine-tuned predictions %v: %d of 6 right; want the 6 test images, right as often as top-1 %v", ftRows, right, *res.Top1)
	}
	// Its confusion matrix, in result.json and drawn in the run's folder, is that of these predictions.
	checkConfusion(t, res.Confusion, "confusion.svg", ft, ftRows, "")
	if _, err := os.Stat(filepath.Join(ft, "confusion.png")); err != nil {
		t.Error(err)
	}
	ftOut2 := filepath.Join(t.TempDir(), "ft2.csv")
	if o := evaluate(t, append(tune, "-resume", "-predictions", ftOut2, "-predict", flat)...); o.code != 0 {
		t.Fatalf("-resume -predictions -predict: exit %d:\n%s", o.code, o.stderr)
	}
	for _, row := range readCSV(t, ftOut2)[1:] {
		class, base, _ := strings.Cut(row[0], "_")
		want := ftByFile[base+class]
		if row[1] != "" || want == nil || row[2] != want[2] || row[3] != want[3] {
			t.Errorf("the fine-tuned run resumed, -predict: %v; want no label, and the prediction of %v", row, want)
		}
	}
	// A labelled folder without held-out images: the probe trains on all of it to classify
	// -predict's images, unscored, saying so; the copies of its images get their own labels.
	labelled := filepath.Join(root, "train")
	out3 := filepath.Join(t.TempDir(), "pred.csv")
	o = evaluate(t, "-checkpoint", dir, "-data-dir", labelled, "-probe-epochs", "3", "-predictions", out3, "-predict", flat)
	if o.code != 0 || !strings.Contains(o.stderr, "no held-out images: the linear probe trains on every labelled image") ||
		!strings.Contains(o.stdout, "linear probe: train ") || !strings.Contains(o.stdout, "(12 images; no held-out images to score it on)") {
		t.Fatalf("-predict on a folder without held-out images: exit %d:\n%s%s", o.code, o.stdout, o.stderr)
	}
	if rows := readCSV(t, out3); len(rows) != 7 {
		t.Errorf("-predict without held-out images: %v, want the folder's 6 images", rows)
	}
	if o := evaluate(t, "-checkpoint", dir, "-data-dir", labelled, "-probe-epochs", "3"); o.code != 2 || !strings.Contains(o.stderr, "no held-out images") {
		t.Errorf("the same folder without -predict: exit %d, want 2 (no held-out images):\n%s", o.code, o.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-predict", flat}, "-predict names the images to classify: give -predictions FILE.csv too"},
		{[]string{"-class-probabilities"}, "-class-probabilities adds columns to -predictions' file: give -predictions FILE.csv too"},
		{[]string{"-predictions", filepath.Join(t.TempDir(), "p.txt")}, "the file name must end in .csv"},
		{[]string{"-predictions", filepath.Join(t.TempDir(), "p.csv"), "-probe-epochs", "0"}, "give -probe-epochs above 0"},
		{[]string{"-confusion", filepath.Join(t.TempDir(), "c.pdf")}, "the file name must end in .svg or .png"},
		{[]string{"-confusion", filepath.Join(t.TempDir(), "c.svg"), "-probe-epochs", "0"}, "-confusion draws the linear probe's confusion matrix: give -probe-epochs above 0"},
		{[]string{"-confusion", filepath.Join(t.TempDir(), "c.svg"), "-weights", "freeze"}, "-confusion applies to the probe and kNN on frozen features (without -weights): with -weights freeze it would be ignored; with -weights, each run draws its classifier's in its folder"},
		{[]string{"-confusion", filepath.Join(t.TempDir(), "missing", "c.svg")}, "does not exist: create it first"},
		{[]string{"-data-dir", labelled, "-confusion", filepath.Join(t.TempDir(), "c.svg"), "-predictions", filepath.Join(t.TempDir(), "p.csv"), "-predict", flat}, "no held-out images to draw the linear probe's confusion matrix on"},
	} {
		if o := evaluate(t, append([]string{"-checkpoint", dir}, tc.args...)...); o.code != 2 || !strings.Contains(o.stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tc.args, o.code, tc.want, o.stderr)
		}
	}
}

// TestMap: -map draws a t-SNE (or PCA) map of -split's embeddings, at most -map-points of them
// chosen by -seed, writes each image's coordinates beside it under its name and label (the class
// folder it is in), prints and records (-result) it with its trustworthiness; bad settings are
// refused before any work.
func TestMap(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"a", "b"}, 4)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"a", "b"}, 15)
	dir := writeTinyRun(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 }, 3)
	out := t.TempDir()
	fig, result := filepath.Join(out, "map.svg"), filepath.Join(out, "r.json")
	common := []string{"-checkpoint", dir, "-probe-epochs", "0", "-knn-k", "0", "-map", fig, "-result", result}
	o := evaluate(t, append(common, "-map-points", "24", "-perplexity", "5", "-seed", "3")...)
	if o.code != 0 || !strings.Contains(o.stdout, "the t-SNE map of 24 test images of the 30 (") || !strings.Contains(o.stdout, "; trustworthiness 0.") ||
		!strings.Contains(o.stdout, " at 5 neighbours): ") || !strings.Contains(o.stdout, "; each image's coordinates: "+filepath.Join(out, "map.csv")) {
		t.Fatalf("exit %d:\n%s%s", o.code, o.stdout, o.stderr)
	}
	rows := readCSV(t, filepath.Join(out, "map.csv"))
	if len(rows) != 25 || strings.Join(rows[0], ",") != "file,label,x,y" {
		t.Fatalf("map.csv: %v; want a header and 24 images", rows)
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		if class, _, ok := strings.Cut(strings.TrimPrefix(row[0], "val/"), "/"); !ok || !strings.HasPrefix(row[0], "val/") || class != row[1] || seen[row[0]] {
			t.Errorf("map.csv row %v: want a file of the val folder, once, labelled by its class folder", row)
		}
		seen[row[0]] = true
		for _, v := range row[2:] {
			if x, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(x) {
				t.Errorf("map.csv row %v: coordinate %q", row, v)
			}
		}
	}
	r, _ := readResult(t, result)
	if m := r.Map; m == nil || m.Figure != fig || m.Coordinates != filepath.Join(out, "map.csv") || m.Method != "t-SNE" || m.Split != "test" ||
		m.Images != 24 || m.Of != 30 || m.Perplexity != 5 || m.KL == nil || !(*m.KL > 0) || m.Variance != nil ||
		m.Trustworthiness == nil || !(*m.Trustworthiness > 0 && *m.Trustworthiness <= 1) || m.TrustNeighbours != 5 || m.Solver != "exact" || m.Angle != 0 {
		t.Errorf("result's map %+v", r.Map)
	}
	svg, err := os.ReadFile(fig)
	if err != nil {
		t.Fatal(err)
	}
	if doc, err := plottest.Parse(svg); err != nil {
		t.Errorf("%s: %v", fig, err)
	} else if _, ok := doc.Find("t-SNE of 24 of the 30 test images' embeddings"); !ok && !strings.Contains(string(svg), "t-SNE of 24 of the 30 test") {
		t.Errorf("%s has no title naming the images mapped", fig)
	}

	// -map-images draws thumbnails of that many of the images mapped.
	o = evaluate(t, append(common, "-map-points", "24", "-perplexity", "5", "-seed", "3", "-map-images", "5")...)
	r, _ = readResult(t, result)
	svg, _ = os.ReadFile(fig)
	if n := strings.Count(string(svg), "<image"); o.code != 0 || r.Map == nil || r.Map.Thumbnails != 5 || n != 5 {
		t.Errorf("-map-images 5: exit %d, map %+v, %d images in the SVG; want 5", o.code, r.Map, n)
	}
	if again := readCSV(t, filepath.Join(out, "map.csv")); fmt.Sprint(again) != fmt.Sprint(rows) {
		t.Error("thumbnails moved the map's points")
	}

	// -tsne-solver barnes-hut maps them by Barnes-Hut's gradient, and says so in the title.
	o = evaluate(t, append(common, "-map-points", "24", "-perplexity", "5", "-seed", "3", "-tsne-solver", "barnes-hut")...)
	r, _ = readResult(t, result)
	svg, _ = os.ReadFile(fig)
	if o.code != 0 || r.Map == nil || r.Map.Solver != "barnes-hut" || r.Map.Angle != 0.5 || r.Map.Images != 24 || !strings.Contains(string(svg), "Barnes-Hut, θ 0.5") {
		t.Errorf("-tsne-solver barnes-hut: exit %d, map %+v", o.code, r.Map)
	}
	if bh := readCSV(t, filepath.Join(out, "map.csv")); fmt.Sprint(bh[1][0]) != fmt.Sprint(rows[1][0]) || fmt.Sprint(bh) == fmt.Sprint(rows) {
		t.Error("-tsne-solver barnes-hut: want the same images at other places")
	}

	// The same seed maps the same images to the same places; PCA maps all of them, with the
	// shares of the variance.
	o = evaluate(t, append(common, "-map-points", "24", "-perplexity", "5", "-seed", "3")...)
	if again := readCSV(t, filepath.Join(out, "map.csv")); o.code != 0 || fmt.Sprint(again) != fmt.Sprint(rows) {
		t.Errorf("the same seed drew another map (exit %d)", o.code)
	}
	o = evaluate(t, append(common, "-map-method", "pca")...)
	r, _ = readResult(t, result)
	if m := r.Map; o.code != 0 || m == nil || m.Method != "PCA" || m.Images != 30 || m.Of != 30 || m.KL != nil || len(m.Variance) != 2 ||
		!(m.Variance[0] >= m.Variance[1] && m.Variance[1] > 0 && m.Variance[0]+m.Variance[1] <= 1+1e-9) {
		t.Errorf("-map-method pca: exit %d, map %+v", o.code, r.Map)
	}
	if rows := readCSV(t, filepath.Join(out, "map.csv")); len(rows) != 31 {
		t.Errorf("-map-method pca wrote %d rows, want the 30 images and a header", len(rows))
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-map", filepath.Join(out, "m.pdf")}, "-map: " + filepath.Join(out, "m.pdf") + ": the file name must end in .svg or .png"},
		{[]string{"-map", fig, "-map-method", "umap"}, `-map-method: unknown layout "umap": use tsne or pca`},
		{[]string{"-map", fig, "-map-points", "2"}, "-map-points: want 3 or more, got 2"},
		{[]string{"-map", fig, "-perplexity", "0.5"}, "-perplexity: want 1 or more, got 0.5"},
		{[]string{"-perplexity", "10"}, "-map-method, -map-points, -map-images, -perplexity and -tsne-solver shape the map that -map draws: give -map FILE.svg too"},
		{[]string{"-tsne-solver", "exact"}, "give -map FILE.svg too"},
		{[]string{"-map", fig, "-tsne-solver", "fft"}, `-tsne-solver: unknown solver "fft": use auto, exact or barnes-hut`},
		{[]string{"-map", fig, "-map-method", "pca", "-tsne-solver", "exact"}, "-perplexity and -tsne-solver are t-SNE's: -map-method pca has neither"},
		{[]string{"-map-images", "10"}, "give -map FILE.svg too"},
		{[]string{"-map", fig, "-map-images", "-1"}, "-map-images: want 0 or more, got -1"},
		{[]string{"-map", fig, "-map-method", "pca", "-perplexity", "10"}, "-perplexity and -tsne-solver are t-SNE's: -map-method pca has neither"},
		{[]string{"-map", fig, "-weights", "freeze"}, "-map draws the encoder's frozen features: give it without -weights"},
		{[]string{"-map", filepath.Join(out, "missing", "m.svg")}, "does not exist: create it first"},
		{[]string{"-map", fig, "-perplexity", "30"}, "-perplexity: 30 is not below the 30 images mapped: give -perplexity 10 or less"},
		{[]string{"-map", fig, "-map-points", "20", "-probe-epochs", "30"}, "-perplexity: 30 is not below the 20 images mapped: give -perplexity 6 or less"},
	} {
		if o := evaluate(t, append([]string{"-checkpoint", dir, "-probe-epochs", "0", "-knn-k", "0"}, tc.args...)...); o.code != 2 || !strings.Contains(o.stderr, tc.want) ||
			strings.Contains(o.stderr, "embedding") {
			t.Errorf("%v: exit %d, want 2 and %q, before any embedding:\n%s", tc.args, o.code, tc.want, o.stderr)
		}
	}
}
