package analysis

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx-ssl/vicreg/plot"
)

// noiseCurve is one curve of the noise figure: the mean p-value at each σ with its band, and the
// fraction of anchors passing at PaperLevel with its Wilson band (nil for aggregates).
type noiseCurve struct {
	name             string
	sigma, p, lo, hi []float64
	pass, pLo, pHi   []float64
	band             bool
}

func sweepCurve(name string, s SweepResult, band bool) noiseCurve {
	c := noiseCurve{name: name, band: band}
	for _, lv := range s.Levels {
		c.sigma = append(c.sigma, lv.Sigma)
		c.p, c.lo, c.hi = append(c.p, lv.P.Mean), append(c.lo, lv.P.Lo), append(c.hi, lv.P.Hi)
		c.pass, c.pLo, c.pHi = append(c.pass, lv.PassPaper.Fraction), append(c.pLo, lv.PassPaper.Lo), append(c.pHi, lv.PassPaper.Hi)
	}
	return c
}

// MaxNoiseBands is the largest number of models whose noise curves all get a band; beyond it only
// the first and the last model have one (the others would hide each other).
const MaxNoiseBands = 4

const sigmaLabel = "normalised input noise σ (noise sd / input sd)"

// noisePanel draws the paper's figure: mean p-value against σ, both axes logarithmic, a band per
// curve that has one (what it spans is said in the title) and the paper's dashed line at 0.01.
func noisePanel(title string, curves []noiseCurve) plot.Panel {
	pn := plot.Panel{Title: title, XLabel: sigmaLabel, YLabel: "normality p-value",
		XScale: plot.Log, YScale: plot.Log, YInclude: []float64{PaperLevel, 1},
		HLines: []plot.RefLine{{At: PaperLevel, Label: "p = 0.01"}}}
	for _, c := range curves {
		s := plot.Series{Name: c.name, X: c.sigma, Y: c.p}
		if c.band {
			s.Lo, s.Hi = c.lo, c.hi
		}
		pn.Series = append(pn.Series, s)
	}
	return pn
}

// passPanel draws the fraction of anchors with p >= 0.01 against σ, with Wilson bands.
func passPanel(curves []noiseCurve) plot.Panel {
	pn := plot.Panel{Title: "fraction of anchors with p ≥ 0.01, with its 95% Wilson interval", XLabel: sigmaLabel, YLabel: "fraction passing",
		XScale: plot.Log, YInclude: []float64{0, 1}, HLines: []plot.RefLine{{At: 1 - PaperLevel, Label: "expected of Gaussian outputs (0.99)"}}}
	for _, c := range curves {
		s := plot.Series{Name: c.name, X: c.sigma, Y: c.pass}
		if c.band {
			s.Lo, s.Hi = c.pLo, c.pHi
		}
		pn.Series = append(pn.Series, s)
	}
	return pn
}

// modelsNoiseFigure is the noise figure of a report's models (nil when no sweep ran).
func modelsNoiseFigure(r *Report) *plot.Figure {
	var curves []noiseCurve
	var n int
	for _, m := range r.Models {
		if m.NoiseSweep != nil {
			n++
		}
	}
	i := 0
	for _, m := range r.Models {
		if m.NoiseSweep == nil {
			continue
		}
		band := n <= MaxNoiseBands || i == 0 || i == n-1
		curves = append(curves, sweepCurve(m.Label, *m.NoiseSweep, band))
		i++
	}
	if len(curves) == 0 {
		return nil
	}
	s := firstSweep(r)
	return &plot.Figure{Title: figureTitle(s), Panels: []plot.Panel{noisePanel(meanTitle, curves), passPanel(curves)}, Height: 2*3.4 + 0.4}
}

func firstSweep(r *Report) SweepResult {
	for _, m := range r.Models {
		if m.NoiseSweep != nil {
			return *m.NoiseSweep
		}
	}
	return SweepResult{}
}

const meanTitle = "mean p-value across anchors; band: its 95% interval (t)"

// figureTitle says what the noise figure measures.
func figureTitle(s SweepResult) string {
	return fmt.Sprintf("Normality of the outputs under input noise (Henze–Zirkler, %d PCs; %d anchors × %d copies)", s.Components, s.Anchors, s.Copies)
}

