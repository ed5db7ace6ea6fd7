package optim

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// Kinds lists the optimiser names Config.Kind accepts.
var Kinds = []string{"lars", "sgd", "adamw"}

// Scope is the context scope under which optimiser state (momentum buffers, moments) lives.
const Scope = "optim"

// AdamW's defaults (PyTorch's), used where Config leaves Beta1, Beta2 or Epsilon at zero.
const (
	DefaultBeta1   = 0.9
	DefaultBeta2   = 0.999
	DefaultEpsilon = 1e-8
)

// LARSEpsilon is the constant in the denominator of solo-learn's LARS trust ratio (Config.Clip).
const LARSEpsilon = 1e-8

// Config configures the optimiser of the main parameters (encoder and expander).
type Config struct {
	Kind        string // "lars" (default), "sgd" or "adamw"
	Schedule    Schedule
	WeightDecay float64 // L2 for lars/sgd (added to the gradient), decoupled for adamw
	Momentum    float64 // lars/sgd momentum (0.9)
	Eta         float64 // LARS trust coefficient η (0.001 official VICReg, 0.02 solo-learn)
	// Clip selects solo-learn's LARS (its trust ratio, and clipping it as min(ratio/lr, 1)); false
	// is the official VICReg LARS. See larsUpdate for both formulas.
	Clip bool
	// DecayAll adds sgd's weight decay to every variable, biases and normalisation parameters
	// too, as torch.optim.SGD's weight_decay does over all the parameters it is given (the
	// official evaluate.py fine-tunes the backbone so); false leaves Excluded variables undecayed.
	DecayAll bool
	Beta1    float64 // adamw β₁; 0 means DefaultBeta1 (0.9)
	Beta2    float64 // adamw β₂; 0 means DefaultBeta2 (0.999)
	Epsilon  float64 // adamw ε; 0 means DefaultEpsilon (1e-8)

	// The variables under HeadScope (when not empty) form a second parameter group: the online
	// linear probe during pretraining, the classifier when fine-tuning. They are trained with SGD
	// with momentum at HeadLR: constant and without weight decay by default (the online probe);
	// with HeadScheduled, HeadLR follows the schedule's shape (HeadLR·lr(t)/Schedule.Base, PyTorch's
	// param groups under one scheduler) and HeadWeightDecay is added to the gradient (evaluate.py's
	// classifier).
	HeadScope       string
	HeadLR          float64
	HeadScheduled   bool
	HeadWeightDecay float64
}

// withDefaults returns c with AdamW's zero settings replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.Beta1 == 0 {
		c.Beta1 = DefaultBeta1
	}
	if c.Beta2 == 0 {
		c.Beta2 = DefaultBeta2
	}
	if c.Epsilon == 0 {
		c.Epsilon = DefaultEpsilon
	}
	return c
}

// Names of the settings a FieldError blames (FieldError.Field): a fixed set, one per setting of
// Config and Schedule that Validate checks.
const (
	FieldKind          = "kind"           // Config.Kind
	FieldLR            = "lr"             // Config.Schedule.Base, the peak learning rate
	FieldTotalSteps    = "total_steps"    // Config.Schedule.TotalSteps
	FieldWarmupSteps   = "warmup_steps"   // Config.Schedule.WarmupSteps
	FieldFinalFraction = "final_fraction" // Config.Schedule.FinalFraction
	FieldWeightDecay   = "weight_decay"   // Config.WeightDecay
	FieldMomentum      = "momentum"       // Config.Momentum
	FieldEta           = "eta"            // Config.Eta (LARS)
	FieldBeta1         = "beta1"          // Config.Beta1 (AdamW)
	FieldBeta2         = "beta2"          // Config.Beta2 (AdamW)
	FieldEpsilon       = "epsilon"        // Config.Epsilon (AdamW)
	FieldHeadLR        = "head_lr"        // Config.HeadLR
)

// FieldError is the error Config.Validate and Schedule.Validate return: Field names the setting at
// fault (one of the Field constants), so a caller can blame its own flag or key without reading
// the message, and Message says what is wrong and what is valid.
type FieldError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Message }

