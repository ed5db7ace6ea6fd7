package embedmap

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/eval"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// clusters returns k clusters of m points each in d dimensions (d ≥ k), labelled by cluster:
// the centres at sep times the first k unit vectors (every two of them equally far apart, so no
// plane shows them all apart), unit Gaussian noise around them.
func clusters(k, m, d int, sep float64, seed uint64) eval.Features {
	r := rand.New(rand.NewPCG(seed, 1))
	x := eval.Features{N: k * m, D: d, NumClasses: k, X: make([]float32, k*m*d), Labels: make([]int32, k*m)}
	for i := range x.N {
		c := i % k
		x.Labels[i] = int32(c)
		for j := range d {
			v := r.NormFloat64()
			if j == c {
				v += sep
			}
			x.X[i*d+j] = float32(v)
		}
	}
	return x
}

// sqDist is ‖x_i − x_j‖², in float64.
func sqDist(x eval.Features) [][]float64 {
	d := make([][]float64, x.N)
	for i := range d {
		d[i] = make([]float64, x.N)
		for j := range d[i] {
			for k := range x.D {
				v := float64(x.X[i*x.D+k]) - float64(x.X[j*x.D+k])
				d[i][j] += v * v
			}
		}
	}
	return d
}

// conditionalOf is p_j|i ∝ exp(−β d_ij) over j ≠ i, in float64, and its entropy in nats.
func conditionalOf(d []float64, i int, beta float64) ([]float64, float64) {
	p := make([]float64, len(d))
	lo := math.Inf(1)
	for j, v := range d {
		if j != i {
			lo = min(lo, v)
		}
	}
	sum := 0.0
	for j, v := range d {
		if j != i {
			p[j] = math.Exp(-beta * (v - lo))
			sum += p[j]
		}
	}
	h := 0.0
	for j := range p {
		p[j] /= sum
		if p[j] > 0 {
			h -= p[j] * math.Log(p[j])
		}
	}
	return p, h
}

// TestAffinities: each row's precision β gives its conditional distribution the perplexity
// asked (which fixes β: the entropy falls as β grows), checked in float64 from the distances;
// the joint affinities are (p_j|i + p_i|j) / 2N.
func TestAffinities(t *testing.T) {
	b := backendtest.Backend(t)
	x := clusters(3, 20, 5, 4, 1)
	const perplexity = 10.0
	p, beta, err := affinities(b, x, perplexity)
	if err != nil {
		t.Fatal(err)
	}
	joint := tensors.MustCopyFlatData[float32](p)
	p.FinalizeAll()
	d := sqDist(x)
	cond := make([][]float64, x.N)
	for i := range cond {
		var h float64
		cond[i], h = conditionalOf(d[i], i, float64(beta[i]))
		if got := math.Exp(h); math.Abs(got-perplexity) > 1e-4*perplexity {
			t.Errorf("row %d: β = %g gives perplexity %.6f, want %g", i, beta[i], got, perplexity)
		}
	}
	worst := 0.0
	for i := range x.N {
		for j := range x.N {
			want := (cond[i][j] + cond[j][i]) / float64(2*x.N)
			worst = max(worst, math.Abs(float64(joint[i*x.N+j])-want)/(want+1e-12))
		}
	}
	if worst > 1e-4 {
		t.Errorf("joint affinities off by up to %.2g (relative) from (p_j|i + p_i|j) / 2N", worst)
	}
}

// klOf is KL(P ‖ Q) of the map y (N × 2, row-major) in float64, with Q's Student-t kernel.
func klOf(p []float32, y []float64, n int) float64 {
	z := 0.0
	w := make([]float64, n*n)
	for i := range n {
		for j := range n {
			if i != j {
				dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
				w[i*n+j] = 1 / (1 + dx*dx + dy*dy)
				z += w[i*n+j]
			}
		}
	}
	kl := 0.0
	for k, v := range p {
		if v > 0 {
			kl += float64(v) * math.Log(float64(v)/(w[k]/z))
		}
	}
	return kl
}

