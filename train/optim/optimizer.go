package optim

import (
	"fmt"
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

// Config configures the optimiser of the main parameters (encoder and expander).
type Config struct {
	Kind        string // "lars" (default), "sgd" or "adamw"
	Schedule    Schedule
	WeightDecay float64 // L2 for lars/sgd (added to the gradient), decoupled for adamw
	Momentum    float64 // lars/sgd momentum (0.9)
	Eta         float64 // LARS trust coefficient (0.001 official VICReg, 0.02 solo-learn)
	Clip        bool    // LARS trust-ratio clipping as in solo-learn: q = min(q/lr, 1)
	Beta1       float64 // adamw (0.9)
	Beta2       float64 // adamw (0.999)
	Epsilon     float64 // adamw (1e-8)

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

// Validate reports invalid settings, naming the field.
func (c Config) Validate() error {
	if !slices.Contains(Kinds, c.Kind) {
		return fmt.Errorf("optimizer %q unknown: use one of %s", c.Kind, strings.Join(Kinds, ", "))
	}
	if err := c.Schedule.Validate(); err != nil {
		return err
	}
	if c.WeightDecay < 0 {
		return fmt.Errorf("weight decay %v must be >= 0", c.WeightDecay)
	}
	if c.Momentum < 0 || c.Momentum >= 1 {
		return fmt.Errorf("momentum %v must be in [0, 1)", c.Momentum)
	}
	if c.Kind == "lars" && c.Eta <= 0 {
		return fmt.Errorf("LARS trust coefficient eta %v must be > 0", c.Eta)
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

// New returns the optimiser, or an error naming the invalid setting.
func New(cfg Config) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Optimizer{cfg: cfg}, nil
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
	step := Add(stepVar.ValueGraph(g), OnesLike(stepVar.ValueGraph(g)))
	stepVar.SetValueGraph(step)

	for i, v := range vars {
		grad := grads[i]
		if o.cfg.HeadScope != "" && strings.HasPrefix(v.Scope(), o.cfg.HeadScope) {
			headLR := Scalar(g, dtypes.Float32, o.cfg.HeadLR)
			if o.cfg.HeadScheduled && o.cfg.Schedule.Base > 0 {
				headLR = MulScalar(lr, o.cfg.HeadLR/o.cfg.Schedule.Base)
			} else if o.cfg.HeadScheduled {
				headLR = o.cfg.Schedule.WithBase(o.cfg.HeadLR).Graph(StepVar(ctx).ValueGraph(g))
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
			if !Excluded(v) && o.cfg.WeightDecay > 0 {
				grad = Add(grad, MulScalar(v.ValueGraph(g), o.cfg.WeightDecay))
			}
			o.momentumUpdate(ctx, g, v, grad, lr)
		case "adamw":
			o.adamwUpdate(ctx, g, v, grad, lr, step)
		}
	}
}

// larsUpdate is one LARS update of v, as in the official VICReg code:
//
//	dp = g + wd*w                       (not for excluded variables)
//	q  = eta*||w||/||dp|| if both norms > 0, else 1   (not for excluded variables)
//	q  = min(q/lr, 1)                   (only with Clip, as solo-learn does)
//	mu = momentum*mu + q*dp
//	w  = w - lr*mu
func (o *Optimizer) larsUpdate(ctx *context.Context, g *Graph, v *context.Variable, grad, lr *Node) {
	w := v.ValueGraph(g)
	dp := grad
	if !Excluded(v) {
		if o.cfg.WeightDecay > 0 {
			dp = Add(dp, MulScalar(w, o.cfg.WeightDecay))
		}
		wNorm := L2Norm(w)
		dNorm := L2Norm(dp)
		zero := ZerosLike(wNorm)
		one := OnesLike(wNorm)
		safeD := Where(GreaterThan(dNorm, zero), dNorm, one)
		q := Where(And(GreaterThan(wNorm, zero), GreaterThan(dNorm, zero)),
			MulScalar(Div(wNorm, safeD), o.cfg.Eta), one)
		if o.cfg.Clip {
			safeLR := Where(GreaterThan(lr, ZerosLike(lr)), lr, OnesLike(lr))
			q = Min(Div(q, ConvertDType(safeLR, q.DType())), one)
		}
		dp = Mul(dp, q)
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
