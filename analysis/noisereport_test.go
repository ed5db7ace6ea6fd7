package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/plot"
	"github.com/gomlx-ssl/vicreg/plot/plottest"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// syntheticSweep is a sweep over levels whose mean p falls from top by factor per level, with
// anchors p-values spread around it.
func syntheticSweep(levels []float64, top, factor float64) SweepResult {
	s := SweepResult{Test: TestName(5, 999), InputStd: 1, Anchors: 20, Copies: 32, Components: 5, NullDraws: 999, Alpha: 0.05}
	for i, sigma := range levels {
		lv := SweepLevel{Sigma: sigma, NoiseStd: sigma}
		centre := top * math.Pow(factor, float64(i))
		var ps []float64
		for a := range 20 {
			p := math.Min(1, centre*(0.5+float64(a)/19))
			ps = append(ps, p)
			lv.PerAnchor = append(lv.PerAnchor, NormalityResult{P: p, Components: 5})
		}
		lv.P = NewMeanInterval(ps, 0, 1)
		lv.MedianP = Summarize(ps).Median
		pass := 0
		for _, p := range ps {
			if p >= PaperLevel {
				pass++
			}
		}
		lv.PassPaper, lv.PassAlpha = NewProportion(pass, 20, 0.05), NewProportion(pass, 20, 0.05)
		s.Levels = append(s.Levels, lv)
	}
	return s
}

func parseSVG(t *testing.T, path string) *plottest.Doc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := plottest.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// dashedAt counts the dashed horizontal paths of a figure (the reference lines and their legend
// samples).
func dashed(doc *plottest.Doc) int {
	n := 0
	for _, p := range doc.Paths {
		if d := p.Style["stroke-dasharray"]; d != "" && d != "none" && len(p.Points) == 2 && p.Points[0][1] == p.Points[1][1] {
			n++
		}
	}
	return n
}

