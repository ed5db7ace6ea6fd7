package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/config"
	"github.com/gomlx-ssl/vicreg/train/optim"
	"github.com/gomlx-ssl/vicreg/train/trainer"
)

// result is what one side reports for one configuration.
type result struct {
	Config    string  `json:"config"`
	FirstS    float64 `json:"first_s"` // first call: graph building, compilation, variable init, one step
	StepS     float64 `json:"step_s"`  // steady-state seconds per step
	ImagesPS  float64 `json:"images_per_s"`
	VmHWMKiB  int64   `json:"vmhwm_kib"` // peak resident memory of the process
	Err       string  `json:"error,omitempty"`
	PeakGFLOP float64 `json:"gflops,omitempty"`    // peak and conv jobs
	CPUCores  float64 `json:"cpu_cores,omitempty"` // CPU time / wall time over the timed steps
}

// randomImages returns a [n, side, side, 3] tensor of N(0,1) pixels (NHWC, our models' layout).
func randomImages(seed uint64, n, side int) *tensors.Tensor {
	return randomTensor(seed, n, side, side, 3)
}

// onDevice copies t to device 0 of b once, so that timed steps do not include the host-to-device
// copy of their inputs (PyTorch's inputs also stay on the device).
func onDevice(b backends.Backend, t *tensors.Tensor) (*tensors.Tensor, error) {
	if err := t.MaterializeOnDevice(b, false, 0); err != nil {
		return nil, fmt.Errorf("copying an input to the device: %w", err)
	}
	return t, nil
}

// newOptimizer returns the update the PyTorch script also uses: SGD with momentum 0.9 and weight
// decay 1e-4, or solo-learn's LARS (eta 0.02, clipping); learning rate 0.3·batch/256, constant.
func newOptimizer(c benchConfig) (*optim.Optimizer, error) {
	oc := optim.Config{Kind: c.Opt, Momentum: 0.9, WeightDecay: 1e-4,
		Schedule: optim.Schedule{Base: 0.3 * float64(c.Batch) / 256, TotalSteps: 1 << 40}}
	if c.Opt == "lars" {
		oc.Eta, oc.Clip = 0.02, true
	}
	return optim.New(oc)
}

// randomTensor returns N(0,1) float32 values of the given dimensions.
func randomTensor(seed uint64, dims ...int) *tensors.Tensor {
	r := rand.New(rand.NewPCG(seed, 7))
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// stepper runs one step of a configuration.
type stepper func() error

// executable is what graph.Exec and context.Exec have in common.
type executable interface {
	Exec(args ...any) ([]*tensors.Tensor, error)
}

// execStep is the stepper that runs exec on args, waits for its results and frees them. It waits
// by reading the first output on the host: freeing a device buffer does not wait for the
// computation on every backend (on a GPU, execution is asynchronous).
func execStep(exec executable, args ...any) stepper {
	return func() error {
		outs, err := exec.Exec(args...)
		if err != nil {
			return err
		}
		if len(outs) > 0 {
			if err := outs[0].ConstFlatData(func(any) {}); err != nil {
				return err
			}
		}
		for _, o := range outs {
			o.MustFinalizeAll()
		}
		return nil
	}
}

// buildOurs prepares the configuration's compiled program (compiled lazily on the first call).
func buildOurs(b backends.Backend, c benchConfig) (stepper, func(), error) {
	mc := models.Config{Arch: c.arch(), Stem: c.stem(), Width: c.Width, InChannels: 3}
	dtype, err := config.PrecisionDType(c.Precision)
	if err != nil {
		return nil, nil, err
	}
	net := &trainer.Network{Model: mc, Expander: c.Expander, Precision: dtype}
	ctx := context.New()
	v1, err := onDevice(b, randomImages(1, c.Batch, c.image()))
	if err != nil {
		return nil, nil, err
	}
	if c.Mode == modeInfer {
		exec, err := context.NewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
			ctx.SetTraining(x.Graph(), false)
			return net.Embed(ctx, x)
		})
		if err != nil {
			return nil, nil, fmt.Errorf("building the inference graph: %w", err)
		}
		return execStep(exec, v1), exec.Finalize, nil
	}
	obj, err := losses.New(losses.NameVICReg, losses.Defaults())
	if err != nil {
		return nil, nil, err
	}
	opt, err := newOptimizer(c)
	if err != nil {
		return nil, nil, err
	}
	net.Objective = obj
	step, err := trainer.NewStep(b, ctx, net, opt)
	if err != nil {
		return nil, nil, err
	}
	v2, err := onDevice(b, randomImages(2, c.Batch, c.image()))
	if err != nil {
		return nil, nil, err
	}
	labels, err := onDevice(b, tensors.FromFlatDataAndDimensions(make([]int32, c.Batch), c.Batch))
	if err != nil {
		return nil, nil, err
	}
	run := func() error {
		_, err := step.Run(v1, v2, labels)
		return err
	}
	return run, step.Finalize, nil
}

