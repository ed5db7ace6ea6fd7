package trainer

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// Precisions are the accepted values of Config.Precision (-precision): "f32" computes in float32;
// "bf16" is mixed precision: the encoder's and expander's convolutions and matrix products run in
// bfloat16 on float32 master weights (cast to bfloat16 where they are used), while batch-norm
// statistics, every loss reduction, the online probe, the gradients' accumulation into the
// weights and the optimiser state stay float32.
var Precisions = []string{"f32", "bf16"}

// PrecisionDType returns the compute dtype of a precision name ("" is "f32").
func PrecisionDType(precision string) (dtypes.DType, error) {
	switch precision {
	case "", "f32":
		return dtypes.Float32, nil
	case "bf16":
		return dtypes.BFloat16, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("unknown precision %q: use one of %s", precision, strings.Join(Precisions, ", "))
}

// toCompute casts x to the network's compute dtype. It panics on an unknown precision (Config
// validation rejects it before a graph is built).
func (n *Network) toCompute(x *Node) *Node {
	dt, err := PrecisionDType(n.Precision)
	if err != nil {
		panic(err)
	}
	if x.DType() == dt {
		return x
	}
	return ConvertDType(x, dt)
}

// toFloat32 casts x to float32 if it is not already.
func toFloat32(x *Node) *Node {
	if x.DType() == dtypes.Float32 {
		return x
	}
	return ConvertDType(x, dtypes.Float32)
}
