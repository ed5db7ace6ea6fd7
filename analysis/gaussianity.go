package analysis

import (
	"fmt"
	"math/rand/v2"
)

// GaussianityConfig configures the conditional-Gaussianity tests (assumption A1).
type GaussianityConfig struct {
	// Components is the number of principal components of each anchor's views on which Mardia's
	// tests run.
	Components int
	// Projections is the number of random unit directions of the full representation on which the
	// one-dimensional Anderson–Darling test runs, besides the Components principal components
	// (all of them Holm-corrected together within each anchor). Random projections of many
	// independent non-Gaussian coordinates look Gaussian (central limit theorem); the principal
	// components catch a non-Gaussian direction that carries much of the variance.
	Projections int
	// Alpha is the level of every test.
	Alpha float64
	// Seed draws the projections.
	Seed uint64
}

// AnchorTest holds the tests of one anchor's views.
type AnchorTest struct {
	// SkewP and KurtP are Mardia's p-values on the PCA of the views.
	SkewP float64 `json:"skew_p"`
	KurtP float64 `json:"kurt_p"`
	// ProjP are the Anderson–Darling p-values of the principal components (first Components
	// values), then of the random projections.
	ProjP []float64 `json:"proj_p"`
	// PassSkew, PassKurt: p >= Alpha. PassProj: no projection rejected by Holm at Alpha.
	// PassAll: the three families (skewness, kurtosis, one-dimensional tests) each pass at
	// Alpha/3 (Bonferroni), so a Gaussian anchor fails with probability at most Alpha.
	PassSkew bool `json:"pass_skew"`
	PassKurt bool `json:"pass_kurt"`
	PassProj bool `json:"pass_proj"`
	PassAll  bool `json:"pass_all"`
	// Degenerate says why the tests could not run (views with zero variance in some direction:
	// such an anchor counts as failing); empty otherwise.
	Degenerate string `json:"degenerate,omitempty"`
}

// Proportion is a fraction k/n with its Wilson score interval at level 1-Alpha.
type Proportion struct {
	K        int     `json:"k"`
	N        int     `json:"n"`
	Fraction float64 `json:"fraction"`
	Lo       float64 `json:"ci_lo"`
	Hi       float64 `json:"ci_hi"`
}

// NewProportion returns k/n with its Wilson interval at level 1-alpha.
func NewProportion(k, n int, alpha float64) Proportion {
	p := Proportion{K: k, N: n}
	if n > 0 {
		p.Fraction = float64(k) / float64(n)
	}
	p.Lo, p.Hi = Wilson(k, n, alpha)
	return p
}

// GaussianityResult is the fraction of anchors whose views pass each test.
type GaussianityResult struct {
	Anchors     int          `json:"anchors"`
	Views       int          `json:"views"`
	Components  int          `json:"components"`
	Projections int          `json:"projections"`
	Alpha       float64      `json:"alpha"`
	PassSkew    Proportion   `json:"pass_skew"`
	PassKurt    Proportion   `json:"pass_kurt"`
	PassProj    Proportion   `json:"pass_proj"`
	PassAll     Proportion   `json:"pass_all"`
	Degenerate  int          `json:"degenerate"`
	PerAnchor   []AnchorTest `json:"per_anchor"`
}

