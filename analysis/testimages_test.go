package analysis

import (
	"path/filepath"
	"testing"

	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// The analysis of a run trained on an image folder of mixed sizes reads that folder (its path from
// the run's configuration) at the run's view size: the -image-size it gave, or the preset's.
func TestTestImagesOfAFolderRun(t *testing.T) {
	root := t.TempDir()
	for _, split := range []string{"train", "val"} {
		datasetstest.WriteImageFolder(t, filepath.Join(root, split), []string{"cat", "dog"}, 3)
	}
	run := config.Default()
	run.Dataset, run.DataDir, run.Augment, run.Model.InChannels = "folder", root, "vicreg", 3
	for _, tc := range []struct{ imageSize, want int }{{0, 224}, {32, 32}} {
		run.ImageSize = tc.imageSize
		ds, err := testImages(run, "")
		if err != nil {
			t.Fatalf("-image-size %d: %v", tc.imageSize, err)
		}
		if ds.N != 6 || ds.Height != tc.want || ds.Width != tc.want || ds.NumClasses != 2 {
			t.Errorf("-image-size %d: %d images of %dx%d in %d classes, want 6 of %dx%[6]d in 2", tc.imageSize, ds.N, ds.Height, ds.Width, ds.NumClasses, tc.want)
		}
		aug, err := run.Augmentation(ds)
		if err != nil || aug.View1.Size != tc.want {
			t.Errorf("-image-size %d: the run's views are %d px (%v), want %d", tc.imageSize, aug.View1.Size, err, tc.want)
		}
	}
}
