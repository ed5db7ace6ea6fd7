package datasets

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// kindsFixture is testdata/pil/kinds.json: for each small synthetic file of testdata/pil/kinds
// (written by gen.py with PIL 9.4), PIL's mode and its Image.open(f).convert("RGB") pixels, and
// the source pixels the files were made from.
type kindsFixture struct {
	H, W  int
	Files map[string]struct {
		Mode string
		Pix  []byte
	}
}

// diffStats is the mean and largest absolute difference of two byte slices.
func diffStats(a, b []uint8) (mean float64, maxd int) {
	var s float64
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		s += float64(d)
		maxd = max(maxd, d)
	}
	return s / float64(len(a)), maxd
}

// TestDecodeKinds decodes each kind of image PIL converts to RGB and compares with PIL's pixels:
// exactly for PNG (lossless) and, through libjpeg-turbo (PIL's own decoder), for JPEG; within
// the differences of Go's JPEG decoder (other chroma upsampling and rounding) otherwise.
func TestDecodeKinds(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "pil", "kinds.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f kindsFixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	source := f.Files["source"].Pix
	t.Logf("JPEG decoder: %s", JPEGDecoder())
	for name, want := range f.Files {
		if name == "source" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "pil", "kinds", name))
			if err != nil {
				t.Fatal(err)
			}
			img, err := DecodeImage(raw)
			if err != nil {
				t.Fatal(err)
			}
			if img.H != f.H || img.W != f.W || img.C != 3 || len(img.Pix) != f.H*f.W*3 {
				t.Fatalf("decoded %dx%dx%d, want %dx%dx3", img.W, img.H, img.C, f.W, f.H)
			}
			ref := want.Pix
			if name == "gray16.png" {
				// PIL opens 16-bit grayscale as mode I and its convert("RGB") clips the values
				// to 255; we keep the high byte (the file holds 257 times the red channel).
				ref = make([]uint8, len(source))
				for p := 0; p < len(source); p += 3 {
					ref[p], ref[p+1], ref[p+2] = source[p], source[p], source[p]
				}
			}
			mean, maxd := diffStats(img.Pix, ref)
			t.Logf("%s: %.2f from PIL on average, %d at most", name, mean, maxd)
			lossless := strings.HasSuffix(name, ".png")
			switch {
			case lossless || jpegLib() == nil && name != "cmyk.jpg":
				if maxd != 0 {
					t.Errorf("%s (PIL mode %s): differs from PIL's RGB by %.2f on average, %d at most; want equal", name, want.Mode, mean, maxd)
				}
			case mean > 5 || maxd > 16:
				// Go's decoder (or, for CMYK, Go's decoder behind libjpeg): nearest-neighbour chroma.
				t.Errorf("%s (PIL mode %s): differs from PIL's RGB by %.2f on average, %d at most", name, want.Mode, mean, maxd)
			}
			// The pixels the file was made from (quality 95 JPEG: a few levels away; the others are
			// gray or quantised versions of them).
			if name == "cmyk.jpg" || name == "progressive.jpg" || name == "rgba.png" {
				m, _ := diffStats(img.Pix, source)
				t.Logf("%s: %.2f from the source pixels on average", name, m)
				if m > 6 {
					t.Errorf("%s: %.2f away from the source pixels on average", name, m)
				}
			}
			if w, h, err := sizeOf(raw); err != nil || w != f.W || h != f.H {
				t.Errorf("ImageSize: %dx%d, %v; want %dx%d", w, h, err, f.W, f.H)
			}
		})
	}
}

func sizeOf(data []byte) (w, h int, err error) {
	h, w, err = ImageSize(data)
	return w, h, err
}

