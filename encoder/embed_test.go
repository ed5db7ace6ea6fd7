package encoder

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// TestViewSizeIsTheTrainingOne: an encoder's view size is that of its training images, whatever
// the images embedded: a synthetic-set encoder (16-pixel images) embeds a folder of photos of
// other sizes at 16 pixels, not at the 224 its preset would choose for the folder; -image-size
// overrides it, and an image folder run's is the preset's 224.
func TestViewSizeIsTheTrainingOne(t *testing.T) {
	for _, tc := range []struct {
		dataset, augment string
		imageSize, want  int
	}{
		{"synthetic", "vicreg", 0, 16},
		{"mnist", "mnist", 0, 28},
		{"cifar10", "solo-cifar", 0, 32},
		{"stl10", "vicreg", 0, 96},
		{"folder", "vicreg", 0, 224},
		{"shards", "vicreg", 0, 224},
		{"cifar10", "solo-cifar", 40, 40},
	} {
		cfg := config.Default()
		cfg.Dataset, cfg.Augment, cfg.ImageSize = tc.dataset, tc.augment, tc.imageSize
		e := &Encoder{Config: cfg}
		if got, err := e.ViewSize(); err != nil || got != tc.want {
			t.Errorf("%s, %s, -image-size %d: view size %d (%v), want %d", tc.dataset, tc.augment, tc.imageSize, got, err, tc.want)
		}
	}

	b := backendtest.XLA(t)
	cfg := config.Default()
	cfg.Dataset, cfg.Augment = "synthetic", "vicreg"
	cfg.Model = models.Config{Arch: "resnet18", Stem: "cifar", Width: 2, InChannels: 3}
	enc, err := Random(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "a"), []string{"x"}, 3)
	folder, err := datasets.OpenFolder(filepath.Join(root, "a"), "")
	if err != nil {
		t.Fatal(err)
	}
	embed := func(size int) string {
		x, err := enc.EmbedDataset(folder, EmbedOptions{BatchSize: 4, Size: size})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(x.X)
	}
	if def, at16, at224 := embed(0), embed(16), embed(224); def != at16 || def == at224 {
		t.Errorf("the folder embedded by default differs from its embedding at 16 pixels (or equals the one at 224)")
	}

	gray := cfg
	gray.Model.InChannels = 1
	enc1, err := Random(b, gray)
	if err != nil {
		t.Fatal(err)
	}
	defer enc1.Close()
	if _, err := enc1.EmbedDataset(folder, EmbedOptions{}); err == nil || !strings.Contains(err.Error(), "embed a 1-channel data set") {
		t.Errorf("a 1-channel encoder on RGB images: %v, want an error that says what to embed", err)
	}
}
