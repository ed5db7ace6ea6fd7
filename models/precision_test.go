package models_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/models"
)

func TestMasterDType(t *testing.T) {
	for _, tc := range []struct{ compute, want dtypes.DType }{
		{dtypes.BFloat16, dtypes.Float32},
		{dtypes.Float16, dtypes.Float32},
		{dtypes.Float32, dtypes.Float32},
		{dtypes.Float64, dtypes.Float64},
	} {
		if got := models.MasterDType(tc.compute); got != tc.want {
			t.Errorf("MasterDType(%s) = %s, want %s", tc.compute, got, tc.want)
		}
	}
}

// TestBFloat16Forward runs the encoder (ImageNet stem: convolutions, batch norm, max pool) and the
// expander in training mode on the same float32 variables and the same images, once in float32
// and once in bfloat16, and compares the embeddings. Variables must stay float32 (master weights)
// and be shared by both graphs.
//
// Tolerance: bfloat16 rounds to 8 significant bits (u = 2^-8 ≈ 0.0039). Each of the ~20 layers
// rounds its input and weights once (accumulation and batch norm are float32), and training-mode
// batch norm over a batch of 8 amplifies those errors by dividing by small batch standard
// deviations; a relative error of about u·sqrt(20)·5 ≈ 9% is the scale to expect (measured: 4.8%).
// We require the relative RMS difference of the embeddings to be below 10% and above u/4 (so bf16
// really was used).
func TestBFloat16Forward(t *testing.T) {
	b := backendtest.XLA(t)
	r := rand.New(rand.NewPCG(3, 4))
	const n = 8
	pix := make([]float32, n*16*16*1)
	for i := range pix {
		pix[i] = float32(r.NormFloat64())
	}
	images := tensors.FromFlatDataAndDimensions(pix, n, 16, 16, 1)
	cfg := models.Config{Arch: "resnet18", Stem: "imagenet", Width: 4, InChannels: 1}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	embed := func(dt dtypes.DType) []float32 {
		exec, err := context.NewExec(b, ctx.Checked(false), func(ctx *context.Context, x *Node) *Node {
			ctx.SetTraining(x.Graph(), true)
			f := models.Encoder(ctx.In("encoder"), cfg, ConvertDType(x, dt))
			if f.DType() != dt {
				t.Errorf("Encoder on %s images returned %s", dt, f.DType())
			}
			return ConvertDType(models.Expander(ctx.In("expander"), []int{16, 16}, f), dtypes.Float32)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		out, err := exec.Exec(images)
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		return tensors.MustCopyFlatData[float32](out[0])
	}
	want := embed(dtypes.Float32)
	nVars := ctx.NumVariables()
	got := embed(dtypes.BFloat16)
	if ctx.NumVariables() != nVars {
		t.Errorf("bf16 graph created %d new variables; want it to reuse the float32 ones", ctx.NumVariables()-nVars)
	}
	for v := range ctx.IterVariables() {
		if v.Shape().DType.IsFloat16() {
			t.Errorf("variable %s is %s; want float32 master weights", v.ScopeAndName(), v.Shape().DType)
		}
	}
	var diff, norm float64
	for i := range want {
		diff += math.Pow(float64(got[i]-want[i]), 2)
		norm += math.Pow(float64(want[i]), 2)
	}
	rel := math.Sqrt(diff / norm)
	t.Logf("relative RMS difference of the embeddings, bf16 vs f32: %.3g", rel)
	if rel > 0.10 || rel < 1.0/256/4 {
		t.Errorf("relative RMS difference bf16 vs f32 = %.3g, want within [u/4, 10%%] with u = 2^-8", rel)
	}
}
