package analysis

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/losses/entropy"
)

// TestEntropies checks the graph estimators against the host float64 versions of losses/entropy
// (independent code) and the closed form, on Gaussian samples with a known covariance.
func TestEntropies(t *testing.T) {
	b := backendtest.Backend(t)
	const n, d, tau = 400, 4, 0.5
	rng := rand.New(rand.NewPCG(5, 6))
	sd := []float64{0.5, 1, 2, 3}
	z, z1, z2 := make([][]float64, n), make([][]float64, n), make([][]float64, n)
	for i := range n {
		z[i], z1[i], z2[i] = make([]float64, d), make([]float64, d), make([]float64, d)
		for j := range d {
			z[i][j] = sd[j] * rng.NormFloat64()
			z1[i][j] = sd[j] * rng.NormFloat64()
			z2[i][j] = z1[i][j] + tau*rng.NormFloat64()
		}
	}
	cfg := EntropyConfig{Eps: 1e-4, Beta: 1, Sigma: 1, KNNK: 3}
	r, err := Entropies(b, z, z1, z2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	host := func(f func() (float64, error)) float64 {
		v, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"gaussian", r.Gaussian, host(func() (float64, error) { return entropy.Gaussian(z, cfg.Eps) }), 1e-3},
		{"logdet", r.LogDet, host(func() (float64, error) { return entropy.LogDet(z, cfg.Beta) }), 1e-3},
		{"pairwise lower", r.PairwiseLower, host(func() (float64, error) { return entropy.Pairwise(z, cfg.Sigma, entropy.Bhattacharyya) }), 1e-3},
		{"pairwise upper", r.PairwiseUpper, host(func() (float64, error) { return entropy.Pairwise(z, cfg.Sigma, entropy.KL) }), 1e-3},
		{"mi bound", r.GaussianMutualInfo, host(func() (float64, error) { return entropy.GaussianMutualInfo(z1, z2, cfg.Eps) }), 1e-3},
		{"mi parts", r.ViewGaussian - r.ConditionalGaussian, r.GaussianMutualInfo, 1e-3},
		// Closed form: H = d/2·log(2πe) + Σ log sd_j; sampling error ~ sqrt(d/(2n)) ≈ 0.07.
		{"gaussian vs truth", r.Gaussian, 0.5*d*math.Log(2*math.Pi*math.E) + math.Log(0.5*1*2*3), 0.25},
		{"knn vs truth", r.KNN, 0.5*d*math.Log(2*math.Pi*math.E) + math.Log(0.5*1*2*3), 0.3},
		// Decorrelated features: the Hadamard gap is the sampling correlation only.
		{"hadamard gap", r.SumLogVariance - r.LogDetCovariance, 0, 0.05},
	} {
		if math.Abs(tc.got-tc.want) > tc.tol {
			t.Errorf("%s: got %.5f, want %.5f ± %g", tc.name, tc.got, tc.want, tc.tol)
		}
	}
	if r.PairwiseLower > r.PairwiseUpper || r.PairwiseUpper > r.PairwiseMax {
		t.Errorf("pairwise: lower %.3f, upper %.3f, maximum %.3f out of order", r.PairwiseLower, r.PairwiseUpper, r.PairwiseMax)
	}
	if r.Beta != cfg.Beta || r.Sigma != cfg.Sigma {
		t.Errorf("explicit β = %g, σ = %g reported as %g, %g", cfg.Beta, cfg.Sigma, r.Beta, r.Sigma)
	}

	// The scale-aware defaults (0): the values used are reported, and are the host's.
	auto := EntropyConfig{Eps: 1e-4, KNNK: 3}
	ra, err := Entropies(b, z, z1, z2, auto)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"beta", ra.Beta, host(func() (float64, error) { return entropy.AutoBeta(z) })},
		{"sigma", ra.Sigma, host(func() (float64, error) { return entropy.AutoSigma(z) })},
		{"logdet", ra.LogDet, host(func() (float64, error) { return entropy.LogDet(z, 0) })},
		{"pairwise lower", ra.PairwiseLower, host(func() (float64, error) { return entropy.Pairwise(z, 0, entropy.Bhattacharyya) })},
		{"pairwise upper", ra.PairwiseUpper, host(func() (float64, error) { return entropy.Pairwise(z, 0, entropy.KL) })},
		{"pairwise max", ra.PairwiseMax, 0.5*d*math.Log(2*math.Pi*math.E*ra.Sigma*ra.Sigma) + math.Log(n)},
	} {
		if math.Abs(tc.got-tc.want) > 1e-3*max(1, math.Abs(tc.want)) {
			t.Errorf("auto %s: got %.5f, want %.5f", tc.name, tc.got, tc.want)
		}
	}
}

