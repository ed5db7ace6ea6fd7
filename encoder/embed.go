package encoder

import (
	"fmt"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/eval"
)

// EmbedOptions configure EmbedDataset.
type EmbedOptions struct {
	// BatchSize is the number of images per forward pass (default 256); the last batch is padded,
	// so one program is compiled whatever the data set's size.
	BatchSize int
	// Progress, when set, is called after each batch with the images done and the total.
	Progress func(done, total int)
}

// EmbedDataset returns the representations of every image of ds, in order, with its labels:
// images are normalised with ds's statistics and not augmented.
func (e *Encoder) EmbedDataset(ds *datasets.Dataset, opt EmbedOptions) (eval.Features, error) {
	if ds.Channels != e.Config.Model.InChannels {
		return eval.Features{}, fmt.Errorf("the encoder takes %d-channel images, %s/%s has %d channels",
			e.Config.Model.InChannels, ds.Name, ds.Split, ds.Channels)
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 256
	}
	it, err := datasets.NewEvalIterator(ds, datasets.EvalConfig{BatchSize: opt.BatchSize})
	if err != nil {
		return eval.Features{}, err
	}
	d := e.Dim()
	f := eval.Features{N: ds.N, D: d, NumClasses: ds.NumClasses, X: make([]float32, 0, ds.N*d)}
	if ds.Labels != nil {
		f.Labels = make([]int32, 0, ds.N)
	}
	done := 0
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		z, err := e.Embed(b.View1, b.BatchSize, b.Height, b.Width)
		if err != nil {
			return eval.Features{}, fmt.Errorf("embedding %s/%s: %w", ds.Name, ds.Split, err)
		}
		f.X = append(f.X, z[:b.Valid*d]...)
		if f.Labels != nil {
			f.Labels = append(f.Labels, b.Labels[:b.Valid]...)
		}
		done += b.Valid
		if opt.Progress != nil {
			opt.Progress(done, ds.N)
		}
	}
	return f, nil
}
