package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// detSample is a fixed, non-random sample (the same formula as the reference script's).
func detSample(n, p int) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, p)
		for j := range x[i] {
			x[i][j] = math.Sin(1.7*float64(i)*float64(j+1)+0.3*float64(j)) + 0.1*math.Cos(0.37*float64(i*i)+float64(j))
		}
	}
	return x
}

// TestHenzeZirklerReference checks the statistic, β and the lognormal p-value against an
// independent NumPy/SciPy computation of the formulas of Henze and Zirkler (1990) (SciPy 1.10,
// lognorm.sf), on fixed samples.
func TestHenzeZirklerReference(t *testing.T) {
	for _, tc := range []struct {
		n, p          int
		beta, hz, pLN float64
	}{
		{20, 2, 1.20913558756098, 0.685727763698138, 0.0728734541757146},
		{64, 5, 1.25599065959596, 2.14590398950419, 7.08346051731253e-27},
		{100, 3, 1.47883257735132, 3.4399525195495, 1.52371172380375e-15},
	} {
		r, err := HenzeZirkler(detSample(tc.n, tc.p))
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.Beta-tc.beta) > 1e-12 || math.Abs(r.Stat-tc.hz) > 1e-9*tc.hz || math.Abs(r.PLognormal-tc.pLN) > 1e-6*tc.pLN {
			t.Errorf("n %d p %d: β %.15g HZ %.15g p %.15g, want %.15g %.15g %.15g", tc.n, tc.p, r.Beta, r.Stat, r.PLognormal, tc.beta, tc.hz, tc.pLN)
		}
	}
}

// TestKSUniform checks the statistic on a small sample and the p-value against SciPy 1.10's
// exact distribution (scipy.stats.kstwo.sf), within the accuracy of Stephens' approximation.
func TestKSUniform(t *testing.T) {
	d, _, err := KSUniform([]float64{0.9, 0.1, 0.5})
	if err != nil || math.Abs(d-0.7/3) > 1e-12 {
		t.Errorf("D of {0.1, 0.5, 0.9} = %g (%v), want 0.2333", d, err)
	}
	for _, tc := range []struct {
		n    int
		d, p float64
	}{{100, 0.1, 0.252693}, {1000, 0.03, 0.32269}, {2000, 0.02, 0.395313}, {50, 0.2, 0.0314388}} {
		if got := ksPValue(tc.n, tc.d); math.Abs(got-tc.p) > 0.005 {
			t.Errorf("KS p-value of D = %g at n = %d: %.5f, want %.5f", tc.d, tc.n, got, tc.p)
		}
	}
	if _, _, err := KSUniform([]float64{0.5, 1.5}); err == nil || !strings.Contains(err.Error(), "1.5") {
		t.Errorf("a value outside [0, 1]: %v", err)
	}
	if _, _, err := KSUniform(nil); err == nil {
		t.Error("no values: no error")
	}
}

// TestNullTableExact: the Monte Carlo p-value of a null sample is uniform on {1, ..., B+1}/(B+1):
// P(p <= j/(B+1)) = j/(B+1). A statistic beyond every null draw gets 1/(B+1), below every draw 1.
func TestNullTableExact(t *testing.T) {
	tab := hzNull(20, 2, 99, 7)
	if len(tab.stats) != 99 {
		t.Fatalf("%d null draws, want 99", len(tab.stats))
	}
	if p := tab.pValue(math.Inf(1)); p != 0.01 {
		t.Errorf("p beyond the null: %g, want 1/100", p)
	}
	if p := tab.pValue(0); p != 1 {
		t.Errorf("p below the null: %g, want 1", p)
	}
	if p := tab.pValue(tab.stats[89]); math.Abs(p-0.11) > 1e-15 {
		t.Errorf("p at the 90th of 99 draws: %g, want (1 + 10)/100", p)
	}
	if hzNull(20, 2, 99, 7) != tab {
		t.Error("the null table is computed again for the same key")
	}
}

