package trainer

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/optim"
)

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

		names := []string{results.KeyLoss}
		outs := []*Node{total}
		for _, t := range terms {
			names = append(names, t.Name)
			outs = append(outs, t.Value)
		}
		lr := opt.LearningRate(ctx, g)
		loss := total
		if net.NumClasses > 0 { // an unlabelled set has no probe: no probe outputs either
			probeLoss, probeAcc := MaskedCrossEntropy(net.ProbeLogits(ctx, f1), labels, nil)
			loss = Add(loss, probeLoss)
			names = append(names, results.KeyProbeLoss, results.KeyProbeBatchAcc)
			outs = append(outs, probeLoss, probeAcc)
		}
		opt.UpdateGraph(ctx, g, loss)
		// Mean over dimensions of the standard deviation of the l2-normalised embedding: 1/sqrt(d)
		// for a well-spread representation, 0 at complete collapse.
		zn := Div(z1, AddScalar(Sqrt(ReduceAndKeep(Square(z1), ReduceSum, -1)), 1e-12))
		centered := Sub(zn, ReduceAndKeep(zn, ReduceMean, 0))
		zStd := ReduceAllMean(Sqrt(ReduceMean(Square(centered), 0)))
		names = append(names, results.KeyLR, results.KeyZStd)
		outs = append(outs, lr, zStd)
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
	var bad error
	for i, o := range outs {
		v, err := scalarFloat(o)
		if err != nil && bad == nil {
			bad = fmt.Errorf("step output %q: %w", s.names[i], err)
		}
		values[s.names[i]] = v
		o.FinalizeAll()
	}
	return values, bad
}

// Compilations returns how many times the step's graph was built (and so compiled): 1 after the
// first Run, and it stays 1.
func (s *Step) Compilations() int { return s.builds }

// Names returns the output names, in order (known after the first Run).
func (s *Step) Names() []string { return s.names }

// Finalize frees the compiled program.
func (s *Step) Finalize() { s.exec.Finalize() }

// MaskedCrossEntropy is the mean softmax cross-entropy and accuracy over the rows with a label
// >= 0 (unlabeled rows carry -1). Unlike GoMLX's masked cross-entropy it stays finite (0) for a
// batch without any labeled row, which STL-10's train+unlabeled split produces. With
// classWeights (nil: none; one per class), the loss is the mean weighted by each row's class
// weight, Σ w·CE / Σ w, as PyTorch's CrossEntropyLoss(weight=...); the accuracy stays unweighted.
func MaskedCrossEntropy(logits, labels *Node, classWeights []float32) (loss, acc *Node) {
	g := logits.Graph()
	classes := logits.Shape().Dimensions[1]
	valid := ConvertDType(GreaterOrEqual(labels, ScalarZero(g, labels.DType())), logits.DType())
	safe := Max(labels, ScalarZero(g, labels.DType()))
	oneHot := OneHot(safe, classes, logits.DType())
	perRow := Neg(ReduceSum(Mul(oneHot, LogSoftmax(logits, -1)), -1))
	count := Max(ReduceAllSum(valid), OnesLike(ReduceAllSum(valid)))
	hit := ConvertDType(Equal(ArgMax(logits, -1, labels.DType()), safe), logits.DType())
	acc = Div(ReduceAllSum(Mul(hit, valid)), count)
	weight := valid
	if classWeights != nil {
		if len(classWeights) != classes {
			panic(fmt.Sprintf("trainer.MaskedCrossEntropy: %d class weights for %d classes", len(classWeights), classes))
		}
		perClass := ConvertDType(Const(g, classWeights), logits.DType())
		weight = Mul(valid, Gather(perClass, InsertAxes(safe, -1)))
		total := ReduceAllSum(weight)
		count = Where(GreaterThan(total, ZerosLike(total)), total, OnesLike(total))
	}
	loss = Div(ReduceAllSum(Mul(perRow, weight)), count)
	return ConvertDType(loss, dtypes.Float32), ConvertDType(acc, dtypes.Float32)
}

// scalarFloat reads a scalar tensor of a float or integer dtype as a float64; any other dtype or
// shape is an error (a programming error in the step's outputs, reported, not read as 0).
func scalarFloat(t *tensors.Tensor) (float64, error) {
	if t.Shape().Rank() != 0 {
		return 0, fmt.Errorf("want a scalar, got %s", t.Shape())
	}
	switch x := t.Value().(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	}
	return 0, fmt.Errorf("unsupported dtype %s", t.DType())
}
