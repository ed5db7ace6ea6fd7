package optim

import (
	"math"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

func TestScheduleValues(t *testing.T) {
	s := Schedule{Base: 0.4, WarmupSteps: 10, TotalSteps: 110, FinalFraction: 0.001}
	for _, tc := range []struct {
		step int64
		want float64
	}{
		{0, 0},
		{5, 0.2},            // half-way through warm-up
		{10, 0.4},           // end of warm-up: the peak
		{60, 0.4 * 0.5005},  // mid-decay: q = 1/2, lr = (base + base/1000)/2
		{110, 0.4 * 0.001},  // end: base * final fraction
		{1000, 0.4 * 0.001}, // past the end: stays at the end value
	} {
		if got := s.At(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("At(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
	b := backendtest.Backend(t)
	exec := MustNewExec(b, func(step *Node) *Node { return s.Graph(step) })
	for step := int64(0); step <= 120; step += 7 {
		got := tensors.ToScalar[float32](exec.MustExec(step)[0])
		if want := s.At(step); math.Abs(float64(got)-want) > 1e-6 {
			t.Errorf("graph schedule at step %d = %v, host %v", step, got, want)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	for _, s := range []Schedule{
		{Base: -1, TotalSteps: 10},
		{Base: 1, TotalSteps: 0},
		{Base: 1, TotalSteps: 10, WarmupSteps: 11},
		{Base: 1, TotalSteps: 10, FinalFraction: 2},
	} {
		if s.Validate() == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

// TestOneLARSUpdate applies two updates to a matrix W and a bias b whose gradients are the
// constants G and gb (loss = sum(W*G) + sum(b*gb)), and compares with the LARS formulas computed
// here by hand in float64.
func TestOneLARSUpdate(t *testing.T) {
	W0 := []float64{1, -2, 0.5, 3}
	G := []float64{0.3, 0.1, -0.2, 0.4}
	b0 := []float64{0.2, -0.1}
	gb := []float64{1, -2}
	const lr, wd, eta, mom = 0.5, 0.01, 0.02, 0.9

	norm := func(x []float64) float64 {
		var s float64
		for _, v := range x {
			s += v * v
		}
		return math.Sqrt(s)
	}
	// reference runs `steps` updates by hand.
	reference := func(clip bool, steps int) (W, b []float64) {
		W = append([]float64(nil), W0...)
		b = append([]float64(nil), b0...)
		muW := make([]float64, 4)
		mub := make([]float64, 2)
		for range steps {
			dp := make([]float64, 4)
			for i := range dp {
				dp[i] = G[i] + wd*W[i]
			}
			q := eta * norm(W) / norm(dp)
			if clip {
				q = math.Min(q/lr, 1)
			}
			for i := range W {
				muW[i] = mom*muW[i] + q*dp[i]
				W[i] -= lr * muW[i]
			}
			for i := range b { // excluded: no weight decay, no adaptation
				mub[i] = mom*mub[i] + gb[i]
				b[i] -= lr * mub[i]
			}
		}
		return W, b
	}

	b := backendtest.Backend(t)
	for _, clip := range []bool{false, true} {
		ctx := context.New()
		wVar := ctx.In("layer").VariableWithValue("weights", tensors.FromFlatDataAndDimensions(f32(W0), 2, 2))
		bVar := ctx.In("layer").VariableWithValue("biases", f32(b0))
		opt, err := New(Config{Kind: "lars", WeightDecay: wd, Momentum: mom, Eta: eta, Clip: clip,
			Schedule: Schedule{Base: lr, TotalSteps: 1 << 40}})
		if err != nil {
			t.Fatal(err)
		}
		exec := context.MustNewExec(b, ctx, func(ctx *context.Context, g *Graph) *Node {
			wv := wVar.ValueGraph(g)
			bv := bVar.ValueGraph(g)
			loss := Add(ReduceAllSum(Mul(wv, Const(g, tensors.FromFlatDataAndDimensions(f32(G), 2, 2)))),
				ReduceAllSum(Mul(bv, Const(g, f32(gb)))))
			opt.UpdateGraph(ctx, g, loss)
			return loss
		})
		for step := 1; step <= 2; step++ {
			exec.MustExec()
			wantW, wantB := reference(clip, step)
			gotW := tensors.MustCopyFlatData[float32](wVar.MustValue())
			gotB := tensors.MustCopyFlatData[float32](bVar.MustValue())
			for i := range wantW {
				if math.Abs(float64(gotW[i])-wantW[i]) > 1e-6 {
					t.Errorf("clip=%v step %d: W[%d] = %v, want %v", clip, step, i, gotW[i], wantW[i])
				}
			}
			for i := range wantB {
				if math.Abs(float64(gotB[i])-wantB[i]) > 1e-6 {
					t.Errorf("clip=%v step %d: b[%d] = %v, want %v", clip, step, i, gotB[i], wantB[i])
				}
			}
		}
		if got := tensors.ToScalar[int64](StepVar(ctx).MustValue()); got != 2 {
			t.Errorf("step counter = %d after two updates, want 2", got)
		}
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	ok := Config{Kind: "lars", Eta: 0.02, Momentum: 0.9, Schedule: Schedule{Base: 1, TotalSteps: 10}}
	for _, tc := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Kind = "adam" }, `optimizer "adam" unknown`},
		{func(c *Config) { c.Eta = 0 }, "eta"},
		{func(c *Config) { c.Momentum = 1 }, "momentum"},
		{func(c *Config) { c.WeightDecay = -1 }, "weight decay"},
	} {
		c := ok
		tc.mutate(&c)
		_, err := New(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error containing %q, got %v", tc.want, err)
		}
	}
	if _, err := New(ok); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
