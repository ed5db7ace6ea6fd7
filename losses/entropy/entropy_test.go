package entropy

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/mathext"
)

func TestLogDetSPD(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a       *mat.SymDense
		want    float64
		wantErr string
	}{
		{"2x2", mat.NewSymDense(2, []float64{4, 2, 2, 3}), math.Log(8), ""},
		{"diagonal", mat.NewSymDense(3, []float64{2, 0, 0, 0, 3, 0, 0, 0, 5}), math.Log(30), ""},
		{"indefinite", mat.NewSymDense(2, []float64{1, 2, 2, 1}), 0, "not positive definite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LogDetSPD(tc.a)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("LogDetSPD = %g, %v; want %g", got, err, tc.want)
			}
		})
	}
}

// gaussianSamples draws n samples of N(0, Σ) with Σ = L Lᵀ, L lower triangular with a unit-ish
// diagonal and random off-diagonal entries; it returns the samples and Σ.
func gaussianSamples(r *rand.Rand, n, d int) ([][]float64, *mat.SymDense) {
	l := make([][]float64, d)
	for i := range d {
		l[i] = make([]float64, d)
		for j := range i {
			l[i][j] = 0.3 * r.NormFloat64() / math.Sqrt(float64(d))
		}
		l[i][i] = 0.5 + r.Float64()
	}
	cov := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			s := 0.0
			for k := range d {
				s += l[i][k] * l[j][k]
			}
			cov.SetSym(i, j, s)
		}
	}
	x := make([][]float64, n)
	e := make([]float64, d)
	for s := range n {
		for k := range e {
			e[k] = r.NormFloat64()
		}
		x[s] = make([]float64, d)
		for i := range d {
			for k := 0; k <= i; k++ {
				x[s][i] += l[i][k] * e[k]
			}
		}
	}
	return x, cov
}

// TestGaussianEstimatorOnGaussians checks the plug-in Gaussian estimate against 0.5·log det(2πeΣ).
// The sample log-determinant has a known bias, E[log det S] - log det Σ = Σ_{i=1..d} ψ((n-i)/2) +
// d·log(2/(n-1)), and standard deviation ≈ sqrt(2d/n); the test allows the bias plus 5 standard
// deviations (of H, i.e. halved).
func TestGaussianEstimatorOnGaussians(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ n, d int }{{200, 1}, {2000, 4}, {500, 16}, {2000, 16}, {500, 64}, {2000, 64}} {
		x, cov := gaussianSamples(r, tc.n, tc.d)
		want, err := GaussianExact(cov)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Gaussian(x, 0)
		if err != nil {
			t.Fatal(err)
		}
		bias := float64(tc.d) * math.Log(2/float64(tc.n-1))
		for i := 1; i <= tc.d; i++ {
			bias += mathext.Digamma(float64(tc.n-i) / 2)
		}
		bias /= 2
		tol := 5 * 0.5 * math.Sqrt(2*float64(tc.d)/float64(tc.n))
		t.Logf("n=%d d=%d: true %.4f, Gaussian estimate %.4f (error %.4f, expected bias %.4f, tolerance ±%.4f)",
			tc.n, tc.d, want, got, got-want, bias, tol)
		if math.Abs(got-want-bias) > tol {
			t.Errorf("n=%d d=%d: Gaussian estimate %.4f, want %.4f%+.4f ± %.4f", tc.n, tc.d, got, want, bias, tol)
		}
	}
}

