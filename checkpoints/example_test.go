package checkpoints_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/checkpoints"
)

// A training loop saves a checkpoint every so often and resumes from the newest valid one.
func ExampleManager() {
	dir, _ := os.MkdirTemp("", "ckpts")
	defer os.RemoveAll(dir)
	m, err := checkpoints.NewManager(dir, 2, "probe_acc")
	if err != nil {
		panic(err)
	}

	ctx := context.New()
	ctx.In("model").VariableWithValue("w", []float32{1, 2, 3})
	config := json.RawMessage(`{"batch_size": 256}`)
	for i, acc := range []float64{0.5, 0.7, 0.6} {
		step := int64(100 * (i + 1))
		vars, err := checkpoints.FromContext(ctx)
		if err != nil {
			panic(err)
		}
		if _, err := m.Save(&checkpoints.State{Step: step, Config: config,
			Metrics: map[string]float64{"probe_acc": acc}, Variables: vars}); err != nil {
			panic(err)
		}
	}

	// Resume, with a different configuration.
	s, _, err := m.LoadLatest()
	if err != nil {
		panic(err)
	}
	fresh := context.New()
	if err := checkpoints.ToContext(fresh, s.Variables); err != nil {
		panic(err)
	}
	fmt.Println("resumed at step", s.Step, "w =", fresh.GetVariableByScopeAndName("/model", "w").MustValue().Value())
	fmt.Println(checkpoints.DiffConfig(s.Config, json.RawMessage(`{"batch_size": 128}`)))
	// Output:
	// resumed at step 300 w = [1 2 3]
	// [batch_size: saved 256, now 128]
}
