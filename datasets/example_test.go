package datasets_test

import (
	"fmt"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// A training loader gives fixed-shape two-view batches; its Position is what a checkpoint stores.
func ExampleNewLoader() {
	cfg := datasets.DefaultSynthetic()
	cfg.N = 100
	ds, err := datasets.Synthetic(cfg, datasets.SplitTrain)
	if err != nil {
		panic(err)
	}
	aug, _ := datasets.Preset("solo-cifar", ds)
	l, err := datasets.NewLoader(ds, datasets.LoaderConfig{BatchSize: 32, Seed: 1, Workers: 2, Augmentation: aug}, datasets.Position{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	b, _ := l.Next()
	fmt.Println(b.Dims(), len(b.View1), len(b.View2), len(b.Labels))
	fmt.Printf("next: %+v of %d batches per epoch\n", l.Position(), l.BatchesPerEpoch())
	// Output:
	// [32 16 16 3] 24576 24576 32
	// next: {Epoch:0 Batch:1} of 3 batches per epoch
}
