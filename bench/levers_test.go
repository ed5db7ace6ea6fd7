//go:build levers

package main

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// TestConvGradsDW9 checks the 9-matrix-product kernel gradient against GoMLX's convolution VJP.
func TestConvGradsDW9(t *testing.T) {
	b := backendtest.XLA(t)
	x, k := randomTensor(1, 2, 4, 5, 3), randomTensor(2, 3, 3, 3, 2)
	outs, err := graph.NewExec(b, func(x, k *graph.Node) []*graph.Node {
		y := graph.Convolve(x, k).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
		ref := graph.Gradient(graph.ReduceAllSum(graph.Square(y)), x, k)
		dx, dk := convGradsDW9(x, k, y)
		return []*graph.Node{ref[0], ref[1], dx, dk}
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := outs.Exec(x, k)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"dx", "dk"} {
		want, got := tensors.MustCopyFlatData[float32](res[i]), tensors.MustCopyFlatData[float32](res[i+2])
		for j := range want {
			if math.Abs(float64(got[j]-want[j])) > 1e-4*(1+math.Abs(float64(want[j]))) {
				t.Fatalf("%s[%d] = %v, GoMLX's VJP gives %v", name, j, got[j], want[j])
			}
		}
	}
}
