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
	"github.com/gomlx-ssl/vicreg/checkpoints/safetensors"
)

func randomImages(seed uint64, dims ...int) *tensors.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// TestEncoderOutputShapes runs the encoder (eval mode) on MNIST-, CIFAR- and ImageNet-sized inputs.
func TestEncoderOutputShapes(t *testing.T) {
	backend := backendtest.Backend(t)
	tests := []struct {
		config Config
		dims   []int
	}{
		{Config{Arch: "resnet18", Stem: "cifar", Width: 4, InChannels: 1}, []int{2, 28, 28, 1}},
		{Config{Arch: "resnet18", Stem: "cifar", Width: 4, InChannels: 3}, []int{2, 32, 32, 3}},
		{Config{Arch: "resnet18", Stem: "imagenet", Width: 4, InChannels: 3}, []int{1, 224, 224, 3}},
		{Config{Arch: "resnet50", Stem: "cifar", Width: 2, InChannels: 3, ZeroInitResidual: true}, []int{2, 32, 32, 3}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s-%s-%v", tc.config.Arch, tc.config.Stem, tc.dims), func(t *testing.T) {
			ctx := context.New()
			out, err := context.MustNewExec(backend, ctx, func(ctx *context.Context, x *Node) *Node {
				return Encoder(ctx, tc.config, x)
			}).Exec(randomImages(1, tc.dims...))
			if err != nil {
				t.Fatal(err)
			}
			want := []int{tc.dims[0], tc.config.FeatureDim()}
			if got := out[0].Shape().Dimensions; !slices.Equal(got, want) {
				t.Fatalf("output shape %v, want %v", got, want)
			}
			for i, v := range tensors.MustCopyFlatData[float32](out[0]) {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < 0 {
					t.Fatalf("output[%d] = %v, want a finite non-negative (pooled ReLU) value", i, v)
				}
			}
			if tc.config.ZeroInitResidual { // The last BN of every bottleneck starts with weight 0.
				for _, scope := range []string{"/layer1/0/bn3", "/layer4/2/bn3"} {
					w := tensors.MustCopyFlatData[float32](ctx.GetVariableByScopeAndName(scope, "weight").MustValue())
					if slices.ContainsFunc(w, func(v float32) bool { return v != 0 }) {
						t.Errorf("%s/weight = %v, want zeros with ZeroInitResidual", scope, w)
					}
				}
			}
		})
	}
}

