// Package linalg holds matrix operations whose gradients are fast on XLA, and pairwise squared
// distances that keep their digits in float32 (SquaredDistances).
//
// GoMLX v0.26.0 differentiates DotGeneral by broadcasting both operands to the full
// [rows, inner, cols] product and reducing it: the gradient of a [256, 2048] x [2048, 2048]
// product materialises 2^30 elements and takes seconds on a CPU where the product itself takes
// milliseconds. MatMul here computes the same product as a 1x1 convolution, whose gradient GoMLX
// builds from convolutions (two more matrix products), so the backward pass costs about as much
// as the forward. On other backends (the pure Go one lacks parts of the convolution gradient) it
// is GoMLX's MatMul.
package linalg

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gomlx-ssl/vicreg/backend"
)

// MatMul returns a·b for a of shape [n, k] and b of shape [k, m], with an efficient gradient with
// respect to both operands (see the package documentation).
func MatMul(a, b *graph.Node) *graph.Node {
	if a.Rank() != 2 || b.Rank() != 2 || a.Shape().Dimensions[1] != b.Shape().Dimensions[0] {
		panic(fmt.Sprintf("linalg.MatMul: want [n, k] x [k, m], got %s x %s", a.Shape(), b.Shape()))
	}
	if !backend.IsXLA(a.Graph().Backend().Name()) {
		return graph.MatMul(a, b)
	}
	n, k := a.Shape().Dimensions[0], a.Shape().Dimensions[1]
	m := b.Shape().Dimensions[1]
	// A batch of n "images" of 1x1 pixels with k channels, and a 1x1 kernel from k to m channels.
	out := graph.Convolve(graph.Reshape(a, n, 1, 1, k), graph.Reshape(b, 1, 1, k, m)).NoPadding().Done()
	return graph.Reshape(out, n, m)
}

// Gram returns x·xᵀ for x of shape [n, k] (an [n, n] matrix), with an efficient gradient.
func Gram(x *graph.Node) *graph.Node { return MatMul(x, graph.Transpose(x, 0, 1)) }

// InnerGram returns xᵀ·x for x of shape [n, k] (a [k, k] matrix), with an efficient gradient.
func InnerGram(x *graph.Node) *graph.Node { return MatMul(graph.Transpose(x, 0, 1), x) }

// SquaredDistances returns the [n, n] matrix of ||z_i - z_j||², with an exact zero diagonal and no
// negative entries from rounding (CrossSquaredDistances of z and z).
func SquaredDistances(z *graph.Node) *graph.Node {
	d2 := CrossSquaredDistances(z, z)
	return graph.Where(graph.Diagonal(z.Graph(), z.Shape().Dimensions[0]), graph.ZerosLike(d2), d2)
}

// CrossSquaredDistances returns the [n, m] matrix of ||a_i - b_j||² of the n rows of a and the m
// rows of b, with no negative entries from rounding. Both are shifted by b's mean first
// (distances do not change under a shift), so that |a_i|² + |b_j|² - 2·a_i·b_j does not cancel in
// float32 when the points share an offset large against their spread.
func CrossSquaredDistances(a, b *graph.Node) *graph.Node {
	n, m := a.Shape().Dimensions[0], b.Shape().Dimensions[0]
	mean := graph.ReduceAndKeep(b, graph.ReduceMean, 0)
	a, b = graph.Sub(a, mean), graph.Sub(b, mean)
	sqA, sqB := graph.ReduceSum(graph.Square(a), 1), graph.ReduceSum(graph.Square(b), 1)
	d2 := graph.Sub(graph.Add(graph.Reshape(sqA, n, 1), graph.Reshape(sqB, 1, m)), graph.MulScalar(MatMul(a, graph.Transpose(b, 0, 1)), 2))
	return graph.MaxScalar(d2, 0)
}
