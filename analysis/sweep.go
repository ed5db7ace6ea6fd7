package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// PaperLevel is the p-value threshold drawn as a dashed line in the paper's figure.
const PaperLevel = 0.01

// DefaultNoiseLevels is the default grid of normalised noise levels σ (the paper's x axis spans
// 0.01 to 0.8).
var DefaultNoiseLevels = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8}

// SweepConfig configures NoiseSweep.
type SweepConfig struct {
	// Levels are the normalised noise levels σ: the noise's standard deviation as a fraction of
	// InputStd.
	Levels []float64
	// InputStd is the standard deviation of the evaluation images' values (normalised units).
	InputStd float64
	// Copies is the number M of noisy copies of each anchor; Components the number k of
	// principal components of their outputs that the test sees (NormalityTest).
	Copies, Components int
	// NullDraws is the size of the Monte Carlo null of the test.
	NullDraws int
	// Alpha is the analysis' level, for the second pass fraction.
	Alpha float64
	// Seed draws the noise: copy m of anchor a gets the same ε at every level, and in every model,
	// so that levels and models are compared on the same draws.
	Seed uint64
}

// Validate reports the first invalid field.
func (c SweepConfig) Validate() error {
	switch {
	case len(c.Levels) == 0:
		return fmt.Errorf("noise sweep: no noise levels")
	case !(c.InputStd > 0) || math.IsInf(c.InputStd, 0):
		return fmt.Errorf("noise sweep: the inputs' standard deviation must be positive, got %g", c.InputStd)
	case c.Components < 1 || c.Copies <= c.Components+3:
		return fmt.Errorf("noise sweep: need components >= 1 and more than components + 3 copies, got %d and %d", c.Components, c.Copies)
	case c.NullDraws < 99:
		return fmt.Errorf("noise sweep: need at least 99 null draws, got %d", c.NullDraws)
	case !(c.Alpha > 0 && c.Alpha < 1):
		return fmt.Errorf("noise sweep: alpha must be in (0, 1), got %g", c.Alpha)
	}
	for i, s := range c.Levels {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("noise sweep: noise levels must be > 0, got %g", s)
		}
		if i > 0 && !(s > c.Levels[i-1]) {
			return fmt.Errorf("noise sweep: noise levels must increase (smallest first: the claims compare the smallest with the largest), got %g after %g", s, c.Levels[i-1])
		}
	}
	return nil
}

// MeanInterval is a mean across units with its 95% Student-t interval (clipped to the values'
// range where one is given).
type MeanInterval struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	Lo   float64 `json:"ci_lo"`
	Hi   float64 `json:"ci_hi"`
}

// NewMeanInterval returns the mean of the finite values of v with its 95% t-interval, clipped
// to [lo, hi]; fewer than two values give NaN bounds.
func NewMeanInterval(v []float64, lo, hi float64) MeanInterval {
	var s []float64
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			s = append(s, x)
		}
	}
	r := MeanInterval{N: len(s), Mean: math.NaN(), SD: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	if len(s) == 0 {
		return r
	}
	r.Mean, r.SD = stat.MeanStdDev(s, nil)
	if len(s) < 2 {
		r.SD = math.NaN()
		return r
	}
	half := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(s) - 1)}.Quantile(0.975) * r.SD / math.Sqrt(float64(len(s)))
	r.Lo, r.Hi = math.Max(lo, r.Mean-half), math.Min(hi, r.Mean+half)
	return r
}

// SweepLevel is the test of every anchor at one noise level.
type SweepLevel struct {
	Sigma float64 `json:"sigma"`
	// NoiseStd is σ·InputStd, the noise's standard deviation in normalised units.
	NoiseStd float64 `json:"noise_std"`
	// P is the mean p-value across anchors with its 95% t-interval (degenerate anchors left out).
	P MeanInterval `json:"p"`
	// MedianP is the median p-value.
	MedianP float64 `json:"median_p"`
	// PassPaper is the fraction of anchors with p >= PaperLevel, PassAlpha with p >= Alpha
	// (95% Wilson intervals, degenerate anchors left out).
	PassPaper Proportion `json:"pass_0_01"`
	PassAlpha Proportion `json:"pass_alpha"`
	// Degenerate counts anchors whose outputs did not vary; Reduced those tested on fewer
	// principal components than asked (outputs of lower rank).
	Degenerate int `json:"degenerate"`
	Reduced    int `json:"reduced"`
	// PerAnchor holds each anchor's test (P NaN when degenerate).
	PerAnchor []NormalityResult `json:"per_anchor"`
}

// SweepResult is the noise sweep of one model.
type SweepResult struct {
	// Test names the test that gives each p-value.
	Test       string       `json:"test"`
	InputStd   float64      `json:"input_std"`
	Anchors    int          `json:"anchors"`
	Copies     int          `json:"copies"`
	Components int          `json:"components"`
	NullDraws  int          `json:"null_draws"`
	Alpha      float64      `json:"alpha"`
	Levels     []SweepLevel `json:"levels"`
}

// TestName describes NormalityTest for reports.
func TestName(components, draws int) string {
	return fmt.Sprintf("Henze-Zirkler on the first %d principal components of each anchor's outputs, p-value from an exact Monte Carlo null of %d Gaussian samples", components, draws)
}