// ComparisonFigure is the noise figure of a comparison: one curve per run (and the baseline), and,
// when an objective has several runs, a panel of the per-objective means with the 95% interval
// across runs. When an objective has several runs, its runs share its colour and each seed has its
// marker; runs get bands while there are at most MaxNoiseBands of them (the per-objective panel
// carries the intervals beyond that). WriteComparison saves it; callers that lay out their own
// documents (docs/experiments/paper) save it elsewhere.
func ComparisonFigure(c *Comparison) *plot.Figure {
	objIndex := map[string]int{}
	for _, r := range c.Runs {
		if _, ok := objIndex[r.Objective]; !ok {
			objIndex[r.Objective] = len(objIndex)
		}
	}
	byObjective := len(c.Objectives) > 0
	band := len(c.Runs) <= MaxNoiseBands
	var curves []noiseCurve
	for _, r := range c.Runs {
		curves = append(curves, sweepCurve(r.Label, r.Sweep, band))
	}
	if c.Baseline != nil { // last, so that the runs keep the first colours
		curves = append(curves, sweepCurve(c.Baseline.Label, c.Baseline.Sweep, band))
	}
	s := c.Runs[0].Sweep
	title := fmt.Sprintf("%s, %s width %d on %s", figureTitle(s), c.Model.Arch, c.Model.Width, c.Dataset)
	runsTitle := meanTitle
	if !band {
		runsTitle = "mean p-value across anchors, per run (intervals: in the summary)"
	}
	runs := noisePanel(runsTitle, curves)
	seedIndex := map[string]int{}
	for i, r := range c.Runs {
		if byObjective {
			runs.Series[i].Color = plot.Colors[objIndex[r.Objective]%len(plot.Colors)]
			runs.Series[i].Marker = plot.AutoMarkers[seedIndex[r.Objective]%len(plot.AutoMarkers)]
			seedIndex[r.Objective]++
		}
	}
	if c.Baseline != nil { // grey and dashed
		runs.Series[len(c.Runs)].Color, runs.Series[len(c.Runs)].Dashed = baselineColor, true
	}
	if len(runs.Series) > MaxNoiseBands {
		runs.Legend = plot.LegendOutside
	}
	panels := []plot.Panel{runs}
	if byObjective {
		var agg []noiseCurve
		for _, o := range c.Objectives {
			a := noiseCurve{name: fmt.Sprintf("%s (%d runs)", o.Objective, len(o.Runs)), band: true}
			for _, lv := range o.Levels {
				a.sigma, a.p, a.lo, a.hi = append(a.sigma, lv.Sigma), append(a.p, lv.P.Mean), append(a.lo, lv.P.Lo), append(a.hi, lv.P.Hi)
			}
			agg = append(agg, a)
		}
		pn := noisePanel("per objective: mean of the runs' mean p-values; band: 95% t-interval across runs", agg)
		for i, o := range c.Objectives {
			pn.Series[i].Color = plot.Colors[objIndex[o.Objective]%len(plot.Colors)]
		}
		panels = append(panels, pn)
	}
	return &plot.Figure{Title: title, Panels: panels, Height: float64(len(panels))*3.4 + 0.4}
}

// baselineColor draws the random-initialisation baseline (grey, the palette's ninth colour).
var baselineColor = plot.Colors[8]

// sweepSection is the summary's section on the noise sweep of a report's models.
func sweepSection(r *Report) string {
	s := firstSweep(r)
	if s.Levels == nil {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "## A1 under input noise: the paper's figure\n\n%s\n\n", sweepSetup(s))
	sb.WriteString(sweepTableHeader)
	for _, m := range r.Models {
		if m.NoiseSweep != nil {
			sweepRows(&sb, m.Label, *m.NoiseSweep)
		}
	}
	sb.WriteString("\n")
	for _, m := range r.Models {
		if m.NoiseSweep != nil {
			claimLines(&sb, m.Label, m.NoiseSweep.Claims())
		}
	}
	sb.WriteString("\nFigure: " + FigNoise + " (and " + FigNoisePNG + ").\n\n")
	return sb.String()
}

func sweepSetup(s SweepResult) string {
	return fmt.Sprintf("For each of %d test-set anchors, %d noisy copies x + σ·sd·ε (ε ~ N(0, I); sd = %.4g, the standard deviation of the evaluation images' values in normalised units; "+
		"the same ε at every σ and for every model). Each p-value: %s. Under Gaussian outputs the p-values are uniform: mean 0.5, 99%% of anchors at p ≥ 0.01. "+
		"Intervals: 95%% (t across anchors for the mean, Wilson for fractions); degenerate anchors (outputs that do not vary) are left out.",
		s.Anchors, s.Copies, s.InputStd, s.Test)
}

const sweepTableHeader = "| model | σ | noise sd | mean p (95% CI) | median p | p ≥ 0.01 (95% CI) | p ≥ α | degenerate |\n|---|---|---|---|---|---|---|---|\n"

func sweepRows(sb *strings.Builder, label string, s SweepResult) {
	for _, lv := range s.Levels {
		fmt.Fprintf(sb, "| %s | %g | %.3g | %.3f [%.3f, %.3f] | %.3f | %.2f [%.2f, %.2f] | %.2f | %d |\n", label, lv.Sigma, lv.NoiseStd,
			lv.P.Mean, lv.P.Lo, lv.P.Hi, lv.MedianP, lv.PassPaper.Fraction, lv.PassPaper.Lo, lv.PassPaper.Hi, lv.PassAlpha.Fraction, lv.Degenerate)
	}
}

