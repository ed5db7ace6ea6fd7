package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/analysis"
	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/encoder/encodertest"
	"github.com/gomlx-ssl/vicreg/internal/cmdtest"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// writeTinyRun writes a tiny run (encodertest.WriteTinyRuns) with checkpoints at steps 10 and 20.
func writeTinyRun(t *testing.T) string {
	t.Helper()
	return writeTinyRuns(t, func(*config.Config) {})[0]
}

// writeTinyRuns writes one tiny run per edit, with checkpoints at steps 10 and 20.
func writeTinyRuns(t *testing.T, edits ...func(*config.Config)) []string {
	t.Helper()
	return encodertest.WriteTinyRuns(t, []int64{10, 20}, edits...)
}

// TestReport runs the command on a tiny run and checks every promised file and JSON key.
func TestReport(t *testing.T) {
	dir := writeTinyRun(t)
	out := filepath.Join(t.TempDir(), "report")
	args := []string{"-checkpoints", dir, "-out", out, "-anchors", "3", "-views", "12", "-components", "2", "-projections", "2",
		"-scales", "0.1,1", "-noise-levels", "0.05,0.5", "-null-draws", "99", "-directions", "2", "-noise-samples", "3", "-entropy-images", "24", "-knn-k", "2", "-chunk", "16", "-seed", "3"}
	if code := run(args); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	for _, f := range analysis.ReportFiles {
		info, err := os.Stat(filepath.Join(out, f))
		if err != nil || info.Size() == 0 {
			t.Errorf("report file %s: %v", f, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, analysis.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report.json does not parse: %v", err)
	}
	for _, k := range []string{"options", "run", "backend", "models"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report.json has no key %q", k)
		}
	}
	// The timings name where they were measured, in report.json and under summary.md's table.
	if m, _ := rep["machine"].(map[string]any); rep["backend"] != backend.Name(backendtest.Backend(t)) || m == nil || m["cpu"] != cpuinfo.Describe() {
		t.Errorf("report.json: backend %v, machine %v; want %s on %s", rep["backend"], rep["machine"], backend.Name(backendtest.Backend(t)), cpuinfo.Describe())
	}
	if summary, _ := os.ReadFile(filepath.Join(out, analysis.ReportSummary)); !strings.Contains(string(summary), "Measured on "+backend.Name(backendtest.Backend(t))+": "+cpuinfo.Describe()+".") {
		t.Errorf("summary.md does not say where it was measured:\n%s", summary)
	}
	ms, _ := rep["models"].([]any)
	if len(ms) != 3 {
		t.Fatalf("%d models in the report, want 3 (baseline and two checkpoints)", len(ms))
	}
	for i, want := range []float64{0, 10, 20} {
		m := ms[i].(map[string]any)
		if m["step"] != want {
			t.Errorf("model %d: step %v, want %v", i, m["step"], want)
		}
		for _, path := range [][]string{
			{"label"}, {"seconds"},
			{"gaussianity", "pass_skew", "fraction"}, {"gaussianity", "pass_kurt", "ci_lo"}, {"gaussianity", "pass_proj", "ci_hi"},
			{"gaussianity", "pass_all", "n"}, {"gaussianity", "per_anchor"}, {"gaussianity", "degenerate"},
			{"entropy", "gaussian"}, {"entropy", "logdet"}, {"entropy", "pairwise_bhattacharyya"}, {"entropy", "pairwise_kl"},
			{"entropy", "knn"}, {"entropy", "mutual_info_gaussian"}, {"entropy", "logdet_covariance"}, {"entropy", "sum_log_variance"},
		} {
			var v any = m
			for _, k := range path {
				obj, ok := v.(map[string]any)
				if !ok {
					v = nil
					break
				}
				v, ok = obj[k]
				if !ok {
					t.Errorf("model %d: no key %s", i, strings.Join(path, "."))
				}
			}
		}
		sw, _ := m["noise_sweep"].(map[string]any)
		lvs, _ := sw["levels"].([]any)
		if len(lvs) != 2 || sw["test"] == nil || sw["input_std"] == nil {
			t.Errorf("model %d: noise sweep %v, want 2 levels, the test and the input std", i, sw)
		} else if lv := lvs[1].(map[string]any); lv["sigma"] != 0.5 || lv["p"].(map[string]any)["mean"] == nil || len(lv["per_anchor"].([]any)) != 3 {
			t.Errorf("model %d: level %v", i, lv)
		}
		aff, _ := m["affinity"].([]any)
		if len(aff) != 2 {
			t.Errorf("model %d: %d affinity scales, want 2", i, len(aff))
		}
		for _, a := range aff {
			s := a.(map[string]any)["summary"].(map[string]any)
			if _, ok := s["median"]; !ok {
				t.Errorf("model %d: affinity summary without a median: %v", i, s)
			}
		}
		if pa := m["gaussianity"].(map[string]any)["pass_all"].(map[string]any); pa["n"] != 3.0 {
			t.Errorf("model %d: pass_all over %v anchors, want 3", i, pa["n"])
		}
	}
	// Both checkpoints hold the same variables: same numbers, except the timing.
	a, b := ms[1].(map[string]any), ms[2].(map[string]any)
	ea, _ := json.Marshal(a["entropy"])
	eb, _ := json.Marshal(b["entropy"])
	if string(ea) != string(eb) {
		t.Errorf("same variables, different entropies:\n%s\n%s", ea, eb)
	}
	summary, _ := os.ReadFile(filepath.Join(out, analysis.ReportSummary))
	for _, want := range []string{"A1", "A2", "A3", "Verdict", "random init", "ckpt-000000020" + checkpoints.Ext, "under input noise", "falls with σ"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary.md does not mention %q", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(file, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no checkpoints", nil},
		{"missing folder", []string{"-checkpoints", filepath.Join(empty, "nope")}},
		{"bad alpha", []string{"-checkpoints", empty, "-alpha", "2"}},
		{"bad scales", []string{"-checkpoints", empty, "-scales", "0.1,x"}},
		{"negative scale", []string{"-checkpoints", empty, "-scales", "-1"}},
		{"too few views", []string{"-checkpoints", empty, "-views", "5"}},
		{"extra argument", []string{"-checkpoints", empty, "extra"}},
		{"unknown flag", []string{"-frobnicate"}},
		{"empty folder", []string{"-checkpoints", empty, "-out", filepath.Join(empty, "out")}},
		{"comma list to -checkpoints", []string{"-checkpoints", empty + "," + empty}},
		{"two modes", []string{"-checkpoints", empty, "-compare", empty}},
		{"compare without levels", []string{"-compare", empty, "-noise-levels", "none"}},
		{"compare missing folder", []string{"-compare", empty + "," + filepath.Join(empty, "nope")}},
		{"bad noise level", []string{"-checkpoints", empty, "-noise-levels", "0.1,-2"}},
		{"noise levels not increasing", []string{"-checkpoints", empty, "-noise-levels", "0.8,0.01"}},
		{"few null draws", []string{"-checkpoints", empty, "-null-draws", "5"}},
		// A report folder that cannot be made is refused before the work (a short calibration
		// would otherwise run and then fail to write, exit 1).
		{"-out under a file", []string{"-calibrate", "-out", filepath.Join(file, "x"), "-cal-reps", "10", "-cal-dim", "4", "-views", "12", "-components", "2", "-null-draws", "99"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "empty folder" {
				backendtest.Backend(t)
			}
			if code := run(tc.args); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
		})
	}
	if _, err := os.Stat("analysis-report"); err == nil {
		t.Error("a usage error created the default report folder analysis-report")
		os.RemoveAll("analysis-report")
	}
}

