package losses

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/losses/entropy"
)

// fixture is one case of testdata/fixtures.json (written by testdata/gen_fixtures.py with PyTorch).
type fixture struct {
	N, D       int
	Z1, Z2     []float64
	VICRegSum  map[string]any `json:"vicreg_sum"`
	VICRegHalf map[string]any `json:"vicreg_half"`
	Barlow     map[string]any `json:"barlow"`
	SimCLR     map[string]any `json:"simclr"`
	LogDet     float64        `json:"logdet_beta1"`
	Gaussian   float64        `json:"gaussian_eps1e-4"`
	PairBhatt  float64        `json:"pairwise_bhattacharyya"`
	PairKL     float64        `json:"pairwise_kl"`
	// Auto holds the scale-aware defaults (Auto) and their gradients w.r.t. z1.
	Auto struct {
		Beta, Sigma, LogDet float64
		LogDetGrad          []float64 `json:"logdet_grad"`
		PairBhatt           float64   `json:"pairwise_bhattacharyya"`
		PairBhattGrad       []float64 `json:"pairwise_bhattacharyya_grad"`
		PairKL              float64   `json:"pairwise_kl"`
		PairKLGrad          []float64 `json:"pairwise_kl_grad"`
	}
}

func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	raw, err := os.ReadFile("testdata/fixtures.json")
	if err != nil {
		t.Fatalf("reading fixtures: %v", err)
	}
	var f struct{ Cases []fixture }
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("parsing fixtures: %v", err)
	}
	return f.Cases
}

// tensorOf converts row-major float64 data to a [n, d] tensor of dtype.
func tensorOf(data []float64, n, d int, dtype dtypes.DType) *tensors.Tensor {
	if dtype == dtypes.Float64 {
		return tensors.FromFlatDataAndDimensions(append([]float64(nil), data...), n, d)
	}
	f := make([]float32, len(data))
	for i, v := range data {
		f[i] = float32(v)
	}
	return tensors.FromFlatDataAndDimensions(f, n, d)
}

// flat returns a tensor's values as float64.
func flat(t *tensors.Tensor) []float64 {
	if t.DType() == dtypes.Float64 {
		return tensors.MustCopyFlatData[float64](t)
	}
	f := tensors.MustCopyFlatData[float32](t)
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}

// run executes fn on (z1, z2) and returns its outputs as float64 slices.
func run(t *testing.T, b backends.Backend, fn func(z1, z2 *graph.Node) []*graph.Node, z1, z2 *tensors.Tensor) [][]float64 {
	t.Helper()
	exec, err := graph.NewExec(b, fn)
	if err != nil {
		t.Fatalf("building graph: %v", err)
	}
	outs, err := exec.Exec(z1, z2)
	backendtest.SkipIfUnsupported(t, err)
	if err != nil {
		t.Fatalf("executing graph: %v", err)
	}
	res := make([][]float64, len(outs))
	for i, o := range outs {
		res[i] = flat(o)
	}
	return res
}

// lossAndGrads returns the objective's total, its terms (in order) and the gradients w.r.t. z1, z2.
func lossAndGrads(obj Objective) func(z1, z2 *graph.Node) []*graph.Node {
	return func(z1, z2 *graph.Node) []*graph.Node {
		total, terms := obj.Loss(z1, z2)
		out := []*graph.Node{total}
		for _, term := range terms {
			out = append(out, term.Value)
		}
		return append(out, graph.Gradient(total, z1, z2)...)
	}
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / max(math.Abs(want), 1e-30)
}

func toFloats(v any) []float64 {
	list := v.([]any)
	out := make([]float64, len(list))
	for i, x := range list {
		out[i] = x.(float64)
	}
	return out
}

