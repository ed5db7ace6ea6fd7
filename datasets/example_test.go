package datasets_test

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

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
	// next: {Epoch:0 Batch:1 Images:100 Classes:10} of 3 batches per epoch
}

// An image folder of any sizes streams through the same loader: nothing is decoded before a batch
// needs it, and the views are cropped from the original images.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "example-folder-")
	defer os.RemoveAll(dir)
	for i, size := range [][2]int{{40, 30}, {25, 60}, {64, 64}, {33, 47}} {
		os.MkdirAll(filepath.Join(dir, []string{"cat", "dog"}[i%2]), 0o755)
		f, _ := os.Create(filepath.Join(dir, []string{"cat", "dog"}[i%2], fmt.Sprintf("%d.png", i)))
		png.Encode(f, image.NewRGBA(image.Rect(0, 0, size[0], size[1])))
		f.Close()
	}
	data, err := datasets.Open("folder", datasets.SplitTrain, datasets.Options{DataDir: dir})
	if err != nil {
		panic(err)
	}
	info := data.Info()
	fmt.Println(info.Len, "images,", info.ClassNames, "sizes vary:", info.Height == 0)
	aug, _ := datasets.Preset("vicreg", data)
	l, err := datasets.NewLoader(data, datasets.LoaderConfig{BatchSize: 2, Seed: 1, Workers: 2, Augmentation: aug.WithSize(32)}, datasets.Position{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	b, _ := l.Next()
	fmt.Println(b.Dims(), len(b.BadImages))
	// Output:
	// 4 images, [cat dog] sizes vary: true
	// [2 32 32 3] 0
}
