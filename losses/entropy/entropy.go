// Package entropy holds host-side float64 entropy and mutual-information estimators, for diagnostics
// and as references for the differentiable graph versions in package losses. Samples are given as
// rows of a [][]float64 (n rows of d values); all results are in nats.
package entropy

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat"
)

// Distances accepted by Pairwise.
const (
	Bhattacharyya = "bhattacharyya" // ||z_i - z_j||²/(8σ²): lower bound on the mixture entropy.
	KL            = "kl"            // ||z_i - z_j||²/(2σ²): upper bound on the mixture entropy.
)

// dims checks that x is a non-empty rectangular matrix with at least minRows rows.
func dims(x [][]float64, minRows int) (n, d int, err error) {
	n = len(x)
	if n < minRows {
		return 0, 0, fmt.Errorf("need at least %d samples, got %d", minRows, n)
	}
	d = len(x[0])
	if d == 0 {
		return 0, 0, errors.New("samples have zero dimensions")
	}
	for i, row := range x {
		if len(row) != d {
			return 0, 0, fmt.Errorf("row %d has %d values, row 0 has %d", i, len(row), d)
		}
	}
	return n, d, nil
}

// dense returns the rows of x (a non-empty rectangular matrix) as a gonum matrix.
func dense(x [][]float64) *mat.Dense {
	m := mat.NewDense(len(x), len(x[0]), nil)
	for i, row := range x {
		m.SetRow(i, row)
	}
	return m
}

// Centred returns the n×d matrix of the rows of x minus their column means (x must be a non-empty
// rectangular matrix).
func Centred(x [][]float64) *mat.Dense {
	c := dense(x)
	n, d := c.Dims()
	col := make([]float64, n)
	for j := range d {
		mat.Col(col, j, c)
		floats.AddConst(-stat.Mean(col, nil), col)
		c.SetCol(j, col)
	}
	return c
}

// Covariance returns the unbiased [d, d] sample covariance (divided by n-1) of the rows of x
// (gonum's stat.CovarianceMatrix).
func Covariance(x [][]float64) (*mat.SymDense, error) {
	if _, _, err := dims(x, 2); err != nil {
		return nil, err
	}
	var cov mat.SymDense
	stat.CovarianceMatrix(&cov, dense(x), nil)
	return &cov, nil
}

// LogDetSPD returns log det(a) of a symmetric positive-definite matrix by gonum's Cholesky
// factorisation. It fails if a is not (numerically) positive definite.
func LogDetSPD(a mat.Symmetric) (float64, error) {
	var chol mat.Cholesky
	if !chol.Factorize(a) {
		return 0, fmt.Errorf("matrix of size %d is not positive definite", a.SymmetricDim())
	}
	return chol.LogDet(), nil
}

// logDetIPlusGram returns log det(I_d + alpha·Xcᵀ Xc) of the column-centred x, using the smaller of
// the d×d and n×n forms (det(I_d + a XᵀX) = det(I_n + a X Xᵀ)).
func logDetIPlusGram(x [][]float64, alpha float64) (float64, error) {
	xc := Centred(x)
	n, d := xc.Dims()
	var a mat.SymDense
	if n <= d {
		a.SymOuterK(alpha, xc) // alpha·Xc Xcᵀ, n×n
	} else {
		a.SymOuterK(alpha, xc.T()) // alpha·Xcᵀ Xc, d×d
	}
	for i := range a.SymmetricDim() {
		a.SetSym(i, i, a.At(i, i)+1)
	}
	return LogDetSPD(&a)
}

// GaussianExact is the entropy 0.5·log det(2πe·Σ) of a Gaussian with covariance cov.
func GaussianExact(cov mat.Symmetric) (float64, error) {
	ld, err := LogDetSPD(cov)
	if err != nil {
		return 0, fmt.Errorf("Gaussian entropy: %w", err)
	}
	return 0.5 * (float64(cov.SymmetricDim())*math.Log(2*math.Pi*math.E) + ld), nil
}

