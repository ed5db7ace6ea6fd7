package eval

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// TestClassWeights: N/(C·n_c) over the classes present, 0 for a class without rows; a row of
// unknown label (-1) is not counted; the same from the counts (ClassWeightsOf).
func TestClassWeights(t *testing.T) {
	got := ClassWeights([]int32{0, 0, -1, 0, 1, 0, 0}, 3)
	want := []float32{6.0 / (2 * 5), 6.0 / (2 * 1), 0}
	if !slices.Equal(got, want) {
		t.Errorf("class weights %v, want %v", got, want)
	}
	if of := ClassWeightsOf([]int{5, 1, 0}); !slices.Equal(of, want) {
		t.Errorf("class weights of the counts 5, 1, 0: %v, want %v", of, want)
	}
}

// TestProbeLoss: the weighted loss is Σ w_i·CE_i / Σ w_i, PyTorch's CrossEntropyLoss(weight=...)
// with mean reduction, written out here in float64; without weights, the mean cross-entropy. The
// negative control: GoMLX's own weighting, Σ w_i·CE_i / batch, differs for these weights, whose
// mean is not 1, so the test tells the two apart.
func TestProbeLoss(t *testing.T) {
	b := backendtest.Backend(t)
	logits := []float32{2, 0, -1, 0.5, 0.5, 3, -2, 1, 0, 1, 1, 1}
	labels := []int32{0, 2, 1, 2}
	weights := []float32{0.5, 3, 1, 3}
	ce := make([]float64, len(labels))
	for i, l := range labels {
		row := logits[3*i : 3*i+3]
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(float64(v))
		}
		ce[i] = math.Log(sum) - float64(row[l])
	}
	var num, den, mean, gomlx float64
	for i, w := range weights {
		num, den, mean = num+float64(w)*ce[i], den+float64(w), mean+ce[i]/4
		gomlx += float64(w) * ce[i] / 4
	}
	run := func(withWeights bool) float64 {
		t.Helper()
		exec, err := graph.NewExec(b, func(x, y, w *graph.Node) *graph.Node {
			if !withWeights {
				w = nil
			}
			return probeLoss(x, y, w)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(logits, 4, 3), labels, weights)
		if err != nil {
			t.Fatal(err)
		}
		return float64(tensors.ToScalar[float32](out[0]))
	}
	if got, want := run(true), num/den; math.Abs(got-want) > 1e-6 || math.Abs(gomlx-want) < 1e-3 {
		t.Errorf("weighted loss %v, want %v (and unlike the unnormalised %v)", got, want, gomlx)
	}
	if got := run(false); math.Abs(got-mean) > 1e-6 {
		t.Errorf("loss %v, want the mean cross-entropy %v", got, mean)
	}
}

// gaussianClasses draws counts[c] rows of each class c from a unit Gaussian in d dimensions (d >= 2)
// whose mean is mean(c) on the first two axes (0 on the others), the classes' rows in turn.
func gaussianClasses(rng *rand.Rand, counts []int, d int, mean func(c int) (x, y float64)) Features {
	f := Features{D: d, NumClasses: len(counts)}
	for c, n := range counts {
		mx, my := mean(c)
		for range n {
			f.Labels = append(f.Labels, int32(c))
			for j := range d {
				v := rng.NormFloat64()
				switch j {
				case 0:
					v += mx
				case 1:
					v += my
				}
				f.X = append(f.X, float32(v))
			}
			f.N++
		}
	}
	return f
}

// imbalanced draws n0 rows of class 0 and n1 of class 1 from N(∓e1, I) in d dimensions.
func imbalanced(rng *rand.Rand, n0, n1, d int) Features {
	return gaussianClasses(rng, []int{n0, n1}, d, func(c int) (float64, float64) { return 2*float64(c) - 1, 0 })
}

