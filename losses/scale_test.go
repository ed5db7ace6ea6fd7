package losses

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"gonum.org/v1/gonum/mat"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/losses/entropy"
)

// TestScaleAwareMatchesPyTorch compares AutoBeta, AutoSigma and the estimators at their
// scale-aware defaults, values and gradients, in float32, with PyTorch float64 references
// (testdata/gen_fixtures.py: torch.median of the squared distances over i < j, β and σ detached).
func TestScaleAwareMatchesPyTorch(t *testing.T) {
	b := backendtest.Backend(t)
	for ci, c := range loadFixtures(t) {
		z1 := tensorOf(c.Z1, c.N, c.D, dtypes.Float32)
		out := run(t, b, func(z, _ *graph.Node) []*graph.Node {
			ld := LogDetEntropy(z, Auto)
			lo := PairwiseEntropy(z, Auto, Bhattacharyya)
			hi := PairwiseEntropy(z, Auto, KL)
			return []*graph.Node{AutoBeta(z), AutoSigma(z), ld, lo, hi,
				graph.Gradient(ld, z)[0], graph.Gradient(lo, z)[0], graph.Gradient(hi, z)[0]}
		}, z1, z1)
		a := c.Auto
		for i, want := range []float64{a.Beta, a.Sigma, a.LogDet, a.PairBhatt, a.PairKL} {
			name := []string{"AutoBeta", "AutoSigma", "LogDet", "Bhattacharyya", "KL"}[i]
			if e := relErr(out[i][0], want); e > 1e-5 {
				t.Errorf("case %d (n=%d, d=%d): %s = %.8g, PyTorch %.8g (rel. error %.2g)", ci, c.N, c.D, name, out[i][0], want, e)
			}
		}
		for i, want := range [][]float64{a.LogDetGrad, a.PairBhattGrad, a.PairKLGrad} {
			got := out[5+i]
			scale := 0.0
			for _, w := range want {
				scale = max(scale, math.Abs(w))
			}
			for j := range want {
				if math.Abs(got[j]-want[j]) > 1e-4*scale {
					t.Errorf("case %d: gradient %d [%d] = %.8g, PyTorch %.8g", ci, i, j, got[j], want[j])
					break
				}
			}
		}
	}
}

// scaledGaussian returns n rows of N(0, s²·I_d), or, when clustered, of a mixture of 8 clusters
// (centres N(0, (3s)²I), spread s), row-major and as rows.
func scaledGaussian(r *rand.Rand, n, d int, s float64, clustered bool) ([]float64, [][]float64) {
	var centres [][]float64
	if clustered {
		centres = make([][]float64, 8)
		for k := range centres {
			centres[k] = make([]float64, d)
			for j := range d {
				centres[k][j] = 3 * s * r.NormFloat64()
			}
		}
	}
	data := make([]float64, n*d)
	rows := make([][]float64, n)
	for i := range n {
		rows[i] = data[i*d : (i+1)*d]
		var c []float64
		if clustered {
			c = centres[r.IntN(len(centres))]
		}
		for j := range d {
			rows[i][j] = s * r.NormFloat64()
			if c != nil {
				rows[i][j] += c[j]
			}
		}
	}
	return data, rows
}