// Gaussianity tests, for each anchor, whether its views' representations (views[a] holds M
// points of dimension D) look Gaussian: Mardia's skewness and kurtosis on the first Components
// principal components, and Anderson–Darling on each of those components and on Projections random
// one-dimensional projections.
// Under exact Gaussianity each per-test pass rate is about 1-Alpha.
func Gaussianity(views [][][]float64, cfg GaussianityConfig) (GaussianityResult, error) {
	if len(views) == 0 || len(views[0]) == 0 {
		return GaussianityResult{}, fmt.Errorf("gaussianity: no views")
	}
	m, d := len(views[0]), len(views[0][0])
	if cfg.Components < 1 || cfg.Components > d {
		return GaussianityResult{}, fmt.Errorf("gaussianity: components must be in [1, %d], got %d", d, cfg.Components)
	}
	if m <= cfg.Components+3 || m < 8 {
		return GaussianityResult{}, fmt.Errorf("gaussianity: %d views per anchor are too few for %d components (need more than %d, and at least 8)", m, cfg.Components, cfg.Components+3)
	}
	if cfg.Projections < 1 || !(cfg.Alpha > 0 && cfg.Alpha < 1) {
		return GaussianityResult{}, fmt.Errorf("gaussianity: need projections >= 1 and 0 < alpha < 1 (got %d, %g)", cfg.Projections, cfg.Alpha)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9a55))
	dirs := make([][]float64, cfg.Projections)
	for j := range dirs {
		dirs[j] = unitVector(rng, d)
	}
	res := GaussianityResult{Anchors: len(views), Views: m, Components: cfg.Components, Projections: cfg.Projections, Alpha: cfg.Alpha}
	var nSkew, nKurt, nProj, nAll int
	for a, v := range views {
		if len(v) != m {
			return res, fmt.Errorf("gaussianity: anchor %d has %d views, anchor 0 has %d", a, len(v), m)
		}
		t := testAnchor(v, dirs, cfg)
		if t.PassSkew {
			nSkew++
		}
		if t.PassKurt {
			nKurt++
		}
		if t.PassProj {
			nProj++
		}
		if t.PassAll {
			nAll++
		}
		if t.Degenerate != "" {
			res.Degenerate++
		}
		res.PerAnchor = append(res.PerAnchor, t)
	}
	k := len(views)
	res.PassSkew = NewProportion(nSkew, k, 0.05)
	res.PassKurt = NewProportion(nKurt, k, 0.05)
	res.PassProj = NewProportion(nProj, k, 0.05)
	res.PassAll = NewProportion(nAll, k, 0.05)
	return res, nil
}

// testAnchor runs the tests on the views of one anchor.
func testAnchor(v [][]float64, dirs [][]float64, cfg GaussianityConfig) AnchorTest {
	var t AnchorTest
	proj, vars, err := PCA(v, cfg.Components)
	if err == nil && !(vars[len(vars)-1] > 1e-10*vars[0]) {
		err = fmt.Errorf("the views have (almost) no variance along principal component %d (variance %.3g, first %.3g)", len(vars), vars[len(vars)-1], vars[0])
	}
	if err == nil {
		var r MardiaResult
		if r, err = Mardia(proj); err == nil {
			t.SkewP, t.KurtP = r.SkewP, r.KurtP
		}
	}
	if err == nil {
		for c := range cfg.Components {
			x := make([]float64, len(proj))
			for i, row := range proj {
				x[i] = row[c]
			}
			var p float64
			if _, p, err = AndersonDarling(x); err != nil {
				break
			}
			t.ProjP = append(t.ProjP, p)
		}
	}
	if err == nil {
		for _, u := range dirs {
			x := make([]float64, len(v))
			for i, row := range v {
				for j, w := range u {
					x[i] += w * row[j]
				}
			}
			var p float64
			if _, p, err = AndersonDarling(x); err != nil {
				break
			}
			t.ProjP = append(t.ProjP, p)
		}
	}
	if err != nil {
		t.Degenerate = err.Error()
		return t
	}
	t.PassSkew = t.SkewP >= cfg.Alpha
	t.PassKurt = t.KurtP >= cfg.Alpha
	t.PassProj = !anyTrue(Holm(t.ProjP, cfg.Alpha))
	a3 := cfg.Alpha / 3
	t.PassAll = t.SkewP >= a3 && t.KurtP >= a3 && !anyTrue(Holm(t.ProjP, a3))
	return t
}

func anyTrue(b []bool) bool {
	for _, v := range b {
		if v {
			return true
		}
	}
	return false
}
