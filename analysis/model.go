package analysis

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
)

// Func is a map f from inputs of InDim() values to outputs of OutDim() values, evaluated on
// batches (row-major [n, InDim()] in, [n, OutDim()] out), with the input gradient of projections.
// Network implements it for an encoder; tests implement it for maps with known answers.
type Func interface {
	InDim() int
	OutDim() int
	// Forward returns f(x_i) for the n rows of x.
	Forward(x []float32, n int) ([]float32, error)
	// InputGrad returns, for each row i, ∇_x (u_i · f(x))|_{x = x_i}: [n, InDim()], given the
	// projection directions u [n, OutDim()]. For a network, one backward pass of Σ_i u_i·f(x_i)
	// gives every row's gradient, since rows do not interact in evaluation mode.
	InputGrad(x, u []float32, n int) ([]float32, error)
}

// RunConfig is the part of the trainer's configuration (stored as JSON in every checkpoint) that
// the analysis needs: the data set, its augmentation, the seed, the encoder and the loss
// hyperparameters. Unknown fields are ignored.
type RunConfig struct {
	Dataset    string        `json:"dataset"`
	Augment    string        `json:"augment"`
	Seed       uint64        `json:"seed"`
	Model      models.Config `json:"model"`
	Loss       string        `json:"loss"`
	LossParams losses.Params `json:"loss_params"`
}

// ParseRunConfig reads the trainer configuration stored in a checkpoint and checks that it
// describes an encoder.
func ParseRunConfig(raw json.RawMessage) (RunConfig, error) {
	c := RunConfig{LossParams: losses.Defaults()}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("reading the run configuration: %w", err)
	}
	if c.Model.Arch == "" {
		return c, fmt.Errorf("the checkpoint has no model configuration (is it a training checkpoint of this toolkit?)")
	}
	if err := c.Model.Validate(); err != nil {
		return c, err
	}
	if c.Dataset == "" {
		return c, fmt.Errorf("the checkpoint's configuration names no data set")
	}
	return c, nil
}

// Network is an encoder (models.Encoder in evaluation mode: batch norm with its running averages)
// as a Func on normalised NHWC images of a fixed size. Batches are cut into chunks of a fixed size
// (zero-padded), so each program compiles once.
type Network struct {
	Config        models.Config
	Height, Width int

	ctx       *context.Context
	fwd, grad *context.Exec
	chunk     int
}

// encoderScope is the context scope of the encoder's variables, as in training checkpoints.
var encoderScope = strings.TrimPrefix(checkpoints.EncoderScope, "/")

// NewNetwork returns the encoder stored in the variables of a training checkpoint (those under
// checkpoints.EncoderScope) for height x width images, evaluated chunk images at a time.
func NewNetwork(b backends.Backend, cfg models.Config, vars []checkpoints.Variable, height, width, chunk int) (*Network, error) {
	enc := encoderVariables(vars)
	if len(enc) == 0 {
		return nil, fmt.Errorf("the checkpoint has no variables under %s", checkpoints.EncoderScope)
	}
	ctx := context.New()
	if err := checkpoints.ToContext(ctx, enc); err != nil {
		return nil, fmt.Errorf("loading the encoder: %w", err)
	}
	return newNetwork(b, cfg, ctx.Checked(false), height, width, chunk)
}

// NewRandomNetwork returns a freshly initialised encoder (the baseline), its initial values drawn
// from the context's generator seeded with seed, as the trainer does.
func NewRandomNetwork(b backends.Backend, cfg models.Config, seed uint64, height, width, chunk int) (*Network, error) {
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, err
	}
	return newNetwork(b, cfg, ctx.Checked(false), height, width, chunk)
}

func newNetwork(b backends.Backend, cfg models.Config, ctx *context.Context, height, width, chunk int) (*Network, error) {
	if chunk < 1 {
		return nil, fmt.Errorf("network chunk size must be >= 1, got %d", chunk)
	}
	n := &Network{Config: cfg, Height: height, Width: width, ctx: ctx, chunk: chunk}
	var err error
	n.fwd, err = context.NewExec(b, ctx, func(ctx *context.Context, images *Node) *Node {
		ctx.SetTraining(images.Graph(), false)
		return models.Encoder(ctx.In(encoderScope), cfg, images)
	})
	if err != nil {
		return nil, fmt.Errorf("building the encoder: %w", err)
	}
	n.grad, err = context.NewExec(b, ctx, func(ctx *context.Context, images, u *Node) *Node {
		ctx.SetTraining(images.Graph(), false)
		f := models.Encoder(ctx.In(encoderScope), cfg, images)
		return Gradient(ReduceAllSum(Mul(f, u)), images)[0]
	})
	if err != nil {
		return nil, fmt.Errorf("building the encoder's input gradient: %w", err)
	}
	return n, nil
}

