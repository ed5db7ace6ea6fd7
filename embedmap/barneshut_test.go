package embedmap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// dense is p as an N × N matrix.
func (p sparseP) dense() [][]float64 {
	n := len(p.start) - 1
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, n)
		for e := p.start[i]; e < p.start[i+1]; e++ {
			out[i][p.col[e]] = p.val[e]
		}
	}
	return out
}

// TestSymmetrise: a hand-made C of 3 rows, one neighbour each (row 1 and row 2 both pick row 0,
// row 0 picks row 1): (C + Cᵀ) / sum, columns in order, the pair (0, 1) merged.
func TestSymmetrise(t *testing.T) {
	p := symmetrise(3, 1, []int32{1, 0, 0}, []float64{1, 1, 1})
	want := [][]float64{{0, 2. / 6, 1. / 6}, {2. / 6, 0, 0}, {1. / 6, 0, 0}}
	if got := p.dense(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("symmetrised: %v, want %v", got, want)
	}
	if fmt.Sprint(p.start, p.col) != "[0 2 3 4] [1 2 0 0]" {
		t.Errorf("rows %v, columns %v; want [0 2 3 4] [1 2 0 0]", p.start, p.col)
	}
}

// TestConditionalRow: the row's perplexity is the one asked within the search's tolerance, for
// distances small and so large that exp(−d) underflows (the shift by the smallest keeps them);
// nearer neighbours weigh more.
func TestConditionalRow(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, offset := range []float64{0, 1e4} {
		d := make([]float64, 40)
		for j := range d {
			d[j] = offset + 10*r.Float64()
		}
		p := make([]float64, len(d))
		conditionalRow(d, math.Log(12), p)
		h, sum := 0.0, 0.0
		for _, v := range p {
			sum += v
			if v > 0 {
				h -= v * math.Log(v)
			}
		}
		if math.Abs(h-math.Log(12)) > 2*perplexityTolerance || math.Abs(sum-1) > 1e-12 {
			t.Errorf("offset %g: entropy %.7f (want log 12 = %.7f), sum %.15f", offset, h, math.Log(12), sum)
		}
		near, far := slices.Index(d, slices.Min(d)), slices.Index(d, slices.Max(d))
		if p[near] <= p[far] {
			t.Errorf("offset %g: the nearest neighbour weighs %g, the furthest %g", offset, p[near], p[far])
		}
	}
}

