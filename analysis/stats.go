package analysis

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gomlx-ssl/vicreg/losses/entropy"
)

// AndersonDarling tests the normality of x with unknown mean and variance (Stephens' case 3). It
// returns the modified statistic A*² = A²·(1 + 0.75/n + 2.25/n²) and its p-value from the
// D'Agostino and Stephens (1986, table 4.9) approximation, accurate for n >= 8. A sample with zero
// variance gets an error.
func AndersonDarling(x []float64) (aStar2, p float64, err error) {
	n := len(x)
	if n < 8 {
		return 0, 0, fmt.Errorf("Anderson-Darling test: need at least 8 values, got %d", n)
	}
	mean, sd := stat.MeanStdDev(x, nil)
	if !(sd > 0) || sd < 1e-12*math.Abs(mean) {
		return 0, 0, errors.New("Anderson-Darling test: the sample has zero variance")
	}
	z := make([]float64, n)
	for i, v := range x {
		z[i] = (v - mean) / sd
	}
	sort.Float64s(z)
	a2 := 0.0
	for i := range n {
		// log Φ(z_i) + log(1 - Φ(z_{n+1-i})), with the tails in log form for stability.
		lo := logNormCDF(z[i])
		hi := logNormCDF(-z[n-1-i])
		a2 += float64(2*i+1) * (lo + hi)
	}
	a2 = -float64(n) - a2/float64(n)
	fn := float64(n)
	s := a2 * (1 + 0.75/fn + 2.25/(fn*fn))
	switch {
	case s >= 0.6:
		// The exponent is a parabola with its minimum at adVertex (p about 1e-190): beyond it the
		// formula would rise again (above 1 from about 307 on), though a larger statistic is only
		// stronger evidence, so p stays at its smallest value there.
		a := math.Min(s, adVertex)
		p = math.Exp(1.2937 - 5.709*a + 0.0186*a*a)
	case s >= 0.34:
		p = math.Exp(0.9177 - 4.279*s - 1.38*s*s)
	case s >= 0.2:
		p = 1 - math.Exp(-8.318+42.796*s-59.938*s*s)
	default:
		p = 1 - math.Exp(-13.436+101.14*s-223.73*s*s)
	}
	return s, math.Min(math.Max(p, 0), 1), nil
}

// adVertex is where D'Agostino and Stephens' p-value formula for A*² >= 0.6 has its minimum.
const adVertex = 5.709 / (2 * 0.0186)

// logNormCDF is log Φ(z) for the standard normal, accurate in the lower tail: below z = -37,
// where Φ(z) underflows, by the asymptotic series log Φ(z) = -z²/2 - log(-z√(2π)) +
// log(1 - 1/z² + 3/z⁴ - 15/z⁶) (relative error under 1e-10 there).
func logNormCDF(z float64) float64 {
	if z < -37 {
		z2 := z * z
		return -z2/2 - math.Log(-z*math.Sqrt(2*math.Pi)) + math.Log1p(-1/z2+3/(z2*z2)-15/(z2*z2*z2))
	}
	return math.Log(0.5 * math.Erfc(-z/math.Sqrt2))
}

// MardiaResult holds Mardia's (1970, 1974) multivariate skewness and kurtosis tests of one sample
// of n points in p dimensions.
type MardiaResult struct {
	// B1 is the skewness b₁,p = (1/n²)·Σ_ij (yᵢᵀ S⁻¹ yⱼ)³ and B2 the kurtosis b₂,p = (1/n)·Σ_i (yᵢᵀ S⁻¹ yᵢ)²,
	// with y centred and S the maximum-likelihood covariance (divided by n).
	B1, B2 float64
	// SkewStat is n·k·b₁/6 with Mardia's small-sample correction
	// k = (p+1)(n+1)(n+3)/(n((n+1)(p+1)-6)), compared with χ² on p(p+1)(p+2)/6 degrees of freedom.
	SkewStat, SkewP float64
	// KurtZ is (b₂ - E b₂)/sd(b₂) with the exact normal-theory mean p(p+2)(n-1)/(n+1) and variance
	// 8p(p+2)(n-3)(n-p-1)(n-p+3)/((n+1)²(n+3)(n+5)); KurtP its two-sided normal p-value.
	KurtZ, KurtP float64
}