// TestKNNOnGaussians checks the Kozachenko–Leonenko estimator against the exact Gaussian entropy.
// Stated tolerance: 0.05 nats per dimension plus 0.1 for d <= 4. In higher dimension the estimator's
// bias at fixed n is large and known (it grows with d: the k-th neighbour is no longer local), so
// there the tolerance is 0.25 nats per dimension, a sanity bound: the log shows the actual error.
func TestKNNOnGaussians(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ n, d, k int }{{2000, 1, 3}, {2000, 4, 3}, {2000, 16, 3}, {2000, 64, 3}} {
		x, cov := gaussianSamples(r, tc.n, tc.d)
		want, err := GaussianExact(cov)
		if err != nil {
			t.Fatal(err)
		}
		got, err := KNN(x, tc.k)
		if err != nil {
			t.Fatal(err)
		}
		tol := 0.05*float64(tc.d) + 0.1
		if tc.d > 4 {
			tol = 0.25 * float64(tc.d)
		}
		t.Logf("n=%d d=%d k=%d: true %.4f, kNN %.4f (error %.4f, tolerance ±%.2f)", tc.n, tc.d, tc.k, want, got, got-want, tol)
		if math.Abs(got-want) > tol {
			t.Errorf("n=%d d=%d: kNN estimate %.4f, want %.4f ± %.2f", tc.n, tc.d, got, want, tol)
		}
	}
}

// TestPairwiseBracketsMixtureEntropy draws the means of a Gaussian mixture (1/n)·Σ N(μ_i, σ²I),
// estimates its true entropy by Monte Carlo (-mean log p(x) over samples of the mixture, with the
// exact mixture density), and checks Bhattacharyya <= truth <= KL.
func TestPairwiseBracketsMixtureEntropy(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		n, d          int
		spread, sigma float64
	}{{10, 1, 2, 1}, {20, 2, 1, 1}, {30, 5, 1.5, 1}, {16, 8, 0.5, 0.7}} {
		means := make([][]float64, tc.n)
		for i := range means {
			means[i] = make([]float64, tc.d)
			for j := range means[i] {
				means[i][j] = tc.spread * r.NormFloat64()
			}
		}
		const samples = 40000
		logs := make([]float64, tc.n)
		sum, sumSq := 0.0, 0.0
		x := make([]float64, tc.d)
		logNorm := -0.5 * float64(tc.d) * math.Log(2*math.Pi*tc.sigma*tc.sigma)
		for range samples {
			c := means[r.IntN(tc.n)]
			for j := range x {
				x[j] = c[j] + tc.sigma*r.NormFloat64()
			}
			for i, m := range means {
				logs[i] = logNorm - SquaredDistance(x, m)/(2*tc.sigma*tc.sigma)
			}
			lp := floats.LogSumExp(logs) - math.Log(float64(tc.n))
			sum -= lp
			sumSq += lp * lp
		}
		truth := sum / samples
		stderr := math.Sqrt((sumSq/samples - truth*truth) / samples)
		lo, err := Pairwise(means, tc.sigma, Bhattacharyya)
		if err != nil {
			t.Fatal(err)
		}
		hi, err := Pairwise(means, tc.sigma, KL)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("n=%d d=%d: Bhattacharyya %.4f <= Monte Carlo %.4f (±%.4f) <= KL %.4f; margins %.4f and %.4f",
			tc.n, tc.d, lo, truth, stderr, hi, truth-lo, hi-truth)
		if lo > truth+4*stderr || truth-4*stderr > hi {
			t.Errorf("n=%d d=%d: bounds [%.4f, %.4f] do not bracket the Monte Carlo entropy %.4f ± %.4f",
				tc.n, tc.d, lo, hi, truth, stderr)
		}
	}
}

func TestGaussianMutualInfo(t *testing.T) {
	// Z' = Z + noise with Z ~ N(0, I_d), noise ~ N(0, s²I): the Gaussian bound is
	// 0.5·log det(Σ_Z) - 0.5·log det(Σ_noise) = -d·log(s) (a lower bound on I(Z;Z'), as Z is Gaussian).
	r := rand.New(rand.NewPCG(13, 14))
	n, d, s := 4000, 3, 0.5
	z1 := make([][]float64, n)
	z2 := make([][]float64, n)
	for i := range n {
		z1[i], z2[i] = make([]float64, d), make([]float64, d)
		for j := range d {
			z1[i][j] = r.NormFloat64()
			z2[i][j] = z1[i][j] + s*r.NormFloat64()
		}
	}
	got, err := GaussianMutualInfo(z1, z2, 1e-9)
	if err != nil {
		t.Fatal(err)
	}
	want := -float64(d) * math.Log(s)
	if math.Abs(got-want) > 0.1 {
		t.Errorf("GaussianMutualInfo = %.4f, want %.4f ± 0.1", got, want)
	}
}

