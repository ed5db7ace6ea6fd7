package models

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Batch-norm constants, PyTorch's defaults.
const (
	// BatchNormEpsilon is added to the variance before the square root.
	BatchNormEpsilon = 1e-5
	// BatchNormMomentum is the weight of the new batch statistic in the running averages:
	// running = (1 - momentum) * running + momentum * batch.
	BatchNormMomentum = 0.1
)

// BatchNorm normalises x per feature (its last axis) as PyTorch's BatchNorm1d/BatchNorm2d do, for
// x of shape [batch, features] or NHWC [batch, height, width, channels]. Its variables live directly
// in ctx's scope: "weight" (scale, initialised to 1) and "bias" (offset, 0), both trainable, and
// the non-trainable "running_mean" (0) and "running_var" (1). All have the dtype of x.
//
// Training mode (ctx.IsTraining(g), GoMLX's convention): x is normalised with the batch mean and the
// biased batch variance over all axes but the last, and gradients flow through both statistics
// (unlike GoMLX's own non-fused batch norm, which stops them). The running averages are updated in
// the same graph (Variable.SetValueGraph, so context.Exec stores them after the step):
// running_mean ← 0.9·running_mean + 0.1·mean and running_var ← 0.9·running_var + 0.1·var·n/(n−1),
// with the unbiased variance, n the number of values averaged per feature. Calling BatchNorm twice
// with the same variables in one graph (two views) updates the averages twice, as two PyTorch
// forward calls do. Training with n = 1 panics, as PyTorch refuses it.
//
// Eval mode: x is normalised with the running averages. Epsilon is 1e-5.
//
// Mixed precision: for bfloat16 (or float16) x, everything above is computed in float32 on
// float32 variables, and only the result is cast back to x's dtype.
//
// Multi-device: the statistics are those of the whole batch the graph is written over. The
// trainer's data parallelism (train/trainer/distribute.go) compiles one program over the global
// batch with XLA's auto-sharding, which splits the batch across devices and inserts the
// all-reduces that batchStats' per-feature sums need: every device normalises with the global
// batch's mean and variance (what PyTorch calls SyncBatchNorm, not plain BatchNorm under DDP), and
// the running averages are the same on every device. Nothing here is computed per device.
func BatchNorm(ctx *context.Context, x *Node) *Node {
	return batchNorm(ctx, x, false)
}

// batchNorm is BatchNorm with the option of initialising the scale to zero (ZeroInitResidual).
func batchNorm(ctx *context.Context, x *Node, zeroScale bool) *Node {
	if x.Rank() != 2 && x.Rank() != 4 {
		panic(fmt.Errorf("models.BatchNorm: input must be [batch, features] or [batch, h, w, c], got %s", x.Shape()))
	}
	if master := MasterDType(x.DType()); master != x.DType() {
		// Mixed precision: statistics, normalisation and variables in float32, output in x's dtype.
		return ConvertDType(batchNorm(ctx, ConvertDType(x, master), zeroScale), x.DType())
	}
	ctx = ctx.Checked(false)
	g := x.Graph()
	dtype := x.DType()
	features := x.Shape().Dimensions[x.Rank()-1]
	varShape := shapes.Make(dtype, features)
	scaleInit := initializers.One
	if zeroScale {
		scaleInit = initializers.Zero
	}
	weight := ctx.WithInitializer(scaleInit).VariableWithShape("weight", varShape).SetTrainable(true)
	bias := ctx.WithInitializer(initializers.Zero).VariableWithShape("bias", varShape).SetTrainable(true)
	runMeanVar := ctx.WithInitializer(initializers.Zero).VariableWithShape("running_mean", varShape).SetTrainable(false)
	runVarVar := ctx.WithInitializer(initializers.One).VariableWithShape("running_var", varShape).SetTrainable(false)

	var mean, variance *Node
	if ctx.IsTraining(g) {
		var n int
		mean, variance, n = batchStats(x)
		if n < 2 {
			panic(fmt.Errorf("models.BatchNorm: training needs more than 1 value per feature, got input %s", x.Shape()))
		}
		momentum := Scalar(g, dtype, BatchNormMomentum)
		keep := OneMinus(momentum)
		unbiased := MulScalar(StopGradient(variance), float64(n)/float64(n-1))
		runMeanVar.SetValueGraph(Add(Mul(keep, runMeanVar.ValueGraph(g)), Mul(momentum, StopGradient(mean))))
		runVarVar.SetValueGraph(Add(Mul(keep, runVarVar.ValueGraph(g)), Mul(momentum, unbiased)))
	} else {
		mean, variance = runMeanVar.ValueGraph(g), runVarVar.ValueGraph(g)
	}
	// y = (x - mean) * scale + bias with scale = weight / sqrt(var + eps), per feature (last axis).
	// The centring uses the mean without its gradient; the zero-valued per-feature term
	// scale·(mean − mean), one side stopped, carries it instead: its gradient with respect to the
	// mean is −scale·Σdy, built from the Σdy that bias's gradient needs anyway, which saves the
	// backward pass one reduction over the whole activation (18% of batch norm's time measured at
	// [256, 32, 32, 64]). In eval mode the term is zero and has no gradient that matters.
	scale := Div(weight.ValueGraph(g), Sqrt(AddScalar(variance, BatchNormEpsilon)))
	fixedMean := StopGradient(mean)
	offset := Add(bias.ValueGraph(g), Mul(scale, Sub(fixedMean, mean)))
	return Add(Mul(Sub(x, channelBroadcast(fixedMean, x)), channelBroadcast(scale, x)), channelBroadcast(offset, x))
}

