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
		{"mi bound", r.MutualInfoLowerBound, host(func() (float64, error) { return entropy.MutualInfoLowerBound(z1, z2, cfg.Eps) }), 1e-3},
		{"mi parts", r.ViewGaussian - r.ConditionalGaussian, r.MutualInfoLowerBound, 1e-3},
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
}

// TestEstimatorTable runs a tiny grid and checks the ground truths and the bracketing.
func TestEstimatorTable(t *testing.T) {
	b := backendtest.Backend(t)
	cfg := DefaultEstimatorConfig()
	cfg.Dims, cfg.Ns, cfg.Reps, cfg.MCSamples = []int{3}, []int{512}, 2, 20000
	rows, err := EstimatorTable(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]EstimatorRow{}
	for _, r := range rows {
		found[r.Distribution+"/"+strings.Fields(r.Estimator)[0]] = r
	}
	for _, k := range []string{"gaussian/gaussian", "gaussian/knn", "gaussian/logdet", "gaussian/mi", "mixture/gaussian", "mixture/knn", "mixture/pairwise-bhattacharyya", "mixture/pairwise-kl"} {
		if _, ok := found[k]; !ok {
			t.Errorf("no row %s", k)
		}
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
	// The MI lower bound's population value is 0.5·(log det Σ - d·log τ²); it is below the truth.
	if r := found["gaussian/mi"]; r.Mean > r.Truth {
		t.Errorf("MI lower bound %.3f above the true MI %.3f", r.Mean, r.Truth)
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
