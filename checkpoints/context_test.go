package checkpoints

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's usual style for graph code.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// smallContext builds a context with model weights, optimizer-like state and the RNG state.
func smallContext(t *testing.T) *context.Context {
	t.Helper()
	ctx := context.New()
	ctx.In("model").In("dense").VariableWithValue("weights", [][]float32{{1, 2, 3}, {4, 5, 6}})
	ctx.In("model").In("dense").VariableWithValue("biases", []float32{-1, 0.5, 2})
	ctx.In("optimizer").VariableWithValue("global_step", int64(42)).SetTrainable(false)
	ctx.In("optimizer").In("adam").VariableWithValue("count", []int32{7}).SetTrainable(false)
	if err := ctx.SetRNGStateFromSeed(1234); err != nil {
		t.Fatal(err)
	}
	return ctx
}

type ctxVar struct {
	key       string
	trainable bool
	value     any
}

// snapshot lists the variables of a context with their values, in the context's order.
func snapshot(t *testing.T, ctx *context.Context) []ctxVar {
	t.Helper()
	var out []ctxVar
	for v := range ctx.IterVariables() {
		out = append(out, ctxVar{v.ScopeAndName(), v.Trainable, flatValue(t, v.MustValue())})
	}
	return out
}

func TestContextRoundTripThroughFile(t *testing.T) {
	src := smallContext(t)
	vars, err := FromContext(src)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"/model/dense/weights", "/model/dense/biases", "/optimizer/global_step", "/optimizer/adam/count", "/#rngState"}
	var gotKeys []string
	for _, v := range vars {
		gotKeys = append(gotKeys, v.Key())
	}
	if !reflect.DeepEqual(gotKeys, wantKeys) {
		t.Fatalf("FromContext keys %v, want %v", gotKeys, wantKeys)
	}
	path := filepath.Join(t.TempDir(), "ctx.safetensors")
	if err := Save(path, &State{Step: 42, Variables: vars}); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}

	// Into an empty context: every variable is created, trainability restored.
	dst := context.New()
	if err := ToContext(dst, loaded.Variables); err != nil {
		t.Fatal(err)
	}
	if got, want := snapshot(t, dst), snapshot(t, src); !reflect.DeepEqual(got, want) {
		t.Errorf("restored context\n got %v\nwant %v", got, want)
	}
	wantRNG := flatValue(t, src.GetVariableByScopeAndName(context.RootScope, context.RNGStateVariableName).MustValue())
	if got := flatValue(t, dst.GetVariableByScopeAndName(context.RootScope, context.RNGStateVariableName).MustValue()); !reflect.DeepEqual(got, wantRNG) {
		t.Errorf("RNG state %v, want %v", got, wantRNG)
	}

	// Into a context where the variables exist with other values: values replaced, the
	// context's own trainability kept.
	dst2 := context.New()
	dst2.In("model").In("dense").VariableWithValue("weights", [][]float32{{0, 0, 0}, {0, 0, 0}}).SetTrainable(false)
	if err := ToContext(dst2, loaded.Variables); err != nil {
		t.Fatal(err)
	}
	w := dst2.GetVariableByScopeAndName("/model/dense", "weights")
	if got := flatValue(t, w.MustValue()); !reflect.DeepEqual(got, []float32{1, 2, 3, 4, 5, 6}) || w.Trainable {
		t.Errorf("existing variable: %v trainable %v", got, w.Trainable)
	}
	// The loaded state is still usable: ToContext copies.
	if got := flatValue(t, loaded.Variables[0].Value); !reflect.DeepEqual(got, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("loaded variables changed: %v", got)
	}
}

func TestFromContextCopiesValues(t *testing.T) {
	ctx := smallContext(t)
	vars, err := FromContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := ctx.GetVariableByScopeAndName("/model/dense", "biases")
	if err := v.SetValue(tensors.FromValue([]float32{9, 9, 9})); err != nil {
		t.Fatal(err)
	}
	if got := flatValue(t, vars[1].Value); !reflect.DeepEqual(got, []float32{-1, 0.5, 2}) {
		t.Errorf("FromContext result follows the context: %v", got)
	}
}

func TestFromContextUninitialized(t *testing.T) {
	ctx := context.New()
	ctx.In("model").VariableWithShape("w", shapes.Make(dtypes.Float32, 2))
	_, err := FromContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "/model/w") || !strings.Contains(err.Error(), "no value") {
		t.Errorf("FromContext of an uninitialized variable: %v", err)
	}
}

