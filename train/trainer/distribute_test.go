package trainer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph DSL
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/config"
	"github.com/gomlx-ssl/vicreg/train/optim"
)

// tinyBatches returns steps deterministic batches of two views ([batch, 8, 8, 3]) and labels.
func tinyBatches(steps, batch int) [][3]*tensors.Tensor {
	r := rand.New(rand.NewPCG(7, 11))
	out := make([][3]*tensors.Tensor, steps)
	for s := range out {
		v1, v2 := make([]float32, batch*8*8*3), make([]float32, batch*8*8*3)
		for i := range v1 {
			v1[i] = float32(r.NormFloat64())
			v2[i] = v1[i] + 0.3*float32(r.NormFloat64())
		}
		labels := make([]int32, batch)
		for i := range labels {
			labels[i] = int32(r.IntN(10))
		}
		out[s] = [3]*tensors.Tensor{tensors.FromFlatDataAndDimensions(v1, batch, 8, 8, 3),
			tensors.FromFlatDataAndDimensions(v2, batch, 8, 8, 3), tensors.FromValue(labels)}
	}
	return out
}

// tinyNet is a width-4 ResNet-18 (CIFAR stem), a 16-16 expander and an online probe, trained with
// VICReg and LARS.
func tinyNet(t *testing.T, precision string, steps int, lr float64) (*Network, *optim.Optimizer) {
	t.Helper()
	obj, err := losses.New("vicreg", losses.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	dtype, err := config.PrecisionDType(precision)
	if err != nil {
		t.Fatal(err)
	}
	net := &Network{Model: models.Config{Arch: "resnet18", Stem: "cifar", Width: 4, InChannels: 3},
		Expander: []int{16, 16}, NumClasses: 10, Objective: obj, Precision: dtype}
	opt, err := optim.New(optim.Config{Kind: "lars", WeightDecay: 1e-4, Momentum: 0.9, Eta: 0.02,
		Schedule: optim.Schedule{Base: lr, TotalSteps: int64(steps)}, HeadScope: "/" + config.ProbeScope, HeadLR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	return net, opt
}

// initialVariables runs one step of step on batch (which initialises ctx's variables) and returns
// a copy of the variables after it: a common starting point for the runs that a test compares.
func initialVariables(t *testing.T, ctx *context.Context, step *Step, batch [3]*tensors.Tensor) []checkpoints.Variable {
	t.Helper()
	if _, err := step.Run(batch[0], batch[1], batch[2]); err != nil {
		t.Fatal(err)
	}
	vars, err := checkpoints.FromContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return vars
}

// trainFrom sets ctx's variables to init, runs step on batches and returns the loss of every step
// and every variable at the end, by name.
func trainFrom(t *testing.T, ctx *context.Context, step *Step, init []checkpoints.Variable, batches [][3]*tensors.Tensor) ([]float64, map[string][]float64) {
	t.Helper()
	if err := checkpoints.ToContext(ctx, init); err != nil {
		t.Fatal(err)
	}
	var lossByStep []float64
	for i, bt := range batches {
		out, err := step.Run(bt[0], bt[1], bt[2])
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		lossByStep = append(lossByStep, out["loss"])
	}
	if n := step.Compilations(); n != 1 {
		t.Errorf("the step was compiled %d times, want 1", n)
	}
	vars, err := checkpoints.FromContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	values := make(map[string][]float64, len(vars))
	for _, v := range vars {
		values[v.Key()] = flatFloat64(v.Value)
	}
	return lossByStep, values
}

// permuteRows returns the batches with their rows (both views and the labels alike) in another
// order, drawn from seed: the same training problem, whose results differ from the original's
// only by the order of floating-point additions.
func permuteRows(batches [][3]*tensors.Tensor, seed uint64) [][3]*tensors.Tensor {
	out := make([][3]*tensors.Tensor, len(batches))
	for s, bt := range batches {
		n := bt[2].Shape().Dimensions[0]
		perm := rand.New(rand.NewPCG(uint64(s), 5+seed)).Perm(n)
		for k := range 2 {
			dims := bt[k].Shape().Dimensions
			row := bt[k].Shape().Size() / n
			src := tensors.MustCopyFlatData[float32](bt[k])
			dst := make([]float32, len(src))
			for i, p := range perm {
				copy(dst[i*row:(i+1)*row], src[p*row:(p+1)*row])
			}
			out[s][k] = tensors.FromFlatDataAndDimensions(dst, dims...)
		}
		src := tensors.MustCopyFlatData[int32](bt[2])
		dst := make([]int32, n)
		for i, p := range perm {
			dst[i] = src[p]
		}
		out[s][2] = tensors.FromValue(dst)
	}
	return out
}

// worstDiff returns the largest |a-b|/(1+|b|) over every variable, and its name.
func worstDiff(t *testing.T, a, b map[string][]float64) (float64, string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d variables against %d", len(a), len(b))
	}
	worst, worstName := 0.0, ""
	for name, want := range b {
		got := a[name]
		if len(got) != len(want) {
			t.Fatalf("variable %s: %d values against %d", name, len(got), len(want))
		}
		for i := range want {
			if d := math.Abs(got[i]-want[i]) / (1 + math.Abs(want[i])); d > worst || math.IsNaN(d) {
				worst, worstName = d, name
			}
		}
	}
	return worst, worstName
}

func flatFloat64(t *tensors.Tensor) []float64 {
	var out []float64
	t.ConstFlatData(func(flat any) {
		switch x := flat.(type) {
		case []float32:
			for _, v := range x {
				out = append(out, float64(v))
			}
		case []float64:
			out = append(out, x...)
		case []int64:
			for _, v := range x {
				out = append(out, float64(v))
			}
		case []uint64:
			for _, v := range x {
				out = append(out, float64(v))
			}
		default:
			panic(fmt.Sprintf("flatFloat64: unexpected %T", flat))
		}
	})
	return out
}

// reference is a single-device float32 run of the tiny network, compiled once and shared by the
// tests that compare other configurations with it: every run starts from init and sees batches.
type reference struct {
	net     *Network
	opt     *optim.Optimizer
	ctx     *context.Context
	step    *Step
	init    []checkpoints.Variable
	batches [][3]*tensors.Tensor

	noiseOnce          sync.Once
	wantLoss, permLoss []float64
	wantVars           map[string][]float64
	worstNoise         float64
	worstNoiseName     string
}

// noise trains the reference on its first two batches and on permutations of their rows, and
// returns the reference's losses and variables, and the float32 noise: the largest variable
// difference over the row orders (with its variable and that order's losses), measured once.
//
// One order is not enough: in this tiny network a reordering can flip a discrete outcome (with
// seed 12, 4 of 16 row orders on one device move a batch-norm bias momentum by 0.03, to the value
// the two devices give; with seed 1 one order moves a weight momentum by 0.04), so a single
// permutation can understate what the 2-device reordering legitimately does. That was the cause
// of the data-parallel test's earlier failures for 1 initialisation in 5.
func (r *reference) noise(t *testing.T) (wantLoss []float64, wantVars map[string][]float64, noise float64, noiseName string, permLoss []float64) {
	t.Helper()
	r.noiseOnce.Do(func() {
		batches := r.batches[:2]
		r.wantLoss, r.wantVars = trainFrom(t, r.ctx, r.step, r.init, batches)
		for p := range uint64(permutations) {
			pl, pv := trainFrom(t, r.ctx, r.step, r.init, permuteRows(batches, p))
			if d, name := worstDiff(t, pv, r.wantVars); d >= r.worstNoise {
				r.worstNoise, r.worstNoiseName, r.permLoss = d, name, pl
			}
		}
	})
	return r.wantLoss, r.wantVars, r.worstNoise, r.worstNoiseName, r.permLoss
}

var (
	refOnce sync.Once
	ref     *reference
	refErr  string
)

// permutations is the number of row orders that measure the float32 noise.
const permutations = 16

// dataParallelSeedEnv overrides the seed of the reference's initialisation (default 7), to
// reproduce the data-parallel comparison from other starting points.
const dataParallelSeedEnv = "VICREG_DP_SEED"

// refSteps is the number of steps in the reference batches.
const refSteps = 10

// sharedReference returns the reference (built on first use): one batch of 16, seen at every step,
// so that the loss falls smoothly and differences between runs come from arithmetic, not from the
// noise of fresh batches; LARS with a base learning rate of 0.05.
func sharedReference(t *testing.T) *reference {
	t.Helper()
	b := backendtest.XLA(t)
	refOnce.Do(func() {
		r := &reference{}
		one := tinyBatches(1, 16)[0]
		for range refSteps {
			r.batches = append(r.batches, one)
		}
		r.net, r.opt = tinyNet(t, "f32", refSteps+1, 0.05)
		r.ctx = context.New()
		// A fixed initialisation, so that a failure can be reproduced; VICREG_DP_SEED picks another.
		seed := int64(7)
		if v := os.Getenv(dataParallelSeedEnv); v != "" {
			var err error
			if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
				refErr = fmt.Sprintf("%s=%q: %v", dataParallelSeedEnv, v, err)
				return
			}
		}
		if err := r.ctx.SetRNGStateFromSeed(seed); err != nil {
			refErr = err.Error()
			return
		}
		var err error
		if r.step, err = NewStep(b, r.ctx, r.net, r.opt); err != nil {
			refErr = err.Error()
			return
		}
		if _, err := r.step.Run(one[0], one[1], one[2]); err != nil {
			refErr = err.Error()
			return
		}
		if r.init, err = checkpoints.FromContext(r.ctx); err != nil {
			refErr = err.Error()
			return
		}
		ref = r
	})
	if ref == nil {
		t.Fatalf("building the single-device float32 reference: %s", refErr)
	}
	return ref
}

// TestDataParallelEqualsOneDevice: training over 2 devices (the batch split, variables replicated)
// gives the same losses and variables as one device on the same global batch, from the same
// initial variables. Batch norm, the VICReg variance and covariance and the probe's mean are
// whole-batch statistics, so this holds only if they are computed over the global batch.
//
// Tolerance: the two programs differ only in the order of float32 additions (per-device partial
// sums, then an all-reduce). The same reordering happens on one device when the batch's rows are
// permuted, so those runs (several orders, the worst kept) measure the float32 noise of this very
// computation; the test asserts that the 2-device results are within 10 times that noise (and
// 1e-5 relative, whichever is larger) of the 1-device ones.
func TestDataParallelEqualsOneDevice(t *testing.T) {
	b := backendtest.XLA(t)
	const devices = 2
	if have := b.NumDevices(); have < devices {
		t.Skipf("backend %s has %d device(s); this test needs %d (the XLA CPU plugin exposes several)", b.Name(), have, devices)
	}
	r := sharedReference(t)
	batches := r.batches[:2]
	wantLoss, wantVars, noise, noiseName, permLoss := r.noise(t)

	ctx2 := context.New()
	step2, err := NewStepOn(b, ctx2, r.net, r.opt, devices)
	if err != nil {
		t.Fatal(err)
	}
	defer step2.Finalize()
	gotLoss, gotVars := trainFrom(t, ctx2, step2, r.init, batches)
	diff, diffName := worstDiff(t, gotVars, wantVars)
	t.Logf("losses: 1 device %v, rows permuted %v, %d devices %v", wantLoss, permLoss, devices, gotLoss)
	t.Logf("worst variable difference: rows permuted %.3g (%s), %d devices %.3g (%s)", noise, noiseName, devices, diff, diffName)

	tol := max(10*noise, 1e-5)
	for i := range wantLoss {
		if d := math.Abs(gotLoss[i]-wantLoss[i]) / math.Abs(wantLoss[i]); d > tol {
			t.Errorf("step %d: loss %.7g on %d devices, %.7g on one (relative difference %.3g > %.3g)", i, gotLoss[i], devices, wantLoss[i], d, tol)
		}
	}
	if diff > tol {
		t.Errorf("variable %s differs by %.3g (relative to 1+|v|) between %d devices and one; tolerance %.3g", diffName, diff, devices, tol)
	}
}

func TestDevicesUsageErrors(t *testing.T) {
	b := backendtest.Backend(t)
	for _, tc := range []struct {
		devices int
		want    string
	}{
		{0, "must be >= 1"},
		{b.NumDevices() + 1, fmt.Sprintf("but the %s backend has %d", b.Name(), b.NumDevices())},
	} {
		err := CheckDevices(b, tc.devices)
		var ue *config.FieldError
		if !errors.As(err, &ue) || ue.Flag != "devices" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckDevices(%d): got %v, want a -devices usage error containing %q", tc.devices, err, tc.want)
		}
	}
	if err := CheckDevices(b, 1); err != nil {
		t.Errorf("CheckDevices(1): %v", err)
	}
}