// TestObjectivesMatchPyTorch compares each objective, in float32, with PyTorch float64 references:
// total and terms within 1e-5 relative error, gradients within 1e-4 of the largest gradient entry.
func TestObjectivesMatchPyTorch(t *testing.T) {
	b := backendtest.Backend(t)
	for ci, c := range loadFixtures(t) {
		z1, z2 := tensorOf(c.Z1, c.N, c.D, dtypes.Float32), tensorOf(c.Z2, c.N, c.D, dtypes.Float32)
		for _, tc := range []struct {
			name   string
			mutate func(*Params)
			ref    map[string]any
			terms  []string
		}{
			{NameVICReg, func(p *Params) { p.VarianceConvention = VarianceSum }, c.VICRegSum, []string{"invariance", "variance", "covariance"}},
			{NameVICReg, func(p *Params) { p.VarianceConvention = VarianceHalf }, c.VICRegHalf, []string{"invariance", "variance", "covariance"}},
			{NameBarlow, func(*Params) {}, c.Barlow, []string{"on_diagonal", "off_diagonal"}},
			{NameSimCLR, func(p *Params) { p.Temperature = c.SimCLR["temperature"].(float64) }, c.SimCLR, []string{"total"}},
		} {
			p := Defaults()
			tc.mutate(&p)
			t.Run(fmt.Sprintf("case%d/%s/%s", ci, tc.name, p.VarianceConvention), func(t *testing.T) {
				obj, err := New(tc.name, p)
				if err != nil {
					t.Fatal(err)
				}
				out := run(t, b, lossAndGrads(obj), z1, z2)
				if e := relErr(out[0][0], tc.ref["total"].(float64)); e > 1e-5 {
					t.Errorf("total = %.8g, PyTorch %.8g (rel. error %.2g)", out[0][0], tc.ref["total"], e)
				}
				for i, name := range tc.terms {
					if e := relErr(out[1+i][0], tc.ref[name].(float64)); e > 1e-5 {
						t.Errorf("term %s = %.8g, PyTorch %.8g (rel. error %.2g)", name, out[1+i][0], tc.ref[name], e)
					}
				}
				if _, ok := tc.ref["grad_z1"]; !ok {
					return
				}
				for k, key := range []string{"grad_z1", "grad_z2"} {
					want := toFloats(tc.ref[key])
					got := out[len(out)-2+k]
					scale := 0.0
					for _, w := range want {
						scale = max(scale, math.Abs(w))
					}
					for i := range want {
						if math.Abs(got[i]-want[i]) > 1e-4*scale {
							t.Errorf("%s[%d] = %.8g, PyTorch %.8g", key, i, got[i], want[i])
							break
						}
					}
				}
			})
		}
	}
}

// TestEstimatorsMatchPyTorch compares the graph estimators (float32) with PyTorch float64 values.
func TestEstimatorsMatchPyTorch(t *testing.T) {
	b := backendtest.Backend(t)
	for ci, c := range loadFixtures(t) {
		z1, z2 := tensorOf(c.Z1, c.N, c.D, dtypes.Float32), tensorOf(c.Z2, c.N, c.D, dtypes.Float32)
		out := run(t, b, func(z1, _ *graph.Node) []*graph.Node {
			return []*graph.Node{LogDetEntropy(z1, 1), GaussianEntropy(z1, 1e-4),
				PairwiseEntropy(z1, 1, Bhattacharyya), PairwiseEntropy(z1, 1, KL)}
		}, z1, z2)
		for i, want := range []float64{c.LogDet, c.Gaussian, c.PairBhatt, c.PairKL} {
			name := []string{"LogDet", "Gaussian", "Bhattacharyya", "KL"}[i]
			if e := relErr(out[i][0], want); e > 1e-5 {
				t.Errorf("case %d (n=%d, d=%d): %s = %.8g, PyTorch %.8g (rel. error %.2g)", ci, c.N, c.D, name, out[i][0], want, e)
			}
		}
	}
}