var tinyArgs = []string{"-anchors", "3", "-views", "12", "-components", "2", "-noise-levels", "0.05,0.5", "-null-draws", "99",
	"-entropy-images", "24", "-chunk", "16", "-seed", "3"}

// TestCompare compares two tiny runs of two objectives and seeds: one curve per run, labelled by
// objective and seed, in the table and on the figure; the same weights give the same p-values.
func TestCompare(t *testing.T) {
	runs := writeTinyRuns(t, func(*config.Config) {}, func(c *config.Config) { c.Loss, c.Seed = "simclr", 3 })
	a, b := runs[0], runs[1]
	out := filepath.Join(t.TempDir(), "cmp")
	if code := run(append([]string{"-compare", a + "," + b, "-out", out, "-no-baseline"}, tinyArgs...)); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	for _, f := range analysis.ComparisonFiles {
		if info, err := os.Stat(filepath.Join(out, f)); err != nil || info.Size() == 0 {
			t.Errorf("comparison file %s: %v", f, err)
		}
	}
	data, _ := os.ReadFile(filepath.Join(out, analysis.ReportJSON))
	var cmp analysis.Comparison
	if err := json.Unmarshal(data, &cmp); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if cmp.Machine == nil || cmp.Machine.CPU != cpuinfo.Describe() || cmp.Backend != backend.Name(backendtest.Backend(t)) {
		t.Errorf("comparison: backend %q, machine %+v; want %s on %s", cmp.Backend, cmp.Machine, backend.Name(backendtest.Backend(t)), cpuinfo.Describe())
	}
	if len(cmp.Runs) != 2 || cmp.Runs[0].Label != "vicreg seed 7" || cmp.Runs[1].Label != "simclr seed 3" || cmp.Runs[0].Step != 20 {
		t.Fatalf("runs: %+v", cmp.Runs)
	}
	p0, p1 := cmp.Runs[0].Sweep.Levels[1].PerAnchor, cmp.Runs[1].Sweep.Levels[1].PerAnchor
	for i := range p0 {
		if p0[i].P != p1[i].P {
			t.Errorf("anchor %d: same weights, p %g and %g: the runs are not measured on the same draws", i, p0[i].P, p1[i].P)
		}
	}
	summary, _ := os.ReadFile(filepath.Join(out, analysis.ReportSummary))
	for _, s := range []string{"vicreg seed 7", "simclr seed 3", "Verdicts"} {
		if !strings.Contains(string(summary), s) {
			t.Errorf("summary.md does not mention %q", s)
		}
	}
}

