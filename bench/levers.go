//go:build levers

// The lever experiments (go run -tags levers ./bench -levers): A/B comparisons of layouts, XLA
// flags, threads, bf16 and CPU plugins, interleaved on the same machine state. They changed
// nothing that the shipped bench needs, so they are built only with the levers tag.

package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	timage "github.com/gomlx/gomlx/pkg/core/tensors/images"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/config"
	"github.com/gomlx-ssl/vicreg/train/trainer"
)

// leverJob kinds.
const (
	jobConv  = "conv"  // one 3×3 convolution; Variant "nhwc", "nchw", "nhwc-bf16" or "nhwc-dw9" (kernel gradient as 9 matrix products)
	jobSplit = "split" // Variant "fwd", "fwdbwd" or "step" of a training configuration
)

// runLeverJob runs one lever measurement in this (child) process.
func runLeverJob(b backends.Backend, j job) any {
	switch j.Kind {
	case jobConv:
		return convBench(b, j)
	case jobSplit:
		return splitBench(b, j)
	}
	return result{Err: fmt.Sprintf("unknown job kind %q", j.Kind)}
}

// convBench times one 3×3 convolution (PyTorch padding 1) in the layout and dtype of j.Variant.
func convBench(b backends.Backend, j job) result {
	s := j.Conv
	res := result{Config: fmt.Sprintf("conv %s %+v", j.Variant, *s)}
	nchw := strings.HasPrefix(j.Variant, "nchw")
	bf16 := strings.HasSuffix(j.Variant, "bf16")
	exec, err := NewExec(b, func(x, k *Node) []*Node {
		xc, kc := x, k
		if bf16 {
			xc, kc = ConvertDType(x, dtypes.BFloat16), ConvertDType(k, dtypes.BFloat16)
		}
		conv := Convolve(xc, kc).Strides(s.Stride).PaddingPerDim([][2]int{{1, 1}, {1, 1}})
		if nchw {
			conv = conv.ChannelsAxis(timage.ChannelsFirst)
		}
		y := ConvertDType(conv.Done(), dtypes.Float32)
		loss := ReduceAllSum(Square(y))
		if !s.Backward {
			return []*Node{loss}
		}
		if j.Variant == "nhwc-dw9" {
			dx, dk := convGradsDW9(x, k, y)
			return []*Node{loss, dx, dk}
		}
		g := Gradient(loss, x, k)
		return []*Node{loss, g[0], g[1]}
	})
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer exec.Finalize()
	xDims := []int{s.N, s.HW, s.HW, s.Cin}
	if nchw {
		xDims = []int{s.N, s.Cin, s.HW, s.HW}
	}
	kDims := []int{3, 3, s.Cin, s.Cout}
	if nchw {
		kDims = []int{s.Cout, s.Cin, 3, 3} // GoMLX's channels-first kernel: [out, in, kh, kw]
	}
	x, k := randomTensor(5, xDims...), randomTensor(6, kDims...)
	first, per, err := timeSteps(execStep(exec, x, k), j.Warmup, j.Steps)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.FirstS, res.StepS, res.CPUCores = first.Seconds(), per.Seconds(), lastCPUCores
	macs := float64(convMACs((s.HW+s.Stride-1)/s.Stride, (s.HW+s.Stride-1)/s.Stride, s.Cin, s.Cout, 3)) * float64(s.N)
	if s.Backward {
		macs *= 3
	}
	res.PeakGFLOP = 2 * macs / per.Seconds() / 1e9
	return res
}

// convGradsDW9 returns the gradients of sum(y²) for y = conv3×3(x, k) (stride 1, padding 1, NHWC):
// the input gradient from GoMLX's convolution VJP, and the kernel gradient as 9 matrix products,
// dk[i, j] = x_pad[:, i:i+H, j:j+W, :]ᵀ · dy over the N·H·W rows, instead of GoMLX's kernel-gradient
// convolution (a window as large as the image, with batch and channel axes swapped, which XLA CPU
// canonicalises with transposes of the activation and of the output gradient).
func convGradsDW9(x, k, y *Node) (dx, dk *Node) {
	dy := MulScalar(StopGradient(y), 2)
	dx = Gradient(ReduceAllSum(Mul(dy, Convolve(x, StopGradient(k)).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done())), x)[0]
	n, h, w, ci := x.Shape().Dimensions[0], x.Shape().Dimensions[1], x.Shape().Dimensions[2], x.Shape().Dimensions[3]
	co := k.Shape().Dimensions[3]
	g := x.Graph()
	xp := Pad(StopGradient(x), ScalarZero(g, x.DType()), PadAxis{}, PadAxis{Start: 1, End: 1}, PadAxis{Start: 1, End: 1}, PadAxis{})
	dyFlat := Reshape(dy, n*h*w, co)
	var taps []*Node
	for i := range 3 {
		for j := range 3 {
			win := Slice(xp, AxisRange(), AxisRange(i, i+h), AxisRange(j, j+w), AxisRange())
			taps = append(taps, DotGeneral(Reshape(win, n*h*w, ci), []int{0}, nil, dyFlat, []int{0}, nil))
		}
	}
	return dx, Reshape(Stack(taps, 0), 3, 3, ci, co)
}

