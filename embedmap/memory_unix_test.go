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
// of 2,000, 4,000 and 8,000 points of 64 dimensions and their trustworthiness, in that order: the peak only grows, so each
// reading is that size's (or an earlier benchmark's, if larger: run it alone). Run:
// go test -run '^$' -bench TSNEMemory -benchtime 1x ./embedmap/
func BenchmarkTSNEMemory(b *testing.B) {
	backend := backendtest.Backend(b)
	for _, n := range []int{2000, 4000, 8000} {
		x := clusters(10, n/10, 64, 6, 7)
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for range b.N {
				m, err := TSNE(backend, x, TSNEConfig{Iterations: 20})
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
			b.Logf("%s, %s: %d points, peak resident memory %.2f GB", cpuinfo.Describe(), backend.Name(), n, gb)
		})
	}
}
