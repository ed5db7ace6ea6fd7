package embedmap

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/linalg"
)

// TrustNeighbours is the number of neighbours Draw measures a map's trustworthiness at
// (scikit-learn's default).
const TrustNeighbours = 5

// trustBlock is the number of rows Trustworthiness ranks the neighbours of at once.
const trustBlock = 256

// Trustworthiness measures how far a map can be trusted to show as neighbours only rows that are
// neighbours (Venna and Kaski, 2001; sklearn.manifold.trustworthiness): each point's k nearest
// points on the map that are not among its k nearest rows of x count against it by how much
// further than the k-th their rows lie, in rank,
//
//	T(k) = 1 − 2 / (N k (2N − 3k − 1)) · Σ_i Σ_{j ∈ U_i} (r(i, j) − k),
//
// where U_i holds those points and r(i, j) is row j's rank among row i's neighbours (1: the
// nearest) by Euclidean distance. 1 means every map neighbour is a neighbour of the rows; a map
// drawn at random scores about 0.5. It needs k < N/2. The rows' neighbours are ranked on the
// backend, trustBlock rows at a time (memory grows as N, time as N²), with ties counted in the
// row's favour; the map's, in Go.
func Trustworthiness(b backends.Backend, x eval.Features, m Map, k int) (float64, error) {
	return trustworthiness(b, x, m, k, nil)
}

// trustworthiness is Trustworthiness, calling progress, when set, after each block of rows with
// the rows done and their number.
func trustworthiness(b backends.Backend, x eval.Features, m Map, k int, progress func(done, total int)) (float64, error) {
	if err := x.Validate("trustworthiness"); err != nil {
		return 0, err
	}
	n := x.N
	if len(m.X) != n || len(m.Y) != n {
		return 0, fmt.Errorf("trustworthiness: a map of %d points for %d rows", len(m.X), n)
	}
	if k < 1 || 2*k >= n {
		return 0, fmt.Errorf("trustworthiness at %d neighbours needs more than %d points, and k ≥ 1; the map has %d", k, 2*k, n)
	}
	near := mapNeighbours(m, k)
	blk := min(n, trustBlock)
	ranks, err := NewExec(b, func(x, rows, pairs *Node) *Node {
		g, dt := x.Graph(), x.DType()
		d := linalg.CrossSquaredDistances(Gather(x, InsertAxes(rows, -1)), x) // [B, N]
		self := Equal(Iota(g, shapes.Make(dtypes.Int32, blk, n), 1), InsertAxes(rows, -1))
		d = Where(self, Infinity(g, dt, 1), d)
		dj := Gather(d, pairs)                                   // [B, k]: d(i, j) of each map neighbour j
		closer := LessThan(InsertAxes(d, 1), InsertAxes(dj, -1)) // [B, k, N]: d(i, l) < d(i, j), l ≠ i
		return AddScalar(ReduceSum(Where(closer, ScalarOne(g, dt), ScalarZero(g, dt)), -1), 1)
	})
	if err != nil {
		return 0, fmt.Errorf("trustworthiness: building the ranks: %w", err)
	}
	defer ranks.Finalize()
	xt := tensors.FromFlatDataAndDimensions(x.X, n, x.D)
	defer xt.FinalizeAll()
	// Blocks of blk rows, the last padded with row 0 (whose ranks are dropped): rows holds the
	// block's rows, pairs (the block's row, a map neighbour of it) for each neighbour.
	rows, pairs := make([]int32, blk), make([]int32, 2*blk*k)
	sum := 0.0
	for at := 0; at < n; at += blk {
		for r := range blk {
			i := at + r
			if i >= n {
				i = 0
			}
			rows[r] = int32(i)
			for c, j := range near[i] {
				pairs[2*(r*k+c)], pairs[2*(r*k+c)+1] = int32(r), int32(j)
			}
		}
		out, err := ranks.Exec1(xt, tensors.FromFlatDataAndDimensions(rows, blk), tensors.FromFlatDataAndDimensions(pairs, blk, k, 2))
		if err != nil {
			return 0, fmt.Errorf("trustworthiness: ranking the neighbours: %w", err)
		}
		got := tensors.MustCopyFlatData[float32](out)
		out.FinalizeAll()
		for _, r := range got[:min(blk, n-at)*k] {
			if int(r) > k {
				sum += float64(int(r) - k)
			}
		}
		if progress != nil {
			progress(min(n, at+blk), n)
		}
	}
	nf, kf := float64(n), float64(k)
	return 1 - 2/(nf*kf*(2*nf-3*kf-1))*sum, nil
}

// mapNeighbours returns the k nearest other points to each point of m, nearest first (of equal
// distances, the lower index first).
func mapNeighbours(m Map, k int) [][]int {
	n := len(m.X)
	out := make([][]int, n)
	type near struct {
		d float64
		j int
	}
	best := make([]near, 0, k+1)
	for i := range n {
		best = best[:0]
		for j := range n {
			if j == i {
				continue
			}
			dx, dy := m.X[j]-m.X[i], m.Y[j]-m.Y[i]
			d := dx*dx + dy*dy
			if len(best) == k && d >= best[k-1].d {
				continue
			}
			// Insert in order, dropping the (k+1)-th.
			at := len(best)
			for at > 0 && best[at-1].d > d {
				at--
			}
			best = append(best, near{})
			copy(best[at+1:], best[at:])
			best[at] = near{d, j}
			if len(best) > k {
				best = best[:k]
			}
		}
		out[i] = make([]int, len(best))
		for t, b := range best {
			out[i][t] = b.j
		}
	}
	return out
}
