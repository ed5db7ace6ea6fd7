package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/analysis"
	"github.com/gomlx-ssl/vicreg/results"
)

// TestPairedTAgainstSciPy checks the paired t-test against scipy.stats.ttest_rel (SciPy 1.16) on
// five pairs: t = 2.2691267, p = 0.0858104, mean 0.22 points, 95% interval [-0.0491863, 0.4891863]
// (scipy.stats.t.ppf(0.975, 4) times the standard error).
func TestPairedTAgainstSciPy(t *testing.T) {
	a := map[int]float64{0: 0.981, 1: 0.976, 2: 0.984, 3: 0.979, 4: 0.983}
	b := map[int]float64{0: 0.978, 1: 0.977, 2: 0.980, 3: 0.975, 4: 0.982}
	m, lo, hi, p, n := pairedT(a, b)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"mean", m, 0.22}, {"lo", lo, -0.04918634023379009}, {"hi", hi, 0.4891863402337905}, {"p", p, 0.08581037844005122}} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %.12g, want %.12g (scipy)", c.name, c.got, c.want)
		}
	}
	if n != 5 {
		t.Errorf("pairs = %d, want 5", n)
	}
	if v := verdict(lo, hi, "VICReg"); v != "no difference detected" {
		t.Errorf("verdict = %q for an interval that contains 0", v)
	}
}

// TestPairedTPairsBySeed: only the seeds both objectives finished are paired, each with its own
// seed. Pairing by position (seed 0 of one with seed 1 of the other) would give a mean of +20.
func TestPairedTPairsBySeed(t *testing.T) {
	a := map[int]float64{0: 0.9, 1: 0.8, 2: 0.7}
	b := map[int]float64{1: 0.7, 2: 0.65, 3: 0.1}
	m, _, _, _, n := pairedT(a, b)
	if n != 2 || math.Abs(m-7.5) > 1e-9 {
		t.Fatalf("pairedT = %.4g over %d pairs, want 7.5 over 2 (seeds 1 and 2)", m, n)
	}
	if m, lo, _, _, n := pairedT(a, map[int]float64{2: 0.5}); n != 1 || !math.IsNaN(m) || !math.IsNaN(lo) {
		t.Fatalf("one pair gave %g [%g] over %d pairs, want NaN", m, lo, n)
	}
}

func writeResult(t *testing.T, dir string, r results.Pretrain) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.Kind = results.KindPretrain
	if err := results.Write(filepath.Join(dir, results.File), r); err != nil {
		t.Fatal(err)
	}
}

// TestBudgetsAndFigure reads finished runs by seed and label budget, skips unfinished ones and
// runs of another objective with the same prefix, and draws one curve per objective.
func TestBudgetsAndFigure(t *testing.T) {
	dir := t.TempDir()
	low := func(l1, l10 float64) []results.LowLabel {
		return []results.LowLabel{{Percent: 1, Images: 600, Linear: l1, KNN: l1 - 0.01}, {Percent: 10, Images: 6000, Linear: l10, KNN: l10 - 0.01}}
	}
	writeResult(t, filepath.Join(dir, "vicreg-seed0"), results.Pretrain{Linear: results.Acc(0.98), KNN: results.Acc(0.97), LowLabel: low(0.90, 0.95)})
	writeResult(t, filepath.Join(dir, "vicreg-seed3"), results.Pretrain{Linear: results.Acc(0.96), KNN: results.Acc(0.95), LowLabel: low(0.88, 0.93)})
	writeResult(t, filepath.Join(dir, "vicreg-logdet-seed0"), results.Pretrain{Linear: results.Acc(0.5), KNN: results.Acc(0.5)})
	if err := os.MkdirAll(filepath.Join(dir, "vicreg-seed1"), 0o755); err != nil { // unfinished
		t.Fatal(err)
	}
	acc, err := budgets(dir, "vicreg")
	if err != nil {
		t.Fatal(err)
	}
	if acc.seeds != 2 {
		t.Fatalf("seeds = %d, want 2 (0 and 3; 1 is unfinished, vicreg-logdet is another objective)", acc.seeds)
	}
	if got := acc.linear["100%"][3]; got != 0.96 {
		t.Errorf("linear 100%% seed 3 = %g, want 0.96", got)
	}
	if got := acc.knn["1%"][0]; math.Abs(got-0.89) > 1e-12 {
		t.Errorf("kNN 1%% seed 0 = %g, want 0.89", got)
	}
	fig := accuracyFigure("t", map[string]accuracies{"vicreg": acc}, []string{"vicreg", "simclr"})
	if fig == nil || len(fig.Panels) != 2 {
		t.Fatalf("figure = %+v, want two panels", fig)
	}
	s := fig.Panels[0].Series
	if len(s) != 1 || len(s[0].X) != 3 || s[0].X[0] != 1 || s[0].X[2] != 100 {
		t.Fatalf("linear panel series = %+v, want one curve at 1, 10, 100%%", s)
	}
	// Mean of 98 and 96 at 100%, with a t-interval of half-width 12.706 * 1 around it.
	if math.Abs(s[0].Y[2]-97) > 1e-9 || math.Abs(s[0].Lo[2]-(97-12.706204736174705)) > 1e-6 || s[0].Hi[2] != 100 {
		t.Errorf("100%% point = %g [%g, %g], want 97 [84.29, 100 (clipped)]", s[0].Y[2], s[0].Lo[2], s[0].Hi[2])
	}
	if accuracyFigure("t", nil, []string{"vicreg"}) != nil {
		t.Error("a figure without runs should be nil")
	}
}

