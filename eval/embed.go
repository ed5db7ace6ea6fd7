package eval

import (
	"fmt"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
)

// Embed returns the representations of every image of ds under a frozen encoder, in batches of
// the given size (the last one padded, so only one program is compiled). Images are normalised
// with ds's statistics and not augmented.
func Embed(enc *checkpoints.Encoder, ds *datasets.Dataset, batch int) (Features, error) {
	if ds.Channels != enc.Config.InChannels {
		return Features{}, fmt.Errorf("the encoder takes %d-channel images, %s/%s has %d channels",
			enc.Config.InChannels, ds.Name, ds.Split, ds.Channels)
	}
	it, err := datasets.NewEvalIterator(ds, datasets.EvalConfig{BatchSize: batch})
	if err != nil {
		return Features{}, err
	}
	f := Features{N: ds.N, D: enc.Dim(), NumClasses: ds.NumClasses, X: make([]float32, 0, ds.N*enc.Dim())}
	if ds.Labels != nil {
		f.Labels = make([]int32, 0, ds.N)
	}
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		z, err := enc.Embed(b.View1, b.BatchSize, b.Height, b.Width)
		if err != nil {
			return Features{}, fmt.Errorf("embedding %s/%s: %w", ds.Name, ds.Split, err)
		}
		f.X = append(f.X, z[:b.Valid*f.D]...)
		if f.Labels != nil {
			f.Labels = append(f.Labels, b.Labels[:b.Valid]...)
		}
	}
	return f, nil
}

// Pixels returns the normalised pixels of every image of ds as features (the raw-pixel baseline).
func Pixels(ds *datasets.Dataset) (Features, error) {
	it, err := datasets.NewEvalIterator(ds, datasets.EvalConfig{BatchSize: 512})
	if err != nil {
		return Features{}, err
	}
	f := Features{N: ds.N, D: ds.ImageSize(), NumClasses: ds.NumClasses, X: make([]float32, 0, ds.N*ds.ImageSize())}
	if ds.Labels != nil {
		f.Labels = make([]int32, 0, ds.N)
	}
	for {
		b, ok := it.Next()
		if !ok {
			return f, nil
		}
		f.X = append(f.X, b.View1[:b.Valid*f.D]...)
		if f.Labels != nil {
			f.Labels = append(f.Labels, b.Labels[:b.Valid]...)
		}
	}
}
