package embedmap

import (
	"fmt"
	"math"

	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/linalg"
	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"gonum.org/v1/gonum/stat"
)

// TSNEConfig configures t-SNE. Its defaults are scikit-learn's (sklearn.manifold.TSNE, 1.2 and
// later, method="exact", init="pca", learning_rate="auto").
type TSNEConfig struct {
	// Perplexity is the number of neighbours, in effect, that each point's affinities spread
	// over (default 30): below the number of points.
	Perplexity float64
	// Iterations of gradient descent in all (default 1000); the first ExaggerationIterations
	// (default 250, or all of them where fewer) multiply the affinities by Exaggeration (default
	// 12) and have momentum 0.5, the rest momentum 0.8.
	Iterations, ExaggerationIterations int
	Exaggeration                       float64
	// LearningRate is the step size (0: scikit-learn's "auto", max(N / Exaggeration / 4, 50)).
	LearningRate float64
	// Solver is how the gradient is computed: SolverExact, over every pair of points on the
	// backend (N × N matrices: time and memory grow as N²), or SolverBarnesHut (van der Maaten,
	// 2014), over each point's 3·Perplexity nearest neighbours and a quadtree of the map, in Go
	// on all cores (time grows as N log N, memory as N). "" (SolverAuto) takes the exact one for
	// at most ExactMaxPoints points.
	Solver string
	// Angle is Barnes-Hut's θ (0: DefaultAngle): larger is faster and coarser.
	Angle float64
	// Progress, when set, is called after each iteration with the iterations done and their
	// number; NeighbourProgress, after each batch of Barnes-Hut's search for the nearest
	// neighbours, with the rows done and their number.
	Progress, NeighbourProgress func(done, total int)
}

// The gradients TSNE computes (TSNEConfig.Solver).
const (
	SolverAuto      = ""
	SolverExact     = "exact"
	SolverBarnesHut = "barnes-hut"
)

// ExactMaxPoints is the most points that TSNE maps with the exact gradient unless told which
// (SolverAuto). Above it Barnes-Hut's is several times faster on a CPU (5,000 points of 512
// dimensions on two cores: 10 s against 70 s) and its maps as trustworthy, at a higher
// divergence; up to it the exact map is as quick as it was before Barnes-Hut came.
const ExactMaxPoints = 2000

func (c TSNEConfig) withDefaults(n int) TSNEConfig {
	if c.Perplexity == 0 {
		c.Perplexity = 30
	}
	if c.Iterations == 0 {
		c.Iterations = DefaultIterations
	}
	if c.ExaggerationIterations == 0 {
		c.ExaggerationIterations = min(250, c.Iterations)
	}
	if c.Exaggeration == 0 {
		c.Exaggeration = 12
	}
	if c.LearningRate == 0 {
		c.LearningRate = max(float64(n)/c.Exaggeration/4, 50)
	}
	if c.Solver == SolverAuto {
		c.Solver = SolverExact
		if n > ExactMaxPoints {
			c.Solver = SolverBarnesHut
		}
	}
	if c.Angle == 0 {
		c.Angle = DefaultAngle
	}
	return c
}

// DefaultIterations is the number of t-SNE's iterations, unless TSNEConfig says otherwise.
const DefaultIterations = 1000

// Perplexity search, as scikit-learn's: each point's precision β is bisected until the entropy
// of its conditional distribution is within perplexityTolerance of log(perplexity), in at most
// perplexitySteps steps.
const (
	perplexityTolerance = 1e-5
	perplexitySteps     = 100
)

// Gradient descent with gains (Jacobs, 1988), as scikit-learn's.
const (
	minGain                        = 0.01
	exaggerationMomentum, momentum = 0.5, 0.8
)

