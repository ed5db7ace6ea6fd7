package trainer

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/eval"
)

// Embedder runs the encoder in evaluation mode (batch norm with its running averages) and, when
// the network has one, the online probe.
type Embedder struct {
	exec  *context.Exec
	net   *Network
	batch int
}

// NewEmbedder compiles (on first use) the evaluation program for batches of the given size.
// With withProbe, it also runs the online probe (whose variables must exist: after training).
func NewEmbedder(b backends.Backend, ctx *context.Context, net *Network, batch int, withProbe bool) (*Embedder, error) {
	exec, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, images *Node) []*Node {
		ctx.SetTraining(images.Graph(), false)
		f := net.Embed(ctx, images)
		if withProbe && net.NumClasses > 0 {
			return []*Node{f, ArgMax(net.ProbeLogits(ctx, f), -1, dtypes.Int32)}
		}
		return []*Node{f}
	})
	if err != nil {
		return nil, fmt.Errorf("building the evaluation program: %w", err)
	}
	return &Embedder{exec: exec, net: net, batch: batch}, nil
}

// Finalize frees the compiled program.
func (e *Embedder) Finalize() { e.exec.Finalize() }

// Run embeds every image of ds (normalised with the data set's statistics, no augmentation) and
// returns the representations, and the online probe's accuracy (-1 without a probe or labels).
func (e *Embedder) Run(ds *datasets.Dataset) (eval.Features, float64, error) {
	it, err := datasets.NewEvalIterator(ds, datasets.EvalConfig{BatchSize: e.batch})
	if err != nil {
		return eval.Features{}, 0, err
	}
	var f eval.Features
	f.N, f.NumClasses = ds.N, ds.NumClasses
	if ds.Labels != nil {
		f.Labels = make([]int32, 0, ds.N)
	}
	correct, labeled := 0, 0
	for {
		batch, ok := it.Next()
		if !ok {
			break
		}
		outs, err := e.exec.Exec(tensors.FromFlatDataAndDimensions(batch.View1, batch.Dims()...))
		if err != nil {
			return eval.Features{}, 0, fmt.Errorf("embedding %s/%s: %w", ds.Name, ds.Split, err)
		}
		feats := tensors.MustCopyFlatData[float32](outs[0])
		f.D = outs[0].Shape().Dimensions[1]
		f.X = append(f.X, feats[:batch.Valid*f.D]...)
		var preds []int32
		if len(outs) > 1 {
			preds = tensors.MustCopyFlatData[int32](outs[1])
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
		for i := 0; i < batch.Valid; i++ {
			if f.Labels != nil {
				f.Labels = append(f.Labels, batch.Labels[i])
			}
			if preds != nil && batch.Labels[i] >= 0 {
				labeled++
				if preds[i] == batch.Labels[i] {
					correct++
				}
			}
		}
	}
	acc := -1.0
	if labeled > 0 {
		acc = float64(correct) / float64(labeled)
	}
	return f, acc, nil
}
