package analysis

import (
	"math/rand/v2"
	"testing"
)

func viewsOf(k int, sample func(*rand.Rand) [][]float64) [][][]float64 {
	out := make([][][]float64, k)
	for a := range out {
		out[a] = sample(rand.New(rand.NewPCG(uint64(a), 99)))
	}
	return out
}

func TestGaussianity(t *testing.T) {
	cfg := GaussianityConfig{Components: 5, Projections: 8, Alpha: 0.05, Seed: 1}
	const k = 200
	for _, tc := range []struct {
		name           string
		views          [][][]float64
		minAll, maxAll float64
		degenerate     int
	}{
		// Gaussian views pass: under the null, Holm keeps the family-wise error at most alpha.
		{"gaussian", viewsOf(k, gaussian(64, 16)), 0.9, 1, 0},
		{"uniform", viewsOf(k, uniform(64, 5)), 0, 0.35, 0},
		{"exponential", viewsOf(k, exponential(64, 16)), 0, 0.05, 0},
		{"bimodal direction", viewsOf(k, bimodalDirection(64, 16)), 0, 0.05, 0},
		{"constant", viewsOf(3, func(*rand.Rand) [][]float64 {
			v := make([][]float64, 64)
			for i := range v {
				v[i] = make([]float64, 16)
			}
			return v
		}), 0, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Gaussianity(tc.views, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("skew %.3f kurt %.3f proj %.3f all %.3f [%.3f, %.3f]", r.PassSkew.Fraction, r.PassKurt.Fraction, r.PassProj.Fraction, r.PassAll.Fraction, r.PassAll.Lo, r.PassAll.Hi)
			if f := r.PassAll.Fraction; f < tc.minAll || f > tc.maxAll {
				t.Errorf("pass_all %.3f, want in [%.2f, %.2f]", f, tc.minAll, tc.maxAll)
			}
			if r.Degenerate != tc.degenerate {
				t.Errorf("degenerate %d, want %d", r.Degenerate, tc.degenerate)
			}
			if !(r.PassAll.Lo <= r.PassAll.Fraction && r.PassAll.Fraction <= r.PassAll.Hi) {
				t.Errorf("interval [%.3f, %.3f] does not hold %.3f", r.PassAll.Lo, r.PassAll.Hi, r.PassAll.Fraction)
			}
			if len(r.PerAnchor) != len(tc.views) {
				t.Errorf("%d per-anchor results for %d anchors", len(r.PerAnchor), len(tc.views))
			}
		})
	}
}

func TestGaussianityErrors(t *testing.T) {
	v := viewsOf(2, gaussian(8, 16))
	for _, cfg := range []GaussianityConfig{
		{Components: 5, Projections: 2, Alpha: 0.05}, // 8 views, 5 components: too few
		{Components: 0, Projections: 2, Alpha: 0.05},
		{Components: 2, Projections: 0, Alpha: 0.05},
		{Components: 2, Projections: 2, Alpha: 1},
	} {
		if _, err := Gaussianity(v, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

// bimodalDirection is a standard Gaussian in d dimensions plus ±3 along the first axis (a
// two-cluster sample).
func bimodalDirection(n, d int) func(*rand.Rand) [][]float64 {
	return func(rng *rand.Rand) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, d)
			for j := range x[i] {
				x[i][j] = rng.NormFloat64()
			}
			if rng.IntN(2) == 0 {
				x[i][0] += 3
			} else {
				x[i][0] -= 3
			}
		}
		return x
	}
}
