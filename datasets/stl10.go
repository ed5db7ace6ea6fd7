package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

const stlSide = 96

var stl10Archive = Resource{URL: "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz", MD5: "91f7769df0f17e558f3565bffb0c7dfb"}

// stl10Counts is the number of images of each split file (a variable so tests can use small files).
var stl10Counts = map[string]int{SplitTrain: 5000, SplitTest: 8000, SplitUnlabeled: 100000}

// STL10Classes are STL-10's class names, in label order (file labels are 1-based).
var STL10Classes = []string{"airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"}

// ParseSTL10Images decodes STL-10's image format: each 96x96 colour image is 27,648 bytes, the red
// plane, then green, then blue, each plane stored column by column (column-major). It returns the
// images in HWC order.
func ParseSTL10Images(data []byte) ([]uint8, error) {
	const size = stlSide * stlSide * 3
	if len(data) == 0 || len(data)%size != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %d-byte images", len(data), size)
	}
	n := len(data) / size
	out := make([]uint8, len(data))
	const plane = stlSide * stlSide
	for i := range n {
		src := data[i*size : (i+1)*size]
		dst := out[i*size : (i+1)*size]
		for c := range 3 {
			p := src[c*plane : (c+1)*plane]
			for x := range stlSide {
				col := p[x*stlSide : (x+1)*stlSide]
				for y, v := range col {
					dst[(y*stlSide+x)*3+c] = v
				}
			}
		}
	}
	return out, nil
}

// ParseSTL10Labels decodes STL-10's label format: one byte per image, 1..10; it returns 0-based labels.
func ParseSTL10Labels(data []byte) ([]int32, error) {
	out := make([]int32, len(data))
	for i, v := range data {
		if v < 1 || v > 10 {
			return nil, fmt.Errorf("label %d of image %d out of range [1, 10]", v, i)
		}
		out[i] = int32(v) - 1
	}
	return out, nil
}

func readSTLImages(path string, want int) ([]uint8, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading STL-10 images: %w", err)
	}
	if exp := want * stlSide * stlSide * 3; len(data) != exp {
		return nil, fmt.Errorf("reading STL-10 images %s: %d bytes, want %d (%d images of 96x96x3); truncated? delete it to extract or download again", path, len(data), exp, want)
	}
	imgs, err := ParseSTL10Images(data)
	if err != nil {
		return nil, fmt.Errorf("reading STL-10 images %s: %w", path, err)
	}
	return imgs, nil
}

func readSTLLabels(path string, want int) ([]int32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading STL-10 labels: %w", err)
	}
	if len(data) != want {
		return nil, fmt.Errorf("reading STL-10 labels %s: %d bytes, want %d (one per image)", path, len(data), want)
	}
	l, err := ParseSTL10Labels(data)
	if err != nil {
		return nil, fmt.Errorf("reading STL-10 labels %s: %w", path, err)
	}
	return l, nil
}

// loadSTL10 reads "train" (5,000 labelled), "test" (8,000 labelled), "unlabeled" (100,000, no labels,
// NumClasses 0) or "train+unlabeled" (105,000; label -1 for the unlabeled part).
func loadSTL10(split string, opt Options) (*Dataset, error) {
	var parts []string
	switch split {
	case SplitTrain, SplitTest, SplitUnlabeled:
		parts = []string{split}
	case SplitTrainUnlabeled:
		parts = []string{SplitTrain, SplitUnlabeled}
	default:
		return nil, fmt.Errorf("stl10 has no split %q: want %q, %q, %q or %q", split, SplitTrain, SplitTest, SplitUnlabeled, SplitTrainUnlabeled)
	}
	dir := filepath.Join(opt.DataDir, "stl10")
	sub := "stl10_binary"
	img := int64(stlSide * stlSide * 3)
	want := map[string]int64{
		filepath.Join(sub, "train_X.bin"):     int64(stl10Counts[SplitTrain]) * img,
		filepath.Join(sub, "train_y.bin"):     int64(stl10Counts[SplitTrain]),
		filepath.Join(sub, "test_X.bin"):      int64(stl10Counts[SplitTest]) * img,
		filepath.Join(sub, "test_y.bin"):      int64(stl10Counts[SplitTest]),
		filepath.Join(sub, "unlabeled_X.bin"): int64(stl10Counts[SplitUnlabeled]) * img,
	}
	if err := ensureExtracted(stl10Archive, dir, want, opt); err != nil {
		return nil, err
	}
	ds := &Dataset{
		Name: "stl10", Split: split, Height: stlSide, Width: stlSide, Channels: 3,
		NumClasses: 10, ClassNames: STL10Classes,
		// ImageNet statistics, as solo-learn uses for STL-10.
		Mean: slices.Clone(ImageNetMean), Std: slices.Clone(ImageNetStd),
	}
	labelled := false
	for _, part := range parts {
		n := stl10Counts[part]
		imgs, err := readSTLImages(filepath.Join(dir, sub, part+"_X.bin"), n)
		if err != nil {
			return nil, err
		}
		ds.Images = append(ds.Images, imgs...)
		if part == SplitUnlabeled {
			for range n {
				ds.Labels = append(ds.Labels, -1)
			}
			continue
		}
		labelled = true
		l, err := readSTLLabels(filepath.Join(dir, sub, part+"_y.bin"), n)
		if err != nil {
			return nil, err
		}
		ds.Labels = append(ds.Labels, l...)
	}
	ds.N = len(ds.Images) / int(img)
	if !labelled { // "unlabeled": an unlabeled set, as Info describes one
		ds.Labels, ds.NumClasses, ds.ClassNames = nil, 0, nil
	}
	return ds, nil
}