// splitBench times part of a training step: "fwd" (both views forward in training mode and the
// VICReg loss), "fwdbwd" (that plus every trainable variable's gradient, not applied) or "step"
// (trainer.NewStep: everything, the optimizer update included).
func splitBench(b backends.Backend, j job) result {
	c := j.Config
	if j.Variant == "step" {
		return runOurs(b, c, j.Warmup, j.Steps)
	}
	res := result{Config: c.Name + " " + j.Variant}
	obj, err := losses.New(losses.NameVICReg, losses.Defaults())
	if err != nil {
		res.Err = err.Error()
		return res
	}
	net := &trainer.Network{Model: models.Config{Arch: "resnet18", Stem: "cifar", Width: c.Width, InChannels: 3},
		Expander: c.Expander, Objective: obj}
	ctx := context.New()
	exec, err := context.NewExec(b, ctx.Checked(false), func(ctx *context.Context, v1, v2 *Node) []*Node {
		g := v1.Graph()
		ctx.SetTraining(g, true)
		z1 := models.Expander(ctx.In(config.ExpanderScope), net.Expander, net.Embed(ctx, v1))
		z2 := models.Expander(ctx.In(config.ExpanderScope), net.Expander, net.Embed(ctx, v2))
		loss, _ := obj.Loss(z1, z2)
		if j.Variant == "fwd" {
			return []*Node{loss}
		}
		sum := loss
		for _, gr := range ctx.BuildTrainableVariablesGradientsGraph(loss) {
			sum = Add(sum, ReduceAllSum(gr))
		}
		return []*Node{sum}
	})
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer exec.Finalize()
	v1, v2 := randomImages(1, c.Batch, c.image()), randomImages(2, c.Batch, c.image())
	first, per, err := timeSteps(execStep(exec, v1, v2), j.Warmup, j.Steps)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.FirstS, res.StepS, res.CPUCores = first.Seconds(), per.Seconds(), lastCPUCores
	res.ImagesPS = float64(c.imagesPerStep()) / per.Seconds()
	return res
}

// variant is one arm of an A/B comparison.
type variant struct {
	name string
	job  job
	env  []string
	wrap []string // command prefix, e.g. taskset
}

// interleave runs every variant reps times, round-robin (A B C A B C ...), so that slow phases of
// the machine's other work fall on every arm alike, and returns each arm's step times.
func interleave(vs []variant, reps int) map[string][]float64 {
	times := map[string][]float64{}
	for rep := range reps {
		for _, v := range vs {
			var r result
			err := inChildWrapped(v.job, v.env, v.wrap, &r)
			if err == nil && r.Err != "" {
				err = fmt.Errorf("%s", r.Err)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "lever %s: %v\n", v.name, tail(err.Error(), 400))
				continue
			}
			fmt.Fprintf(os.Stderr, "rep %d %-28s step %.4fs first %.1fs cores %.2f\n", rep+1, v.name, r.StepS, r.FirstS, r.CPUCores)
			times[v.name] = append(times[v.name], r.StepS)
			times[v.name+"#first"] = append(times[v.name+"#first"], r.FirstS)
			times[v.name+"#cores"] = append(times[v.name+"#cores"], r.CPUCores)
			times[v.name+"#cpu"] = append(times[v.name+"#cpu"], r.CPUCores*r.StepS)
			times[v.name+"#gflops"] = append(times[v.name+"#gflops"], r.PeakGFLOP)
		}
	}
	return times
}

