package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

func randomF64(rng *rand.Rand, n int, scale, offset float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = offset + scale*rng.NormFloat64()
	}
	return v
}

// refBatchNormTrain is an independent float64 batch norm in training mode: x is [m, c] row-major
// (NHWC flattened over its leading axes). It returns y, the batch mean and the biased variance.
func refBatchNormTrain(x []float64, c int, w, b []float64) (y, mean, biasedVar []float64) {
	m := len(x) / c
	mean, biasedVar, y = make([]float64, c), make([]float64, c), make([]float64, len(x))
	for j := range c {
		for i := range m {
			mean[j] += x[i*c+j]
		}
		mean[j] /= float64(m)
		for i := range m {
			d := x[i*c+j] - mean[j]
			biasedVar[j] += d * d
		}
		biasedVar[j] /= float64(m)
		for i := range m {
			y[i*c+j] = (x[i*c+j]-mean[j])/math.Sqrt(biasedVar[j]+1e-5)*w[j] + b[j]
		}
	}
	return y, mean, biasedVar
}

// maxAbsDiff returns max |a - b| (+Inf where a difference is NaN, so that tolerance checks fail)
// and max |b|.
func maxAbsDiff(a, b []float64) (worst, scale float64) {
	for i := range a {
		d := math.Abs(a[i] - b[i])
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		worst = max(worst, d)
		scale = max(scale, math.Abs(b[i]))
	}
	return worst, scale
}

// TestBatchNormGradientFiniteDifferences checks, in float64, the gradient of
// L = sum(BatchNorm(x) * r) with respect to x, weight and bias against central finite differences.
// Because the batch statistics depend on x, a batch norm that stopped their gradients (GoMLX's
// non-fused one) would fail this test.
func TestBatchNormGradientFiniteDifferences(t *testing.T) {
	backend := backendtest.Backend(t)
	// {5, 3}: no widening (5 rows); {2, 3, 2, 4}: 4 partial sums per feature; {8, 4, 4, 2}: one
	// row of 128 partial sums per feature (see channelSum).
	for _, dims := range [][]int{{5, 3}, {2, 3, 2, 4}, {8, 4, 4, 2}} {
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(dims))))
			xShape := shapes.Make(dtypes.Float64, dims...)
			c := dims[len(dims)-1]
			x := randomF64(rng, xShape.Size(), 2, 0.5)
			r := randomF64(rng, xShape.Size(), 1, 0)
			ctx := context.New()
			bn := ctx.In("bn")
			weight := bn.VariableWithValue("weight", tensors.FromFlatDataAndDimensions(randomF64(rng, c, 0.3, 1), c))
			bias := bn.VariableWithValue("bias", tensors.FromFlatDataAndDimensions(randomF64(rng, c, 0.3, 0), c))

			loss := func(ctx *context.Context, x, r *Node) *Node {
				ctx.SetTraining(x.Graph(), true)
				return ReduceAllSum(Mul(BatchNorm(ctx, x), r))
			}
			lossExec := context.MustNewExec(backend, bn, loss)
			gradExec := context.MustNewExec(backend, bn, func(ctx *context.Context, x, r *Node) []*Node {
				g := x.Graph()
				l := loss(ctx, x, r)
				return Gradient(l, x, weight.ValueGraph(g), bias.ValueGraph(g))
			})
			rT := tensors.FromFlatDataAndDimensions(r, dims...)
			eval := func(xv []float64) float64 {
				out, err := lossExec.Exec(tensors.FromFlatDataAndDimensions(xv, dims...), rT)
				if err != nil {
					t.Fatal(err)
				}
				return tensors.ToScalar[float64](out[0])
			}
			grads, err := gradExec.Exec(tensors.FromFlatDataAndDimensions(x, dims...), rT)
			if err != nil {
				t.Fatal(err)
			}
			const h = 1e-5
			fd := func(values []float64, set func([]float64)) []float64 {
				out := make([]float64, len(values))
				for i := range values {
					v := values[i]
					values[i] = v + h
					set(values)
					plus := eval(x)
					values[i] = v - h
					set(values)
					minus := eval(x)
					values[i] = v
					set(values)
					out[i] = (plus - minus) / (2 * h)
				}
				return out
			}
			setVar := func(v *context.Variable) func([]float64) {
				return func(vals []float64) { v.MustSetValue(tensors.FromFlatDataAndDimensions(vals, c)) }
			}
			checks := []struct {
				name string
				got  []float64
				want []float64
			}{
				{"x", tensors.MustCopyFlatData[float64](grads[0]), fd(x, func([]float64) {})},
				{"weight", tensors.MustCopyFlatData[float64](grads[1]), fd(tensors.MustCopyFlatData[float64](weight.MustValue()), setVar(weight))},
				{"bias", tensors.MustCopyFlatData[float64](grads[2]), fd(tensors.MustCopyFlatData[float64](bias.MustValue()), setVar(bias))},
			}
			for _, ch := range checks {
				worst, scale := maxAbsDiff(ch.got, ch.want)
				// Central differences with h = 1e-5 in float64: truncation ~h² and rounding ~1e-16/h.
				if worst > 1e-7*max(scale, 1) {
					t.Errorf("d loss/d %s: max |analytic - finite difference| = %g (scale %g)\n got %v\nwant %v",
						ch.name, worst, scale, ch.got, ch.want)
				}
			}
			// Exact property of a batch norm differentiated through its mean: per feature, the
			// gradient with respect to x sums to zero over the batch.
			gx := tensors.MustCopyFlatData[float64](grads[0])
			for j := range c {
				s := 0.0
				for i := j; i < len(gx); i += c {
					s += gx[i]
				}
				if math.Abs(s) > 1e-9 {
					t.Errorf("feature %d: sum of d loss/d x over the batch = %g, want 0", j, s)
				}
			}
		})
	}
}

