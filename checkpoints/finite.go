package checkpoints

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// FirstNonFinite returns the key ("scope/name") of the first floating-point variable that holds a
// NaN or an infinity, and the flat index of that value; ok is true when every value is finite.
// Trainers call it before saving so that a diverged run never writes a checkpoint.
func FirstNonFinite(vars []Variable) (key string, index int, ok bool) {
	for _, v := range vars {
		if i := nonFiniteIndex(v.Value); i >= 0 {
			return v.Key(), i, false
		}
	}
	return "", -1, true
}

// nonFiniteIndex is the index of the first NaN or infinity of t, or -1 (also for integer tensors).
func nonFiniteIndex(t *tensors.Tensor) int {
	idx := -1
	switch t.DType() {
	case dtypes.Float32:
		tensors.ConstFlatData(t, func(flat []float32) {
			for i, x := range flat {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					idx = i
					return
				}
			}
		})
	case dtypes.Float64:
		tensors.ConstFlatData(t, func(flat []float64) {
			for i, x := range flat {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					idx = i
					return
				}
			}
		})
	}
	return idx
}
