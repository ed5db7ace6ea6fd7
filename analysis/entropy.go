package analysis

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/losses/entropy"
)

// EntropyConfig holds the hyperparameters of the entropy estimators (assumption A3).
type EntropyConfig struct {
	// Eps is the ridge of the Gaussian entropy (and of the mutual-information bound).
	Eps float64 `json:"eps"`
	// Beta is the scale of the LogDet estimator; 0 (losses.Auto) is the scale-aware d/tr(Σ_Z) of
	// the embeddings (losses.AutoBeta).
	Beta float64 `json:"beta"`
	// Sigma is the kernel width of the pairwise-distance estimators; 0 (losses.Auto) is the
	// scale-aware width from the embeddings' median pairwise distance (losses.AutoSigma).
	Sigma float64 `json:"sigma"`
	// KNNK is the neighbour rank of the Kozachenko–Leonenko estimator.
	KNNK int `json:"knn_k"`
}

// EntropyResult holds every entropy estimate (nats) of one set of held-out embeddings, and the
// lower bound on the mutual information between two views.
type EntropyResult struct {
	N int `json:"n"`
	D int `json:"d"`
	// Beta and Sigma are the LogDet scale and the pairwise kernel width used: the configured ones,
	// or the scale-aware values computed from the embeddings when those are 0 (losses.Auto).
	Beta  float64 `json:"beta"`
	Sigma float64 `json:"sigma"`
	// Graph estimators of package losses, on the embeddings Z of the unaugmented images.
	Gaussian      float64 `json:"gaussian"`
	LogDet        float64 `json:"logdet"`
	PairwiseLower float64 `json:"pairwise_bhattacharyya"`
	PairwiseUpper float64 `json:"pairwise_kl"`
	// PairwiseMax = d/2·log(2πeσ²) + log n is the largest value the pairwise estimators can take
	// (all points mutually far apart relative to σ): an estimate near it is saturated, and says
	// more about σ than about the embeddings.
	PairwiseMax float64 `json:"pairwise_max"`
	// KNN is the host Kozachenko–Leonenko estimate (losses/entropy).
	KNN float64 `json:"knn"`
	// GaussianMutualInfo is H(Z) - H(Z|Z') (losses.GaussianMutualInfo, a lower bound on
	// I(Z;Z') only where Z is Gaussian) between the embeddings
	// of two augmented views of the same images; ConditionalGaussian is its H(Z|Z') part (the
	// Gaussian entropy of the residual Z - Z') and ViewGaussian its H(Z) part (both recomputed on
	// the host in float64 with losses/entropy).
	GaussianMutualInfo  float64 `json:"mutual_info_gaussian"`
	ViewGaussian        float64 `json:"view_gaussian"`
	ConditionalGaussian float64 `json:"conditional_gaussian"`
	// LogDetCovariance is log det(Σ_Z + Eps·I) and SumLogVariance Σ_j log(Σ_jj + Eps): by Hadamard's
	// inequality the first is at most the second, with equality for decorrelated features.
	LogDetCovariance float64 `json:"logdet_covariance"`
	SumLogVariance   float64 `json:"sum_log_variance"`
	// Errors names the estimators that failed (e.g. kNN on duplicate embeddings), by name.
	Errors map[string]string `json:"errors,omitempty"`
}

// Entropies runs the estimators on z (n rows of d, the embeddings of unaugmented held-out images)
// and the mutual-information bound on z1, z2 (the embeddings of two views of the same images).
// The graph estimators run on backend b.
func Entropies(b backends.Backend, z, z1, z2 [][]float64, cfg EntropyConfig) (EntropyResult, error) {
	e, err := newEntropyEstimator(b, cfg)
	if err != nil {
		return EntropyResult{}, err
	}
	defer e.exec.Finalize()
	return e.run(z, z1, z2)
}

// entropyEstimator holds the compiled graph estimators, reused across models of the same shape.
type entropyEstimator struct {
	cfg  EntropyConfig
	exec *Exec
}