// TestSparseAffinities: with every other row a neighbour (3·perplexity + 1 ≥ N − 1), the sparse
// affinities are the exact map's (computed otherwise: dense, on the backend, float32); with
// fewer, each row's entries are its nearest rows (by float64 distances) and the rows that have
// it among theirs, the matrix symmetric and summing to 1.
func TestSparseAffinities(t *testing.T) {
	b := backendtest.Backend(t)
	x := clusters(3, 20, 5, 4, 1)
	sp, err := sparseAffinities(b, x, 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	dt, _, err := affinities(b, x, 20)
	if err != nil {
		t.Fatal(err)
	}
	dense := tensors.MustCopyFlatData[float32](dt)
	dt.FinalizeAll()
	got := sp.dense()
	worst := 0.0
	for i := range x.N {
		for j := range x.N {
			want := float64(dense[i*x.N+j])
			worst = max(worst, math.Abs(got[i][j]-want)/(want+1e-12))
		}
	}
	if worst > 5e-4 { // float32 there
		t.Errorf("sparse affinities of all neighbours off by up to %.2g (relative) from the exact map's", worst)
	}

	x = clusters(4, 50, 8, 3, 2)
	const perplexity = 5.0
	k := neighbourCount(x.N, perplexity)
	sp, err = sparseAffinities(b, x, perplexity, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := sqDist(x)
	near := make([][]int, x.N) // each row's k nearest other rows, in float64
	for i := range x.N {
		others := make([]int, 0, x.N-1)
		for j := range x.N {
			if j != i {
				others = append(others, j)
			}
		}
		slices.SortFunc(others, func(a, c int) int { return cmpFloat(d[i][a], d[i][c]) })
		near[i] = others[:k]
	}
	got = sp.dense()
	total := 0.0
	for i := range x.N {
		for j := range x.N {
			total += got[i][j]
			linked := slices.Contains(near[i], j) || slices.Contains(near[j], i)
			if (got[i][j] > 0) != linked || got[i][j] != got[j][i] {
				t.Fatalf("p(%d, %d) = %g, p(%d, %d) = %g; neighbours either way: %v", i, j, got[i][j], j, i, got[j][i], linked)
			}
		}
	}
	if math.Abs(total-1) > 1e-12 {
		t.Errorf("the affinities sum to %.15f, want 1", total)
	}
}

// denseGradient is ∂KL/∂y = 4 Σ_j (e p_ij − w_ij / Z) w_ij (y_i − y_j) over every pair, in float64
// from the definition, and KL(P ‖ Q).
func denseGradient(p [][]float64, y []float64, e float64) ([]float64, float64) {
	n := len(p)
	w := make([][]float64, n)
	z := 0.0
	for i := range n {
		w[i] = make([]float64, n)
		for j := range n {
			if j != i {
				dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
				w[i][j] = 1 / (1 + dx*dx + dy*dy)
				z += w[i][j]
			}
		}
	}
	grad := make([]float64, 2*n)
	kl := 0.0
	for i := range n {
		for j := range n {
			if j == i {
				continue
			}
			m := (e*p[i][j] - w[i][j]/z) * w[i][j]
			grad[2*i] += 4 * m * (y[2*i] - y[2*j])
			grad[2*i+1] += 4 * m * (y[2*i+1] - y[2*j+1])
			if p[i][j] > 0 {
				kl += p[i][j] * math.Log(p[i][j]/(w[i][j]/z))
			}
		}
	}
	return grad, kl
}

// relativeError is ‖a − b‖ / ‖b‖.
func relativeError(a, b []float64) float64 {
	num, den := 0.0, 0.0
	for k := range a {
		num += (a[k] - b[k]) * (a[k] - b[k])
		den += b[k] * b[k]
	}
	return math.Sqrt(num / den)
}

// TestBarnesHutGradient: at θ = 0 (no cell stands for its points) the gradient and divergence
// are the definition's, over every pair, to rounding, with two points at the same place (a leaf
// of two) among them; at θ = 0.5 they are close to it, and not equal (the summaries are used),
// and coarser at θ = 1.
func TestBarnesHutGradient(t *testing.T) {
	b := backendtest.Backend(t)
	x := clusters(4, 150, 10, 3, 5)
	p, err := sparseAffinities(b, x, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	y := make([]float64, 2*x.N)
	for k := range y {
		y[k] = 10 * r.NormFloat64()
	}
	y[2*7], y[2*7+1] = y[2*3], y[2*3+1] // points 3 and 7 at the same place
	want, _ := denseGradient(p.dense(), y, 12)
	_, wantKL := denseGradient(p.dense(), y, 1)
	errs := map[float64]float64{}
	for _, angle := range []float64{0, 0.5, 1} {
		g := newBHGradient(p, angle)
		grad := make([]float64, len(y))
		g.gradient(y, 12, grad)
		errs[angle] = relativeError(grad, want)
		kl := g.divergence(y)
		t.Logf("θ = %g: gradient off by %.2g (relative), KL %.6f (exact %.6f)", angle, errs[angle], kl, wantKL)
		if angle == 0 && (errs[0] > 1e-12 || math.Abs(kl-wantKL) > 1e-12*wantKL) {
			t.Errorf("θ = 0: gradient off by %.3g, KL %.15f (want %.15f): not the exact sum", errs[0], kl, wantKL)
		}
	}
	if !(errs[0.5] > 1e-6 && errs[0.5] < 2e-2 && errs[1] > errs[0.5]) {
		t.Errorf("gradient off by %.3g at θ = 0.5 and %.3g at θ = 1: want within (1e-6, 2e-2), and larger at θ = 1", errs[0.5], errs[1])
	}
}

// TestBarnesHutTSNE: the Barnes-Hut map of the eight clusters that no plane shows apart keeps
// them apart as the exact map does, trusted as much within 0.02 and its divergence within 15%
// of the exact map's (a divergence from other affinities: those of the nearest neighbours); the
// map does not depend on the number of cores.
func TestBarnesHutTSNE(t *testing.T) {
	b := backendtest.Backend(t)
	x := clusters(8, 30, 30, 6, 4)
	exact, err := TSNE(b, x, TSNEConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var iterations int
	bh, err := TSNE(b, x, TSNEConfig{Solver: SolverBarnesHut, Progress: func(done, total int) { iterations = done }})
	if err != nil {
		t.Fatal(err)
	}
	if exact.Solver != SolverExact || exact.Angle != 0 || bh.Solver != SolverBarnesHut || bh.Angle != DefaultAngle || iterations != DefaultIterations {
		t.Errorf("solvers %q (θ %g) and %q (θ %g), %d iterations; want exact, Barnes-Hut with θ = 0.5, 1000", exact.Solver, exact.Angle, bh.Solver, bh.Angle, iterations)
	}
	var trust [2]float64
	for i, m := range []Map{exact, bh} {
		if trust[i], err = Trustworthiness(b, x, m, TrustNeighbours); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("exact: KL %.4f, 1-NN %.3f, trustworthiness %.3f; Barnes-Hut: KL %.4f, 1-NN %.3f, trustworthiness %.3f",
		exact.KL, oneNN(exact, x.Labels), trust[0], bh.KL, oneNN(bh, x.Labels), trust[1])
	if acc := oneNN(bh, x.Labels); acc < 0.98 {
		t.Errorf("the Barnes-Hut map's 1-NN accuracy is %.3f, want at least 0.98", acc)
	}
	if math.Abs(trust[1]-trust[0]) > 0.02 || math.Abs(bh.KL-exact.KL) > 0.15*exact.KL {
		t.Errorf("Barnes-Hut: trustworthiness %.3f, KL %.4f; exact: %.3f, %.4f", trust[1], bh.KL, trust[0], exact.KL)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one, err := TSNE(b, x, TSNEConfig{Solver: SolverBarnesHut})
	if err != nil {
		t.Fatal(err)
	}
	if i := firstDifference(bh, one); i >= 0 {
		t.Fatalf("point %d: (%g, %g) on all cores, (%g, %g) on one", i, bh.X[i], bh.Y[i], one.X[i], one.Y[i])
	}
}

// TestBarnesHutMatchesScikitLearn compares with scikit-learn's Barnes-Hut t-SNE (Debian's
// python3-sklearn) on the same rows and start: its affinities from our neighbours' distances,
// its gradient and divergence at θ = 0 and 0.5 on our affinities, and the divergence after the
// whole descent. Skipped without /usr/bin/python3 and scikit-learn.
func TestBarnesHutMatchesScikitLearn(t *testing.T) {
	py := scikitLearnPython(t)
	b := backendtest.Backend(t)
	x := clusters(5, 100, 20, 4, 6)
	const perplexity = 15.0
	k := neighbourCount(x.N, perplexity)
	nbs, err := eval.NearestByDistance(b, x, x, k+1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var graph struct {
		Indices []int
		Dist    []float64
	}
	for i, row := range nbs {
		for _, nb := range row {
			if nb.Index != i {
				graph.Indices, graph.Dist = append(graph.Indices, nb.Index), append(graph.Dist, -float64(nb.Similarity))
			}
		}
	}
	p, err := sparseAffinities(b, x, perplexity, nil)
	if err != nil {
		t.Fatal(err)
	}
	start, err := startOf(x)
	if err != nil {
		t.Fatal(err)
	}
	y0 := make([]float64, len(start))
	for k, v := range start {
		y0[k] = float64(v) * 1e4 // spread out, for the quadtree to have cells to summarise
	}
	dir := t.TempDir()
	if err := eval.WriteEmbeddings(filepath.Join(dir, "x.npy"), eval.Features{N: x.N, D: x.D, X: x.X}); err != nil {
		t.Fatal(err)
	}
	if err := eval.WriteEmbeddings(filepath.Join(dir, "y0.npy"), eval.Features{N: x.N, D: 2, X: start}); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(map[string]any{"indices": graph.Indices, "dist": graph.Dist, "k": k, "n": x.N, "perplexity": perplexity})
	script := `
import json, sys, numpy as np
from scipy.sparse import csr_matrix
from sklearn.manifold import TSNE
from sklearn.manifold._t_sne import _joint_probabilities_nn, _kl_divergence_bh
g = json.load(sys.stdin)
n, k = g["n"], g["k"]
x, y0 = np.load(sys.argv[1]).astype(np.float32), np.load(sys.argv[2]).astype(np.float32)
d = csr_matrix((np.array(g["dist"], np.float32), np.array(g["indices"]), np.arange(0, n * k + 1, k)), shape=(n, n))
p = _joint_probabilities_nn(d, g["perplexity"], 0)
out = {"p": p.toarray().ravel().tolist()}
for angle in (0.0, 0.5):
    kl, grad = _kl_divergence_bh((y0 * 1e4).ravel(), p, 1, n, 2, angle=angle)
    out["kl%g" % angle], out["grad%g" % angle] = float(kl), grad.tolist()
t = TSNE(2, perplexity=g["perplexity"], init=y0, method="barnes_hut", learning_rate="auto", random_state=0).fit(x)
out["kl"], out["iterations"] = float(t.kl_divergence_), int(t.n_iter_)
json.dump(out, sys.stdout)
`
	cmd := exec.Command(py, "-c", script, filepath.Join(dir, "x.npy"), filepath.Join(dir, "y0.npy"))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scikit-learn: %v", err)
	}
	var ref map[string]any
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	floats := func(key string) []float64 {
		var v []float64
		for _, f := range ref[key].([]any) {
			v = append(v, f.(float64))
		}
		return v
	}
	got := p.dense()
	worst := 0.0
	for k, want := range floats("p") {
		i, j := k/x.N, k%x.N
		if (want > 0) != (got[i][j] > 0) {
			t.Fatalf("p(%d, %d) = %g, scikit-learn's %g", i, j, got[i][j], want)
		}
		if want > 0 {
			worst = max(worst, math.Abs(got[i][j]-want)/want)
		}
	}
	t.Logf("affinities within %.2g (relative) of scikit-learn's", worst)
	if worst > 1e-5 {
		t.Errorf("affinities off by up to %.3g (relative) from scikit-learn's", worst)
	}
	exactGrad, _ := denseGradient(got, y0, 1)
	for _, angle := range []float64{0, 0.5} {
		g := newBHGradient(p, angle)
		grad := make([]float64, len(y0))
		g.gradient(y0, 1, grad)
		kl := g.divergence(y0)
		refGrad, refKL := floats(fmt.Sprintf("grad%g", angle)), ref[fmt.Sprintf("kl%g", angle)].(float64)
		t.Logf("θ = %g: gradient %.2g from scikit-learn's (ours %.2g from the exact one, scikit-learn's %.2g); KL %.6f, scikit-learn's %.6f",
			angle, relativeError(grad, refGrad), relativeError(grad, exactGrad), relativeError(refGrad, exactGrad), kl, refKL)
		if angle == 0 && (relativeError(grad, refGrad) > 1e-4 || math.Abs(kl-refKL) > 1e-4*refKL) {
			t.Errorf("θ = 0: the gradient is %.3g from scikit-learn's, KL %.6f against %.6f", relativeError(grad, refGrad), kl, refKL)
		}
	}
	m, err := TSNE(b, x, TSNEConfig{Perplexity: perplexity, Solver: SolverBarnesHut})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("KL at the end %.4f, scikit-learn's %.4f (%d iterations)", m.KL, ref["kl"].(float64), int(ref["iterations"].(float64)))
	if math.Abs(m.KL-ref["kl"].(float64)) > 0.05*ref["kl"].(float64) {
		t.Errorf("KL at the end %.4f, scikit-learn's %.4f: more than 5%% apart", m.KL, ref["kl"].(float64))
	}
}
