package backend

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Float32Error is how far a backend's float32 matrix product and convolution are from the same
// computation in float64: ‖C − C₆₄‖_F / ‖C₆₄‖_F on fixed standard-normal inputs (a 128×512 by
// 512×128 product; a 3×3 convolution of 4×16×16×32 images to 32 channels, 288 terms a sum).
//
// It tells what the hardware does with float32 where no setting says it: on a CPU the errors are
// those of float32 rounding (about 1e-7); on an NVIDIA GPU since Ampere, XLA's default precision
// lets cuBLAS, cuDNN and its own Triton kernels round the operands to TF32's 10-bit mantissa
// (about 3e-4), which VICREG_TF32=0 turns off (see the package documentation).
type Float32Error struct {
	MatMul, Conv float64
}

// Float32 arithmetic classes, by the relative error of a product (see ClassifyFloat32).
const (
	ClassFloat32  = "full float32"
	ClassTF32     = "TF32 (operands rounded to a 10-bit mantissa)"
	ClassBFloat16 = "bfloat16 or lower (operands rounded to an 8-bit mantissa or fewer)"
)

// ClassifyFloat32 names the arithmetic that a relative error of a float32 product or convolution
// of standard-normal operands (as in Float32Error) points to. The errors grow with the unit
// roundoff of the operands' mantissa, and the bounds lie about halfway, on a log scale, between
// the classes as measured on a CPU (backend tests): float32 rounding 2–3e-7; operands rounded to
// nearest with a 10-bit mantissa (float16, as TF32) 3e-4, twice that if truncated; with bfloat16's
// 8 bits 2.3e-3.
func ClassifyFloat32(relErr float64) string {
	switch {
	case relErr < 2e-5:
		return ClassFloat32
	case relErr < 1.2e-3:
		return ClassTF32
	default:
		return ClassBFloat16
	}
}

// String reports both errors and what they point to.
func (e Float32Error) String() string {
	class := ClassifyFloat32(max(e.MatMul, e.Conv))
	return fmt.Sprintf("matrix product %.1e, convolution %.1e (relative error against float64): %s", e.MatMul, e.Conv, class)
}

// probe shapes: the product's (m×k)·(k×n) and the convolution's NHWC images and HWIO kernel.
const (
	probeM, probeK, probeN                 = 128, 512, 128
	probeB, probeH, probeW, probeC, probeO = 4, 16, 16, 32, 32
	probeKernel                            = 3
)

// MeasureFloat32 runs a float32 matrix product and a convolution on b and returns their errors
// against float64 references computed on the host from the same float32 inputs.
func MeasureFloat32(b backends.Backend) (Float32Error, error) {
	return measureFloat32(b, nil)
}

// measureFloat32 is MeasureFloat32 with the operands passed through operands (when not nil)
// inside the graph, before the product and the convolution: the tests round them to another
// type there to emulate hardware with a shorter mantissa.
func measureFloat32(b backends.Backend, operands func(*Node) *Node) (Float32Error, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	normal := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	a, bm := normal(probeM*probeK), normal(probeK*probeN)
	x, w := normal(probeB*probeH*probeW*probeC), normal(probeKernel*probeKernel*probeC*probeO)

	exec, err := NewExec(b, func(a, bm, x, w *Node) []*Node {
		if operands != nil {
			a, bm, x, w = operands(a), operands(bm), operands(x), operands(w)
		}
		return []*Node{Dot(a, bm), Convolve(x, w).Strides(1).NoPadding().Done()}
	})
	if err != nil {
		return Float32Error{}, fmt.Errorf("measuring float32 arithmetic on %s: %w", b.Name(), err)
	}
	defer exec.Finalize()
	out, err := exec.Exec(
		tensors.FromFlatDataAndDimensions(a, probeM, probeK),
		tensors.FromFlatDataAndDimensions(bm, probeK, probeN),
		tensors.FromFlatDataAndDimensions(x, probeB, probeH, probeW, probeC),
		tensors.FromFlatDataAndDimensions(w, probeKernel, probeKernel, probeC, probeO))
	if err != nil {
		return Float32Error{}, fmt.Errorf("measuring float32 arithmetic on %s: %w", b.Name(), err)
	}
	mm, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		return Float32Error{}, err
	}
	conv, err := tensors.CopyFlatData[float32](out[1])
	if err != nil {
		return Float32Error{}, err
	}
	return Float32Error{
		MatMul: relativeError(mm, matMul64(a, bm, probeM, probeK, probeN)),
		Conv:   relativeError(conv, conv64(x, w, probeB, probeH, probeW, probeC, probeKernel, probeO)),
	}, nil
}

// to64 converts float32 values to float64.
func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// matMul64 is the float64 product of the row-major m×k matrix a and k×n matrix b.
func matMul64(a, b []float32, m, k, n int) []float64 {
	var c mat.Dense
	c.Mul(mat.NewDense(m, k, to64(a)), mat.NewDense(k, n, to64(b)))
	return c.RawMatrix().Data
}

// conv64 is the float64 convolution without padding, stride 1, of the NHWC images x
// (batch×h×w×c) with the HWIO kernel (size×size×c×o): batch×(h−size+1)×(w−size+1)×o.
func conv64(x, kernel []float32, batch, h, w, c, size, o int) []float64 {
	oh, ow := h-size+1, w-size+1
	y := make([]float64, batch*oh*ow*o)
	for n := range batch {
		for i := range oh {
			for j := range ow {
				out := y[((n*oh+i)*ow+j)*o:][:o]
				for di := range size {
					for dj := range size {
						for ci := range c {
							xv := float64(x[((n*h+i+di)*w+j+dj)*c+ci])
							k := kernel[((di*size+dj)*c+ci)*o:][:o]
							for co := range o {
								out[co] += xv * float64(k[co])
							}
						}
					}
				}
			}
		}
	}
	return y
}

// relativeError is ‖got − want‖₂ / ‖want‖₂.
func relativeError(got []float32, want []float64) float64 {
	return floats.Distance(to64(got), want, 2) / floats.Norm(want, 2)
}
