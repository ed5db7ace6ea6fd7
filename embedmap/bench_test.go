package embedmap

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
)

// BenchmarkTSNE times a whole t-SNE map (1000 iterations, perplexity 30) of N points of 512
// dimensions (ten clusters), by each solver, and beside it, once for each N, scikit-learn's
// t-SNE by the same solvers on the same points where /usr/bin/python3 has scikit-learn. Run:
// go test -run '^$' -bench TSNE -benchtime 1x ./embedmap/
func BenchmarkTSNE(b *testing.B) {
	backend := backendtest.Backend(b)
	compared := map[int]bool{} // scikit-learn runs once for each N, not again for each b.N
	for _, c := range []struct {
		solver string
		n      int
	}{{SolverExact, 1000}, {SolverBarnesHut, 1000}, {SolverExact, 2000}, {SolverBarnesHut, 2000}, {SolverExact, 5000}, {SolverBarnesHut, 5000}, {SolverBarnesHut, 20000}} {
		x := clusters(10, c.n/10, 512, 6, 7)
		b.Run(fmt.Sprintf("%s/N=%d", c.solver, c.n), func(b *testing.B) {
			var m Map
			for range b.N {
				var err error
				if m, err = TSNE(backend, x, TSNEConfig{Solver: c.solver}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/map")
			b.StopTimer()
			trust, err := Trustworthiness(backend, x, m, TrustNeighbours)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s, %s: %s, %d points, KL %.4f, trustworthiness %.4f, %.2f s a map", cpuinfo.Describe(), backend.Name(), c.solver, c.n, m.KL, trust, b.Elapsed().Seconds()/float64(b.N))
			if !compared[c.n] {
				methods := []string{"exact", "barnes_hut"}
				if c.n > 2000 {
					methods = methods[1:] // its exact map of 5,000 takes about 8 minutes
				}
				scikitLearn(b, x, methods)
				compared[c.n] = true
			}
		})
	}
}

// scikitLearn logs the time, divergence and trustworthiness of scikit-learn's t-SNE of x by each
// of methods ("exact", "barnes_hut"), when /usr/bin/python3 has it.
func scikitLearn(b *testing.B, x eval.Features, methods []string) {
	py := sklearnPython
	if !hasScikitLearn() {
		b.Logf("no scikit-learn for %s to compare with", py)
		return
	}
	path := filepath.Join(b.TempDir(), "x.npy")
	if err := eval.WriteEmbeddings(path, x); err != nil {
		b.Fatal(err)
	}
	script := `
import sys, time, numpy as np, sklearn
from sklearn.manifold import TSNE, trustworthiness
x = np.load(sys.argv[1])
for method in sys.argv[2:]:
    t = time.perf_counter()
    m = TSNE(2, perplexity=30, init="pca", method=method, learning_rate="auto", random_state=0)
    y = m.fit_transform(x)
    secs = time.perf_counter() - t
    print(method, secs, m.kl_divergence_, trustworthiness(x, y, n_neighbors=5), sklearn.__version__)
`
	start := time.Now()
	out, err := exec.Command(py, append([]string{"-c", script, path}, methods...)...).Output()
	if err != nil {
		b.Fatalf("scikit-learn: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		secs, _ := strconv.ParseFloat(f[1], 64)
		kl, _ := strconv.ParseFloat(f[2], 64)
		trust, _ := strconv.ParseFloat(f[3], 64)
		b.Logf("scikit-learn %s, method=%s: %.2f s a map, KL %.4f, trustworthiness %.4f", f[4], f[0], secs, kl, trust)
	}
	b.Logf("(scikit-learn's run took %s in all)", time.Since(start).Round(time.Second))
}

// BenchmarkTrustworthiness times the trustworthiness (5 neighbours) of a map of N points of 512
// dimensions (ten clusters; the map their first two principal components), and beside it, once,
// scikit-learn's (sklearn.manifold.trustworthiness) of the same map where /usr/bin/python3 has
// scikit-learn. Run: go test -run '^$' -bench Trustworthiness -benchtime 1x ./embedmap/
func BenchmarkTrustworthiness(b *testing.B) {
	backend := backendtest.Backend(b)
	for _, n := range []int{2000, 8000} {
		x := clusters(10, n/10, 512, 6, 7)
		m, err := PCA(x)
		if err != nil {
			b.Fatal(err)
		}
		compared := false
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var trust float64
			for range b.N {
				if trust, err = Trustworthiness(backend, x, m, TrustNeighbours); err != nil {
					b.Fatal(err)
				}
			}
			secs := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(secs, "s/op")
			b.Logf("%s, %s: %d points, trustworthiness %.4f, %.2f s", cpuinfo.Describe(), backend.Name(), n, trust, secs)
			b.StopTimer()
			if !compared {
				scikitLearnTrust(b, x, m)
				compared = true
			}
		})
	}
}

// scikitLearnTrust logs the time and value of scikit-learn's trustworthiness of the map m of x,
// when /usr/bin/python3 has it.
func scikitLearnTrust(b *testing.B, x eval.Features, m Map) {
	py := sklearnPython
	if !hasScikitLearn() {
		b.Logf("no scikit-learn for %s to compare with", py)
		return
	}
	dir := b.TempDir()
	y := eval.Features{N: x.N, D: 2, X: make([]float32, 2*x.N)}
	for i := range x.N {
		y.X[2*i], y.X[2*i+1] = float32(m.X[i]), float32(m.Y[i])
	}
	for name, f := range map[string]eval.Features{"x.npy": x, "y.npy": y} {
		if err := eval.WriteEmbeddings(filepath.Join(dir, name), f); err != nil {
			b.Fatal(err)
		}
	}
	script := `
import sys, time, numpy as np, sklearn
from sklearn.manifold import trustworthiness
x, y = np.load(sys.argv[1]), np.load(sys.argv[2])
t = time.perf_counter()
v = trustworthiness(x, y, n_neighbors=5)
print(time.perf_counter() - t, v, sklearn.__version__)
`
	out, err := exec.Command(py, "-c", script, filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")).Output()
	if err != nil {
		b.Fatalf("scikit-learn: %v", err)
	}
	f := strings.Fields(string(out))
	secs, _ := strconv.ParseFloat(f[0], 64)
	v, _ := strconv.ParseFloat(f[1], 64)
	b.Logf("scikit-learn %s: trustworthiness %.4f, %.2f s", f[2], v, secs)
}