// Mardia runs Mardia's skewness and kurtosis tests on the rows of y (n points, p dimensions,
// n > p+3). A singular sample covariance is an error.
func Mardia(y [][]float64) (MardiaResult, error) {
	n := len(y)
	if n == 0 {
		return MardiaResult{}, errors.New("Mardia test: empty sample")
	}
	p := len(y[0])
	if n <= p+3 {
		return MardiaResult{}, fmt.Errorf("Mardia test: need more than %d points in %d dimensions, got %d", p+3, p, n)
	}
	c := entropy.Centred(y)
	var s mat.SymDense
	s.SymOuterK(1/float64(n), c.T())
	var chol mat.Cholesky
	if ok := chol.Factorize(&s); !ok {
		return MardiaResult{}, errors.New("Mardia test: the sample covariance is singular")
	}
	if cond := chol.Cond(); cond > 1e12 || math.IsInf(cond, 0) {
		return MardiaResult{}, fmt.Errorf("Mardia test: the sample covariance is near singular (condition number %.3g)", cond)
	}
	var sinv mat.SymDense
	if err := chol.InverseTo(&sinv); err != nil {
		return MardiaResult{}, fmt.Errorf("Mardia test: %w", err)
	}
	var cs, g mat.Dense
	cs.Mul(c, &sinv)
	g.Mul(&cs, c.T()) // g_ij = y_iᵀ S⁻¹ y_j
	var b1, b2 float64
	for i := range n {
		for j := range n {
			v := g.At(i, j)
			b1 += v * v * v
		}
		b2 += g.At(i, i) * g.At(i, i)
	}
	fn, fp := float64(n), float64(p)
	b1 /= fn * fn
	b2 /= fn
	k := (fp + 1) * (fn + 1) * (fn + 3) / (fn * ((fn+1)*(fp+1) - 6))
	df := fp * (fp + 1) * (fp + 2) / 6
	r := MardiaResult{B1: b1, B2: b2, SkewStat: fn * k * b1 / 6}
	r.SkewP = distuv.ChiSquared{K: df}.Survival(r.SkewStat)
	eb2 := fp * (fp + 2) * (fn - 1) / (fn + 1)
	vb2 := 8 * fp * (fp + 2) * (fn - 3) * (fn - fp - 1) * (fn - fp + 3) / ((fn + 1) * (fn + 1) * (fn + 3) * (fn + 5))
	r.KurtZ = (b2 - eb2) / math.Sqrt(vb2)
	r.KurtP = math.Erfc(math.Abs(r.KurtZ) / math.Sqrt2)
	return r, nil
}

// Wilson returns the Wilson score interval of a binomial proportion k/n at the two-sided level
// 1-alpha (e.g. alpha = 0.05 for a 95% interval). n = 0 gives [0, 1].
func Wilson(k, n int, alpha float64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	z := distuv.UnitNormal.Quantile(1 - alpha/2)
	fn := float64(n)
	ph := float64(k) / fn
	den := 1 + z*z/fn
	centre := (ph + z*z/(2*fn)) / den
	half := z * math.Sqrt(ph*(1-ph)/fn+z*z/(4*fn*fn)) / den
	return math.Max(0, centre-half), math.Min(1, centre+half)
}

// Holm applies the Holm–Bonferroni step-down procedure to p-values at family-wise level alpha and
// reports which hypotheses are rejected.
func Holm(p []float64, alpha float64) []bool {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	rej := make([]bool, len(p))
	for rank, i := range idx {
		if p[i] > alpha/float64(len(p)-rank) {
			break
		}
		rej[i] = true
	}
	return rej
}

// PCA projects the rows of x (n points, d dimensions) onto the k principal axes of their sample
// covariance (largest variance first), after centring. It also returns the k variances.
func PCA(x [][]float64, k int) ([][]float64, []float64, error) {
	n := len(x)
	if n < 2 {
		return nil, nil, fmt.Errorf("PCA: need at least 2 points, got %d", n)
	}
	d := len(x[0])
	if k < 1 || k > d {
		return nil, nil, fmt.Errorf("PCA: k must be in [1, %d], got %d", d, k)
	}
	c := entropy.Centred(x)
	var s mat.SymDense
	s.SymOuterK(1/float64(n-1), c.T())
	var eig mat.EigenSym
	if ok := eig.Factorize(&s, true); !ok {
		return nil, nil, errors.New("PCA: eigendecomposition failed")
	}
	vals := eig.Values(nil) // ascending
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	out := make([][]float64, n)
	for i := range n {
		out[i] = make([]float64, k)
	}
	variances := make([]float64, k)
	for a := range k {
		col := d - 1 - a
		variances[a] = vals[col]
		for i := range n {
			v := 0.0
			for j := range d {
				v += c.At(i, j) * vecs.At(j, col)
			}
			out[i][a] = v
		}
	}
	return out, variances, nil
}
