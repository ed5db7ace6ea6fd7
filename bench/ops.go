package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/models"
)

// The parts of a training step that -ops times at each stage of a ResNet-18, on both sides.
const (
	opConvForward = "conv forward"
	opConvInput   = "conv input gradient"
	opConvKernel  = "conv kernel gradient"
	opBatchNorm   = "batch norm forward + backward"
)

var stageOps = []string{opConvForward, opConvInput, opConvKernel, opBatchNorm}

// opTiming is one op at one stage: milliseconds per call.
type opTiming struct {
	Op string  `json:"op"`
	HW int     `json:"hw"`
	C  int     `json:"c"`
	MS float64 `json:"ms"`
}

// opsResult is the result line of an "ops" child (ours) or of torch_step.py --mode ops.
type opsResult struct {
	Ops []opTiming `json:"ops"`
	Err string     `json:"error,omitempty"`
}

// stages are the (spatial size, channels) of a CIFAR-stem ResNet-18 of the given base width.
func stages(width int) [][2]int {
	return [][2]int{{32, width}, {16, 2 * width}, {8, 4 * width}, {4, 8 * width}}
}

// perStep is how many times a training step (two views) runs op at a stage: the 3×3 stride-1
// convolutions (4 in the first stage, 3 in the others, whose first is strided) and the batch
// norms (5 per stage: the stem's or the shortcut's, and one per convolution).
func perStep(op string, stage int) int {
	if op == opBatchNorm {
		return 10
	}
	if stage == 0 {
		return 8
	}
	return 6
}

// opsBench times, in this process, each op of stageOps at each stage of j.Config's width: a 3×3
// stride-1 convolution with padding 1 (NHWC) forward, its input gradient and its kernel gradient
// (each alone: XLA drops the unused forward), and models.BatchNorm in training mode forward with
// the gradients to its input, scale and offset. With j.Config.Precision "bf16" the operands are
// cast to bfloat16 in the graph first (the kernel's gradient accumulates into float32 as
// -precision bf16 does: the cast's gradient).
func opsBench(b backends.Backend, j job) opsResult {
	var res opsResult
	n := j.Config.Batch
	cast := func(x *Node) *Node { return x }
	if j.Config.bf16() {
		cast = func(x *Node) *Node { return ConvertDType(x, dtypes.BFloat16) }
	}
	for _, s := range stages(j.Config.Width) {
		hw, c := s[0], s[1]
		x, r, k := randomTensor(1, n, hw, hw, c), randomTensor(2, n, hw, hw, c), randomTensor(3, 3, 3, c, c)
		conv := func(x, k *Node) *Node {
			return ConvertDType(Convolve(cast(x), cast(k)).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done(), dtypes.Float32)
		}
		graphs := map[string]func(ctx *context.Context, x, r, k *Node) []*Node{
			opConvForward: func(_ *context.Context, x, _, k *Node) []*Node { return []*Node{conv(x, k)} },
			opConvInput: func(_ *context.Context, x, r, k *Node) []*Node {
				return Gradient(ReduceAllSum(Mul(conv(x, StopGradient(k)), r)), x)
			},
			opConvKernel: func(_ *context.Context, x, r, k *Node) []*Node {
				return Gradient(ReduceAllSum(Mul(conv(StopGradient(x), k), r)), k)
			},
			opBatchNorm: func(ctx *context.Context, x, r, _ *Node) []*Node {
				g := x.Graph()
				ctx.SetTraining(g, true)
				loss := ReduceAllSum(Mul(ConvertDType(models.BatchNorm(ctx, cast(x)), dtypes.Float32), r))
				return Gradient(loss, x, ctx.GetVariable("weight").ValueGraph(g), ctx.GetVariable("bias").ValueGraph(g))
			},
		}
		for _, op := range stageOps {
			exec, err := context.NewExec(b, context.New().Checked(false), graphs[op])
			if err != nil {
				res.Err = fmt.Sprintf("%s at %d×%d×%d: %v", op, hw, hw, c, err)
				return res
			}
			_, per, err := timeSteps(execStep(exec, x, r, k), j.Warmup, j.Steps)
			exec.Finalize()
			if err != nil {
				res.Err = fmt.Sprintf("%s at %d×%d×%d: %v", op, hw, hw, c, err)
				return res
			}
			res.Ops = append(res.Ops, opTiming{Op: op, HW: hw, C: c, MS: 1000 * per.Seconds()})
		}
	}
	return res
}