func TestToContextErrorsLeaveContextUnchanged(t *testing.T) {
	f32 := func(v ...float32) *tensors.Tensor { return tensors.FromValue(v) }
	good := Variable{Scope: "/model/dense", Name: "biases", Value: f32(7, 7, 7)}
	tests := []struct {
		name string
		vars []Variable
		want string
	}{
		{"shape mismatch", []Variable{good, {Scope: "/model/dense", Name: "weights", Value: f32(1, 2, 3)}},
			`"/model/dense/weights": checkpoint has (Float32)[3], the context has (Float32)[2 3]`},
		{"dtype mismatch", []Variable{good, {Scope: "/optimizer", Name: "global_step", Value: tensors.FromAnyValue(int32(3))}},
			`"/optimizer/global_step": checkpoint has (Int32), the context has (Int64)`},
		{"relative scope", []Variable{good, {Scope: "model", Name: "x", Value: f32(1)}}, "not absolute"},
		{"bad name", []Variable{good, {Scope: "/model", Name: "a/b", Value: f32(1)}}, `invalid name "a/b"`},
		{"no value", []Variable{good, {Scope: "/model", Name: "x"}}, `"/model/x" has no value`},
		{"duplicate", []Variable{good, good}, `"/model/dense/biases" appears twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := smallContext(t)
			before := snapshot(t, ctx)
			err := ToContext(ctx, tc.vars)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ToContext error %v, want one containing %q", err, tc.want)
			}
			if after := snapshot(t, ctx); !reflect.DeepEqual(after, before) {
				t.Errorf("context changed by a failed ToContext:\n got %v\nwant %v", after, before)
			}
		})
	}
}

// trainStep is a tiny training step that uses every kind of state: model weights, Adam's
// moments and global step, and the context's RNG (for its inputs).
func trainStep(opt optimizers.Interface) func(ctx *context.Context, g *Graph) *Node {
	return func(ctx *context.Context, g *Graph) *Node {
		x := ctx.RandomNormal(g, shapes.Make(dtypes.Float32, 4, 3))
		y := layers.Dense(ctx.In("model"), x, true, 2)
		loss := ReduceAllMean(Square(AddScalar(y, 1)))
		opt.UpdateGraph(ctx, g, loss)
		return loss
	}
}

// TestResumeIsExact trains a few steps, saves, trains more; then restores the checkpoint into a
// fresh context and trains the same number of steps: losses and every variable must be
// bit-identical.
func TestResumeIsExact(t *testing.T) {
	backend := backendtest.Backend(t)
	newCtx := func() *context.Context {
		ctx := context.New()
		ctx.SetParam(context.ParamInitialSeed, int64(7))
		return ctx
	}
	// runner compiles the step once for ctx and returns a function running n steps.
	runner := func(ctx *context.Context) func(steps int) []float32 {
		exec, err := context.NewExec(backend, ctx, trainStep(optimizers.Adam().Done()))
		if err != nil {
			t.Fatal(err)
		}
		return func(steps int) []float32 {
			var losses []float32
			for range steps {
				loss, err := exec.Exec1()
				if err != nil {
					t.Fatal(err)
				}
				losses = append(losses, loss.Value().(float32))
			}
			return losses
		}
	}
	a := newCtx()
	runA := runner(a)
	runA(3)
	vars, err := FromContext(a)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "resume.safetensors")
	if err := Save(path, &State{Step: optimizers.GetGlobalStep(a), Variables: vars}); err != nil {
		t.Fatal(err)
	}
	wantLosses := runA(3)

	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Step != 3 {
		t.Errorf("saved step %d, want 3", loaded.Step)
	}
	b := newCtx()
	if err := ToContext(b, loaded.Variables); err != nil {
		t.Fatal(err)
	}
	// The variables now exist, so the model is built in reuse mode, as after any checkpoint load.
	gotLosses := runner(b.Reuse())(3)
	if !reflect.DeepEqual(gotLosses, wantLosses) {
		t.Errorf("losses after resume %v, want %v", gotLosses, wantLosses)
	}
	wantVars, gotVars := snapshot(t, a), snapshot(t, b)
	if len(wantVars) < 5 {
		t.Fatalf("expected model, optimizer and RNG variables, got %v", wantVars)
	}
	if !reflect.DeepEqual(gotVars, wantVars) {
		t.Errorf("variables after resume\n got %v\nwant %v", gotVars, wantVars)
	}
	// Without restoring, the same code gives different numbers: the test can tell.
	if fresh := runner(newCtx())(3); reflect.DeepEqual(fresh, wantLosses) {
		t.Errorf("a fresh run reproduces the resumed losses; the test proves nothing")
	}
}
