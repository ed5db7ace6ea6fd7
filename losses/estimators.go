package losses

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gomlx-ssl/vicreg/linalg"
)

// GaussianEntropy is the entropy, in nats, of the Gaussian with the covariance of z [n, d] plus
// eps·I (the largest entropy any distribution with that covariance can have):
//
//	H_G = d/2·log(2πe) + 0.5·log det(Σ_Z + eps·I),  Σ_Z = Zcᵀ Zc/(n-1).
//
// It is computed as d/2·log(2πe·eps) + 0.5·log det(I + Zcᵀ Zc/((n-1)·eps)) on the smaller of the
// d×d and n×n matrices (see LogDetIPlusGram), so it stays finite when n < d; the eps ridge then
// dominates the value. That matrix has a condition number up to ~max Var/eps (1e4 and more), which
// float32 elimination cannot resolve, so the factorisation runs in float64 inside the graph (the
// result is converted back to z's dtype); backends without float64 (TPU) cannot run it.
// Differentiable.
func GaussianEntropy(z *graph.Node, eps float64) *graph.Node {
	checkEmbeddings("GaussianEntropy", z)
	n, d := z.Shape().Dimensions[0], z.Shape().Dimensions[1]
	ld := LogDetIPlusGram(z, 1/(float64(n-1)*eps), true, dtypes.Float64)
	return graph.AddScalar(graph.MulScalar(ld, 0.5), 0.5*float64(d)*math.Log(2*math.Pi*math.E*eps))
}

// LogDetEntropy is the LogDet entropy estimator H_LD = 0.5·log det(I + β·Σ_Z) of z [n, d], with
// Σ_Z = Zcᵀ Zc/(n-1). It is well defined and smooth for rank-deficient batches (n < d).
// Differentiable.
//
// beta > 0 is used as given; beta = 0 (Auto) uses β = AutoBeta(z) = d/tr(Σ_Z), computed from the
// batch without gradient, so that β·Σ_Z has mean eigenvalue 1 whatever the embeddings' scale.
func LogDetEntropy(z *graph.Node, beta float64) *graph.Node {
	checkEmbeddings("LogDetEntropy", z)
	n := z.Shape().Dimensions[0]
	if beta == Auto {
		// log det(I + β·Σ_Z) = log det(I + Σ_Y) for Y = sqrt(β)·Z, β a constant of the graph.
		z = graph.Mul(z, graph.Sqrt(AutoBeta(z)))
		beta = 1
	}
	return graph.MulScalar(LogDetIPlusGram(z, beta/float64(n-1), true, z.DType()), 0.5)
}

// AutoBeta is the scale-aware β of the LogDet estimator: β = d/tr(Σ_Z) for z [n, d], a scalar of z's
// dtype with no gradient (1 for a batch with zero variance, where every β gives H_LD = 0).
//
// Why: ½·log det(I + β·Σ_Z) only estimates an entropy when the eigenvalues λ_k of β·Σ_Z are of order
// one. Where they are small the estimate is ½·β·tr(Σ_Z), the variance alone, blind to correlations;
// where they are large it is the Gaussian entropy ½·log det Σ_Z up to a constant, ill-conditioned
// for rank-deficient batches. A fixed β (the earlier default 1) is right only for embeddings of unit
// variance. β = d/tr(Σ_Z) makes the mean of the λ_k exactly 1 at any scale; it is the normalisation
// of MCR²'s coding rate R(Z, ε) = ½·log det(I + d/(n·ε²)·ZᵀZ) (Yu et al. 2020), whose rows have unit
// norm, with ε = 1 and the centred rows scaled to unit mean squared norm instead: then
// d/(n·ε²)·ZᵀZ = d/tr(Σ_Z)·Σ_Z. At VICReg's optimum (Σ_Z = I) it equals the old default β = 1.
// Without gradient, because with it the estimate would not change with the scale at all, and the
// objective would lose its push against shrinking embeddings.
func AutoBeta(z *graph.Node) *graph.Node {
	checkEmbeddings("AutoBeta", z)
	n, d := z.Shape().Dimensions[0], z.Shape().Dimensions[1]
	z = graph.StopGradient(z)
	zc := graph.Sub(z, graph.ReduceAndKeep(z, graph.ReduceMean, 0))
	trace := graph.DivScalar(graph.ReduceAllSum(graph.Square(zc)), float64(n-1)) // tr Σ_Z
	positive := graph.GreaterThan(trace, graph.ZerosLike(trace))
	safe := graph.Where(positive, trace, graph.OnesLike(trace))
	return graph.Where(positive, graph.Div(graph.Scalar(z.Graph(), z.DType(), float64(d)), safe), graph.OnesLike(trace))
}

