package losses

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
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
	// Beta is the scale β of the LogDet estimator ½·log det(I + β·Σ_Z) (vicreg-logdet). Default
	// Auto (0, stored in JSON as "auto"): β = d/tr(Σ_Z) from each batch, without gradient, so that
	// β·Σ_Z has mean eigenvalue 1 at any embedding scale (MCR²'s coding-rate normalisation; see
	// AutoBeta). A value > 0 is used as given (1 was the default before: right for unit variances).
	Beta float64
	// Sigma is the kernel width σ of the pairwise-distance estimator (vicreg-pairdist). Default 1.
	// Scaling the embeddings by a turns the loss at (σ, w) into a² times the loss at (σ/a, w/a²),
	// so at a given Lambda only EntropyWeight/σ² matters; on MNIST it trains at 1 and above and
	// falls off below (docs/paper.md). Auto (0, stored in JSON as "auto") is σ² = m²/(2·ln n), m²
	// the median squared distance between the batch's embeddings, without gradient (see
	// AutoSigma): the estimate is then saturated at neither end at any scale, but as a training
	// objective it failed (docs/paper.md: MNIST, 2 epochs, 5 seeds, linear probe 76.4% against
	// 96.2% at σ = 1).
	Sigma float64
	// PairDistance is Bhattacharyya ("bhattacharyya", default) or KL ("kl").
	PairDistance string
	// BarlowLambda is Barlow Twins' off-diagonal weight (0.0051, Zbontar et al. 2021).
	BarlowLambda float64
	// Temperature is SimCLR's NT-Xent temperature τ. Default 0.2, solo-learn's CIFAR value
	// (SimCLR's paper uses 0.1 for ImageNet at large batch and 0.5 for CIFAR-10).
	Temperature float64
}

// Auto, as the value of Params.Beta or Params.Sigma (or the beta and sigma arguments of
// LogDetEntropy and PairwiseEntropy), selects the scale-aware value computed from each batch
// (AutoBeta, AutoSigma). Params' JSON form writes it as the string AutoJSON.
const Auto = 0

// AutoJSON is how Params' JSON form (as stored in checkpoints) writes Beta or Sigma = Auto, so the
// stored value says what it means; a number there is an explicit value.
const AutoJSON = "auto"