// TestHolmFinite: rows without a test (NaN) are never significant and leave the family. With the
// NaN counted as a third test, 0.03 would have to be <= 0.05/2 and would fail.
func TestHolmFinite(t *testing.T) {
	got := holmFinite([]float64{0.03, math.NaN(), 0.01}, 0.05)
	if !got[0] || got[1] || !got[2] {
		t.Fatalf("holmFinite = %v, want [true false true]", got)
	}
	if got := holmFinite([]float64{0.03, 0.04, 0.01}, 0.05); got[0] || got[1] || !got[2] {
		t.Fatalf("three tests: %v, want only 0.01 significant (0.03 > 0.05/2)", got)
	}
}

func TestSortSweep(t *testing.T) {
	dirs := []string{"s/vicreg-logdet-w16", "s/vicreg", "s/vicreg-logdet-w0.25", "s/vicreg-logdet-w4", "s/vicreg-logdet-w1", "s/vicreg-pairdist-w1"}
	sortSweep(dirs)
	want := []string{"s/vicreg", "s/vicreg-logdet-w0.25", "s/vicreg-logdet-w1", "s/vicreg-logdet-w4", "s/vicreg-logdet-w16", "s/vicreg-pairdist-w1"}
	for i := range want {
		if dirs[i] != want[i] {
			t.Fatalf("sorted: %v, want %v", dirs, want)
		}
	}
}

// TestDifferencePanels: the second row holds each objective's paired difference from the first;
// one more than offScale points away at every budget is left out and named in the title.
func TestDifferencePanels(t *testing.T) {
	acc := func(lin ...float64) accuracies {
		a := accuracies{linear: map[string]map[int]float64{}, knn: map[string]map[int]float64{}, seeds: len(lin)}
		for _, b := range labelBudgets {
			a.linear[b], a.knn[b] = map[int]float64{}, map[int]float64{}
			for seed, v := range lin {
				a.linear[b][seed], a.knn[b][seed] = v, v
			}
		}
		return a
	}
	all := map[string]accuracies{"ref": acc(0.90, 0.92, 0.94), "near": acc(0.91, 0.92, 0.96), "far": acc(0.5, 0.6, 0.7)}
	fig := accuracyFigure("t", all, []string{"ref", "near", "far"})
	if fig == nil || len(fig.Panels) != 4 {
		t.Fatalf("want 4 panels (accuracy and difference for two probes), got %+v", fig)
	}
	d := fig.Panels[2]
	if len(d.Series) != 1 || d.Series[0].Name != "near" || !strings.Contains(d.Title, "far") {
		t.Fatalf("difference panel: %d series, title %q; want only near, far named as off the scale", len(d.Series), d.Title)
	}
	// near - ref per seed: +1, 0, +2 points: mean 1, sd 1, half-width t(0.975, 2 df)·1/√3.
	want := 1 - 4.302652729749464/math.Sqrt(3)
	if y, lo := d.Series[0].Y[0], d.Series[0].Lo[0]; math.Abs(y-1) > 1e-9 || math.Abs(lo-want) > 1e-6 {
		t.Errorf("difference = %g [lo %g], want 1 [%g]", y, lo, want)
	}
	if d.Series[0].Color != fig.Panels[0].Series[1].Color {
		t.Error("an objective should keep its colour in the difference panel")
	}
}

