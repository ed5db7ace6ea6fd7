package datasets

import (
	"fmt"
	"image"
	"strconv"
)

// Image is one decoded image: H rows of W pixels of C interleaved uint8 channels (HWC order).
// Messages give the size of an image as width x height (W x H, as image viewers and tools such as
// ImageMagick do), not in the order of the fields.
type Image struct {
	Pix     []uint8
	H, W, C int
}

// AsImage is m as a standard library image, sharing its pixels where it can: *image.Gray for
// one channel, *image.RGBA (opaque) for three. Other channel counts panic (every data set has 1
// or 3).
func (m Image) AsImage() image.Image {
	r := image.Rect(0, 0, m.W, m.H)
	switch m.C {
	case 1:
		return &image.Gray{Pix: m.Pix, Stride: m.W, Rect: r}
	case 3:
		out := image.NewRGBA(r)
		for i := range m.H * m.W {
			copy(out.Pix[4*i:4*i+3], m.Pix[3*i:3*i+3])
			out.Pix[4*i+3] = 0xff
		}
		return out
	}
	panic(fmt.Sprintf("datasets.Image.AsImage: %d channels", m.C))
}

// Info describes a data set without reading its images.
type Info struct {
	// Name ("mnist", "folder", "shards", ...) and Split ("train", "test", ...).
	Name, Split string
	// Len is the number of samples.
	Len int
	// Channels of every image (3 for folders and shards: every image is decoded to RGB).
	Channels int
	// Height and Width of every image, or 0 when the images differ in size (folders, shards).
	Height, Width int
	// NumClasses is the number of classes (0 for an unlabeled set); ClassNames names them when
	// known.
	NumClasses int
	ClassNames []string
	// Mean and Std are the per-channel normalisation on the [0, 1] scale.
	Mean, Std []float32
}

// ClassName is the name of class k: its ClassNames entry, or else its number.
func (i Info) ClassName(k int) string {
	if k >= 0 && k < len(i.ClassNames) {
		return i.ClassNames[k]
	}
	return strconv.Itoa(k)
}

// Names names the classes 0 … n−1 (ClassName): a figure's or a record's class names, n the
// classes of the labels at hand (which may outnumber ClassNames).
func (i Info) Names(n int) []string {
	names := make([]string, n)
	for k := range names {
		names[k] = i.ClassName(k)
	}
	return names
}

// Data is a data set that a Loader and an EvalIterator read: a random-access Source (the
// in-memory *Dataset, an image *Folder, the *RecordSet of ImageNet's archives or of Hugging Face's
// Arrow files) or sequential tar *Shards.
type Data interface {
	Info() Info
}

// Source is a data set whose samples can be read in any order. Decode returns sample i at its
// original size; it is safe for concurrent use, and its result must not be modified (an in-memory
// set returns its own pixels).
type Source interface {
	Data
	// Label is the class of sample i, or -1 when unknown.
	Label(i int) int32
	// Decode reads and decodes sample i. Errors are *DataError values naming the file.
	Decode(i int) (Image, error)
}

// ImageNetMean and ImageNetStd are the per-channel statistics published with ImageNet (on the
// [0, 1] scale), which torchvision users pass to Normalize: the default normalisation of image
// folders and shards (computing a folder's own statistics would mean decoding all of it).
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// mnistMean and mnistStd are MNIST's published statistics (torchvision's MNIST examples').
var (
	mnistMean = []float32{0.1307}
	mnistStd  = []float32{0.3081}
)

// Info describes the in-memory set.
func (d *Dataset) Info() Info {
	return Info{Name: d.Name, Split: d.Split, Len: d.N, Channels: d.Channels, Height: d.Height, Width: d.Width,
		NumClasses: d.NumClasses, ClassNames: d.ClassNames, Mean: d.Mean, Std: d.Std}
}

// Decode returns image i without copying (the in-memory set holds decoded pixels); its error is
// always nil. An i outside [0, N) panics, as in Image: a programming error, not bad data.
func (d *Dataset) Decode(i int) (Image, error) {
	return Image{Pix: d.Image(i), H: d.Height, W: d.Width, C: d.Channels}, nil
}