// Defaults returns the published hyperparameters (see each field for its source).
func Defaults() Params {
	return Params{
		Lambda: 25, Mu: 25, Nu: 1, Gamma: 1, Eps: 1e-4,
		VarianceConvention: VarianceSum,
		EntropyWeight:      1,
		Beta:               Auto,
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

// ParamError is a hyperparameter outside its range; Field is its name in Params.
type ParamError struct {
	Field string
	Msg   string // what is wrong: "must be > 0, got 0"
}

func (e *ParamError) Error() string { return "parameter " + e.Field + " " + e.Msg }

// Validate checks every hyperparameter, whichever objectives use it, returning a *ParamError for
// the first out of its range: for a complete set, such as a run's configuration, where a bad value
// is a mistake even for a parameter the chosen objective ignores. New checks only the
// parameters of its objective.
func (p Params) Validate() error {
	for _, name := range Names() {
		if err := p.validate(name); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the hyperparameters that objective name uses.
func (p Params) validate(name string) error {
	positive := func(field string, v float64) error {
		if !(v > 0) || math.IsInf(v, 0) {
			return &ParamError{field, fmt.Sprintf("must be a finite number > 0, got %g", v)}
		}
		return nil
	}
	scale := func(field string, v float64) error {
		if !(v >= 0) || math.IsInf(v, 0) {
			return &ParamError{field, fmt.Sprintf("must be > 0, or 0 (%q) for the scale-aware value, got %g", AutoJSON, v)}
		}
		return nil
	}
	nonNegative := func(field string, v float64) error {
		if !(v >= 0) || math.IsInf(v, 0) {
			return &ParamError{field, fmt.Sprintf("must be a finite number >= 0, got %g", v)}
		}
		return nil
	}
	var errs []error
	switch name {
	case NameVICReg:
		errs = append(errs, nonNegative("Lambda", p.Lambda), nonNegative("Mu", p.Mu), nonNegative("Nu", p.Nu),
			positive("Gamma", p.Gamma), positive("Eps", p.Eps))
		if p.VarianceConvention != VarianceSum && p.VarianceConvention != VarianceHalf {
			errs = append(errs, &ParamError{"VarianceConvention", fmt.Sprintf("must be %q or %q, got %q",
				VarianceSum, VarianceHalf, p.VarianceConvention)})
		}
	case NameVICRegLogDet:
		errs = append(errs, nonNegative("Lambda", p.Lambda), nonNegative("EntropyWeight", p.EntropyWeight),
			scale("Beta", p.Beta))
	case NameVICRegPairDist:
		errs = append(errs, nonNegative("Lambda", p.Lambda), nonNegative("EntropyWeight", p.EntropyWeight),
			scale("Sigma", p.Sigma))
		if p.PairDistance != Bhattacharyya && p.PairDistance != KL {
			errs = append(errs, &ParamError{"PairDistance", fmt.Sprintf("must be %q or %q, got %q",
				Bhattacharyya, KL, p.PairDistance)})
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

// scaleJSON is the JSON form of Beta and Sigma: AutoJSON for Auto, a number otherwise.
type scaleJSON float64

// MarshalJSON implements json.Marshaler.
func (s scaleJSON) MarshalJSON() ([]byte, error) {
	if s == Auto {
		return json.Marshal(AutoJSON)
	}
	return json.Marshal(float64(s))
}

// UnmarshalJSON implements json.Unmarshaler: AutoJSON or a number.
func (s *scaleJSON) UnmarshalJSON(data []byte) error {
	var text string
	if json.Unmarshal(data, &text) == nil && text == AutoJSON {
		*s = Auto
		return nil
	}
	var v float64
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("want a number or %q, got %s", AutoJSON, data)
	}
	*s = scaleJSON(v)
	return nil
}

// MarshalJSON implements json.Marshaler. Fields keep their Go names; Beta and Sigma are written as
// AutoJSON ("auto") when they are Auto, and as numbers otherwise.
func (p Params) MarshalJSON() ([]byte, error) {
	type plain Params // the same fields, without these methods
	return json.Marshal(struct {
		plain
		Beta  scaleJSON
		Sigma scaleJSON
	}{plain(p), scaleJSON(p.Beta), scaleJSON(p.Sigma)})
}

// UnmarshalJSON implements json.Unmarshaler, the inverse of MarshalJSON; Beta and Sigma accept
// AutoJSON or a number. Fields absent from data keep their values; an unknown key is an error.
func (p *Params) UnmarshalJSON(data []byte) error {
	type plain Params
	aux := struct {
		*plain
		Beta  *scaleJSON
		Sigma *scaleJSON
	}{(*plain)(p), (*scaleJSON)(&p.Beta), (*scaleJSON)(&p.Sigma)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt key must not pass silently for the default
	if err := dec.Decode(&aux); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			// Name the key as it is written ("Lambda"), not through aux's embedded field; returned
			// as is, so that an enclosing decoder prefixes its own path ("loss_params.Lambda").
			te.Field = strings.TrimPrefix(te.Field, "plain.")
			return te
		}
		return fmt.Errorf("loss parameters: %w", err)
	}
	return nil
}

// ScaleFlag returns a flag.Value for Params.Beta or Params.Sigma that accepts AutoJSON ("auto") or
// a number (0 also means Auto), e.g. flag.Var(losses.ScaleFlag(&p.Sigma), "sigma", "...").
func ScaleFlag(v *float64) flag.Value {
	return (*scaleFlag)(v)
}

type scaleFlag float64

func (f *scaleFlag) String() string {
	if f == nil || *f == Auto {
		return AutoJSON
	}
	return strconv.FormatFloat(float64(*f), 'g', -1, 64)
}

func (f *scaleFlag) Set(text string) error {
	if text == AutoJSON {
		*f = Auto
		return nil
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("want %q or a number >= 0, got %q", AutoJSON, text)
	}
	*f = scaleFlag(v)
	return nil
}