// PairwiseEntropy is the Kolchinsky–Tracey (2017) pairwise-distance estimate of the entropy of the
// mixture (1/n)·Σ_i N(z_i, σ²I) formed by the rows of z [n, d]:
//
//	H_D = d/2·log(2πeσ²) - (1/n)·Σ_i log((1/n)·Σ_j exp(-D(p_i‖p_j))),
//
// with D = ||z_i - z_j||²/(8σ²) for Bhattacharyya (a lower bound on the mixture entropy) or
// ||z_i - z_j||²/(2σ²) for KL (an upper bound). kind is Bhattacharyya or KL. Differentiable.
//
// sigma > 0 is used as given; sigma = 0 (Auto) uses σ = AutoSigma(z), computed from the batch
// without gradient.
func PairwiseEntropy(z *graph.Node, sigma float64, kind string) *graph.Node {
	checkEmbeddings("PairwiseEntropy", z)
	var div float64
	switch kind {
	case Bhattacharyya:
		div = 8
	case KL:
		div = 2
	default:
		panic(fmt.Sprintf("losses.PairwiseEntropy: kind must be %q or %q, got %q", Bhattacharyya, KL, kind))
	}
	n, d := z.Shape().Dimensions[0], z.Shape().Dimensions[1]
	d2 := linalg.SquaredDistances(z)
	var sigma2 *graph.Node // σ², a scalar without gradient
	if sigma == Auto {
		sigma2 = autoSigma2(d2, n)
	} else {
		sigma2 = graph.Scalar(z.Graph(), z.DType(), sigma*sigma)
	}
	logits := graph.Div(graph.Neg(d2), graph.MulScalar(sigma2, div)) // -D_ij
	lse := logSumExp(logits, 1)                                      // [n]
	meanLog := graph.AddScalar(graph.ReduceAllMean(lse), -math.Log(float64(n)))
	return graph.Sub(graph.MulScalar(graph.Log(graph.MulScalar(sigma2, 2*math.Pi*math.E)), 0.5*float64(d)), meanLog)
}

// AutoSigma is the scale-aware kernel width of the pairwise-distance estimator for z [n, d], a
// scalar of z's dtype with no gradient:
//
//	σ² = m²/(2·ln n),  m² = the median of ||z_i - z_j||² over the n(n-1)/2 pairs i < j
//
// (the lower median, the ⌈n(n-1)/4⌉-th smallest; σ = 1 when that is 0, more than half the pairs
// coinciding).
//
// Why: the estimate's data term -(1/n)·Σ_i log((1/n)·Σ_j exp(-D_ij)) lies between 0 (every
// component on top of the others, D ≈ 0) and ln n (every component far from the others); at either
// end it no longer depends on the embeddings, and its gradient vanishes. A fixed σ is at one end
// as soon as the embeddings' scale differs from σ (σ = 1 on embeddings of unit variance in d = 2048
// dimensions gives D ≈ 512 for the Bhattacharyya distance: saturated at ln n). With σ from the
// median, the KL divergence between the components of a median pair is m²/(2σ²) = ln n, so each
// component's n-1 neighbours weigh about as much in Σ_j exp(-D_ij) as the component itself (the
// balance of the bandwidth rule h = med²/ln n of Liu and Wang's Stein variational gradient
// descent, 2016). Measured over d = 4 to 512, n = 16 to 256, Gaussian and clustered embeddings at
// scales 1e-3 to 1e3, the data term then sits at 0.2–0.25·ln n for Bhattacharyya and 0.4–0.87·ln n
// for KL (near ln n - ln 2 in high dimension, where distances concentrate), independently of the
// scale. The median rather than the mean, so that a few far points (another class's cluster) do
// not set the width. Without gradient: σ is the width of the mixture the estimate describes, not a
// quantity to move.
//
// GoMLX has no sort, so the median is found by 32 steps of bisection on [0, max ||z_i - z_j||²]
// (relative precision 2^-32 of the largest squared distance).
func AutoSigma(z *graph.Node) *graph.Node {
	checkEmbeddings("AutoSigma", z)
	return graph.Sqrt(autoSigma2(linalg.SquaredDistances(z), z.Shape().Dimensions[0]))
}

// medianSteps is the number of bisection steps of medianPairDistance2.
const medianSteps = 32

// autoSigma2 is AutoSigma's σ² from the [n, n] squared distances d2 (zero diagonal).
func autoSigma2(d2 *graph.Node, n int) *graph.Node {
	m2 := medianPairDistance2(graph.StopGradient(d2), n)
	positive := graph.GreaterThan(m2, graph.ZerosLike(m2))
	return graph.Where(positive, graph.DivScalar(m2, 2*math.Log(float64(n))), graph.OnesLike(m2))
}

