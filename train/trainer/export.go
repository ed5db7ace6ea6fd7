package trainer

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/checkpoints"
)

// ExportEncoder writes the encoder alone (its variables and its models.Config) to path, in the
// checkpoint format, for checkpoints.LoadEncoder.
func ExportEncoder(path string, ctx *context.Context, cfg Config) error {
	prefix := context.ScopeSeparator + EncoderScope
	all, err := checkpoints.FromContext(ctx)
	if err != nil {
		return fmt.Errorf("exporting the encoder to %s: %w", path, err)
	}
	var vars []checkpoints.Variable
	for _, v := range all {
		if v.Scope == prefix || strings.HasPrefix(v.Scope, prefix+context.ScopeSeparator) {
			v.Scope = strings.TrimPrefix(v.Scope, prefix)
			if v.Scope == "" {
				v.Scope = context.RootScope
			}
			vars = append(vars, v)
		}
	}
	if len(vars) == 0 {
		return fmt.Errorf("exporting the encoder to %s: the context holds no encoder variables", path)
	}
	conf, err := json.Marshal(checkpoints.EncoderConfig{Model: cfg.Model, Dataset: cfg.Dataset})
	if err != nil {
		return err
	}
	if err := checkpoints.Save(path, &checkpoints.State{Config: conf, Variables: vars}); err != nil {
		return fmt.Errorf("exporting the encoder: %w", err)
	}
	return nil
}
