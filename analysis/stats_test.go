package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// rejectionRate runs reps seeded replications of test on samples from draw and returns the
// fraction rejected at level alpha.
func rejectionRate(t *testing.T, reps int, alpha float64, sample func(rng *rand.Rand) [][]float64, test func([][]float64) (float64, error)) float64 {
	t.Helper()
	rejected := 0
	for r := range reps {
		rng := rand.New(rand.NewPCG(uint64(r), 42))
		p, err := test(sample(rng))
		if err != nil {
			t.Fatalf("replication %d: %v", r, err)
		}
		if p < alpha {
			rejected++
		}
	}
	return float64(rejected) / float64(reps)
}

func column(x [][]float64) []float64 {
	out := make([]float64, len(x))
	for i, r := range x {
		out[i] = r[0]
	}
	return out
}

func gaussian(n, p int) func(*rand.Rand) [][]float64 {
	return func(rng *rand.Rand) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, p)
			for j := range x[i] {
				// Correlated, shifted and scaled: the tests are affine invariant.
				x[i][j] = 3 + float64(j+1)*rng.NormFloat64()
				if j > 0 {
					x[i][j] += x[i][j-1]
				}
			}
		}
		return x
	}
}

func uniform(n, p int) func(*rand.Rand) [][]float64 {
	return func(rng *rand.Rand) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, p)
			for j := range x[i] {
				x[i][j] = rng.Float64()
			}
		}
		return x
	}
}

// mixture is, along every axis independently, an equal mixture of two Gaussians N(±1.5, 0.5²).
func mixture(n, p int) func(*rand.Rand) [][]float64 {
	return func(rng *rand.Rand) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, p)
			for j := range x[i] {
				shift := 1.5
				if rng.IntN(2) == 0 {
					shift = -1.5
				}
				x[i][j] = shift + 0.5*rng.NormFloat64()
			}
		}
		return x
	}
}

// exponential is a skewed distribution (Exp(1) per axis).
func exponential(n, p int) func(*rand.Rand) [][]float64 {
	return func(rng *rand.Rand) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, p)
			for j := range x[i] {
				x[i][j] = rng.ExpFloat64()
			}
		}
		return x
	}
}

func adP(x [][]float64) (float64, error) { _, p, err := AndersonDarling(column(x)); return p, err }
func skewP(x [][]float64) (float64, error) {
	r, err := Mardia(x)
	return r.SkewP, err
}
func kurtP(x [][]float64) (float64, error) {
	r, err := Mardia(x)
	return r.KurtP, err
}

// TestNominalLevel checks that Gaussian samples are rejected at close to the nominal rate: the
// observed rate lies in the 99.9% binomial interval around alpha (the tests are not exact, so a
// small bias is allowed: the interval is widened by a relative 20% of alpha).
func TestNominalLevel(t *testing.T) {
	const alpha = 0.05
	for _, tc := range []struct {
		name string
		reps int
		n, p int
		test func([][]float64) (float64, error)
	}{
		{"anderson-darling n=64", 4000, 64, 1, adP},
		{"anderson-darling n=20", 4000, 20, 1, adP},
		{"mardia skewness n=64 p=5", 2000, 64, 5, skewP},
		{"mardia kurtosis n=64 p=5", 2000, 64, 5, kurtP},
		{"mardia skewness n=200 p=3", 1000, 200, 3, skewP},
		{"mardia kurtosis n=200 p=3", 1000, 200, 3, kurtP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rate := rejectionRate(t, tc.reps, alpha, gaussian(tc.n, tc.p), tc.test)
			half := 3.29*math.Sqrt(alpha*(1-alpha)/float64(tc.reps)) + 0.2*alpha
			t.Logf("rejection rate %.4f (nominal %.2f ± %.4f)", rate, alpha, half)
			if math.Abs(rate-alpha) > half {
				t.Errorf("rejection rate %.4f of Gaussian samples, want %.2f ± %.4f", rate, alpha, half)
			}
		})
	}
}

// TestPower checks that clearly non-Gaussian samples are rejected at the sample sizes the tool uses
// (64 views per anchor).
func TestPower(t *testing.T) {
	const alpha, reps = 0.05, 500
	for _, tc := range []struct {
		name     string
		sample   func(*rand.Rand) [][]float64
		test     func([][]float64) (float64, error)
		minPower float64
	}{
		{"anderson-darling uniform", uniform(64, 1), adP, 0.6},
		{"anderson-darling bimodal", mixture(64, 1), adP, 0.99},
		{"anderson-darling exponential", exponential(64, 1), adP, 0.99},
		{"mardia kurtosis uniform p=5", uniform(64, 5), kurtP, 0.85},
		{"mardia kurtosis bimodal p=5", mixture(64, 5), kurtP, 0.99},
		{"mardia skewness exponential p=5", exponential(64, 5), skewP, 0.99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			power := rejectionRate(t, reps, alpha, tc.sample, tc.test)
			t.Logf("power %.3f", power)
			if power < tc.minPower {
				t.Errorf("power %.3f, want >= %.2f", power, tc.minPower)
			}
		})
	}
}

