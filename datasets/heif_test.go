package datasets

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// heifSource is a smooth w x h RGB image, which lossy coding keeps within a few levels.
func heifSource(w, h int) Image {
	img := Image{Pix: make([]uint8, w*h*3), H: h, W: w, C: 3}
	for y := range h {
		for x := range w {
			p := img.Pix[3*(y*w+x):]
			p[0], p[1], p[2] = uint8(4*x), uint8(5*y), uint8(x+y+40)
		}
	}
	return img
}

// transform maps each pixel of img to f(y, x) = (y', x') in an image of oh x ow pixels.
func transform(img Image, oh, ow int, f func(y, x int) (int, int)) Image {
	out := Image{Pix: make([]uint8, len(img.Pix)), H: oh, W: ow, C: img.C}
	for y := range img.H {
		for x := range img.W {
			ty, tx := f(y, x)
			copy(out.Pix[(ty*ow+tx)*img.C:][:img.C], img.Pix[(y*img.W+x)*img.C:][:img.C])
		}
	}
	return out
}

func needLibheif(t *testing.T) {
	t.Helper()
	if err := heifLib(); err != nil {
		t.Skipf("libheif is not loaded (%v): HEIC and AVIF images are refused (TestHEIFWithoutLibheif)", err)
	}
}

// HEIC and AVIF images, written by libheif's encoders from known pixels at quality 90, decode to
// those pixels within the loss of the coding (measured: 1.1 and 1.3 levels on average, 5 and 6 at
// most), gray as gray; files that carry a rotation (testdata/heif, from current writers: EXIF
// orientation 6 stored as an irot box) decode turned a quarter clockwise; ImageSize gives the
// size as decoded; a file cut short says so. The negative controls show that the tolerance
// catches swapped channels, a flip and the other rotation.
func TestHEIFAndAVIF(t *testing.T) {
	needLibheif(t)
	const w, h = 64, 48
	src := heifSource(w, h)
	swapped := Image{Pix: append([]uint8(nil), src.Pix...), H: h, W: w, C: 3}
	for i := 0; i < len(swapped.Pix); i += 3 {
		swapped.Pix[i], swapped.Pix[i+2] = swapped.Pix[i+2], swapped.Pix[i]
	}
	flipped := transform(src, h, w, func(y, x int) (int, int) { return h - 1 - y, x })
	clockwise := transform(src, w, h, func(y, x int) (int, int) { return x, h - 1 - y })
	counter := transform(src, w, h, func(y, x int) (int, int) { return w - 1 - x, y })
	for _, kind := range []string{"HEIC", "AVIF"} {
		t.Run(kind, func(t *testing.T) {
			data, err := encodeHEIF(src, kind == "AVIF", 90)
			if err != nil {
				t.Fatal(err)
			}
			if imageFormat(data) != "heif" || heifKind(data) != kind {
				t.Fatalf("recognised as %q, %q; want heif, %s", imageFormat(data), heifKind(data), kind)
			}
			if hh, ww, err := ImageSize(data); hh != h || ww != w || err != nil {
				t.Fatalf("ImageSize: %dx%d, %v; want %dx%d", ww, hh, err, w, h)
			}
			img, err := DecodeImage(data)
			if err != nil || img.H != h || img.W != w || img.C != 3 {
				t.Fatalf("decoded %dx%dx%d, %v; want %dx%dx3", img.W, img.H, img.C, err, w, h)
			}
			close := func(name string, got, want Image, wantClose bool) {
				t.Helper()
				mean, maxd := diffStats(got.Pix, want.Pix)
				if ok := mean <= 2.5 && maxd <= 12; ok != wantClose {
					t.Errorf("%s: differs by %.2f on average, %d at most (want close: %v)", name, mean, maxd, wantClose)
				}
			}
			close("the source", img, src, true)
			close("the source, red and blue swapped", img, swapped, false)
			close("the source, flipped", img, flipped, false)

			data, err = os.ReadFile(filepath.Join("testdata", "heif", "rotated-6."+strings.ToLower(kind)))
			if err != nil {
				t.Fatal(err)
			}
			if hh, ww, err := ImageSize(data); hh != w || ww != h || err != nil {
				t.Fatalf("rotated: ImageSize %dx%d, %v; want %dx%d", ww, hh, err, h, w)
			}
			img, err = DecodeImage(data)
			if err != nil || img.H != w || img.W != h {
				t.Fatalf("rotated: decoded %dx%d, %v; want %dx%d", img.W, img.H, err, h, w)
			}
			close("rotated a quarter clockwise", img, clockwise, true)
			close("rotated a quarter counterclockwise", img, counter, false)

			for _, n := range []int{len(data) / 2, len(data) - 10} {
				if _, err := DecodeImage(data[:n]); err == nil || !strings.Contains(err.Error(), kind+" file cut short") {
					t.Errorf("cut to %d of %d bytes: %v", n, len(data), err)
				}
			}
		})
	}
	gray := Image{Pix: make([]uint8, w*h), H: h, W: w, C: 1}
	for i := range gray.Pix {
		gray.Pix[i] = uint8(40 + 2*(i%w) + i/w)
	}
	data, err := encodeHEIF(gray, false, 90)
	if err != nil {
		t.Fatal(err)
	}
	img, err := DecodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	rgb := Image{Pix: make([]uint8, 3*len(gray.Pix)), H: h, W: w, C: 3}
	for i, v := range gray.Pix {
		rgb.Pix[3*i], rgb.Pix[3*i+1], rgb.Pix[3*i+2] = v, v, v
	}
	if mean, maxd := diffStats(img.Pix, rgb.Pix); mean > 2.5 || maxd > 12 {
		t.Errorf("gray: differs by %.2f on average, %d at most", mean, maxd)
	}
	if _, err := DecodeImage([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1")); err == nil || !strings.Contains(err.Error(), "HEIC") {
		t.Errorf("a HEIC file of its header alone: %v", err)
	}
}

// Photos from a phone: a folder of .heic, .HEIF and .avif files (and one HEIC named .jpg) lists
// them as images, and they keep their bytes, hence their pixels, through WriteShards and OpenShards.
func TestHEIFFolderAndShards(t *testing.T) {
	needLibheif(t)
	root := t.TempDir()
	want := map[string][]uint8{}
	for i, name := range []string{"a/IMG_0001.heic", "a/IMG_0002.HEIF", "b/photo.avif", "b/misnamed.jpg"} {
		src := heifSource(40+8*i, 32)
		data, err := encodeHEIF(src, strings.HasSuffix(name, ".avif"), 80)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, name), data)
		img, err := DecodeImage(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want[ShardKey(root, filepath.Join(root, name))] = img.Pix
	}
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Info().Len != 4 {
		t.Fatalf("the folder lists %d images, want 4", f.Info().Len)
	}
	out := t.TempDir()
	paths, err := WriteShards(f, out, ShardOptions{PerShard: 10})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, smp := range readShard(t, paths[0]) {
		img, err := DecodeImage(smp.data)
		if err != nil || string(img.Pix) != string(want[smp.key]) {
			t.Errorf("sample %s: %v, or pixels that differ from the file's", smp.key, err)
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d samples in the shard, want 4", n)
	}
}

// Without libheif, a HEIC or AVIF image is a bad image whose message says to install it.
func TestHEIFWithoutLibheif(t *testing.T) {
	forceGoDecoder(t, libheif)
	for _, head := range []string{"\x00\x00\x00\x18ftypheic", "\x00\x00\x00\x1cftypavif"} {
		data := []byte(head + "\x00\x00\x00\x00mif1miaf")
		_, _, serr := ImageSize(data)
		_, derr := DecodeImage(data)
		for _, err := range []error{serr, derr} {
			if err == nil || !strings.Contains(err.Error(), "apt install libheif1") || !strings.Contains(err.Error(), heifKind(data)) {
				t.Errorf("%q without libheif: %v", head, err)
			}
		}
	}
	if d := HEIFDecoder(); !strings.Contains(d, "none (HEIC and AVIF images are refused; libheif not used: forced off") {
		t.Errorf("HEIFDecoder: %q", d)
	}
}

// TestHEIFMatchesPillowHeif compares with the reference decoders when a Python with pillow-heif
// is at hand (VICREG_HEIF_PYTHON, else python3; skipped otherwise: pip install pillow-heif): a
// photograph written as HEIC decodes as pillow-heif decodes it (its own, newer libheif: within
// one level, rounding), and so does the rotated fixture; as AVIF, as Pillow's AVIF plugin
// (libavif, Pillow 11.2 and later) decodes it within the chroma upsampling that differs
// (measured with Pillow 13.0: 1.1 levels on average, 9 at most), while the same tolerance
// refuses the image flipped.
func TestHEIFMatchesPillowHeif(t *testing.T) {
	needLibheif(t)
	py := os.Getenv("VICREG_HEIF_PYTHON")
	if py == "" {
		py = "python3"
	}
	script := "import sys, numpy as np, pillow_heif\nfrom PIL import Image\npillow_heif.register_heif_opener()\n" +
		"im = Image.open(sys.argv[1]).convert('RGB')\nopen(sys.argv[2], 'wb').write(np.asarray(im).tobytes())\nprint(im.size[0], im.size[1])\n"
	if err := exec.Command(py, "-c", "import pillow_heif, numpy").Run(); err != nil {
		t.Skipf("%s has no pillow_heif (pip install pillow-heif; or set VICREG_HEIF_PYTHON): %v", py, err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "pil", "bench", "photo.webp"))
	if err != nil {
		t.Fatal(err)
	}
	photo, err := DecodeImage(raw)
	if err != nil {
		t.Fatal(err)
	}
	heic, err := encodeHEIF(photo, false, 80)
	if err != nil {
		t.Fatal(err)
	}
	avif, err := encodeHEIF(photo, true, 80)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := os.ReadFile(filepath.Join("testdata", "heif", "rotated-6.heic"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name      string
		data      []byte
		mean      float64
		maxd      int
		ext       string
		flipCheck bool
	}{
		{"photo as HEIC", heic, 0.1, 1, ".heic", false},
		{"rotated HEIC", rotated, 0.1, 1, ".heic", false},
		{"photo as AVIF", avif, 1.5, 12, ".avif", true},
	} {
		in, out := filepath.Join(dir, "in"+tc.ext), filepath.Join(dir, "out.raw")
		writeFile(t, in, tc.data)
		res, err := exec.Command(py, "-c", script, in, out).Output()
		if err != nil {
			t.Fatalf("%s: the reference failed: %v", tc.name, err)
		}
		want, _ := os.ReadFile(out)
		img, err := DecodeImage(tc.data)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := strings.TrimSpace(string(res)); got != fmt.Sprintf("%d %d", img.W, img.H) {
			t.Fatalf("%s: the reference's size %s, ours %dx%d", tc.name, got, img.W, img.H)
		}
		if mean, maxd := diffStats(img.Pix, want); mean > tc.mean || maxd > tc.maxd {
			t.Errorf("%s: differs from the reference by %.3f on average, %d at most; want at most %.1f, %d", tc.name, mean, maxd, tc.mean, tc.maxd)
		}
		if tc.flipCheck {
			flipped := transform(img, img.H, img.W, func(y, x int) (int, int) { return img.H - 1 - y, x })
			if mean, maxd := diffStats(flipped.Pix, want); mean <= tc.mean && maxd <= tc.maxd {
				t.Errorf("%s: the tolerance takes the image flipped (%.3f, %d)", tc.name, mean, maxd)
			}
		}
	}
}

// pixiDepth returns the bits per channel that a HEIF file's pixi box declares (0: none).
func pixiDepth(data []byte) int {
	i := strings.Index(string(data), "pixi")
	if i < 0 || i+10 > len(data) {
		return 0
	}
	return int(data[i+9]) // after the type: version and flags (4 bytes), channel count, then depths
}

// A photo's alpha is dropped, not composited (as PIL's convert("RGB")), and a 10-bit HEIC (an HDR
// phone photo) decodes to its 8 high bits, as pillow-heif converts it: the negative controls show
// that the tolerance tells the alpha composited onto black, and the low bytes, apart. (A 10-bit
// AVIF is not written: libaom 3.6 through libheif 1.15 aborts on one.)
func TestHEIFAlphaAndTenBits(t *testing.T) {
	needLibheif(t)
	const w, h = 64, 48
	src := heifSource(w, h)
	for _, kind := range []string{"HEIC", "AVIF"} {
		t.Run(kind, func(t *testing.T) {
			rgba := Image{Pix: make([]uint8, w*h*4), H: h, W: w, C: 4}
			composited := Image{Pix: make([]uint8, w*h*3), H: h, W: w, C: 3}
			for i := range w * h {
				alpha := uint8(255 - 3*(i%w))
				copy(rgba.Pix[4*i:], src.Pix[3*i:3*i+3])
				rgba.Pix[4*i+3] = alpha
				for c := range 3 {
					composited.Pix[3*i+c] = uint8(int(src.Pix[3*i+c]) * int(alpha) / 255)
				}
			}
			data, err := encodeHEIF(rgba, kind == "AVIF", 90)
			if err != nil {
				t.Fatal(err)
			}
			img, err := DecodeImage(data)
			if err != nil {
				t.Fatal(err)
			}
			if mean, maxd := diffStats(img.Pix, src.Pix); mean > 2.5 || maxd > 12 {
				t.Errorf("with alpha: differs from the colours by %.2f on average, %d at most", mean, maxd)
			}
			if mean, _ := diffStats(img.Pix, composited.Pix); mean <= 2.5 {
				t.Errorf("with alpha: as close to the colours composited onto black (%.2f)", mean)
			}

			if kind == "AVIF" {
				return
			}
			ten := make([]uint16, w*h*3)
			low := Image{Pix: make([]uint8, len(ten)), H: h, W: w, C: 3}
			for i, v := range src.Pix {
				ten[i] = uint16(v)<<2 | uint16(i%4)
				low.Pix[i] = uint8(ten[i])
			}
			data, err = encodeHEIF10(ten, w, h, kind == "AVIF", 90)
			if err != nil {
				t.Fatal(err)
			}
			if d := pixiDepth(data); d != 10 {
				t.Fatalf("the 10-bit file declares %d bits a channel", d)
			}
			img, err = DecodeImage(data)
			if err != nil {
				t.Fatal(err)
			}
			if mean, maxd := diffStats(img.Pix, src.Pix); mean > 2.5 || maxd > 12 {
				t.Errorf("10 bits: differs from the 8 high bits by %.2f on average, %d at most", mean, maxd)
			}
			if mean, _ := diffStats(img.Pix, low.Pix); mean <= 2.5 {
				t.Errorf("10 bits: as close to the low bytes (%.2f)", mean)
			}
		})
	}
}

// A HEIC or AVIF whose header declares many pixels (13000x13000 under MaxImagePixels) that its
// data does not hold allocates nothing for them: ImageSize refuses a file cut short, and the
// decoder allocates the pixels once libheif has decoded them.
func TestHEIFRefusedBeforeAllocating(t *testing.T) {
	needLibheif(t)
	data, err := encodeHEIF(heifSource(64, 48), true, 80)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "ispe")
	if i < 0 {
		t.Fatal("no ispe box")
	}
	big := append([]byte(nil), data...)
	binary.BigEndian.PutUint32(big[i+8:], 13000) // after the type, version and flags: width, height
	binary.BigEndian.PutUint32(big[i+12:], 13000)
	if h, w, err := ImageSize(big); err != nil || h != 13000 || w != 13000 {
		t.Fatalf("the patched file: ImageSize %dx%d, %v; want 13000x13000", w, h, err)
	}
	for name, d := range map[string][]byte{"declaring 13000x13000": big, "cut short": data[:len(data)-50]} {
		n, err := decodeAllocating(d)
		if err == nil {
			t.Errorf("%s: decoded", name)
		}
		if n > 1<<20 {
			t.Errorf("%s: %d bytes allocated; want none for its pixels", name, n)
		}
	}
}