// TestDecodeGoImageKinds decodes images made with Go's encoders: 8- and 16-bit grayscale, RGBA
// with transparency (alpha dropped, not composited: PIL's convert), a palette with transparency,
// 16-bit RGBA, and baseline JPEG; each against the pixels it was made from.
func TestDecodeGoImageKinds(t *testing.T) {
	const w, h = 9, 7
	val := func(x, y, c int) uint8 { return uint8(20*x + 30*y + 70*c) }
	type tc struct {
		name string
		img  image.Image
		want func(x, y int) [3]uint8
	}
	gray := image.NewGray(image.Rect(0, 0, w, h))
	gray16 := image.NewGray16(image.Rect(0, 0, w, h))
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	rgba64 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	pal := color.Palette{color.NRGBA{10, 20, 30, 0}, color.NRGBA{200, 100, 50, 128}, color.RGBA{1, 2, 3, 255}}
	paletted := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	for y := range h {
		for x := range w {
			gray.SetGray(x, y, color.Gray{val(x, y, 0)})
			gray16.SetGray16(x, y, color.Gray16{uint16(val(x, y, 0))<<8 | 0xab})
			nrgba.SetNRGBA(x, y, color.NRGBA{val(x, y, 0), val(x, y, 1), val(x, y, 2), uint8(x * 25)})
			rgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(val(x, y, 0)) << 8, uint16(val(x, y, 1))<<8 | 0xff, uint16(val(x, y, 2)) << 8, 0x8000})
			paletted.SetColorIndex(x, y, uint8((x+y)%3))
		}
	}
	g := func(x, y int) [3]uint8 { v := val(x, y, 0); return [3]uint8{v, v, v} }
	rgb := func(x, y int) [3]uint8 { return [3]uint8{val(x, y, 0), val(x, y, 1), val(x, y, 2)} }
	palWant := [][3]uint8{{10, 20, 30}, {200, 100, 50}, {1, 2, 3}}
	for _, c := range []tc{
		{"gray", gray, g}, {"gray16", gray16, g}, {"nrgba", nrgba, rgb}, {"nrgba64", rgba64, rgb},
		{"paletted", paletted, func(x, y int) [3]uint8 { return palWant[(x+y)%3] }},
	} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, c.img); err != nil {
			t.Fatal(err)
		}
		img, err := DecodeImage(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for y := range h {
			for x := range w {
				want := c.want(x, y)
				got := img.Pix[(y*w+x)*3 : (y*w+x)*3+3]
				if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
					t.Fatalf("%s: pixel (%d, %d) = %v, want %v", c.name, x, y, got, want)
				}
			}
		}
	}
	// Grayscale JPEG from Go's encoder: three equal channels near the source.
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, gray, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	img, err := DecodeImage(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < len(img.Pix); p += 3 {
		want := gray.Pix[p/3]
		if img.Pix[p] != img.Pix[p+1] || img.Pix[p] != img.Pix[p+2] || math.Abs(float64(img.Pix[p])-float64(want)) > 3 {
			t.Fatalf("gray JPEG pixel %d: %v, want 3 x %d", p/3, img.Pix[p:p+3], want)
		}
	}
}