// divergenceOf runs divergence on the map y.
func divergenceOf(t *testing.T, p *tensors.Tensor, y []float32) float64 {
	t.Helper()
	kl, err := NewExec(backendtest.Backend(t), divergence)
	if err != nil {
		t.Fatal(err)
	}
	defer kl.Finalize()
	out, err := kl.Exec1(p, tensors.FromFlatDataAndDimensions(y, len(y)/2, 2))
	if err != nil {
		t.Fatal(err)
	}
	return float64(tensors.ToScalar[float32](out))
}

// TestTSNEStep: divergence is KL(P ‖ Q) and the step's gradient is KL's (central finite
// differences, in float64); with exaggeration α, momentum and gains, the step follows
// scikit-learn's update: the gradient 4 Σ_j (α p_ij − q_ij) w_ij (y_i − y_j), gains up by 0.2
// where the last update and the gradient disagree in sign and down by 0.8 elsewhere (at least
// 0.01), update = momentum·update − rate·gains·gradient.
func TestTSNEStep(t *testing.T) {
	b := backendtest.Backend(t)
	x := clusters(3, 10, 4, 3, 2)
	n := x.N
	pt, _, err := affinities(b, x, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.FinalizeAll()
	p := tensors.MustCopyFlatData[float32](pt)
	step, err := NewExec(b, func(in []*Node) []*Node { return tsneStep(in[0], in[1], in[2], in[3], in[4], in[5], in[6]) })
	if err != nil {
		t.Fatal(err)
	}
	defer step.Finalize()
	r := rand.New(rand.NewPCG(3, 3))
	y, upd, gains := make([]float32, 2*n), make([]float32, 2*n), make([]float32, 2*n)
	y64 := make([]float64, 2*n)
	for i := range y {
		y[i] = float32(r.NormFloat64())
		y64[i] = float64(y[i])
		upd[i] = float32(r.NormFloat64() * 0.1)
		gains[i] = float32(0.005 + r.Float64())
	}
	run := func(upd, gains []float32, alpha, mom, lr float32) (yNew, updNew, gainsNew []float32) {
		out, err := step.Exec(pt, tensors.FromFlatDataAndDimensions(y, n, 2), tensors.FromFlatDataAndDimensions(upd, n, 2),
			tensors.FromFlatDataAndDimensions(gains, n, 2), alpha, mom, lr)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1]), tensors.MustCopyFlatData[float32](out[2])
	}
	if kl := divergenceOf(t, pt, y); math.Abs(kl-klOf(p, y64, n)) > 1e-4*kl {
		t.Errorf("the divergence is %.7g, want %.7g", kl, klOf(p, y64, n))
	}

	// Still, unit gains, momentum 0, rate 1: the gains fall to 0.8 and y moves by −0.8 ∇KL.
	ones := make([]float32, 2*n)
	for i := range ones {
		ones[i] = 1
	}
	yNew, _, _ := run(make([]float32, 2*n), ones, 1, 0, 1)
	worst, scale := 0.0, 0.0
	for k := range y64 {
		const h = 1e-5
		keep := y64[k]
		y64[k] = keep + h
		up := klOf(p, y64, n)
		y64[k] = keep - h
		down := klOf(p, y64, n)
		y64[k] = keep
		fd := (up - down) / (2 * h)
		got := float64(y[k]-yNew[k]) / 0.8
		worst, scale = max(worst, math.Abs(got-fd)), max(scale, math.Abs(fd))
	}
	if worst > 1e-3*scale {
		t.Errorf("the step's gradient is off by up to %.3g from KL's finite differences (largest component %.3g)", worst, scale)
	}

	// Exaggerated, with momentum and gains.
	const alpha, mom, lr = 12, 0.5, 2
	yNew, updNew, gainsNew := run(upd, gains, alpha, mom, lr)
	w := func(i, j int) float64 {
		dx, dy := y64[2*i]-y64[2*j], y64[2*i+1]-y64[2*j+1]
		return 1 / (1 + dx*dx + dy*dy)
	}
	z := 0.0
	for i := range n {
		for j := range n {
			if i != j {
				z += w(i, j)
			}
		}
	}
	for i := range n {
		for c := range 2 {
			grad := 0.0
			for j := range n {
				if j != i {
					grad += 4 * (alpha*float64(p[i*n+j]) - w(i, j)/z) * w(i, j) * (y64[2*i+c] - y64[2*j+c])
				}
			}
			k := 2*i + c
			g := float64(gains[k]) * 0.8
			if float64(upd[k])*grad < 0 {
				g = float64(gains[k]) + 0.2
			}
			g = max(g, 0.01)
			u := mom*float64(upd[k]) - lr*g*grad
			if math.Abs(float64(gainsNew[k])-g) > 1e-6 || math.Abs(float64(updNew[k])-u) > 1e-4*(math.Abs(u)+1e-3) ||
				math.Abs(float64(yNew[k])-(y64[k]+u)) > 1e-4*(math.Abs(y64[k]+u)+1e-3) {
				t.Errorf("point %d, axis %d: gain %g, update %g, y %g; want %g, %g, %g", i, c, gainsNew[k], updNew[k], yNew[k], g, u, y64[k]+u)
			}
		}
	}
}

