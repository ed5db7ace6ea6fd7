package losses

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gomlx-ssl/vicreg/linalg"
)

// LogDetSPD returns log det(a) for a symmetric positive-definite matrix a of shape [m, m], as a scalar
// of a's dtype.
//
// GoMLX v0.26.0 has no Cholesky, eigendecomposition or while loop, so the determinant is computed
// by m unrolled steps of the symmetric sweep operator (Goodnight, 1979) on the whole matrix: step k
// divides by the pivot D_k = the k-th Schur complement pivot, which is positive for an SPD matrix, and
// log det(a) = sum_k log D_k. After the m steps the swept matrix holds -a^-1, which gives the
// gradient directly: d log det(a) / da = a^-1. The backward pass therefore does not differentiate
// through the unrolled steps (which would double the graph and its compile time): the value is
// wrapped so that its gradient with respect to a is exactly a^-1 (the "stop-gradient" identity
// v = sg(v) + <a, sg(a^-1)> - sg(<a, a^-1>)).
//
// No pivoting is done (none is needed for an SPD matrix); the accuracy is that of Gaussian elimination
// in a's dtype, so pass a float64 matrix when a is ill-conditioned (condition number beyond ~1e4 in
// float32). The graph has about 10·m operations: m is the smaller side of the problem, see
// LogDetIPlusGram.
func LogDetSPD(a *graph.Node) *graph.Node {
	if a.Rank() != 2 || a.Shape().Dimensions[0] != a.Shape().Dimensions[1] {
		panic(fmt.Sprintf("losses.LogDetSPD: want a square matrix, got shape %s", a.Shape()))
	}
	logDet, inv := blockLogDet(graph.StopGradient(a))
	// Value: logDet. Gradient w.r.t. a: inv (a^-1, symmetric).
	inner := graph.ReduceAllSum(graph.Mul(a, inv))
	return graph.Add(logDet, graph.Sub(inner, graph.StopGradient(inner)))
}

// LeafSize is the size of the diagonal blocks that LogDetSPD factorises by unrolled sweeps; larger
// matrices are split in two recursively (block Schur complements, matrix products only).
const LeafSize = 32

// blockLogDet returns (log det a, a^-1) for an SPD matrix a, splitting it recursively:
// with a = [[A11, A12], [A12ᵀ, A22]], X = A11^-1 A12 and S = A22 - A12ᵀ X (the Schur complement),
// log det a = log det A11 + log det S and a^-1 = [[A11^-1 + X S^-1 Xᵀ, -X S^-1], [-S^-1 Xᵀ, S^-1]].
// It is not meant to be differentiated (see LogDetSPD).
func blockLogDet(a *graph.Node) (logDet, inv *graph.Node) {
	m := a.Shape().Dimensions[0]
	if m <= LeafSize {
		return sweepLogDet(a)
	}
	m1 := m / 2
	a11 := graph.Slice(a, graph.AxisRange(0, m1), graph.AxisRange(0, m1))
	a12 := graph.Slice(a, graph.AxisRange(0, m1), graph.AxisRangeToEnd(m1))
	a22 := graph.Slice(a, graph.AxisRangeToEnd(m1), graph.AxisRangeToEnd(m1))
	ld1, inv11 := blockLogDet(a11)
	x := graph.MatMul(inv11, a12)
	s := graph.Sub(a22, graph.Einsum("ki,kj->ij", a12, x))
	ld2, invS := blockLogDet(s)
	xInvS := graph.MatMul(x, invS)
	top := graph.Concatenate([]*graph.Node{graph.Add(inv11, graph.Einsum("ik,jk->ij", xInvS, x)), graph.Neg(xInvS)}, 1)
	bottom := graph.Concatenate([]*graph.Node{graph.Neg(graph.Transpose(xInvS, 0, 1)), invS}, 1)
	return graph.Add(ld1, ld2), graph.Concatenate([]*graph.Node{top, bottom}, 0)
}

// sweepLogDet runs the sweep operator over all pivots of a (unrolled, one step per row) and returns
// (log det a, a^-1).
func sweepLogDet(a *graph.Node) (logDet, inv *graph.Node) {
	g := a.Graph()
	m := a.Shape().Dimensions[0]
	dtype := a.DType()
	eye := graph.DiagonalWithValue(graph.ScalarOne(g, dtype), m)
	pivots := make([]*graph.Node, m)
	for k := range m {
		ek := graph.Slice(eye, graph.AxisRange(), graph.AxisElem(k)) // [m, 1] one-hot.
		c := graph.Slice(a, graph.AxisRange(), graph.AxisElem(k))    // [m, 1]: column k.
		d := graph.Slice(c, graph.AxisElem(k))                       // [1, 1]: pivot D_k.
		pivots[k] = d
		u := graph.Div(c, d) // [m, 1]
		// Sweep: a_ij -= a_ik a_kj / D for i,j != k (this zeroes row and column k), then row and
		// column k become a_ik / D and the pivot becomes -1/D: add w e_kᵀ + e_k wᵀ with
		// w = u (with u_k = 0) - e_k / (2D).
		w := graph.Sub(graph.Mul(u, graph.OneMinus(ek)), graph.Div(ek, graph.MulScalar(d, 2))) // [m, 1]
		// Row and column k of a - c uᵀ are zero in exact arithmetic only: they are masked to exact
		// zeros, otherwise the rounding residue left there compounds across steps and levels.
		notK := graph.Mul(graph.OneMinus(ek), graph.Reshape(graph.OneMinus(ek), 1, m)) // [m, m] constant mask.
		swept := graph.Mul(graph.Sub(a, graph.Mul(c, graph.Reshape(u, 1, m))), notK)
		a = graph.Add(swept, graph.Add(graph.Mul(w, graph.Reshape(ek, 1, m)), graph.Mul(ek, graph.Reshape(w, 1, m))))
	}
	return graph.ReduceAllSum(graph.Log(graph.Concatenate(pivots, 0))), graph.Neg(a)
}

// LogDetIPlusGram returns log det(I_d + alpha · Zcᵀ Zc) for z of shape [n, d], where Zc is z with each
// column's mean removed when center is true (and z itself otherwise). It works on the smaller of
// the two matrices, using det(I_d + alpha Zcᵀ Zc) = det(I_n + alpha Zc Zcᵀ), so the unrolled
// factorisation has min(n, d) steps. The matrix is SPD for any alpha > 0, also when n < d.
// The factorisation runs in dtype (z is converted to it and the result converted back to z's dtype).
func LogDetIPlusGram(z *graph.Node, alpha float64, center bool, dtype dtypes.DType) *graph.Node {
	if z.Rank() != 2 {
		panic(fmt.Sprintf("losses.LogDetIPlusGram: want z of shape [n, d], got %s", z.Shape()))
	}
	outDType := z.DType()
	x := graph.ConvertDType(z, dtype)
	if center {
		x = graph.Sub(x, graph.ReduceAndKeep(x, graph.ReduceMean, 0))
	}
	n, d := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	var gram *graph.Node
	var m int
	if n <= d {
		gram, m = linalg.Gram(x), n
	} else {
		gram, m = linalg.InnerGram(x), d
	}
	eye := graph.DiagonalWithValue(graph.ScalarOne(z.Graph(), dtype), m)
	mat := graph.Add(eye, graph.MulScalar(gram, alpha))
	return graph.ConvertDType(LogDetSPD(mat), outDType)
}