// TestCompareRefuses: runs whose encoder or data differ are refused with exit status 2, the
// message naming the field; objective and seed may differ (TestCompare). (The input size cannot
// differ between the augmentation presets on one data set today; analysis' TestSameEncoder
// checks that field.)
func TestCompareRefuses(t *testing.T) {
	cases := []struct {
		field string
		edit  func(*config.Config)
	}{
		{"width (model.width)", func(c *config.Config) { c.Model.Width = 4 }},
		{"stem (model.stem)", func(c *config.Config) { c.Model.Stem = "imagenet" }},
		{"data set (dataset)", func(c *config.Config) { c.Dataset = "mnist"; c.Model.InChannels = 1 }},
		{"image channels (model.in_channels)", func(c *config.Config) { c.Model.InChannels = 1 }},
		{"model architecture (model.arch)", func(c *config.Config) { c.Model.Arch = "resnet34" }},
		{"compute precision (precision)", func(c *config.Config) { c.Precision = "bf16" }},
	}
	edits := []func(*config.Config){func(*config.Config) {}}
	for _, tc := range cases {
		edits = append(edits, tc.edit)
	}
	dirs := writeTinyRuns(t, edits...)
	base := dirs[0]
	for i, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			other := dirs[i+1]
			var logs strings.Builder
			code := runLogged(append([]string{"-compare", base + "," + other, "-out", filepath.Join(t.TempDir(), "o"), "-no-baseline"}, tinyArgs...), &logs)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.Contains(logs.String(), tc.field) || !strings.Contains(logs.String(), "cannot be compared") {
				t.Errorf("the message does not name %q:\n%s", tc.field, logs.String())
			}
		})
	}
}

// TestCalibrate writes the calibration table of a small configuration.
func TestCalibrate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cal")
	if code := run([]string{"-calibrate", "-out", out, "-cal-reps", "50", "-cal-dim", "8", "-views", "16", "-components", "2", "-null-draws", "99"}); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	table, err := os.ReadFile(filepath.Join(out, analysis.CalibrationTable))
	if err != nil || !strings.Contains(string(table), "Bonferroni") || !strings.Contains(string(table), "KS p") {
		t.Errorf("calibration.md: %v\n%s", err, table)
	}
}