func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		k, n   int
		lo, hi float64
	}{
		// Reference values: Wilson (1927) score interval, z = 1.959964, computed with Python's
		// statistics.NormalDist; the defining property is checked below as well.
		{5, 10, 0.236593, 0.763407},
		{0, 10, 0, 0.277533},
		{10, 10, 0.722467, 1},
		{81, 263, 0.255289, 0.366210},
	} {
		lo, hi := Wilson(tc.k, tc.n, 0.05)
		if math.Abs(lo-tc.lo) > 1e-5 || math.Abs(hi-tc.hi) > 1e-5 {
			t.Errorf("Wilson(%d, %d) = [%.6f, %.6f], want [%.6f, %.6f]", tc.k, tc.n, lo, hi, tc.lo, tc.hi)
		}
		// The interval is {q : (k/n - q)² <= z²·q(1-q)/n}: interior end points satisfy it with equality.
		ph, z2 := float64(tc.k)/float64(tc.n), 1.959964*1.959964
		for _, q := range []float64{lo, hi} {
			if q > 0 && q < 1 && math.Abs((ph-q)*(ph-q)-z2*q*(1-q)/float64(tc.n)) > 1e-7 {
				t.Errorf("Wilson(%d, %d): end point %.6f does not solve the score equation", tc.k, tc.n, q)
			}
		}
	}
}

func TestHolm(t *testing.T) {
	for _, tc := range []struct {
		p    []float64
		want []bool
	}{
		// alpha/4, alpha/3, alpha/2, alpha thresholds: 0.0125, 0.0167, 0.025, 0.05.
		{[]float64{0.01, 0.04, 0.03, 0.005}, []bool{true, false, false, true}},
		{[]float64{0.01, 0.02, 0.015, 0.012}, []bool{true, true, true, true}},
		{[]float64{0.02, 0.5, 0.9, 0.013}, []bool{false, false, false, false}},
	} {
		got := Holm(tc.p, 0.05)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Holm(%v) = %v, want %v", tc.p, got, tc.want)
				break
			}
		}
	}
}

func TestPCA(t *testing.T) {
	// Axis-aligned data with standard deviations 1, 5, 2: principal axes are the coordinate axes,
	// ordered 5, 2, 1.
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([][]float64, 20000)
	for i := range x {
		x[i] = []float64{rng.NormFloat64(), 5 * rng.NormFloat64(), 2 * rng.NormFloat64()}
	}
	proj, vars, err := PCA(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range []float64{25, 4} {
		if math.Abs(vars[a]-want)/want > 0.05 {
			t.Errorf("variance %d = %.3f, want %.0f", a, vars[a], want)
		}
	}
	// The first component is ± the second coordinate (centred).
	c := math.Abs(proj[0][0]-proj[1][0]) - math.Abs(x[0][1]-x[1][1])
	if math.Abs(c) > 0.05*math.Abs(x[0][1]-x[1][1])+1e-3 {
		t.Errorf("first component is not the second axis: %v vs %v", proj[:2], x[:2])
	}
	if _, _, err := PCA(x, 4); err == nil {
		t.Error("PCA with k > d: no error")
	}
}

func TestDegenerate(t *testing.T) {
	if _, _, err := AndersonDarling(make([]float64, 20)); err == nil {
		t.Error("Anderson-Darling on a constant sample: no error")
	}
	flat := make([][]float64, 30)
	for i := range flat {
		flat[i] = []float64{float64(i), 2 * float64(i)}
	}
	if _, err := Mardia(flat); err == nil {
		t.Error("Mardia on a rank-1 sample: no error")
	}
}

// TestAndersonDarlingLargeStatistics: D'Agostino and Stephens' p-value formula turns up beyond
// A*² ≈ 153.5 and exceeds 1 from about 307: a grossly non-normal sample of a few thousand values
// (lognormal with σ = 3) must still give p below 0.001, the level whose critical value (1.159,
// Stephens' case 3) its A*² exceeds many times over, and a larger sample no larger a p-value.
func TestAndersonDarlingLargeStatistics(t *testing.T) {
	last := 1.0
	for _, n := range []int{1000, 2000, 4000} {
		rng := rand.New(rand.NewPCG(7, uint64(n)))
		x := make([]float64, n)
		for i := range x {
			x[i] = math.Exp(3 * rng.NormFloat64())
		}
		a, p, err := AndersonDarling(x)
		if err != nil {
			t.Fatal(err)
		}
		if !(a > 153.5) || !(p < 1e-3) || p > last || math.IsNaN(p) {
			t.Errorf("n %d: A*² = %.1f, p = %g (the previous n: %g); want A*² > 153.5 and p < 0.001, not above the previous", n, a, p, last)
		}
		last = p
	}
}

// TestLogNormCDFTail: log Φ(z) against mpmath's log(ncdf(z)) at 50 digits, on both sides of
// the switch to the asymptotic series (z = -37), where Φ itself underflows from about -38.5 on.
func TestLogNormCDFTail(t *testing.T) {
	for _, tc := range []struct{ z, want float64 }{
		{-36, -652.503227593798}, {-38, -726.55721601882}, {-40, -804.608442013754}, {-100, -5005.52420869421},
	} {
		if got := logNormCDF(tc.z); math.Abs(got-tc.want) > 1e-9*math.Abs(tc.want) {
			t.Errorf("logNormCDF(%g) = %.12g, want %.12g", tc.z, got, tc.want)
		}
	}
}
