package losses

import (
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gomlx-ssl/vicreg/linalg"
)

// barlowBatchNormEps is the epsilon of PyTorch's BatchNorm1d, which Barlow Twins uses (affine=False)
// to standardise each embedding dimension with the biased batch variance.
const barlowBatchNormEps = 1e-5

// BarlowTwins is the objective of Zbontar et al. (2021). With each column of Z and Z' standardised
// over the batch (mean 0, biased variance 1, eps 1e-5) and C = Ẑᵀ Ẑ'/n the [d, d] cross-correlation,
//
//	loss = Σ_i (1 - C_ii)² + λ_BT·Σ_{i≠j} C_ij²,
//
// with λ_BT = BarlowLambda. Terms: "on_diagonal" and "off_diagonal", unweighted.
type BarlowTwins struct{ P Params }

// Name implements Objective.
func (o *BarlowTwins) Name() string { return NameBarlow }

// Loss implements Objective.
func (o *BarlowTwins) Loss(z1, z2 *graph.Node) (*graph.Node, []Term) {
	checkEmbeddings("BarlowTwins", z1)
	n, d := z1.Shape().Dimensions[0], z1.Shape().Dimensions[1]
	c := graph.DivScalar(linalg.MatMul(graph.Transpose(standardize(z1), 0, 1), standardize(z2)), float64(n))
	diagonal := graph.Diagonal(z1.Graph(), d) // i = j
	on := graph.MaskedReduceAllSum(graph.Square(graph.OneMinus(c)), diagonal)
	off := graph.MaskedReduceAllSum(graph.Square(c), graph.LogicalNot(diagonal))
	total := graph.Add(on, graph.MulScalar(off, o.P.BarlowLambda))
	return total, []Term{{"on_diagonal", on}, {"off_diagonal", off}}
}

// standardize removes each column's batch mean and divides by sqrt(biased variance + 1e-5).
func standardize(z *graph.Node) *graph.Node {
	zc := graph.Sub(z, graph.ReduceAndKeep(z, graph.ReduceMean, 0))
	variance := graph.ReduceAndKeep(graph.Square(zc), graph.ReduceMean, 0)
	return graph.Div(zc, graph.Sqrt(graph.AddScalar(variance, barlowBatchNormEps)))
}

// SimCLR is the NT-Xent objective of Chen et al. (2020). The 2n embeddings u = [Z; Z'] are
// L2-normalised, sim(u_i, u_j) = u_i·u_j/τ with τ = Temperature, and each u_i's positive is the
// other view of the same image:
//
//	loss = (1/2n)·Σ_i -log( exp(sim(u_i, u_pos(i))) / Σ_{j≠i} exp(sim(u_i, u_j)) ).
//
// Term: "nt_xent" (equal to the loss).
type SimCLR struct{ P Params }

// Name implements Objective.
func (o *SimCLR) Name() string { return NameSimCLR }

// Loss implements Objective.
func (o *SimCLR) Loss(z1, z2 *graph.Node) (*graph.Node, []Term) {
	checkEmbeddings("SimCLR", z1)
	n := z1.Shape().Dimensions[0]
	u := graph.L2NormalizeWithEpsilon(graph.Concatenate([]*graph.Node{z1, z2}, 0), 1e-12, 1) // [2n, d]
	sim := graph.DivScalar(linalg.Gram(u), o.P.Temperature)                                  // [2n, 2n]
	// The denominator leaves out j = i: the diagonal of sim is masked to -1e9 (exp gives 0).
	self := graph.Diagonal(z1.Graph(), 2*n)
	masked := graph.Where(self, graph.AddScalar(graph.ZerosLike(sim), -1e9), sim)
	u1 := graph.Slice(u, graph.AxisRange(0, n))
	u2 := graph.Slice(u, graph.AxisRange(n))
	positive := graph.DivScalar(graph.ReduceSum(graph.Mul(u1, u2), 1), o.P.Temperature) // [n], same for both halves.
	lse := logSumExp(masked, 1)                                                         // [2n]
	total := graph.Sub(graph.ReduceAllMean(lse), graph.ReduceAllMean(positive))
	return total, []Term{{"nt_xent", total}}
}