// TestReportOnFolderAndShards: the analysis of a run trained on an image folder of mixed sizes,
// and of one trained on shards of the same images, reads them from the data folders the runs
// recorded, and measures the same numbers on both (the shards hold the folder's images, in its
// order).
func TestReportOnFolderAndShards(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"cat", "dog"}, 8)
	shards := t.TempDir()
	f, err := datasets.OpenFolder(root, "val")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.WriteShards(f, filepath.Join(shards, "val"), datasets.ShardOptions{PerShard: 5, NoShuffle: true}); err != nil {
		t.Fatal(err)
	}
	runs := writeTinyRuns(t,
		func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 },
		func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "shards", shards, 16 })
	var entropies []string
	for i, dir := range runs {
		out := filepath.Join(t.TempDir(), "report")
		if code := run(append([]string{"-checkpoints", dir, "-out", out, "-no-baseline", "-last", "1"}, tinyArgs...)); code != 0 {
			t.Fatalf("run %d: exit status %d", i, code)
		}
		var rep analysis.Report
		data, _ := os.ReadFile(filepath.Join(out, analysis.ReportJSON))
		if err := json.Unmarshal(data, &rep); err != nil || len(rep.Models) != 1 {
			t.Fatalf("run %d: report.json: %v, %d models", i, err, len(rep.Models))
		}
		e, _ := json.Marshal(rep.Models[0].Entropy)
		entropies = append(entropies, string(e))
		// 16 test images for -entropy-images 24: the report says how many were measured, and
		// where they came from.
		want := []string{"16 test images drawn at random", "(16 images) from " + []string{root, shards}[i]}
		summary, _ := os.ReadFile(filepath.Join(out, analysis.ReportSummary))
		for _, w := range want {
			if !strings.Contains(string(summary), w) {
				t.Errorf("run %d: summary.md does not say %q", i, w)
			}
		}
		if rep.Data.EntropyImages != 16 || rep.Models[0].Entropy.N != 16 || rep.Data.Dir != []string{root, shards}[i] {
			t.Errorf("run %d: data %+v, entropy n %d: want 16 images measured, from the run's folder", i, rep.Data, rep.Models[0].Entropy.N)
		}
	}
	if entropies[0] != entropies[1] {
		t.Errorf("the same images from a folder and from shards, different entropies:\n%s\n%s", entropies[0], entropies[1])
	}
}