// Gaussian is the entropy of the Gaussian with the sample covariance of x plus eps·I:
// d/2·log(2πe) + 0.5·log det(Σ + eps·I). eps may be 0 only when Σ is non-singular (n > d).
func Gaussian(x [][]float64, eps float64) (float64, error) {
	n, d, err := dims(x, 2)
	if err != nil {
		return 0, fmt.Errorf("Gaussian entropy: %w", err)
	}
	if eps < 0 {
		return 0, fmt.Errorf("Gaussian entropy: eps must be >= 0, got %g", eps)
	}
	if eps == 0 {
		cov, _ := Covariance(x)
		return GaussianExact(cov)
	}
	ld, err := logDetIPlusGram(x, 1/(float64(n-1)*eps))
	if err != nil {
		return 0, fmt.Errorf("Gaussian entropy: %w", err)
	}
	return 0.5*float64(d)*math.Log(2*math.Pi*math.E*eps) + 0.5*ld, nil
}

// LogDet is the LogDet entropy estimator 0.5·log det(I + β·Σ) of the sample covariance Σ of x. beta
// > 0 is used as given; beta = 0 is the scale-aware β = AutoBeta(x) (as losses.Auto).
func LogDet(x [][]float64, beta float64) (float64, error) {
	n, _, err := dims(x, 2)
	if err != nil {
		return 0, fmt.Errorf("LogDet entropy: %w", err)
	}
	if beta == 0 {
		beta, _ = AutoBeta(x)
	}
	if !(beta > 0) {
		return 0, fmt.Errorf("LogDet entropy: beta must be > 0 (or 0 for the scale-aware value), got %g", beta)
	}
	ld, err := logDetIPlusGram(x, beta/float64(n-1))
	if err != nil {
		return 0, fmt.Errorf("LogDet entropy: %w", err)
	}
	return 0.5 * ld, nil
}

// AutoBeta is the scale-aware β of the LogDet estimator (losses.AutoBeta, computed here in
// float64): d/tr(Σ), Σ the sample covariance of x, or 1 when tr(Σ) = 0.
func AutoBeta(x [][]float64) (float64, error) {
	_, d, err := dims(x, 2)
	if err != nil {
		return 0, fmt.Errorf("scale-aware beta: %w", err)
	}
	cov, _ := Covariance(x)
	if tr := mat.Trace(cov); tr > 0 {
		return float64(d) / tr, nil
	}
	return 1, nil
}

// AutoSigma is the scale-aware kernel width of the pairwise-distance estimator (losses.AutoSigma,
// computed here in float64 by sorting): σ = sqrt(m²/(2·ln n)), m² the lower median (the
// ⌈P/2⌉-th smallest) of the P = n(n-1)/2 squared distances ||x_i - x_j||², i < j; σ = 1 when
// m² = 0.
func AutoSigma(x [][]float64) (float64, error) {
	n, _, err := dims(x, 2)
	if err != nil {
		return 0, fmt.Errorf("scale-aware sigma: %w", err)
	}
	d2 := make([]float64, 0, n*(n-1)/2)
	for i := range n {
		for j := i + 1; j < n; j++ {
			d2 = append(d2, SquaredDistance(x[i], x[j]))
		}
	}
	sort.Float64s(d2)
	m2 := d2[(len(d2)+1)/2-1]
	if m2 == 0 {
		return 1, nil
	}
	return math.Sqrt(m2 / (2 * math.Log(float64(n)))), nil
}