func TestComparisonFigure(t *testing.T) {
	levels := []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8}
	c := &Comparison{Dataset: "mnist", InputSize: 28, Backend: "test", Options: DefaultOptions()}
	c.Model.Arch, c.Model.Stem, c.Model.Width, c.Model.InChannels = "resnet18", "imagenet", 24, 1
	for i, r := range []struct {
		obj  string
		seed uint64
		top  float64
	}{{"vicreg", 0, 0.32}, {"simclr", 0, 0.19}, {"vicreg", 1, 0.30}} {
		sw := syntheticSweep(levels, r.top, 0.75)
		c.Runs = append(c.Runs, RunSweep{Label: fmt.Sprintf("%s seed %d", r.obj, r.seed), Objective: r.obj, Seed: r.seed, Step: int64(100 * i), Sweep: sw, Claims: sw.Claims()})
	}
	dir := t.TempDir()
	single := &Comparison{Dataset: c.Dataset, InputSize: 28, Model: c.Model, Runs: c.Runs[:2]}
	single.Objectives, _ = aggregateObjectives(c.Runs[:2])
	if len(single.Objectives) != 0 {
		t.Fatalf("one run per objective: %d aggregates, want none", len(single.Objectives))
	}
	if err := WriteComparison(dir, single); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, filepath.Join(dir, FigNoise))
	xs, ys := doc.TickLabels()
	if len(xs) <= 2 || len(ys) <= 2 {
		t.Errorf("tick labels: %d on x, %d on y; want more than two each", len(xs), len(ys))
	}
	for i := range single.Runs {
		if got := len(plottest.WithVertices(doc.Lines(plot.Colors[i]), len(levels))); got != 1 {
			t.Errorf("run %d: %d lines of %d vertices, want one", i, got, len(levels))
		}
		if got := len(plottest.WithVertices(doc.Fills(plot.Colors[i]), 2*len(levels))); got != 1 {
			t.Errorf("run %d: %d bands, want one", i, got)
		}
		if doc.Count(single.Runs[i].Label) != 1 {
			t.Errorf("legend entry %q appears %d times", single.Runs[i].Label, doc.Count(single.Runs[i].Label))
		}
	}
	if doc.Count("p = 0.01") != 1 || dashed(doc) < 1 {
		t.Errorf("the dashed line at 0.01: legend %d, dashed paths %d", doc.Count("p = 0.01"), dashed(doc))
	}
	// The dashed line lies at the height of the y tick "0.01".
	var tick01 *plottest.Text
	for i := range ys {
		if ys[i].S == "0.01" {
			tick01 = &ys[i]
		}
	}
	if tick01 == nil {
		t.Fatalf("no y tick label 0.01: %v", ys)
	}
	found := false
	for _, p := range doc.Paths {
		if d := p.Style["stroke-dasharray"]; d != "" && d != "none" && len(p.Points) == 2 && math.Abs(p.Points[0][1]-tick01.Y-tick01.Size/3) < tick01.Size {
			found = true
		}
	}
	if !found {
		t.Errorf("no dashed line at the height of the tick label 0.01 (y %.1f)", tick01.Y)
	}
	if _, err := os.Stat(filepath.Join(dir, FigNoisePNG)); err != nil {
		t.Error(err)
	}

	// Two seeds of VICReg: the aggregate panel, one line and band per objective with several runs.
	var notes []string
	c.Objectives, notes = aggregateObjectives(c.Runs)
	if len(c.Objectives) != 1 || c.Objectives[0].Objective != "vicreg" || len(c.Objectives[0].Runs) != 2 || len(notes) != 0 {
		t.Fatalf("aggregates: %+v, notes %q", c.Objectives, notes)
	}
	// The same seed twice (a copy of a run, or a resumed one) is no seed-to-seed variation: no
	// aggregate for that objective, and a note naming both runs.
	twice := append(slices.Clone(c.Runs[:2]), c.Runs[0])
	twice[2].Path, twice[0].Path = "runs/copy", "runs/vicreg"
	if objs, notes := aggregateObjectives(twice); len(objs) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "runs/vicreg and runs/copy have the same seed 0") {
		t.Errorf("two runs of seed 0: aggregates %+v, notes %q; want none and a note naming both", objs, notes)
	}
	want := (c.Runs[0].Sweep.Levels[3].P.Mean + c.Runs[2].Sweep.Levels[3].P.Mean) / 2
	if got := c.Objectives[0].Levels[3].P; math.Abs(got.Mean-want) > 1e-12 || !(got.Lo < got.Mean && got.Mean < got.Hi) {
		t.Errorf("aggregate at σ 0.1: %+v, want mean %g inside its interval", got, want)
	}
	dir2 := t.TempDir()
	if err := WriteComparison(dir2, c); err != nil {
		t.Fatal(err)
	}
	doc = parseSVG(t, filepath.Join(dir2, FigNoise))
	if got := len(plottest.WithVertices(doc.Fills(plot.Colors[0]), 2*len(levels))); got != 3 {
		t.Errorf("colour 0 (vicreg seeds 0 and 1, and the vicreg aggregate): %d bands, want 3", got)
	}
	if doc.Count("vicreg (2 runs)") != 1 || doc.Count("p = 0.01") != 2 {
		t.Errorf("aggregate legend %d, 0.01 lines %d", doc.Count("vicreg (2 runs)"), doc.Count("p = 0.01"))
	}
	summary, _ := os.ReadFile(filepath.Join(dir2, ReportSummary))
	for _, s := range []string{"vicreg seed 0", "simclr seed 0", "vicreg seed 1", "Per objective", "| vicreg | 2 |", "holds", "falls with σ"} {
		if !strings.Contains(string(summary), s) {
			t.Errorf("summary.md does not mention %q", s)
		}
	}
	var rep map[string]any
	data, _ := os.ReadFile(filepath.Join(dir2, ReportJSON))
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	runs := rep["runs"].([]any)
	lv := runs[0].(map[string]any)["sweep"].(map[string]any)["levels"].([]any)[0].(map[string]any)
	for _, k := range []string{"sigma", "noise_std", "p", "median_p", "pass_0_01", "pass_alpha", "per_anchor"} {
		if _, ok := lv[k]; !ok {
			t.Errorf("report.json: sweep level without %q", k)
		}
	}
	for _, k := range []string{"mean", "ci_lo", "ci_hi", "n"} {
		if _, ok := lv["p"].(map[string]any)[k]; !ok {
			t.Errorf("report.json: sweep level's p without %q", k)
		}
	}
	if _, ok := rep["objectives"]; !ok {
		t.Error("report.json has no objectives")
	}
}