// printArms prints each arm's median step time, and its ratio to the first arm's.
func printArms(title string, vs []variant, times map[string][]float64) {
	fmt.Printf("\n### %s\n\n| arm | median step s | min step s | speed vs first arm | CPU s/step | CPU-time speed vs first | GFLOP/s (wall) | median first call s | CPU cores busy |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n", title)
	base := median(times[vs[0].name])
	baseCPU := median(times[vs[0].name+"#cpu"])
	for _, v := range vs {
		t := times[v.name]
		if len(t) == 0 {
			fmt.Printf("| %s | failed | | | | |\n", v.name)
			continue
		}
		fmt.Printf("| %s | %.4f | %.4f | %.2fx | %.4f | %.2fx | %s | %.1f | %.2f |\n", v.name, median(t), slices.Min(t), base/median(t),
			median(times[v.name+"#cpu"]), baseCPU/median(times[v.name+"#cpu"]), num(median(times[v.name+"#gflops"]), 2),
			median(times[v.name+"#first"]), median(times[v.name+"#cores"]))
	}
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runLevers measures the levers, each as an interleaved A/B on the same machine state.
func runLevers(o options) error {
	exp, err := models.ParseExpander(o.expander)
	if err != nil {
		return err
	}
	reps := 3
	w16 := benchConfig{Name: fmt.Sprintf("r18w16-train-sgd-b%d", o.batch), Mode: modeTrain, Width: 16, Batch: o.batch, Opt: "sgd", Expander: exp}
	which := func(name string) bool {
		return o.configs == "" || strings.Contains(o.configs, name)
	}
	start := time.Now()
	if which("layout") {
		for _, s := range []convSpec{
			{N: o.batch, HW: 32, Cin: 16, Cout: 16, Stride: 1, Backward: true},
			{N: o.batch, HW: 8, Cin: 128, Cout: 128, Stride: 1, Backward: true},
			{N: o.batch, HW: 16, Cin: 64, Cout: 64, Stride: 1, Backward: false},
			{N: o.batch, HW: 16, Cin: 64, Cout: 64, Stride: 1, Backward: true},
		} {
			var vs []variant
			arms := []string{"nhwc", "nchw", "nhwc-bf16"}
			if s.Backward && s.Stride == 1 {
				arms = append(arms, "nhwc-dw9")
			}
			for _, v := range arms {
				s := s
				vs = append(vs, variant{name: v, job: job{Kind: jobConv, Variant: v, Conv: &s, Warmup: 2, Steps: 5}})
			}
			title := fmt.Sprintf("3×3 convolution, batch %d, %d×%d, %d→%d channels, %s (GFLOP/s = 2·MACs%s / step)",
				s.N, s.HW, s.HW, s.Cin, s.Cout, map[bool]string{true: "forward + both gradients", false: "forward"}[s.Backward],
				map[bool]string{true: "·3", false: ""}[s.Backward])
			printArms(title, vs, interleave(vs, reps))
		}
	}
	if which("split") {
		var vs []variant
		for _, v := range []string{"fwd", "fwdbwd", "step"} {
			vs = append(vs, variant{name: v, job: job{Kind: jobSplit, Variant: v, Config: w16, Warmup: 2, Steps: 3}})
		}
		printArms("Where the time goes: "+w16.Name+" (fwd: both views + loss, training mode; fwdbwd: + gradients; step: + optimizer update)", vs, interleave(vs, 1))
	}
	micro := convSpec{N: o.batch, HW: 16, Cin: 64, Cout: 64, Stride: 1, Backward: true}
	microJob := job{Kind: jobConv, Variant: "nhwc", Conv: &micro, Warmup: 2, Steps: 5}
	microName := fmt.Sprintf("3×3 convolution forward + gradients, batch %d, 16×16, 64→64", o.batch)
	if which("threads") {
		vs := []variant{
			{name: "2 cores (default)", job: microJob},
			{name: "taskset -c 0 (1 core)", job: microJob, wrap: []string{"taskset", "-c", "0"}},
		}
		printArms("Threads: "+microName, vs, interleave(vs, reps))
		if which("threads-step") {
			vs := []variant{
				{name: "2 cores (default)", job: job{Kind: "config", Config: w16, Warmup: 2, Steps: 3}},
				{name: "taskset -c 0 (1 core)", job: job{Kind: "config", Config: w16, Warmup: 2, Steps: 3}, wrap: []string{"taskset", "-c", "0"}},
			}
			printArms("Threads: "+w16.Name, vs, interleave(vs, 1))
		}
	}
	if which("flags") {
		var vs, steps []variant
		for _, f := range xlaFlagArms(o.xlaFlags) {
			j := microJob
			j.XLAFlags = f
			vs = append(vs, variant{name: orDefault(f, "no XLA_FLAGS"), job: j})
			steps = append(steps, variant{name: orDefault(f, "no XLA_FLAGS"), job: job{Kind: "config", Config: w16, Warmup: 2, Steps: 3, XLAFlags: f}})
		}
		printArms("XLA_FLAGS: "+microName, vs, interleave(vs, reps))
		if which("flags-step") {
			printArms("XLA_FLAGS: "+w16.Name, steps, interleave(steps, 1))
		}
	}
	fmt.Printf("\nCPU s/step is this process's CPU time per step: the work done, less sensitive than wall time to how much of the shared cores it got.\n")
	fmt.Printf("\nLevers took %s. Other work shared the 2 cores during these runs; compare arms only within a table.\n", time.Since(start).Round(time.Second))
	return nil
}

// xlaFlagArms is the baseline (no flags) followed by each flag setting in spec (";"-separated).
func xlaFlagArms(spec string) []string {
	arms := []string{""}
	for _, f := range strings.Split(spec, ";") {
		if f = strings.TrimSpace(f); f != "" {
			arms = append(arms, f)
		}
	}
	return arms
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