func newEntropyEstimator(b backends.Backend, cfg EntropyConfig) (*entropyEstimator, error) {
	exec, err := NewExec(b, func(z, z1, z2 *Node) []*Node {
		beta, sigma := Scalar(z.Graph(), z.DType(), cfg.Beta), Scalar(z.Graph(), z.DType(), cfg.Sigma)
		if cfg.Beta == losses.Auto {
			beta = losses.AutoBeta(z)
		}
		if cfg.Sigma == losses.Auto {
			sigma = losses.AutoSigma(z)
		}
		return []*Node{
			losses.GaussianEntropy(z, cfg.Eps),
			losses.LogDetEntropy(z, cfg.Beta),
			losses.PairwiseEntropy(z, cfg.Sigma, losses.Bhattacharyya),
			losses.PairwiseEntropy(z, cfg.Sigma, losses.KL),
			losses.GaussianMutualInfo(z1, z2, cfg.Eps),
			beta, sigma,
		}
	})
	if err != nil {
		return nil, fmt.Errorf("entropy estimators: %w", err)
	}
	return &entropyEstimator{cfg: cfg, exec: exec}, nil
}

func (e *entropyEstimator) run(z, z1, z2 [][]float64) (EntropyResult, error) {
	cfg := e.cfg
	n := len(z)
	if n < 2 || len(z1) < 2 || len(z1) != len(z2) {
		return EntropyResult{}, fmt.Errorf("entropy: need at least 2 embeddings and two views of equal size (got %d, %d, %d)", n, len(z1), len(z2))
	}
	d := len(z[0])
	r := EntropyResult{N: n, D: d, Errors: map[string]string{}}
	outs, err := e.exec.Exec(toTensor(z), toTensor(z1), toTensor(z2))
	if err != nil {
		return r, fmt.Errorf("entropy estimators: %w", err)
	}
	vals := make([]float64, len(outs))
	for i, o := range outs {
		vals[i] = scalar(o)
		o.FinalizeAll()
	}
	r.Gaussian, r.LogDet, r.PairwiseLower, r.PairwiseUpper = vals[0], vals[1], vals[2], vals[3]
	r.GaussianMutualInfo = vals[4]
	r.Beta, r.Sigma = vals[5], vals[6]
	// The two parts of the bound, on the host in float64 (entropy.Gaussian, the same formula).
	res := make([][]float64, n)
	for i := range res {
		res[i] = make([]float64, d)
		for j := range d {
			res[i][j] = z1[i][j] - z2[i][j]
		}
	}
	if r.ViewGaussian, err = entropy.Gaussian(z1, cfg.Eps); err != nil {
		r.ViewGaussian = math.NaN()
		r.Errors["view_gaussian"] = err.Error()
	}
	if r.ConditionalGaussian, err = entropy.Gaussian(res, cfg.Eps); err != nil {
		r.ConditionalGaussian = math.NaN()
		r.Errors["conditional_gaussian"] = err.Error()
	}
	// Largest value of the pairwise estimators: every pair of points far apart relative to σ.
	r.PairwiseMax = 0.5*float64(d)*math.Log(2*math.Pi*math.E*r.Sigma*r.Sigma) + math.Log(float64(n))
	r.LogDetCovariance = 2*r.Gaussian - float64(d)*math.Log(2*math.Pi*math.E)
	if cov, err := entropy.Covariance(z); err == nil {
		for j := range d {
			r.SumLogVariance += math.Log(cov.At(j, j) + cfg.Eps)
		}
	}
	if r.KNN, err = entropy.KNN(z, cfg.KNNK); err != nil {
		r.KNN = math.NaN()
		r.Errors["knn"] = err.Error()
	}
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
	return r, nil
}

func toTensor(x [][]float64) *tensors.Tensor {
	n, d := len(x), len(x[0])
	flat := make([]float32, 0, n*d)
	for _, row := range x {
		for _, v := range row {
			flat = append(flat, float32(v))
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, n, d)
}

func scalar(t *tensors.Tensor) float64 {
	switch t.DType() {
	case dtypes.Float32:
		return float64(tensors.MustCopyFlatData[float32](t)[0])
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t)[0]
	}
	return math.NaN()
}