// TestResultWithoutAccuracies: a finished run whose result.json has no linear probe and kNN (no
// evaluation split) is not read as accuracies of 0: it is unfinished for the tables, with a
// message that says why.
func TestResultWithoutAccuracies(t *testing.T) {
	dir := t.TempDir()
	writeResult(t, dir, results.Pretrain{Steps: 4})
	if r, err := readResult(dir); !errors.Is(err, errUnfinished) || !strings.Contains(err.Error(), "no linear probe and kNN") {
		t.Errorf("readResult: %+v, %v; want errUnfinished naming the missing accuracies", r, err)
	}
}

func TestBestWeight(t *testing.T) {
	dir := t.TempDir()
	for w, acc := range map[string]float64{"0.25": 0.95, "1": 0.97, "4": 0.96} {
		writeResult(t, filepath.Join(dir, "vicreg-logdet-w"+w), results.Pretrain{Linear: results.Acc(acc), KNN: results.Acc(acc)})
	}
	writeResult(t, filepath.Join(dir, "vicreg-pairdist-w4"), results.Pretrain{Linear: results.Acc(0.99), KNN: results.Acc(0.99)})
	if w, err := best(dir, "vicreg-logdet"); err != nil || w != "1" {
		t.Fatalf("best = %q, %v; want 1", w, err)
	}
	if _, err := best(dir, "barlow"); err == nil {
		t.Fatal("no barlow runs: want an error")
	}
}

// TestSigmaGrid reads the (σ, w) grid: σ = auto and numbers parsed from the folder names,
// unfinished and foreign folders skipped, runs ordered by w/σ² (ties by the larger σ first, auto
// last), and the figure draws a curve per σ over w/σ² with auto as a reference line.
func TestSigmaGrid(t *testing.T) {
	dir := t.TempDir()
	for name, acc := range map[string]float64{
		"sigma1-w1": 0.95, "sigma2-w1": 0.87, "sigma1-w0.25": 0.88, "sigma0.5-w1": 0.96, "sigmaauto-w1": 0.82, "sigma1-w4": 0.955,
	} {
		writeResult(t, filepath.Join(dir, name), results.Pretrain{Linear: results.Acc(acc), KNN: results.Acc(acc - 0.01)})
	}
	for _, name := range []string{"sigma4-w1", "sigmawide-w1", "sigma1-wx"} { // unfinished, or not a grid run
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := readSigmaGrid(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, fmt.Sprintf("%s/%g/%.1f", sigmaLabel(r.sigma), r.weight, r.linear))
	}
	want := []string{"2/1/87.0", "1/0.25/88.0", "1/1/95.0", "1/4/95.5", "0.5/1/96.0", "auto/1/82.0"}
	if !slices.Equal(got, want) {
		t.Fatalf("grid = %v, want %v", got, want)
	}
	if r := runs[4].ratio(); r != 4 {
		t.Errorf("w/σ² of σ = 0.5, w = 1: %g, want 4", r)
	}
	fig := sigmaFigure(runs)
	if fig == nil || len(fig.Panels) != 2 {
		t.Fatalf("figure = %+v, want two panels", fig)
	}
	p := fig.Panels[0]
	if len(p.Series) != 3 || p.Series[0].Name != "σ = 0.5" || p.Series[2].Name != "σ = 2" {
		t.Fatalf("series = %+v, want σ = 0.5, 1, 2", p.Series)
	}
	near := func(a, b []float64) bool {
		return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Abs(x-y) < 1e-9 })
	}
	if s := p.Series[1]; !near(s.X, []float64{0.25, 1, 4}) || !near(s.Y, []float64{88, 95, 95.5}) {
		t.Errorf("σ = 1 curve: x %v, y %v; want x 0.25, 1, 4 and y 88, 95, 95.5", s.X, s.Y)
	}
	if len(p.HLines) != 1 || !near([]float64{p.HLines[0].At, fig.Panels[1].HLines[0].At}, []float64{82, 81}) {
		t.Errorf("auto reference lines: %+v / %+v, want 82 (linear) and 81 (kNN)", p.HLines, fig.Panels[1].HLines)
	}
	if sigmaFigure(runs[5:]) != nil {
		t.Error("a grid with σ = auto alone should give no figure")
	}
	if v := verdict(-2, -1, "σ = 1"); v != "worse than σ = 1" {
		t.Errorf("verdict = %q", v)
	}
}

