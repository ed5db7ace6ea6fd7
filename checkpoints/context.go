package checkpoints

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// FromContext returns a copy of every variable of ctx, whatever its scope: the model, the
// optimizer state (moments, global step) and the random-number-generator state
// (context.RNGStateVariableName in the root scope). The values are copied to host memory, so the
// result stays valid while training goes on and replaces the context's tensors.
//
// It returns an error naming the first variable that has no value yet (call
// ctx.InitializeVariables first) or whose value cannot be read.
func FromContext(ctx *context.Context) ([]Variable, error) {
	vars := make([]Variable, 0, ctx.NumVariables())
	for v := range ctx.IterVariables() {
		if !v.HasValue() {
			return nil, fmt.Errorf("variable %q has no value: initialize the context's variables before saving", v.ScopeAndName())
		}
		value, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("reading variable %q: %w", v.ScopeAndName(), err)
		}
		clone, err := value.LocalClone()
		if err != nil {
			return nil, fmt.Errorf("copying variable %q to host memory: %w", v.ScopeAndName(), err)
		}
		vars = append(vars, Variable{Scope: v.Scope(), Name: v.Name(), Trainable: v.Trainable, Value: clone})
	}
	return vars, nil
}

// ToContext sets the values of vars into ctx. Variables that already exist keep their
// trainability and must have the same dtype and shape; variables that do not exist are created
// (not checked for reuse) with the saved trainability. Values are copied, so vars stays usable.
//
// Everything is checked before anything is changed: on error (a mismatch, an invalid scope or
// name, a duplicate) the context is left as it was. Variables of ctx that vars does not name are
// left untouched.
//
// Variables created here exist before the model's graph is built, so build it with ctx.Reuse()
// (as after loading any GoMLX checkpoint); a checked, non-reuse context would refuse to create
// them again.
func ToContext(ctx *context.Context, vars []Variable) error {
	seen := make(map[string]bool, len(vars))
	existing := make([]*context.Variable, len(vars))
	for i, sv := range vars {
		k := sv.Key()
		switch {
		case !strings.HasPrefix(sv.Scope, context.ScopeSeparator):
			return fmt.Errorf("variable %q: scope %q is not absolute (must start with %q)", k, sv.Scope, context.ScopeSeparator)
		case sv.Name == "" || strings.Contains(sv.Name, context.ScopeSeparator):
			return fmt.Errorf("variable %q: invalid name %q", k, sv.Name)
		case sv.Value == nil:
			return fmt.Errorf("variable %q has no value", k)
		case seen[k]:
			return fmt.Errorf("variable %q appears twice", k)
		}
		seen[k] = true
		cv := ctx.InspectVariableIfLoaded(sv.Scope, sv.Name)
		if cv != nil {
			if want, got := cv.Shape(), sv.Value.Shape(); !want.Equal(got) {
				return fmt.Errorf("variable %q: checkpoint has %s, the context has %s", k, got, want)
			}
		}
		existing[i] = cv
	}
	for i, sv := range vars {
		value, err := sv.Value.LocalClone()
		if err != nil {
			return fmt.Errorf("copying variable %q: %w", sv.Key(), err)
		}
		if cv := existing[i]; cv != nil {
			if err := cv.SetValue(value); err != nil {
				return fmt.Errorf("setting variable %q: %w", sv.Key(), err)
			}
			continue
		}
		if err := newVariable(ctx, sv, value); err != nil {
			return err
		}
	}
	return nil
}

// newVariable creates the variable sv in ctx with the given value, turning a GoMLX panic into an
// error.
func newVariable(ctx *context.Context, sv Variable, value *tensors.Tensor) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("creating variable %q: %v", sv.Key(), r)
		}
	}()
	ctx.InAbsPath(sv.Scope).Checked(false).VariableWithValue(sv.Name, value).SetTrainable(sv.Trainable)
	return nil
}
