package datasets

import (
	"math"
	"testing"
)

func TestSynthetic(t *testing.T) {
	cfg := SyntheticConfig{N: 3000, Components: 3, Height: 2, Width: 2, Channels: 2, Sigma: 10, Seed: 7}
	train, err := Synthetic(cfg, SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	if err := train.Validate(); err != nil {
		t.Fatal(err)
	}
	test, _ := Synthetic(cfg, SplitTest)
	g := train.Mixture
	if g.Dim != 8 || len(g.Means) != 3 || test.Mixture.Means[2][5] != g.Means[2][5] {
		t.Fatalf("mixture %+v; splits must share the means", g)
	}
	// Per-component sample means and variances match the parameters (rounding adds 1/12).
	for k := range 3 {
		var n float64
		sum := make([]float64, g.Dim)
		var sq float64
		for i := range train.N {
			if int(train.Labels[i]) != k {
				continue
			}
			n++
			for j, v := range train.Image(i) {
				d := float64(v) - g.Means[k][j]
				sum[j] += d
				sq += d * d
			}
		}
		if n < 800 {
			t.Fatalf("component %d has %.0f samples of 3000, want about 1000", k, n)
		}
		for j := range sum {
			if m := sum[j] / n; math.Abs(m) > 5*cfg.Sigma/math.Sqrt(n) {
				t.Errorf("component %d pixel %d: mean offset %.2f", k, j, m)
			}
		}
		v := sq / (n * float64(g.Dim))
		if want := cfg.Sigma*cfg.Sigma + 1.0/12; math.Abs(v-want)/want > 0.05 {
			t.Errorf("component %d: variance %.2f, want %.2f", k, v, want)
		}
	}
	// One component: the entropy is the Gaussian's, d/2 log(2 pi e sigma^2).
	one := NewGaussianMixture(SyntheticConfig{Components: 1, Height: 3, Width: 1, Channels: 1, Sigma: 2, Seed: 1})
	want := 1.5 * math.Log(2*math.Pi*math.E*4)
	if got := one.EntropyMC(20000, 3); math.Abs(got-want) > 0.03 {
		t.Fatalf("entropy %.4f, want %.4f", got, want)
	}
	// Well-separated equal components: entropy = Gaussian entropy + log K.
	three := NewGaussianMixture(SyntheticConfig{Components: 3, Height: 3, Width: 1, Channels: 1, Sigma: 2, Seed: 1})
	if got := three.EntropyMC(20000, 3); math.Abs(got-(want+math.Log(3))) > 0.05 {
		t.Fatalf("entropy %.4f, want %.4f", got, want+math.Log(3))
	}
}