// randomMatrix returns n×d standard normal entries (row-major) and the same as rows.
func randomMatrix(r *rand.Rand, n, d int, rank int) ([]float64, [][]float64) {
	// rank < d: rows are combinations of `rank` random directions (rank-deficient batch).
	basis := make([][]float64, rank)
	for k := range basis {
		basis[k] = make([]float64, d)
		for j := range basis[k] {
			basis[k][j] = r.NormFloat64()
		}
	}
	data := make([]float64, n*d)
	rows := make([][]float64, n)
	for i := range n {
		rows[i] = data[i*d : (i+1)*d]
		for k := range rank {
			c := r.NormFloat64()
			for j := range d {
				rows[i][j] += c * basis[k][j]
			}
		}
	}
	return data, rows
}

// TestLogDetAgainstFloat64 checks the in-graph LogDet and Gaussian entropies (float32, unrolled
// blocked factorisation) against the host float64 Cholesky, for well-conditioned and rank-deficient
// batches, n < d and n > d, including sizes above LeafSize (recursive blocks).
func TestLogDetAgainstFloat64(t *testing.T) {
	b := backendtest.Backend(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name       string
		n, d, rank int
	}{
		{"n>d full rank", 60, 12, 12},
		{"n<d full rank", 20, 50, 50},
		{"n<d above leaf size", 70, 90, 90},
		{"rank-deficient", 40, 30, 3},
		{"constant batch", 10, 8, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, rows := randomMatrix(r, tc.n, tc.d, tc.rank)
			zt := tensorOf(data, tc.n, tc.d, dtypes.Float32)
			out := run(t, b, func(z, _ *graph.Node) []*graph.Node {
				return []*graph.Node{LogDetEntropy(z, 1), LogDetEntropy(z, 50), GaussianEntropy(z, 1e-4)}
			}, zt, zt)
			ld1, _ := entropy.LogDet(rows, 1)
			ld50, _ := entropy.LogDet(rows, 50)
			hg, err := entropy.Gaussian(rows, 1e-4)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []float64{ld1, ld50, hg} {
				got := out[i][0]
				if math.IsNaN(got) || math.IsInf(got, 0) {
					t.Fatalf("estimate %d is %g", i, got)
				}
				// Absolute tolerance for values near 0 (constant batch: LogDet = 0 exactly).
				if math.Abs(got-want) > 1e-4*max(1, math.Abs(want)) {
					t.Errorf("estimate %d = %.7g, float64 %.7g (error %.2g)", i, got, want, got-want)
				}
			}
		})
	}
}

// numericGrad returns the central finite-difference gradient of the scalar f (in float64) at x.
func numericGrad(t *testing.T, b backends.Backend, f func(z1, z2 *graph.Node) *graph.Node, x1, x2 []float64, n, d int, which int, idx []int) []float64 {
	exec, err := graph.NewExec(b, f)
	if err != nil {
		t.Fatal(err)
	}
	eval := func(a, c []float64) float64 {
		out, err := exec.Exec(tensorOf(a, n, d, dtypes.Float64), tensorOf(c, n, d, dtypes.Float64))
		if err != nil {
			t.Fatal(err)
		}
		return flat(out[0])[0]
	}
	const h = 1e-6
	grads := make([]float64, len(idx))
	for k, i := range idx {
		a, c := append([]float64(nil), x1...), append([]float64(nil), x2...)
		x := a
		if which == 1 {
			x = c
		}
		x[i] += h
		plus := eval(a, c)
		x[i] -= 2 * h
		minus := eval(a, c)
		grads[k] = (plus - minus) / (2 * h)
	}
	return grads
}