// TestBatchNormFloat32LargeMean checks the float32 batch statistics where the mean is 10⁴ times the
// spread: the two-pass variance gives the float64 answer to the precision of the float32 inputs,
// where E[x²] − E[x]² would lose every digit (E[x²] ≈ 10⁶ has a float32 spacing of 0.06, six
// times the variance).
func TestBatchNormFloat32LargeMean(t *testing.T) {
	backend := backendtest.Backend(t)
	dims := []int{64, 8, 8, 16} // 4096 values per feature, widened to 64-value partial sums.
	c := dims[3]
	rng := rand.New(rand.NewPCG(3, 3))
	x := randomF64(rng, 64*8*8*c, 0.1, 1000)
	x32 := make([]float32, len(x))
	for i := range x {
		x32[i] = float32(x[i])
		x[i] = float64(x32[i]) // The reference sees exactly the float32 inputs.
	}
	w, b := make([]float64, c), make([]float64, c)
	for j := range w {
		w[j] = 1
	}
	want, _, _ := refBatchNormTrain(x, c, w, b)
	exec := context.MustNewExec(backend, context.New(), func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), true)
		return BatchNorm(ctx, x)
	})
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x32, dims...))
	if err != nil {
		t.Fatal(err)
	}
	got32 := tensors.MustCopyFlatData[float32](out[0])
	got := make([]float64, len(got32))
	for i, v := range got32 {
		got[i] = float64(v)
	}
	// Float32 sums of 4096 values near 1000 carry relative errors of ~1e-6, so the mean is off by
	// ~1e-3 of the spread at worst; E[x²] − E[x]² would be off by several spreads.
	if worst, _ := maxAbsDiff(got, want); worst > 1e-2 {
		t.Errorf("normalised output: max error %g against float64 (want < 1e-2 on a unit scale)", worst)
	}
}

// TestChannelSumAndBroadcast compares the wide-row per-channel sum and broadcast with GoMLX's
// plain reduction and broadcast, for shapes that are widened (k > 1), not widened (an odd number
// of rows, or channels wider than wideRow) and widened into a single row.
func TestChannelSumAndBroadcast(t *testing.T) {
	backend := backendtest.Backend(t)
	for _, dims := range [][]int{{16, 8, 8, 16}, {3, 5, 7, 8}, {4, 2048}, {8, 4, 4, 2}, {6, 5}} {
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, uint64(len(dims))))
			shape := shapes.Make(dtypes.Float64, dims...)
			c := dims[len(dims)-1]
			x := randomF64(rng, shape.Size(), 1, 0.5)
			v := randomF64(rng, c, 1, 0)
			outs := MustExecOnceN(backend, func(x, v *Node) []*Node {
				axes := make([]int, x.Rank()-1)
				for i := range axes {
					axes[i] = i
				}
				return []*Node{channelSum(x), ReduceSum(x, axes...),
					channelBroadcast(v, x), BroadcastToShape(ExpandLeftToRank(v, x.Rank()), x.Shape())}
			}, tensors.FromFlatDataAndDimensions(x, dims...), tensors.FromFlatDataAndDimensions(v, c))
			sum, ref := tensors.MustCopyFlatData[float64](outs[0]), tensors.MustCopyFlatData[float64](outs[1])
			if worst, scale := maxAbsDiff(sum, ref); worst > 1e-12*max(scale, 1) {
				t.Errorf("channelSum = %v, want %v", sum, ref)
			}
			if got, want := tensors.MustCopyFlatData[float64](outs[2]), tensors.MustCopyFlatData[float64](outs[3]); !slices.Equal(got, want) {
				t.Errorf("channelBroadcast differs from a plain broadcast")
			}
		})
	}
}