// TestComparisonFigureManyRuns: past MaxNoiseBands runs, the runs of an objective share its colour
// (in both panels), only the per-objective panel has bands, and the baseline is grey and dashed.
func TestComparisonFigureManyRuns(t *testing.T) {
	levels := []float64{0.01, 0.05, 0.2, 0.8}
	c := &Comparison{Dataset: "mnist", InputSize: 28, Backend: "test", Options: DefaultOptions()}
	c.Model.Arch, c.Model.Width = "resnet18", 24
	objs := []string{"vicreg", "simclr", "barlow"}
	for seed := range uint64(2) {
		for i, obj := range objs {
			sw := syntheticSweep(levels, 0.3-0.05*float64(i)-0.01*float64(seed), 0.7)
			c.Runs = append(c.Runs, RunSweep{Label: fmt.Sprintf("%s seed %d", obj, seed), Objective: obj, Seed: seed, Sweep: sw})
		}
	}
	base := syntheticSweep(levels, 0.9, 0.99)
	c.Baseline = &RunSweep{Label: "random init", Sweep: base}
	c.Objectives, _ = aggregateObjectives(c.Runs)
	dir := t.TempDir()
	if err := WriteComparison(dir, c); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, filepath.Join(dir, FigNoise))
	for i, obj := range objs {
		// Two runs and the aggregate in the objective's colour; one band, the aggregate's.
		if got := len(plottest.WithVertices(doc.Lines(plot.Colors[i]), len(levels))); got != 3 {
			t.Errorf("%s: %d lines in its colour, want 3 (two seeds and the mean)", obj, got)
		}
		if got := len(plottest.WithVertices(doc.Fills(plot.Colors[i]), 2*len(levels))); got != 1 {
			t.Errorf("%s: %d bands, want 1 (the per-objective interval)", obj, got)
		}
	}
	grey := plottest.WithVertices(doc.Lines(baselineColor), len(levels))
	if len(grey) != 1 || grey[0].Style["stroke-dasharray"] == "" || grey[0].Style["stroke-dasharray"] == "none" {
		t.Errorf("baseline: %d grey lines, want one dashed", len(grey))
	}
	// The other branch: with one run per objective and few runs, every run has its own colour and band.
	few := &Comparison{Dataset: c.Dataset, Model: c.Model, Runs: c.Runs[:3]}
	if err := WriteComparison(dir, few); err != nil {
		t.Fatal(err)
	}
	doc = parseSVG(t, filepath.Join(dir, FigNoise))
	if got := len(plottest.WithVertices(doc.Fills(plot.Colors[1]), 2*len(levels))); got != 1 {
		t.Errorf("three runs: %d bands in the second colour, want 1 (simclr seed 0's own)", got)
	}
}

// TestClaimsFailing: a sweep whose mean p lies below 0.01 at large σ fails the first claim, and one
// that rises with σ fails the second.
func TestClaimsFailing(t *testing.T) {
	levels := []float64{0.01, 0.1, 0.8}
	v := syntheticSweep(levels, 0.2, 0.05).Claims() // 0.2, 0.01, 0.0005
	if v[0].Outcome != Fails || !strings.Contains(v[0].Detail, "0.8") || v[1].Outcome != Holds {
		t.Errorf("falling below 0.01: %+v", v)
	}
	v = syntheticSweep(levels, 0.1, 2).Claims()
	if v[0].Outcome != Holds || v[1].Outcome != Fails {
		t.Errorf("rising: %+v", v)
	}
}

// TestSameEncoder: every field that changes the encoder or its inputs is refused, by name; the
// objective, the seed and the recipe are not.
func TestSameEncoder(t *testing.T) {
	base := compared{path: "a", size: 28, cfg: config.Default()}
	ok := base
	ok.path, ok.cfg.Loss, ok.cfg.Seed, ok.cfg.LR, ok.cfg.Expander = "b", "simclr", 4, 1, "64-64"
	if err := sameEncoder(base, ok, false); err != nil {
		t.Errorf("objective, seed, learning rate and expander differ: %v", err)
	}
	bigger := base
	bigger.path, bigger.size = "b", 32
	err := sameEncoder(base, bigger, false)
	if !errors.Is(err, ErrNotComparable) || !strings.Contains(err.Error(), "image size") || !strings.Contains(err.Error(), "28 against 32") {
		t.Errorf("input size 28 against 32: %v", err)
	}
	// Runs on two image folders: refused (all would be measured on the first run's), unless
	// -data-dir names one folder to measure them all on.
	cats := base
	cats.cfg.Dataset, cats.cfg.DataDir = "folder", "/data/cats"
	xrays := cats
	xrays.path, xrays.cfg.DataDir = "b", "/data/chest-xrays"
	if err := sameEncoder(cats, xrays, false); !errors.Is(err, ErrNotComparable) || !strings.Contains(err.Error(), "-dataset folder in /data/cats and in /data/chest-xrays") {
		t.Errorf("runs on two folders: %v", err)
	}
	if err := sameEncoder(cats, xrays, true); err != nil {
		t.Errorf("runs on two folders with -data-dir: %v", err)
	}
	same := cats
	same.path = "b"
	if err := sameEncoder(cats, same, false); err != nil {
		t.Errorf("runs on one folder: %v", err)
	}
	upright := same
	upright.cfg.ExifOrientation = true
	if err := sameEncoder(cats, upright, false); !errors.Is(err, ErrNotComparable) || !strings.Contains(err.Error(), "exif_orientation") {
		t.Errorf("runs on one folder, one of them with its JPEGs turned upright: %v", err)
	}
}