// TestClassBalancedProbe: trained on 9 images of class 0 for each of class 1 (unit Gaussians whose
// means are 2 apart), the plain probe learns the Bayes classifier of that prior, which calls class
// 1 only beyond ln(9)/2 from the midpoint: class 1's recall 1-Φ(ln(9)/2-1) = 0.46, balanced
// accuracy 0.72. Weighted by class (Balanced), it learns the classifier of equal priors: both
// recalls and the balanced accuracy Φ(1) = 0.84. Each probe is checked against its own figure and
// is outside the other's, so either being trained the other's way fails the test.
func TestClassBalancedProbe(t *testing.T) {
	b := backendtest.Backend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	train, test := imbalanced(rng, 9000, 1000, 4), imbalanced(rng, 4000, 4000, 4)
	phi := func(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
	cut := math.Log(9) / 2
	plain := [2]float64{1 - phi(cut-1), (phi(cut+1) + 1 - phi(cut-1)) / 2} // class 1's recall, balanced accuracy
	balanced := [2]float64{phi(1), phi(1)}
	for _, tc := range []struct {
		balanced   bool
		want, not  [2]float64
		wantWeight string
	}{{false, plain, balanced, "plain"}, {true, balanced, plain, "balanced"}} {
		res, err := LinearProbe(b, train, test, ProbeConfig{Epochs: 20, BatchSize: 256, Seed: 1, Balanced: tc.balanced})
		if err != nil {
			t.Fatal(err)
		}
		rows, hits := PerClass(res.TestPred, test.Labels, 2)
		got := [2]float64{float64(hits[1]) / float64(rows[1]), res.TestBalanced}
		// 4000 test images a class: a recall's standard error is under 0.008; the threshold
		// learnt from 10000 images moves it by a little more.
		for k, name := range []string{"class 1's recall", "balanced accuracy"} {
			if math.Abs(got[k]-tc.want[k]) > 0.035 || math.Abs(got[k]-tc.not[k]) < 0.05 {
				t.Errorf("%s probe: %s %.4f, want %.4f (theory), not %.4f", tc.wantWeight, name, got[k], tc.want[k], tc.not[k])
			}
		}
		t.Logf("%s probe: class 1's recall %.4f, balanced accuracy %.4f (theory %.4f, %.4f)", tc.wantWeight, got[0], got[1], tc.want[0], tc.want[1])
	}
}

// blobs draws n rows of each of classes unit Gaussians in d dimensions whose means lie on a circle
// of radius 2.4 in the first two axes, close enough to overlap (top-1 well below top-5).
func blobs(rng *rand.Rand, n, classes, d int) Features {
	counts := make([]int, classes)
	for c := range counts {
		counts[c] = n
	}
	return gaussianClasses(rng, counts, d, func(c int) (float64, float64) {
		a := 2 * math.Pi * float64(c) / float64(classes)
		return 2.4 * math.Cos(a), 2.4 * math.Sin(a)
	})
}

// TestTop5: the probe's and kNN's top-5 accuracies count the test rows whose label is among the 5
// classes they score highest, counted here independently: for the probe from its class
// probabilities (a stable sort), for kNN from the neighbours' votes exp(sim/T) (NearestNeighbours);
// each is at least the top-1; with 5 classes or fewer, none (-1).
func TestTop5(t *testing.T) {
	b := backendtest.Backend(t)
	rng := rand.New(rand.NewPCG(7, 8))
	train, test := blobs(rng, 60, 10, 4), blobs(rng, 30, 10, 4)
	in5 := func(scores []float64, l int32) bool {
		order := make([]int, len(scores))
		for c := range order {
			order[c] = c
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
		return slices.Index(order, int(l)) < 5
	}
	pr, err := LinearProbe(b, train, test, ProbeConfig{Epochs: 10, Seed: 1, Predict: []Features{test}, Probabilities: true})
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	for i := range test.N {
		row := make([]float64, 10)
		for c := range row {
			row[c] = float64(pr.Predictions[0].Probs[10*i+c])
		}
		if in5(row, test.Labels[i]) {
			hits++
		}
	}
	if want := float64(hits) / float64(test.N); pr.TestTop5 != want || pr.TestTop5 < pr.TestAccuracy || pr.TestTop5 == 1 {
		t.Errorf("probe top-5 %v, want %v (and above top-1 %v, below 1)", pr.TestTop5, want, pr.TestAccuracy)
	}
	const k, temp = 20, 0.07
	kr, err := KNNScores(b, train, test, KNNConfig{K: k, Temperature: temp})
	if err != nil {
		t.Fatal(err)
	}
	nbs, err := NearestNeighbours(b, train, test, k, 0)
	if err != nil {
		t.Fatal(err)
	}
	hits = 0
	for i, row := range nbs {
		votes := make([]float64, 10)
		for _, nb := range row {
			votes[train.Labels[nb.Index]] += math.Exp(float64(nb.Similarity) / temp)
		}
		if in5(votes, test.Labels[i]) {
			hits++
		}
	}
	if want := float64(hits) / float64(test.N); kr.Top5 != want || kr.Top5 < kr.Accuracy || kr.Top5 == 1 {
		t.Errorf("kNN top-5 %v, want %v (and above top-1 %v, below 1)", kr.Top5, want, kr.Accuracy)
	}
	t.Logf("probe top-1 %.3f top-5 %.3f; kNN top-1 %.3f top-5 %.3f", pr.TestAccuracy, pr.TestTop5, kr.Accuracy, kr.Top5)
	few, fewTest := blobs(rng, 20, 5, 4), blobs(rng, 10, 5, 4)
	pr, err = LinearProbe(b, few, fewTest, ProbeConfig{Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	kr, err = KNNScores(b, few, fewTest, KNNConfig{})
	if err != nil || pr.TestTop5 != -1 || kr.Top5 != -1 {
		t.Errorf("5 classes: probe top-5 %v, kNN top-5 %v (%v); want -1, -1", pr.TestTop5, kr.Top5, err)
	}
}
