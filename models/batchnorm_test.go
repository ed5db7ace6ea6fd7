package models

import (
	"fmt"
	"math"
	"math/rand/v2"
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

func maxAbsDiff(a, b []float64) (worst, scale float64) {
	for i := range a {
		worst = max(worst, math.Abs(a[i]-b[i]))
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
	for _, dims := range [][]int{{5, 3}, {2, 3, 2, 4}} {
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