// timeSteps calls run once (the compile), then warmup-1 more times, then times steps calls.
// lastCPUCores is the CPU time of this process over the last timed steps divided by their wall time.
var lastCPUCores float64

func timeSteps(run stepper, warmup, steps int) (first, perStep time.Duration, err error) {
	start := time.Now()
	if err := run(); err != nil {
		return 0, 0, err
	}
	first = time.Since(start)
	for range warmup - 1 {
		if err := run(); err != nil {
			return 0, 0, err
		}
	}
	cpu0 := cpuTime()
	start = time.Now()
	for range steps {
		if err := run(); err != nil {
			return 0, 0, err
		}
	}
	wall := time.Since(start)
	lastCPUCores = (cpuTime() - cpu0).Seconds() / wall.Seconds()
	return first, wall / time.Duration(steps), nil
}

// runOurs benchmarks one configuration in this process.
func runOurs(b backends.Backend, c benchConfig, warmup, steps int) result {
	res := result{Config: c.Name}
	run, done, err := buildOurs(b, c)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer done()
	first, per, err := timeSteps(run, warmup, steps)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.FirstS, res.StepS, res.CPUCores = first.Seconds(), per.Seconds(), lastCPUCores
	res.ImagesPS = float64(c.imagesPerStep()) / per.Seconds()
	res.VmHWMKiB, _ = procStatusKiB("VmHWM")
	return res
}

// matmulPeak times an n×n float32 matrix product on b: the machine's practical peak in GFLOP/s.
func matmulPeak(b backends.Backend, n, warmup, steps int) result {
	res := result{Config: fmt.Sprintf("matmul-%d", n)}
	exec, err := NewExec(b, func(x, y *Node) *Node { return MatMul(x, y) })
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer exec.Finalize()
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]float32, n*n)
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	x := tensors.FromFlatDataAndDimensions(data, n, n)
	y := tensors.FromFlatDataAndDimensions(data, n, n)
	first, per, err := timeSteps(execStep(exec, x, y), warmup, steps)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.FirstS, res.StepS, res.CPUCores = first.Seconds(), per.Seconds(), lastCPUCores
	res.PeakGFLOP = 2 * float64(n) * float64(n) * float64(n) / per.Seconds() / 1e9
	res.VmHWMKiB, _ = procStatusKiB("VmHWM")
	return res
}

// cpuTime is this process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatusKiB reads a "kB" field (VmHWM, VmRSS) of /proc/self/status.
func procStatusKiB(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("reading /proc/self/status: %w", err)
	}
	defer f.Close()
	return parseStatusKiB(f, field)
}

// parseStatusKiB finds "field:   123 kB" in a /proc/<pid>/status text.
func parseStatusKiB(r interface{ Read([]byte) (int, error) }, field string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status field %s: unexpected value %q", field, rest)
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc status has no field %s", field)
}
