package analysis

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/gomlx-ssl/vicreg/losses/entropy"
)

// HZResult is the Henze–Zirkler test of multivariate normality of one sample.
type HZResult struct {
	// N points in P dimensions; Beta is the smoothing parameter.
	N, P int
	Beta float64
	// Stat is the statistic HZ (0 for a sample that matches the normal's characteristic function
	// exactly; large values reject).
	Stat float64
	// PLognormal is the p-value of Henze and Zirkler's lognormal approximation of the null
	// distribution (the one R's MVN and pingouin report). NormalityP uses the exact Monte Carlo
	// null instead: see there.
	PLognormal float64
}

// HenzeZirkler runs the Henze–Zirkler (1990) test on the rows of y (n points in p dimensions,
// n > p): the weighted L² distance between the empirical characteristic function of the
// standardised sample and the normal's, with the smoothing
// β = ((2p+1)n/4)^(1/(p+4))/√2. The sample is standardised with its mean and maximum-likelihood
// covariance (divided by n), so the test is affine invariant: its null distribution depends on n
// and p only. A singular sample covariance is an error.
func HenzeZirkler(y [][]float64) (HZResult, error) {
	w, err := whiten(y)
	if err != nil {
		return HZResult{}, fmt.Errorf("Henze-Zirkler test: %w", err)
	}
	n, p := len(y), len(y[0])
	return hzFromWhitened(w, n, p), nil
}

// hzFromWhitened is the test on a standardised sample w (row-major n×p, zero mean, identity
// maximum-likelihood covariance).
func hzFromWhitened(w []float64, n, p int) HZResult {
	r := HZResult{N: n, P: p, Beta: hzBeta(n, p)}
	r.Stat = hzStat(w, n, p, r.Beta)
	r.PLognormal = hzLognormalP(r.Stat, n, p, r.Beta)
	return r
}

func hzBeta(n, p int) float64 {
	fp := float64(p)
	return math.Pow((2*fp+1)*float64(n)/4, 1/(fp+4)) / math.Sqrt2
}

// hzStat is
//
//	HZ = (1/n)·Σ_ij exp(-β²D_ij/2) - 2(1+β²)^(-p/2)·Σ_i exp(-β²D_i/(2(1+β²))) + n(1+2β²)^(-p/2)
//
// with D_ij = |w_i - w_j|² and D_i = |w_i|² on the standardised sample.
func hzStat(w []float64, n, p int, beta float64) float64 {
	b2 := beta * beta
	fp := float64(p)
	norms := make([]float64, n)
	for i := range n {
		s := 0.0
		for _, v := range w[i*p : (i+1)*p] {
			s += v * v
		}
		norms[i] = s
	}
	pairs := float64(n) // the n diagonal terms, exp(0)
	for i := range n {
		wi := w[i*p : (i+1)*p]
		for j := i + 1; j < n; j++ {
			wj := w[j*p : (j+1)*p]
			d := 0.0
			for c, v := range wi {
				e := v - wj[c]
				d += e * e
			}
			pairs += 2 * math.Exp(-b2/2*d)
		}
	}
	single := 0.0
	for _, d := range norms {
		single += math.Exp(-b2 / (2 * (1 + b2)) * d)
	}
	return pairs/float64(n) - 2*math.Pow(1+b2, -fp/2)*single + float64(n)*math.Pow(1+2*b2, -fp/2)
}

// hzLognormalP is the upper tail of the lognormal with the null mean and variance of HZ that
// Henze and Zirkler (1990) give.
func hzLognormalP(hz float64, n, p int, beta float64) float64 {
	fp, b2 := float64(p), beta*beta
	b4, b8 := b2*b2, b2*b2*b2*b2
	a := 1 + 2*b2
	wb := (1 + b2) * (1 + 3*b2)
	mu := 1 - math.Pow(a, -fp/2)*(1+fp*b2/a+fp*(fp+2)*b4/(2*a*a))
	v := 2*math.Pow(1+4*b2, -fp/2) + 2*math.Pow(a, -fp)*(1+2*fp*b4/(a*a)+3*fp*(fp+2)*b8/(4*a*a*a*a)) -
		4*math.Pow(wb, -fp/2)*(1+3*fp*b4/(2*wb)+fp*(fp+2)*b8/(2*wb*wb))
	logMu := math.Log(math.Sqrt(mu * mu * mu * mu / (v + mu*mu)))
	logSD := math.Sqrt(math.Log((v + mu*mu) / (mu * mu)))
	if !(hz > 0) {
		return 1
	}
	// The lognormal's upper tail, through erfc so that small p-values keep their precision.
	return 0.5 * math.Erfc((math.Log(hz)-logMu)/(logSD*math.Sqrt2))
}

