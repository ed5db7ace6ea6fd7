package analysis

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/encoder"
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

// Network is an encoder (in evaluation mode: batch norm with its running averages) as a Func on
// normalised NHWC images of a fixed size. Batches are cut into chunks of a fixed size
// (zero-padded), so each program compiles once.
type Network struct {
	Height, Width int

	enc   *encoder.Encoder
	grad  *context.Exec
	chunk int
}

// NewNetwork returns enc as a Func for height x width images, evaluated chunk images at a time.
// The Network owns enc: Close closes it.
func NewNetwork(enc *encoder.Encoder, height, width, chunk int) (*Network, error) {
	if chunk < 1 {
		return nil, fmt.Errorf("network chunk size must be >= 1, got %d", chunk)
	}
	n := &Network{Height: height, Width: width, enc: enc, chunk: chunk}
	var err error
	n.grad, err = context.NewExec(enc.Backend(), enc.Context(), func(ctx *context.Context, images, u *Node) *Node {
		f := enc.Forward(ctx, images)
		return Gradient(ReduceAllSum(Mul(f, u)), images)[0]
	})
	if err != nil {
		return nil, fmt.Errorf("building the encoder's input gradient: %w", err)
	}
	return n, nil
}

// Encoder is the network's encoder; SetVariables on it loads another checkpoint of the same run
// into the compiled programs.
func (n *Network) Encoder() *encoder.Encoder { return n.enc }

// InDim implements Func: height·width·channels.
func (n *Network) InDim() int { return n.Height * n.Width * n.enc.Model().InChannels }

// OutDim implements Func: the representation size.
func (n *Network) OutDim() int { return n.enc.Dim() }

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
		return nil, fmt.Errorf("encoder: %d input values for %d images of %dx%dx%d (height x width x channels)", len(x), rows, n.Height, n.Width, n.enc.Model().InChannels)
	}
	out := make([]float32, 0, rows*outDim)
	xb := make([]float32, n.chunk*in)
	ub := make([]float32, n.chunk*q)
	for start := 0; start < rows; start += n.chunk {
		m := min(n.chunk, rows-start)
		clear(xb)
		copy(xb, x[start*in:(start+m)*in])
		var vals []float32
		if u == nil {
			z, err := n.enc.Embed(xb, n.chunk, n.Height, n.Width)
			if err != nil {
				return nil, fmt.Errorf("encoder: %w", err)
			}
			vals = z
		} else {
			clear(ub)
			copy(ub, u[start*q:(start+m)*q])
			xt := tensors.FromFlatDataAndDimensions(xb, n.chunk, n.Height, n.Width, n.enc.Model().InChannels)
			res, err := n.grad.Exec(xt, tensors.FromFlatDataAndDimensions(ub, n.chunk, q))
			if err != nil {
				return nil, fmt.Errorf("encoder: %w", err)
			}
			vals = tensors.MustCopyFlatData[float32](res[0])
			res[0].FinalizeAll()
		}
		out = append(out, vals[:m*outDim]...)
	}
	return out, nil
}

// Close frees the compiled programs.
func (n *Network) Close() {
	n.grad.Finalize()
	n.enc.Close()
}