// TestDecodeIgnoresEXIFOrientation: a JPEG whose EXIF says "rotate 90°" decodes as stored, as PIL
// and torchvision do by default.
func TestDecodeIgnoresEXIFOrientation(t *testing.T) {
	const w, h = 16, 8
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			src.SetRGBA(x, y, color.RGBA{uint8(x * 16), uint8(y * 32), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	plain := buf.Bytes()
	// APP1 "Exif\0\0" + a little-endian TIFF header with one IFD entry: Orientation (0x0112) = 6.
	var tiff bytes.Buffer
	tiff.WriteString("II*\x00")
	binary.Write(&tiff, binary.LittleEndian, uint32(8))
	binary.Write(&tiff, binary.LittleEndian, uint16(1))
	binary.Write(&tiff, binary.LittleEndian, []uint16{0x0112, 3})
	binary.Write(&tiff, binary.LittleEndian, uint32(1))
	binary.Write(&tiff, binary.LittleEndian, []uint16{6, 0})
	binary.Write(&tiff, binary.LittleEndian, uint32(0))
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	app1 := append([]byte{0xff, 0xe1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	rotated := append(append(append([]byte{}, plain[:2]...), app1...), plain[2:]...)
	a, err := DecodeImage(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeImage(rotated)
	if err != nil {
		t.Fatal(err)
	}
	if b.W != w || b.H != h || !bytes.Equal(a.Pix, b.Pix) {
		t.Fatalf("with EXIF orientation 6: %dx%d, pixels equal %v; want %dx%d and the same pixels", b.W, b.H, bytes.Equal(a.Pix, b.Pix), w, h)
	}
}

// TestDecodeBadBytes: truncated, corrupt and foreign files are errors, never panics or gray
// images; the truncated JPEG of skimage (when installed) too, as PIL refuses it.
func TestDecodeBadBytes(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	var jb, pb bytes.Buffer
	jpeg.Encode(&jb, src, &jpeg.Options{Quality: 90})
	png.Encode(&pb, src)
	cases := map[string][]byte{
		"empty":          {},
		"text":           []byte("not an image at all"),
		"jpeg-truncated": jb.Bytes()[:jb.Len()/2],
		"jpeg-header":    jb.Bytes()[:200],
		"png-truncated":  pb.Bytes()[:pb.Len()/2],
		"gif":            []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
	}
	if data, err := os.ReadFile("/usr/lib/python3/dist-packages/skimage/data/truncated.jpg"); err == nil {
		cases["skimage-truncated.jpg"] = data
	}
	for name, data := range cases {
		if _, err := DecodeImage(data); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
}

// TestLibjpegMatchesPIL decodes a photograph (skimage's rocket.jpg, or chelsea.png re-encoded by
// PIL at quality 90) with libjpeg-turbo through cgo and compares with PIL: the same library with
// the same settings gives the same pixels. Skipped when libjpeg-turbo or PIL is not available.
func TestLibjpegMatchesPIL(t *testing.T) {
	if err := jpegLib(); err != nil {
		t.Skipf("libjpeg-turbo not in use: %v", err)
	}
	py := "/usr/bin/python3"
	src := "/usr/lib/python3/dist-packages/skimage/data/rocket.jpg"
	if _, err := os.Stat(src); err != nil {
		t.Skip("skimage's sample photographs are not installed (python3-skimage)")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "rgb.raw")
	script := "import sys, numpy as np\nfrom PIL import Image\nim = Image.open(sys.argv[1]).convert('RGB')\n" +
		"open(sys.argv[2], 'wb').write(np.asarray(im).tobytes())\nprint(im.size[0], im.size[1])\n"
	res, err := exec.Command(py, "-c", script, src, out).Output()
	if err != nil {
		t.Skipf("PIL is not usable with %s: %v", py, err)
	}
	want, _ := os.ReadFile(out)
	data, _ := os.ReadFile(src)
	img, err := DecodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res)); got != strconv.Itoa(img.W)+" "+strconv.Itoa(img.H) {
		t.Fatalf("PIL size %s, ours %dx%d", got, img.W, img.H)
	}
	if mean, maxd := diffStats(img.Pix, want); maxd != 0 {
		t.Fatalf("libjpeg through cgo differs from PIL: %.3f on average, %d at most", mean, maxd)
	}
	// Reduced DCT scale, as PIL's draft mode: half the size.
	half, err := decodeImage(data, 2)
	if err != nil {
		t.Fatal(err)
	}
	if half.W != (img.W+1)/2 || half.H != (img.H+1)/2 {
		t.Fatalf("1/2 scale: %dx%d, want %dx%d", half.W, half.H, (img.W+1)/2, (img.H+1)/2)
	}
}

// TestDecodeErrorsNameTheFile: a file that does not decode is an ErrBadImage *DataError with the
// path, whose hint gives the way out to a command's user (-skip-bad-images) and to a Go caller
// (the SkipBadImages option); a missing file an ErrDamaged one that is not ErrBadImage and offers
// no skipping (SkipBadImages does not skip it). A Hint of the error's own replaces the default.
func TestDecodeErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jpg")
	writeFile(t, bad, []byte("\xff\xd8\xff garbage"))
	_, err := decodeFile(bad, 3, false)
	var de *DataError
	if !errors.As(err, &de) || de.Path != bad || de.Index != 3 || !errors.Is(err, ErrBadImage) || !errors.Is(err, ErrDamaged) || errors.Is(err, ErrUsage) {
		t.Fatalf("corrupt file: %v (%#v)", err, de)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "bad image "+bad+": ") || !strings.Contains(msg, "(replace the file, or skip bad images") ||
		!strings.Contains(msg, "-skip-bad-images") || !strings.Contains(msg, "SkipBadImages option") {
		t.Fatalf("message %q should name the file and the way out, for a command (-skip-bad-images) and for Go (SkipBadImages)", msg)
	}
	// In a shard the file cannot be replaced by hand: the shards are written again without it.
	member := &DataError{Kind: ErrBadImage, Path: "train-000001.tar", Member: "k7.jpg", Index: 7, Err: errors.New("unexpected EOF")}
	if want := "bad image train-000001.tar:k7.jpg: unexpected EOF (write the shards again without it (mkshards -verify -skip-bad-images), or skip bad images"; !strings.HasPrefix(member.Error(), want) {
		t.Fatalf("shard member: %q, want it to start with %q", member.Error(), want)
	}
	de.Hint = "rerun with -skip-bad-images to leave it out"
	if msg := de.Error(); !strings.HasSuffix(msg, " (rerun with -skip-bad-images to leave it out)") || strings.Contains(msg, "SkipBadImages") {
		t.Fatalf("with a Hint of its own: %q, want that hint instead of the default", msg)
	}
	_, err = decodeFile(filepath.Join(dir, "gone.jpg"), 0, false)
	if !errors.Is(err, ErrDamaged) || errors.Is(err, ErrBadImage) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "gone.jpg") {
		t.Fatalf("missing file: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "check the file") || strings.Contains(strings.ToLower(msg), "skip") {
		t.Fatalf("missing file: %q, want the hint of damaged data, which SkipBadImages does not skip", msg)
	}
}

// TestYCbCrToRGBRowByRow: the row-by-row conversion equals color.YCbCrToRGB at every pixel's
// YOffset and COffset, for every subsampling ratio and for sub-images at odd origins.
func TestYCbCrToRGBRowByRow(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		full := image.NewYCbCr(image.Rect(0, 0, 23, 17), ratio)
		for i := range full.Y {
			full.Y[i] = uint8(i * 13)
		}
		for i := range full.Cb {
			full.Cb[i], full.Cr[i] = uint8(i*29), uint8(255-i*7)
		}
		for _, m := range []*image.YCbCr{full, full.SubImage(image.Rect(3, 5, 20, 16)).(*image.YCbCr)} {
			got := toRGB(m)
			b := m.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					r, g, bl := color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)])
					p := ((y-b.Min.Y)*b.Dx() + x - b.Min.X) * 3
					if got.Pix[p] != r || got.Pix[p+1] != g || got.Pix[p+2] != bl {
						t.Fatalf("ratio %v bounds %v: pixel (%d, %d) = %v, want %v", ratio, b, x, y, got.Pix[p:p+3], []uint8{r, g, bl})
					}
				}
			}
		}
	}
}