func TestEncoderRejectsBadInput(t *testing.T) {
	backend := backendtest.Backend(t)
	tests := []struct {
		config Config
		dims   []int
		want   string
	}{
		{DefaultConfig(), []int{2, 8, 8, 1}, "images must be NHWC [batch, height, width, 3]"},
		{Config{Arch: "resnet18", Stem: "x", Width: 4, InChannels: 3}, []int{2, 8, 8, 3}, `Config.Stem "x"`},
	}
	for _, tc := range tests {
		_, err := context.MustNewExec(backend, context.New(), func(ctx *context.Context, x *Node) *Node {
			return Encoder(ctx, tc.config, x)
		}).Exec(randomImages(1, tc.dims...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error = %v, want one containing %q", err, tc.want)
		}
	}
}

// TestEncoderGradients checks, in training mode, that every trainable variable gets a non-zero
// gradient and that the running statistics are updated: on a whole ResNet-18 (ImageNet stem, so
// the max-pool too) and, to keep compile time low, on one ResNet-50 bottleneck block with its
// downsampling shortcut (the rest of ResNet-50 repeats it; TestEncoderVariablesMatchSpec checks
// the wiring).
func TestEncoderGradients(t *testing.T) {
	backend := backendtest.XLA(t)
	r18 := Config{Arch: "resnet18", Stem: "imagenet", Width: 4, InChannels: 1}
	tests := []struct {
		name     string
		input    []int
		outDim   int
		build    func(ctx *context.Context, x *Node) *Node
		wantVars int    // Trainable variables.
		stat     string // A running_mean that must change.
	}{
		{"resnet18", []int{4, 32, 32, 1}, r18.FeatureDim(),
			func(ctx *context.Context, x *Node) *Node { return Encoder(ctx, r18, x) },
			3 * len(paramSpecs(r18)) / 5, "/layer4/1/bn1"},
		{"bottleneck", []int{4, 6, 6, 8}, 4 * 4,
			func(ctx *context.Context, x *Node) *Node {
				return ReduceMean(residualBlock(ctx, newBlock("", 8, 4, 2, true, false), x), 1, 2)
			},
			4 * 3, "/downsample/1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.New()
			var names []string
			exec := context.MustNewExec(backend, ctx, func(ctx *context.Context, x, r *Node) *Node {
				g := x.Graph()
				ctx.SetTraining(g, true)
				loss := ReduceAllSum(Mul(tc.build(ctx, x), r))
				grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
				names = names[:0]
				for v := range ctx.IterVariables() {
					if v.Trainable && v.InUseByGraph(g) {
						names = append(names, v.ScopeAndName())
					}
				}
				maxAbs := make([]*Node, len(grads))
				for i, gr := range grads {
					maxAbs[i] = ReduceAllMax(Abs(gr))
				}
				return Stack(maxAbs, 0)
			})
			out, err := exec.Exec(randomImages(2, tc.input...), randomImages(3, tc.input[0], tc.outDim))
			if err != nil {
				t.Fatal(err)
			}
			maxAbs := tensors.MustCopyFlatData[float32](out[0])
			if len(maxAbs) != len(names) || len(names) != tc.wantVars {
				t.Errorf("%d gradients for %d variables, want %d", len(maxAbs), len(names), tc.wantVars)
			}
			for i, m := range maxAbs {
				if !(m > 0) || math.IsInf(float64(m), 0) {
					t.Errorf("variable %s: max |gradient| = %v, want finite and > 0", names[i], m)
				}
			}
			rm := ctx.GetVariableByScopeAndName(tc.stat, "running_mean")
			if rm == nil {
				t.Fatalf("no %s/running_mean", tc.stat)
			}
			if vals := tensors.MustCopyFlatData[float32](rm.MustValue()); slices.Equal(vals, make([]float32, len(vals))) {
				t.Errorf("%s/running_mean still zero after a training step", tc.stat)
			}
		})
	}
}

// TestInitialisation checks torchvision's initialisation: kernels ~ N(0, 2/fan_out), batch-norm
// weight 1 and bias 0, and the zero-initialised last batch-norm scale of each residual block.
func TestInitialisation(t *testing.T) {
	backend := backendtest.Backend(t)
	tests := []struct {
		config   Config
		zeroed   string // A last-BN weight that ZeroInitResidual sets to 0.
		ones     string // A BN weight that stays 1.
		kernel   string // A large kernel to check the standard deviation of.
		fanOut   int
		expander bool
	}{
		{Config{Arch: "resnet18", Stem: "cifar", Width: 16, InChannels: 3, ZeroInitResidual: true},
			"/layer2/1/bn2", "/layer2/1/bn1", "/layer4/1/conv2", 128 * 9, true},
	}
	for _, tc := range tests {
		t.Run(tc.config.Arch, func(t *testing.T) {
			ctx := context.New()
			g := NewGraph(backend, "init")
			x := Parameter(g, "x", shapes.Make(dtypes.Float32, 2, 8, 8, 3))
			feat := Encoder(ctx, tc.config, x)
			if tc.expander {
				Expander(ctx.In("projector"), []int{1024, 8}, feat)
			}
			g.Finalize()
			if err := ctx.InitializeVariables(backend, nil); err != nil {
				t.Fatal(err)
			}
			value := func(scope, name string) []float32 {
				v := ctx.GetVariableByScopeAndName(scope, name)
				if v == nil {
					t.Fatalf("no variable %s/%s", scope, name)
				}
				return tensors.MustCopyFlatData[float32](v.MustValue())
			}
			allEqual := func(vals []float32, want float32) bool {
				return !slices.ContainsFunc(vals, func(v float32) bool { return v != want })
			}
			if !allEqual(value(tc.zeroed, "weight"), 0) {
				t.Errorf("%s/weight not zero with ZeroInitResidual", tc.zeroed)
			}
			if !allEqual(value(tc.ones, "weight"), 1) || !allEqual(value(tc.ones, "bias"), 0) ||
				!allEqual(value(tc.ones, "running_mean"), 0) || !allEqual(value(tc.ones, "running_var"), 1) {
				t.Errorf("%s: want weight 1, bias 0, running_mean 0, running_var 1", tc.ones)
			}
			mean, std := moments(value(tc.kernel, "weight"))
			wantStd := math.Sqrt(2 / float64(tc.fanOut))
			if math.Abs(std/wantStd-1) > 0.02 || math.Abs(mean) > 0.02*wantStd {
				t.Errorf("%s kernel: mean %g, std %g; want 0 and sqrt(2/fan_out) = %g", tc.kernel, mean, std, wantStd)
			}
			if tc.expander {
				// nn.Linear: U(-1/sqrt(in), 1/sqrt(in)), std = bound/sqrt(3); in = FeatureDim.
				vals := value("/projector/0", "weight")
				bound := 1 / math.Sqrt(float64(tc.config.FeatureDim()))
				mean, std := moments(vals)
				if math.Abs(std/(bound/math.Sqrt(3))-1) > 0.02 || math.Abs(mean) > 0.02*bound ||
					slices.ContainsFunc(vals, func(v float32) bool { return math.Abs(float64(v)) > bound }) {
					t.Errorf("expander weight: mean %g, std %g, want U(±%g)", mean, std, bound)
				}
			}
		})
	}
}