// TestBatchNormRunningAverages runs two training-mode batch norms on the same variables in one graph
// (two views), then eval mode, and compares everything with an independent float64 computation of
// PyTorch's rules: momentum 0.1, running_var from the unbiased variance, eps 1e-5.
func TestBatchNormRunningAverages(t *testing.T) {
	backend := backendtest.Backend(t)
	dims := []int{3, 2, 2, 4} // NHWC: 12 values per feature.
	c, m := 4, 12
	rng := rand.New(rand.NewPCG(7, 7))
	x1 := randomF64(rng, m*c, 3, 1)
	x2 := randomF64(rng, m*c, 0.5, -2)
	x3 := randomF64(rng, m*c, 1, 0)
	ctx := context.New().In("bn")
	w := randomF64(rng, c, 0.2, 1)
	b := randomF64(rng, c, 0.2, 0)
	ctx.VariableWithValue("weight", tensors.FromFlatDataAndDimensions(w, c))
	ctx.VariableWithValue("bias", tensors.FromFlatDataAndDimensions(b, c))

	train := context.MustNewExec(backend, ctx, func(ctx *context.Context, a, b *Node) (*Node, *Node) {
		ctx.SetTraining(a.Graph(), true)
		return BatchNorm(ctx, a), BatchNorm(ctx, b)
	})
	outs, err := train.Exec(tensors.FromFlatDataAndDimensions(x1, dims...), tensors.FromFlatDataAndDimensions(x2, dims...))
	if err != nil {
		t.Fatal(err)
	}
	runMean := make([]float64, c)
	runVar := []float64{1, 1, 1, 1}
	for i, x := range [][]float64{x1, x2} {
		y, mean, bv := refBatchNormTrain(x, c, w, b)
		if worst, scale := maxAbsDiff(tensors.MustCopyFlatData[float64](outs[i]), y); worst > 1e-12*max(scale, 1) {
			t.Errorf("train output %d: max error %g", i+1, worst)
		}
		for j := range c {
			runMean[j] = 0.9*runMean[j] + 0.1*mean[j]
			runVar[j] = 0.9*runVar[j] + 0.1*bv[j]*float64(m)/float64(m-1)
		}
	}
	for name, want := range map[string][]float64{"running_mean": runMean, "running_var": runVar} {
		got := tensors.MustCopyFlatData[float64](ctx.GetVariableByScopeAndName("/bn", name).MustValue())
		if worst, _ := maxAbsDiff(got, want); worst > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	before := tensors.MustCopyFlatData[float64](ctx.GetVariableByScopeAndName("/bn", "running_mean").MustValue())
	eval := context.MustNewExec(backend, ctx, func(ctx *context.Context, x *Node) *Node {
		return BatchNorm(ctx, x) // Graphs are in eval mode unless SetTraining says otherwise.
	})
	out, err := eval.Exec(tensors.FromFlatDataAndDimensions(x3, dims...))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(x3))
	for i := range x3 {
		j := i % c
		want[i] = (x3[i]-runMean[j])/math.Sqrt(runVar[j]+1e-5)*w[j] + b[j]
	}
	if worst, scale := maxAbsDiff(tensors.MustCopyFlatData[float64](out[0]), want); worst > 1e-12*max(scale, 1) {
		t.Errorf("eval output: max error %g", worst)
	}
	got := tensors.MustCopyFlatData[float64](ctx.GetVariableByScopeAndName("/bn", "running_mean").MustValue())
	if worst, _ := maxAbsDiff(got, before); worst != 0 {
		t.Errorf("eval mode changed running_mean to %v", got)
	}
}

func TestBatchNormSingleValuePanics(t *testing.T) {
	backend := backendtest.Backend(t)
	ctx := context.New()
	exec := context.MustNewExec(backend, ctx, func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), true)
		return BatchNorm(ctx, x)
	})
	_, err := exec.Exec(tensors.FromFlatDataAndDimensions([]float32{1, 2}, 1, 2))
	if err == nil || !strings.Contains(err.Error(), "more than 1 value per feature") {
		t.Errorf("training with batch 1: error = %v, want one about 1 value per feature", err)
	}
}
