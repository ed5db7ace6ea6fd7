package datasets

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// exifFixture is testdata/pil/exif.json (gen_exif.py): for each image of testdata/pil/exif, the
// orientation its EXIF data records, PIL's ImageOps.exif_transpose(...).convert("RGB") pixels and
// size, and PIL's pixels of the image as Image.open(...).convert("RGB") reads it.
type exifFixture map[string]struct {
	Orientation int
	H, W        int
	Pixels      []byte
	StoredH     int `json:"stored_h"`
	StoredW     int `json:"stored_w"`
	Stored      []byte
}

func readExifFixture(t *testing.T) exifFixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "pil", "exif.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f exifFixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// maxDiff is the largest difference between two pixel buffers of one size.
func maxDiff(a, b []byte) int {
	d := 0
	for i := range a {
		d = max(d, int(a[i])-int(b[i]), int(b[i])-int(a[i]))
	}
	return d
}

// With ExifOrientation an image is turned as PIL's ImageOps.exif_transpose turns it, for each of
// the 8 orientations, wherever PIL reads it: a JPEG's EXIF data in either byte order; a PNG's eXIf
// chunk, before or after the image data, or ImageMagick's "Raw profile type exif" text,
// compressed or not, or its XMP text where its EXIF data has no Orientation tag (and not where it
// has one); a WebP's EXIF chunk with or without its "Exif\0\0" prefix; a TIFF's
// Orientation tag, in either byte order and in a BigTIFF. An orientation outside 1 to 8 leaves
// the image as stored. A JPEG's pixels are PIL's as far as the JPEG decoder's are (exactly with
// libjpeg-turbo): no further from PIL's turned image than the image decoded as stored is from
// PIL's; the other formats' are PIL's exactly. Without the option every image is read as PIL
// reads it: as stored, except a TIFF, which PIL turns by its Orientation tag when it loads it.
func TestExifOrientationMatchesPIL(t *testing.T) {
	t.Logf("JPEG decoder: %s", JPEGDecoder())
	fixture := readExifFixture(t)
	if len(fixture) != 45 {
		t.Fatalf("fixture: %d files, want 45", len(fixture))
	}
	for name, want := range fixture {
		path := filepath.Join("testdata", "pil", "exif", name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		wantO := want.Orientation
		if wantO < 1 || wantO > 8 {
			wantO = 1
		}
		if o := exifOrientation(data); o != wantO {
			t.Errorf("%s: orientation %d, want %d", name, o, wantO)
		}
		tiff := filepath.Ext(name) == ".tif"
		if strings.Contains(name, "big") && tiffLib() != nil {
			t.Logf("%s: not decoded (a BigTIFF is read with libtiff only, not loaded here: %v)", name, tiffLib())
			continue
		}
		stored, err := decodeFile(path, 0, false)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if stored.H != want.StoredH || stored.W != want.StoredW || len(want.Stored) != len(stored.Pix) ||
			!tiff && (stored.H != 8 || stored.W != 13) {
			t.Errorf("%s: decoded without the option to %dx%d, PIL to %dx%d", name, stored.W, stored.H, want.StoredW, want.StoredH)
			continue
		}
		tolerance := maxDiff(stored.Pix, want.Stored)
		if tolerance != 0 && filepath.Ext(name) != ".jpg" {
			t.Errorf("%s: decoded without the option, %d levels from PIL's pixels, want 0", name, tolerance)
		}
		if tiff {
			if img, err := DecodeImage(data); err != nil || img.H != want.StoredH || maxDiff(img.Pix, want.Stored) != 0 {
				t.Errorf("%s: DecodeImage gives %dx%d (%v), want PIL's pixels turned by the Orientation tag", name, img.W, img.H, err)
			}
		}
		turned, err := decodeFile(path, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		if turned.H != want.H || turned.W != want.W || turned.C != 3 {
			t.Errorf("%s: turned to %dx%d, PIL to %dx%d", name, turned.W, turned.H, want.W, want.H)
			continue
		}
		if d := maxDiff(turned.Pix, want.Pixels); d > tolerance {
			t.Errorf("%s: turned, %d levels from PIL's pixels at most, want at most %d (the stored image's difference)", name, d, tolerance)
		}
		if h, w, o, err := headerSize(data, true); err != nil || h != want.H || w != want.W || o != wantO {
			t.Errorf("%s: header size %dx%d orientation %d (%v), want %dx%d and %d", name, w, h, o, err, want.W, want.H, wantO)
		}
		plainO := 1
		if tiff {
			plainO = wantO
		}
		if h, w, o, err := headerSize(data, false); err != nil || h != want.StoredH || w != want.StoredW || o != plainO {
			t.Errorf("%s: header size without the option %dx%d, orientation %d (%v); want %dx%d and %d, as PIL loads it", name, w, h, o, err, want.StoredW, want.StoredH, plainO)
		}
	}
}

// The loader's views and the evaluation transform of a folder of turned JPEGs, with
// ExifOrientation, are those of the same images stored upright (PNG files of PIL's turned
// pixels): the crops are drawn on the turned size. Without the option they are not.
func TestExifOrientationInTheLoaders(t *testing.T) {
	fixture := readExifFixture(t)
	turned, upright := t.TempDir(), t.TempDir()
	names := []string{"orient-3.jpg", "orient-6.jpg", "orient-8.jpg", "orient-5.jpg"}
	tolerance := 0
	for i, name := range names {
		src := filepath.Join("testdata", "pil", "exif", name)
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		base := string(rune('a'+i)) + ".jpg"
		writeFile(t, filepath.Join(turned, base), data)
		want := fixture[name]
		img := image.NewRGBA(image.Rect(0, 0, want.W, want.H))
		for y := range want.H {
			for x := range want.W {
				p := want.Pixels[(y*want.W+x)*3:]
				img.Set(x, y, color.RGBA{p[0], p[1], p[2], 255})
			}
		}
		f, err := os.Create(filepath.Join(upright, string(rune('a'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		stored, _ := decodeFile(src, 0, false)
		tolerance = max(tolerance, maxDiff(stored.Pix, want.Stored))
	}
	open := func(dir string, orient bool) Data {
		d, err := Open("folder", SplitTrain, Options{DataDir: dir, ExifOrientation: orient})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Normalised with ImageNet's statistics, a level is 1/255/0.224 apart; resampling the
	// decoders' differences keeps them within the largest.
	close := func(a, b []float32) bool {
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > float64(tolerance)/255/0.224+1e-5 {
				return false
			}
		}
		return true
	}
	// The training views, compared where the JPEG decoder gives PIL's pixels: the augmentation's
	// colour changes (solarisation above all) do not keep differences within a bound.
	if tolerance == 0 {
		aug, err := Preset("vicreg", open(upright, false))
		if err != nil {
			t.Fatal(err)
		}
		cfg := LoaderConfig{BatchSize: 2, Seed: 11, Augmentation: aug.WithSize(6), Workers: 2}
		want := collectN(t, open(upright, false), cfg, Position{}, 4)
		got := collectN(t, open(turned, true), cfg, Position{}, 4)
		stored := collectN(t, open(turned, false), cfg, Position{}, 4)
		for i := range want {
			if !slices.Equal(got[i].View1, want[i].View1) || !slices.Equal(got[i].View2, want[i].View2) {
				t.Fatalf("batch %d: the turned JPEGs' views differ from the upright images'", i)
			}
			if close(stored[i].View1, want[i].View1) {
				t.Fatalf("batch %d: without ExifOrientation the views are the upright images' (the test cannot tell)", i)
			}
		}
	} else {
		t.Logf("training views not compared: this JPEG decoder's pixels are up to %d levels from PIL's", tolerance)
	}
	eval := func(d Data) []float32 {
		it, err := NewEvalIterator(d, EvalConfig{BatchSize: len(names), Size: 6})
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		b, ok := it.Next()
		if !ok {
			t.Fatal(it.Err())
		}
		return slices.Clone(b.View1)
	}
	if !close(eval(open(turned, true)), eval(open(upright, false))) {
		t.Error("evaluation: the turned JPEGs differ from the upright images")
	}
	if close(eval(open(turned, false)), eval(open(upright, false))) {
		t.Error("evaluation: without ExifOrientation the images are the upright ones (the test cannot tell)")
	}
}

// FuzzExifOrientation: any bytes give an orientation from 1 to 8, and a size turned or not.
func FuzzExifOrientation(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "pil", "exif", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o := exifOrientation(data)
		if o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		h, w, err := ImageSize(data)
		if err != nil {
			return
		}
		th, tw, to, err := headerSize(data, true)
		if err != nil || to != o || (o < 5 && (th != h || tw != w)) || (o >= 5 && (th != w || tw != h)) {
			t.Fatalf("header size %dx%d, turned %dx%d (orientation %d, %v)", w, h, tw, th, to, err)
		}
	})
}

// TestOrientImageTiles: on an image larger than orientImage's tiles, of 3 channels and of 1, each
// orientation puts every pixel where a plain reading of its definition does (the fixtures of
// TestExifOrientationMatchesPIL fit in one tile).
func TestOrientImageTiles(t *testing.T) {
	for _, c := range []int{3, 1} {
		h, w := 150, 97
		img := Image{H: h, W: w, C: c, Pix: make([]uint8, h*w*c)}
		for i := range img.Pix {
			img.Pix[i] = uint8(i*7 + i/251)
		}
		for o := 1; o <= 8; o++ {
			got := orientImage(img, o)
			for y := range h {
				for x := range w {
					// Where the stored pixel (y, x) goes: mirrored, then for 5 to 8 transposed.
					ny, nx := y, x
					switch o {
					case 2:
						nx = w - 1 - x
					case 3:
						ny, nx = h-1-y, w-1-x
					case 4:
						ny = h - 1 - y
					case 5:
						ny, nx = x, y
					case 6:
						ny, nx = x, h-1-y
					case 7:
						ny, nx = w-1-x, h-1-y
					case 8:
						ny, nx = w-1-x, y
					}
					for k := range c {
						if got.Pix[(ny*got.W+nx)*c+k] != img.Pix[(y*w+x)*c+k] {
							t.Fatalf("%d channels, orientation %d: stored pixel (%d, %d) is not at (%d, %d) of the %dx%d result", c, o, y, x, ny, nx, got.W, got.H)
						}
					}
				}
			}
		}
	}
}

// BenchmarkOrientImage turns a 12-megapixel photo a quarter (EXIF orientation 6).
func BenchmarkOrientImage(b *testing.B) {
	img := Image{H: 3000, W: 4000, C: 3, Pix: make([]uint8, 3000*4000*3)}
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		orientImage(img, 6)
	}
}
