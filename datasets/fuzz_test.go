package datasets

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The fuzzers check that the binary readers never panic and that whatever they accept is
// consistent. Seeds live in testdata/fuzz/<FuzzName>.

func FuzzParseIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Fuzz(func(t *testing.T, data []byte) {
		dims, vals, err := ParseIDX(data)
		if err != nil {
			return
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if n != len(vals) {
			t.Fatalf("dims %v but %d values", dims, len(vals))
		}
	})
}

func FuzzParseCIFAR(f *testing.F) {
	f.Add(cifarRecords(1, 0, 1, func(int) int { return 3 }), 1, 10)
	f.Add(cifarRecords(2, 0, 2, func(i int) int { return 50 + i }), 2, 100)
	f.Fuzz(func(t *testing.T, data []byte, labelBytes, classes int) {
		if labelBytes < 1 || labelBytes > 2 {
			return
		}
		imgs, labels, err := ParseCIFAR(data, labelBytes, classes)
		if err != nil {
			return
		}
		if len(imgs) != len(labels)*3072 || len(data) != len(labels)*(3072+labelBytes) {
			t.Fatalf("%d bytes gave %d pixels and %d labels", len(data), len(imgs), len(labels))
		}
		for _, l := range labels {
			if l < 0 || int(l) >= classes {
				t.Fatalf("label %d accepted for %d classes", l, classes)
			}
		}
	})
}

func FuzzParseSTL10(f *testing.F) {
	f.Add(stlImages(1, 0), []byte{1, 10})
	f.Fuzz(func(t *testing.T, images, labels []byte) {
		if imgs, err := ParseSTL10Images(images); err == nil && len(imgs) != len(images) {
			t.Fatalf("%d bytes gave %d pixels", len(images), len(imgs))
		}
		if l, err := ParseSTL10Labels(labels); err == nil {
			for _, v := range l {
				if v < 0 || v > 9 {
					t.Fatalf("label %d accepted", v)
				}
			}
		}
	})
}

// FuzzDecodeImage starts from every fixture of testdata/pil (each format and variant read, and
// some that are refused): a decoded image has the size its header gives, and three bytes a pixel;
// a PNG or TIFF that libpng or libtiff and Go's decoder both read has the same pixels from each.
func FuzzDecodeImage(f *testing.F) {
	for _, dir := range []string{"pil/kinds", "pil/formats", "bigtiff"} {
		files, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range files {
			data, err := os.ReadFile(filepath.Join("testdata", dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("P1 3 2 0 1 0 1 0 1"))
	f.Add([]byte("P4 9 2\n\xff\x80\x00\x00"))
	for _, avif := range []bool{false, true} { // HEIC and AVIF, written by libheif when it is there
		if data, err := encodeHEIF(heifSource(16, 12), avif, 50); err == nil {
			f.Add(data)
		}
	}
	for _, name := range []string{"rotated-6.heic", "rotated-6.avif"} {
		if data, err := os.ReadFile(filepath.Join("testdata", "heif", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(data)
		if err != nil {
			return
		}
		h, w, err := ImageSize(data)
		if err != nil || h != img.H || w != img.W || img.C != 3 || len(img.Pix) != h*w*3 {
			t.Fatalf("decoded %dx%dx%d (%d bytes); header: %dx%d, %v", img.W, img.H, img.C, len(img.Pix), w, h, err)
		}
		// Where libpng or libtiff and Go's decoder both read a PNG or TIFF, they give the same pixels.
		var (
			lib, goImg Image
			ok         bool
		)
		switch imageFormat(data) {
		case "png":
			lib, ok = decodePNGLib(data, h, w)
			goImg, err = decodePNGGo(data)
		case "tiff":
			d := readTIFFIFD(data)
			lib, ok, _ = decodeTIFFLib(data, d, h, w)
			goImg, err = decodeTIFFGo(data, d)
		}
		if ok && err == nil && !bytes.Equal(lib.Pix, goImg.Pix) {
			mean, maxd := diffStats(lib.Pix, goImg.Pix)
			t.Fatalf("the %s library and Go's decoder differ by %.3f on average, %d at most", imageFormat(data), mean, maxd)
		}
	})
}
