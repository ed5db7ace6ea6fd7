package checkpoints

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// benchState is about the size of a ResNet-18 with Adam's two moments (3 × 11.2M float32).
func benchState() *State {
	var vars []Variable
	for _, name := range []string{"weights", "adam_m", "adam_v"} {
		vars = append(vars, Variable{Scope: "/model", Name: name, Value: tensors.FromShape(shapes.Make(dtypes.Float32, 11_200_000))})
	}
	return &State{Step: 1, Variables: vars}
}

// BenchmarkSave measures an atomic, fsynced save (go test ./checkpoints -run '^$' -bench .).
func BenchmarkSave(b *testing.B) {
	s := benchState()
	path := filepath.Join(b.TempDir(), "bench.safetensors")
	b.SetBytes(3 * 11_200_000 * 4)
	for b.Loop() {
		if err := Save(path, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad measures a verified load.
func BenchmarkLoad(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.safetensors")
	if err := Save(path, benchState()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(3 * 11_200_000 * 4)
	for b.Loop() {
		s, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		s.Free()
	}
}
