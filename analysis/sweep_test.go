package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// hostFunc is f(x) = post(A·x + b) on the host in float32 (no backend): a network with a known
// map.
type hostFunc struct {
	in, out int
	a, b    []float32 // a: [out, in]
	post    func(float32) float32
	calls   int
}

func newHostFunc(in, out int, seed uint64, post func(float32) float32) *hostFunc {
	rng := rand.New(rand.NewPCG(seed, 1))
	f := &hostFunc{in: in, out: out, a: make([]float32, out*in), b: make([]float32, out), post: post}
	for i := range f.a {
		f.a[i] = float32(rng.NormFloat64())
	}
	for i := range f.b {
		f.b[i] = float32(rng.NormFloat64())
	}
	return f
}

// elementwise is f(x) = post(x): in = out = d.
func elementwise(d int, post func(float32) float32) *hostFunc {
	f := &hostFunc{in: d, out: d, a: make([]float32, d*d), b: make([]float32, d), post: post}
	for i := range d {
		f.a[i*d+i] = 1
	}
	return f
}

func (f *hostFunc) InDim() int  { return f.in }
func (f *hostFunc) OutDim() int { return f.out }
func (f *hostFunc) Forward(x []float32, n int) ([]float32, error) {
	f.calls++
	z := make([]float32, n*f.out)
	for r := range n {
		xr := x[r*f.in : (r+1)*f.in]
		for o := range f.out {
			s := f.b[o]
			for j, v := range f.a[o*f.in : (o+1)*f.in] {
				s += v * xr[j]
			}
			if f.post != nil {
				s = f.post(s)
			}
			z[r*f.out+o] = s
		}
	}
	return z, nil
}
func (f *hostFunc) InputGrad(x, u []float32, n int) ([]float32, error) { panic("not used") }

func randomAnchors(k, d int, seed uint64, centre, spread float64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := make([]float32, k*d)
	for i := range x {
		x[i] = float32(centre + spread*rng.NormFloat64())
	}
	return x
}

func sweepPs(lv SweepLevel) []float64 {
	var ps []float64
	for _, t := range lv.PerAnchor {
		ps = append(ps, t.P)
	}
	return ps
}

// ksLevel is the level of every Kolmogorov–Smirnov uniformity check in these tests: a
// calibrated test fails it with probability 0.01.
const ksLevel = 0.01

