package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/plot"
	"github.com/gomlx-ssl/vicreg/results"
)

// Files written by WriteReport into the report folder.
const (
	ReportJSON     = "report.json"
	ReportSummary  = "summary.md"
	FigGaussianity = "gaussianity.svg"
	FigAffinity    = "affinity.svg"
	FigEntropy     = "entropy.svg"
	// FigNoise and FigNoisePNG are the paper's figure: the mean normality p-value against the
	// normalised input noise σ, one curve and band per model (written when the sweep ran).
	FigNoise        = "noise.svg"
	FigNoisePNG     = "noise.png"
	EstimatorsJSON  = "estimators.json"
	EstimatorsTable = "estimators.md"
)

// ReportFiles lists the files WriteReport writes (the noise figure when the sweep ran).
var ReportFiles = []string{ReportJSON, ReportSummary, FigGaussianity, FigAffinity, FigEntropy, FigNoise, FigNoisePNG}

// ComparisonFiles lists the files WriteComparison writes.
var ComparisonFiles = []string{ReportJSON, ReportSummary, FigNoise, FigNoisePNG}

// WriteReport writes the report folder dir: every number as JSON (non-finite values as null),
// the figures (SVG) and a Markdown summary, each file atomically.
func WriteReport(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report folder: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, ReportJSON), r); err != nil {
		return err
	}
	if err := writeFigures(dir, r); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, ReportSummary), []byte(Markdown(r)))
}

// writeJSON writes v as indented JSON, with NaN and ±Inf as null (encoding/json refuses them).
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(finite(reflect.ValueOf(v)), "", "  ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return writeFile(path, append(data, '\n'))
}

// writeFile writes data to path atomically.
func writeFile(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0)
}

// finite converts v to plain maps, slices and values following its json tags, with non-finite
// floats replaced by nil.
func finite(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return finite(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			fld := t.Field(i)
			if !fld.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(fld.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = fld.Name
			}
			if strings.Contains(opts, "omitempty") && v.Field(i).IsZero() {
				continue
			}
			out[name] = finite(v.Field(i))
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = finite(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = finite(v.MapIndex(k))
		}
		return out
	}
	return v.Interface()
}