// oneNN is the share of the map's points whose nearest other point has their label.
func oneNN(m Map, labels []int32) float64 {
	hits := 0
	for i := range m.X {
		best, at := math.Inf(1), -1
		for j := range m.X {
			if j != i {
				if d := math.Hypot(m.X[i]-m.X[j], m.Y[i]-m.Y[j]); d < best {
					best, at = d, j
				}
			}
		}
		if labels[at] == labels[i] {
			hits++
		}
	}
	return float64(hits) / float64(len(m.X))
}

// TestTSNESeparatesClusters: eight clusters equally far apart in 30 dimensions, which no plane
// shows apart (the PCA map mixes them: the negative control), fall apart on the t-SNE map,
// each point's nearest neighbour on the map in its own cluster.
func TestTSNESeparatesClusters(t *testing.T) {
	b := backendtest.Backend(t)
	x := clusters(8, 30, 30, 6, 4)
	pca, err := PCA(x)
	if err != nil {
		t.Fatal(err)
	}
	var iterations []int
	m, err := TSNE(b, x, TSNEConfig{Progress: func(done, total int) { iterations = append(iterations, done) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(iterations) != 1000 || iterations[999] != 1000 {
		t.Errorf("progress called %d times, last with %v; want 1000, the last with 1000", len(iterations), iterations[len(iterations)-1:])
	}
	t.Logf("KL %.4f; 1-NN on the map: t-SNE %.3f, PCA %.3f", m.KL, oneNN(m, x.Labels), oneNN(pca, x.Labels))
	if acc := oneNN(pca, x.Labels); acc > 0.8 {
		t.Errorf("the PCA map's 1-NN accuracy is %.3f: the clusters are too easy to tell t-SNE from it", acc)
	}
	if acc := oneNN(m, x.Labels); acc < 0.98 {
		t.Errorf("the t-SNE map's 1-NN accuracy is %.3f, want at least 0.98", acc)
	}
	// The t-SNE map keeps neighbours; the PCA map shows as neighbours points of clusters apart.
	var trust [2]float64
	for i, mm := range []Map{m, pca} {
		if trust[i], err = Trustworthiness(b, x, mm, TrustNeighbours); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("trustworthiness: t-SNE %.3f, PCA %.3f", trust[0], trust[1])
	if trust[0] < 0.9 || trust[0]-trust[1] < 0.1 {
		t.Errorf("trustworthiness: t-SNE %.3f, PCA %.3f; want t-SNE's at least 0.9, and 0.1 above PCA's", trust[0], trust[1])
	}
	if m.Method != "t-SNE" || m.Perplexity != 30 || !(m.KL > 0 && m.KL < 2) {
		t.Errorf("map %q, perplexity %g, KL %g: want t-SNE, 30, a KL in (0, 2)", m.Method, m.Perplexity, m.KL)
	}
	again, err := TSNE(b, x, TSNEConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := firstDifference(m, again); i >= 0 {
		t.Fatalf("point %d: (%g, %g), then (%g, %g): the same rows gave another map", i, m.X[i], m.Y[i], again.X[i], again.Y[i])
	}
}

// firstDifference is the first point placed otherwise on maps a and b (of the same points), or
// −1 where they are the same.
func firstDifference(a, b Map) int {
	for i := range a.X {
		if a.X[i] != b.X[i] || a.Y[i] != b.Y[i] {
			return i
		}
	}
	return -1
}

// TestTSNERefusesBadInput: too few points, a perplexity at or above their number, bad settings
// and non-finite embeddings are refused, each with what to do.
func TestTSNERefusesBadInput(t *testing.T) {
	b := backendtest.Backend(t)
	x := clusters(2, 10, 3, 3, 5)
	nan := clusters(2, 10, 3, 3, 5)
	nan.X[7] = float32(math.NaN())
	for _, c := range []struct {
		x    eval.Features
		cfg  TSNEConfig
		want string
	}{
		{x, TSNEConfig{}, "the perplexity (30) must be at least 1 and less than the number of points (20): map more points or lower the perplexity"},
		{x.Rows([]int{0, 1}), TSNEConfig{Perplexity: 1}, "2 points; map 3 or more"},
		{x, TSNEConfig{Perplexity: 5, Iterations: 10, ExaggerationIterations: 20}, "exaggerated iterations in [0, iterations]"},
		{x, TSNEConfig{Perplexity: 5, LearningRate: -1}, "learning rate positive"},
		{nan, TSNEConfig{Perplexity: 5}, "non-finite value NaN in row 2"},
	} {
		if _, err := TSNE(b, c.x, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("TSNE(%d points, %+v): %v; want an error with %q", c.x.N, c.cfg, err, c.want)
		}
	}
	same := eval.Features{N: 5, D: 2, X: make([]float32, 10)}
	if _, err := TSNE(b, same, TSNEConfig{Perplexity: 2}); err == nil || !strings.Contains(err.Error(), "every embedding is the same") {
		t.Errorf("TSNE of identical points: %v", err)
	}
}

// sklearnPython is Debian's python3, which has scikit-learn (python3-sklearn) where installed.
const sklearnPython = "/usr/bin/python3"

// hasScikitLearn reports whether sklearnPython has scikit-learn.
func hasScikitLearn() bool { return exec.Command(sklearnPython, "-c", "import sklearn").Run() == nil }

// scikitLearnPython returns sklearnPython for a test that compares with scikit-learn, or skips the
// test without scikit-learn, or with -short.
func scikitLearnPython(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs scikit-learn (-short)")
	}
	if !hasScikitLearn() {
		t.Skip("no scikit-learn for " + sklearnPython + " (Debian: apt-get install python3-sklearn)")
	}
	return sklearnPython
}

// TestTSNEMatchesScikitLearn compares with scikit-learn's exact t-SNE (Debian's python3-sklearn)
// on the same rows and the same start: the affinities, the divergence and gradient at the start,
// and the divergence after the whole descent (float32 here, float64 there: the paths part, the
// divergences reached stay close). Skipped without /usr/bin/python3 and scikit-learn.
func TestTSNEMatchesScikitLearn(t *testing.T) {
	py := scikitLearnPython(t)
	b := backendtest.Backend(t)
	x := clusters(5, 40, 20, 4, 6)
	const perplexity = 20.0
	dir := t.TempDir()
	if err := eval.WriteEmbeddings(filepath.Join(dir, "x.npy"), eval.Features{N: x.N, D: x.D, X: x.X}); err != nil {
		t.Fatal(err)
	}
	start, err := startOf(x)
	if err != nil {
		t.Fatal(err)
	}
	y0 := eval.Features{N: x.N, D: 2, X: start}
	if err := eval.WriteEmbeddings(filepath.Join(dir, "y0.npy"), y0); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys, numpy as np
from scipy.spatial.distance import squareform
from sklearn.manifold import TSNE
from sklearn.manifold._t_sne import _joint_probabilities, _kl_divergence
from sklearn.metrics import pairwise_distances
x, y0 = np.load(sys.argv[1]).astype(np.float32), np.load(sys.argv[2]).astype(np.float32)
p = _joint_probabilities(pairwise_distances(x, squared=True), 20.0, 0)
kl, grad = _kl_divergence(y0.ravel().astype(np.float64), p, 1, len(x), 2)
t = TSNE(2, perplexity=20.0, init=y0, method="exact", learning_rate="auto", random_state=0).fit(x)
json.dump({"p": squareform(p).ravel().tolist(), "kl0": kl, "grad0": grad.tolist(), "kl": float(t.kl_divergence_), "iterations": int(t.n_iter_)}, sys.stdout)
`
	out, err := exec.Command(py, "-c", script, filepath.Join(dir, "x.npy"), filepath.Join(dir, "y0.npy")).Output()
	if err != nil {
		t.Fatalf("scikit-learn: %v", err)
	}
	var ref struct {
		P          []float64
		KL0        float64 `json:"kl0"`
		Grad0      []float64
		KL         float64
		Iterations int
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}

	pt, _, err := affinities(b, x, perplexity)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.FinalizeAll()
	p := tensors.MustCopyFlatData[float32](pt)
	worst := 0.0
	for k, want := range ref.P {
		if want > 1e-12 {
			worst = max(worst, math.Abs(float64(p[k])-want)/want)
		}
	}
	t.Logf("affinities within %.2g (relative) of scikit-learn's", worst)
	if worst > 1e-3 {
		t.Errorf("affinities off by up to %.3g (relative) from scikit-learn's", worst)
	}
	step, err := NewExec(b, func(in []*Node) []*Node { return tsneStep(in[0], in[1], in[2], in[3], in[4], in[5], in[6]) })
	if err != nil {
		t.Fatal(err)
	}
	defer step.Finalize()
	res, err := step.Exec(pt, tensors.FromFlatDataAndDimensions(y0.X, x.N, 2), tensors.FromFlatDataAndDimensions(make([]float32, 2*x.N), x.N, 2),
		tensors.FromScalarAndDimensions(float32(1), x.N, 2), float32(1), float32(0), float32(1))
	if err != nil {
		t.Fatal(err)
	}
	kl0 := divergenceOf(t, pt, y0.X)
	y1 := tensors.MustCopyFlatData[float32](res[0])
	worst, scale := 0.0, 0.0
	for k, want := range ref.Grad0 {
		got := float64(y0.X[k]-y1[k]) / 0.8
		worst, scale = max(worst, math.Abs(got-want)), max(scale, math.Abs(want))
	}
	m, err := TSNE(b, x, TSNEConfig{Perplexity: perplexity})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("KL at the start %.6f (scikit-learn %.6f); gradient off by %.3g of %.3g; KL at the end %.4f (scikit-learn %.4f, %d iterations)",
		kl0, ref.KL0, worst, scale, m.KL, ref.KL, ref.Iterations)
	if math.Abs(kl0-ref.KL0) > 1e-3*ref.KL0 {
		t.Errorf("KL at the start %.6f, scikit-learn's %.6f", kl0, ref.KL0)
	}
	if worst > 1e-2*scale {
		t.Errorf("the gradient at the start is off by up to %.3g from scikit-learn's (largest component %.3g)", worst, scale)
	}
	if math.Abs(m.KL-ref.KL) > 0.05*ref.KL {
		t.Errorf("KL at the end %.4f, scikit-learn's %.4f: more than 5%% apart", m.KL, ref.KL)
	}
}