// TestScaleAwareAgainstHost checks the graph's AutoBeta and AutoSigma (bisection, float32) and the
// estimators at Auto against the host float64 versions of losses/entropy (sorting, gonum), for
// n < d and n > d, over scales that span eight decades.
func TestScaleAwareAgainstHost(t *testing.T) {
	b := backendtest.Backend(t)
	r := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct {
		n, d      int
		s         float64
		clustered bool
	}{{40, 3, 1e-4, false}, {30, 100, 1, true}, {33, 8, 1e4, true}} {
		t.Run(fmt.Sprintf("n=%d,d=%d,s=%g", tc.n, tc.d, tc.s), func(t *testing.T) {
			data, rows := scaledGaussian(r, tc.n, tc.d, tc.s, tc.clustered)
			zt := tensorOf(data, tc.n, tc.d, dtypes.Float32)
			out := run(t, b, func(z, _ *graph.Node) []*graph.Node {
				return []*graph.Node{AutoBeta(z), AutoSigma(z), LogDetEntropy(z, Auto),
					PairwiseEntropy(z, Auto, Bhattacharyya), PairwiseEntropy(z, Auto, KL)}
			}, zt, zt)
			host := func(f func() (float64, error)) float64 {
				v, err := f()
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			want := []float64{
				host(func() (float64, error) { return entropy.AutoBeta(rows) }),
				host(func() (float64, error) { return entropy.AutoSigma(rows) }),
				host(func() (float64, error) { return entropy.LogDet(rows, 0) }),
				host(func() (float64, error) { return entropy.Pairwise(rows, 0, entropy.Bhattacharyya) }),
				host(func() (float64, error) { return entropy.Pairwise(rows, 0, entropy.KL) }),
			}
			for i, name := range []string{"AutoBeta", "AutoSigma", "LogDet", "Bhattacharyya", "KL"} {
				// The entropies: an absolute tolerance, their additive constants hold log σ², log β.
				if got := out[i][0]; math.Abs(got-want[i]) > 1e-4*max(1, math.Abs(want[i])) {
					t.Errorf("%s = %.7g, host float64 %.7g", name, got, want[i])
				}
			}
		})
	}
}

// TestScaleAwareDefaultsUnsaturated checks that the default (Auto) σ and β keep the estimators
// away from the ends of their ranges on embeddings of known scale s, from 1e-3 to 1e3, Gaussian and
// clustered, in 4 to 512 dimensions, and that the old fixed values (σ = 1, β = 1) do not: the
// negative controls show the criteria catch saturation.
//
// Pairwise: the data term f·ln n = H_D - d/2·log(2πeσ²) lies in [0, ln n]; f near 1 means every
// component is far from every other (the estimate is its maximum, whatever the embeddings), f near
// 0 that all coincide. Wanted: 0.1 <= f <= 0.9 for both bounds.
//
// LogDet: with λ_k the eigenvalues of β·Σ_Z, ½·log det(I + β·Σ_Z) = ½·Σ_k log(1 + λ_k), and
// r = mean of λ_k/(1 + λ_k) over the m = min(n-1, d) eigenvalues a batch can make non-zero, in
// [0, 1): r near 0 is LogDet's saturation, the estimate ½·β·tr Σ_Z, the variance alone, blind to
// correlations (r near 1 is the log-det of the covariance on the batch's span, an entropy, not a
// saturation: n < d batches sit there, at λ ≈ d/(n-1)). Wanted: r >= 0.1. β is the graph's
// AutoBeta (that LogDetEntropy uses it is TestScaleAwareAgainstHost's job).
//
// Both criteria must also not depend on s: their spread over the three scales is at most 0.05.
func TestScaleAwareDefaultsUnsaturated(t *testing.T) {
	b := backendtest.Backend(t)
	r := rand.New(rand.NewPCG(23, 24))
	const n = 64
	regime := func(rows [][]float64, beta float64) float64 {
		cov, err := entropy.Covariance(rows)
		if err != nil {
			t.Fatal(err)
		}
		var eig mat.EigenSym
		if !eig.Factorize(cov, false) {
			t.Fatal("eigendecomposition failed")
		}
		vals := eig.Values(nil) // ascending
		m := min(n-1, len(vals))
		sum := 0.0
		for _, v := range vals[len(vals)-m:] {
			l := beta * max(v, 0)
			sum += l / (1 + l)
		}
		return sum / float64(m)
	}
	type result struct{ lower, upper, sigma, r float64 }
	// estimates returns an Exec of the pairwise bounds at sigma (Auto or a value), the σ used and
	// AutoBeta, for [n, d] embeddings; measure turns its outputs into the criteria.
	estimates := func(sigma float64) *graph.Exec {
		return graph.MustNewExec(b, func(z *graph.Node) []*graph.Node {
			s := graph.Scalar(z.Graph(), z.DType(), sigma)
			if sigma == Auto {
				s = AutoSigma(z)
			}
			return []*graph.Node{PairwiseEntropy(z, sigma, Bhattacharyya), PairwiseEntropy(z, sigma, KL), s, AutoBeta(z)}
		})
	}
	measure := func(exec *graph.Exec, data []float64, rows [][]float64, d int, beta float64) result {
		outs, err := exec.Exec(tensorOf(data, n, d, dtypes.Float32))
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float64, len(outs))
		for i, o := range outs {
			v[i] = flat(o)[0]
		}
		base := 0.5 * float64(d) * math.Log(2*math.Pi*math.E*v[2]*v[2])
		if beta == Auto {
			beta = v[3]
		}
		return result{(v[0] - base) / math.Log(n), (v[1] - base) / math.Log(n), v[2], regime(rows, beta)}
	}
	auto := estimates(Auto)
	for _, d := range []int{4, 64, 512} {
		for _, clustered := range []bool{false, true} {
			lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)} // each criterion's range over the scales
			hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
			for _, s := range []float64{1e-3, 1, 1e3} {
				data, rows := scaledGaussian(r, n, d, s, clustered)
				got := measure(auto, data, rows, d, Auto)
				t.Logf("d=%d s=%g clustered=%v: σ = %.4g, f = %.3f (Bhattacharyya), %.3f (KL); LogDet r = %.3f",
					d, s, clustered, got.sigma, got.lower, got.upper, got.r)
				for k, v := range []struct {
					name   string
					f, min float64
					max    float64
				}{{"Bhattacharyya f", got.lower, 0.1, 0.9}, {"KL f", got.upper, 0.1, 0.9}, {"LogDet r", got.r, 0.1, 1}} {
					if !(v.f >= v.min && v.f <= v.max) {
						t.Errorf("d=%d s=%g clustered=%v: %s = %.3f at the default, want it in [%g, %g]", d, s, clustered, v.name, v.f, v.min, v.max)
					}
					lo[k], hi[k] = min(lo[k], v.f), max(hi[k], v.f)
				}
			}
			for k, name := range []string{"Bhattacharyya f", "KL f", "LogDet r"} {
				if hi[k]-lo[k] > 0.05 {
					t.Errorf("d=%d clustered=%v: %s spans [%.3f, %.3f] over scales 1e-3 to 1e3, want a spread <= 0.05", d, clustered, name, lo[k], hi[k])
				}
			}
		}
	}
	// Negative controls: σ = 1 on spread-out embeddings saturates the pairwise bounds at their
	// maximum, and β = 1 on small ones leaves LogDet the variance alone; both move with the scale.
	fixed := estimates(1)
	data, rows := scaledGaussian(r, n, 64, 10, false)
	spread := measure(fixed, data, rows, 64, 1)
	if spread.lower < 0.99 || spread.upper < 0.99 {
		t.Errorf("σ = 1 at s = 10, d = 64: f = %.3f, %.3f; want >= 0.99 (saturated)", spread.lower, spread.upper)
	}
	data, rows = scaledGaussian(r, n, 64, 0.01, false)
	if small := measure(fixed, data, rows, 64, 1); small.r > 0.01 || spread.r-small.r < 0.5 {
		t.Errorf("β = 1: r = %.4f at s = 0.01 and %.4f at s = 10; want <= 0.01 (the trace regime) and a spread > 0.5", small.r, spread.r)
	}
}