func moments(v []float32) (mean, std float64) {
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)))
}

// relMaxErr returns max|got - want| / max|want|.
func relMaxErr(got []float32, want []float64) float64 {
	var worst, scale float64
	for i := range want {
		worst = max(worst, math.Abs(float64(got[i])-want[i]))
		scale = max(scale, math.Abs(want[i]))
	}
	return worst / scale
}

func fixtureF64(t *testing.T, f *safetensors.File, name string) []float64 {
	t.Helper()
	tensor, ok := f.Tensors[name]
	if !ok {
		t.Fatalf("fixture has no %q", name)
	}
	v, err := tensor.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// parityTolerance bounds max|ours - PyTorch| / max|PyTorch|: our float32 computation against
// PyTorch's float64 reference on the same (float32-rounded) weights.
const parityTolerance = 1e-4

// TestTorchvisionParity loads a torchvision ResNet-18 (width 4, CIFAR stem; written by
// testdata/make_fixture.py with Debian's python3-torch) through ImportTorchvision and compares our
// outputs in eval mode, then in train mode, and the updated running statistics with PyTorch's;
// the same weights with solo-learn's stem (padding 2) against its outputs; and, as a negative
// control, our "cifar" stem against solo-learn's outputs, which must differ.
func TestTorchvisionParity(t *testing.T) {
	for _, tc := range []struct{ stem, io string }{{"cifar", "cifar"}, {"solo", "solo"}} {
		t.Run(tc.stem, func(t *testing.T) { torchvisionParity(t, tc.stem, "testdata/resnet18_w4_"+tc.io+"_io.safetensors") })
	}
	t.Run("cifar against solo-learn", func(t *testing.T) {
		c := Config{Arch: "resnet18", Stem: "cifar", Width: 4, InChannels: 3}
		ctx := context.New().In("backbone")
		if err := ImportTorchvision(ctx, c, "testdata/resnet18_w4_cifar.safetensors"); err != nil {
			t.Fatal(err)
		}
		io, err := safetensors.ReadFile("testdata/resnet18_w4_solo_io.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		in := io.Tensors["input"]
		inVals, _ := in.Float32s()
		out := context.MustNewExec(backendtest.Backend(t), ctx, func(ctx *context.Context, x *Node) *Node {
			return Encoder(ctx, c, x)
		}).MustExec(tensors.FromFlatDataAndDimensions(inVals, in.Shape...))
		if e := relMaxErr(tensors.MustCopyFlatData[float32](out[0]), fixtureF64(t, io, "eval_output")); e < 100*parityTolerance {
			t.Errorf("the cifar stem matches solo-learn's padding-2 stem to %g: the comparison cannot tell the stems apart", e)
		}
	})
}

func torchvisionParity(t *testing.T, stem, ioPath string) {
	backend := backendtest.Backend(t)
	c := Config{Arch: "resnet18", Stem: stem, Width: 4, InChannels: 3}
	ctx := context.New()
	backbone := ctx.In("backbone")
	if err := ImportTorchvision(backbone, c, "testdata/resnet18_w4_cifar.safetensors"); err != nil {
		t.Fatal(err)
	}
	io, err := safetensors.ReadFile(ioPath)
	if err != nil {
		t.Fatal(err)
	}
	in := io.Tensors["input"]
	inVals, _ := in.Float32s()
	images := tensors.FromFlatDataAndDimensions(inVals, in.Shape...)
	for _, mode := range []struct {
		name     string
		training bool
	}{{"eval_output", false}, {"train_output", true}} {
		exec := context.MustNewExec(backend, backbone, func(ctx *context.Context, x *Node) *Node {
			ctx.SetTraining(x.Graph(), mode.training)
			return Encoder(ctx, c, x)
		})
		out, err := exec.Exec(images)
		if err != nil {
			t.Fatal(err)
		}
		e := relMaxErr(tensors.MustCopyFlatData[float32](out[0]), fixtureF64(t, io, mode.name))
		t.Logf("%s: relative error %.2g against PyTorch (float64)", mode.name, e)
		if e > parityTolerance {
			t.Errorf("%s: relative error %g > %g", mode.name, e, parityTolerance)
		}
	}
	checked := 0
	for _, name := range io.Names() {
		torchName, ok := strings.CutPrefix(name, "after.")
		if !ok {
			continue
		}
		parts := strings.Split(torchName, ".")
		v := ctx.GetVariableByScopeAndName("/backbone/"+strings.Join(parts[:len(parts)-1], "/"), parts[len(parts)-1])
		if v == nil {
			t.Fatalf("no variable for %s", torchName)
		}
		if e := relMaxErr(tensors.MustCopyFlatData[float32](v.MustValue()), fixtureF64(t, io, name)); e > parityTolerance {
			t.Errorf("%s after the train-mode call: relative error %g", torchName, e)
		}
		checked++
	}
	if checked != 2*20 { // 20 batch norms in a ResNet-18 (17 in blocks and stem, 3 in shortcuts).
		t.Errorf("compared %d running statistics, want 40", checked)
	}
}

// TestExpanderParity compares Expander with the official VICReg Projector ("16-16-8" on 32 inputs).
func TestExpanderParity(t *testing.T) {
	backend := backendtest.Backend(t)
	f, err := safetensors.ReadFile("testdata/expander_io.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	dims, err := ParseExpander("16-16-8")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	proj := ctx.In("projector")
	ignore := func(name string) bool {
		return strings.HasPrefix(name, "io.") || strings.HasSuffix(name, "num_batches_tracked")
	}
	if err := importParams(proj, expanderSpecs(32, dims), f, "projector.", ignore); err != nil {
		t.Fatal(err)
	}
	in := f.Tensors["io.input"]
	inVals, _ := in.Float32s()
	x := tensors.FromFlatDataAndDimensions(inVals, in.Shape...)
	for _, mode := range []struct {
		name     string
		training bool
	}{{"io.eval_output", false}, {"io.train_output", true}} {
		out, err := context.MustNewExec(backend, proj, func(ctx *context.Context, x *Node) *Node {
			ctx.SetTraining(x.Graph(), mode.training)
			return Expander(ctx, dims, x)
		}).Exec(x)
		if err != nil {
			t.Fatal(err)
		}
		e := relMaxErr(tensors.MustCopyFlatData[float32](out[0]), fixtureF64(t, f, mode.name))
		t.Logf("%s: relative error %.2g against PyTorch (float64)", mode.name, e)
		if e > parityTolerance {
			t.Errorf("%s: relative error %g > %g", mode.name, e, parityTolerance)
		}
	}
	for _, bn := range []string{"1", "4"} {
		for _, stat := range []string{"running_mean", "running_var"} {
			v := ctx.GetVariableByScopeAndName("/projector/"+bn, stat)
			if e := relMaxErr(tensors.MustCopyFlatData[float32](v.MustValue()), fixtureF64(t, f, "io.after."+bn+"."+stat)); e > parityTolerance {
				t.Errorf("projector.%s.%s: relative error %g", bn, stat, e)
			}
		}
	}
	if v := ctx.GetVariableByScopeAndName("/projector/6", "bias"); v != nil {
		t.Error("the last linear layer has a bias, want none")
	}
}