// InDim implements Func: height·width·channels.
func (n *Network) InDim() int { return n.Height * n.Width * n.Config.InChannels }

// OutDim implements Func: the representation size.
func (n *Network) OutDim() int { return n.Config.FeatureDim() }

// Forward implements Func.
func (n *Network) Forward(x []float32, rows int) ([]float32, error) {
	return n.run(x, nil, rows, n.OutDim())
}

// InputGrad implements Func.
func (n *Network) InputGrad(x, u []float32, rows int) ([]float32, error) {
	if len(u) != rows*n.OutDim() {
		return nil, fmt.Errorf("input gradient: %d direction values for %d rows of %d", len(u), rows, n.OutDim())
	}
	return n.run(x, u, rows, n.InDim())
}

// run evaluates the forward (u == nil) or gradient program chunk by chunk.
func (n *Network) run(x, u []float32, rows, outDim int) ([]float32, error) {
	in, q := n.InDim(), n.OutDim()
	if len(x) != rows*in {
		return nil, fmt.Errorf("encoder: %d input values for %d images of %dx%dx%d", len(x), rows, n.Height, n.Width, n.Config.InChannels)
	}
	out := make([]float32, 0, rows*outDim)
	xb := make([]float32, n.chunk*in)
	ub := make([]float32, n.chunk*q)
	for start := 0; start < rows; start += n.chunk {
		m := min(n.chunk, rows-start)
		clear(xb)
		copy(xb, x[start*in:(start+m)*in])
		xt := tensors.FromFlatDataAndDimensions(xb, n.chunk, n.Height, n.Width, n.Config.InChannels)
		var res []*tensors.Tensor
		var err error
		if u == nil {
			res, err = n.fwd.Exec(xt)
		} else {
			clear(ub)
			copy(ub, u[start*q:(start+m)*q])
			res, err = n.grad.Exec(xt, tensors.FromFlatDataAndDimensions(ub, n.chunk, q))
		}
		if err != nil {
			return nil, fmt.Errorf("encoder: %w", err)
		}
		vals := tensors.MustCopyFlatData[float32](res[0])
		res[0].FinalizeAll()
		out = append(out, vals[:m*outDim]...)
	}
	return out, nil
}

// Load sets the encoder's variables to those of a training checkpoint (the ones under
// checkpoints.EncoderScope). The compiled programs are kept: a series of checkpoints of one run
// compiles once.
func (n *Network) Load(vars []checkpoints.Variable) error {
	enc := encoderVariables(vars)
	if len(enc) == 0 {
		return fmt.Errorf("the checkpoint has no variables under %s", checkpoints.EncoderScope)
	}
	if err := checkpoints.ToContext(n.ctx, enc); err != nil {
		return fmt.Errorf("loading the encoder: %w", err)
	}
	// Every encoder variable of the network must come from the checkpoint: none may keep a value
	// from a previous model.
	have := make(map[string]bool, len(enc))
	for _, v := range enc {
		have[v.Key()] = true
	}
	for v := range n.ctx.IterVariables() {
		if strings.HasPrefix(v.Scope(), checkpoints.EncoderScope+"/") && !have[v.ScopeAndName()] {
			return fmt.Errorf("loading the encoder: the checkpoint has no value for %s", v.ScopeAndName())
		}
	}
	return nil
}

func encoderVariables(vars []checkpoints.Variable) []checkpoints.Variable {
	var enc []checkpoints.Variable
	for _, v := range vars {
		if v.Scope == checkpoints.EncoderScope || strings.HasPrefix(v.Scope, checkpoints.EncoderScope+"/") {
			enc = append(enc, v)
		}
	}
	return enc
}

// Close frees the compiled programs.
func (n *Network) Close() {
	n.fwd.Finalize()
	n.grad.Finalize()
}