// NoiseSweep measures, at each noise level σ of cfg, how Gaussian f's outputs are for each
// anchor (rows of anchors, [k, InDim()]) under input noise: copy m of anchor a is
// x_a + σ·InputStd·ε_am, ε_am ~ N(0, I), and NormalityTest gives one p-value per anchor from the
// Copies outputs. f is called once per level with every anchor's copies.
func NoiseSweep(f Func, anchors []float32, k int, cfg SweepConfig) (SweepResult, error) {
	if err := cfg.Validate(); err != nil {
		return SweepResult{}, err
	}
	in, q, m := f.InDim(), f.OutDim(), cfg.Copies
	if k < 1 || len(anchors) != k*in {
		return SweepResult{}, fmt.Errorf("noise sweep: %d anchor values for %d anchors of %d", len(anchors), k, in)
	}
	res := SweepResult{Test: TestName(cfg.Components, cfg.NullDraws), InputStd: cfg.InputStd, Anchors: k, Copies: m,
		Components: cfg.Components, NullDraws: cfg.NullDraws, Alpha: cfg.Alpha}
	test := NormalityTest{Components: cfg.Components, NullDraws: cfg.NullDraws, Seed: cfg.Seed}
	x := make([]float32, k*m*in)
	for _, sigma := range cfg.Levels {
		scale := float32(sigma * cfg.InputStd)
		for a := range k {
			rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eeb0000+uint64(a)))
			anchor := anchors[a*in : (a+1)*in]
			for c := range m {
				row := x[(a*m+c)*in : (a*m+c+1)*in]
				for j, v := range anchor {
					row[j] = v + scale*float32(rng.NormFloat64())
				}
			}
		}
		z, err := f.Forward(x, k*m)
		if err != nil {
			return res, fmt.Errorf("noise sweep at σ = %g: %w", sigma, err)
		}
		lv := SweepLevel{Sigma: sigma, NoiseStd: sigma * cfg.InputStd}
		var ps []float64
		passPaper, passAlpha := 0, 0
		for a := range k {
			t, err := test.Test(rows(z[a*m*q:(a+1)*m*q], m, q))
			if err != nil {
				lv.Degenerate++
				lv.PerAnchor = append(lv.PerAnchor, NormalityResult{P: math.NaN(), Stat: math.NaN(), PLognormal: math.NaN()})
				continue
			}
			if t.Components < cfg.Components {
				lv.Reduced++
			}
			if t.P >= PaperLevel {
				passPaper++
			}
			if t.P >= cfg.Alpha {
				passAlpha++
			}
			ps = append(ps, t.P)
			lv.PerAnchor = append(lv.PerAnchor, t)
		}
		lv.P = NewMeanInterval(ps, 0, 1)
		lv.MedianP = Summarize(ps).Median
		lv.PassPaper = NewProportion(passPaper, len(ps), 0.05)
		lv.PassAlpha = NewProportion(passAlpha, len(ps), 0.05)
		res.Levels = append(res.Levels, lv)
	}
	return res, nil
}

// Verdict is the outcome of checking one claim: "holds", "fails" or "inconclusive", with the
// evidence in words.
type Verdict struct {
	Claim   string `json:"claim"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail"`
}

// Verdict outcomes.
const (
	Holds        = "holds"
	Fails        = "fails"
	Inconclusive = "inconclusive"
)

// Claims checks the paper's two claims that one model's sweep can test: the mean p-value stays
// above PaperLevel at every σ (holds when every 95% interval lies above it, fails when one lies
// below), and it falls with σ (the per-anchor difference between the smallest and the largest σ,
// paired on the same anchors, has a 95% interval above zero; fails when it lies below zero).
func (s SweepResult) Claims() []Verdict {
	above := Verdict{Claim: fmt.Sprintf("mean p-value above %g at every σ", PaperLevel)}
	var below, unsure []string
	for _, lv := range s.Levels {
		switch {
		case lv.P.Hi < PaperLevel || lv.P.N == 0:
			below = append(below, fmt.Sprintf("%g", lv.Sigma))
		case !(lv.P.Lo > PaperLevel):
			unsure = append(unsure, fmt.Sprintf("%g", lv.Sigma))
		}
	}
	switch {
	case len(below) > 0:
		above.Outcome, above.Detail = Fails, fmt.Sprintf("the 95%% interval lies below %g (or no anchor could be tested) at σ ∈ {%s}", PaperLevel, strings.Join(below, ", "))
	case len(unsure) > 0:
		above.Outcome, above.Detail = Inconclusive, fmt.Sprintf("the 95%% interval contains %g at σ ∈ {%s}", PaperLevel, strings.Join(unsure, ", "))
	default:
		above.Outcome, above.Detail = Holds, fmt.Sprintf("the 95%% interval lies above %g at all %d levels", PaperLevel, len(s.Levels))
	}
	falls := Verdict{Claim: "mean p-value falls with σ"}
	if len(s.Levels) < 2 {
		falls.Outcome, falls.Detail = Inconclusive, "one noise level only"
		return []Verdict{above, falls}
	}
	first, last := s.Levels[0], s.Levels[len(s.Levels)-1]
	var diff []float64
	for a := range min(len(first.PerAnchor), len(last.PerAnchor)) {
		diff = append(diff, first.PerAnchor[a].P-last.PerAnchor[a].P) // NaN (degenerate) left out
	}
	d := NewMeanInterval(diff, -1, 1)
	drops := 0
	for i := 1; i < len(s.Levels); i++ {
		if s.Levels[i].P.Mean < s.Levels[i-1].P.Mean {
			drops++
		}
	}
	ev := fmt.Sprintf("p(σ = %g) − p(σ = %g) = %.3f [%.3f, %.3f] over %d anchors (paired); the mean falls at %d of %d steps of the grid",
		first.Sigma, last.Sigma, d.Mean, d.Lo, d.Hi, d.N, drops, len(s.Levels)-1)
	switch {
	case d.Lo > 0:
		falls.Outcome = Holds
	case d.Hi < 0:
		falls.Outcome, ev = Fails, ev+"; it rises"
	default:
		falls.Outcome = Inconclusive
	}
	falls.Detail = ev
	return []Verdict{above, falls}
}
