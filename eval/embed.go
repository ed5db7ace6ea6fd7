package eval

import (
	"github.com/gomlx-ssl/vicreg/datasets"
)

// Pixels returns the normalised pixels of every image of d, as views of side size (0: the data
// set's own; see datasets.EvalConfig), as features: the raw-pixel baseline. With skipBad, the
// images that do not decode have no row (logged), and Index gives the image of each row.
func Pixels(d datasets.Data, size int, skipBad bool) (Features, error) {
	it, err := datasets.NewEvalIterator(d, datasets.EvalConfig{BatchSize: 512, Size: size, SkipBadImages: skipBad})
	if err != nil {
		return Features{}, err
	}
	defer it.Close()
	info := d.Info()
	var f Features
	f.N, f.NumClasses = info.Len, info.NumClasses
	if info.NumClasses > 0 {
		f.Labels = make([]int32, 0, info.Len)
	}
	index := make([]int32, 0, info.Len)
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		f.D = b.Height * b.Width * b.Channels
		f.X = append(f.X, b.View1[:b.Valid*f.D]...)
		if f.Labels != nil {
			f.Labels = append(f.Labels, b.Labels[:b.Valid]...)
		}
		index = append(index, b.Indices[:b.Valid]...)
	}
	if err := it.Err(); err != nil {
		return Features{}, err
	}
	f.N = len(f.X) / max(f.D, 1)
	if f.N < info.Len {
		f.Index = index // images were left out: which row is which image
	}
	return f, nil
}