func claimLines(sb *strings.Builder, label string, vs []Verdict) {
	for _, v := range vs {
		fmt.Fprintf(sb, "- **%s**, the paper's claim \"%s\": **%s** (%s).\n", label, v.Claim, v.Outcome, v.Detail)
	}
}

// WriteComparison writes a comparison's report folder dir: report.json (every number),
// summary.md (one table, the per-objective aggregates and a verdict per run) and the noise
// figure (SVG and PNG), each file atomically.
func WriteComparison(dir string, c *Comparison) error {
	if len(c.Runs) == 0 {
		return fmt.Errorf("comparison: no runs")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report folder: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, ReportJSON), c); err != nil {
		return err
	}
	if err := ComparisonFigure(c).Save(filepath.Join(dir, FigNoise), filepath.Join(dir, FigNoisePNG)); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, ReportSummary), []byte(ComparisonMarkdown(c)))
}

// ComparisonMarkdown is the summary of a comparison.
func ComparisonMarkdown(c *Comparison) string {
	var sb strings.Builder
	all := c.Runs
	if c.Baseline != nil {
		all = append([]RunSweep{*c.Baseline}, c.Runs...)
	}
	fmt.Fprintf(&sb, "# Gaussianity under input noise: %d runs compared\n\n", len(c.Runs))
	fmt.Fprintf(&sb, "Encoder %s (%s stem, width %d, input channels %d) on %s, %dx%d inputs. Backend %s.\n\nImages measured: the %s.\n\n",
		c.Model.Arch, c.Model.Stem, c.Model.Width, c.Model.InChannels, c.Dataset, c.InputSize, c.InputSize, c.Backend, c.Data.Describe())
	sb.WriteString("| run | objective | seed | checkpoint | step |\n|---|---|---|---|---|\n")
	for _, r := range all {
		fmt.Fprintf(&sb, "| %s | %s | %d | %s | %d |\n", r.Label, r.Objective, r.Seed, r.Path, r.Step)
	}
	fmt.Fprintf(&sb, "\n%s\n\n", sweepSetup(c.Runs[0].Sweep))
	sb.WriteString("Mean p-value (95% CI across anchors) at each σ:\n\n| σ |")
	for _, r := range all {
		sb.WriteString(" " + r.Label + " |")
	}
	sb.WriteString("\n|---|" + strings.Repeat("---|", len(all)) + "\n")
	for li, lv := range c.Runs[0].Sweep.Levels {
		fmt.Fprintf(&sb, "| %g |", lv.Sigma)
		for _, r := range all {
			if li < len(r.Sweep.Levels) {
				p := r.Sweep.Levels[li].P
				fmt.Fprintf(&sb, " %.3f [%.3f, %.3f] |", p.Mean, p.Lo, p.Hi)
			}
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\nEvery number per run:\n\n" + sweepTableHeader)
	for _, r := range all {
		sweepRows(&sb, r.Label, r.Sweep)
	}
	if len(c.Objectives) > 0 {
		sb.WriteString("\nPer objective: mean of the runs' mean p-values, 95% t-interval across runs (seed-to-seed variation):\n\n| objective | runs |")
		for _, lv := range c.Objectives[0].Levels {
			fmt.Fprintf(&sb, " σ = %g |", lv.Sigma)
		}
		sb.WriteString("\n|---|---|" + strings.Repeat("---|", len(c.Objectives[0].Levels)) + "\n")
		for _, o := range c.Objectives {
			fmt.Fprintf(&sb, "| %s | %d |", o.Objective, len(o.Runs))
			for _, lv := range o.Levels {
				fmt.Fprintf(&sb, " %.3f [%.3f, %.3f] |", lv.P.Mean, lv.P.Lo, lv.P.Hi)
			}
			sb.WriteString("\n")
		}
	}
	for _, n := range c.Notes {
		sb.WriteString("\n" + n + "\n")
	}
	sb.WriteString("\n## Verdicts per run\n\n")
	for _, r := range all {
		claimLines(&sb, r.Label, r.Claims)
	}
	sb.WriteString("\n## Timing\n\n| run | seconds |\n|---|---|\n")
	for _, r := range all {
		fmt.Fprintf(&sb, "| %s | %.1f |\n", r.Label, r.Seconds)
	}
	sb.WriteString(measuredOn(c.Backend, c.Machine))
	sb.WriteString("\nFigure: " + FigNoise + " (and " + FigNoisePNG + "). Every number: " + ReportJSON + ".\n")
	return sb.String()
}
