package models

import (
	"errors"
	"fmt"
	"github.com/gomlx-ssl/vicreg/linalg"
	"math"
	"strconv"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
)

// ParseExpander parses an expander specification, the output widths of its linear layers joined by
// "-" as in the official VICReg's --mlp flag ("8192-8192-8192"). The error names the bad spec.
func ParseExpander(spec string) ([]int, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("models: expander spec %q is empty; want widths joined by '-', e.g. \"2048-2048-2048\"", spec)
	}
	parts := strings.Split(spec, "-")
	dims := make([]int, len(parts))
	for i, p := range parts {
		d, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("models: expander spec %q: layer %d width %q is not a positive integer; want e.g. \"2048-2048-2048\"", spec, i+1, p)
		}
		dims[i] = d
	}
	return dims, nil
}

// Expander is the official VICReg projector on x [batch, in]: for every width but the last, Linear
// (with bias), BatchNorm (see BatchNorm) and ReLU; then a final Linear without bias to dims[len-1].
// It returns [batch, dims[len(dims)-1]].
//
// Scopes follow the PyTorch nn.Sequential indices inside ctx's scope: the i-th hidden block uses
// "3i" (linear: "weight" [in, out], "bias" [out]) and "3i+1" (batch norm); the last linear is at
// "3(len(dims)-1)". Linear layers are initialised as PyTorch's nn.Linear: weight and bias
// ~ U(−1/√in, 1/√in). Existing variables are reused, as in Encoder. With bfloat16 (or float16) x,
// the weights are float32 cast where used and batch norm computes in float32 (see MasterDType).
// It panics if dims is empty or x is not rank 2.
func Expander(ctx *context.Context, dims []int, x *Node) *Node {
	if len(dims) == 0 {
		panic(errors.New("models.Expander: no layer widths given"))
	}
	if x.Rank() != 2 {
		panic(fmt.Errorf("models.Expander: input must be [batch, features], got %s", x.Shape()))
	}
	ctx = ctx.Checked(false)
	for i, d := range dims {
		last := i == len(dims)-1
		x = linear(ctx.In(fmt.Sprint(3*i)), x, d, !last)
		if !last {
			x = activations.Relu(BatchNorm(ctx.In(fmt.Sprint(3*i+1)), x))
		}
	}
	return x
}

// linear is x·W (+ b) with W "weight" [in, out] and b "bias" [out], initialised as nn.Linear.
func linear(ctx *context.Context, x *Node, out int, useBias bool) *Node {
	in := x.Shape().Dimensions[1]
	bound := 1 / math.Sqrt(float64(in))
	init := func(g *Graph, shape shapes.Shape) *Node {
		return AddScalar(MulScalar(ctx.RandomUniform(g, shape), 2*bound), -bound)
	}
	g := x.Graph()
	wctx := ctx.WithInitializer(init)
	master := MasterDType(x.DType())
	w := wctx.VariableWithShape("weight", shapes.Make(master, in, out)).SetTrainable(true)
	y := linalg.MatMul(x, atUse(w.ValueGraph(g), x))
	if useBias {
		b := wctx.VariableWithShape("bias", shapes.Make(master, out)).SetTrainable(true)
		y = Add(y, ExpandLeftToRank(atUse(b.ValueGraph(g), x), 2))
	}
	return y
}