// perShard is a single-device step that computes some whole-batch statistics per half of the
// batch, as two devices would if the sharding were wrong: with bnPerShard, the encoder and the
// expander (and so every batch norm) run on each half separately; with lossPerShard, the
// objective (VICReg's variance and covariance) is the mean of its values on the two halves.
func perShard(t *testing.T, b backends.Backend, ctx *context.Context, net *Network, opt *optim.Optimizer, bnPerShard, lossPerShard bool) *Step {
	t.Helper()
	s := &Step{names: []string{"loss"}}
	halves := func(x *Node) [2]*Node {
		n := x.Shape().Dimensions[0]
		return [2]*Node{Slice(x, AxisRange(0, n/2)), Slice(x, AxisRange(n/2, n))}
	}
	exec, err := context.NewExec(b, ctx.Checked(false), func(ctx *context.Context, view1, view2, labels *Node) []*Node {
		s.builds++
		g := view1.Graph()
		ctx.SetTraining(g, true)
		forward := func(v *Node) (f, z *Node) {
			if !bnPerShard {
				f = net.Embed(ctx, v)
				return f, net.Project(ctx, f)
			}
			h := halves(v)
			fa, fb := net.Embed(ctx, h[0]), net.Embed(ctx, h[1])
			return Concatenate([]*Node{fa, fb}, 0), Concatenate([]*Node{net.Project(ctx, fa), net.Project(ctx, fb)}, 0)
		}
		f1, z1 := forward(view1)
		_, z2 := forward(view2)
		var total *Node
		if lossPerShard {
			a, b := halves(z1), halves(z2)
			la, _ := net.Objective.Loss(a[0], b[0])
			lb, _ := net.Objective.Loss(a[1], b[1])
			total = MulScalar(Add(la, lb), 0.5)
		} else {
			total, _ = net.Objective.Loss(z1, z2)
		}
		probeLoss, _ := MaskedCrossEntropy(net.ProbeLogits(ctx, f1), labels, nil)
		opt.UpdateGraph(ctx, g, Add(total, probeLoss))
		return []*Node{total}
	})
	if err != nil {
		t.Fatal(err)
	}
	s.exec = exec
	return s
}

