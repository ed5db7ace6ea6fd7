package backend_test

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/gomlx/gomlx/pkg/ml/layers/batchnorm"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

func TestConfigNormalisesShortNames(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"", "xla:cpu"},
		{"go", "go"},
		{"cpu", "xla:cpu"},
		{"cuda", "xla:cuda"},
		{"xla:cuda", "xla:cuda"},
		{"xla:cpu,noshared_buffers", "xla:cpu,noshared_buffers"},
	} {
		t.Setenv(backend.EnvVar, tc.env)
		if got := backend.Config(); got != tc.want {
			t.Errorf("%s=%q: Config()=%q, want %q", backend.EnvVar, tc.env, got, tc.want)
		}
	}
}

func TestUnknownBackendIsAnError(t *testing.T) {
	t.Setenv(backend.EnvVar, "tensorflow")
	_, err := backend.New()
	if err == nil {
		t.Fatal("New() with an unknown backend succeeded")
	}
	if want := `unknown backend "tensorflow"`; !contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

// parityGraph is a matrix product, a reduction and the gradient of the reduction.
func parityGraph(x, w *Node) (*Node, *Node) {
	loss := ReduceAllSum(Square(MatMul(x, w)))
	return loss, Gradient(loss, w)[0]
}

// TestSameNumbersOnXLAAndGo checks that the same graph gives the same numbers on both backends.
// Tolerance: 1e-5 relative (float32; the two backends may sum in different orders).
func TestSameNumbersOnXLAAndGo(t *testing.T) {
	xlaBackend := backendtest.XLA(t)
	goBackend, err := backends.NewWithConfig("go")
	if err != nil {
		t.Fatalf("starting the Go backend: %v", err)
	}
	defer goBackend.Finalize()

	const n, k, m = 7, 5, 3
	x := make([]float32, n*k)
	w := make([]float32, k*m)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	for i := range w {
		w[i] = float32(math.Cos(float64(3 * i)))
	}
	run := func(b backends.Backend) (float32, []float32) {
		exec := MustNewExec(b, parityGraph)
		out := exec.MustExec(tensors.FromFlatDataAndDimensions(x, n, k), tensors.FromFlatDataAndDimensions(w, k, m))
		return tensors.ToScalar[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
	}
	lossXLA, gradXLA := run(xlaBackend)
	lossGo, gradGo := run(goBackend)

	// Independent reference in float64: loss = sum((xw)^2), grad = 2 x^T (x w).
	xw := make([]float64, n*m)
	var lossRef float64
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			for l := 0; l < k; l++ {
				xw[i*m+j] += float64(x[i*k+l]) * float64(w[l*m+j])
			}
			lossRef += xw[i*m+j] * xw[i*m+j]
		}
	}
	gradRef := make([]float64, k*m)
	for l := 0; l < k; l++ {
		for j := 0; j < m; j++ {
			for i := 0; i < n; i++ {
				gradRef[l*m+j] += 2 * float64(x[i*k+l]) * xw[i*m+j]
			}
		}
	}
	const tol = 1e-5
	for name, got := range map[string]float32{"xla": lossXLA, "go": lossGo} {
		if relErr(float64(got), lossRef) > tol {
			t.Errorf("%s loss = %v, want %v", name, got, lossRef)
		}
	}
	for i := range gradRef {
		if relErr(float64(gradXLA[i]), gradRef[i]) > tol || relErr(float64(gradGo[i]), gradRef[i]) > tol {
			t.Errorf("grad[%d]: xla %v, go %v, want %v", i, gradXLA[i], gradGo[i], gradRef[i])
		}
	}
}

// convBNReLULoss is a convolution, batch norm (training mode) and ReLU, reduced to a scalar.
func convBNReLULoss(ctx *context.Context, images *Node) *Node {
	g := images.Graph()
	ctx.SetTraining(g, true)
	x := layers.Convolution(ctx.In("conv"), images).Channels(4).KernelSize(3).PadSame().UseBias(false).Done()
	x = batchnorm.New(ctx.In("bn"), x, -1).Done()
	x = activations.Relu(x)
	return ReduceAllMean(Square(Sub(x, Scalar(g, x.DType(), 0.5))))
}

// TestConvBatchNormTrainingStep runs one SGD step on XLA and checks that every trainable weight
// moved by exactly -lr * gradient, the gradient computed in a separate program.
func TestConvBatchNormTrainingStep(t *testing.T) {
	b := backendtest.XLA(t)
	ctx := context.New()
	images := make([]float32, 4*6*6*2)
	for i := range images {
		images[i] = float32(math.Sin(0.7 * float64(i)))
	}
	input := tensors.FromFlatDataAndDimensions(images, 4, 6, 6, 2)

	// Program 1: the gradients of the trainable variables (this also creates them).
	gradExec := context.MustNewExec(b, ctx, func(ctx *context.Context, images *Node) []*Node {
		return ctx.BuildTrainableVariablesGradientsGraph(convBNReLULoss(ctx, images))
	})
	grads := gradExec.MustExec(input)

	var trainable []*context.Variable
	var before [][]float32
	for v := range ctx.IterVariables() {
		if v.Trainable {
			trainable = append(trainable, v)
			before = append(before, tensors.MustCopyFlatData[float32](v.MustValue()))
		}
	}
	if len(trainable) != len(grads) || len(trainable) != 3 {
		t.Fatalf("got %d trainable variables and %d gradients, want 3 (conv weights, bn scale, bn offset)", len(trainable), len(grads))
	}

	// Program 2: one SGD step with a constant learning rate.
	const lr = 0.1
	opt := optimizers.StochasticGradientDescent().WithDecay(false).WithLearningRate(lr).Done()
	stepExec := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, images *Node) *Node {
		loss := convBNReLULoss(ctx, images)
		opt.UpdateGraph(ctx, images.Graph(), loss)
		return loss
	})
	stepExec.MustExec(input)

	for i, v := range trainable {
		after := tensors.MustCopyFlatData[float32](v.MustValue())
		grad := tensors.MustCopyFlatData[float32](grads[i])
		moved := false
		for j := range after {
			want := before[i][j] - lr*grad[j]
			if math.Abs(float64(after[j]-want)) > 1e-6*(1+math.Abs(float64(want))) {
				t.Fatalf("%s[%d] = %v after the step, want %v - %v*%v = %v", v.ScopeAndName(), j, after[j], before[i][j], lr, grad[j], want)
			}
			moved = moved || after[j] != before[i][j]
		}
		if !moved {
			t.Errorf("%s did not change in the training step", v.ScopeAndName())
		}
	}
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(1e-12, math.Abs(want))
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
