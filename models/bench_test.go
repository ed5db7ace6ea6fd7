package models

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// benchBatchesEnv lists the batch sizes of the benchmarks, comma-separated (default "64"; e.g.
// "64,256" where a 256 batch is affordable).
const benchBatchesEnv = "VICREG_BENCH_BATCHES"

func benchBatches(b *testing.B) []int {
	spec := os.Getenv(benchBatchesEnv)
	if spec == "" {
		return []int{64}
	}
	var out []int
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: %q is not a positive batch size", benchBatchesEnv, spec, s)
		}
		out = append(out, n)
	}
	return out
}

// benchConfig is the encoder the benchmarks time: ResNet-18, CIFAR stem, width 64, 32x32 RGB.
var benchConfig = Config{Arch: "resnet18", Stem: "cifar", Width: 64, InChannels: 3}

// runBench times exec: the first call (graph building, XLA compilation and, for the first exec
// on a context, variable initialisation) is reported as compile_s; then b.N calls give images/s.
func runBench(b *testing.B, exec *context.Exec, imagesPerCall int, args ...any) {
	start := time.Now()
	out, err := exec.Exec(args...)
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range out {
		t.MustFinalizeAll()
	}
	compile := time.Since(start)
	b.ResetTimer()
	start = time.Now()
	for range b.N {
		out, err := exec.Exec(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range out {
			t.MustFinalizeAll() // Waits for the device and frees the buffers.
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(compile.Seconds(), "compile_s")
	b.ReportMetric(float64(imagesPerCall*b.N)/elapsed.Seconds(), "images/s")
}

// BenchmarkEncoderForward: eval-mode forward pass of ResNet-18 (CIFAR stem, width 64).
func BenchmarkEncoderForward(b *testing.B) {
	backend := backendtest.XLA(b)
	for _, batch := range benchBatches(b) {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.New()
			exec := context.MustNewExec(backend, ctx, func(ctx *context.Context, x *Node) *Node {
				return Encoder(ctx, benchConfig, x)
			})
			runBench(b, exec, batch, randomImages(1, batch, 32, 32, 3))
		})
	}
}

// BenchmarkTrainStep: one compiled training step on two views — both forwards in training mode,
// a stand-in loss (invariance MSE between the two representations plus their mean square, so
// both views get gradients), backward, and an SGD update of every variable. images/s counts both
// views.
func BenchmarkTrainStep(b *testing.B) {
	backend := backendtest.XLA(b)
	for _, batch := range benchBatches(b) {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.New()
			opt := optimizers.StochasticGradientDescent().WithLearningRate(1e-3).WithDecay(false).Done()
			exec := context.MustNewExec(backend, ctx, func(ctx *context.Context, v1, v2 *Node) *Node {
				g := v1.Graph()
				ctx.SetTraining(g, true)
				z1 := Encoder(ctx, benchConfig, v1)
				z2 := Encoder(ctx, benchConfig, v2)
				loss := Add(ReduceAllMean(Square(Sub(z1, z2))),
					MulScalar(Add(ReduceAllMean(Square(z1)), ReduceAllMean(Square(z2))), 1e-3))
				opt.UpdateGraph(ctx, g, loss)
				return loss
			})
			var views []any
			for i := range 2 {
				views = append(views, randomImages(uint64(i+1), batch, 32, 32, 3))
			}
			runBench(b, exec, 2*batch, views...)
		})
	}
}