// medianPairDistance2 returns the lower median of the off-diagonal entries of the symmetric [n, n]
// matrix d2 (each pair i < j counted once): the k-th smallest, k = ⌈n(n-1)/4⌉, by bisection. The
// invariants are count(d2 <= lo) < k <= count(d2 <= hi), so the median lies in (lo, hi].
func medianPairDistance2(d2 *graph.Node, n int) *graph.Node {
	g := d2.Graph()
	offDiagonal := graph.LogicalNot(graph.Diagonal(g, n))
	pairs := n * (n - 1) / 2
	k := graph.Scalar(g, dtypes.Int64, 2*((pairs+1)/2)) // off-diagonal entries count each pair twice
	atLeastK := func(t *graph.Node) *graph.Node {
		below := graph.And(offDiagonal, graph.LessOrEqual(d2, t))
		return graph.GreaterOrEqual(graph.ReduceAllSum(graph.ConvertDType(below, dtypes.Int64)), k)
	}
	lo, hi := graph.ScalarZero(g, d2.DType()), graph.ReduceAllMax(d2)
	zeroMedian := atLeastK(lo)
	for range medianSteps {
		mid := graph.MulScalar(graph.Add(lo, hi), 0.5)
		enough := atLeastK(mid)
		hi = graph.Where(enough, mid, hi)
		lo = graph.Where(enough, lo, mid)
	}
	return graph.Where(zeroMedian, graph.ZerosLike(hi), hi)
}

// GaussianMutualInfo is the Gaussian estimate of I(Z;Z') = H(Z) - H(Z|Z') of the
// information-theoretic reading of VICReg, with both entropies Gaussian (GaussianEntropy with ridge
// eps): H(Z) from z1 and H(Z|Z') from the residual z1 - z2. The d/2·log(eps) parts cancel.
// Differentiable. It is a lower bound on I(Z;Z') when Z is Gaussian (the paper's assumption), as
// H(Z|Z') <= H_G(Z - Z'); for another Z it is neither a lower nor an upper bound, since H_G(Z)
// exceeds H(Z): by up to that gap, it can exceed I(Z;Z') (Z = ±1 with Z' = Z + N(0, 0.1²): 2.3
// nats against at most 0.70).
func GaussianMutualInfo(z1, z2 *graph.Node, eps float64) *graph.Node {
	return graph.Sub(GaussianEntropy(z1, eps), GaussianEntropy(graph.Sub(z1, z2), eps))
}

// logSumExp reduces log Σ exp(x) over axis, shifted by the (constant) maximum for stability.
func logSumExp(x *graph.Node, axis int) *graph.Node {
	m := graph.StopGradient(graph.ReduceAndKeep(x, graph.ReduceMax, axis))
	return graph.Add(graph.Squeeze(m, axis), graph.Log(graph.ReduceSum(graph.Exp(graph.Sub(x, m)), axis)))
}

// VICRegLogDet keeps VICReg's invariance and replaces its variance and covariance terms by the LogDet
// entropy estimate of each branch (Shwartz-Ziv et al., 2023):
//
//	loss = λ·s(Z,Z') - w·[H_LD(Z) + H_LD(Z')],  H_LD(Z) = 0.5·log det(I + β·Σ_Z),
//
// with w = EntropyWeight. Terms: "invariance" (s) and "entropy" (H_LD(Z) + H_LD(Z')).
type VICRegLogDet struct{ P Params }

// Name implements Objective.
func (o *VICRegLogDet) Name() string { return NameVICRegLogDet }

// Loss implements Objective.
func (o *VICRegLogDet) Loss(z1, z2 *graph.Node) (*graph.Node, []Term) {
	s := Invariance(z1, z2)
	h := graph.Add(LogDetEntropy(z1, o.P.Beta), LogDetEntropy(z2, o.P.Beta))
	total := graph.Sub(graph.MulScalar(s, o.P.Lambda), graph.MulScalar(h, o.P.EntropyWeight))
	return total, []Term{{"invariance", s}, {"entropy", h}}
}

// VICRegPairDist keeps VICReg's invariance and replaces its variance and covariance terms by the
// pairwise-distance entropy estimate of each branch (Kolchinsky–Tracey; Shwartz-Ziv et al., 2023):
//
//	loss = λ·s(Z,Z') - w·[H_D(Z) + H_D(Z')],
//
// with w = EntropyWeight, kernel width Sigma and distance PairDistance. Terms: "invariance" and
// "entropy".
type VICRegPairDist struct{ P Params }

// Name implements Objective.
func (o *VICRegPairDist) Name() string { return NameVICRegPairDist }

// Loss implements Objective.
func (o *VICRegPairDist) Loss(z1, z2 *graph.Node) (*graph.Node, []Term) {
	s := Invariance(z1, z2)
	h := graph.Add(PairwiseEntropy(z1, o.P.Sigma, o.P.PairDistance), PairwiseEntropy(z2, o.P.Sigma, o.P.PairDistance))
	total := graph.Sub(graph.MulScalar(s, o.P.Lambda), graph.MulScalar(h, o.P.EntropyWeight))
	return total, []Term{{"invariance", s}, {"entropy", h}}
}