// writeFigures writes the report's figures into dir.
func writeFigures(dir string, r *Report) error {
	figs := figures(r)
	for _, name := range []string{FigGaussianity, FigAffinity, FigEntropy} {
		if err := figs[name].Save(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	if fig := modelsNoiseFigure(r); fig != nil {
		return fig.Save(filepath.Join(dir, FigNoise), filepath.Join(dir, FigNoisePNG))
	}
	return nil
}

// figures draws each quantity across training steps (the baseline at step 0) and, for the
// affinity, across noise scales: intervals as shaded bands, the value each quantity takes when
// the assumption holds as a dashed line. The figures are keyed by file name.
func figures(r *Report) map[string]*plot.Figure {
	const byStep = "training step (0: random init)"
	steps := make([]float64, len(r.Models))
	for i, m := range r.Models {
		steps[i] = float64(m.Step)
	}
	series := func(name string, get func(m ModelReport) float64) plot.Series {
		s := plot.Series{Name: name, X: steps}
		for _, m := range r.Models {
			s.Y = append(s.Y, get(m))
		}
		return s
	}
	// withInterval is series with a band from lo to hi.
	withInterval := func(name string, get, lo, hi func(m ModelReport) float64) plot.Series {
		s := series(name, get)
		for _, m := range r.Models {
			s.Lo, s.Hi = append(s.Lo, lo(m)), append(s.Hi, hi(m))
		}
		return s
	}
	o := r.Options
	expected := []plot.RefLine{{At: 1 - o.Alpha, Label: fmt.Sprintf("expected of Gaussian views (1 − α = %g)", 1-o.Alpha)}}
	tests := plot.Panel{Title: fmt.Sprintf("A1: fraction of anchors whose views pass each test (level α = %g; %d anchors × %d views)", o.Alpha, o.Anchors, o.Views),
		XLabel: byStep, YLabel: "fraction passing", YInclude: []float64{0, 1}, HLines: expected}
	for _, t := range []struct {
		name string
		get  func(g GaussianityResult) Proportion
	}{
		{"Mardia skewness", func(g GaussianityResult) Proportion { return g.PassSkew }},
		{"Mardia kurtosis", func(g GaussianityResult) Proportion { return g.PassKurt }},
		{"1-D Anderson-Darling (Holm)", func(g GaussianityResult) Proportion { return g.PassProj }},
	} {
		tests.Series = append(tests.Series, series(t.name, func(m ModelReport) float64 { return t.get(m.Gaussianity).Fraction }))
	}
	all := plot.Panel{Title: "A1: fraction passing all three tests (Bonferroni), with its 95% Wilson interval", XLabel: byStep, YLabel: "fraction passing",
		YInclude: []float64{0, 1}, HLines: expected, Series: []plot.Series{withInterval("all three (95% Wilson interval)",
			func(m ModelReport) float64 { return m.Gaussianity.PassAll.Fraction },
			func(m ModelReport) float64 { return m.Gaussianity.PassAll.Lo },
			func(m ModelReport) float64 { return m.Gaussianity.PassAll.Hi })}}
	figs := map[string]*plot.Figure{FigGaussianity: {Panels: []plot.Panel{tests, all}}}

	affine := []plot.RefLine{{At: 1, Label: "affine (ratio 1)"}}
	overSteps := plot.Panel{Title: "A2: affinity ratio across anchors: median, interquartile band (1 = locally affine)", XLabel: byStep, YLabel: "ratio",
		YScale: plot.AutoScale, HLines: affine}
	for si, s := range o.Scales {
		at := func(get func(Summary) float64) func(m ModelReport) float64 {
			return func(m ModelReport) float64 {
				if si < len(m.Affinity) {
					return get(m.Affinity[si].Summary)
				}
				return math.NaN()
			}
		}
		overSteps.Series = append(overSteps.Series, withInterval(fmt.Sprintf("s = %g", s),
			at(func(q Summary) float64 { return q.Median }), at(func(q Summary) float64 { return q.Q1 }), at(func(q Summary) float64 { return q.Q3 })))
	}
	overScales := plot.Panel{Title: "A2: affinity ratio against noise scale (median; the last model with its interquartile band)", XLabel: "noise scale s (normalised pixels)",
		YLabel: "ratio", XScale: plot.Log, YScale: plot.AutoScale, HLines: affine}
	for i, m := range r.Models {
		s := plot.Series{Name: m.Label}
		last := i == len(r.Models)-1
		for _, a := range m.Affinity {
			s.X, s.Y = append(s.X, a.Scale), append(s.Y, a.Summary.Median)
			if last {
				s.Lo, s.Hi = append(s.Lo, a.Summary.Q1), append(s.Hi, a.Summary.Q3)
			}
		}
		if last {
			s.Name += " (interquartile band)"
		}
		overScales.Series = append(overScales.Series, s)
	}
	figs[FigAffinity] = &plot.Figure{Panels: []plot.Panel{overSteps, overScales}}

	h := plot.Panel{Title: fmt.Sprintf("A3: entropy estimates of held-out embeddings (n = %d)", r.Data.EntropyImages), XLabel: byStep, YLabel: "nats",
		Series: []plot.Series{
			series("Gaussian", func(m ModelReport) float64 { return m.Entropy.Gaussian }),
			series("pairwise KL (upper)", func(m ModelReport) float64 { return m.Entropy.PairwiseUpper }),
			series("pairwise Bhattacharyya (lower)", func(m ModelReport) float64 { return m.Entropy.PairwiseLower }),
			series("kNN (Kozachenko-Leonenko)", func(m ModelReport) float64 { return m.Entropy.KNN }),
		}}
	ld := plot.Panel{Title: "A3: LogDet estimator ½ log det(I + βΣ)", XLabel: byStep, YLabel: "nats", Legend: plot.LegendHidden,
		Series: []plot.Series{series("LogDet", func(m ModelReport) float64 { return m.Entropy.LogDet })}}
	mi := plot.Panel{Title: "A3: Gaussian estimate of I(Z;Z') = H(Z) − H(Z|Z') (a lower bound if Z is Gaussian)", XLabel: byStep, YLabel: "nats",
		Series: []plot.Series{
			series("I(Z;Z'), Gaussian", func(m ModelReport) float64 { return m.Entropy.GaussianMutualInfo }),
			series("H(Z) (view 1)", func(m ModelReport) float64 { return m.Entropy.ViewGaussian }),
			series("H(Z|Z') (residual)", func(m ModelReport) float64 { return m.Entropy.ConditionalGaussian }),
		}}
	had := plot.Panel{Title: "A3: log det of the covariance against its Hadamard bound (sum of log variances)", XLabel: byStep, YLabel: "log det",
		Series: []plot.Series{
			series("log det(Σ + εI)", func(m ModelReport) float64 { return m.Entropy.LogDetCovariance }),
			series("Σ_j log(Σ_jj + ε)", func(m ModelReport) float64 { return m.Entropy.SumLogVariance }),
		}}
	figs[FigEntropy] = &plot.Figure{Columns: 2, Panels: []plot.Panel{h, ld, mi, had}}
	return figs
}

// Markdown returns the summary of a report: what holds and what does not, with sample
// sizes and intervals.
func Markdown(r *Report) string {
	var sb strings.Builder
	o := r.Options
	fmt.Fprintf(&sb, "# Assumption checks: %s\n\n", o.Checkpoints)
	fmt.Fprintf(&sb, "Run: data set %s, augmentation %s, %s width %d (%s stem), loss %s, seed %d. Backend %s.\n\nImages measured: the %s.\n\n",
		r.Run.Dataset, r.Run.Augment, r.Run.Model.Arch, r.Run.Model.Width, r.Run.Model.Stem, r.Run.Loss, r.Run.Seed, r.Backend, r.Data.Describe())
	views := "the run's first-view augmentation"
	if o.InputNoise > 0 {
		views = fmt.Sprintf("isotropic input noise N(0, %g²I) in normalised pixel units", o.InputNoise)
	}
	fmt.Fprintf(&sb, "## A1: conditional Gaussianity\n\n%d test-set anchors, %d views each (%s). An anchor passes a test when it is not rejected at level %g: "+
		"Mardia's skewness and kurtosis on the first %d principal components of its views; Anderson–Darling on those %d components and on %d random projections "+
		"(Holm-corrected); \"all\" = the three families at %g/3 each (Bonferroni). Under exact Gaussianity about %.0f%% of anchors pass each test. "+
		"Intervals: 95%% Wilson.\n\n", o.Anchors, o.Views, views, o.Alpha, o.Components, o.Components, o.Projections, o.Alpha, 100*(1-o.Alpha))
	sb.WriteString("| model | step | skewness | kurtosis | 1-D | all (95% CI) | degenerate |\n|---|---|---|---|---|---|---|\n")
	for _, m := range r.Models {
		g := m.Gaussianity
		fmt.Fprintf(&sb, "| %s | %d | %.2f | %.2f | %.2f | %.2f [%.2f, %.2f] | %d |\n", m.Label, m.Step,
			g.PassSkew.Fraction, g.PassKurt.Fraction, g.PassProj.Fraction, g.PassAll.Fraction, g.PassAll.Lo, g.PassAll.Hi, g.Degenerate)
	}
	if len(r.Models) > 0 {
		last := r.Models[len(r.Models)-1]
		g := last.Gaussianity.PassAll
		verdict := "holds: the pass rate is compatible with Gaussian views"
		if g.Hi < 1-o.Alpha {
			verdict = fmt.Sprintf("does not hold: the pass rate's 95%% interval lies below the %.0f%% expected of Gaussian views", 100*(1-o.Alpha))
		}
		fmt.Fprintf(&sb, "\n**Verdict (%s):** conditional Gaussianity %s (%d of %d anchors pass all tests, %.2f [%.2f, %.2f]).\n\n", last.Label, verdict, g.K, g.N, g.Fraction, g.Lo, g.Hi)
	}

	sb.WriteString(sweepSection(r))
	fmt.Fprintf(&sb, "## A2: local affinity\n\nRatio E[(u·(f(x+δ)−f(x)))²] / E[(∇(u·f)·δ)²] with the same draws on both sides (1 = affine), δ ~ N(0, s²I) in normalised pixel units, "+
		"%d random unit directions u, %d noise draws per anchor and scale, on the %d anchors%s. Median [Q1, Q3] across anchors:\n\n", o.Directions, o.NoiseSamples, o.Anchors, jitterNote(o.AnchorJitter))
	sb.WriteString("| model | step |")
	for _, s := range o.Scales {
		fmt.Fprintf(&sb, " s = %g |", s)
	}
	sb.WriteString("\n|---|---|" + strings.Repeat("---|", len(o.Scales)) + "\n")
	for _, m := range r.Models {
		fmt.Fprintf(&sb, "| %s | %d |", m.Label, m.Step)
		for _, a := range m.Affinity {
			fmt.Fprintf(&sb, " %.3f [%.3f, %.3f] |", a.Summary.Median, a.Summary.Q1, a.Summary.Q3)
		}
		sb.WriteString("\n")
	}
	if len(r.Models) > 0 {
		last := r.Models[len(r.Models)-1]
		var holds, fails []string
		for _, a := range last.Affinity {
			if a.Summary.Q1 >= 0.8 && a.Summary.Q3 <= 1.25 {
				holds = append(holds, fmt.Sprintf("%g", a.Scale))
			} else {
				fails = append(fails, fmt.Sprintf("%g", a.Scale))
			}
		}
		scales := func(s []string) string {
			if len(s) == 0 {
				return "no scale measured"
			}
			return "s ∈ {" + strings.Join(s, ", ") + "}"
		}
		fmt.Fprintf(&sb, "\n**Verdict (%s):** close to affine (interquartile range within [0.8, 1.25]) at %s; not at %s.\n\n",
			last.Label, scales(holds), scales(fails))
	}

	fmt.Fprintf(&sb, "## A3: entropy and mutual information\n\nOn the embeddings of %s (no augmentation); I(Z;Z') on two augmented views of the same images, both entropies Gaussian (a lower bound where Z is Gaussian; otherwise it may exceed I(Z;Z')). "+
		"Estimator parameters: eps %g, beta %s, sigma %s (the run's; auto: from each model's embeddings, below), kNN k = %d. Nats.\n\n", r.Data.EntropyText(), r.Run.LossParams.Eps, scale(r.Run.LossParams.Beta), scale(r.Run.LossParams.Sigma), o.KNNK)
	sb.WriteString("| model | step | Gaussian | LogDet | pairwise lower | pairwise upper | kNN | I(Z;Z') Gaussian | log det Σ | Σ log Σ_jj |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range r.Models {
		e := m.Entropy
		fmt.Fprintf(&sb, "| %s | %d | %.1f | %.2f | %.2f | %.2f | %.1f | %.1f | %.1f | %.1f |\n", m.Label, m.Step,
			e.Gaussian, e.LogDet, e.PairwiseLower, e.PairwiseUpper, e.KNN, e.GaussianMutualInfo, e.LogDetCovariance, e.SumLogVariance)
	}
	if len(r.Models) > 0 {
		last := r.Models[len(r.Models)-1]
		e := last.Entropy
		gap := e.SumLogVariance - e.LogDetCovariance
		fmt.Fprintf(&sb, "\n**Verdict (%s):** Gaussian (covariance) entropy %.1f, kNN estimate %.1f: difference %+.1f nats "+
			"(the Gaussian is the largest entropy any distribution with that covariance has, so a large positive difference means the covariance does not track the entropy; "+
			"kNN is biased in %d dimensions and the ridge eps dominates directions of near-zero variance, so read the difference as indicative). "+
			"Hadamard gap Σ log Σ_jj − log det Σ = %.1f (0 = decorrelated features). ",
			last.Label, e.Gaussian, e.KNN, e.Gaussian-e.KNN, e.D, gap)
		if e.PairwiseMax-e.PairwiseUpper < 0.5 {
			fmt.Fprintf(&sb, "The pairwise estimates are saturated (within %.2f nats of their maximum %.1f = d/2·log(2πeσ²) + log n): σ = %g is small for these embeddings' scale.",
				max(0, e.PairwiseMax-e.PairwiseUpper), e.PairwiseMax, e.Sigma)
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\n## Timing\n\n| model | seconds | A1 | noise sweep | A2 | A3 |\n|---|---|---|---|---|---|\n")
	for _, m := range r.Models {
		fmt.Fprintf(&sb, "| %s | %.1f |%s\n", m.Label, m.Seconds, phases(m.PhaseSeconds))
	}
	sb.WriteString(measuredOn(r.Backend, r.Machine))
	sb.WriteString("\nFigures: " + FigGaussianity + ", " + FigNoise + ", " + FigAffinity + ", " + FigEntropy + ". Every number: " + ReportJSON + ".\n")
	return sb.String()
}

// phases formats the phase times of a model as table cells.
func phases(p map[string]float64) string {
	var sb strings.Builder
	for _, k := range []string{"a1", "sweep", "a2", "a3"} {
		if v, ok := p[k]; ok {
			fmt.Fprintf(&sb, " %.1f |", v)
		} else {
			sb.WriteString(" – |")
		}
	}
	return sb.String()
}

func jitterNote(j float64) string {
	if j > 0 {
		return fmt.Sprintf(" (each moved once by N(0, %g²I))", j)
	}
	return ""
}

// scale prints a loss scale parameter: "auto" for losses.Auto (0), else the number.
func scale(v float64) string {
	if v == 0 {
		return "auto"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// measuredOn is the line under a timing table that names where it was measured.
func measuredOn(backend string, m *results.Machine) string {
	if line := results.MeasuredOn(backend, m); line != "" {
		return "\n" + line + ".\n"
	}
	return ""
}
