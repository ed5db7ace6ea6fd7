package optim

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// TestHeadGroup checks the second parameter group against a float64 reference: constant, no weight
// decay (the online probe), and scheduled with weight decay (a fine-tuned classifier: PyTorch's
// param groups under one cosine scheduler), while the backbone follows the main schedule; and
// scheduled with a backbone rate of 0 (a frozen encoder), where the head keeps the schedule's
// shape from its first step.
func TestHeadGroup(t *testing.T) {
	const (
		mom, wd, headLR, headWD = 0.9, 0.01, 0.08, 0.001
		steps                   = 4
	)
	sched := Schedule{Base: 0.03, WarmupSteps: 1, TotalSteps: steps, FinalFraction: 0.001}
	w0, gw := []float64{1, -2, 0.5, 3}, []float64{0.3, 0.1, -0.2, 0.4}
	h0, gh := []float64{0.2, -0.1}, []float64{1, -2}
	reference := func(scheduled bool, sched Schedule) (w, h []float64) {
		w, h = append([]float64(nil), w0...), append([]float64(nil), h0...)
		muW, muH := make([]float64, len(w)), make([]float64, len(h))
		for step := range int64(steps) {
			lr := sched.At(step)
			for i := range w { // SGD with L2 weight decay on the backbone
				muW[i] = mom*muW[i] + gw[i] + wd*w[i]
				w[i] -= lr * muW[i]
			}
			hlr, hwd := headLR, 0.0
			if scheduled {
				hlr, hwd = sched.WithBase(headLR).At(step), headWD
			}
			for i := range h {
				muH[i] = mom*muH[i] + gh[i] + hwd*h[i]
				h[i] -= hlr * muH[i]
			}
		}
		return w, h
	}
	b := backendtest.Backend(t)
	for _, tc := range []struct {
		scheduled bool
		base      float64
	}{{false, sched.Base}, {true, sched.Base}, {true, 0}} {
		scheduled, sched := tc.scheduled, sched.WithBase(tc.base)
		ctx := context.New()
		wVar := ctx.In("encoder").VariableWithValue("weights", tensors.FromFlatDataAndDimensions(f32(w0), 2, 2))
		hVar := ctx.In("head").VariableWithValue("weights", tensors.FromFlatDataAndDimensions(f32(h0), 1, 2))
		cfg := Config{Kind: "sgd", WeightDecay: wd, Momentum: mom, Schedule: sched, HeadScope: "/head", HeadLR: headLR}
		if scheduled {
			cfg.HeadScheduled, cfg.HeadWeightDecay = true, headWD
		}
		opt, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		exec := context.MustNewExec(b, ctx, func(ctx *context.Context, g *Graph) *Node {
			loss := Add(ReduceAllSum(Mul(wVar.ValueGraph(g), Const(g, tensors.FromFlatDataAndDimensions(f32(gw), 2, 2)))),
				ReduceAllSum(Mul(hVar.ValueGraph(g), Const(g, tensors.FromFlatDataAndDimensions(f32(gh), 1, 2)))))
			opt.UpdateGraph(ctx, g, loss)
			return loss
		})
		for range steps {
			exec.MustExec()
		}
		wantW, wantH := reference(scheduled, sched)
		gotW := tensors.MustCopyFlatData[float32](wVar.MustValue())
		gotH := tensors.MustCopyFlatData[float32](hVar.MustValue())
		for i := range wantW {
			if math.Abs(float64(gotW[i])-wantW[i]) > 1e-6 {
				t.Errorf("scheduled=%v, base %v: backbone[%d] = %v, want %v", scheduled, sched.Base, i, gotW[i], wantW[i])
			}
		}
		for i := range wantH {
			if math.Abs(float64(gotH[i])-wantH[i]) > 1e-6 {
				t.Errorf("scheduled=%v, base %v: head[%d] = %v, want %v", scheduled, sched.Base, i, gotH[i], wantH[i])
			}
		}
	}
}