// TestDataUsageErrors: errors of the data given, found once it is opened, exit with status 2 and
// say what to do; the report folder made for the analysis is removed again.
func TestDataUsageErrors(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"cat", "dog"}, 2)
	moved := filepath.Join(t.TempDir(), "photos") // the folder a run recorded, since moved away
	marker := filepath.Join(t.TempDir(), "ran")
	runs := writeTinyRuns(t,
		func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 },
		func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", moved, 16 },
		func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "shards", "pipe:touch "+marker, 16 })
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"more anchors than images", []string{"-checkpoints", runs[0], "-anchors", "5"}, []string{"-anchors: 5 anchors requested", "4 images", "-anchors 4 or fewer"}},
		{"the run's data folder moved", []string{"-checkpoints", runs[1]}, []string{moved, "give the images' folder with -data-dir"}},
		{"a -data-dir that is not there", []string{"-checkpoints", runs[0], "-data-dir", moved}, []string{moved}},
		{"the run's shards came through a command", []string{"-checkpoints", runs[2]}, []string{"pipe:touch " + marker, "not run again unasked (give it with -data-dir to run it)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report")
			var logged strings.Builder
			if code := runLogged(append(tc.args, "-out", out, "-views", "12", "-components", "2", "-null-draws", "99"), &logged); code != 2 {
				t.Errorf("exit status %d, want 2:\n%s", code, logged.String())
			}
			for _, w := range tc.wants {
				if !strings.Contains(logged.String(), w) {
					t.Errorf("the log does not say %q:\n%s", w, logged.String())
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the report folder made for the failed analysis is still there (%v)", err)
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command recorded as the run's data_dir ran")
	}
}

// TestRunsShardCache: the analysis of a run on shards over HTTP reads its held-out shards through
// the shard cache the run recorded, when that folder exists here (a second analysis downloads
// nothing), and through -shard-cache when given.
func TestRunsShardCache(t *testing.T) {
	index, requests := datasetstest.ServeShards(t, []string{"cat", "dog"}, 3) // 3 shards a split
	recorded, given := t.TempDir(), t.TempDir()
	runs := writeTinyRuns(t, func(c *config.Config) {
		c.Dataset, c.DataDir, c.ImageSize, c.ShardCache = "shards", index, 16, recorded
	})
	small := []string{"-no-baseline", "-last", "1", "-anchors", "2", "-views", "12", "-components", "2", "-noise-levels", "none",
		"-scales", "0.1", "-directions", "2", "-noise-samples", "2", "-entropy-images", "4", "-chunk", "16"}
	for i, tc := range []struct {
		args []string
		want int // shard requests in all
	}{{nil, 3}, {nil, 3}, {[]string{"-shard-cache", given}, 6}, {[]string{"-shard-cache", given, "-shard-cache-size", "1MB"}, 6}} {
		var logged strings.Builder
		args := append([]string{"-checkpoints", runs[0], "-out", filepath.Join(t.TempDir(), "r")}, append(small, tc.args...)...)
		if code := runLogged(args, &logged); code != 0 {
			t.Fatalf("analysis %d: exit %d:\n%s", i+1, code, logged.String())
		}
		if got := requests(); got != tc.want {
			t.Errorf("analysis %d %v: %d shard requests in all, want %d", i+1, tc.args, got, tc.want)
		}
	}
	// -shard-cache-size set the limit of the folder, which keeps it.
	if n, err := datasets.ShardCacheLimit(given); n != 1e6 || err != nil {
		t.Errorf("-shard-cache-size 1MB: the folder's limit is %d (%v), want 1000000", n, err)
	}
	var logged strings.Builder
	if code := runLogged([]string{"-checkpoints", runs[0], "-shard-cache", given, "-shard-cache-size", "12X"}, &logged); code != 2 {
		t.Errorf("-shard-cache-size 12X: exit %d, want 2", code)
	}
	if n, _ := datasets.ShardCacheLimit(given); n != 1e6 {
		t.Errorf("-shard-cache-size 12X changed the folder's limit to %d", n)
	}
}

// TestBadTestImages: a test image that does not decode stops the analysis (exit 1, naming it)
// unless bad images are skipped, by -skip-bad-images or because the run was trained so; then the
// others are measured and the report counts the one left out.
func TestBadTestImages(t *testing.T) {
	root := t.TempDir()
	paths := datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"cat", "dog"}, 3)
	if err := os.WriteFile(paths[4], []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := writeTinyRuns(t,
		func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 },
		func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize, c.SkipBadImages = "folder", root, 16, true })
	small := []string{"-no-baseline", "-last", "1", "-anchors", "2", "-views", "12", "-components", "2", "-noise-levels", "none",
		"-scales", "0.1", "-directions", "2", "-noise-samples", "2", "-entropy-images", "24", "-chunk", "16"}
	var logged strings.Builder
	if code := runLogged(append([]string{"-checkpoints", runs[0], "-out", filepath.Join(t.TempDir(), "r")}, small...), &logged); code != 1 || !strings.Contains(logged.String(), paths[4]) {
		t.Errorf("a bad test image: exit %d, want 1 naming %s:\n%s", code, paths[4], logged.String())
	}
	for name, args := range map[string][]string{
		"-skip-bad-images":            {"-checkpoints", runs[0], "-skip-bad-images"},
		"a run trained skipping them": {"-checkpoints", runs[1]},
	} {
		out := filepath.Join(t.TempDir(), "r")
		logged.Reset()
		if code := runLogged(append(append(args, "-out", out), small...), &logged); code != 0 {
			t.Fatalf("%s: exit %d:\n%s", name, code, logged.String())
		}
		var rep analysis.Report
		data, _ := os.ReadFile(filepath.Join(out, analysis.ReportJSON))
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		if d := rep.Data; d.BadImages != 1 || d.EntropyImages != 5 || rep.Models[0].Entropy.N != 5 || d.Anchors+d.BadImages < 2 || !strings.Contains(logged.String(), paths[4]) {
			t.Errorf("%s: data %+v, entropy n %d: want the 5 good images measured, the bad one counted and logged:\n%s", name, d, rep.Models[0].Entropy.N, logged.String())
		}
	}
}