// TestDataParallelNegativeControl shows that TestDataParallelEqualsOneDevice's tolerance catches
// the bugs it is there for: a step whose batch-norm statistics, or whose variance and covariance
// terms, are those of each device's half of the batch differs from the global-batch step by far
// more than the tolerance that test allows for the float32 noise (measured the same way here).
func TestDataParallelNegativeControl(t *testing.T) {
	b := backendtest.XLA(t)
	r := sharedReference(t)
	batches := r.batches[:2]
	_, wantVars, noise, _, _ := r.noise(t)
	tol := max(10*noise, 1e-5)
	for _, tc := range []struct {
		name               string
		bnPerShard, lossPS bool
	}{
		{"batch norm per device", true, false},
		{"variance and covariance per device", false, true},
	} {
		ctx := context.New()
		step := perShard(t, b, ctx, r.net, r.opt, tc.bnPerShard, tc.lossPS)
		_, got := trainFrom(t, ctx, step, r.init, batches)
		step.Finalize()
		diff, name := worstDiff(t, got, wantVars)
		t.Logf("%s: worst variable difference %.3g (%s), tolerance %.3g", tc.name, diff, name, tol)
		if diff <= tol {
			t.Errorf("%s: differs from the global-batch step by %.3g, within the data-parallel test's tolerance %.3g: that test could not catch it", tc.name, diff, tol)
		}
	}
}
