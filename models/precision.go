package models

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
)

// MasterDType is the dtype of the variables (master weights) that a layer creates for input of
// dtype compute: float32 for the half-precision types (bfloat16, float16), compute itself
// otherwise. Layers cast their weights to the input's dtype where they are used, so the
// optimiser updates float32 weights while the convolutions and matrix products run in half
// precision (mixed precision); batch norm computes its statistics in float32.
func MasterDType(compute dtypes.DType) dtypes.DType {
	if compute.IsFloat16() {
		return dtypes.Float32
	}
	return compute
}

// atUse returns the weight w cast to the dtype of the input x it multiplies. The cast's gradient
// casts back, so w's gradient has w's (master) dtype.
func atUse(w, x *Node) *Node {
	if w.DType() == x.DType() {
		return w
	}
	return ConvertDType(w, x.DType())
}
