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
	// Size is the side of the views: images are resized and centre-cropped as torchvision's
	// evaluation transform does (datasets.EvalConfig); 0 is the side of the views the encoder was
	// trained on (config.Config.Augmentation for these images).
	Size int
	// SkipBadImages leaves out the images that do not decode (logged) instead of failing.
	SkipBadImages bool
	// Progress, when set, is called after each batch with the images done and the total.
	Progress func(done, total int)
}

// ViewSize is the side of the views the encoder was trained on, for the images of d: its run's
// -image-size, or the size its augmentation preset chose for them (config.Config.Augmentation).
func (e *Encoder) ViewSize(d datasets.Data) (int, error) {
	aug, err := e.Config.Augmentation(d)
	if err != nil {
		return 0, err
	}
	return aug.View1.Size, nil
}

// EmbedDataset returns the representations of every image of d (in memory, an image folder or
// shards), in order, with its labels: images are only resized (Size) and normalised with d's
// statistics, not augmented.
func (e *Encoder) EmbedDataset(d datasets.Data, opt EmbedOptions) (eval.Features, error) {
	info := d.Info()
	if info.Channels != e.Config.Model.InChannels {
		return eval.Features{}, fmt.Errorf("the encoder takes %d-channel images, %s/%s has %d channels",
			e.Config.Model.InChannels, info.Name, info.Split, info.Channels)
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 256
	}
	if opt.Size == 0 {
		var err error
		if opt.Size, err = e.ViewSize(d); err != nil {
			return eval.Features{}, err
		}
	}
	it, err := datasets.NewEvalIterator(d, datasets.EvalConfig{BatchSize: opt.BatchSize, Size: opt.Size, SkipBadImages: opt.SkipBadImages})
	if err != nil {
		return eval.Features{}, err
	}
	defer it.Close()
	dim := e.Dim()
	f := eval.Features{N: info.Len, D: dim, NumClasses: info.NumClasses, X: make([]float32, 0, info.Len*dim)}
	if info.NumClasses > 0 {
		f.Labels = make([]int32, 0, info.Len)
	}
	done := 0
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		z, err := e.Embed(b.View1, b.BatchSize, b.Height, b.Width)
		if err != nil {
			return eval.Features{}, fmt.Errorf("embedding %s/%s: %w", info.Name, info.Split, err)
		}
		f.X = append(f.X, z[:b.Valid*dim]...)
		if f.Labels != nil {
			f.Labels = append(f.Labels, b.Labels[:b.Valid]...)
		}
		done += b.Valid + len(b.BadImages)
		if opt.Progress != nil {
			opt.Progress(done, info.Len)
		}
	}
	if err := it.Err(); err != nil {
		return eval.Features{}, fmt.Errorf("embedding %s/%s: %w", info.Name, info.Split, err)
	}
	f.N = len(f.X) / dim
	return f, nil
}
