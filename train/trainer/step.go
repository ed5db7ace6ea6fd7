package trainer

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/gomlx-ssl/vicreg/linalg"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/optim"
)

// Scopes of the model's parts in the context (and so in checkpoints).
const (
	EncoderScope  = "encoder"
	ExpanderScope = "expander"
	ProbeScope    = "probe"
)

// Network is the pretraining network: encoder, expander and the online linear probe.
type Network struct {
	Model      models.Config
	Expander   []int
	NumClasses int // 0: no online probe (unlabeled data)
	Objective  losses.Objective
	// Precision is the compute precision of the encoder and expander: "f32" (or "") or "bf16"
	// (see Precisions). Variables are float32 in both.
	Precision string
}

// Embed returns the encoder's representation (float32) of images in ctx's training mode for
// images' graph, computed in n's precision.
func (n *Network) Embed(ctx *context.Context, images *Node) *Node {
	return toFloat32(models.Encoder(ctx.In(EncoderScope), n.Model, n.toCompute(images)))
}

// Project returns the expander's output (float32) on features, computed in n's precision.
func (n *Network) Project(ctx *context.Context, features *Node) *Node {
	return toFloat32(models.Expander(ctx.In(ExpanderScope), n.Expander, n.toCompute(features)))
}

// ProbeLogits is the online linear probe on detached representations: no gradient reaches the
// encoder through it.
func (n *Network) ProbeLogits(ctx *context.Context, features *Node) *Node {
	ctx = ctx.In(ProbeScope)
	g := features.Graph()
	x := StopGradient(features)
	dims := shapes.Make(x.DType(), x.Shape().Dimensions[1], n.NumClasses)
	w := ctx.VariableWithShape("weights", dims).ValueGraph(g)
	b := ctx.WithInitializer(initializers.Zero).VariableWithShape("biases", shapes.Make(x.DType(), n.NumClasses)).ValueGraph(g)
	return Add(linalg.MatMul(x, w), InsertAxes(b, 0))
}

// Step is the compiled training step: both views forward, the objective, the backward pass and the
// optimiser update, in one program.
type Step struct {
	exec   *context.Exec
	names  []string
	builds int
	dist   *dataParallel // nil: one device
}

// NewStep builds (lazily: XLA compiles on the first call) the training step on one device.
func NewStep(b backends.Backend, ctx *context.Context, net *Network, opt *optim.Optimizer) (*Step, error) {
	return NewStepOn(b, ctx, net, opt, 1)
}

// NewStepOn is NewStep over the first devices devices of b, data-parallel: see dataParallel. With
// devices = 1 it is NewStep. The batch size must be a multiple of devices.
func NewStepOn(b backends.Backend, ctx *context.Context, net *Network, opt *optim.Optimizer, devices int) (*Step, error) {
	s := &Step{}
	exec, err := context.NewExec(b, ctx.Checked(false), func(ctx *context.Context, view1, view2, labels *Node) []*Node {
		s.builds++
		g := view1.Graph()
		ctx.SetTraining(g, true)
		f1 := net.Embed(ctx, view1)
		f2 := net.Embed(ctx, view2)
		z1 := net.Project(ctx, f1)
		z2 := net.Project(ctx, f2)
		total, terms := net.Objective.Loss(z1, z2)

		names := []string{"loss"}
		outs := []*Node{total}
		for _, t := range terms {
			names = append(names, t.Name)
			outs = append(outs, t.Value)
		}
		lr := opt.LearningRate(ctx, g)
		loss := total
		probeLoss, probeAcc := ScalarZero(g, dtypes.Float32), ScalarZero(g, dtypes.Float32)
		if net.NumClasses > 0 {
			probeLoss, probeAcc = maskedCrossEntropy(net.ProbeLogits(ctx, f1), labels)
			loss = Add(loss, probeLoss)
		}
		opt.UpdateGraph(ctx, g, loss)
		// Mean over dimensions of the standard deviation of the l2-normalised embedding: 1/sqrt(d)
		// for a well-spread representation, 0 at complete collapse.
		zn := Div(z1, AddScalar(Sqrt(ReduceAndKeep(Square(z1), ReduceSum, -1)), 1e-12))
		centered := Sub(zn, ReduceAndKeep(zn, ReduceMean, 0))
		zStd := ReduceAllMean(Sqrt(ReduceMean(Square(centered), 0)))
		names = append(names, "probe_loss", "probe_batch_acc", "lr", "z_std")
		outs = append(outs, probeLoss, probeAcc, lr, zStd)
		s.names = names
		return outs
	})
	if err != nil {
		return nil, fmt.Errorf("building the training step: %w", err)
	}
	// One program only: a batch of another shape is an error, never a silent recompilation.
	s.exec = exec.SetMaxCache(1)
	if devices != 1 {
		if s.dist, err = distribute(b, s.exec, devices); err != nil {
			s.exec.Finalize()
			return nil, err
		}
	}
	return s, nil
}

// Run executes one step on view1, view2 ([batch, h, w, c] float32 tensors) and labels ([batch]
// int32) and returns its outputs by name.
func (s *Step) Run(view1, view2, labels any) (map[string]float64, error) {
	var outs []*tensors.Tensor
	var err error
	if s.dist != nil {
		outs, err = s.dist.exec(s.exec, view1, view2, labels)
	} else {
		outs, err = s.exec.Exec(view1, view2, labels)
	}
	if err != nil {
		return nil, err
	}
	values := make(map[string]float64, len(outs))
	for i, o := range outs {
		values[s.names[i]] = scalarFloat(o.Value())
		o.FinalizeAll()
	}
	return values, nil
}

// Compilations returns how many times the step's graph was built (and so compiled): 1 after the
// first Run, and it stays 1.
func (s *Step) Compilations() int { return s.builds }

// Names returns the output names, in order (known after the first Run).
func (s *Step) Names() []string { return s.names }

// Finalize frees the compiled program.
func (s *Step) Finalize() { s.exec.Finalize() }

// maskedCrossEntropy is the mean softmax cross-entropy and accuracy over the rows with a label
// >= 0 (unlabeled rows carry -1). Unlike GoMLX's masked cross-entropy it stays finite (0) for a
// batch without any labeled row, which STL-10's train+unlabeled split produces.
func maskedCrossEntropy(logits, labels *Node) (loss, acc *Node) {
	g := logits.Graph()
	classes := logits.Shape().Dimensions[1]
	valid := ConvertDType(GreaterOrEqual(labels, ScalarZero(g, labels.DType())), logits.DType())
	safe := Max(labels, ScalarZero(g, labels.DType()))
	oneHot := OneHot(safe, classes, logits.DType())
	perRow := Neg(ReduceSum(Mul(oneHot, LogSoftmax(logits, -1)), -1))
	count := Max(ReduceAllSum(valid), OnesLike(ReduceAllSum(valid)))
	loss = Div(ReduceAllSum(Mul(perRow, valid)), count)
	hit := ConvertDType(Equal(ArgMax(logits, -1, labels.DType()), safe), logits.DType())
	acc = Div(ReduceAllSum(Mul(hit, valid)), count)
	return ConvertDType(loss, dtypes.Float32), ConvertDType(acc, dtypes.Float32)
}

func scalarFloat(v any) float64 {
	switch x := v.(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	}
	return 0
}