// TestDefaultAnchorsFitASmallSplit: without -anchors, a held-out split of 4 images (fewer than
// the default 64) is analysed with each image an anchor, and the log and report say so; the
// same number asked for is refused (TestDataUsageErrors).
func TestDefaultAnchorsFitASmallSplit(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"cat", "dog"}, 2)
	runs := writeTinyRuns(t, func(c *config.Config) { c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16 })
	out := filepath.Join(t.TempDir(), "report")
	var logged strings.Builder
	args := []string{"-checkpoints", runs[0], "-out", out, "-no-baseline", "-last", "1", "-views", "12", "-components", "2",
		"-noise-levels", "none", "-scales", "0.1", "-directions", "2", "-noise-samples", "2", "-entropy-images", "24", "-chunk", "16"}
	if code := runLogged(args, &logged); code != 0 || !strings.Contains(logged.String(), "every image is an anchor") {
		t.Fatalf("exit status %d, want 0 with a warning that every image is an anchor:\n%s", code, logged.String())
	}
	var rep analysis.Report
	data, _ := os.ReadFile(filepath.Join(out, analysis.ReportJSON))
	if err := json.Unmarshal(data, &rep); err != nil || rep.Data.Anchors != 4 {
		t.Errorf("report.json: %v, anchors %d, want 4", err, rep.Data.Anchors)
	}
}

// TestEstimatorFlagsRefused: an -estimators grid the estimators cannot measure is a usage error
// (exit status 2) before any work. A dimension or sample size of 0, or a sample of one point,
// panicked inside the estimators; a sample of 3 (the kNN estimator's k) or -est-reps 0 failed
// with exit 1 once the backend was up.
func TestEstimatorFlagsRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "estimators")
	for _, args := range [][]string{
		{"-est-dims", "0"},
		{"-est-ns", "0"},
		{"-est-ns", "1"},
		{"-est-ns", "3"},
		{"-est-reps", "0"},
	} {
		grid := []string{"-estimators", "-out", out, "-est-dims", "2", "-est-ns", "64", "-est-reps", "1", "-est-mc", "1000"}
		if code := run(append(grid, args...)); code != 2 {
			t.Errorf("%q: exit status %d, want 2", args, code)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused grid left the report folder %s", out)
	}
}

// TestCalibrationFlagsRefused: a -calibrate setting the calibration cannot run is a usage error
// naming the flag (exit status 2) that leaves no report folder behind; the folder was made
// (empty) before the check, whose message listed the whole configuration, not the flag.
func TestCalibrationFlagsRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "calibration")
	for _, args := range [][]string{
		{"-cal-reps", "5"},
		{"-cal-dim", "1", "-components", "2"},
		{"-views", "5", "-components", "2"},
	} {
		grid := []string{"-calibrate", "-out", out, "-cal-reps", "10", "-cal-dim", "4", "-views", "12", "-components", "2", "-null-draws", "99"}
		if code := run(append(grid, args...)); code != 2 {
			t.Errorf("%q: exit status %d, want 2", args, code)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%q: the refusal left the report folder %s", args, out)
			os.Remove(out)
		}
	}
}

// stderr runs f and returns what it wrote to os.Stderr (the commands' usage errors).
func stderr(t *testing.T, f func()) string {
	t.Helper()
	return cmdtest.Capture(t, &os.Stderr, f)
}

// TestOtherModesFlagsRefused: a flag the mode chosen does not read is a usage error naming it
// (exit status 2), before any work; each was accepted and ignored: -estimators -knn-k 5 measured
// the kNN estimator at k = 3, -compare -scales measured no affinity, -est-reps without
// -estimators changed nothing.
func TestOtherModesFlagsRefused(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	for _, tc := range []struct {
		args []string
		flag string
	}{
		// -est-dims 0, -cal-reps 1 and a folder without checkpoints are refused too, after the
		// flags are read: the refusal checked is the flag's.
		{[]string{"-estimators", "-est-dims", "0", "-knn-k", "5"}, "-knn-k"},
		{[]string{"-estimators", "-est-dims", "0", "-anchors", "8"}, "-anchors"},
		{[]string{"-calibrate", "-cal-reps", "1", "-scales", "0.1"}, "-scales"},
		{[]string{"-calibrate", "-cal-reps", "1", "-est-reps", "2"}, "-est-reps"},
		{[]string{"-checkpoints", tmp, "-est-reps", "2"}, "-est-reps"},
		{[]string{"-checkpoints", tmp, "-cal-dim", "8"}, "-cal-dim"},
		{[]string{"-compare", tmp + "," + tmp, "-scales", "0.1"}, "-scales"},
		{[]string{"-compare", tmp + "," + tmp, "-last", "1"}, "-last"},
		{[]string{"-compare", tmp + "," + tmp, "-knn-k", "5"}, "-knn-k"},
	} {
		var logs bytes.Buffer
		code := 0
		msg := stderr(t, func() { code = runLogged(append(tc.args, "-out", out), &logs) })
		if code != 2 || !strings.Contains(msg, tc.flag+" ") || !strings.Contains(msg, "ignored") {
			t.Errorf("%q: exit status %d, want 2 saying %s would be ignored:\n%s%s", tc.args, code, tc.flag, msg, logs.String())
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%q: the refusal left the report folder", tc.args)
			os.Remove(out)
		}
	}
}

