package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// AffinityConfig configures the local-affinity measurement (assumption A2).
type AffinityConfig struct {
	// Scales are the standard deviations s of the input noise δ ~ N(0, s²I), in normalised pixel
	// units.
	Scales []float64
	// Directions is the number of random unit directions u in the output space (shared by every
	// anchor: one draw per run).
	Directions int
	// Samples is the number of noise draws per anchor and scale.
	Samples int
	// Seed makes the directions and the noise reproducible.
	Seed uint64
}

// Summary is the distribution of a quantity across anchors: quartiles (linear interpolation
// between order statistics), mean, extremes and the count.
type Summary struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Q1     float64 `json:"q1"`
	Median float64 `json:"median"`
	Q3     float64 `json:"q3"`
}

// Summarize returns the Summary of the finite values of v.
func Summarize(v []float64) Summary { return summarize(v, false) }

// summarize is Summarize, keeping +Inf values (sorted last: an affinity ratio with a vanishing
// gradient where f moves) with keepInf.
func summarize(v []float64, keepInf bool) Summary {
	var s []float64
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, -1) && (keepInf || !math.IsInf(x, 1)) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return Summary{Mean: math.NaN(), Min: math.NaN(), Max: math.NaN(), Q1: math.NaN(), Median: math.NaN(), Q3: math.NaN()}
	}
	sort.Float64s(s)
	q := func(p float64) float64 {
		h := p * float64(len(s)-1)
		lo := int(math.Floor(h))
		hi := min(lo+1, len(s)-1)
		if h == float64(lo) || s[hi] == s[lo] {
			return s[lo] // also where s[hi] is +Inf: 0·Inf would be NaN
		}
		return s[lo] + (h-float64(lo))*(s[hi]-s[lo])
	}
	mean := 0.0
	for _, x := range s {
		mean += x
	}
	return Summary{N: len(s), Mean: mean / float64(len(s)), Min: s[0], Max: s[len(s)-1], Q1: q(0.25), Median: q(0.5), Q3: q(0.75)}
}

// AffinityScale is the affinity ratio at one noise scale.
type AffinityScale struct {
	Scale float64 `json:"scale"`
	// Ratios holds one ratio per anchor (see Affinity).
	Ratios []float64 `json:"ratios"`
	// Summary is their distribution across anchors.
	Summary Summary `json:"summary"`
}

// Affinity measures how close f is to affine around each anchor (rows of anchors, [k, InDim()]),
// at each noise scale s. A locally affine f satisfies, for every unit direction u,
//
//	E_δ[(u·(f(x+δ) - f(x)))²] = E_δ[(∇_x(u·f(x))·δ)²] = s²·||∇_x(u·f(x))||²,  δ ~ N(0, s²I).
//
// The ratio of the two sides is estimated with the same noise draws on both sides (a ratio
// estimator: it is exactly 1 for an affine f, and consistent for the ratio of expectations
// otherwise), summed over the directions:
//
//	ratio(x, s) = Σ_u Σ_r (u·(f(x+δ_r) - f(x)))² / Σ_u Σ_r (∇_x(u·f(x))·δ_r)².
//
// One gradient per direction and anchor: the gradient of Σ_i u_i·f(x_i) over a batch of copies
// of x gives every direction's gradient in one backward pass.
func Affinity(f Func, anchors []float32, k int, cfg AffinityConfig) ([]AffinityScale, error) {
	p, q := f.InDim(), f.OutDim()
	if len(anchors) != k*p {
		return nil, fmt.Errorf("affinity: %d anchor values for %d anchors of %d", len(anchors), k, p)
	}
	if cfg.Directions < 1 || cfg.Samples < 1 || len(cfg.Scales) == 0 {
		return nil, fmt.Errorf("affinity: need at least one scale, direction and noise sample (got %d, %d, %d)", len(cfg.Scales), cfg.Directions, cfg.Samples)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xaff1))
	dirs := make([][]float64, cfg.Directions)
	for j := range dirs {
		dirs[j] = unitVector(rng, q)
	}
	return affinity(f, anchors, k, dirs, cfg.Scales, cfg.Samples, rng)
}

// affinity is Affinity with given directions.
func affinity(f Func, anchors []float32, k int, dirs [][]float64, scales []float64, samples int, rng *rand.Rand) ([]AffinityScale, error) {
	p, q, nd := f.InDim(), f.OutDim(), len(dirs)
	// Gradients: row (a, j) is anchor a with direction j.
	xs := make([]float32, 0, k*nd*p)
	us := make([]float32, 0, k*nd*q)
	for a := range k {
		for _, u := range dirs {
			xs = append(xs, anchors[a*p:(a+1)*p]...)
			for _, v := range u {
				us = append(us, float32(v))
			}
		}
	}
	grads, err := f.InputGrad(xs, us, k*nd)
	if err != nil {
		return nil, fmt.Errorf("affinity: %w", err)
	}
	// Forward passes: per anchor, the clean input then samples noisy inputs per scale.
	per := 1 + len(scales)*samples
	inputs := make([]float32, 0, k*per*p)
	deltas := make([]float64, 0, k*len(scales)*samples*p) // the noise actually applied (after rounding to float32)
	for a := range k {
		x := anchors[a*p : (a+1)*p]
		inputs = append(inputs, x...)
		for _, s := range scales {
			for range samples {
				for i := range p {
					v := float32(float64(x[i]) + s*rng.NormFloat64())
					inputs = append(inputs, v)
					deltas = append(deltas, float64(v)-float64(x[i]))
				}
			}
		}
	}
	outs, err := f.Forward(inputs, k*per)
	if err != nil {
		return nil, fmt.Errorf("affinity: %w", err)
	}
	res := make([]AffinityScale, len(scales))
	for si, s := range scales {
		res[si].Scale = s
		res[si].Ratios = make([]float64, k)
	}
	for a := range k {
		f0 := outs[a*per*q : (a*per+1)*q]
		for si := range scales {
			var num, den float64
			for r := range samples {
				row := a*per + 1 + si*samples + r
				fr := outs[row*q : (row+1)*q]
				delta := deltas[((a*len(scales)+si)*samples+r)*p:][:p]
				for j, u := range dirs {
					proj := 0.0
					for i, v := range u {
						proj += v * (float64(fr[i]) - float64(f0[i]))
					}
					g := grads[(a*nd+j)*p:][:p]
					lin := 0.0
					for i, d := range delta {
						lin += float64(g[i]) * d
					}
					num += proj * proj
					den += lin * lin
				}
			}
			switch {
			case den > 0:
				res[si].Ratios[a] = num / den
			case num > 0:
				res[si].Ratios[a] = math.Inf(1) // f moves where its gradient vanishes: not affine
			default:
				res[si].Ratios[a] = 1 // f does not move and its gradient vanishes: locally constant
			}
		}
	}
	for si := range res {
		res[si].Summary = summarize(res[si].Ratios, true) // an infinite ratio counts, as the least affine

	}
	return res, nil
}

// unitVector draws a direction uniformly on the unit sphere of dimension d.
func unitVector(rng *rand.Rand, d int) []float64 {
	for {
		u := make([]float64, d)
		norm := 0.0
		for i := range u {
			u[i] = rng.NormFloat64()
			norm += u[i] * u[i]
		}
		if norm > 0 {
			norm = math.Sqrt(norm)
			for i := range u {
				u[i] /= norm
			}
			return u
		}
	}
}