func fieldError(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate reports the first invalid setting as a *FieldError naming it. Zero AdamW settings
// stand for their defaults and are valid.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case !slices.Contains(Kinds, c.Kind):
		return fieldError(FieldKind, "optimizer %q unknown: use one of %s", c.Kind, strings.Join(Kinds, ", "))
	}
	if err := c.Schedule.Validate(); err != nil {
		return err
	}
	switch {
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fieldError(FieldWeightDecay, "weight decay %v must be a finite number >= 0", c.WeightDecay)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return fieldError(FieldMomentum, "momentum %v must be in [0, 1)", c.Momentum)
	case c.Kind == "lars" && (!(c.Eta > 0) || math.IsInf(c.Eta, 0)):
		return fieldError(FieldEta, "LARS trust coefficient eta %v must be a finite number > 0", c.Eta)
	case c.Kind == "adamw" && !(c.Beta1 > 0 && c.Beta1 < 1):
		return fieldError(FieldBeta1, "AdamW beta1 %v must be in (0, 1) (0 means %v)", c.Beta1, DefaultBeta1)
	case c.Kind == "adamw" && !(c.Beta2 > 0 && c.Beta2 < 1):
		return fieldError(FieldBeta2, "AdamW beta2 %v must be in (0, 1) (0 means %v)", c.Beta2, DefaultBeta2)
	case c.Kind == "adamw" && (!(c.Epsilon > 0) || math.IsInf(c.Epsilon, 0)):
		return fieldError(FieldEpsilon, "AdamW epsilon %v must be a finite number > 0 (0 means %v)", c.Epsilon, DefaultEpsilon)
	case c.HeadScope != "" && (!(c.HeadLR >= 0) || math.IsInf(c.HeadLR, 0)):
		return fieldError(FieldHeadLR, "head learning rate %v must be a finite number >= 0", c.HeadLR)
	}
	return nil
}

// Excluded reports whether a variable is excluded from weight decay and LARS adaptation: biases
// and normalisation parameters, that is every variable with fewer than two axes (as in the
// reference implementations, which filter on p.ndim == 1).
func Excluded(v *context.Variable) bool {
	return v.Shape().Rank() < 2
}

// Optimizer implements optimizers.Interface.
type Optimizer struct {
	cfg Config
}

// New returns the optimiser, or the *FieldError of the invalid setting (see Validate).
func New(cfg Config) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Optimizer{cfg: cfg.withDefaults()}, nil
}

var _ optimizers.Interface = (*Optimizer)(nil)

// StepVar returns the variable that counts the updates taken so far (GoMLX's global step).
func StepVar(ctx *context.Context) *context.Variable {
	return optimizers.GetGlobalStepVar(ctx.InAbsPath(context.RootScope))
}

// LearningRate returns, inside a training graph, the learning rate the next update uses (before
// the step counter is incremented).
func (o *Optimizer) LearningRate(ctx *context.Context, g *Graph) *Node {
	return o.cfg.Schedule.Graph(StepVar(ctx).ValueGraph(g))
}

// UpdateGraph implements optimizers.Interface: it differentiates loss with respect to every
// trainable variable and updates them, and increments the step counter.
func (o *Optimizer) UpdateGraph(ctx *context.Context, g *Graph, loss *Node) {
	grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
	var vars []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	if len(vars) != len(grads) {
		panic(fmt.Sprintf("optim: %d gradients for %d trainable variables", len(grads), len(vars)))
	}
	lr := o.LearningRate(ctx, g)
	stepVar := StepVar(ctx)
	before := stepVar.ValueGraph(g) // the step this update is, as lr's (counted from 0)
	step := Add(before, OnesLike(before))
	stepVar.SetValueGraph(step)

	for i, v := range vars {
		grad := grads[i]
		if o.cfg.HeadScope != "" && strings.HasPrefix(v.Scope(), o.cfg.HeadScope) {
			headLR := Scalar(g, dtypes.Float32, o.cfg.HeadLR)
			if o.cfg.HeadScheduled && o.cfg.Schedule.Base > 0 {
				headLR = MulScalar(lr, o.cfg.HeadLR/o.cfg.Schedule.Base)
			} else if o.cfg.HeadScheduled {
				headLR = o.cfg.Schedule.WithBase(o.cfg.HeadLR).Graph(before)
			}
			if o.cfg.HeadWeightDecay > 0 {
				grad = Add(grad, MulScalar(v.ValueGraph(g), o.cfg.HeadWeightDecay))
			}
			o.momentumUpdate(ctx, g, v, grad, headLR)
			continue
		}
		switch o.cfg.Kind {
		case "lars":
			o.larsUpdate(ctx, g, v, grad, lr)
		case "sgd":
			if (o.cfg.DecayAll || !Excluded(v)) && o.cfg.WeightDecay > 0 {
				grad = Add(grad, MulScalar(v.ValueGraph(g), o.cfg.WeightDecay))
			}
			o.momentumUpdate(ctx, g, v, grad, lr)
		case "adamw":
			o.adamwUpdate(ctx, g, v, grad, lr, step)
		}
	}
}

