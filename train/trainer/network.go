// Package trainer pretrains an encoder with a self-supervised objective: the network (encoder,
// expander, online linear probe), the compiled training step, the training loop (Loop: steps,
// metrics, checkpoints, resume, rollback, interruption) and the final evaluation.
//
// The run's configuration, presets and flags are in package train/config; the command
// `go run ./train` parses them and calls Run; other Go programs can call Run too.
package trainer

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/linalg"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// Network is the pretraining network: encoder, expander and the online linear probe.
type Network struct {
	Model      models.Config
	Expander   []int
	NumClasses int // 0: no online probe (unlabeled data)
	Objective  losses.Objective
	// Precision is the compute dtype of the encoder and expander: float32 (also the zero value),
	// or bfloat16 for mixed precision (variables are float32 in both; see config.Precisions).
	Precision dtypes.DType
}

// dtype is the compute dtype (float32 for the zero value).
func (n *Network) dtype() dtypes.DType {
	if n.Precision == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return n.Precision
}

// NewNetwork is the network a plan describes, for a data set with numClasses classes.
func NewNetwork(p *config.Plan, numClasses int) *Network {
	return &Network{Model: p.Config.Model, Expander: p.Expander, NumClasses: numClasses, Objective: p.Objective, Precision: p.Precision}
}

// Embed returns the encoder's representation (float32) of images, in ctx's training mode for
// images' graph, computed in n's precision.
func (n *Network) Embed(ctx *context.Context, images *Node) *Node {
	return encoder.Build(ctx, n.Model, n.dtype(), images)
}

// Project returns the expander's output (float32) on features, computed in n's precision.
func (n *Network) Project(ctx *context.Context, features *Node) *Node {
	return encoder.ToFloat32(models.Expander(ctx.In(config.ExpanderScope), n.Expander, encoder.Cast(features, n.dtype())))
}

// ProbeLogits is the online linear probe on detached representations: no gradient reaches the
// encoder through it. Its variables are "weights" [d, classes] and "biases" [classes] in the
// probe scope.
func (n *Network) ProbeLogits(ctx *context.Context, features *Node) *Node {
	ctx = ctx.In(config.ProbeScope)
	g := features.Graph()
	x := StopGradient(features)
	dims := shapes.Make(x.DType(), x.Shape().Dimensions[1], n.NumClasses)
	w := ctx.VariableWithShape("weights", dims).ValueGraph(g)
	b := ctx.WithInitializer(initializers.Zero).VariableWithShape("biases", shapes.Make(x.DType(), n.NumClasses)).ValueGraph(g)
	return Add(linalg.MatMul(x, w), InsertAxes(b, 0))
}
