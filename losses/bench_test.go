package losses

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// BenchmarkObjectives measures the loss-only cost of one step (forward + backward w.r.t. both views)
// of each objective at n=256, d=2048, and reports the first call (graph build + compile + one run)
// as the compile_s metric. Run: go test -run '^$' -bench . ./losses/
func BenchmarkObjectives(b *testing.B) {
	backend := backendtest.Backend(b)
	const n, d = 256, 2048
	r := rand.New(rand.NewPCG(1, 2))
	data1, data2 := make([]float32, n*d), make([]float32, n*d)
	for i := range data1 {
		data1[i] = float32(r.NormFloat64())
		data2[i] = data1[i] + 0.3*float32(r.NormFloat64())
	}
	z1 := tensors.FromFlatDataAndDimensions(data1, n, d)
	z2 := tensors.FromFlatDataAndDimensions(data2, n, d)
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			obj, err := New(name, Defaults())
			if err != nil {
				b.Fatal(err)
			}
			exec, err := graph.NewExec(backend, func(a, c *graph.Node) []*graph.Node {
				total, _ := obj.Loss(a, c)
				return append([]*graph.Node{total}, graph.Gradient(total, a, c)...)
			})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := exec.Exec(z1, z2); err != nil {
				b.Fatal(err)
			}
			compile := time.Since(start)
			b.ResetTimer()
			for range b.N {
				out, err := exec.Exec(z1, z2)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range out {
					o.FinalizeAll()
				}
			}
			b.ReportMetric(compile.Seconds(), "compile_s")
			b.Logf("%s: first call (build+compile+run) %s", name, compile)
		})
	}
}