// TestGradientsFiniteDifferences checks the gradients of the estimators and objectives (float64
// graphs) against central finite differences, on entries chosen at random.
func TestGradientsFiniteDifferences(t *testing.T) {
	b := backendtest.Backend(t)
	r := rand.New(rand.NewPCG(5, 6))
	p := Defaults()
	// Explicit β and σ: the scale-aware values carry no gradient, so finite differences of the
	// objective would see their change (TestScaleAwareGradients checks them).
	p.Beta, p.Sigma = 1, 2
	scalar := func(obj Objective) func(z1, z2 *graph.Node) *graph.Node {
		return func(z1, z2 *graph.Node) *graph.Node { v, _ := obj.Loss(z1, z2); return v }
	}
	mustNew := func(name string) Objective {
		o, err := New(name, p)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	for _, tc := range []struct {
		name string
		n, d int
		f    func(z1, z2 *graph.Node) *graph.Node
	}{
		{"LogDetEntropy", 6, 9, func(z, _ *graph.Node) *graph.Node { return LogDetEntropy(z, 2) }},
		{"LogDetEntropy blocked", 40, 45, func(z, _ *graph.Node) *graph.Node { return LogDetEntropy(z, 0.5) }},
		{"GaussianEntropy n>d", 12, 4, func(z, _ *graph.Node) *graph.Node { return GaussianEntropy(z, 1e-2) }},
		{"PairwiseEntropy KL", 7, 3, func(z, _ *graph.Node) *graph.Node { return PairwiseEntropy(z, 1.5, KL) }},
		{"GaussianMutualInfo", 10, 3, func(z1, z2 *graph.Node) *graph.Node { return GaussianMutualInfo(z1, z2, 1e-2) }},
		{"vicreg", 7, 5, scalar(mustNew(NameVICReg))},
		{"vicreg-logdet", 7, 5, scalar(mustNew(NameVICRegLogDet))},
		{"vicreg-pairdist", 7, 5, scalar(mustNew(NameVICRegPairDist))},
		{"barlow", 7, 5, scalar(mustNew(NameBarlow))},
		{"simclr", 7, 5, scalar(mustNew(NameSimCLR))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x1, _ := randomMatrix(r, tc.n, tc.d, tc.d)
			x2, _ := randomMatrix(r, tc.n, tc.d, tc.d)
			for i := range x2 {
				x2[i] = x1[i] + 0.3*x2[i]
			}
			out := run(t, b, func(z1, z2 *graph.Node) []*graph.Node {
				return graph.Gradient(tc.f(z1, z2), z1, z2)
			}, tensorOf(x1, tc.n, tc.d, dtypes.Float64), tensorOf(x2, tc.n, tc.d, dtypes.Float64))
			idx := make([]int, 6)
			for k := range idx {
				idx[k] = r.IntN(tc.n * tc.d)
			}
			for which := range 2 {
				num := numericGrad(t, b, tc.f, x1, x2, tc.n, tc.d, which, idx)
				for k, i := range idx {
					got := out[which][i]
					if math.Abs(got-num[k]) > 1e-5*max(1, math.Abs(num[k])) {
						t.Errorf("d/dz%d[%d] = %.9g, finite difference %.9g", which+1, i, got, num[k])
					}
				}
			}
		})
	}
}