// TestNormalityCalibration runs Calibrate at the sweep's sample size (M = 64 views, k = 5
// components) in a 16-dimensional representation: under the null the p-values must be uniform
// (KS at ksLevel) whether the components are the sample's own principal components, random
// projections or the full space; the KS test must reject the conservative Bonferroni minimum of
// Mardia's tests (so it catches a miscalibrated p-value), and the non-Gaussian samples must get
// small p-values.
func TestNormalityCalibration(t *testing.T) {
	// 4,999 null draws: a table of B draws deviates from the exact null by about 1/√B, which
	// 600 replications would start to see at B = 999.
	cfg := CalibrationConfig{Views: 64, Components: 5, Dim: 16, Reps: 600, NullDraws: 4999, Level: ksLevel, Seed: 3}
	rows, err := Calibrate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		t.Logf("%-88s KS D %.4f p %.4f mean p %.3f p<0.01 %.3f p<0.05 %.3f", r.Name, r.KSD, r.KSP, r.MeanP, r.Reject01, r.Reject05)
		switch {
		case strings.Contains(r.Name, "lognormal"):
			// Measured, not asserted: its miscalibration shows at 2,000 replications (analyze -calibrate).
		case strings.Contains(r.Name, "Bonferroni"):
			if r.KSP >= ksLevel || r.MeanP < 0.55 {
				t.Errorf("%s: KS p %.4f, mean p %.3f; the KS test should reject this conservative p-value", r.Name, r.KSP, r.MeanP)
			}
		case r.Null:
			if !r.Calibrated || r.KSP < ksLevel {
				t.Errorf("%s: not uniform under the null: KS D %.4f, p %.4f", r.Name, r.KSD, r.KSP)
			}
		case strings.Contains(r.Name, "exponential"):
			if r.MeanP > 0.1 || r.Reject01 < 0.5 {
				t.Errorf("%s: mean p %.3f, rejections at 0.01 %.3f; want small p-values", r.Name, r.MeanP, r.Reject01)
			}
		default:
			if r.KSP >= ksLevel || r.MeanP > 0.4 {
				t.Errorf("%s: mean p %.3f, KS p %.4f; want p-values pushed towards 0", r.Name, r.MeanP, r.KSP)
			}
		}
	}
}

// TestWhitenedPCA: the standardised scores have zero mean and identity covariance, span the same
// subspace as PCA's scores, come out the same through the Gram matrix (n <= d) and the covariance
// (n > d), and drop components of zero variance.
func TestWhitenedPCA(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{6, 40} {
		x := gaussian(30, d)(rng)
		for i := range x {
			x[i][0] *= 5
		}
		w, r, err := whitenedPCA(x, 3)
		if err != nil || r != 3 {
			t.Fatalf("d %d: r %d, %v", d, r, err)
		}
		for a := range 3 {
			for b := range 3 {
				s := 0.0
				for i := range 30 {
					s += w[i*3+a] * w[i*3+b]
				}
				if want := map[bool]float64{true: 30, false: 0}[a == b]; math.Abs(s-want) > 1e-8 {
					t.Errorf("d %d: Σ w_a w_b (a %d, b %d) = %g, want %g", d, a, b, s, want)
				}
			}
		}
		// The first score is ± the first principal component's score over its standard deviation.
		proj, vars, err := PCA(x, 1)
		if err != nil {
			t.Fatal(err)
		}
		sd := math.Sqrt(vars[0] * 29 / 30)
		sign := math.Copysign(1, proj[0][0]*w[0])
		for i := range 30 {
			if math.Abs(sign*w[i*3]-proj[i][0]/sd) > 1e-8 {
				t.Fatalf("d %d: score %d: %g, PCA's %g", d, i, sign*w[i*3], proj[i][0]/sd)
			}
		}
	}
	x := gaussian(30, 5)(rng)
	for i := range x {
		x[i][3] = x[i][0] - x[i][2] // rank 4
	}
	if _, r, err := whitenedPCA(x, 5); err != nil || r != 4 {
		t.Errorf("rank-4 sample: %d components (%v), want 4", r, err)
	}
}