// TSNE maps the rows of x to the plane by t-SNE (van der Maaten and Hinton, 2008): the
// affinities of the rows (Gaussian, of squared Euclidean distance, each row's width set by the
// perplexity) are matched by those of the map (Student's t with one degree of freedom), by
// gradient descent on their Kullback-Leibler divergence from the first two principal axes of x,
// scaled to a standard deviation of 1e-4 along the first. By the exact gradient (cfg.Solver),
// everything but that start runs on the backend, on N × N matrices (N = x.N): its time and
// memory grow as N². By Barnes-Hut's, the affinities are those of each row's nearest rows
// (found on the backend) and the descent runs in Go, its time growing as N log N. Map a sample of
// a large data set (Sample). The map is the same for the same rows on the same machine and
// backend (for Barnes-Hut, whatever the number of cores).
func TSNE(b backends.Backend, x eval.Features, cfg TSNEConfig) (Map, error) {
	cfg = cfg.withDefaults(x.N)
	if err := x.Validate("t-SNE"); err != nil {
		return Map{}, err
	}
	switch {
	case x.N < 3:
		return Map{}, fmt.Errorf("t-SNE: %d points; map 3 or more", x.N)
	case cfg.Perplexity < 1 || cfg.Perplexity >= float64(x.N):
		return Map{}, fmt.Errorf("t-SNE: the perplexity (%g) must be at least 1 and less than the number of points (%d): map more points or lower the perplexity", cfg.Perplexity, x.N)
	case cfg.Iterations < 1 || cfg.ExaggerationIterations < 0 || cfg.ExaggerationIterations > cfg.Iterations || cfg.Exaggeration < 1 || cfg.LearningRate <= 0 || cfg.Angle < 0:
		return Map{}, fmt.Errorf("t-SNE: bad settings %+v: iterations at least 1, exaggerated iterations in [0, iterations], exaggeration at least 1, learning rate positive, angle not negative", cfg)
	case cfg.Solver != SolverExact && cfg.Solver != SolverBarnesHut:
		return Map{}, fmt.Errorf("t-SNE: unknown solver %q: use %q or %q", cfg.Solver, SolverExact, SolverBarnesHut)
	}
	y, err := startOf(x)
	if err != nil {
		return Map{}, fmt.Errorf("t-SNE: the start: %w", err)
	}
	if cfg.Solver == SolverBarnesHut {
		p, err := sparseAffinities(b, x, cfg.Perplexity, cfg.NeighbourProgress)
		if err != nil {
			return Map{}, err
		}
		y64 := make([]float64, len(y))
		for k, v := range y {
			y64[k] = float64(v)
		}
		kl := barnesHut(p, y64, cfg)
		return mapOf(y64, kl, cfg)
	}
	p, _, err := affinities(b, x, cfg.Perplexity)
	if err != nil {
		return Map{}, err
	}
	defer p.FinalizeAll()

	step, err := NewExec(b, func(in []*Node) []*Node { return tsneStep(in[0], in[1], in[2], in[3], in[4], in[5], in[6]) })
	if err != nil {
		return Map{}, fmt.Errorf("t-SNE: building the gradient step: %w", err)
	}
	defer step.Finalize()
	state := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, x.N, 2), nil, nil}
	defer func() {
		for _, t := range state {
			if t != nil {
				t.FinalizeAll()
			}
		}
	}()
	for it := range cfg.Iterations {
		exaggeration, mom := 1.0, momentum
		if it < cfg.ExaggerationIterations {
			exaggeration, mom = cfg.Exaggeration, exaggerationMomentum
		}
		if it == 0 || it == cfg.ExaggerationIterations {
			// Each phase starts still, with unit gains (scikit-learn runs them as two descents).
			for k, v := range []float32{0, 1} {
				if state[k+1] != nil {
					state[k+1].FinalizeAll()
				}
				state[k+1] = tensors.FromScalarAndDimensions(v, x.N, 2)
			}
		}
		out, err := step.Exec(p, state[0], state[1], state[2], float32(exaggeration), float32(mom), float32(cfg.LearningRate))
		if err != nil {
			return Map{}, fmt.Errorf("t-SNE: iteration %d: %w", it+1, err)
		}
		for k := range state {
			state[k].FinalizeAll()
			state[k] = out[k]
		}
		if cfg.Progress != nil {
			cfg.Progress(it+1, cfg.Iterations)
		}
	}
	klExec, err := NewExec(b, divergence)
	if err != nil {
		return Map{}, fmt.Errorf("t-SNE: building the divergence: %w", err)
	}
	defer klExec.Finalize()
	out, err := klExec.Exec1(p, state[0])
	if err != nil {
		return Map{}, fmt.Errorf("t-SNE: the divergence: %w", err)
	}
	kl := float64(tensors.ToScalar[float32](out))
	out.FinalizeAll()
	y64 := make([]float64, 2*x.N)
	for k, v := range tensors.MustCopyFlatData[float32](state[0]) {
		y64[k] = float64(v)
	}
	return mapOf(y64, kl, cfg)
}

// mapOf is the t-SNE map of the coordinates y (N × 2, row-major) and divergence kl; an error
// where a point diverged.
func mapOf(y []float64, kl float64, cfg TSNEConfig) (Map, error) {
	n := len(y) / 2
	m := Map{Method: "t-SNE", X: make([]float64, n), Y: make([]float64, n), KL: kl, Perplexity: cfg.Perplexity, Solver: cfg.Solver}
	if cfg.Solver == SolverBarnesHut {
		m.Angle = cfg.Angle
	}
	for i := range n {
		m.X[i], m.Y[i] = y[2*i], y[2*i+1]
		if math.IsNaN(m.X[i]) || math.IsNaN(m.Y[i]) || math.IsInf(m.X[i], 0) || math.IsInf(m.Y[i], 0) {
			return Map{}, fmt.Errorf("t-SNE: point %d diverged to (%g, %g): lower the learning rate", i, m.X[i], m.Y[i])
		}
	}
	if math.IsNaN(kl) || math.IsInf(kl, 0) {
		return Map{}, fmt.Errorf("t-SNE: the divergence is %g: lower the learning rate", kl)
	}
	return m, nil
}