// batchStats returns the per-feature mean and biased variance of x over all axes but the last,
// both shaped [features], and the number of values averaged per feature. The variance is computed
// from the centred values (two passes), which stays accurate when the mean is large against the
// spread, unlike E[x²] − E[x]². It centres with the mean's gradient stopped, which changes no
// gradient: the variance's derivative with respect to the mean, −2·Σ(x − mean)/n, is zero.
func batchStats(x *Node) (mean, variance *Node, n int) {
	n = x.Shape().Size() / x.Shape().Dimensions[x.Rank()-1]
	mean = DivScalar(channelSum(x), float64(n))
	variance = DivScalar(channelSum(Square(Sub(x, channelBroadcast(StopGradient(mean), x)))), float64(n))
	return mean, variance, n
}

// wideRow is the least row width, in elements, that channelSum and channelBroadcast give the
// reductions they make. XLA's CPU code for a reduction over the rows of an [m, c] matrix is several
// times slower for narrow rows (c = 16 … 256 channels) than for the same data viewed as
// [m/k, k·c] rows of at least a thousand elements (measured on [256, 32, 32, 64]: 35 ms against
// 6 ms, the second at memory speed); the per-channel sums are then k partial sums of each channel.
const wideRow = 1024

// widening returns the k by which channelSum views x's [m, c] values as [m/k, k·c]: the least power
// of two that makes k·c ≥ wideRow, limited to powers of two that divide m.
func widening(c, m int) int {
	k := 1
	for k*c < wideRow && m%(2*k) == 0 {
		k *= 2
	}
	return k
}

// channelSum returns the sums of x over all axes but the last (shape [c]), as a reduction over
// wide rows (see wideRow). Its gradient is channelBroadcast's broadcast, element-wise work.
func channelSum(x *Node) *Node {
	c := x.Shape().Dimensions[x.Rank()-1]
	m := x.Shape().Size() / c
	k := widening(c, m)
	sums := ReduceSum(Reshape(x, m/k, k*c), 0)
	if k > 1 {
		sums = ReduceSum(Reshape(sums, k, c), 0)
	}
	return sums
}

// channelBroadcast returns v (shape [c]) broadcast to the shape of like (whose last axis is c). It
// tiles v k times into a wide row and broadcasts that row, so that its gradient (autodiff reduces
// over the broadcast axes) is the same fast wide-row reduction as channelSum's, not XLA's slow
// reduction over narrow rows: in batch norm's backward pass these reductions are most of the work.
func channelBroadcast(v, like *Node) *Node {
	dims := like.Shape().Dimensions
	c := dims[len(dims)-1]
	m := like.Shape().Size() / c
	k := widening(c, m)
	row := v
	if k > 1 {
		row = Reshape(BroadcastToDims(Reshape(v, 1, c), k, c), k*c)
	}
	return Reshape(BroadcastToDims(Reshape(row, 1, k*c), m/k, k*c), dims...)
}
