package datasets

import (
	"fmt"
	"os"
	"path/filepath"
)

// cifarSpec describes one CIFAR binary distribution.
type cifarSpec struct {
	name       string
	archive    Resource
	folder     string   // folder inside the archive
	train      []string // training files
	test       string   // test file
	labelBytes int      // 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine)
	numClasses int
	recsTrain  int // records per training file
	recsTest   int
	mean, std  []float32
}

const cifarPixels = 32 * 32 * 3

var (
	cifar10Spec = cifarSpec{
		name:       "cifar10",
		archive:    Resource{URL: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", MD5: "c32a1d4ab5d03f1284b67883e8d87530"},
		folder:     "cifar-10-batches-bin",
		train:      []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
		test:       "test_batch.bin",
		labelBytes: 1, numClasses: 10, recsTrain: 10000, recsTest: 10000,
		mean: []float32{0.4914, 0.4822, 0.4465}, std: []float32{0.2470, 0.2435, 0.2616},
	}
	cifar100Spec = cifarSpec{
		name:       "cifar100",
		archive:    Resource{URL: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", MD5: "03b5dce01913d631647c71ecec9e9cb8"},
		folder:     "cifar-100-binary",
		train:      []string{"train.bin"},
		test:       "test.bin",
		labelBytes: 2, numClasses: 100, recsTrain: 50000, recsTest: 10000,
		mean: []float32{0.5071, 0.4865, 0.4409}, std: []float32{0.2673, 0.2564, 0.2762},
	}
)

// CIFAR10Classes are CIFAR-10's class names, in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// ParseCIFAR decodes records of the CIFAR binary format: each record is labelBytes label bytes (1 for
// CIFAR-10; 2 for CIFAR-100, coarse then fine, the fine label is returned) followed by 3072 pixel
// bytes: the 1024 red values of the 32x32 image row by row, then green, then blue. It returns the
// images in HWC order and the labels; a label >= numClasses or a size that is not a whole number of
// records is an error.
func ParseCIFAR(data []byte, labelBytes, numClasses int) (images []uint8, labels []int32, err error) {
	rec := labelBytes + cifarPixels
	if len(data) == 0 || len(data)%rec != 0 {
		return nil, nil, fmt.Errorf("%d bytes is not a whole number of %d-byte records", len(data), rec)
	}
	n := len(data) / rec
	images = make([]uint8, n*cifarPixels)
	labels = make([]int32, n)
	for i := range n {
		r := data[i*rec : (i+1)*rec]
		l := int32(r[labelBytes-1])
		if int(l) >= numClasses {
			return nil, nil, fmt.Errorf("record %d: label %d out of range [0, %d)", i, l, numClasses)
		}
		labels[i] = l
		planar := r[labelBytes:]
		img := images[i*cifarPixels : (i+1)*cifarPixels]
		for p := range 1024 {
			img[3*p] = planar[p]
			img[3*p+1] = planar[1024+p]
			img[3*p+2] = planar[2048+p]
		}
	}
	return images, labels, nil
}

// readCIFARFile reads one CIFAR binary file and checks it holds want records.
func readCIFARFile(path string, labelBytes, numClasses, want int) ([]uint8, []int32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading CIFAR file: %w", err)
	}
	if exp := want * (labelBytes + cifarPixels); len(data) != exp {
		return nil, nil, fmt.Errorf("reading CIFAR file %s: %d bytes, want %d (%d records of %d bytes); truncated? delete it to extract or download again", path, len(data), exp, want, labelBytes+cifarPixels)
	}
	imgs, lbls, err := ParseCIFAR(data, labelBytes, numClasses)
	if err != nil {
		return nil, nil, fmt.Errorf("reading CIFAR file %s: %w", path, err)
	}
	return imgs, lbls, nil
}

func loadCIFAR(spec cifarSpec, split string, opt Options) (*Dataset, error) {
	var files []string
	recs := spec.recsTrain
	switch split {
	case SplitTrain:
		files = spec.train
	case SplitTest:
		files, recs = []string{spec.test}, spec.recsTest
	default:
		return nil, fmt.Errorf("%s has no split %q: want %q or %q", spec.name, split, SplitTrain, SplitTest)
	}
	dir := filepath.Join(opt.DataDir, spec.name)
	want := map[string]int64{}
	for _, f := range append(append([]string{}, spec.train...), spec.test) {
		size := int64(spec.recsTrain)
		if f == spec.test {
			size = int64(spec.recsTest)
		}
		want[filepath.Join(spec.folder, f)] = size * int64(spec.labelBytes+cifarPixels)
	}
	if err := ensureExtracted(spec.archive, dir, want, opt); err != nil {
		return nil, err
	}
	ds := &Dataset{
		Name: spec.name, Split: split, Height: 32, Width: 32, Channels: 3,
		NumClasses: spec.numClasses, Mean: spec.mean, Std: spec.std,
	}
	if spec.numClasses == 10 {
		ds.ClassNames = CIFAR10Classes
	}
	for _, f := range files {
		imgs, lbls, err := readCIFARFile(filepath.Join(dir, spec.folder, f), spec.labelBytes, spec.numClasses, recs)
		if err != nil {
			return nil, err
		}
		ds.Images = append(ds.Images, imgs...)
		ds.Labels = append(ds.Labels, lbls...)
	}
	ds.N = len(ds.Labels)
	return ds, nil
}