// whiten standardises the rows of y with their mean and the Cholesky factor of their
// maximum-likelihood covariance: row-major n×p.
func whiten(y [][]float64) ([]float64, error) {
	n := len(y)
	if n == 0 {
		return nil, errors.New("empty sample")
	}
	p := len(y[0])
	if n <= p {
		return nil, fmt.Errorf("need more points than dimensions, got %d points in %d dimensions", n, p)
	}
	c := entropy.Centred(y)
	var s mat.SymDense
	s.SymOuterK(1/float64(n), c.T())
	var chol mat.Cholesky
	if ok := chol.Factorize(&s); !ok {
		return nil, errors.New("the sample covariance is singular")
	}
	var l mat.TriDense
	chol.LTo(&l)
	// w_i = L⁻¹ c_i for every row: solve L Wᵀ = Cᵀ.
	var wt mat.Dense
	if err := wt.Solve(&l, c.T()); err != nil {
		return nil, fmt.Errorf("the sample covariance is near singular: %w", err)
	}
	out := make([]float64, n*p)
	for i := range n {
		for j := range p {
			out[i*p+j] = wt.At(j, i)
		}
	}
	return out, nil
}

// Thresholds below which a principal component counts as numerically zero: its variance against
// the first component's, and its standard deviation against the root mean square of the values
// (outputs come from float32 programs, whose rounding is about 6e-8 of a value).
const (
	rankRelVariance = 1e-9
	rankRelRMS      = 1e-6
)

// whitenedPCA returns the scores of the rows of x (n points, d dimensions) on their first k
// principal components, standardised to zero mean and identity maximum-likelihood covariance
// (row-major n×r), where r <= k is the number of components whose variance is not numerically
// zero. The standardised scores are √n times the leading left singular vectors of the centred
// data, so they come from the eigenvectors of the n×n Gram matrix when n <= d, else of the d×d
// covariance: whichever is smaller.
func whitenedPCA(x [][]float64, k int) ([]float64, int, error) {
	n := len(x)
	if n < 2 {
		return nil, 0, fmt.Errorf("PCA: need at least 2 points, got %d", n)
	}
	d := len(x[0])
	k = min(k, d, n-1)
	c := entropy.Centred(x)
	meanSq := 0.0
	for _, row := range x {
		for _, v := range row {
			meanSq += v * v
		}
	}
	meanSq /= float64(n * d)
	var s mat.SymDense
	gram := n <= d
	if gram {
		s.SymOuterK(1, c) // C Cᵀ
	} else {
		s.SymOuterK(1, c.T()) // Cᵀ C
	}
	var eig mat.EigenSym
	if ok := eig.Factorize(&s, true); !ok {
		return nil, 0, errors.New("PCA: eigendecomposition failed")
	}
	vals := eig.Values(nil) // ascending; each is n times a component's variance (ML)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	m := len(vals)
	r := 0
	for a := range k {
		v := vals[m-1-a]
		if !(v > rankRelVariance*vals[m-1]) || !(v/float64(n) > rankRelRMS*rankRelRMS*meanSq) {
			break
		}
		r++
	}
	if r == 0 {
		return nil, 0, errors.New("the points do not vary (every principal component has zero variance)")
	}
	out := make([]float64, n*r)
	sqrtN := math.Sqrt(float64(n))
	for a := range r {
		col := m - 1 - a
		if gram {
			for i := range n {
				out[i*r+a] = sqrtN * vecs.At(i, col)
			}
			continue
		}
		// u = C v / √λ.
		scale := sqrtN / math.Sqrt(vals[col])
		for i := range n {
			u := 0.0
			for j := range d {
				u += c.At(i, j) * vecs.At(j, col)
			}
			out[i*r+a] = scale * u
		}
	}
	// The eigenvectors of C Cᵀ with non-zero eigenvalue are orthogonal to the ones vector (the
	// data are centred); remove the rounding so that the scores have mean zero.
	for a := range r {
		mean := 0.0
		for i := range n {
			mean += out[i*r+a]
		}
		mean /= float64(n)
		for i := range n {
			out[i*r+a] -= mean
		}
	}
	return out, r, nil
}

