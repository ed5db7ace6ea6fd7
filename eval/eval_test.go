package eval

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/core/tensors/numpy"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// twoGaussians draws n points per class from N(+-delta/2 * e1, I) in d dimensions.
func twoGaussians(rng *rand.Rand, n, d int, delta float64) Features {
	f := Features{N: 2 * n, D: d, X: make([]float32, 2*n*d), Labels: make([]int32, 2*n), NumClasses: 2}
	for i := 0; i < 2*n; i++ {
		c := i % 2
		f.Labels[i] = int32(c)
		for j := 0; j < d; j++ {
			v := rng.NormFloat64()
			if j == 0 {
				v += delta * (float64(c) - 0.5)
			}
			f.X[i*d+j] = float32(v)
		}
	}
	return f
}

// TestLinearProbeReachesBayesAccuracy: for two unit-variance Gaussians whose means are delta apart,
// the best possible classifier is linear and its accuracy is Phi(delta/2).
func TestLinearProbeReachesBayesAccuracy(t *testing.T) {
	b := backendtest.Backend(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const delta = 2.0
	train := twoGaussians(rng, 4000, 8, delta)
	test := twoGaussians(rng, 4000, 8, delta)
	res, err := LinearProbe(b, train, test, ProbeConfig{Epochs: 20, BatchSize: 256, LR: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	bayes := 0.5 * (1 + math.Erf(delta/2/math.Sqrt2)) // Phi(1) = 0.8413
	// 8000 test points: the standard error of an accuracy near 0.84 is 0.004.
	if math.Abs(res.TestAccuracy-bayes) > 0.015 {
		t.Errorf("test accuracy %.4f, Bayes accuracy %.4f", res.TestAccuracy, bayes)
	}
	t.Logf("linear probe: train %.4f test %.4f, Bayes %.4f", res.TrainAccuracy, res.TestAccuracy, bayes)
}

func TestLinearProbeOnRandomLabelsIsAtChance(t *testing.T) {
	b := backendtest.Backend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	train := twoGaussians(rng, 1000, 4, 0)
	test := twoGaussians(rng, 2000, 4, 0)
	res, err := LinearProbe(b, train, test, ProbeConfig{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.TestAccuracy-0.5) > 0.04 { // 4000 points: standard error 0.008
		t.Errorf("test accuracy %.4f on labels independent of the features, want 0.5", res.TestAccuracy)
	}
}

// referenceKNN is a direct float64 implementation of the weighted vote, written apart from KNN: its
// accuracy, and the class it predicts for each test row.
func referenceKNN(train, test Features, k int, temp float64) (float64, []int32) {
	var predicted []int32
	norm := func(x []float32) []float64 {
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = float64(v) / math.Sqrt(s+1e-12)
		}
		return out
	}
	correct := 0
	for i := 0; i < test.N; i++ {
		q := norm(test.Row(i))
		type pair struct {
			sim float64
			idx int
		}
		var all []pair
		for j := 0; j < train.N; j++ {
			r := norm(train.Row(j))
			var s float64
			for l := range q {
				s += q[l] * r[l]
			}
			all = append(all, pair{s, j})
		}
		// selection of the k largest by repeated scans
		votes := make([]float64, train.NumClasses)
		used := make([]bool, len(all))
		for range k {
			best := -1
			for j, p := range all {
				if !used[j] && (best < 0 || p.sim > all[best].sim) {
					best = j
				}
			}
			used[best] = true
			votes[train.Labels[all[best].idx]] += math.Exp(all[best].sim / temp)
		}
		pred := 0
		for c := range votes {
			if votes[c] > votes[pred] {
				pred = c
			}
		}
		if pred == int(test.Labels[i]) {
			correct++
		}
		predicted = append(predicted, int32(pred))
	}
	return float64(correct) / float64(test.N), predicted
}

func TestKNNMatchesReference(t *testing.T) {
	b := backendtest.Backend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	train := twoGaussians(rng, 150, 5, 1.5)
	test := twoGaussians(rng, 70, 5, 1.5)
	for _, cfg := range []KNNConfig{{K: 1, Temperature: 0.1}, {K: 7, Temperature: 0.07, BatchSize: 16}, {K: 20, Temperature: 0.5, BatchSize: 33}} {
		got, err := KNN(b, train, test, cfg)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := referenceKNN(train, test, cfg.K, cfg.Temperature)
		if got != want {
			t.Errorf("%+v: accuracy %v, reference %v", cfg, got, want)
		}
	}
}

// TestBalanced: the mean of the per-class recalls over the classes present, computed by hand; a
// class only predicted does not count, nor does an unknown label.
func TestBalanced(t *testing.T) {
	labels := []int32{0, 0, 0, 0, 1, 1, 2, -1}
	pred := []int32{0, 0, 0, 1, 0, 1, 2, 2}
	if got, want := Balanced(pred, labels, 4), (3.0/4+1.0/2+1.0)/3; math.Abs(got-want) > 1e-15 {
		t.Errorf("balanced accuracy %v, want %v", got, want)
	}
	if got := Balanced([]int32{3, 3}, []int32{0, 0}, 4); got != 0 {
		t.Errorf("every row wrong: %v, want 0", got)
	}
	if got := Balanced([]int32{0}, []int32{-1}, 2); got != -1 {
		t.Errorf("no labelled row: %v, want -1", got)
	}
}

// TestBalancedProbeAndKNN: on test classes of equal size the balanced accuracy of the probe and of
// kNN is their accuracy; on imbalanced ones (9 rows of class 0 to 1 of class 1, overlapping), kNN's
// is the reference vote's per-class recalls averaged, which differs from its accuracy (the control
// that the two are not the same number).
func TestBalancedProbeAndKNN(t *testing.T) {
	b := backendtest.Backend(t)
	rng := rand.New(rand.NewPCG(7, 8))
	train := twoGaussians(rng, 150, 5, 1)
	test := twoGaussians(rng, 100, 5, 1)
	pr, err := LinearProbe(b, train, test, ProbeConfig{Epochs: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := KNNScores(b, train, test, KNNConfig{K: 7, Temperature: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(pr.TestBalanced-pr.TestAccuracy) > 1e-12 || math.Abs(kr.Balanced-kr.Accuracy) > 1e-12 {
		t.Errorf("balanced classes: probe %v against %v, kNN %v against %v; want them equal", pr.TestBalanced, pr.TestAccuracy, kr.Balanced, kr.Accuracy)
	}
	var rows []int
	for i, l := range test.Labels {
		if l == 0 || i%9 == 1 { // every class-0 row, a ninth of the class-1 rows
			rows = append(rows, i)
		}
	}
	skewed := test.Rows(rows)
	kr, err = KNNScores(b, train, skewed, KNNConfig{K: 7, Temperature: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	acc, pred := referenceKNN(train, skewed, 7, 0.1)
	recall := [2]float64{}
	count := [2]float64{}
	for i, l := range skewed.Labels {
		count[l]++
		if pred[i] == l {
			recall[l]++
		}
	}
	want := (recall[0]/count[0] + recall[1]/count[1]) / 2
	if kr.Accuracy != acc || math.Abs(kr.Balanced-want) > 1e-12 || kr.Balanced == kr.Accuracy {
		t.Errorf("imbalanced: kNN accuracy %v (reference %v), balanced %v (reference %v); want both equal to the reference's and different from each other", kr.Accuracy, acc, kr.Balanced, want)
	}
	// The predictions are the reference's, and PerClass counts each class's rows and hits as above.
	if !slices.Equal(kr.Pred, pred) {
		t.Errorf("kNN predictions %v, want the reference's %v", kr.Pred, pred)
	}
	if rows, hits := PerClass(kr.Pred, skewed.Labels, 2); rows[0] != int(count[0]) || rows[1] != int(count[1]) || hits[0] != int(recall[0]) || hits[1] != int(recall[1]) {
		t.Errorf("per class: rows %v, hits %v; want %v and %v", rows, hits, count, recall)
	}
	ps, err := LinearProbe(b, train, skewed, ProbeConfig{Epochs: 5, Seed: 1})
	if err != nil || ps.TestBalanced == ps.TestAccuracy || ps.TestBalanced <= 0 {
		t.Errorf("imbalanced: probe accuracy %v, balanced %v (%v); want them to differ", ps.TestAccuracy, ps.TestBalanced, err)
	}
	if len(ps.TestPred) != skewed.N || hitRate(ps.TestPred, skewed.Labels) != ps.TestAccuracy || Balanced(ps.TestPred, skewed.Labels, 2) != ps.TestBalanced {
		t.Errorf("the probe's %d test predictions give accuracy %v and balanced %v; want %d rows giving %v and %v",
			len(ps.TestPred), hitRate(ps.TestPred, skewed.Labels), Balanced(ps.TestPred, skewed.Labels, 2), skewed.N, ps.TestAccuracy, ps.TestBalanced)
	}
}

// TestProbePredicts: the trained probe classifies the feature sets of ProbeConfig.Predict, labels
// or not: on a copy of the test features without labels it predicts the classes it predicted for
// them, each with a probability of at least 1/classes (the highest of a softmax); features of
// another dimension are refused.
func TestProbePredicts(t *testing.T) {
	b := backendtest.Backend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	train := twoGaussians(rng, 100, 5, 1)
	test := twoGaussians(rng, 60, 5, 1)
	unlabelled := test
	unlabelled.Labels, unlabelled.NumClasses = nil, 0
	pr, err := LinearProbe(b, train, test, ProbeConfig{Epochs: 3, Seed: 1, BatchSize: 16, Predict: []Features{unlabelled}, Probabilities: true})
	if err != nil {
		t.Fatal(err)
	}
	// Every class's probability: rows summing to 1, their largest the class predicted's.
	if probs := pr.Predictions[0].Probs; len(probs) != 2*test.N {
		t.Fatalf("%d class probabilities for %d rows of 2 classes", len(probs), test.N)
	} else {
		for i := range test.N {
			row, c := probs[2*i:2*i+2], pr.Predictions[0].Class[i]
			if math.Abs(float64(row[0]+row[1])-1) > 1e-6 || row[c] != pr.Predictions[0].Prob[i] || row[c] < row[1-c] {
				t.Errorf("row %d: probabilities %v, class %d of probability %v", i, row, c, pr.Predictions[0].Prob[i])
			}
		}
	}
	if len(pr.Predictions) != 1 || !slices.Equal(pr.Predictions[0].Class, pr.TestPred) || len(pr.Predictions[0].Prob) != test.N {
		t.Fatalf("predictions %+v; want the test predictions %v, with a probability each", pr.Predictions, pr.TestPred)
	}
	for i, p := range pr.Predictions[0].Prob {
		if !(p >= 0.5 && p <= 1) {
			t.Errorf("row %d: probability %v of the predicted class, want it in [0.5, 1] (2 classes)", i, p)
		}
	}
	other := Features{N: 1, D: 3, X: []float32{1, 2, 3}}
	if _, err := LinearProbe(b, train, test, ProbeConfig{Epochs: 1, Predict: []Features{other}}); err == nil || !strings.Contains(err.Error(), "the features to predict (set 0) 3") {
		t.Errorf("features of dimension 3 to predict: %v, want an error", err)
	}
}

func TestBadFeaturesAreRejected(t *testing.T) {
	b := backendtest.Backend(t)
	good := Features{N: 2, D: 2, X: []float32{1, 2, 3, 4}, Labels: []int32{0, 1}, NumClasses: 2}
	for _, tc := range []struct {
		name string
		f    Features
		want string
	}{
		{"short", Features{N: 2, D: 2, X: []float32{1, 2, 3}, Labels: []int32{0, 1}, NumClasses: 2}, "3 values for 2 rows"},
		{"label", Features{N: 2, D: 2, X: []float32{1, 2, 3, 4}, Labels: []int32{0, 5}, NumClasses: 2}, "label 5 of row 1"},
		{"nan", Features{N: 2, D: 2, X: []float32{1, float32(math.NaN()), 3, 4}, Labels: []int32{0, 1}, NumClasses: 2}, "non-finite value"},
		{"dims", Features{N: 2, D: 1, X: []float32{1, 2}, Labels: []int32{0, 1}, NumClasses: 2}, "dimension 2, test features 1"},
		{"below -1", Features{N: 2, D: 2, X: []float32{1, 2, 3, 4}, Labels: []int32{0, -2}, NumClasses: 2}, "label -2 of row 1"},
		{"unknown", Features{N: 3, D: 2, X: []float32{1, 2, 3, 4, 5, 6}, Labels: []int32{0, -1, -1}, NumClasses: 2},
			"needs labeled features: 2 of the 3 test rows have no label (-1), the first row 1"},
		{"unlabeled", Features{N: 2, D: 2, X: []float32{1, 2, 3, 4}}, "needs labeled features: the test features have no labels"},
	} {
		_, err := LinearProbe(b, good, tc.f, ProbeConfig{Epochs: 1})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error containing %q, got %v", tc.name, tc.want, err)
		}
		_, err = KNN(b, good, tc.f, KNNConfig{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s (kNN): want an error containing %q, got %v", tc.name, tc.want, err)
		}
	}
}

func TestWriteEmbeddingsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	f := Features{N: 3, D: 2, X: []float32{1.5, -2, 0.25, 3e-7, 7, 8}, Labels: []int32{2, 0, 1}, NumClasses: 3}

	npy := filepath.Join(dir, "emb.npy")
	if err := WriteEmbeddings(npy, f); err != nil {
		t.Fatal(err)
	}
	x, err := numpy.FromNpyFile(npy)
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[float32](x); !equal(got, f.X) || x.Shape().Dimensions[0] != 3 || x.Shape().Dimensions[1] != 2 {
		t.Errorf("npy round trip: %v %v", x.Shape(), got)
	}
	l, err := numpy.FromNpyFile(filepath.Join(dir, "emb.labels.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[int32](l); got[0] != 2 || got[1] != 0 || got[2] != 1 {
		t.Errorf("labels round trip: %v", got)
	}

	csvPath := filepath.Join(dir, "emb.csv")
	if err := WriteEmbeddings(csvPath, f); err != nil {
		t.Fatal(err)
	}
	file, _ := os.Open(csvPath)
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Scan()
	if sc.Text() != "label,z0,z1" {
		t.Errorf("csv header %q", sc.Text())
	}
	for i := 0; sc.Scan(); i++ {
		fields := strings.Split(sc.Text(), ",")
		for j := 0; j < 2; j++ {
			v, err := strconv.ParseFloat(fields[j+1], 32)
			if err != nil || float32(v) != f.X[i*2+j] {
				t.Errorf("csv row %d col %d: %q, want %v", i, j, fields[j+1], f.X[i*2+j])
			}
		}
	}
	if err := WriteEmbeddings(filepath.Join(dir, "emb.txt"), f); err == nil || !strings.Contains(err.Error(), "use .npy or .csv") {
		t.Errorf("unknown extension: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "emb.npy.tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind")
	}
}

// TestWriteEmbeddingsUnknownLabels: rows of unknown label (-1: STL-10's train+unlabeled) export,
// -1 in the labels file and the CSV's label column, as the data set marks them.
func TestWriteEmbeddingsUnknownLabels(t *testing.T) {
	dir := t.TempDir()
	f := Features{N: 3, D: 1, X: []float32{0.5, -1, 2}, Labels: []int32{4, -1, -1}, NumClasses: 10}
	if err := WriteEmbeddings(filepath.Join(dir, "emb.npy"), f); err != nil {
		t.Fatal(err)
	}
	l, err := numpy.FromNpyFile(filepath.Join(dir, "emb.labels.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[int32](l); fmt.Sprint(got) != "[4 -1 -1]" {
		t.Errorf("labels: %v, want [4 -1 -1]", got)
	}
	if err := WriteEmbeddings(filepath.Join(dir, "emb.csv"), f); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "emb.csv"))
	if want := "label,z0\n4,0.5\n-1,-1\n-1,2\n"; string(data) != want {
		t.Errorf("csv %q, want %q", data, want)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWriteEmbeddingsWithRowsLeftOut: with Index set (images left out), each row's image index
// goes to <name>.index.npy and to the CSV's first column; Rows carries it; without it neither is
// written.
func TestWriteEmbeddingsWithRowsLeftOut(t *testing.T) {
	dir := t.TempDir()
	f := Features{N: 2, D: 1, X: []float32{0.5, -1}, Labels: []int32{1, 0}, NumClasses: 2, Index: []int32{0, 2}}
	if err := WriteEmbeddings(filepath.Join(dir, "emb.npy"), f); err != nil {
		t.Fatal(err)
	}
	idx, err := numpy.FromNpyFile(filepath.Join(dir, "emb.index.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[int32](idx); fmt.Sprint(got) != "[0 2]" {
		t.Errorf("emb.index.npy holds %v, want [0 2]", got)
	}
	if err := WriteEmbeddings(filepath.Join(dir, "emb.csv"), f); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "emb.csv")); string(data) != "index,label,z0\n0,1,0.5\n2,0,-1\n" {
		t.Errorf("emb.csv:\n%s", data)
	}
	if r := f.Rows([]int{1}); fmt.Sprint(r.Index, r.Labels, r.X) != "[2] [0] [-1]" {
		t.Errorf("Rows([1]): index %v, labels %v, values %v", r.Index, r.Labels, r.X)
	}
	// Rows of features without an index (row i is image i) keep their images' indices, and so
	// their names.
	whole := Features{N: 3, D: 1, X: []float32{1, 2, 3}}
	if col, names := whole.Rows([]int{2, 0}).Names(""); col != "index" || fmt.Sprint(names) != "[2 0]" {
		t.Errorf("Rows([2 0]) of features without an index are named %s %v, want index [2 0]", col, names)
	}
	if err := (Features{N: 2, D: 1, X: []float32{1, 2}, Index: []int32{0}}).Validate("x"); err == nil || !strings.Contains(err.Error(), "1 indices for 2 rows") {
		t.Errorf("Validate with an index per row missing: %v", err)
	}
	// Written again without rows left out (the bad image replaced): the index file of the
	// earlier export goes, as it would describe other rows.
	f.Index = nil
	if err := WriteEmbeddings(filepath.Join(dir, "emb.npy"), f); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "emb.index.npy")); !os.IsNotExist(err) {
		t.Errorf("emb.index.npy of the earlier export is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "emb.labels.npy")); err != nil {
		t.Errorf("emb.labels.npy: %v", err)
	}
}

// TestNearestNeighbours: the most similar keys by cosine similarity first (ties by row), every
// key when k exceeds them, and errors that speak of keys and queries.
func TestNearestNeighbours(t *testing.T) {
	b := backendtest.Backend(t)
	// Keys at angles 0°, 90°, 45° and 180° (lengths differ: cosine ignores them); queries at 10°
	// and at 100°.
	keys := Features{N: 4, D: 2, X: []float32{2, 0, 0, 1, 3, 3, -1, 0}}
	queries := Features{N: 2, D: 2, X: []float32{float32(math.Cos(0.1745)), float32(math.Sin(0.1745)), float32(math.Cos(1.745)), float32(math.Sin(1.745))}}
	got, err := NearestNeighbours(b, keys, queries, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	order := func(nbs []Neighbour) []int {
		var rows []int
		for _, nb := range nbs {
			rows = append(rows, nb.Index)
		}
		return rows
	}
	if fmt.Sprint(order(got[0]), order(got[1])) != "[0 2] [1 2]" {
		t.Errorf("neighbours %v and %v, want [0 2] and [1 2]", order(got[0]), order(got[1]))
	}
	if s := got[0][0].Similarity; math.Abs(float64(s)-math.Cos(0.1745)) > 1e-6 {
		t.Errorf("similarity of the query at 10° to the key at 0°: %v, want cos 10° = %v", s, math.Cos(0.1745))
	}
	if all, err := NearestNeighbours(b, keys, queries, 10, 1); err != nil || fmt.Sprint(order(all[0])) != "[0 2 1 3]" {
		t.Errorf("k = 10 > 4 keys: %v (%v), want all four, [0 2 1 3]", order(all[0]), err)
	}
	wide := Features{N: 1, D: 3, X: []float32{1, 2, 3}}
	if r, err := NearestNeighbours(b, keys, wide, 1, 0); r != nil || err == nil || err.Error() != "key features have dimension 2, query features 3" {
		t.Errorf("queries of another dimension: %v, %v", r, err)
	}
}

// TestNearestByDistance: the nearest keys by Euclidean distance first (ties by row), each with
// its squared distance negated; key 3 lies along query 0's direction (cosine similarity 1) and
// far.
func TestNearestByDistance(t *testing.T) {
	b := backendtest.Backend(t)
	keys := Features{N: 4, D: 2, X: []float32{2, 0, 0, 1, 3, 3, 10, 0}}
	queries := Features{N: 2, D: 2, X: []float32{1, 0, 0, 0}}
	got, err := NearestByDistance(b, keys, queries, 3, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Query (1, 0): key 0 at d² 1, key 1 at 2, key 2 at 13 (key 3, along the same direction as key
	// 0, at 81). Query (0, 0): key 1 at 1, key 0 at 4, key 2 at 18.
	if s := fmt.Sprint(got); s != "[[{0 -1} {1 -2} {2 -13}] [{1 -1} {0 -4} {2 -18}]]" {
		t.Errorf("neighbours %s, want [[{0 -1} {1 -2} {2 -13}] [{1 -1} {0 -4} {2 -18}]]", s)
	}
}

// TestTopK: hand-ranked rows of 3 classes. Row 0: label 2 scores highest (top-1 hit). Row 1: label
// 0 ties class 1 for first and counts first (the lower index). Row 2: label 1 ties class 0 for
// first and counts second: a top-1 miss, a top-2 hit. Row 3 is unlabelled (-1) and not counted.
// A NaN score is an error (it compares false with everything, so the label would rank first);
// a label out of range is an error; no labelled row gives -1.
func TestTopK(t *testing.T) {
	scores := []float32{
		0.1, 0.2, 0.9,
		0.5, 0.5, 0.1,
		0.5, 0.5, 0.1,
		9, 9, 9,
	}
	labels := []int32{2, 0, 1, -1}
	for k, want := range map[int]float64{1: 2.0 / 3, 2: 1, 3: 1} {
		if got, err := TopK(scores, labels, 3, k); err != nil || got != want {
			t.Errorf("top-%d: %v, %v; want %v", k, got, err, want)
		}
	}
	if got, err := TopK(scores[:3], []int32{-1}, 3, 1); err != nil || got != -1 {
		t.Errorf("no labelled row: %v, %v; want -1", got, err)
	}
	nan := []float32{0.1, float32(math.NaN()), 0.3}
	if _, err := TopK(nan, []int32{0}, 3, 1); err == nil || !strings.Contains(err.Error(), "row 0 has a NaN score (class 1)") {
		t.Errorf("a NaN score: %v, want an error naming row 0 and class 1", err)
	}
	if _, err := TopK(nan, []int32{-1}, 3, 1); err != nil {
		t.Errorf("a NaN score of an unlabelled row: %v, want no error (the row is not scored)", err)
	}
	if _, err := TopK(scores[:3], []int32{3}, 3, 1); err == nil || !strings.Contains(err.Error(), "label 3 of row 0 out of range [0, 3)") {
		t.Errorf("label out of range: %v", err)
	}
	// Top-1 predictions 2, 0 (the tie of classes 0 and 1 goes to 0), 0, and 0 (unlabelled): class
	// 2's one row right, class 0's right, class 1's wrong.
	if got, err := BalancedScores(scores, labels, 3); err != nil || got != (1.0+1+0)/3 {
		t.Errorf("balanced accuracy of the scores: %v, %v; want 2/3", got, err)
	}
	imbalanced := []float32{0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.4, 0.6}
	if got, err := BalancedScores(imbalanced, []int32{0, 0, 0, 1}, 2); err != nil || got != 1 {
		t.Errorf("balanced accuracy, every row right: %v, %v; want 1", got, err)
	}
	if got, err := BalancedScores(imbalanced, []int32{0, 0, 1, 1}, 2); err != nil || got != (1.0+0.5)/2 {
		t.Errorf("balanced accuracy, class 1 half right: %v, %v; want 0.75 (the accuracy too is 0.75; per class, 1 and 0.5)", got, err)
	}
	if got, err := BalancedScores(imbalanced, []int32{1, 0, 0, 0}, 2); err != nil || got != (2.0/3+0)/2 {
		t.Errorf("balanced accuracy, class 1's one row wrong: %v, %v; want 1/3 (the accuracy is 1/2)", got, err)
	}
	if _, err := BalancedScores(nan, []int32{0}, 3); err == nil || !strings.Contains(err.Error(), "NaN score") {
		t.Errorf("balanced accuracy of a NaN score: %v, want TopK's error", err)
	}
	if acc, err := Accuracy(Features{N: 1, D: 1, X: []float32{1}, Labels: []int32{0}, NumClasses: 2},
		func(_ []float32, logits []float64) { logits[0], logits[1] = math.NaN(), 0 }, 2); err == nil {
		t.Errorf("Accuracy with a NaN score: %v, nil; want an error", acc)
	}
}

// TestWriteEmbeddingsFiles: each row's file goes to NAME.files.txt, one per line, for .npy and
// .csv alike; Rows keeps each row's file; an export without files removes an earlier list (it
// would describe other rows); a name with a line break is refused.
func TestWriteEmbeddingsFiles(t *testing.T) {
	dir := t.TempDir()
	f := Features{N: 3, D: 1, X: []float32{1, 2, 3}, Files: []string{"/p/a b.jpg", "/p/c,d.png", "/p/e.jpg"}}
	for _, name := range []string{"emb.npy", "emb.csv"} {
		if err := WriteEmbeddings(filepath.Join(dir, name), f.Rows([]int{2, 0})); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "emb.files.txt")); err != nil || string(got) != "/p/e.jpg\n/p/a b.jpg\n" {
			t.Errorf("%s: files %q, %v; want the rows' files, one per line", name, got, err)
		}
		os.Remove(filepath.Join(dir, "emb.files.txt"))
	}
	if err := WriteEmbeddings(filepath.Join(dir, "emb.npy"), f); err != nil {
		t.Fatal(err)
	}
	f.Files = nil
	if err := WriteEmbeddings(filepath.Join(dir, "emb.npy"), f); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "emb.files.txt")); !os.IsNotExist(err) {
		t.Errorf("an export without files left the earlier emb.files.txt: %v", err)
	}
	f.Files = []string{"a", "b\nc", "d"}
	if err := WriteEmbeddings(filepath.Join(dir, "emb.npy"), f); err == nil || !strings.Contains(err.Error(), "has a line break") {
		t.Errorf("a file name with a line break: %v", err)
	}
	f.Files = []string{"a"}
	if err := WriteEmbeddings(filepath.Join(dir, "emb.npy"), f); err == nil || !strings.Contains(err.Error(), "1 file names for 3 rows") {
		t.Errorf("too few file names: %v", err)
	}
}

// TestMajority: the majority baseline predicts the training split's most frequent class (ties:
// the lowest number; unknown labels, -1, not counted) and scores its share of the labelled test
// rows, counted here by hand.
func TestMajority(t *testing.T) {
	labels := func(l ...int32) Features { return Features{Labels: l} }
	for _, tc := range []struct {
		name        string
		train, test Features
		class       int
		acc         float64
	}{
		{"imbalanced", labels(2, 2, 2, 0, 1, -1, -1, -1, -1), labels(2, 0, 2, 1, 2, -1), 2, 3.0 / 5},
		{"tie: the lower class", labels(1, 0, 1, 0), labels(0, 1, 1, 1), 0, 1.0 / 4},
		{"absent from the test split", labels(3, 3, 1), labels(1, 1), 3, 0},
		{"no training labels", labels(-1), labels(0), -1, -1},
		{"unlabelled test split", labels(0), Features{}, -1, -1},
	} {
		if class, acc := Majority(tc.train, tc.test); class != tc.class || acc != tc.acc {
			t.Errorf("%s: class %d, accuracy %g; want %d and %g", tc.name, class, acc, tc.class, tc.acc)
		}
	}
}

// TestBatchRows: the batch of query rows shrinks where its scores against all the keys would pass
// maxScores (ImageNet's training set), and never below one row.
func TestBatchRows(t *testing.T) {
	for _, c := range []struct{ batch, keys, want int }{
		{256, 50000, 256}, {256, 1281167, 26}, {256, 1 << 25, 1}, {256, 1 << 30, 1}, {4, 0, 4},
	} {
		if got := batchRows(c.batch, c.keys); got != c.want {
			t.Errorf("batchRows(%d, %d) = %d, want %d", c.batch, c.keys, got, c.want)
		}
	}
}
