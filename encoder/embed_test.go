package encoder

import (
	"fmt"
	"os"
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

	enc, folder, _ := tinyEncoderAndFolder(t, "synthetic", "vicreg", 3)
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

	gray := enc.Config
	gray.Model.InChannels = 1
	enc1, err := Random(backendtest.XLA(t), gray)
	if err != nil {
		t.Fatal(err)
	}
	defer enc1.Close()
	if _, err := enc1.EmbedDataset(folder, EmbedOptions{}); err == nil || !strings.Contains(err.Error(), "embed a 1-channel data set") {
		t.Errorf("a 1-channel encoder on RGB images: %v, want an error that says what to embed", err)
	}
}

// TestEmbedDatasetIndexesRowsWhenImagesAreLeftOut: with SkipBadImages, an image that does not
// decode has no row and Index names the image of each row; with every image there, Index is nil.
func TestEmbedDatasetIndexesRowsWhenImagesAreLeftOut(t *testing.T) {
	enc, folder, paths := tinyEncoderAndFolder(t, "folder", "vicreg", 4)
	opt := EmbedOptions{BatchSize: 3, Size: 8, SkipBadImages: true}
	if x, err := enc.EmbedDataset(folder, opt); err != nil || x.N != 4 || x.Index != nil {
		t.Fatalf("every image there: %d rows, index %v (%v), want 4 rows and no index", x.N, x.Index, err)
	}
	if err := os.WriteFile(paths[1], []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	x, err := enc.EmbedDataset(folder, opt)
	if err != nil || x.N != 3 || fmt.Sprint(x.Index) != "[0 2 3]" || x.Validate("embedded") != nil {
		t.Errorf("image 1 damaged: %d rows, index %v (%v), want 3 rows of images [0 2 3]", x.N, x.Index, err)
	}
}

// TestEmbedDatasetNormalisesAsTraining: a CIFAR-10 encoder embeds a folder of photos normalised
// with CIFAR-10's statistics, as its training images were, not with the folder's (ImageNet's).
// The other cases of the rule are config's TestNormalisationOfOtherImages.
func TestEmbedDatasetNormalisesAsTraining(t *testing.T) {
	if m, s, ok := datasets.Normalisation("cifar10"); !ok || fmt.Sprint(m, s) != "[0.4914 0.4822 0.4465] [0.247 0.2435 0.2616]" {
		t.Fatalf("CIFAR-10's normalisation: %v %v %v, want the published one", m, s, ok)
	}
	enc, folder, _ := tinyEncoderAndFolder(t, "cifar10", "solo-cifar", 3)
	// by embeds the folder's images normalised with mean and std, batch by batch.
	by := func(mean, std []float32) string {
		it, err := datasets.NewEvalIterator(folder, datasets.EvalConfig{BatchSize: 4, Size: 32, Mean: mean, Std: std})
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		var rows []float32
		for bt, ok := it.Next(); ok; bt, ok = it.Next() {
			z, err := enc.Embed(bt.View1, bt.BatchSize, bt.Height, bt.Width)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, z[:bt.Valid*enc.Dim()]...)
		}
		return fmt.Sprint(rows)
	}
	x, err := enc.EmbedDataset(folder, EmbedOptions{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	cifarMean, cifarStd, _ := datasets.Normalisation("cifar10")
	if got := fmt.Sprint(x.X); got != by(cifarMean, cifarStd) || got == by(datasets.ImageNetMean, datasets.ImageNetStd) {
		t.Errorf("the folder embedded by a CIFAR-10 encoder is not normalised with CIFAR-10's statistics")
	}
}

// tinyEncoderAndFolder returns a random width-2 RGB encoder whose run trained on dataset with
// the augmentation preset augment, and a folder of n photos of one class (with their paths).
func tinyEncoderAndFolder(t *testing.T, dataset, augment string, n int) (*Encoder, *datasets.Folder, []string) {
	t.Helper()
	cfg := config.Default()
	cfg.Dataset, cfg.Augment = dataset, augment
	cfg.Model = models.Config{Arch: "resnet18", Stem: "cifar", Width: 2, InChannels: 3}
	enc, err := Random(backendtest.XLA(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(enc.Close)
	root := t.TempDir()
	paths := datasetstest.WriteImageFolder(t, root, []string{"x"}, n)
	folder, err := datasets.OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	return enc, folder, paths
}