// TestScaleAwareGradients checks the gradients of vicreg-logdet and vicreg-pairdist at β = σ = Auto
// (float64) against central finite differences of the same objectives with β and σ fixed at the
// values AutoBeta and AutoSigma give at the point: the scale-aware values carry no gradient.
func TestScaleAwareGradients(t *testing.T) {
	b := backendtest.Backend(t)
	r := rand.New(rand.NewPCG(25, 26))
	const n, d = 9, 5
	x1, rows1 := scaledGaussian(r, n, d, 3, false)
	x2 := make([]float64, len(x1))
	rows2 := make([][]float64, n)
	for i := range x2 {
		x2[i] = x1[i] + 0.5*r.NormFloat64()
	}
	for i := range n {
		rows2[i] = x2[i*d : (i+1)*d]
	}
	hostValue := func(f func([][]float64) (float64, error), rows [][]float64) float64 {
		v, err := f(rows)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	p := Defaults()
	p.Beta, p.Sigma = Auto, Auto
	for _, tc := range []struct {
		name string
		host func([][]float64) (float64, error) // β or σ of one branch
	}{
		{NameVICRegLogDet, entropy.AutoBeta},
		{NameVICRegPairDist, entropy.AutoSigma},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := New(tc.name, p)
			if err != nil {
				t.Fatal(err)
			}
			v1, v2 := hostValue(tc.host, rows1), hostValue(tc.host, rows2)
			entropyAt := func(z *graph.Node, v float64) *graph.Node {
				if tc.name == NameVICRegLogDet {
					return LogDetEntropy(z, v)
				}
				return PairwiseEntropy(z, v, p.PairDistance)
			}
			fixed := func(z1, z2 *graph.Node) *graph.Node {
				h := graph.Add(entropyAt(z1, v1), entropyAt(z2, v2))
				return graph.Sub(graph.MulScalar(Invariance(z1, z2), p.Lambda), graph.MulScalar(h, p.EntropyWeight))
			}
			out := run(t, b, func(z1, z2 *graph.Node) []*graph.Node {
				total, _ := obj.Loss(z1, z2)
				return append([]*graph.Node{total, fixed(z1, z2)}, graph.Gradient(total, z1, z2)...)
			}, tensorOf(x1, n, d, dtypes.Float64), tensorOf(x2, n, d, dtypes.Float64))
			if math.Abs(out[0][0]-out[1][0]) > 1e-9*max(1, math.Abs(out[1][0])) {
				t.Fatalf("objective at the default = %.12g, with the host's β/σ fixed %.12g", out[0][0], out[1][0])
			}
			idx := []int{0, 7, 13, 22, 31, 44}
			for which := range 2 {
				num := numericGrad(t, b, fixed, x1, x2, n, d, which, idx)
				for k, i := range idx {
					if got := out[2+which][i]; math.Abs(got-num[k]) > 1e-5*max(1, math.Abs(num[k])) {
						t.Errorf("d/dz%d[%d] = %.9g, finite difference (β/σ fixed) %.9g", which+1, i, got, num[k])
					}
				}
			}
		})
	}
}