// TestAsImage: an image as a standard library image, written as PNG and decoded again
// (DecodeImage: grey to RGB), gives back its pixels, grey and RGB alike.
func TestAsImage(t *testing.T) {
	for _, c := range []int{1, 3} {
		m := Image{H: 3, W: 5, C: c, Pix: make([]uint8, 3*5*c)}
		for i := range m.Pix {
			m.Pix[i] = uint8(i * 17)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, m.AsImage()); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeImage(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if got.H != 3 || got.W != 5 || got.C != 3 {
			t.Fatalf("%d channels: decoded %d x %d x %d", c, got.W, got.H, got.C)
		}
		for i := range 3 * 5 {
			for k := range 3 {
				if want := m.Pix[i*c+min(k, c-1)]; got.Pix[3*i+k] != want {
					t.Fatalf("%d channels: pixel %d, channel %d is %d, want %d", c, i, k, got.Pix[3*i+k], want)
				}
			}
		}
	}
}

// TestCheckPixelsSidesOverflow: a header of two sides near 2³² (a TIFF's LONG width and length,
// as the fuzzer found) is refused, not passed by a product that overflows int64 to a negative
// count (which then sized an allocation: makeslice panicked); sides within the limit still pass.
func TestCheckPixelsSidesOverflow(t *testing.T) {
	if err := checkPixels(1<<32-1, 1<<32-1); err == nil || !strings.Contains(err.Error(), "image of 4294967295x4294967295 pixels (18446744065119617024), more than the") {
		t.Errorf("sides of 2³²-1: %v, want a refusal", err)
	}
	if err := checkPixels(13000, 13000); err != nil {
		t.Errorf("13000x13000: %v, want it within the limit", err)
	}
	// The fuzzer's input itself (testdata/fuzz/FuzzDecodeImage/628ae9858128b159): a refusal from
	// its header.
	data := []byte("II*\x00\b\x00\x00\x00\b\x00\x00\x01\x04\x00\x01\x00\x00\x00\x0f@\x00\xfa\x01\x01\x04\x00\x01\x00\x00\x00\xc4\xc4\xc4\xc4\xc4\xc4\xc4\x00\x01\x00\x00\x00\x01\x00\x00\x0f\x06\x01\x04\x00\x01\x00\x00\x00\x01\x00\x00\x00\x11\x01\x04\x00\x01\x00\x00\x00KKKKKKKK\x01\x00\x00\x00\v\x00\x00\x00\x17\x01\x03\x00\x01\x00\x00\x00\x16\x00\x00\x00\x1c\x00\x80\x00\x00\xff\xe6\x00\x01\x00\x00\x00")
	if _, err := DecodeImage(data); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("the fuzzer's TIFF: %v, want a refusal of its size", err)
	}
}