// TestBadNumbersRefused: a NaN or infinite -input-noise, -anchor-jitter or -scales and a negative
// -last are usage errors naming the flag. Each was accepted: NaN "> 0" is false, so NaN input
// noise or jitter silently measured the run's augmentation or no jitter, an infinite scale gave
// NaN affinities, and -last -1 analysed every checkpoint. (The folder has no checkpoint: without
// the check the command stops there instead, also with status 2.)
func TestBadNumbersRefused(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-input-noise", "NaN"}, "-input-noise"},
		{[]string{"-anchor-jitter", "NaN"}, "-anchor-jitter"},
		{[]string{"-scales", "0.01,+Inf"}, "-scales"},
		{[]string{"-last", "-1"}, "-last"},
	} {
		var logs bytes.Buffer
		code := 0
		msg := stderr(t, func() {
			code = runLogged(append([]string{"-checkpoints", empty, "-out", filepath.Join(empty, "out")}, tc.args...), &logs)
		})
		if code != 2 || !strings.Contains(msg, tc.flag+":") {
			t.Errorf("%q: exit status %d, want 2 naming %s:\n%s%s", tc.args, code, tc.flag, msg, logs.String())
		}
	}
}

// pruneOnLine is a log writer that removes a file when a line containing a marker is logged: a
// trainer still running in the folder, whose retention deletes its oldest checkpoint while the
// analysis works through the list it read at the start.
type pruneOnLine struct {
	marker, path string
	done         bool
	log          strings.Builder
}

func (w *pruneOnLine) Write(p []byte) (int, error) {
	w.log.Write(p)
	if !w.done && strings.Contains(string(p), w.marker) {
		w.done = true
		os.Remove(w.path)
	}
	return len(p), nil
}

// TestCheckpointPrunedDuringTheAnalysis: checkpoints are read without a lock (a run may still be
// training into the folder, its retention deleting the oldest checkpoints); one deleted after the
// folder was listed is skipped with a warning naming it, and the others are analysed, rather than
// the whole analysis failing (as a usage error) after the work already done.
func TestCheckpointPrunedDuringTheAnalysis(t *testing.T) {
	dir := writeTinyRun(t)
	out := filepath.Join(t.TempDir(), "report")
	pruned := filepath.Join(dir, "ckpt-000000010"+checkpoints.Ext)
	w := &pruneOnLine{marker: "random init", path: pruned}
	args := []string{"-checkpoints", dir, "-out", out, "-anchors", "3", "-views", "12", "-components", "2", "-projections", "2",
		"-scales", "1", "-noise-levels", "none", "-directions", "2", "-noise-samples", "3", "-entropy-images", "24", "-knn-k", "2", "-chunk", "16"}
	if code := runLogged(args, w); code != 0 {
		t.Fatalf("exit status %d, want 0 (the remaining checkpoint analysed)\n%s", code, w.log.String())
	}
	if !w.done {
		t.Fatal("the baseline's line never came: the test did not prune")
	}
	if !strings.Contains(w.log.String(), pruned) {
		t.Errorf("the log does not name the checkpoint that disappeared, %s:\n%s", pruned, w.log.String())
	}
	data, err := os.ReadFile(filepath.Join(out, analysis.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Models []struct {
			Step int64 `json:"step"`
		} `json:"models"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Models) != 2 || rep.Models[1].Step != 20 {
		t.Errorf("report models %+v, want the baseline and step 20", rep.Models)
	}
}
