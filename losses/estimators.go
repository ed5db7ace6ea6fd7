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

// LogDetEntropy is the LogDet entropy estimator H_LD = 0.5·log det(I + beta·Σ_Z) of z [n, d], with
// Σ_Z = Zcᵀ Zc/(n-1). It is well defined and smooth for rank-deficient batches (n < d). Differentiable.
func LogDetEntropy(z *graph.Node, beta float64) *graph.Node {
	checkEmbeddings("LogDetEntropy", z)
	n := z.Shape().Dimensions[0]
	return graph.MulScalar(LogDetIPlusGram(z, beta/float64(n-1), true, z.DType()), 0.5)
}

// PairwiseEntropy is the Kolchinsky–Tracey (2017) pairwise-distance estimate of the entropy of the
// mixture (1/n)·Σ_i N(z_i, σ²I) formed by the rows of z [n, d]:
//
//	H_D = d/2·log(2πeσ²) - (1/n)·Σ_i log((1/n)·Σ_j exp(-D(p_i‖p_j))),
//
// with D = ||z_i - z_j||²/(8σ²) for Bhattacharyya (a lower bound on the mixture entropy) or
// ||z_i - z_j||²/(2σ²) for KL (an upper bound). kind is Bhattacharyya or KL. Differentiable.
func PairwiseEntropy(z *graph.Node, sigma float64, kind string) *graph.Node {
	checkEmbeddings("PairwiseEntropy", z)
	var scale float64
	switch kind {
	case Bhattacharyya:
		scale = 1 / (8 * sigma * sigma)
	case KL:
		scale = 1 / (2 * sigma * sigma)
	default:
		panic(fmt.Sprintf("losses.PairwiseEntropy: kind must be %q or %q, got %q", Bhattacharyya, KL, kind))
	}
	n, d := z.Shape().Dimensions[0], z.Shape().Dimensions[1]
	logits := graph.MulScalar(squaredDistances(z), -scale)
	lse := logSumExp(logits, 1) // [n]
	meanLog := graph.AddScalar(graph.ReduceAllMean(lse), -math.Log(float64(n)))
	return graph.AddScalar(graph.Neg(meanLog), 0.5*float64(d)*math.Log(2*math.Pi*math.E*sigma*sigma))
}

// MutualInfoLowerBound is the lower bound I(Z;Z') >= H(Z) - H(Z|Z') of the information-theoretic
// reading of VICReg, with both entropies Gaussian (GaussianEntropy with ridge eps): H(Z) from z1 and
// H(Z|Z') from the residual z1 - z2. The d/2·log(eps) parts cancel. Differentiable.
func MutualInfoLowerBound(z1, z2 *graph.Node, eps float64) *graph.Node {
	return graph.Sub(GaussianEntropy(z1, eps), GaussianEntropy(graph.Sub(z1, z2), eps))
}

// squaredDistances returns the [n, n] matrix of ||z_i - z_j||², with an exact zero diagonal and no
// negative entries from rounding.
func squaredDistances(z *graph.Node) *graph.Node {
	n := z.Shape().Dimensions[0]
	sq := graph.ReduceSum(graph.Square(z), 1) // [n]
	gram := linalg.Gram(z)
	d2 := graph.Sub(graph.Add(graph.Reshape(sq, n, 1), graph.Reshape(sq, 1, n)), graph.MulScalar(gram, 2))
	return graph.Where(graph.Diagonal(z.Graph(), n), graph.ZerosLike(d2), graph.MaxScalar(d2, 0))
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