// TestParamsJSON checks that the stored form of Params says what the scale-aware values mean
// ("auto"), round-trips, reads the numbers of older files, and rejects anything else naming the
// field.
func TestParamsJSON(t *testing.T) {
	data, err := json.Marshal(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["Beta"] != "auto" || raw["Sigma"] != 1.0 || raw["Lambda"] != 25.0 || raw["PairDistance"] != Bhattacharyya {
		t.Errorf("Defaults() stored as %s: want Beta \"auto\", Sigma 1, the other fields under their names", data)
	}
	if len(raw) != 12 {
		t.Errorf("stored form has %d fields, want the 12 of Params: %s", len(raw), data)
	}
	var back Params
	if err := json.Unmarshal(data, &back); err != nil || back != Defaults() {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, Defaults())
	}
	explicit := Defaults()
	explicit.Beta, explicit.Sigma = 1, 2.5
	data, _ = json.Marshal(explicit)
	if !strings.Contains(string(data), `"Beta":1`) || !strings.Contains(string(data), `"Sigma":2.5`) {
		t.Errorf("explicit values stored as %s", data)
	}
	auto := Defaults()
	auto.Sigma = Auto
	if data, _ := json.Marshal(auto); !strings.Contains(string(data), `"Sigma":"auto"`) {
		t.Errorf("Sigma = Auto stored as %s", data)
	}
	back = Params{}
	if err := json.Unmarshal(data, &back); err != nil || back != explicit {
		t.Errorf("round trip of explicit values: %+v, %v", back, err)
	}
	// A file written before the scale-aware defaults: numbers, the old defaults 1.
	old := `{"Lambda":25,"Mu":25,"Nu":1,"Gamma":1,"Eps":0.0001,"VarianceConvention":"sum","EntropyWeight":1,"Beta":1,"Sigma":1,"PairDistance":"bhattacharyya","BarlowLambda":0.0051,"Temperature":0.2}`
	back = Params{}
	if err := json.Unmarshal([]byte(old), &back); err != nil || back.Beta != 1 || back.Sigma != 1 || back.Lambda != 25 || back.Temperature != 0.2 {
		t.Errorf("old form: %+v, %v", back, err)
	}
	// A missing field keeps the value already there (Defaults() before decoding: β auto, σ 1).
	back = Defaults()
	if err := json.Unmarshal([]byte(`{"Lambda":3}`), &back); err != nil || back.Lambda != 3 || back.Beta != Auto || back.Sigma != 1 {
		t.Errorf("partial form: %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"Sigma":"wide"}`), &back); err == nil || !strings.Contains(err.Error(), `want a number or "auto", got "wide"`) {
		t.Errorf("bad Sigma: error %v", err)
	}
	// The flag form.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	p := Defaults()
	fs.Var(ScaleFlag(&p.Sigma), "sigma", "")
	fs.Var(ScaleFlag(&p.Beta), "beta", "")
	if err := fs.Parse([]string{"-sigma", "1", "-beta", "auto"}); err != nil || p.Sigma != 1 || p.Beta != Auto {
		t.Errorf("-sigma 1 -beta auto: %v, %+v", err, p)
	}
	if got := ScaleFlag(&p.Beta).String(); got != "auto" {
		t.Errorf("ScaleFlag(Auto).String() = %q", got)
	}
	fs.SetOutput(new(strings.Builder))
	if err := fs.Parse([]string{"-sigma", "-2"}); err == nil || !strings.Contains(err.Error(), `want "auto" or a number >= 0, got "-2"`) {
		t.Errorf("-sigma -2: error %v", err)
	}
}

// TestPairDistScaleEquivalence checks the identity docs/paper.md reads PairDist's kernel-width grid
// by: for embeddings scaled by a, the loss at (σ, w) is a² times the loss at (σ/a, w/a²) minus
// 2·w·d·log a (float64), and its gradient at (a·z1, a·z2) is a times the other's at (z1, z2). So
// once the network sets its output scale, only w/σ² tells the objectives apart.
func TestPairDistScaleEquivalence(t *testing.T) {
	b := backendtest.Backend(t)
	r := rand.New(rand.NewPCG(31, 32))
	const n, d, a = 12, 6, 2.5
	x1, _ := scaledGaussian(r, n, d, 1, true)
	x2 := make([]float64, len(x1))
	for i := range x2 {
		x2[i] = x1[i] + 0.3*r.NormFloat64()
	}
	scaled := func(x []float64) []float64 {
		y := make([]float64, len(x))
		for i := range x {
			y[i] = a * x[i]
		}
		return y
	}
	for _, kind := range []string{Bhattacharyya, KL} {
		t.Run(kind, func(t *testing.T) {
			p := Defaults()
			p.Sigma, p.EntropyWeight, p.PairDistance = 1.3, 0.7, kind
			q := p
			q.Sigma, q.EntropyWeight = p.Sigma/a, p.EntropyWeight/(a*a)
			lossAndGrad := func(params Params, x1, x2 []float64) [][]float64 {
				obj, err := New(NameVICRegPairDist, params)
				if err != nil {
					t.Fatal(err)
				}
				return run(t, b, func(z1, z2 *graph.Node) []*graph.Node {
					total, _ := obj.Loss(z1, z2)
					return append([]*graph.Node{total}, graph.Gradient(total, z1, z2)...)
				}, tensorOf(x1, n, d, dtypes.Float64), tensorOf(x2, n, d, dtypes.Float64))
			}
			big := lossAndGrad(p, scaled(x1), scaled(x2))
			small := lossAndGrad(q, x1, x2)
			want := a*a*small[0][0] - 2*p.EntropyWeight*d*math.Log(a)
			if got := big[0][0]; math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
				t.Fatalf("loss at (a·z, σ, w) = %.12g, a²·loss at (z, σ/a, w/a²) - 2wd·log a = %.12g", got, want)
			}
			for k := 1; k <= 2; k++ {
				for i := range big[k] {
					if want := a * small[k][i]; math.Abs(big[k][i]-want) > 1e-9*max(1, math.Abs(want)) {
						t.Fatalf("d/dz%d[%d] at (a·z, σ, w) = %.12g, a times the one at (z, σ/a, w/a²) = %.12g", k, i, big[k][i], want)
					}
				}
			}
		})
	}
}