// TestEstimatorTable runs a tiny grid and checks the ground truths and the bracketing.
func TestEstimatorTable(t *testing.T) {
	b := backendtest.Backend(t)
	cfg := DefaultEstimatorConfig()
	cfg.Dims, cfg.Ns, cfg.Reps, cfg.MCSamples = []int{3, 16}, []int{512}, 2, 20000
	rows, err := EstimatorTable(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// find returns the row of distribution dist whose estimator name starts with prefix, at n.
	find := func(dist, prefix string, n int) EstimatorRow {
		t.Helper()
		for _, r := range rows {
			if r.Distribution == dist && strings.HasPrefix(r.Estimator, prefix) && r.N == n {
				return r
			}
		}
		t.Fatalf("no row %s/%s at n = %d", dist, prefix, n)
		return EstimatorRow{}
	}
	found := map[string]EstimatorRow{}
	for _, k := range []string{"gaussian/gaussian", "gaussian/knn", "gaussian/logdet beta=1", "gaussian/logdet beta=auto", "gaussian/mi",
		"mixture/gaussian", "mixture/knn"} {
		dist, prefix, _ := strings.Cut(k, "/")
		found[k] = find(dist, prefix, 512)
	}
	found["mixture/pairwise-bhattacharyya"] = find("mixture", "pairwise-bhattacharyya (lower bound)", cfg.Components)
	found["mixture/pairwise-kl"] = find("mixture", "pairwise-kl (upper bound)", cfg.Components)
	// The scale-aware σ on samples: unsaturated in d = 3 and 16; σ = 1 saturated (KL) in
	// d = 16, the negative control.
	for _, d := range cfg.Dims {
		for _, dist := range []string{"gaussian", "mixture"} {
			for _, kind := range []string{"pairwise-bhattacharyya", "pairwise-kl"} {
				var r EstimatorRow
				for _, row := range rows {
					if row.D == d && row.Distribution == dist && row.Estimator == kind+" sigma=auto (losses.PairwiseEntropy)" {
						r = row
					}
				}
				if r.Saturation == nil || *r.Saturation < 0.1 || *r.Saturation > 0.9 {
					t.Errorf("d=%d %s %s at sigma=auto: saturation %.3f, want it in [0.1, 0.9]", d, dist, kind, deref(r.Saturation))
				}
			}
		}
	}
	controls := 0
	for _, row := range rows {
		if row.D == 16 && row.N == 512 && row.Estimator == "pairwise-kl sigma=1, the default (losses.PairwiseEntropy)" {
			controls++
			if row.Saturation == nil || *row.Saturation < 0.95 {
				t.Errorf("d=16 %s %s: saturation %.3f, want >= 0.95 (saturated)", row.Distribution, row.Estimator, deref(row.Saturation))
			}
		}
	}
	if controls != 2 {
		t.Errorf("%d rows of the σ = 1 control at d = 16, want 2 (Gaussian and mixture)", controls)
	}
	// LogDet at its default against its own population value (β = d/tr Σ of the true covariance).
	if r := found["gaussian/logdet beta=auto"]; math.Abs(r.Bias) > 0.05*math.Abs(r.Truth) {
		t.Errorf("LogDet at beta=auto: %.3f, population value %.3f", r.Mean, r.Truth)
	}
	// The Gaussian estimator is consistent for a Gaussian: small error at n = 512, d = 3.
	if r := found["gaussian/gaussian"]; math.Abs(r.Bias) > 0.15 {
		t.Errorf("Gaussian estimator on Gaussian samples: bias %.3f", r.Bias)
	}
	// For a mixture it is an upper bound (maximum entropy for the covariance).
	if r := found["mixture/gaussian"]; r.Bias < 0 {
		t.Errorf("Gaussian estimator on a mixture: bias %.3f, want > 0 (an upper bound)", r.Bias)
	}
	lo, hi := found["mixture/pairwise-bhattacharyya"], found["mixture/pairwise-kl"]
	if !(lo.Mean <= lo.Truth+3*lo.TruthSE && hi.Mean >= hi.Truth-3*hi.TruthSE) || lo.Brackets == nil || !*lo.Brackets {
		t.Errorf("pairwise bounds [%.3f, %.3f] do not bracket the Monte Carlo truth %.3f ± %.3f", lo.Mean, hi.Mean, lo.Truth, lo.TruthSE)
	}
	// The Gaussian MI's population value is 0.5·(log det Σ - d·log τ²); for this Gaussian Z it is a lower bound, below the truth.
	if r := found["gaussian/mi"]; r.Mean > r.Truth {
		t.Errorf("Gaussian MI %.3f above the true MI %.3f (a lower bound for Gaussian Z)", r.Mean, r.Truth)
	}
	dir := t.TempDir()
	if err := WriteEstimatorTable(dir, cfg, rows); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, EstimatorsJSON))
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Config map[string]any   `json:"config"`
		Rows   []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(data, &parsed); err != nil || len(parsed.Rows) != len(rows) {
		t.Fatalf("estimators.json: %v (%d rows, want %d)", err, len(parsed.Rows), len(rows))
	}
	for _, k := range []string{"distribution", "d", "n", "estimator", "truth", "mean", "bias", "rmse"} {
		if _, ok := parsed.Rows[0][k]; !ok {
			t.Errorf("estimators.json rows have no %q", k)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, EstimatorsTable))
	if got := strings.Count(string(md), "\n| "); got != len(rows)+1 {
		t.Errorf("estimators.md has %d table lines, want %d", got, len(rows)+1)
	}
}

// deref is *p, NaN for nil.
func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func TestFiniteJSON(t *testing.T) {
	type inner struct {
		A float64 `json:"a"`
		B string  `json:"b,omitempty"`
		C float64 `json:"-"`
	}
	v := struct {
		X []inner           `json:"x"`
		M map[string]string `json:"m,omitempty"`
		P *float64          `json:"p"`
	}{X: []inner{{A: math.NaN()}, {A: 2, B: "s"}}}
	path := filepath.Join(t.TempDir(), "f.json")
	if err := writeJSON(path, v); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var got any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := `{"p":null,"x":[{"a":null},{"a":2,"b":"s"}]}`
	compact, _ := json.Marshal(got)
	if string(compact) != want {
		t.Errorf("got %s, want %s", compact, want)
	}
}