func TestErrors(t *testing.T) {
	x := [][]float64{{1, 2}, {3, 4}, {5, 7}}
	for _, tc := range []struct {
		name string
		fn   func() error
		want string
	}{
		{"ragged", func() error { _, err := Gaussian([][]float64{{1, 2}, {3}}, 1e-4); return err }, "row 1 has 1 values"},
		{"one sample", func() error { _, err := LogDet([][]float64{{1, 2}}, 1); return err }, "at least 2 samples"},
		{"beta", func() error { _, err := LogDet(x, -1); return err }, "beta must be > 0 (or 0 for the scale-aware value), got -1"},
		{"sigma", func() error { _, err := Pairwise(x, math.NaN(), KL); return err }, "sigma must be > 0"},
		{"auto sigma of one sample", func() error { _, err := Pairwise([][]float64{{1, 2}}, 0, KL); return err }, "scale-aware sigma: need at least 2 samples, got 1"},
		{"kind", func() error { _, err := Pairwise(x, 1, "euclid"); return err }, `kind must be "bhattacharyya" or "kl"`},
		{"k", func() error { _, err := KNN(x, 3); return err }, "k must be in [1, 2]"},
		{"duplicates", func() error { _, err := KNN([][]float64{{1}, {1}, {2}}, 1); return err }, "duplicates"},
	} {
		err := tc.fn()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

// TestScaleAwareValues checks AutoBeta and AutoSigma against values worked out by hand, and that
// Auto (0) in LogDet and Pairwise means them.
func TestScaleAwareValues(t *testing.T) {
	// Corners of a square of side 2: each column has mean 1 and unbiased variance 4/3, so
	// tr Σ = 8/3 and β = d/tr Σ = 3/4. Squared distances over the 6 pairs: 4, 4, 4, 4, 8, 8; the
	// lower median (3rd smallest) is 4, so σ² = 4/(2 ln 4).
	square := [][]float64{{0, 0}, {2, 0}, {0, 2}, {2, 2}}
	// Three points on a line at 0, 1 and 3: squared distances 1, 9, 4; median 4.
	line := [][]float64{{0}, {1}, {3}}
	// Four points, three of them equal: the median squared distance is 0, so σ = 1.
	coincident := [][]float64{{5}, {5}, {5}, {6}}
	ok := must(t)
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"square beta", ok(AutoBeta(square)), 0.75},
		{"square sigma", ok(AutoSigma(square)), math.Sqrt(4 / (2 * math.Log(4)))},
		{"line sigma", ok(AutoSigma(line)), math.Sqrt(4 / (2 * math.Log(3)))},
		{"coincident sigma", ok(AutoSigma(coincident)), 1},
		{"constant beta", ok(AutoBeta([][]float64{{1, 1}, {1, 1}})), 1},
		{"LogDet(0) is LogDet(AutoBeta)", ok(LogDet(square, 0)), ok(LogDet(square, 0.75))},
		{"Pairwise(0) is Pairwise(AutoSigma)", ok(Pairwise(line, 0, KL)), ok(Pairwise(line, math.Sqrt(2/math.Log(3)), KL))},
	} {
		if math.Abs(tc.got-tc.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", tc.name, tc.got, tc.want)
		}
	}
}

// must returns a function that unwraps (value, error), failing t on an error.
func must(t *testing.T) func(float64, error) float64 {
	return func(v float64, err error) float64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