// TestSweepLinear: the outputs of a linear map of Gaussian inputs are Gaussian, so each level's
// p-values across anchors are uniform (KS at ksLevel); the test is affine invariant and every level
// uses the same ε, so the statistic does not depend on σ; the paper's two claims come out
// "holds" (mean p near 0.5) and "inconclusive" (no trend).
func TestSweepLinear(t *testing.T) {
	const k = 300
	f := newHostFunc(32, 16, 5, nil)
	cfg := SweepConfig{Levels: []float64{0.01, 0.1, 0.8}, InputStd: 0.7, Copies: 64, Components: 5, NullDraws: 999, Alpha: 0.05, Seed: 11}
	res, err := NoiseSweep(f, randomAnchors(k, 32, 3, 0, 1), k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.calls != len(cfg.Levels) {
		t.Errorf("%d forward calls for %d levels, want one per level", f.calls, len(cfg.Levels))
	}
	for _, lv := range res.Levels {
		d, p, err := KSUniform(sweepPs(lv))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("σ %g: mean p %.3f [%.3f, %.3f], pass %.3f, KS D %.4f p %.3f", lv.Sigma, lv.P.Mean, lv.P.Lo, lv.P.Hi, lv.PassPaper.Fraction, d, p)
		if p < ksLevel {
			t.Errorf("σ %g: p-values of a linear map are not uniform: KS D %.4f, p %.4f", lv.Sigma, d, p)
		}
		if lv.NoiseStd != lv.Sigma*0.7 || lv.Degenerate != 0 || lv.Reduced != 0 || lv.P.N != k {
			t.Errorf("σ %g: noise std %g, degenerate %d, reduced %d, n %d", lv.Sigma, lv.NoiseStd, lv.Degenerate, lv.Reduced, lv.P.N)
		}
		for a, r := range lv.PerAnchor {
			if s0 := res.Levels[0].PerAnchor[a].Stat; math.Abs(r.Stat-s0) > 1e-3*s0 {
				t.Errorf("σ %g, anchor %d: HZ %.6g differs from σ %g's %.6g; an affine map's statistic does not depend on σ", lv.Sigma, a, r.Stat, res.Levels[0].Sigma, s0)
				break
			}
		}
	}
	v := res.Claims()
	if v[0].Outcome != Holds || v[1].Outcome != Inconclusive {
		t.Errorf("claims of a linear map: %+v, want holds and inconclusive", v)
	}
}

// TestSweepKink: a ReLU whose kink lies 0.5 from the anchors is linear under small noise
// (uniform p-values) and clips the outputs under large noise (small p-values: the claim "falls
// with σ" holds); |x| at its kink is non-Gaussian at every σ.
func TestSweepKink(t *testing.T) {
	const k = 150
	relu := elementwise(6, func(v float32) float32 { return max(v, 0) })
	cfg := SweepConfig{Levels: []float64{0.01, 0.05, 0.8}, InputStd: 1, Copies: 64, Components: 6, NullDraws: 999, Alpha: 0.05, Seed: 4}
	res, err := NoiseSweep(relu, randomAnchors(k, 6, 8, 0.5, 0), k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, lv := range res.Levels {
		t.Logf("ReLU σ %g: mean p %.3f [%.3f, %.3f], pass 0.01 %.3f", lv.Sigma, lv.P.Mean, lv.P.Lo, lv.P.Hi, lv.PassPaper.Fraction)
	}
	if _, p, _ := KSUniform(sweepPs(res.Levels[0])); p < ksLevel {
		t.Errorf("ReLU at σ 0.01 (50 standard deviations from the kink) is linear, but its p-values are not uniform: KS p %.4f", p)
	}
	if lv := res.Levels[2]; lv.P.Hi > 0.05 || lv.PassPaper.Fraction > 0.2 {
		t.Errorf("ReLU at σ 0.8: mean p %.3f (CI up to %.3f), pass fraction %.2f; want a clear rejection", lv.P.Mean, lv.P.Hi, lv.PassPaper.Fraction)
	}
	if v := res.Claims(); v[1].Outcome != Holds {
		t.Errorf("ReLU: claim %q is %s (%s), want holds", v[1].Claim, v[1].Outcome, v[1].Detail)
	}
	abs := elementwise(6, func(v float32) float32 { return float32(math.Abs(float64(v))) })
	res, err = NoiseSweep(abs, make([]float32, 40*6), 40, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, lv := range res.Levels {
		t.Logf("|x| σ %g: mean p %.3f [%.3f, %.3f], pass 0.01 %.3f", lv.Sigma, lv.P.Mean, lv.P.Lo, lv.P.Hi, lv.PassPaper.Fraction)
		if lv.P.Mean > 0.05 || lv.PassPaper.Fraction > 0.5 {
			t.Errorf("|x| at its kink, σ %g: mean p %.3f, pass fraction %.2f; want < 0.05 and < 0.5", lv.Sigma, lv.P.Mean, lv.PassPaper.Fraction)
		}
	}
	if v := res.Claims(); v[0].Outcome == Holds {
		t.Errorf("|x| at its kink: claim %q holds (%s)", v[0].Claim, v[0].Detail)
	}
}

// TestSweepDegenerate: a constant map gives outputs that do not vary: every anchor is counted as
// degenerate and left out, and the mean p is NaN, not 0 or 1.
func TestSweepDegenerate(t *testing.T) {
	f := newHostFunc(4, 3, 1, func(float32) float32 { return 2 })
	cfg := SweepConfig{Levels: []float64{0.1}, InputStd: 1, Copies: 16, Components: 2, NullDraws: 99, Alpha: 0.05}
	res, err := NoiseSweep(f, make([]float32, 5*4), 5, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lv := res.Levels[0]
	if lv.Degenerate != 5 || !math.IsNaN(lv.P.Mean) || lv.PassPaper.N != 0 {
		t.Errorf("constant map: degenerate %d, mean %g, pass n %d", lv.Degenerate, lv.P.Mean, lv.PassPaper.N)
	}
	if v := res.Claims(); v[0].Outcome != Fails {
		t.Errorf("constant map: %+v", v[0])
	}
}

func TestSweepErrors(t *testing.T) {
	f := newHostFunc(4, 3, 1, nil)
	good := SweepConfig{Levels: []float64{0.1}, InputStd: 1, Copies: 16, Components: 2, NullDraws: 99, Alpha: 0.05}
	for name, mod := range map[string]func(c *SweepConfig){
		"no levels":      func(c *SweepConfig) { c.Levels = nil },
		"negative level": func(c *SweepConfig) { c.Levels = []float64{-1} },
		"zero std":       func(c *SweepConfig) { c.InputStd = 0 },
		"few copies":     func(c *SweepConfig) { c.Copies = 5 },
		"few draws":      func(c *SweepConfig) { c.NullDraws = 10 },
		"alpha":          func(c *SweepConfig) { c.Alpha = 1 },
		// The claims compare the first level with the last as the smallest with the largest.
		"decreasing levels": func(c *SweepConfig) { c.Levels = []float64{0.8, 0.01} },
		"repeated level":    func(c *SweepConfig) { c.Levels = []float64{0.1, 0.1} },
	} {
		c := good
		mod(&c)
		if _, err := NoiseSweep(f, make([]float32, 8), 2, c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := NoiseSweep(f, make([]float32, 7), 2, good); err == nil {
		t.Error("wrong anchor length: no error")
	}
}
