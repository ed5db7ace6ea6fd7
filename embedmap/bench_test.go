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
// dimensions (ten clusters), and beside it, once, scikit-learn's exact and Barnes-Hut t-SNE on
// the same points where /usr/bin/python3 has scikit-learn. Run:
// go test -run '^$' -bench TSNE -benchtime 1x ./embedmap/
func BenchmarkTSNE(b *testing.B) {
	backend := backendtest.Backend(b)
	for _, n := range []int{1000, 2000} {
		x := clusters(10, n/10, 512, 6, 7)
		compared := false // scikit-learn runs once, not again for each b.N
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var kl float64
			for range b.N {
				m, err := TSNE(backend, x, TSNEConfig{})
				if err != nil {
					b.Fatal(err)
				}
				kl = m.KL
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/map")
			b.Logf("%s, %s: %d points, KL %.4f, %.2f s a map", cpuinfo.Describe(), backend.Name(), n, kl, b.Elapsed().Seconds()/float64(b.N))
			b.StopTimer()
			if !compared {
				scikitLearn(b, x)
				compared = true
			}
		})
	}
}

// scikitLearn logs the time and divergence of scikit-learn's t-SNE of x, exact and Barnes-Hut,
// when /usr/bin/python3 has it.
func scikitLearn(b *testing.B, x eval.Features) {
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
from sklearn.manifold import TSNE
x = np.load(sys.argv[1])
for method in ("exact", "barnes_hut"):
    t = time.perf_counter()
    m = TSNE(2, perplexity=30, init="pca", method=method, learning_rate="auto", random_state=0).fit(x)
    print(method, time.perf_counter() - t, m.kl_divergence_, sklearn.__version__)
`
	start := time.Now()
	out, err := exec.Command(py, "-c", script, path).Output()
	if err != nil {
		b.Fatalf("scikit-learn: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		secs, _ := strconv.ParseFloat(f[1], 64)
		kl, _ := strconv.ParseFloat(f[2], 64)
		b.Logf("scikit-learn %s, method=%s: %.2f s a map, KL %.4f", f[3], f[0], secs, kl)
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