// tsneStep is one iteration of t-SNE's gradient descent on the map y (N × 2), given the joint
// affinities p (N × N, zero diagonal, summing to 1), the last update and the gains (N × 2), and
// the scalars exaggeration (of p), momentum and learning rate. It returns the new map, update
// and gains.
func tsneStep(p, y, update, gains, exaggeration, mom, lr *Node) []*Node {
	g, dt := y.Graph(), y.DType()
	w, z := studentT(y)
	// ∂KL/∂y_i = 4 Σ_j m_ij (y_i − y_j) = 4 (y_i Σ_j m_ij − Σ_j m_ij y_j), with m = (p − q) ⊙ w; both
	// sums in one product, m [y 1] (faster on XLA's CPU than reductions along rows). The
	// diagonal's terms cancel.
	m := Mul(Sub(Mul(p, exaggeration), Div(w, z)), w)
	ones := OnesLike(Slice(y, AxisRange(), AxisElem(0)))
	my := MatMul(m, Concatenate([]*Node{y, ones}, 1)) // [N, 3]: m y, then m's row sums
	grad := MulScalar(Sub(Mul(Slice(my, AxisRange(), AxisElem(2)), y), Slice(my, AxisRange(), AxisRange(0, 2))), 4)
	gains = Where(LessThan(Mul(update, grad), ScalarZero(g, dt)), AddScalar(gains, 0.2), MulScalar(gains, 0.8))
	gains = MaxScalar(gains, minGain)
	update = Sub(Mul(mom, update), Mul(lr, Mul(gains, grad)))
	return []*Node{Add(y, update), update, gains}
}

// studentT returns the map y's kernel w_ij = 1 / (1 + ‖y_i − y_j‖²) (N × N, 1 on the diagonal)
// and its sum z over i ≠ j. The distances are of the differences, not of the Gram form
// ‖y_i‖² + ‖y_j‖² − 2 y_i·y_j, which loses the nearest neighbours' distances to cancellation.
func studentT(y *Node) (w, z *Node) {
	n := y.Shape().Dimensions[0]
	d2 := ScalarZero(y.Graph(), y.DType())
	for k := range 2 {
		c := Slice(y, AxisRange(), AxisElem(k))
		d2 = Add(d2, Square(Sub(c, Transpose(c, 0, 1))))
	}
	w = Reciprocal(AddScalar(d2, 1))
	return w, Sub(ReduceAllSum(w), Scalar(y.Graph(), y.DType(), n))
}

// divergence returns KL(p ‖ q) = Σ_i≠j p_ij log(p_ij / q_ij) of the map y's affinities q from p.
func divergence(p, y *Node) *Node {
	g, dt := y.Graph(), y.DType()
	w, z := studentT(y)
	q := MaxScalar(Div(w, z), 1e-37)
	return ReduceAllSum(Where(GreaterThan(p, ScalarZero(g, dt)), Mul(p, Sub(Log(p), Log(q))), ScalarZero(g, dt)))
}