// larsUpdate is one LARS update of v. With w the variable, g its gradient, λ the weight decay, η
// the trust coefficient and lr the step's learning rate, for a variable that is not Excluded:
//
// the official VICReg LARS (Clip false):
//
//	dp = g + λw
//	q  = η‖w‖/‖dp‖ if ‖w‖ > 0 and ‖dp‖ > 0, else 1
//	dp = q·dp
//
// solo-learn's LARS (Clip true; its clip_lars_lr and exclude_bias_n_norm_lars options):
//
//	if ‖w‖ > 0 and ‖g‖ > 0:  q = η‖w‖/(‖g‖ + λ‖w‖ + ε), ε = LARSEpsilon
//	                         q = min(q/lr, 1)  (1 when lr = 0: q/lr is +∞)
//	                         dp = q·(g + λw)
//	otherwise:               dp = g            (no weight decay either)
//
// An excluded variable (bias or normalisation parameter) gets dp = g in both. Then, for all,
//
//	mu = momentum·mu + dp
//	w  = w − lr·mu
func (o *Optimizer) larsUpdate(ctx *context.Context, g *Graph, v *context.Variable, grad, lr *Node) {
	if Excluded(v) {
		o.momentumUpdate(ctx, g, v, grad, lr)
		return
	}
	w := v.ValueGraph(g)
	wd := o.cfg.WeightDecay
	wNorm := L2Norm(w)
	zero, one := ZerosLike(wNorm), OnesLike(wNorm)
	positive := func(x *Node) *Node { return GreaterThan(x, zero) }
	safe := func(x *Node) *Node { return Where(positive(x), x, one) } // a divisor that is never 0
	decayed := grad
	if wd > 0 {
		decayed = Add(grad, MulScalar(w, wd))
	}
	var dp *Node
	if !o.cfg.Clip {
		dNorm := L2Norm(decayed)
		q := Where(And(positive(wNorm), positive(dNorm)), MulScalar(Div(wNorm, safe(dNorm)), o.cfg.Eta), one)
		dp = Mul(decayed, q)
	} else {
		gNorm := L2Norm(grad)
		q := MulScalar(Div(wNorm, AddScalar(Add(gNorm, MulScalar(wNorm, wd)), LARSEpsilon)), o.cfg.Eta)
		lrq := ConvertDType(lr, q.DType())
		q = Where(positive(lrq), Min(Div(q, safe(lrq)), one), one)
		dp = Where(And(positive(wNorm), positive(gNorm)), Mul(decayed, q), grad)
	}
	o.momentumUpdate(ctx, g, v, dp, lr)
}

// momentumUpdate: mu = momentum*mu + d; w = w - lr*mu (PyTorch's SGD with momentum, dampening 0).
func (o *Optimizer) momentumUpdate(ctx *context.Context, g *Graph, v *context.Variable, d, lr *Node) {
	w := v.ValueGraph(g)
	if o.cfg.Momentum > 0 {
		buf := stateVar(ctx, v, "momentum")
		mu := Add(MulScalar(buf.ValueGraph(g), o.cfg.Momentum), d)
		buf.SetValueGraph(mu)
		d = mu
	}
	v.SetValueGraph(Sub(w, Mul(ConvertDType(lr, w.DType()), d)))
}

// adamwUpdate is AdamW (Loshchilov and Hutter) with bias correction and decoupled weight decay
// (not applied to excluded variables): w = w - lr*(m_hat/(sqrt(v_hat)+eps) + wd*w).
func (o *Optimizer) adamwUpdate(ctx *context.Context, g *Graph, v *context.Variable, grad, lr, step *Node) {
	w := v.ValueGraph(g)
	m1 := stateVar(ctx, v, "adam_m")
	m2 := stateVar(ctx, v, "adam_v")
	m := Add(MulScalar(m1.ValueGraph(g), o.cfg.Beta1), MulScalar(grad, 1-o.cfg.Beta1))
	s := Add(MulScalar(m2.ValueGraph(g), o.cfg.Beta2), MulScalar(Square(grad), 1-o.cfg.Beta2))
	m1.SetValueGraph(m)
	m2.SetValueGraph(s)
	t := ConvertDType(step, w.DType())
	mHat := Div(m, OneMinus(Pow(Scalar(g, w.DType(), o.cfg.Beta1), t)))
	sHat := Div(s, OneMinus(Pow(Scalar(g, w.DType(), o.cfg.Beta2), t)))
	update := Div(mHat, AddScalar(Sqrt(sHat), o.cfg.Epsilon))
	if !Excluded(v) && o.cfg.WeightDecay > 0 {
		update = Add(update, MulScalar(w, o.cfg.WeightDecay))
	}
	v.SetValueGraph(Sub(w, Mul(ConvertDType(lr, w.DType()), update)))
}

// stateVar returns (creating it as zeros) the optimiser state variable of the given kind for v,
// stored under /optim/<v's scope>/<v's name>_<kind>.
func stateVar(ctx *context.Context, v *context.Variable, kind string) *context.Variable {
	path := context.ScopeSeparator + Scope + v.Scope()
	return ctx.Checked(false).InAbsPath(path).WithInitializer(initializers.Zero).
		VariableWithShape(v.Name()+"_"+kind, v.Shape()).SetTrainable(false)
}

// Clear implements optimizers.Interface: it deletes the optimiser state.
func (o *Optimizer) Clear(ctx *context.Context) error {
	return ctx.InAbsPath(context.ScopeSeparator + Scope).DeleteVariablesInScope()
}