// TestCollapse checks the VICReg terms on degenerate batches, against their closed forms.
func TestCollapse(t *testing.T) {
	b := backendtest.Backend(t)
	p := Defaults()
	// Identical embeddings: s = 0.
	data, _ := randomMatrix(rand.New(rand.NewPCG(1, 1)), 6, 4, 4)
	z := tensorOf(data, 6, 4, dtypes.Float32)
	out := run(t, b, func(z1, z2 *graph.Node) []*graph.Node { return []*graph.Node{Invariance(z1, z2)} }, z, z)
	if out[0][0] != 0 {
		t.Errorf("invariance of identical views = %g, want 0", out[0][0])
	}
	// Constant batch: Var = 0, so v(Z) = gamma - sqrt(eps) per branch, c = 0, s = 0; the total is
	// mu·2·(gamma - sqrt(eps)) with the "sum" convention and half of that with "half".
	constant := make([]float64, 6*4)
	for i := range constant {
		constant[i] = 3
	}
	zc := tensorOf(constant, 6, 4, dtypes.Float64)
	perBranch := p.Gamma - math.Sqrt(p.Eps)
	for _, conv := range []string{VarianceSum, VarianceHalf} {
		q := p
		q.VarianceConvention = conv
		obj, _ := New(NameVICReg, q)
		out := run(t, b, func(z1, z2 *graph.Node) []*graph.Node {
			total, terms := obj.Loss(z1, z2)
			return []*graph.Node{total, terms[1].Value, terms[2].Value}
		}, zc, zc)
		want := q.Mu * 2 * perBranch
		if conv == VarianceHalf {
			want /= 2
		}
		if math.Abs(out[0][0]-want) > 1e-12 || math.Abs(out[1][0]-2*perBranch) > 1e-12 || out[2][0] != 0 {
			t.Errorf("%s: constant batch gives total %g, variance %g, covariance %g; want %g, %g, 0",
				conv, out[0][0], out[1][0], out[2][0], want, 2*perBranch)
		}
	}
	// Decorrelated, unit-variance data: columns of a Hadamard matrix (orthogonal, zero mean) scaled so
	// the unbiased variance is 1: covariance term 0 and variance term 0 (std = sqrt(1 + eps) > gamma).
	h := [][]float64{{1, 1, 1, 1, 1, 1, 1, 1}, {1, -1, 1, -1, 1, -1, 1, -1}, {1, 1, -1, -1, 1, 1, -1, -1},
		{1, -1, -1, 1, 1, -1, -1, 1}, {1, 1, 1, 1, -1, -1, -1, -1}, {1, -1, 1, -1, -1, 1, -1, 1}}
	n, d := 8, 5
	dec := make([]float64, n*d)
	scale := math.Sqrt(float64(n-1) / float64(n))
	for i := range n {
		for j := range d {
			dec[i*d+j] = h[j+1][i] * scale
		}
	}
	zd := tensorOf(dec, n, d, dtypes.Float32)
	out = run(t, b, func(z1, _ *graph.Node) []*graph.Node {
		return []*graph.Node{Covariance(z1), Variance(z1, 1, 1e-4)}
	}, zd, zd)
	if math.Abs(out[0][0]) > 1e-12 || out[1][0] != 0 {
		t.Errorf("decorrelated unit-variance data: covariance %g, variance %g; want 0, 0", out[0][0], out[1][0])
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Params)
		want   string
	}{
		{"simsiam", func(*Params) {}, "unknown objective \"simsiam\": valid names are vicreg, vicreg-logdet, vicreg-pairdist, barlow, simclr"},
		{NameVICReg, func(p *Params) { p.VarianceConvention = "mean" }, "VarianceConvention"},
		{NameVICReg, func(p *Params) { p.Eps = 0 }, "parameter Eps must be a finite number > 0"},
		{NameVICReg, func(p *Params) { p.Lambda = math.Inf(1) }, "parameter Lambda must be a finite number >= 0, got +Inf"},
		{NameVICReg, func(p *Params) { p.Gamma = math.NaN() }, "parameter Gamma must be a finite number > 0, got NaN"},
		{NameVICReg, func(p *Params) { p.Mu = -1 }, "parameter Mu must be a finite number >= 0"},
		{NameVICRegLogDet, func(p *Params) { p.Beta = -1 }, `parameter Beta must be > 0, or 0 ("auto") for the scale-aware value, got -1`},
		{NameVICRegLogDet, func(p *Params) { p.Beta = math.Inf(1) }, "parameter Beta must be > 0"},
		{NameVICRegPairDist, func(p *Params) { p.PairDistance = "l2" }, "PairDistance"},
		{NameVICRegPairDist, func(p *Params) { p.Sigma = math.NaN() }, "parameter Sigma must be > 0"},
		{NameBarlow, func(p *Params) { p.BarlowLambda = -0.1 }, "BarlowLambda"},
		{NameSimCLR, func(p *Params) { p.Temperature = 0 }, "parameter Temperature must be a finite number > 0"},
	} {
		p := Defaults()
		tc.mutate(&p)
		_, err := New(tc.name, p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) error = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	for _, name := range Names() {
		obj, err := New(name, Defaults())
		if err != nil || obj.Name() != name {
			t.Errorf("New(%q, Defaults()) = %v, %v", name, obj, err)
		}
	}
}
