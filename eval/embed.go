package eval

import (
	"github.com/gomlx-ssl/vicreg/datasets"
)

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
