package eval

import (
	"github.com/gomlx-ssl/vicreg/datasets"
)

// Collect runs the evaluation iterator over d (cfg) and gathers the rows that embed makes of each
// batch (dim values per image, the batch's valid images first), with their labels, the data-set
// index of each row where images were left out (cfg.SkipBadImages), and the file of each row for
// an image folder or its key for shards. progress, when set, is called after each batch with the
// images done and the total. Pixels and encoder.Encoder.EmbedDataset are this with their own
// embed.
func Collect(d datasets.Data, cfg datasets.EvalConfig, embed func(b *datasets.Batch) (rows []float32, dim int, err error),
	progress func(done, total int)) (Features, error) {
	it, err := datasets.NewEvalIterator(d, cfg)
	if err != nil {
		return Features{}, err
	}
	defer it.Close()
	info := d.Info()
	f := Features{NumClasses: info.NumClasses}
	if info.NumClasses > 0 {
		f.Labels = make([]int32, 0, info.Len)
	}
	index := make([]int32, 0, info.Len)
	var keys []string
	done := 0
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		rows, dim, err := embed(b)
		if err != nil {
			return Features{}, err
		}
		f.D = dim
		f.X = append(f.X, rows[:b.Valid*dim]...)
		if f.Labels != nil {
			f.Labels = append(f.Labels, b.Labels[:b.Valid]...)
		}
		index = append(index, b.Indices[:b.Valid]...)
		keys = append(keys, b.Keys...)
		done += b.Valid + len(b.BadImages)
		if progress != nil {
			progress(done, info.Len)
		}
	}
	if err := it.Err(); err != nil {
		return Features{}, err
	}
	f.N = len(f.X) / max(f.D, 1)
	if f.N < info.Len {
		f.Index = index // images were left out: which row is which image
	}
	if files, ok := d.(interface{ Path(i int) string }); ok { // an image folder's files, or ImageNet's archives' members
		f.Files = make([]string, f.N)
		for i, image := range index {
			f.Files[i] = files.Path(int(image))
		}
	}
	if _, ok := d.(*datasets.Shards); ok {
		f.Keys = append(make([]string, 0, len(keys)), keys...)
	}
	return f, nil
}

// Pixels returns the normalised pixels of every image of d, as views of side size (0: the data
// set's own; see datasets.EvalConfig), as features: the raw-pixel baseline. With skipBad, the
// images that do not decode have no row (logged), and Index gives the image of each row.
func Pixels(d datasets.Data, size int, skipBad bool) (Features, error) {
	return Collect(d, datasets.EvalConfig{BatchSize: 512, Size: size, SkipBadImages: skipBad},
		func(b *datasets.Batch) ([]float32, int, error) { return b.View1, b.Height * b.Width * b.Channels, nil }, nil)
}