// runOps prints, per width, each op at each stage on both sides and what the difference costs a
// training step (milliseconds × calls per step).
func runOps(o options, torch *torchSide) error {
	for _, w := range strings.Split(o.opsWidths, ",") {
		width, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || width <= 0 {
			return fmt.Errorf("-ops-widths %q: %q is not a positive width", o.opsWidths, w)
		}
		if o.opsPrecision != "f32" && o.opsPrecision != "bf16" {
			return fmt.Errorf("-ops-precision %q: want f32 or bf16", o.opsPrecision)
		}
		cfg := benchConfig{Name: fmt.Sprintf("r18w%d-ops-b%d", width, o.batch), Width: width, Batch: o.batch, Precision: o.opsPrecision}
		var ours opsResult
		if err := inChild(job{Kind: "ops", Config: cfg, Warmup: o.warmup, Steps: o.steps}, nil, &ours); err != nil {
			return err
		}
		if ours.Err != "" {
			return fmt.Errorf("%s: %s", cfg.Name, ours.Err)
		}
		var theirs opsResult
		torchNote := torch.note
		if torchNote == "" {
			if err := torch.runJSON(&theirs, "--mode", "ops", "--width", fmt.Sprint(width), "--batch", fmt.Sprint(o.batch),
				"--warmup", fmt.Sprint(o.warmup), "--steps", fmt.Sprint(o.steps), "--precision", o.opsPrecision); err != nil {
				torchNote = err.Error()
			}
		}
		fmt.Printf("\nPrecision %s; backend %s; XLA_FLAGS=%q.\n", o.opsPrecision, backendName(), os.Getenv("XLA_FLAGS"))
		printOps(os.Stdout, width, o.batch, ours.Ops, theirs.Ops)
		if torchNote != "" {
			fmt.Printf("\nPyTorch columns empty: %s\n", tail(torchNote, 400))
		}
	}
	fmt.Printf("\nms per call, steady state (%d untimed calls, then the mean of %d). Per step: calls in one training step of two views. Gap: (ours − PyTorch) × calls, seconds per step.\n", o.warmup, o.steps)
	return nil
}

// printOps writes one width's table.
func printOps(f io.Writer, width, batch int, ours, theirs []opTiming) {
	key := func(t opTiming) string { return fmt.Sprintf("%s/%d/%d", t.Op, t.HW, t.C) }
	torchMS := map[string]float64{}
	for _, t := range theirs {
		torchMS[key(t)] = t.MS
	}
	fmt.Fprintf(f, "\n### Ops of the ResNet-18 width-%d training step, batch %d\n\n| op | stage (h×w×c) | ours ms | PyTorch ms | ours/PyTorch time | per step | gap s/step |\n|---|---|---:|---:|---:|---:|---:|\n", width, batch)
	var total float64
	for _, t := range ours {
		stage := 0
		for i, s := range stages(width) {
			if s[0] == t.HW {
				stage = i
			}
		}
		calls := perStep(t.Op, stage)
		tm, ok := torchMS[key(t)]
		ratio, gap := "–", "–"
		if ok && tm > 0 {
			g := (t.MS - tm) * float64(calls) / 1000
			total += g
			ratio, gap = fmt.Sprintf("%.2f", t.MS/tm), fmt.Sprintf("%+.2f", g)
		}
		fmt.Fprintf(f, "| %s | %d×%d×%d | %.1f | %s | %s | %d | %s |\n", t.Op, t.HW, t.HW, t.C, t.MS, num(tm, 1), ratio, calls, gap)
	}
	if len(theirs) > 0 {
		fmt.Fprintf(f, "| **all** | | | | | | **%+.2f** |\n", total)
	}
}