// affinities returns the joint affinities of the rows of x, p_ij = (p_j|i + p_i|j) / 2N (an
// N × N tensor on the backend, zero on the diagonal), with p_j|i ∝ exp(−β_i ‖x_i − x_j‖²) and
// each row's β_i (also returned) set so that the perplexity of p_·|i is perplexity.
func affinities(b backends.Backend, x eval.Features, perplexity float64) (*tensors.Tensor, []float32, error) {
	// The squared distances, less each row's smallest (which leaves p_·|i unchanged and keeps
	// exp(−β d) from underflowing where distances are large).
	distances, err := NewExec(b, func(x *Node) *Node {
		g, dt := x.Graph(), x.DType()
		d := linalg.SquaredDistances(x)
		diag := Diagonal(g, x.Shape().Dimensions[0])
		nearest := ReduceAndKeep(Where(diag, Infinity(g, dt, 1), d), ReduceMin, -1)
		return Where(diag, ScalarZero(g, dt), Sub(d, nearest))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("t-SNE: building the distances: %w", err)
	}
	defer distances.Finalize()
	dist, err := distances.Exec1(tensors.FromFlatDataAndDimensions(x.X, x.N, x.D))
	if err != nil {
		return nil, nil, fmt.Errorf("t-SNE: distances: %w", err)
	}
	defer dist.FinalizeAll()

	target := math.Log(perplexity)
	search, err := NewExec(b, func(in []*Node) []*Node {
		d, beta, lo, hi, done := in[0], in[1], in[2], in[3], in[4]
		g, dt := d.Graph(), d.DType()
		h := entropy(d, beta)
		diff := AddScalar(h, -target)
		done = LogicalOr(done, LessOrEqual(Abs(diff), Scalar(g, dt, perplexityTolerance)))
		// Entropy above the target: β too small; below: too large. An unbounded side doubles
		// or halves β (lo = 0 stands for no lower bound: its midpoint is the half).
		high := GreaterThan(diff, ScalarZero(g, dt))
		newLo := Where(high, beta, lo)
		newHi := Where(high, hi, beta)
		newBeta := Where(high,
			Where(IsFinite(hi), DivScalar(Add(beta, hi), 2), MulScalar(beta, 2)),
			DivScalar(Add(beta, lo), 2))
		keep := func(old, next *Node) *Node { return Where(done, old, next) }
		left := ReduceAllSum(ConvertDType(LogicalNot(done), dt))
		return []*Node{keep(beta, newBeta), keep(lo, newLo), keep(hi, newHi), done, left}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("t-SNE: building the perplexity search: %w", err)
	}
	defer search.Finalize()
	n := x.N
	state := []*tensors.Tensor{
		tensors.FromScalarAndDimensions(float32(1), n, 1),
		tensors.FromScalarAndDimensions(float32(0), n, 1),
		tensors.FromScalarAndDimensions(float32(math.Inf(1)), n, 1),
		tensors.FromScalarAndDimensions(false, n, 1),
	}
	defer func() {
		for _, t := range state {
			t.FinalizeAll()
		}
	}()
	for range perplexitySteps {
		out, err := search.Exec(dist, state[0], state[1], state[2], state[3])
		if err != nil {
			return nil, nil, fmt.Errorf("t-SNE: perplexity search: %w", err)
		}
		for k := range state {
			state[k].FinalizeAll()
			state[k] = out[k]
		}
		left := tensors.ToScalar[float32](out[4])
		out[4].FinalizeAll()
		if left == 0 {
			break
		}
	}
	joint, err := NewExec(b, func(d, beta *Node) *Node {
		c := conditional(d, beta)
		s := Add(c, Transpose(c, 0, 1))
		return Div(s, ReduceAllSum(s))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("t-SNE: building the affinities: %w", err)
	}
	defer joint.Finalize()
	p, err := joint.Exec1(dist, state[0])
	if err != nil {
		return nil, nil, fmt.Errorf("t-SNE: affinities: %w", err)
	}
	return p, tensors.MustCopyFlatData[float32](state[0]), nil
}

// unnormalised returns exp(−β_i d_ij), zero on the diagonal, and its row sums (at least 1e-8,
// scikit-learn's floor for a row whose every exponential underflowed).
func unnormalised(d, beta *Node) (e, sum *Node) {
	g, dt := d.Graph(), d.DType()
	e = Where(Diagonal(g, d.Shape().Dimensions[0]), ScalarZero(g, dt), Exp(Neg(Mul(d, beta))))
	return e, MaxScalar(ReduceAndKeep(e, ReduceSum, -1), 1e-8)
}

// conditional returns p_j|i = exp(−β_i d_ij) / Σ_k≠i exp(−β_i d_ik), zero on the diagonal.
func conditional(d, beta *Node) *Node {
	e, sum := unnormalised(d, beta)
	return Div(e, sum)
}

// entropy returns the entropy (in nats) of each row of conditional(d, beta):
// log Σ_j e_j + β Σ_j d_j e_j / Σ_j e_j.
func entropy(d, beta *Node) *Node {
	e, sum := unnormalised(d, beta)
	return Add(Log(sum), Div(Mul(beta, ReduceAndKeep(Mul(d, e), ReduceSum, -1)), sum))
}

// startOf is t-SNE's start: the rows of x on their first two principal axes (PCA), scaled to a
// standard deviation of 1e-4 along the first (scikit-learn's init="pca"), as N × 2 row-major.
func startOf(x eval.Features) ([]float32, error) {
	m, err := PCA(x)
	if err != nil {
		return nil, err
	}
	scale := 1e-4 / stat.PopStdDev(m.X, nil) // NumPy's np.std
	y := make([]float32, 2*x.N)
	for i := range x.N {
		y[2*i], y[2*i+1] = float32(m.X[i]*scale), float32(m.Y[i]*scale)
	}
	return y, nil
}
