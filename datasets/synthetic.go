package datasets

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// SyntheticConfig configures the synthetic Gaussian-mixture data set.
type SyntheticConfig struct {
	// N is the number of images of the split.
	N int
	// Components is the number of mixture components (= classes).
	Components int
	// Height, Width, Channels: the image shape; the mixture lives in dimension H*W*C.
	Height, Width, Channels int
	// Sigma is the isotropic standard deviation of every component, in pixel units (0..255).
	Sigma float64
	// Seed determines the mixture (means); the split name is mixed in for the samples, so "train"
	// and "test" share the mixture but not the samples.
	Seed uint64
}

// DefaultSynthetic is the default synthetic set: 10 components, 16x16x3 images, sigma 12, 4096 images.
func DefaultSynthetic() SyntheticConfig {
	return SyntheticConfig{N: 4096, Components: 10, Height: 16, Width: 16, Channels: 3, Sigma: 12, Seed: 1}
}

// GaussianMixture is an isotropic Gaussian mixture p(x) = sum_k Weights[k] N(x; Means[k], Sigma^2 I)
// in dimension Dim (pixel units). Its parameters are exposed for information-theoretic checks.
type GaussianMixture struct {
	Dim     int
	Weights []float64
	Means   [][]float64
	Sigma   float64
}

// LogPDF returns log p(x), computed with log-sum-exp.
func (g *GaussianMixture) LogPDF(x []float64) float64 {
	norm := -0.5 * float64(g.Dim) * math.Log(2*math.Pi*g.Sigma*g.Sigma)
	best := math.Inf(-1)
	terms := make([]float64, len(g.Means))
	for k, m := range g.Means {
		var d2 float64
		for i, v := range x {
			d := v - m[i]
			d2 += d * d
		}
		terms[k] = math.Log(g.Weights[k]) + norm - d2/(2*g.Sigma*g.Sigma)
		best = max(best, terms[k])
	}
	var s float64
	for _, t := range terms {
		s += math.Exp(t - best)
	}
	return best + math.Log(s)
}

// Sample draws one point and its component.
func (g *GaussianMixture) Sample(rng *rand.Rand) ([]float64, int) {
	u := rng.Float64()
	k := len(g.Weights) - 1
	for i, w := range g.Weights {
		if u < w {
			k = i
			break
		}
		u -= w
	}
	x := make([]float64, g.Dim)
	for i := range x {
		x[i] = g.Means[k][i] + g.Sigma*rng.NormFloat64()
	}
	return x, k
}

// EntropyMC estimates the differential entropy H = -E[log p(x)] (nats, pixel units) by Monte Carlo
// with n samples.
func (g *GaussianMixture) EntropyMC(n int, seed uint64) float64 {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var s float64
	for range n {
		x, _ := g.Sample(rng)
		s -= g.LogPDF(x)
	}
	return s / float64(n)
}

// NewGaussianMixture draws the mixture of cfg: equal weights, means uniform in [64, 192] per pixel
// (so that clipping to [0, 255] is rare for small sigma).
func NewGaussianMixture(cfg SyntheticConfig) *GaussianMixture {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6d6978))
	dim := cfg.Height * cfg.Width * cfg.Channels
	g := &GaussianMixture{Dim: dim, Sigma: cfg.Sigma}
	for range cfg.Components {
		g.Weights = append(g.Weights, 1/float64(cfg.Components))
		m := make([]float64, dim)
		for i := range m {
			m[i] = 64 + 128*rng.Float64()
		}
		g.Means = append(g.Means, m)
	}
	return g
}

// Synthetic samples split of the Gaussian mixture cfg: pixel values are the samples rounded and
// clipped to 0..255, labels are the components, and Dataset.Mixture holds the parameters.
func Synthetic(cfg SyntheticConfig, split string) (*Dataset, error) {
	if cfg.N <= 0 || cfg.Components <= 0 || cfg.Height <= 0 || cfg.Width <= 0 || cfg.Channels <= 0 || !(cfg.Sigma > 0) {
		return nil, fmt.Errorf("synthetic data set: invalid configuration %+v (want all sizes > 0 and sigma > 0)", cfg)
	}
	g := NewGaussianMixture(cfg)
	h := fnv.New64a()
	h.Write([]byte(split))
	rng := rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))
	ds := &Dataset{
		Name: "synthetic", Split: split, N: cfg.N, Height: cfg.Height, Width: cfg.Width, Channels: cfg.Channels,
		Images: make([]uint8, cfg.N*g.Dim), Labels: make([]int32, cfg.N), NumClasses: cfg.Components, Mixture: g,
	}
	for i := range cfg.N {
		x, k := g.Sample(rng)
		ds.Labels[i] = int32(k)
		img := ds.Images[i*g.Dim : (i+1)*g.Dim]
		for j, v := range x {
			img[j] = uint8(math.Round(min(max(v, 0), 255)))
		}
	}
	ds.Mean, ds.Std = ds.ComputeMeanStd()
	return ds, nil
}
