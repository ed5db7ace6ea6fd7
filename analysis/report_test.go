package analysis

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx-ssl/vicreg/plot"
	"github.com/gomlx-ssl/vicreg/plot/plottest"
)

// syntheticReport is a report of four models (the baseline and three checkpoints) measured at
// five noise scales, with one missing affinity median. (The counts differ, and differ from the
// four vertices of a legend swatch, so that a band's vertex count says what it spans.)
func syntheticReport() *Report {
	r := &Report{Options: Options{Anchors: 40, Views: 32, Alpha: 0.05, Scales: []float64{0.01, 0.03, 0.1, 0.3, 1}, EntropyImages: 500}}
	for i, step := range []int64{0, 100, 200, 300} {
		m := ModelReport{Label: fmt.Sprintf("model %d", i), Step: step}
		p := func(k int) Proportion { return NewProportion(k, 40, 0.05) }
		m.Gaussianity = GaussianityResult{PassSkew: p(30 + i), PassKurt: p(20 + 5*i), PassProj: p(10 + 3*i), PassAll: p(8 + 4*i)}
		for j, s := range r.Options.Scales {
			med := 1 + 0.2*float64(i) + s
			if i == 1 && j == 4 {
				med = math.NaN()
			}
			m.Affinity = append(m.Affinity, AffinityScale{Scale: s, Summary: Summary{Q1: 0.8 * med, Median: med, Q3: 1.3 * med}})
		}
		sw := syntheticSweep([]float64{0.01, 0.1, 0.8}, 0.4-0.1*float64(i), 0.5)
		m.NoiseSweep = &sw
		m.Entropy = EntropyResult{Gaussian: 10 + float64(i), PairwiseUpper: 12, PairwiseLower: 11, KNN: 9, LogDet: 3,
			GaussianMutualInfo: 2, ViewGaussian: 10, ConditionalGaussian: 8, LogDetCovariance: -5, SumLogVariance: -2}
		r.Models = append(r.Models, m)
	}
	return r
}

// TestReportFigures checks that the figures hold what their titles promise: a shaded band for
// every interval (the Wilson interval of the pass fraction, the interquartile range of the
// affinity ratio), a line per series, a legend entry per series and the reference lines.
func TestReportFigures(t *testing.T) {
	dir := t.TempDir()
	r := syntheticReport()
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	read := func(name string) *plottest.Doc {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := plottest.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return doc
	}
	models, scales := len(r.Models), len(r.Options.Scales)

	g := read(FigGaussianity)
	for _, s := range []string{"Mardia skewness", "Mardia kurtosis", "1-D Anderson-Darling (Holm)", "all three (95% Wilson interval)"} {
		if g.Count(s) != 1 {
			t.Errorf("%s: legend entry %q appears %d times, want once", FigGaussianity, s, g.Count(s))
		}
	}
	// Panel 1 draws the three tests in the first three colours, panel 2 the "all" fraction in the
	// first colour again, with its band.
	for i := range 3 {
		want := 1
		if i == 0 {
			want = 2
		}
		if got := len(plottest.WithVertices(g.Lines(plot.Colors[i]), models)); got != want {
			t.Errorf("%s: %d lines of colour %d with %d vertices, want %d", FigGaussianity, got, i, models, want)
		}
	}
	if got := len(plottest.WithVertices(g.Fills(plot.Colors[0]), 2*models)); got != 1 {
		t.Errorf("%s: %d bands for the Wilson interval, want 1", FigGaussianity, got)
	}
	if got := g.Count("expected of Gaussian views (1 − α = 0.95)"); got != 2 {
		t.Errorf("%s: the reference line at 1 − α is named %d times, want once per panel", FigGaussianity, got)
	}

	a := read(FigAffinity)
	for i := range scales {
		// One interquartile band per scale across steps; the model whose median at the last
		// scale is missing leaves a point out of that scale's line and band.
		n := models
		if i == 4 {
			n = models - 1
		}
		if got := len(plottest.WithVertices(a.Fills(plot.Colors[i]), 2*n)); got != 1 {
			t.Errorf("%s: %d interquartile bands for scale %g over %d steps, want 1", FigAffinity, got, r.Options.Scales[i], n)
		}
	}
	last := models - 1
	if got := len(plottest.WithVertices(a.Fills(plot.Colors[last]), 2*scales)); got != 1 {
		t.Errorf("%s: %d interquartile bands for the last model across scales, want 1", FigAffinity, got)
	}
	for i := range models - 1 {
		if got := len(plottest.WithVertices(a.Fills(plot.Colors[i]), 2*scales)); got != 0 {
			t.Errorf("%s: model %d got a band across scales; only the last model has one", FigAffinity, i)
		}
	}
	if a.Count("model 3 (interquartile band)") != 1 || a.Count("model 0") != 1 || a.Count("affine (ratio 1)") != 2 {
		t.Errorf("%s: legend entries missing: %d, %d, %d", FigAffinity, a.Count("model 3 (interquartile band)"), a.Count("model 0"), a.Count("affine (ratio 1)"))
	}

	e := read(FigEntropy)
	for _, s := range []string{"Gaussian", "pairwise KL (upper)", "kNN (Kozachenko-Leonenko)", "I(Z;Z'), Gaussian", "log det(Σ + εI)"} {
		if e.Count(s) != 1 {
			t.Errorf("%s: legend entry %q appears %d times, want once", FigEntropy, s, e.Count(s))
		}
	}
	if e.Count("LogDet") != 0 {
		t.Errorf("%s: the one-series LogDet panel has a legend", FigEntropy)
	}
	// The noise figure: a line per model; four models, so every one has a band.
	n := read(FigNoise)
	for i := range models {
		if got := len(plottest.WithVertices(n.Lines(plot.Colors[i]), 3)); got != 2 {
			t.Errorf("%s: %d lines of model %d with 3 vertices, want 2 (mean p and pass fraction)", FigNoise, got, i)
		}
		if got := len(plottest.WithVertices(n.Fills(plot.Colors[i]), 6)); got != 2 {
			t.Errorf("%s: %d bands of model %d, want 2 (mean p and pass fraction)", FigNoise, got, i)
		}
	}
	if n.Count("p = 0.01") != 1 || n.Count("expected of Gaussian outputs (0.99)") != 1 {
		t.Errorf("%s: reference lines named %d and %d times, want once each", FigNoise, n.Count("p = 0.01"), n.Count("expected of Gaussian outputs (0.99)"))
	}
	for _, f := range ReportFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing report file: %v", err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(ReportFiles) {
		t.Errorf("report folder holds %d files, want the %d report files and no temporary files", len(entries), len(ReportFiles))
	}
}