// TestInterruptedRunsAreUnfinished: a run stopped by a signal during its final evaluation writes
// result.json with "interrupted": true and -1 for every accuracy it did not measure (README: such
// a result records only the phases that finished). It is not a finished run: counted as one, its
// -1 would enter the table as a seed at -100% (here the mean of 0.98 and -1, -1%, instead of 98%).
func TestInterruptedRunsAreUnfinished(t *testing.T) {
	dir := t.TempDir()
	writeResult(t, filepath.Join(dir, "vicreg-seed0"), results.Pretrain{Linear: results.Acc(0.98), KNN: results.Acc(0.97)})
	writeResult(t, filepath.Join(dir, "vicreg-seed1"), results.Pretrain{Interrupted: true})
	acc, err := budgets(dir, "vicreg")
	if err != nil {
		t.Fatal(err)
	}
	if acc.seeds != 1 || len(acc.linear["100%"]) != 1 || meanSD(values(acc.linear["100%"])) != "98.00" {
		t.Fatalf("%d seeds, linear 100%% %v (%s); want seed 0 alone at 98.00 (seed 1 was interrupted)",
			acc.seeds, acc.linear["100%"], meanSD(values(acc.linear["100%"])))
	}

	grid := t.TempDir()
	writeResult(t, filepath.Join(grid, "sigma1-w1"), results.Pretrain{Linear: results.Acc(0.95), KNN: results.Acc(0.94)})
	writeResult(t, filepath.Join(grid, "sigma2-w1"), results.Pretrain{Interrupted: true, Linear: results.Acc(0.87)})
	runs, err := readSigmaGrid(grid)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].sigma != 1 {
		t.Fatalf("grid = %+v, want σ = 1 alone (σ = 2 was interrupted)", runs)
	}

	// The weight is chosen among finished runs: an interrupted one is an error that says so.
	sweep := t.TempDir()
	writeResult(t, filepath.Join(sweep, "vicreg-logdet-w1"), results.Pretrain{Linear: results.Acc(0.95), KNN: results.Acc(0.95)})
	writeResult(t, filepath.Join(sweep, "vicreg-logdet-w4"), results.Pretrain{Interrupted: true, Linear: results.Acc(0.97)})
	if w, err := best(sweep, "vicreg-logdet"); err == nil || !strings.Contains(err.Error(), "interrupt") && !strings.Contains(err.Error(), "signal") {
		t.Fatalf("best = %q, %v; want an error naming the interrupted run", w, err)
	}
}

// TestSweepTableBaselineColumn: docs/paper.md's noise table ends with the randomly initialised
// encoder's column, which analyze -compare measures by default (Comparison.Baseline); the table
// printed only the objectives' columns, so that column could not be regenerated.
func TestSweepTableBaselineColumn(t *testing.T) {
	sweep := func(p ...float64) analysis.SweepResult {
		s := analysis.SweepResult{Test: "HZ", Anchors: 64, Copies: 64}
		for i, x := range p {
			s.Levels = append(s.Levels, analysis.SweepLevel{Sigma: []float64{0.01, 0.8}[i], P: analysis.MeanInterval{Mean: x}})
		}
		return s
	}
	c := &analysis.Comparison{
		Runs: []analysis.RunSweep{
			{Label: "vicreg seed 0", Objective: "vicreg", Seed: 0, Sweep: sweep(0.4, 0.2)},
			{Label: "vicreg seed 1", Objective: "vicreg", Seed: 1, Sweep: sweep(0.5, 0.3)},
		},
		Baseline: &analysis.RunSweep{Label: "random init (seed 0)", Objective: "random init", Sweep: sweep(0.514, 0.432)},
	}
	var out strings.Builder
	sweepTables(&out, c)
	for _, want := range []string{
		"| σ | vicreg | random init (seed 0) |\n|---|---|---|\n",
		"| 0.01 | 0.450 (0.400–0.500) | 0.514 |\n",
		"| 0.8 | 0.250 (0.200–0.300) | 0.432 |\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("sweep table lacks %q:\n%s", want, out.String())
		}
	}
	c.Baseline = nil // -no-baseline: no such column
	out.Reset()
	sweepTables(&out, c)
	if strings.Contains(out.String(), "random init") || !strings.Contains(out.String(), "| σ | vicreg |\n|---|---|\n") {
		t.Errorf("without a baseline:\n%s", out.String())
	}
}
