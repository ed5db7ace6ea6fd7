package linalg

import (
	"math"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

func fill(n int, f func(i int) float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = f(i)
	}
	return x
}

// TestMatMulValueAndGradient compares the product and the gradients of sum(w ⊙ a·b) with the
// float64 formulas d/da = w·bᵀ and d/db = aᵀ·w.
func TestMatMulValueAndGradient(t *testing.T) {
	b := backendtest.Backend(t)
	const n, k, m = 5, 3, 4
	a := fill(n*k, func(i int) float64 { return math.Sin(float64(i)) })
	bb := fill(k*m, func(i int) float64 { return math.Cos(float64(2 * i)) })
	w := fill(n*m, func(i int) float64 { return float64(i%5) - 2 })
	exec := graph.MustNewExec(b, func(a, bb, w *graph.Node) []*graph.Node {
		c := MatMul(a, bb)
		return append([]*graph.Node{c}, graph.Gradient(graph.ReduceAllSum(graph.Mul(c, w)), a, bb)...)
	})
	out := exec.MustExec(tensors.FromFlatDataAndDimensions(a, n, k), tensors.FromFlatDataAndDimensions(bb, k, m),
		tensors.FromFlatDataAndDimensions(w, n, m))
	c, da, db := tensors.MustCopyFlatData[float64](out[0]), tensors.MustCopyFlatData[float64](out[1]), tensors.MustCopyFlatData[float64](out[2])
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			var want float64
			for l := 0; l < k; l++ {
				want += a[i*k+l] * bb[l*m+j]
			}
			if math.Abs(c[i*m+j]-want) > 1e-12 {
				t.Errorf("c[%d,%d] = %v, want %v", i, j, c[i*m+j], want)
			}
		}
	}
	for i := 0; i < n; i++ {
		for l := 0; l < k; l++ {
			var want float64
			for j := 0; j < m; j++ {
				want += w[i*m+j] * bb[l*m+j]
			}
			if math.Abs(da[i*k+l]-want) > 1e-12 {
				t.Errorf("da[%d,%d] = %v, want %v", i, l, da[i*k+l], want)
			}
		}
	}
	for l := 0; l < k; l++ {
		for j := 0; j < m; j++ {
			var want float64
			for i := 0; i < n; i++ {
				want += a[i*k+l] * w[i*m+j]
			}
			if math.Abs(db[l*m+j]-want) > 1e-12 {
				t.Errorf("db[%d,%d] = %v, want %v", l, j, db[l*m+j], want)
			}
		}
	}
}

func TestGramShapes(t *testing.T) {
	b := backendtest.Backend(t)
	out := graph.MustNewExec(b, func(x *graph.Node) []*graph.Node { return []*graph.Node{Gram(x), InnerGram(x)} }).
		MustExec([][]float32{{1, 2, 3}, {4, 5, 6}})
	if got := tensors.MustCopyFlatData[float32](out[0]); len(got) != 4 || got[1] != 32 {
		t.Errorf("Gram = %v, want [[14 32] [32 77]]", got)
	}
	if got := tensors.MustCopyFlatData[float32](out[1]); len(got) != 9 || got[0] != 17 || got[8] != 45 {
		t.Errorf("InnerGram = %v, want [[17 22 27] [22 29 36] [27 36 45]]", got)
	}
}

// BenchmarkCovarianceGradient compares the gradient of sum((zᵀz)²) for z [256, 2048] through
// GoMLX's MatMul and through this package's.
func BenchmarkCovarianceGradient(b *testing.B) {
	backend := backendtest.Backend(b)
	const n, d = 256, 2048
	z := tensors.FromFlatDataAndDimensions(make([]float32, n*d), n, d)
	for _, tc := range []struct {
		name string
		mm   func(a, b *graph.Node) *graph.Node
	}{{"gomlx", graph.MatMul}, {"linalg", MatMul}} {
		b.Run(tc.name, func(b *testing.B) {
			exec := graph.MustNewExec(backend, func(z *graph.Node) *graph.Node {
				return graph.Gradient(graph.ReduceAllSum(graph.Square(tc.mm(graph.Transpose(z, 0, 1), z))), z)[0]
			})
			start := time.Now()
			exec.MustExec(z)
			b.ReportMetric(time.Since(start).Seconds(), "first_call_s")
			b.ResetTimer()
			for range b.N {
				exec.MustExec(z)[0].FinalizeAll()
			}
		})
	}
}

// TestSquaredDistances compares ‖z_i − z_j‖² in float32 with the direct differences in float64,
// for points of spread 0.1 around an offset of 1000, where the uncentred Gram form
// |z_i|² + |z_j|² − 2 z_i·z_j would lose every digit (|z|² ≈ 10⁷, float32 keeps 7 digits); the
// diagonal is exactly zero; CrossSquaredDistances of two of the points and all of them agrees.
func TestSquaredDistances(t *testing.T) {
	b := backendtest.Backend(t)
	const n, d = 6, 4
	z := make([]float32, n*d)
	for i := range z {
		z[i] = float32(1000 + 0.1*math.Sin(float64(7*i+1)))
	}
	exec, err := graph.NewExec(b, SquaredDistances)
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Exec1(tensors.FromFlatDataAndDimensions(z, n, d))
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](out)
	for i := range n {
		for j := range n {
			want := 0.0
			for k := range d {
				v := float64(z[i*d+k]) - float64(z[j*d+k])
				want += v * v
			}
			if g := float64(got[i*n+j]); (i == j && g != 0) || math.Abs(g-want) > 1e-3*want {
				t.Errorf("‖z_%d − z_%d‖² = %g, want %g", i, j, g, want)
			}
		}
	}

	// Between the first two points and all six (the first two among them: their distances to
	// themselves within rounding of zero).
	cross, err := graph.NewExec(b, func(z *graph.Node) *graph.Node {
		return CrossSquaredDistances(graph.Slice(z, graph.AxisRange(0, 2)), z)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cross.Finalize()
	out, err = cross.Exec1(tensors.FromFlatDataAndDimensions(z, n, d))
	if err != nil {
		t.Fatal(err)
	}
	if dims := out.Shape().Dimensions; len(dims) != 2 || dims[0] != 2 || dims[1] != n {
		t.Fatalf("shape %v, want [2 %d]", dims, n)
	}
	cr := tensors.MustCopyFlatData[float32](out)
	for i := range 2 {
		for j := range n {
			if g, want := float64(cr[i*n+j]), float64(got[i*n+j]); g < 0 || math.Abs(g-want) > 1e-3*max(want, 1e-3) {
				t.Errorf("cross ‖z_%d − z_%d‖² = %g, want %g", i, j, g, want)
			}
		}
	}
}
