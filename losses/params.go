package losses

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Term is one named component of an objective, for logging. Value is a scalar node holding the
// unweighted term (the objective's total is the weighted combination documented on each objective).
type Term struct {
	Name  string
	Value *graph.Node
}

// Objective turns the two views' embeddings (each [n, d], float32) into a scalar loss to minimise,
// plus its named terms.
type Objective interface {
	// Name is the name New accepts for this objective.
	Name() string
	// Loss returns the scalar loss to minimise and its unweighted named terms.
	Loss(z1, z2 *graph.Node) (total *graph.Node, terms []Term)
}

// Variance conventions of VICReg (Params.VarianceConvention).
const (
	// VarianceSum is mu·[v(Z) + v(Z')]: the paper's equation and solo-learn.
	VarianceSum = "sum"
	// VarianceHalf is mu·[v(Z) + v(Z')]/2: the official facebookresearch/vicreg code.
	VarianceHalf = "half"
)

// Pairwise distances of the Kolchinsky–Tracey mixture entropy estimator (Params.PairDistance).
const (
	// Bhattacharyya distance ||z_i - z_j||²/(8σ²): a lower bound on the mixture entropy.
	Bhattacharyya = "bhattacharyya"
	// KL divergence ||z_i - z_j||²/(2σ²): an upper bound on the mixture entropy.
	KL = "kl"
)

// Params holds every hyperparameter of every objective. Defaults gives the published values where
// a paper publishes one, and says where a value is our own choice.
type Params struct {
	// Lambda, Mu, Nu weight VICReg's invariance, variance and covariance terms; Gamma is the target
	// standard deviation and Eps the constant under the square root of the variance term.
	// Published defaults: 25, 25, 1, 1, 1e-4. Eps is also the ridge of GaussianEntropy.
	Lambda, Mu, Nu, Gamma, Eps float64
	// VarianceConvention is VarianceSum ("sum", default) or VarianceHalf ("half").
	VarianceConvention string
	// EntropyWeight weighs the entropy estimate (per branch) in vicreg-logdet and vicreg-pairdist,
	// which minimise Lambda·s(Z,Z') - EntropyWeight·[H(Z) + H(Z')]. Default 1 (our choice).
	EntropyWeight float64
	// Beta is the scale of the LogDet estimator 0.5·log det(I + Beta·Σ_Z). Default 1 (our choice:
	// at VICReg's optimum Σ_Z ≈ I, so Beta·Σ_Z is of order one).
	Beta float64
	// Sigma is the kernel width of the pairwise-distance estimator. Default 1 (our choice; squared
	// distances grow like d, so large d may want a larger Sigma).
	Sigma float64
	// PairDistance is Bhattacharyya ("bhattacharyya", default) or KL ("kl").
	PairDistance string
	// BarlowLambda is Barlow Twins' off-diagonal weight (0.0051, Zbontar et al. 2021).
	BarlowLambda float64
	// Temperature is SimCLR's NT-Xent temperature τ. Default 0.2, solo-learn's CIFAR value
	// (SimCLR's paper uses 0.1 for ImageNet at large batch and 0.5 for CIFAR-10).
	Temperature float64
}

// Defaults returns the published hyperparameters (see each field for its source).
func Defaults() Params {
	return Params{
		Lambda: 25, Mu: 25, Nu: 1, Gamma: 1, Eps: 1e-4,
		VarianceConvention: VarianceSum,
		EntropyWeight:      1,
		Beta:               1,
		Sigma:              1,
		PairDistance:       Bhattacharyya,
		BarlowLambda:       0.0051,
		Temperature:        0.2,
	}
}

// Objective names accepted by New.
const (
	NameVICReg         = "vicreg"
	NameVICRegLogDet   = "vicreg-logdet"
	NameVICRegPairDist = "vicreg-pairdist"
	NameBarlow         = "barlow"
	NameSimCLR         = "simclr"
)

// Names returns the names New accepts, in a fixed order.
func Names() []string {
	return []string{NameVICReg, NameVICRegLogDet, NameVICRegPairDist, NameBarlow, NameSimCLR}
}

// New returns the objective called name with hyperparameters p. An unknown name gives an error that
// lists the valid ones; a hyperparameter out of range gives an error that names it.
func New(name string, p Params) (Objective, error) {
	if !slices.Contains(Names(), name) {
		return nil, fmt.Errorf("unknown objective %q: valid names are %s", name, strings.Join(Names(), ", "))
	}
	if err := p.validate(name); err != nil {
		return nil, fmt.Errorf("objective %q: %w", name, err)
	}
	switch name {
	case NameVICReg:
		return &VICReg{p}, nil
	case NameVICRegLogDet:
		return &VICRegLogDet{p}, nil
	case NameVICRegPairDist:
		return &VICRegPairDist{p}, nil
	case NameBarlow:
		return &BarlowTwins{p}, nil
	default:
		return &SimCLR{p}, nil
	}
}

// validate checks the hyperparameters that objective name uses.
func (p Params) validate(name string) error {
	positive := func(field string, v float64) error {
		if !(v > 0) {
			return fmt.Errorf("parameter %s must be > 0, got %g", field, v)
		}
		return nil
	}
	nonNegative := func(field string, v float64) error {
		if !(v >= 0) {
			return fmt.Errorf("parameter %s must be >= 0, got %g", field, v)
		}
		return nil
	}
	var errs []error
	switch name {
	case NameVICReg:
		errs = append(errs, nonNegative("Lambda", p.Lambda), nonNegative("Mu", p.Mu), nonNegative("Nu", p.Nu),
			positive("Gamma", p.Gamma), positive("Eps", p.Eps))
		if p.VarianceConvention != VarianceSum && p.VarianceConvention != VarianceHalf {
			errs = append(errs, fmt.Errorf("parameter VarianceConvention must be %q or %q, got %q",
				VarianceSum, VarianceHalf, p.VarianceConvention))
		}
	case NameVICRegLogDet:
		errs = append(errs, nonNegative("Lambda", p.Lambda), nonNegative("EntropyWeight", p.EntropyWeight),
			positive("Beta", p.Beta))
	case NameVICRegPairDist:
		errs = append(errs, nonNegative("Lambda", p.Lambda), nonNegative("EntropyWeight", p.EntropyWeight),
			positive("Sigma", p.Sigma))
		if p.PairDistance != Bhattacharyya && p.PairDistance != KL {
			errs = append(errs, fmt.Errorf("parameter PairDistance must be %q or %q, got %q",
				Bhattacharyya, KL, p.PairDistance))
		}
	case NameBarlow:
		errs = append(errs, nonNegative("BarlowLambda", p.BarlowLambda))
	case NameSimCLR:
		errs = append(errs, positive("Temperature", p.Temperature))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
