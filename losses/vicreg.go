package losses

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gomlx-ssl/vicreg/linalg"
)

// Invariance is VICReg's s(Z, Z') = mean over all n·d entries of (Z - Z')² (PyTorch's F.mse_loss).
func Invariance(z1, z2 *graph.Node) *graph.Node {
	return graph.ReduceAllMean(graph.Square(graph.Sub(z1, z2)))
}

// Variance is VICReg's v(Z) = (1/d)·Σ_j max(0, gamma - sqrt(Var(z_j) + eps)), with the unbiased
// variance (divided by n-1) of each column of z [n, d].
func Variance(z *graph.Node, gamma, eps float64) *graph.Node {
	checkEmbeddings("Variance", z)
	n := z.Shape().Dimensions[0]
	zc := graph.Sub(z, graph.ReduceAndKeep(z, graph.ReduceMean, 0))
	variance := graph.DivScalar(graph.ReduceSum(graph.Square(zc), 0), float64(n-1))
	std := graph.Sqrt(graph.AddScalar(variance, eps))
	return graph.ReduceAllMean(graph.MaxScalar(graph.AddScalar(graph.Neg(std), gamma), 0))
}

// Covariance is VICReg's c(Z) = (1/d)·Σ_{i≠j} C(Z)_ij², with C(Z) = (Z - mean)ᵀ(Z - mean)/(n-1).
func Covariance(z *graph.Node) *graph.Node {
	checkEmbeddings("Covariance", z)
	n, d := z.Shape().Dimensions[0], z.Shape().Dimensions[1]
	zc := graph.Sub(z, graph.ReduceAndKeep(z, graph.ReduceMean, 0))
	cov := graph.DivScalar(linalg.InnerGram(zc), float64(n-1))
	offDiagonal := graph.LogicalNot(graph.Diagonal(z.Graph(), d)) // i ≠ j
	return graph.DivScalar(graph.MaskedReduceAllSum(graph.Square(cov), offDiagonal), float64(d))
}

// checkEmbeddings panics (a programming error) unless z is a [n, d] matrix with n >= 2.
func checkEmbeddings(fn string, z *graph.Node) {
	if z.Rank() != 2 || z.Shape().Dimensions[0] < 2 {
		panic(fmt.Sprintf("losses.%s: want embeddings of shape [n, d] with n >= 2, got %s", fn, z.Shape()))
	}
}

// VICReg is the objective of Bardes, Ponce and LeCun (2022):
//
//	loss = λ·s(Z,Z') + μ·[v(Z) + v(Z')]·k + ν·[c(Z) + c(Z')],
//
// with k = 1 for VarianceSum and k = 1/2 for VarianceHalf. Its terms are "invariance" (s),
// "variance" (v(Z) + v(Z')) and "covariance" (c(Z) + c(Z')), unweighted.
type VICReg struct{ P Params }

// Name implements Objective.
func (o *VICReg) Name() string { return NameVICReg }

// Loss implements Objective.
func (o *VICReg) Loss(z1, z2 *graph.Node) (*graph.Node, []Term) {
	p := o.P
	s := Invariance(z1, z2)
	v := graph.Add(Variance(z1, p.Gamma, p.Eps), Variance(z2, p.Gamma, p.Eps))
	c := graph.Add(Covariance(z1), Covariance(z2))
	mu := p.Mu
	if p.VarianceConvention == VarianceHalf {
		mu /= 2
	}
	total := graph.Add(graph.Add(graph.MulScalar(s, p.Lambda), graph.MulScalar(v, mu)), graph.MulScalar(c, p.Nu))
	return total, []Term{{"invariance", s}, {"variance", v}, {"covariance", c}}
}
