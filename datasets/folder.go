package datasets

import (
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // JPEG decoder for image folders.
	_ "image/png"  // PNG decoder for image folders.
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func isImageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// LoadFolder reads a folder of JPEG and PNG images as an RGB data set. If root/split is a folder it
// is used (so one root can hold "train" and "val"), otherwise root itself. When the folder has
// subfolders holding images, each subfolder is a class (sorted by name, like torchvision's
// ImageFolder); otherwise the images of the flat folder form an unlabeled set. With size > 0 each
// image is resized (shorter side to size, bilinear) and centre-cropped to size x size; with size 0
// every image must have the size of the first one.
func LoadFolder(root, split string, size int) (*Dataset, error) {
	if root == "" {
		return nil, fmt.Errorf("folder data set: no folder given (set the data directory to the image folder)")
	}
	dir := root
	if split != "" {
		if st, err := os.Stat(filepath.Join(root, split)); err == nil && st.IsDir() {
			dir = filepath.Join(root, split)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading image folder: %w", err)
	}
	var files []string
	var labels []int32
	var classes []string
	for _, e := range entries {
		if e.IsDir() {
			sub, err := os.ReadDir(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("reading image folder: %w", err)
			}
			var found []string
			for _, f := range sub {
				if !f.IsDir() && isImageFile(f.Name()) {
					found = append(found, filepath.Join(dir, e.Name(), f.Name()))
				}
			}
			if len(found) == 0 {
				continue
			}
			sort.Strings(found)
			for _, f := range found {
				files = append(files, f)
				labels = append(labels, int32(len(classes)))
			}
			classes = append(classes, e.Name())
		}
	}
	if len(classes) == 0 {
		labels = nil
		for _, e := range entries {
			if !e.IsDir() && isImageFile(e.Name()) {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
		sort.Strings(files)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("image folder %s: no .jpg, .jpeg or .png images (flat, or in one subfolder per class)", dir)
	}
	ds := &Dataset{Name: "folder", Split: split, N: len(files), Channels: 3, Labels: labels, NumClasses: len(classes)}
	if len(classes) > 0 {
		ds.ClassNames = classes
	}
	for i, path := range files {
		pix, h, w, err := decodeRGB(path)
		if err != nil {
			return nil, err
		}
		if size > 0 {
			pix, h, w = resizeCenterCrop(pix, h, w, size)
		}
		if i == 0 {
			ds.Height, ds.Width = h, w
			ds.Images = make([]uint8, 0, len(files)*h*w*3)
		} else if h != ds.Height || w != ds.Width {
			return nil, fmt.Errorf("image %s is %dx%d, want %dx%d like %s (give an image size to resize them all)", path, w, h, ds.Width, ds.Height, files[0])
		}
		ds.Images = append(ds.Images, pix...)
	}
	ds.Mean, ds.Std = ds.ComputeMeanStd()
	return ds, nil
}

// decodeRGB decodes a JPEG or PNG file into RGB bytes in HWC order.
func decodeRGB(path string) ([]uint8, int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("reading image: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("decoding image %s: %w (want a JPEG or PNG file)", path, err)
	}
	b := img.Bounds()
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	h, w := b.Dy(), b.Dx()
	out := make([]uint8, h*w*3)
	for p := range h * w {
		out[3*p] = rgba.Pix[4*p]
		out[3*p+1] = rgba.Pix[4*p+1]
		out[3*p+2] = rgba.Pix[4*p+2]
	}
	return out, h, w, nil
}

// resizeCenterCrop resizes so the shorter side is size, then crops the centre size x size square.
func resizeCenterCrop(pix []uint8, h, w, size int) ([]uint8, int, int) {
	// Equivalent to cropping the central square of side min(h, w) and resizing it to size.
	side := min(h, w)
	top, left := (h-side)/2, (w-side)/2
	f := make([]float32, size*size*3)
	cropResize(f, pix, h, w, 3, float64(top), float64(left), float64(side), float64(side), size, size)
	out := make([]uint8, len(f))
	for i, v := range f {
		out[i] = uint8(min(max(v*255+0.5, 0), 255))
	}
	return out, size, size
}
