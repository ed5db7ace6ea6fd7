// Package entropy holds host-side float64 entropy and mutual-information estimators, for diagnostics
// and as references for the differentiable graph versions in package losses. Samples are given as
// rows of a [][]float64 (n rows of d values); all results are in nats.
package entropy

import (
	"errors"
	"fmt"
	"math"
	"sort"
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

// centered returns x minus its column means.
func centered(x [][]float64) [][]float64 {
	n, d := len(x), len(x[0])
	mean := make([]float64, d)
	for _, row := range x {
		for j, v := range row {
			mean[j] += v / float64(n)
		}
	}
	out := make([][]float64, n)
	for i, row := range x {
		out[i] = make([]float64, d)
		for j, v := range row {
			out[i][j] = v - mean[j]
		}
	}
	return out
}

// Covariance returns the unbiased [d, d] sample covariance (divided by n-1) of the rows of x.
func Covariance(x [][]float64) ([][]float64, error) {
	n, d, err := dims(x, 2)
	if err != nil {
		return nil, err
	}
	xc := centered(x)
	cov := make([][]float64, d)
	for a := range d {
		cov[a] = make([]float64, d)
	}
	for _, row := range xc {
		for a := range d {
			ra := row[a]
			for b := a; b < d; b++ {
				cov[a][b] += ra * row[b]
			}
		}
	}
	for a := range d {
		for b := a; b < d; b++ {
			cov[a][b] /= float64(n - 1)
			cov[b][a] = cov[a][b]
		}
	}
	return cov, nil
}

// LogDetSPD returns log det(a) of a symmetric positive-definite matrix by Cholesky factorisation.
// It fails if a is not (numerically) positive definite.
func LogDetSPD(a [][]float64) (float64, error) {
	m := len(a)
	l := make([][]float64, m)
	for i := range m {
		if len(a[i]) != m {
			return 0, fmt.Errorf("matrix is not square: row %d has %d values, want %d", i, len(a[i]), m)
		}
		l[i] = make([]float64, i+1)
	}
	logDet := 0.0
	for j := range m {
		s := a[j][j]
		for k := range j {
			s -= l[j][k] * l[j][k]
		}
		if !(s > 0) {
			return 0, fmt.Errorf("matrix is not positive definite (pivot %d is %g)", j, s)
		}
		l[j][j] = math.Sqrt(s)
		logDet += math.Log(s)
		for i := j + 1; i < m; i++ {
			t := a[i][j]
			for k := range j {
				t -= l[i][k] * l[j][k]
			}
			l[i][j] = t / l[j][j]
		}
	}
	return logDet, nil
}

// logDetIPlusGram returns log det(I_d + alpha·Xcᵀ Xc) of the column-centred x, using the smaller of
// the d×d and n×n forms (det(I_d + a XᵀX) = det(I_n + a X Xᵀ)).
func logDetIPlusGram(x [][]float64, alpha float64) (float64, error) {
	n, d := len(x), len(x[0])
	xc := centered(x)
	var m int
	var at func(i, j int) float64
	if n <= d {
		m = n
		at = func(i, j int) float64 {
			s := 0.0
			for k := range d {
				s += xc[i][k] * xc[j][k]
			}
			return s
		}
	} else {
		m = d
		at = func(i, j int) float64 {
			s := 0.0
			for k := range n {
				s += xc[k][i] * xc[k][j]
			}
			return s
		}
	}
	a := make([][]float64, m)
	for i := range m {
		a[i] = make([]float64, m)
	}
	for i := range m {
		for j := i; j < m; j++ {
			v := alpha * at(i, j)
			if i == j {
				v++
			}
			a[i][j], a[j][i] = v, v
		}
	}
	return LogDetSPD(a)
}

// GaussianExact is the entropy 0.5·log det(2πe·Σ) of a Gaussian with covariance cov.
func GaussianExact(cov [][]float64) (float64, error) {
	ld, err := LogDetSPD(cov)
	if err != nil {
		return 0, fmt.Errorf("Gaussian entropy: %w", err)
	}
	return 0.5 * (float64(len(cov))*math.Log(2*math.Pi*math.E) + ld), nil
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

// LogDet is the LogDet entropy estimator 0.5·log det(I + beta·Σ) of the sample covariance Σ of x.
func LogDet(x [][]float64, beta float64) (float64, error) {
	n, _, err := dims(x, 2)
	if err != nil {
		return 0, fmt.Errorf("LogDet entropy: %w", err)
	}
	if !(beta > 0) {
		return 0, fmt.Errorf("LogDet entropy: beta must be > 0, got %g", beta)
	}
	ld, err := logDetIPlusGram(x, beta/float64(n-1))
	if err != nil {
		return 0, fmt.Errorf("LogDet entropy: %w", err)
	}
	return 0.5 * ld, nil
}

// Pairwise is the Kolchinsky–Tracey pairwise-distance estimate of the entropy of the mixture
// (1/n)·Σ_i N(x_i, σ²I): d/2·log(2πeσ²) - (1/n)·Σ_i log((1/n)·Σ_j exp(-D_ij)), with D the
// Bhattacharyya (lower bound) or KL (upper bound) distance between the components.
func Pairwise(x [][]float64, sigma float64, kind string) (float64, error) {
	n, d, err := dims(x, 1)
	if err != nil {
		return 0, fmt.Errorf("pairwise entropy: %w", err)
	}
	if !(sigma > 0) {
		return 0, fmt.Errorf("pairwise entropy: sigma must be > 0, got %g", sigma)
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
		total += LogSumExp(logits) - math.Log(float64(n))
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
	return Digamma(float64(n)) - Digamma(float64(k)) + logVd + float64(d)*sumLog/float64(n), nil
}

// MutualInfoLowerBound is H(Z) - H(Z|Z') with both entropies Gaussian (ridge eps): H(Z) from z1 and
// H(Z|Z') from the residual z1 - z2.
func MutualInfoLowerBound(z1, z2 [][]float64, eps float64) (float64, error) {
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

// Digamma is ψ(x) = d/dx log Γ(x) for x > 0 (recurrence to x >= 10, then the asymptotic series).
func Digamma(x float64) float64 {
	r := 0.0
	for x < 10 {
		r -= 1 / x
		x++
	}
	f := 1 / (x * x)
	return r + math.Log(x) - 0.5/x - f*(1.0/12-f*(1.0/120-f*(1.0/252-f*(1.0/240-f/132))))
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

// LogSumExp is log Σ exp(v_i), shifted by the maximum for stability.
func LogSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}
