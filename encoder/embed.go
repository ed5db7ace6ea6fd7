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
	// trained on (ViewSize), whatever the images embedded.
	Size int
	// SkipBadImages leaves out the images that do not decode (logged) instead of failing.
	SkipBadImages bool
	// Progress, when set, is called after each batch with the images done and the total.
	Progress func(done, total int)
}

// ViewSize is the side of the views the encoder was trained on (config.Config.ViewSize): its
// run's -image-size, or the size its augmentation preset chose for the training images: 28 for
// MNIST, 224 for an image folder or shards with the imagenet preset. Images of another data set
// are embedded at this size too: an MNIST encoder sees 28-pixel views of photos.
func (e *Encoder) ViewSize() (int, error) { return e.Config.ViewSize() }

// EmbedDataset returns the representations of every image of d (in memory, an image folder or
// shards), in order, with its labels: images are only resized (Size) and normalised, not
// augmented. The normalisation is the encoder's training images' (config.Config.Normalisation:
// d's own when d is that data set, or when it is the synthetic set). With SkipBadImages, the
// images that do not decode have no row, and the result's Index gives the image of each row. For
// an image folder, the result's Files names each row's file.
func (e *Encoder) EmbedDataset(d datasets.Data, opt EmbedOptions) (eval.Features, error) {
	info := d.Info()
	if info.Channels != e.Config.Model.InChannels {
		return eval.Features{}, fmt.Errorf("the encoder takes %d-channel images, %s/%s has %d channels: embed a %d-channel data set",
			e.Config.Model.InChannels, info.Name, info.Split, info.Channels, e.Config.Model.InChannels)
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 256
	}
	if opt.Size == 0 {
		var err error
		if opt.Size, err = e.ViewSize(); err != nil {
			return eval.Features{}, err
		}
	}
	mean, std := e.Config.Normalisation(info) // another data set's images as the training images were
	dim := e.Dim()
	f, err := eval.Collect(d, datasets.EvalConfig{BatchSize: opt.BatchSize, Size: opt.Size, Mean: mean, Std: std, SkipBadImages: opt.SkipBadImages},
		func(b *datasets.Batch) ([]float32, int, error) {
			z, err := e.Embed(b.View1, b.BatchSize, b.Height, b.Width)
			return z, dim, err
		}, opt.Progress)
	if err != nil {
		return eval.Features{}, fmt.Errorf("embedding %s/%s: %w", info.Name, info.Split, err)
	}
	f.D = dim // also for a data set with no image left
	return f, nil
}