// NormalityResult is the single normality p-value of one sample (one anchor at one noise level).
type NormalityResult struct {
	// P is the Henze–Zirkler p-value from the Monte Carlo null, in [1/(draws+1), 1].
	P float64 `json:"p"`
	// Stat is the Henze–Zirkler statistic; Components the number of principal components tested
	// (fewer than asked when the sample has fewer non-zero ones).
	Stat       float64 `json:"hz"`
	Components int     `json:"components"`
	// PLognormal is the lognormal approximation's p-value, for comparison.
	PLognormal float64 `json:"p_lognormal"`
}

// NormalityTest is the test behind the noise sweep's single p-value: Henze–Zirkler on the first
// Components principal components of the sample, with the p-value from an exact Monte Carlo null
// of NullDraws Gaussian samples of the same size.
//
// Why this is exact: HZ is affine invariant, so it depends on the centred sample only through the
// k-dimensional subspace of ℝⁿ that its columns span. For an i.i.d. Gaussian sample in any
// dimension d and with any covariance, the distribution of the centred data matrix is unchanged
// by every rotation of ℝⁿ that fixes the ones vector, and the principal subspace moves with the
// rotation; so the subspace of the first k principal components is uniformly (Haar) distributed,
// exactly as the column space of an n×k standard Gaussian sample is. Choosing the components from
// the same sample therefore leaves the null distribution that of HZ on n points of N(0, I_k),
// which the Monte Carlo table samples. (The same holds for random projections and the full space;
// one-dimensional tests of single principal components are not affine invariant and do not
// share this property.)
type NormalityTest struct {
	Components int
	NullDraws  int
	Seed       uint64
}

// Test returns the p-value of the rows of x (n points, n > Components + 1).
func (t NormalityTest) Test(x [][]float64) (NormalityResult, error) {
	if t.Components < 1 || t.NullDraws < 1 {
		return NormalityResult{}, fmt.Errorf("normality test: need components >= 1 and null draws >= 1, got %d and %d", t.Components, t.NullDraws)
	}
	n := len(x)
	if n <= t.Components+1 {
		return NormalityResult{}, fmt.Errorf("normality test: %d points are too few for %d components (need more than %d)", n, t.Components, t.Components+1)
	}
	w, r, err := whitenedPCA(x, t.Components)
	if err != nil {
		return NormalityResult{}, fmt.Errorf("normality test: %w", err)
	}
	hz := hzFromWhitened(w, n, r)
	return NormalityResult{P: hzNull(n, r, t.NullDraws, t.Seed).pValue(hz.Stat), Stat: hz.Stat, Components: r, PLognormal: hz.PLognormal}, nil
}

// nullTable is the sorted Henze–Zirkler statistics of draws standard Gaussian samples.
type nullTable struct{ stats []float64 }

// pValue is (1 + #{null ≥ stat}) / (draws + 1): under the null, P(p ≤ j/(draws+1)) = j/(draws+1)
// exactly, over the draws of the table and the sample.
func (t *nullTable) pValue(stat float64) float64 {
	i := sort.SearchFloat64s(t.stats, stat) // first null value >= stat
	return float64(1+len(t.stats)-i) / float64(len(t.stats)+1)
}

type nullKey struct {
	n, p, draws int
	seed        uint64
}

var (
	nullMu     sync.Mutex
	nullTables = map[nullKey]*nullTable{}
)

// hzNull returns the Monte Carlo null of HZ for n points in p dimensions, computed once per
// process for each (n, p, draws, seed).
func hzNull(n, p, draws int, seed uint64) *nullTable {
	key := nullKey{n, p, draws, seed}
	nullMu.Lock()
	defer nullMu.Unlock()
	if t, ok := nullTables[key]; ok {
		return t
	}
	rng := rand.New(rand.NewPCG(seed, 0x4e11+uint64(n)<<20+uint64(p)))
	beta := hzBeta(n, p)
	t := &nullTable{stats: make([]float64, 0, draws)}
	y := make([][]float64, n)
	for i := range y {
		y[i] = make([]float64, p)
	}
	for len(t.stats) < draws {
		for _, row := range y {
			for j := range row {
				row[j] = rng.NormFloat64()
			}
		}
		w, err := whiten(y)
		if err != nil {
			continue // a singular Gaussian sample has probability zero; draw again
		}
		t.stats = append(t.stats, hzStat(w, n, p, beta))
	}
	sort.Float64s(t.stats)
	nullTables[key] = t
	return t
}
