package embedmap

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/eval"
)

// trustworthinessOf is T(k) from its definition, in float64 and by full sorts: each row's
// neighbours ranked 1 … N−1 by distance, the map's k nearest of each point looked up in them.
func trustworthinessOf(x eval.Features, m Map, k int) float64 {
	n := x.N
	d := sqDist(x)
	sum := 0.0
	for i := range n {
		others := func(dist func(j int) float64) []int {
			var js []int
			for j := range n {
				if j != i {
					js = append(js, j)
				}
			}
			slices.SortStableFunc(js, func(a, b int) int { return cmpFloat(dist(a), dist(b)) })
			return js
		}
		rank := make([]int, n)
		for r, j := range others(func(j int) float64 { return d[i][j] }) {
			rank[j] = r + 1
		}
		onMap := others(func(j int) float64 { return math.Hypot(m.X[j]-m.X[i], m.Y[j]-m.Y[i]) })
		for _, j := range onMap[:k] {
			sum += float64(max(rank[j]-k, 0))
		}
	}
	return 1 - rankUnit(n, k)*sum
}

// rankUnit is what one rank more or less in T(k)'s sum changes it by. Distances within float32's
// rounding of each other may rank either way on the backend (the kernels differ between
// machines), so comparisons allow two.
func rankUnit(n, k int) float64 {
	nf, kf := float64(n), float64(k)
	return 2 / (nf * kf * (2*nf - 3*kf - 1))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestTrustworthiness: a map that keeps the rows' distances (the rows themselves, turned and
// scaled) scores 1; a map that shuffles the points scores about 0.5; both, and a map of shuffled
// halves, and PCA's map of 300 points in 20 dimensions (two blocks of rows) agree with the
// definition computed by full sorts in float64.
func TestTrustworthiness(t *testing.T) {
	b := backendtest.Backend(t)
	r := rand.New(rand.NewPCG(3, 4))
	plane := eval.Features{N: 200, D: 2, X: make([]float32, 400)}
	for i := range plane.X {
		plane.X[i] = float32(r.NormFloat64())
	}
	turned := Map{X: make([]float64, plane.N), Y: make([]float64, plane.N)}
	for i := range plane.N {
		u, v := float64(plane.X[2*i]), float64(plane.X[2*i+1])
		turned.X[i], turned.Y[i] = 3*(0.6*u-0.8*v)+5, 3*(0.8*u+0.6*v)
	}
	shuffled := Map{X: slices.Clone(turned.X), Y: slices.Clone(turned.Y)}
	r.Shuffle(plane.N, func(i, j int) {
		shuffled.X[i], shuffled.X[j] = shuffled.X[j], shuffled.X[i]
		shuffled.Y[i], shuffled.Y[j] = shuffled.Y[j], shuffled.Y[i]
	})
	half := Map{X: slices.Clone(turned.X), Y: slices.Clone(turned.Y)}
	for i := range plane.N / 2 {
		j := plane.N/2 + (i*37)%(plane.N/2)
		half.X[i], half.Y[i] = shuffled.X[j], shuffled.Y[j]
	}
	for _, c := range []struct {
		name   string
		m      Map
		k      int
		lo, hi float64
	}{
		{"the rows, turned and scaled", turned, 5, 1, 1},
		{"the rows, turned and scaled", turned, 30, 1, 1},
		{"shuffled", shuffled, 5, 0.4, 0.6},
		{"half of the points shuffled", half, 7, 0.55, 0.9},
	} {
		got, err := Trustworthiness(b, plane, c.m, c.k)
		if err != nil {
			t.Fatal(err)
		}
		want := trustworthinessOf(plane, c.m, c.k)
		t.Logf("%s, k = %d: %.6f (by definition %.6f)", c.name, c.k, got, want)
		if math.Abs(got-want) > 2*rankUnit(plane.N, c.k) || got < c.lo || got > c.hi {
			t.Errorf("%s, k = %d: trustworthiness %.9f, by definition %.9f; want it in [%g, %g]", c.name, c.k, got, want, c.lo, c.hi)
		}
	}

	// In 20 dimensions, PCA's map against the definition: 300 points, more than a block of rows
	// (trustBlock), the last block padded.
	x := clusters(4, 75, 20, 3, 5)
	if x.N <= trustBlock || x.N%trustBlock == 0 {
		t.Fatalf("%d points: want more than trustBlock (%d), not a multiple of it", x.N, trustBlock)
	}
	pca, err := PCA(x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Trustworthiness(b, x, pca, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := trustworthinessOf(x, pca, 5); math.Abs(got-want) > 2*rankUnit(x.N, 5) {
		t.Errorf("PCA map of 20 dimensions: trustworthiness %.9f, by definition %.9f", got, want)
	}

	for _, c := range []struct {
		m    Map
		k    int
		want string
	}{
		{turned, 100, "needs more than 200 points"},
		{turned, 0, "k ≥ 1"},
		{Map{X: turned.X[:10], Y: turned.Y[:10]}, 5, "a map of 10 points for 200 rows"},
	} {
		if _, err := Trustworthiness(b, plane, c.m, c.k); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("k = %d, %d points: %v; want an error saying %q", c.k, len(c.m.X), err, c.want)
		}
	}
}

// TestTrustworthinessMatchesScikitLearn compares with sklearn.manifold.trustworthiness (Debian's
// python3-sklearn) on the PCA and t-SNE maps of clusters in 20 dimensions. Skipped without
// /usr/bin/python3 and scikit-learn.
func TestTrustworthinessMatchesScikitLearn(t *testing.T) {
	py := scikitLearnPython(t)
	b := backendtest.Backend(t)
	x := clusters(5, 40, 20, 3, 9)
	pca, err := PCA(x)
	if err != nil {
		t.Fatal(err)
	}
	tsne, err := TSNE(b, x, TSNEConfig{Perplexity: 20})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "x.npy"), filepath.Join(dir, "pca.npy"), filepath.Join(dir, "tsne.npy")}
	if err := eval.WriteEmbeddings(files[0], eval.Features{N: x.N, D: x.D, X: x.X}); err != nil {
		t.Fatal(err)
	}
	for i, m := range []Map{pca, tsne} {
		y := eval.Features{N: x.N, D: 2, X: make([]float32, 2*x.N)}
		for j := range x.N {
			y.X[2*j], y.X[2*j+1] = float32(m.X[j]), float32(m.Y[j])
		}
		if err := eval.WriteEmbeddings(files[1+i], y); err != nil {
			t.Fatal(err)
		}
		m.X, m.Y = make([]float64, x.N), make([]float64, x.N) // the float32 coordinates scikit-learn reads
		for j := range x.N {
			m.X[j], m.Y[j] = float64(y.X[2*j]), float64(y.X[2*j+1])
		}
		if i == 0 {
			pca = m
		} else {
			tsne = m
		}
	}
	script := `
import json, sys, numpy as np
from sklearn.manifold import trustworthiness
x = np.load(sys.argv[1]).astype(np.float64)
json.dump([trustworthiness(x, np.load(f).astype(np.float64), n_neighbors=k) for f in sys.argv[2:] for k in (5, 12)], sys.stdout)
`
	out, err := exec.Command(py, append([]string{"-c", script}, files...)...).Output()
	if err != nil {
		t.Fatalf("scikit-learn: %v", err)
	}
	var ref []float64
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, m := range []struct {
		name string
		m    Map
	}{{"PCA", pca}, {"t-SNE", tsne}} {
		for _, k := range []int{5, 12} {
			got, err := Trustworthiness(b, x, m.m, k)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s map, k = %d: %.6f (scikit-learn %.6f)", m.name, k, got, ref[i])
			if math.Abs(got-ref[i]) > 2*rankUnit(x.N, k) {
				t.Errorf("%s map, k = %d: trustworthiness %.9f, scikit-learn's %.9f", m.name, k, got, ref[i])
			}
			i++
		}
	}
}