// Pairwise is the Kolchinsky–Tracey pairwise-distance estimate of the entropy of the mixture
// (1/n)·Σ_i N(x_i, σ²I): d/2·log(2πeσ²) - (1/n)·Σ_i log((1/n)·Σ_j exp(-D_ij)), with D the
// Bhattacharyya (lower bound) or KL (upper bound) distance between the components. sigma > 0 is
// used as given; sigma = 0 is the scale-aware σ = AutoSigma(x) (as losses.Auto), which needs two
// samples or more.
func Pairwise(x [][]float64, sigma float64, kind string) (float64, error) {
	n, d, err := dims(x, 1)
	if err != nil {
		return 0, fmt.Errorf("pairwise entropy: %w", err)
	}
	if sigma == 0 {
		if sigma, err = AutoSigma(x); err != nil {
			return 0, fmt.Errorf("pairwise entropy: %w", err)
		}
	}
	if !(sigma > 0) {
		return 0, fmt.Errorf("pairwise entropy: sigma must be > 0 (or 0 for the scale-aware value), got %g", sigma)
	}
	var div float64
	switch kind {
	case Bhattacharyya:
		div = 8
	case KL:
		div = 2
	default:
		return 0, fmt.Errorf("pairwise entropy: kind must be %q or %q, got %q", Bhattacharyya, KL, kind)
	}
	logits := make([]float64, n)
	total := 0.0
	for i := range n {
		for j := range n {
			logits[j] = -SquaredDistance(x[i], x[j]) / (div * sigma * sigma)
		}
		total += floats.LogSumExp(logits) - math.Log(float64(n))
	}
	return 0.5*float64(d)*math.Log(2*math.Pi*math.E*sigma*sigma) - total/float64(n), nil
}

// KNN is the Kozachenko–Leonenko k-nearest-neighbour entropy estimate
// ψ(n) - ψ(k) + log V_d + (d/n)·Σ_i log ε_i, with ε_i the Euclidean distance from x_i to its k-th
// nearest neighbour and V_d the volume of the unit d-ball. It is a non-parametric reference, biased
// in high dimension; duplicate points (ε_i = 0) are an error.
func KNN(x [][]float64, k int) (float64, error) {
	n, d, err := dims(x, 2)
	if err != nil {
		return 0, fmt.Errorf("kNN entropy: %w", err)
	}
	if k < 1 || k >= n {
		return 0, fmt.Errorf("kNN entropy: k must be in [1, %d], got %d", n-1, k)
	}
	dist := make([]float64, 0, n-1)
	sumLog := 0.0
	for i := range n {
		dist = dist[:0]
		for j := range n {
			if j != i {
				dist = append(dist, SquaredDistance(x[i], x[j]))
			}
		}
		sort.Float64s(dist)
		if dist[k-1] == 0 {
			return 0, fmt.Errorf("kNN entropy: sample %d has %d duplicates; the estimator needs distinct points", i, k)
		}
		sumLog += 0.5 * math.Log(dist[k-1])
	}
	lgamma, _ := math.Lgamma(float64(d)/2 + 1)
	logVd := float64(d)/2*math.Log(math.Pi) - lgamma
	return mathext.Digamma(float64(n)) - mathext.Digamma(float64(k)) + logVd + float64(d)*sumLog/float64(n), nil
}

// GaussianMutualInfo is H(Z) - H(Z|Z') with both entropies Gaussian (ridge eps): H(Z) from z1 and
// H(Z|Z') from the residual z1 - z2; see losses.GaussianMutualInfo for when it bounds I(Z;Z').
func GaussianMutualInfo(z1, z2 [][]float64, eps float64) (float64, error) {
	n, d, err := dims(z1, 2)
	if err != nil {
		return 0, fmt.Errorf("mutual information: %w", err)
	}
	if n2, d2, err := dims(z2, 2); err != nil || n2 != n || d2 != d {
		return 0, fmt.Errorf("mutual information: z2 must be [%d, %d] like z1", n, d)
	}
	h, err := Gaussian(z1, eps)
	if err != nil {
		return 0, fmt.Errorf("mutual information: %w", err)
	}
	res := make([][]float64, n)
	for i := range n {
		res[i] = make([]float64, d)
		for j := range d {
			res[i][j] = z1[i][j] - z2[i][j]
		}
	}
	hc, err := Gaussian(res, eps)
	if err != nil {
		return 0, fmt.Errorf("mutual information: %w", err)
	}
	return h - hc, nil
}

// SquaredDistance is ||a - b||².
func SquaredDistance(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		t := a[i] - b[i]
		s += t * t
	}
	return s
}
