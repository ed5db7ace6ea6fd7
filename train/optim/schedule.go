// Package optim holds the optimisers and the learning-rate schedule used for pretraining:
// LARS as in the VICReg reference implementations, SGD with momentum and AdamW, all driven by a
// per-step linear warm-up followed by cosine decay.
//
// They implement GoMLX's optimizers.Interface, so the whole update is built into the same compiled
// training program as the forward and backward passes.
package optim

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// Schedule is a per-step learning rate: linear warm-up from 0 to Base over WarmupSteps, then cosine
// decay from Base to Base*FinalFraction at TotalSteps (the official VICReg schedule, with
// FinalFraction 0.001). Steps count from 0.
//
// With Every > 1 the rate changes once every Every steps, and WarmupSteps and TotalSteps count
// such periods: evaluate.py's cosine, stepped once an epoch (PyTorch's CosineAnnealingLR with
// T_max epochs), is Every = batches per epoch and TotalSteps = epochs.
type Schedule struct {
	Base          float64 // peak learning rate, already scaled by batch/256 where that applies
	WarmupSteps   int64
	TotalSteps    int64
	FinalFraction float64
	Every         int64 // steps per period of the schedule; 0 means 1 (every step)
}

// Constant returns the schedule of a constant learning rate lr (no warm-up, no decay).
func Constant(lr float64) Schedule {
	return Schedule{Base: lr, TotalSteps: 1, FinalFraction: 1}
}

// Validate reports a schedule that cannot be evaluated, as a *FieldError naming the setting
// (FieldLR, FieldTotalSteps, FieldWarmupSteps or FieldFinalFraction).
func (s Schedule) Validate() error {
	switch {
	case s.Base < 0 || math.IsNaN(s.Base) || math.IsInf(s.Base, 0):
		return fieldError(FieldLR, "learning rate %v must be a finite number >= 0", s.Base)
	case s.TotalSteps <= 0:
		return fieldError(FieldTotalSteps, "total steps %d must be > 0", s.TotalSteps)
	case s.WarmupSteps < 0 || s.WarmupSteps > s.TotalSteps:
		return fieldError(FieldWarmupSteps, "warm-up steps %d must be between 0 and the total steps %d", s.WarmupSteps, s.TotalSteps)
	case !(s.FinalFraction >= 0 && s.FinalFraction <= 1):
		return fieldError(FieldFinalFraction, "final learning-rate fraction %v must be in [0, 1]", s.FinalFraction)
	case s.Every < 0:
		return fieldError(FieldTotalSteps, "schedule period %d must be >= 0 steps", s.Every)
	}
	return nil
}

// WithBase returns the schedule with another peak learning rate (the same warm-up and decay).
func (s Schedule) WithBase(base float64) Schedule {
	s.Base = base
	return s
}

// At returns the learning rate for the given step, in float64 on the host (with Every > 1, step
// below is the period, step/Every).
//
//	step < warm-up:  lr = Base * step / warm-up
//	otherwise:       q = (1 + cos(pi * (step - warm-up) / (total - warm-up))) / 2
//	                 lr = Base * q + Base * FinalFraction * (1 - q)
func (s Schedule) At(step int64) float64 {
	step /= max(s.Every, 1)
	if step < s.WarmupSteps {
		return s.Base * float64(step) / float64(s.WarmupSteps)
	}
	step = min(step, s.TotalSteps)
	span := max(s.TotalSteps-s.WarmupSteps, 1)
	q := 0.5 * (1 + math.Cos(math.Pi*float64(step-s.WarmupSteps)/float64(span)))
	end := s.Base * s.FinalFraction
	return s.Base*q + end*(1-q)
}

// Graph returns the learning rate for step (a scalar node of any numeric dtype) in the graph, in
// the same formula as At, as a float32 scalar.
func (s Schedule) Graph(step *Node) *Node {
	g := step.Graph()
	if s.Every > 1 {
		if !step.DType().IsInt() {
			panic("optim: Schedule.Graph with Every > 1 needs an integer step")
		}
		step = Div(step, Scalar(g, step.DType(), s.Every)) // integer division: the period
	}
	t := ConvertDType(step, dtypes.Float32)
	warm := float64(s.WarmupSteps)
	span := float64(max(s.TotalSteps-s.WarmupSteps, 1))
	end := s.Base * s.FinalFraction

	warmLR := MulScalar(t, s.Base/math.Max(warm, 1))
	progress := DivScalar(AddScalar(MinScalar(t, float64(s.TotalSteps)), -warm), span)
	q := MulScalar(OnePlus(Cos(MulScalar(progress, math.Pi))), 0.5)
	cosLR := AddScalar(MulScalar(q, s.Base-end), end)
	return Where(LessThan(t, Scalar(g, dtypes.Float32, warm)), warmLR, cosLR)
}
