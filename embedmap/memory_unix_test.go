//go:build unix

package embedmap

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
)

// BenchmarkTSNEMemory reports the process's peak resident memory after t-SNE maps (20 iterations)
// of points of 64 dimensions and their trustworthiness: by the exact gradient, of 2,000, 4,000
// and 8,000 points, and by Barnes-Hut's, of 20,000 and 50,000, in that order. The peak only
// grows, so each reading is that size's (or an earlier benchmark's, if larger): run each solver
// alone,
// go test -run '^$' -bench 'TSNEMemory/exact' -benchtime 1x ./embedmap/
// go test -run '^$' -bench 'TSNEMemory/barnes-hut' -benchtime 1x ./embedmap/
func BenchmarkTSNEMemory(b *testing.B) {
	backend := backendtest.Backend(b)
	for _, c := range []struct {
		solver string
		n      int
	}{{SolverExact, 2000}, {SolverExact, 4000}, {SolverExact, 8000}, {SolverBarnesHut, 20000}, {SolverBarnesHut, 50000}} {
		x := clusters(10, c.n/10, 64, 6, 7)
		b.Run(fmt.Sprintf("%s/N=%d", c.solver, c.n), func(b *testing.B) {
			for range b.N {
				m, err := TSNE(backend, x, TSNEConfig{Iterations: 20, Solver: c.solver})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Trustworthiness(backend, x, m, TrustNeighbours); err != nil {
					b.Fatal(err)
				}
			}
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				b.Fatal(err)
			}
			gb := float64(ru.Maxrss) / (1 << 20) // kilobytes on Linux
			b.ReportMetric(gb, "peak_GB")
			b.Logf("%s, %s: %s, %d points, peak resident memory %.2f GB", cpuinfo.Describe(), backend.Name(), c.solver, c.n, gb)
		})
	}
}
