package checkpoints

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// benchCheckpointEnv names a real checkpoint to benchmark besides the synthetic state, e.g. one
// of the default job (go run ./train -steps 1 -checkpoint-dir /tmp/d, then
// VICREG_BENCH_CHECKPOINT=/tmp/d/ckpt-000000001.safetensors).
const benchCheckpointEnv = "VICREG_BENCH_CHECKPOINT"

// benchStates returns the states to benchmark by name: a synthetic one about the size of a
// ResNet-18 with Adam's two moments (3 × 11.2M float32), and the checkpoint named by
// benchCheckpointEnv when it is set.
func benchStates(b *testing.B) map[string]*State {
	var vars []Variable
	for _, name := range []string{"weights", "adam_m", "adam_v"} {
		vars = append(vars, Variable{Scope: "/model", Name: name, Value: tensors.FromShape(shapes.Make(dtypes.Float32, 11_200_000))})
	}
	states := map[string]*State{"resnet18-adam-synthetic": {Step: 1, Variables: vars}}
	if path := os.Getenv(benchCheckpointEnv); path != "" {
		s, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		states["file"] = s
	}
	return states
}

func stateBytes(s *State) int64 {
	var n int64
	for _, v := range s.Variables {
		n += int64(v.Value.Memory())
	}
	return n
}

// BenchmarkSave measures an atomic, fsynced save with its checksum (go test ./checkpoints
// -run '^$' -bench .); it reports the file's size.
func BenchmarkSave(b *testing.B) {
	for name, s := range benchStates(b) {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench"+Ext)
			b.SetBytes(stateBytes(s))
			for b.Loop() {
				if err := Save(path, s); err != nil {
					b.Fatal(err)
				}
			}
			if st, err := os.Stat(path); err == nil {
				b.ReportMetric(float64(st.Size()), "file-bytes")
			}
		})
	}
}

// BenchmarkLoad measures a verified load.
func BenchmarkLoad(b *testing.B) {
	for name, s := range benchStates(b) {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench"+Ext)
			if err := Save(path, s); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(stateBytes(s))
			for b.Loop() {
				s, err := Load(path)
				if err != nil {
					b.Fatal(err)
				}
				s.Free()
			}
		})
	}
}
