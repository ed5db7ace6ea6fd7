package datasets

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// formatsFixture is testdata/pil/formats.json: for each file of testdata/pil/formats (written by
// gen.py with PIL 9.4 from one 11x15 noisy image), PIL's mode and its Image.open(f).convert("RGB")
// pixels, and the source pixels.
type formatsFixture struct {
	H, W  int
	Files map[string]struct {
		Mode  string
		Pix   []byte
		Error string
	}
}

// notDecoded are the files PIL reads and this package refuses, each with what its message says.
var notDecoded = map[string]string{
	// x/image/bmp refuses since v0.31.0 what PIL reads as gray (its palettes start as a gray ramp).
	"palette-short.bmp": "bmp: invalid palette index: a pixel indexes past the end of the palette (PIL reads it as gray); convert the file to PNG",
}

// TestDecodeFormats decodes, with the C libraries (libwebp, libpng, libtiff) and with Go's
// decoders, the formats of torchvision's ImageFolder besides JPEG (PNG of every color type and bit
// depth, interlaced, with tRNS, 16-bit, a palette shorter than its indices; WebP lossless and
// lossy, with and without alpha, and animated (with libwebpdemux only); TIFF uncompressed, LZW
// with and without predictor, Deflate, PackBits, tiled, big-endian, grayscale, WhiteIsZero,
// 16-bit, palette, RGBA, premultiplied, bilevel, and with libtiff only: JPEG in RGB, gray and
// subsampled YCbCr, CMYK, gray and alpha, gray and palette of 2 and 4 bits, a plane per channel;
// BMP 24- and 32-bit, palette, grayscale, bilevel; PPM and PGM, raw and plain, of other maxvals)
// and compares each with PIL's pixels, exactly. Two rules differ from PIL 9.4 on purpose: 16-bit
// gray samples (PNG, TIFF, and PGM of maxval above 255) become their 8-bit value, where PIL clips
// them to 255 (PIL scales other maxvals to 0..255, plain or raw, as here); a TIFF of 16-bit
// samples in a plane per channel keeps their high bytes, where PIL reads each plane as 8-bit
// samples (the first half of the plane, each byte a pixel).
func TestDecodeFormats(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "pil", "formats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f formatsFixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	gray := f.Files["gray.pgm"].Pix // PIL's 8-bit grayscale of the source, as RGB
	if len(gray) != f.H*f.W*3 {
		t.Fatalf("fixture: gray.pgm has %d bytes", len(gray))
	}
	t.Logf("WebP decoder: %s; PNG decoder: %s; TIFF decoder: %s", WebPDecoder(), PNGDecoder(), TIFFDecoder())
	librariesThenGo(t, func(t *testing.T, goOnly bool) { checkFormats(t, f, gray, goOnly) })
}

// librariesThenGo runs f as a subtest with the C libraries (libwebp, libpng, libtiff; skipped
// when none is loaded), then with Go's decoders alone (goOnly).
func librariesThenGo(t *testing.T, f func(t *testing.T, goOnly bool)) {
	for _, decoder := range []string{"libraries", "go"} {
		t.Run(decoder, func(t *testing.T) {
			if decoder == "go" {
				forceGoDecoder(t, libwebp)
				forceGoDecoder(t, libpng)
				forceGoDecoder(t, libtiff)
			} else if webpLib() != nil && pngLib() != nil && tiffLib() != nil {
				t.Skipf("none of libwebp (%v), libpng (%v) and libtiff (%v) is loaded: only Go's decoders are tested", webpLib(), pngLib(), tiffLib())
			}
			f(t, decoder == "go")
		})
	}
}

// goRefuses are the files PIL and the C libraries read and Go's decoders refuse, each with what
// the message says: Go's TIFF decoder read FillOrder 2 bit-reversed (255 levels off on bilevel),
// and reads neither CMYK, JPEG-compressed, gray and alpha (which PIL writes for an LA image),
// samples of 2 or 4 bits, nor planar TIFF (it called the last "not enough pixel data"); Go's WebP
// decoder called an animated WebP (PIL reads its first frame) "invalid format".
var goRefuses = map[string]string{
	"anim.webp":             "an animated WebP, whose first frame (which PIL reads) is decoded with libwebp and libwebpdemux only",
	"anim-alpha.webp":       "an animated WebP, whose first frame (which PIL reads) is decoded with libwebp and libwebpdemux only",
	"bilevel-lsb.tif":       "(FillOrder 2), which Go's TIFF decoder reads reversed",
	"gray-lsb.tif":          "(FillOrder 2), which Go's TIFF decoder reads reversed",
	"cmyk.tif":              libtiffReadsMore,
	"cmyk16.tif":            libtiffReadsMore,
	"cmykx.tif":             libtiffReadsMore,
	"jpeg.tif":              libtiffReadsMore,
	"jpeg-gray.tif":         libtiffReadsMore,
	"jpeg-ycbcr.tif":        libtiffReadsMore,
	"jpeg-ycbcr-tiled.tif":  libtiffReadsMore,
	"gray-alpha.tif":        libtiffReadsMore,
	"gray2.tif":             "BitsPerSample of 2: " + libtiffReadsMore,
	"gray4.tif":             "BitsPerSample of 4: " + libtiffReadsMore,
	"gray4-whiteiszero.tif": "BitsPerSample of 4: " + libtiffReadsMore,
	"palette4.tif":          "BitsPerSample of 4: " + libtiffReadsMore,
	"planar.tif":            "a plane per channel (PlanarConfiguration 2): " + libtiffReadsMore,
	"planar-rgba.tif":       "a plane per channel (PlanarConfiguration 2): " + libtiffReadsMore,
	"planar-cmyk.tif":       libtiffReadsMore,
	"planar-lzw-tiled.tif":  "a plane per channel (PlanarConfiguration 2): " + libtiffReadsMore,
	"planar16.tif":          "a plane per channel (PlanarConfiguration 2): " + libtiffReadsMore,
}

// libReads reports whether the C library that reads the files of goRefuses of name's format (libtiff,
// or libwebp with libwebpdemux) is used.
func libReads(name string) bool {
	if strings.HasSuffix(name, ".webp") {
		return webpAnimLib() == nil
	}
	return tiffLib() == nil
}

// libtiffReadsMore is what Go's decoder says of a TIFF that libtiff reads.
const libtiffReadsMore = "a TIFF variant that is not decoded here; install libtiff (Debian's libtiff6), which reads more of them"

// eachDecoder runs f as a subtest with d's library (skipped when it is not loaded), then with
// Go's decoder.
func eachDecoder(t *testing.T, d *nativeDecoder, f func(t *testing.T)) {
	for _, decoder := range []string{d.lib, "go"} {
		t.Run(decoder, func(t *testing.T) {
			if decoder == "go" {
				forceGoDecoder(t, d)
			} else if err := d.unavailable(); err != nil {
				t.Skipf("%s is not loaded (%v): only Go's decoder is tested", d.lib, err)
			}
			f(t)
		})
	}
}

// forceGoDecoder makes Go's decoder the one used instead of d's library until the test ends.
func forceGoDecoder(t testing.TB, d *nativeDecoder) {
	d.unavailable() // loaded, or not, once
	saved := d.err
	d.err = errors.New("forced off by " + t.Name())
	t.Cleanup(func() { d.err = saved })
}

// checkFormats decodes each file of the fixture and compares it with PIL's pixels; with goOnly,
// the files of goRefuses are refused instead.
func checkFormats(t *testing.T, f formatsFixture, gray []uint8, goOnly bool) {
	seen := map[string]bool{}
	for name, want := range f.Files {
		if name == "source" {
			continue
		}
		seen[filepath.Ext(name)] = true
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", name))
			if err != nil {
				t.Fatal(err)
			}
			if !isImageFile(name) {
				t.Errorf("%s: not taken as an image file", name)
			}
			img, err := DecodeImage(raw)
			msg, ok := notDecoded[name]
			if goMsg, refused := goRefuses[name]; refused && (goOnly || !libReads(name)) {
				msg, ok = goMsg, true
			}
			if ok {
				if err == nil || !strings.Contains(err.Error(), msg) {
					t.Errorf("%s (PIL mode %s): %v; want an error saying %q", name, want.Mode, err, msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s (PIL mode %s): %v", name, want.Mode, err)
			}
			if img.H != f.H || img.W != f.W || img.C != 3 || len(img.Pix) != f.H*f.W*3 {
				t.Fatalf("decoded %dx%dx%d, want %dx%dx3", img.W, img.H, img.C, f.W, f.H)
			}
			ref := want.Pix
			switch name {
			case "gray16.tif", "gray16-be.tif", "gray16.pgm", "gray16-interlaced.png": // 257 times the 8-bit gray
				ref = gray
			case "planar16.tif": // PIL 9.4 reads each 16-bit plane as 8-bit samples; the high bytes are the source
				ref = f.Files["source"].Pix
			}
			if mean, maxd := diffStats(img.Pix, ref); maxd != 0 {
				t.Errorf("%s (PIL mode %s): differs from PIL's RGB by %.3f on average, %d at most; want equal", name, want.Mode, mean, maxd)
			}
			if h, w, err := ImageSize(raw); err != nil || w != f.W || h != f.H {
				t.Errorf("ImageSize: %dx%d, %v; want %dx%d", w, h, err, f.W, f.H)
			}
		})
	}
	for _, ext := range imageExtensions {
		// PIL 9.4 reads neither HEIC nor AVIF: TestHEIFAndAVIF writes its own with libheif.
		if ext != ".jpg" && ext != ".jpeg" && ext != ".heic" && ext != ".heif" && ext != ".avif" && !seen[ext] {
			t.Errorf("no file of %s in the fixture", ext)
		}
	}
}

// TestEveryFormatThroughFolderAndShards: an image folder of every format read (a class per
// extension, files named in upper and lower case) lists every image, decodes each as DecodeImage
// does, and survives WriteShards and OpenShards: each sample keeps its extension and its pixels.
func TestEveryFormatThroughFolderAndShards(t *testing.T) {
	fixtures, err := os.ReadDir(filepath.Join("testdata", "pil", "formats"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	want := map[string][]uint8{} // by ShardKey
	n := 0
	for i, e := range fixtures {
		if _, ok := notDecoded[e.Name()]; ok {
			continue
		}
		if _, ok := goRefuses[e.Name()]; ok && !libReads(e.Name()) {
			continue // read with a C library only
		}
		raw, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		img, err := DecodeImage(raw)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		name := e.Name()
		if i%2 == 1 {
			name = strings.ToUpper(name)
		}
		class := strings.ToLower(strings.TrimPrefix(filepath.Ext(name), "."))
		writeFile(t, filepath.Join(root, class, name), raw)
		want[class+"/"+strings.TrimSuffix(name, filepath.Ext(name))] = img.Pix
		n++
	}
	f, s, _ := shardsOf(t, root, 4)
	if f.Info().Len != n || f.Ignored() != 0 || s.Len() != n {
		t.Fatalf("folder lists %d images (%d ignored), shards hold %d; want %d", f.Info().Len, f.Ignored(), s.Len(), n)
	}
	for i := range f.Info().Len {
		img, err := f.Decode(i)
		key := ShardKey(f.Dir(), f.Path(i))
		if err != nil || !bytes.Equal(img.Pix, want[key]) {
			t.Errorf("folder image %s: %v, or other pixels than DecodeImage's", f.Path(i), err)
		}
		if class := f.Info().ClassNames[f.Label(i)]; !strings.EqualFold(filepath.Ext(f.Path(i)), "."+class) {
			t.Errorf("%s: class %s", f.Path(i), class)
		}
	}
	// Training batches (two views, reduced decoding allowed) and evaluation batches over the
	// folder and over the shards: every image of every format goes through without an error.
	for _, d := range []Data{f, s} {
		aug, err := Preset("vicreg", d)
		if err != nil {
			t.Fatal(err)
		}
		l, err := NewLoader(d, LoaderConfig{BatchSize: 5, Seed: 1, Workers: 2, Augmentation: aug.WithSize(8), ReducedDecode: true, KeepLastBatch: true}, Position{})
		if err != nil {
			t.Fatal(err)
		}
		for range l.BatchesPerEpoch() {
			if _, err := l.Next(); err != nil {
				t.Fatalf("%s: training batch: %v", d.Info().Name, err)
			}
		}
		l.Close()
		e, err := NewEvalIterator(d, EvalConfig{BatchSize: 7, Size: 8, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, ok := e.Next(); ok; _, ok = e.Next() {
		}
		if err := e.Err(); err != nil {
			t.Fatalf("%s: evaluation batch: %v", d.Info().Name, err)
		}
		e.Close()
	}
	seen := 0
	for _, p := range s.Paths() {
		for _, smp := range readShard(t, p) {
			img, err := DecodeImage(smp.data)
			if err != nil || !bytes.Equal(img.Pix, want[smp.key]) || !strings.HasPrefix(smp.key, strings.TrimPrefix(filepath.Ext(smp.member), ".")+"/") {
				t.Errorf("shard sample %s (member %s): %v, or other pixels", smp.key, smp.member, err)
			}
			seen++
		}
	}
	if seen != n {
		t.Errorf("%d samples read from the shards, want %d", seen, n)
	}
}

// TestWebPFrameOtherThanItsCanvasRefused: an extended (VP8X) WebP whose image is of another size
// than the canvas its VP8X chunk declares is a bad image, as in libwebp (PIL: "could not create
// decoder object"), from its header: the canvas is what ImageSize read and checked against
// MaxImagePixels, and a 15x11 canvas holding a 16383x16383 frame (268 million pixels, over the
// limit) was allocated by Go's decoder.
func TestWebPFrameOtherThanItsCanvasRefused(t *testing.T) {
	simple, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", "lossy.webp"))
	if err != nil {
		t.Fatal(err)
	}
	if string(simple[12:16]) != "VP8 " {
		t.Fatalf("lossy.webp: chunk %q, want VP8", simple[12:16])
	}
	frame := simple[20 : 20+int(binary.LittleEndian.Uint32(simple[16:]))]
	extended := func(cw, ch, fw, fh int) []byte {
		f := bytes.Clone(frame)
		binary.LittleEndian.PutUint16(f[6:], uint16(fw))
		binary.LittleEndian.PutUint16(f[8:], uint16(fh))
		body := []byte("WEBPVP8X")
		body = binary.LittleEndian.AppendUint32(body, 10)
		body = append(body, 0, 0, 0, 0, byte(cw-1), byte((cw-1)>>8), byte((cw-1)>>16), byte(ch-1), byte((ch-1)>>8), byte((ch-1)>>16))
		body = append(body, "VP8 "...)
		body = binary.LittleEndian.AppendUint32(body, uint32(len(f)))
		body = append(body, f...)
		if len(f)%2 == 1 {
			body = append(body, 0)
		}
		return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
	}
	if img, err := DecodeImage(extended(15, 11, 15, 11)); err != nil || img.W != 15 || img.H != 11 {
		t.Fatalf("same canvas and frame: %dx%d, %v", img.W, img.H, err)
	}
	for _, c := range [][4]int{{15, 11, 16383, 16383}, {16, 11, 15, 11}, {15, 11, 14, 11}} {
		data := extended(c[0], c[1], c[2], c[3])
		if _, _, err := ImageSize(data); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%dx%d", c[2], c[3])) {
			t.Errorf("canvas %dx%d, frame %dx%d: ImageSize %v; want an error naming the frame's size", c[0], c[1], c[2], c[3], err)
		}
		if _, err := DecodeImage(data); err == nil {
			t.Errorf("canvas %dx%d, frame %dx%d: decoded", c[0], c[1], c[2], c[3])
		}
	}
}

// allocating returns what f returns and the bytes the heap allocated while it ran.
func allocating[T any](f func() T) (T, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v := f()
	runtime.ReadMemStats(&after)
	return v, after.TotalAlloc - before.TotalAlloc
}

// decodeAllocating decodes data and returns the bytes allocated meanwhile and the error.
func decodeAllocating(data []byte) (uint64, error) {
	err, n := allocating(func() error { _, err := DecodeImage(data); return err })
	return n, err
}

// TestPlainPNMTooShortRefusedBeforeAllocating: a plain PGM/PPM/PBM declaring many pixels (under
// MaxImagePixels) in a file too short to hold one digit per sample is refused before its pixels
// are allocated; a 30-byte file had 500 MB allocated.
func TestPlainPNMTooShortRefusedBeforeAllocating(t *testing.T) {
	for _, data := range []string{"P2 13000 13000 255 0 1 2\n", "P3 7000 7000 255 1 2 3\n", "P1 13000 13000 0101\n"} {
		n, err := decodeAllocating([]byte(data))
		if err == nil || !strings.Contains(err.Error(), "cut short") {
			t.Errorf("%q: %v; want an error saying the file is cut short", data, err)
		}
		if n > 1<<20 {
			t.Errorf("%q: %d bytes allocated; want the file refused first", data, n)
		}
	}
}

// TestBigTIFF: a BigTIFF (64-bit offsets, "II+\x00" or "MM\x00+"), which PIL reads and Go's
// decoder does not, is read with libtiff: testdata/bigtiff holds classic fixtures copied with
// 64-bit offsets by tiffcp (strips and tiles, LZW, 16-bit gray, palette, CMYK, RGBA, big-endian),
// which give the classic files' pixels (PIL's: TestDecodeFormats), and PIL's own pixels of the
// BigTIFF when /usr/bin/python3 has PIL. A file cut inside its pixels (tiffcp writes the
// directory after them), or of its header alone, is a bad image naming BigTIFF; without libtiff
// the message says to install it. (It was "not an image file",
// then refused with "convert the file".)
func TestBigTIFF(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bigtiff", "*.tif"))
	if err != nil || len(files) != 7 {
		t.Fatalf("%d BigTIFF fixtures (%v), want 7", len(files), err)
	}
	header := []byte("II+\x00\x08\x00\x00\x00" + strings.Repeat("\x00", 64))
	t.Run("libtiff", func(t *testing.T) {
		if err := tiffLib(); err != nil {
			t.Skipf("libtiff is not loaded (%v)", err)
		}
		for _, p := range files {
			big, _ := os.ReadFile(p)
			classic, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", strings.Replace(filepath.Base(p), "-be.tif", ".tif", 1)))
			if err != nil {
				t.Fatal(err)
			}
			if !isBigTIFF(big) || isBigTIFF(classic) {
				t.Fatalf("%s: not a BigTIFF, or its source is one", p)
			}
			want, err := DecodeImage(classic)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeImage(big)
			if err != nil || got.H != want.H || got.W != want.W || string(got.Pix) != string(want.Pix) {
				t.Errorf("%s: %v, or pixels that differ from the classic file's", p, err)
			}
			if h, w, err := ImageSize(big); err != nil || h != want.H || w != want.W {
				t.Errorf("%s: ImageSize %dx%d, %v; want %dx%d", p, w, h, err, want.W, want.H)
			}
			// (16-bit gray keeps its high byte here, where PIL clips it: not compared.)
			script := "import sys; from PIL import Image; sys.stdout.buffer.write(Image.open(sys.argv[1]).convert('RGB').tobytes())"
			if pil, err := exec.Command("/usr/bin/python3", "-c", script, p).Output(); err == nil && string(pil) != string(got.Pix) && !strings.Contains(p, "gray16") {
				t.Errorf("%s: differs from PIL's pixels of the BigTIFF", p)
			}
			if _, err := DecodeImage(big[:100]); err == nil || !strings.Contains(err.Error(), "BigTIFF") { // inside its pixels
				t.Errorf("%s cut short: %v; want an error naming BigTIFF", p, err)
			}
		}
		if _, _, err := ImageSize(header); err == nil || !strings.Contains(err.Error(), "BigTIFF image (64-bit offsets) that libtiff does not read") {
			t.Errorf("a BigTIFF header alone: %v", err)
		}
	})
	forceGoDecoder(t, libtiff)
	for _, err := range []error{func() error { _, _, err := ImageSize(header); return err }(), func() error { _, err := DecodeImage(header); return err }()} {
		if err == nil || !strings.Contains(err.Error(), "BigTIFF") || !strings.Contains(err.Error(), "install it (Debian's libtiff6)") {
			t.Errorf("without libtiff: %v; want an error naming BigTIFF and libtiff", err)
		}
	}
}

// craftBigTIFF writes a little-endian BigTIFF of one gray strip of width x height pixels, of
// compression (1: none, 5: LZW), which its directory says takes count bytes after it; have bytes
// (zeros) follow the directory.
func craftBigTIFF(width, height, compression, count, have uint64) []byte {
	const offset = 16 + 8 + 9*20 + 8 // the header, the entry count, 9 entries, the next offset
	le := binary.LittleEndian
	out := le.AppendUint64([]byte("II+\x00\x08\x00\x00\x00"), 16) // the directory at byte 16
	entries := []struct {
		tag, typ uint16
		value    uint64
	}{{256, 16, width}, {257, 16, height}, {258, 3, 8}, {259, 3, compression}, {262, 3, 1}, {273, 16, offset}, {277, 3, 1},
		{278, 16, height}, {279, 16, count}}
	out = le.AppendUint64(out, uint64(len(entries)))
	for _, e := range entries {
		out = le.AppendUint16(out, e.tag)
		out = le.AppendUint16(out, e.typ)
		out = le.AppendUint64(out, 1)
		out = le.AppendUint64(out, e.value)
	}
	out = le.AppendUint64(out, 0) // no next directory
	return append(out, make([]byte, have)...)
}

// TestBigTIFFCutShortRefusedBeforeAllocating: a BigTIFF of a few hundred bytes whose directory
// declares 13000x13000 pixels, in a strip that ends past the file (libtiff splits an uncompressed
// one into strips of a row, the first of which ends past it) or in an LZW strip too small for them
// (LZW expands at most 4096 times), is refused before its pixels (507 MB in RGB) are allocated; a
// 12x10 one is read.
func TestBigTIFFCutShortRefusedBeforeAllocating(t *testing.T) {
	if err := tiffLib(); err != nil {
		t.Skipf("libtiff is not loaded (%v): BigTIFF is refused whole", err)
	}
	small := craftBigTIFF(12, 10, 1, 120, 120)
	if img, err := DecodeImage(small); err != nil || img.W != 12 || img.H != 10 {
		t.Fatalf("a 12x10 BigTIFF: %dx%d, %v", img.W, img.H, err)
	}
	for _, c := range []struct {
		compression, count uint64
		want               string
	}{
		{1, 13000 * 13000, "BigTIFF file cut short: its strip 0 ends at byte 13212, past the file's 276"},
		{5, 64, "its strips hold 64 bytes, fewer than the 41259 that 13000x13000 pixels take at the least"},
	} {
		data := craftBigTIFF(13000, 13000, c.compression, c.count, 64)
		n, err := decodeAllocating(data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("compression %d, strip of %d bytes: %v; want an error saying %q", c.compression, c.count, err, c.want)
		}
		if n > 1<<20 {
			t.Errorf("compression %d, strip of %d bytes: %d bytes allocated; want the file refused first", c.compression, c.count, n)
		}
	}
}

// TestWebPCutShortRefusedBeforeAllocating: a WebP file without the whole of its image chunk (a
// 30-byte VP8X header of a 13000x13000 canvas and nothing after it; a lossy file of that size cut
// after its frame header; the header with the animation flag and no frame) is refused, with each
// decoder, before its pixels are allocated: libwebp reads the size from the header alone, and
// 483 MB (the VP8X file) and 728 MB (the cut file, with Go's decoder after libwebp) were
// allocated; Go's decoder alone allocated 244 MB for the second.
func TestWebPCutShortRefusedBeforeAllocating(t *testing.T) {
	const side = 13000 // 169 million pixels, under MaxImagePixels
	m := side - 1      // the VP8X chunk holds the canvas size less 1, in 24 bits
	body := binary.LittleEndian.AppendUint32([]byte("WEBPVP8X"), 10)
	body = append(body, 0, 0, 0, 0, byte(m), byte(m>>8), 0, byte(m), byte(m>>8), 0)
	vp8x := append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
	lossy, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", "lossy.webp"))
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.Clone(lossy[:40])
	binary.LittleEndian.PutUint16(cut[26:], side)
	binary.LittleEndian.PutUint16(cut[28:], side)
	animated := bytes.Clone(vp8x)
	animated[20] |= 2 // the animation flag, without a frame
	eachDecoder(t, libwebp, func(t *testing.T) {
		files := map[string][]byte{"vp8x-alone": vp8x, "cut": cut}
		if webpAnimLib() == nil { // (otherwise refused as an animation, unread)
			files["animated"] = animated
		}
		for name, data := range files {
			n, err := decodeAllocating(data)
			if err == nil || !strings.Contains(err.Error(), "cut short") {
				t.Errorf("%s: %v; want an error saying the file is cut short", name, err)
			}
			if n > 1<<20 {
				t.Errorf("%s (%d bytes): %d MB allocated; want the file refused first", name, len(data), n>>20)
			}
		}
	})
}

// TestBMPCutShortRefusedBeforeAllocating: a BMP declaring 13000x13000 pixels (under
// MaxImagePixels) in an 80-byte file is refused as cut short before its pixels are allocated, as a
// raw PPM is; Go's decoder allocated 644 MB and then said "unexpected EOF".
func TestBMPCutShortRefusedBeforeAllocating(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", "rgb.bmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []int32{13000, -13000} { // bottom-up and top-down
		data := bytes.Clone(raw[:80])
		binary.LittleEndian.PutUint32(data[18:], 13000)
		binary.LittleEndian.PutUint32(data[22:], uint32(h))
		n, err := decodeAllocating(data)
		if err == nil || !strings.Contains(err.Error(), "cut short") {
			t.Errorf("height %d: %v; want an error saying the file is cut short", h, err)
		}
		if n > 1<<20 {
			t.Errorf("height %d: %d MB allocated; want the file refused first", h, n>>20)
		}
	}
}

// TestTIFFVariantHint: with Go's decoder asked for (VICREG_TIFF=go), a TIFF that only libtiff
// reads is refused saying to unset it, not to install libtiff.
func TestTIFFVariantHint(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", "planar.tif"))
	if err != nil {
		t.Fatal(err)
	}
	forceGoDecoder(t, libtiff)
	t.Setenv("VICREG_TIFF", "go")
	if _, err := DecodeImage(raw); err == nil || !strings.Contains(err.Error(), "unset VICREG_TIFF=go to use libtiff") {
		t.Errorf("planar.tif with VICREG_TIFF=go: %v; want an error saying to unset it", err)
	}
}

// TestCutShortSaysSo: a file cut at two thirds of its length is refused, with the C libraries and
// with Go's decoders, saying that it is cut short (Go's TIFF, PNG and BMP decoders said "EOF",
// "unexpected EOF" or "not enough pixel data"); a TIFF that only libtiff reads, with libtiff's
// words: where its JPEG tables or its pixels were cut off.
func TestCutShortSaysSo(t *testing.T) {
	cases := map[string]string{
		"rgb.png":              "PNG file cut short",
		"rgb16.png":            "PNG file cut short",
		"rgb.tif":              "TIFF file cut short",
		"lzw.tif":              "TIFF file cut short",
		"tiled.tif":            "TIFF file cut short",
		"palette.bmp":          "BMP file cut short",
		"rgb.bmp":              "BMP file cut short",
		"lossy.webp":           "WebP file cut short",
		"anim-alpha.webp":      "WebP file cut short",
		"rgb.ppm":              "PNM file cut short",
		"jpeg-ycbcr.tif":       `libtiff failed on strip 0 of 1: IO error during reading of "JPEGTables"`,
		"jpeg-ycbcr-tiled.tif": `libtiff failed on tile 0 of 1: IO error during reading of "JPEGTables"`,
		"cmyk.tif":             "TIFF file cut short or damaged: it holds 534 bytes, fewer than the 660 that 15x11 pixels take",
		"planar-lzw-tiled.tif": "TIFF file cut short",
	}
	librariesThenGo(t, func(t *testing.T, _ bool) {
		for name, want := range cases {
			if _, libOnly := goRefuses[name]; libOnly && !libReads(name) {
				continue
			}
			raw, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", name))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeImage(raw[:len(raw)*2/3]); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s cut at two thirds: %v; want an error saying %q", name, err, want)
			}
		}
	})
}

// tiffByteOrder is binary.LittleEndian or binary.BigEndian.
type tiffByteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// tiledTIFF writes an uncompressed tiled TIFF of w x h pixels in tiles of tw x th, byte order
// order, from samples (h x w x spp values of bps bits: 1, 8 or 16): the tiles past the image's
// right and bottom edges are padded with 0xa5 bytes, which must not be read as pixels. extra is
// the ExtraSamples value (none when 0 samples of it), cmap the ColorMap (3 x 2^bps values) or nil,
// predictor the Predictor tag's value (none when 0; the samples are written as they are).
func tiledTIFF(order tiffByteOrder, w, h, tw, th, bps, spp, photometric int, extra []uint16, cmap []uint16, predictor int, samples []uint16) []byte {
	rowBytes := (tw*spp*bps + 7) / 8
	var body []byte
	var offsets, counts []uint32
	for ty := 0; ty < h; ty += th {
		for tx := 0; tx < w; tx += tw {
			tile := bytes.Repeat([]byte{0xa5}, rowBytes*th)
			for y := 0; y < th && ty+y < h; y++ {
				row := tile[y*rowBytes : (y+1)*rowBytes]
				if bps == 1 {
					clear(row)
				}
				for x := 0; x < tw && tx+x < w; x++ {
					for c := range spp {
						v := samples[((ty+y)*w+tx+x)*spp+c]
						switch i := x*spp + c; bps {
						case 1:
							row[i/8] |= byte(v) << (7 - i%8)
						case 8:
							row[i] = byte(v)
						case 16:
							order.PutUint16(row[2*i:], v)
						}
					}
				}
			}
			offsets = append(offsets, uint32(8+len(body)))
			counts = append(counts, uint32(len(tile)))
			body = append(body, tile...)
		}
	}
	type entry struct {
		tag, typ uint16
		vals     []uint32
	}
	shorts := func(v ...uint16) []uint32 {
		out := make([]uint32, len(v))
		for i := range v {
			out[i] = uint32(v[i])
		}
		return out
	}
	bpsVals := make([]uint16, spp)
	for i := range bpsVals {
		bpsVals[i] = uint16(bps)
	}
	entries := []entry{{256, 4, []uint32{uint32(w)}}, {257, 4, []uint32{uint32(h)}}, {258, 3, shorts(bpsVals...)},
		{259, 3, shorts(1)}, {262, 3, shorts(uint16(photometric))}, {277, 3, shorts(uint16(spp))}, {284, 3, shorts(1)}}
	if predictor != 0 {
		entries = append(entries, entry{317, 3, shorts(uint16(predictor))})
	}
	if cmap != nil {
		entries = append(entries, entry{320, 3, shorts(cmap...)})
	}
	entries = append(entries, entry{322, 4, []uint32{uint32(tw)}}, entry{323, 4, []uint32{uint32(th)}},
		entry{324, 4, offsets}, entry{325, 4, counts})
	if len(extra) > 0 {
		entries = append(entries, entry{338, 3, shorts(extra...)})
	}
	ifdAt := 8 + len(body)
	valuesAt := ifdAt + 2 + 12*len(entries) + 4
	var ifd, values []byte
	ifd = order.AppendUint16(ifd, uint16(len(entries)))
	for _, e := range entries {
		var data []byte
		for _, v := range e.vals {
			if e.typ == 3 {
				data = order.AppendUint16(data, uint16(v))
			} else {
				data = order.AppendUint32(data, v)
			}
		}
		ifd = order.AppendUint16(ifd, e.tag)
		ifd = order.AppendUint16(ifd, e.typ)
		ifd = order.AppendUint32(ifd, uint32(len(e.vals)))
		if len(data) <= 4 {
			ifd = append(ifd, append(data, make([]byte, 4-len(data))...)...)
		} else {
			ifd = order.AppendUint32(ifd, uint32(valuesAt+len(values)))
			values = append(values, data...)
		}
	}
	ifd = append(ifd, 0, 0, 0, 0)
	head := []byte("II*\x00")
	if order == binary.BigEndian {
		head = []byte("MM\x00*")
	}
	out := order.AppendUint32(head, uint32(ifdAt))
	out = append(append(append(out, body...), ifd...), values...)
	return out
}

// TestTiledTIFFEdgeTiles: a tiled TIFF whose width is not a multiple of its tile width (20 pixels
// in tiles of 16: the right tiles hold 4 pixels and 12 of padding a row) decodes to its pixels
// with libtiff and with Go's decoder, in every layout both read: gray of 1, 8 and 16 bits, palette,
// RGB of 8 and 16 bits, 16-bit RGBA (associated and not). Go's decoder (x/image/tiff) did not skip
// the padding at the end of the rows of an edge tile for gray of 1 and 8 bits, palette, and 16-bit
// RGB and RGBA: the pixels after the first row of each edge tile were read from the padding.
func TestTiledTIFFEdgeTiles(t *testing.T) {
	const w, h, tw, th = 20, 19, 16, 16
	cmap := make([]uint16, 3*256)
	for i := range 256 {
		cmap[i], cmap[256+i], cmap[512+i] = uint16(i*257), uint16((255-i)*256+7), uint16((i*37%256)*256+255)
	}
	type layout struct {
		name                  string
		order                 tiffByteOrder
		bps, spp, photometric int
		extra, cmap           []uint16
	}
	layouts := []layout{
		{"gray1", binary.LittleEndian, 1, 1, 1, nil, nil},
		{"gray8", binary.LittleEndian, 8, 1, 1, nil, nil},
		{"gray16-be", binary.BigEndian, 16, 1, 1, nil, nil},
		{"palette8", binary.LittleEndian, 8, 1, 3, nil, cmap},
		{"rgb8", binary.LittleEndian, 8, 3, 2, nil, nil},
		{"rgb16-be", binary.BigEndian, 16, 3, 2, nil, nil},
		{"rgba16-unassociated", binary.LittleEndian, 16, 4, 2, []uint16{2}, nil},
		{"rgba16-premultiplied-be", binary.BigEndian, 16, 4, 2, []uint16{1}, nil},
	}
	eachDecoder(t, libtiff, func(t *testing.T) {
		for _, l := range layouts {
			samples := make([]uint16, w*h*l.spp)
			want := make([]uint8, w*h*3)
			for i := range w * h {
				px := samples[i*l.spp : (i+1)*l.spp]
				for c := range px {
					px[c] = uint16((i*(c+3)*2654435761 + c*977) >> 7) // every bit pattern, pixel to pixel
				}
				switch {
				case l.bps == 1:
					px[0] &= 1
					want[3*i], want[3*i+1], want[3*i+2] = uint8(255*px[0]), uint8(255*px[0]), uint8(255*px[0])
				case l.bps == 8:
					for c := range px {
						px[c] &= 0xff
					}
					if l.photometric == 3 {
						want[3*i], want[3*i+1], want[3*i+2] = uint8(cmap[px[0]]>>8), uint8(cmap[256+px[0]]>>8), uint8(cmap[512+px[0]]>>8)
					} else {
						for c := range 3 {
							want[3*i+c] = uint8(px[c%l.spp])
						}
					}
				case l.spp == 4 && l.extra[0] == 1: // premultiplied: alpha opaque (255 high byte) where it is not 0
					a := uint16(0xff00 | px[3]&0xff)
					if px[3]&0x300 == 0 {
						a = px[3] & 0xff // high byte 0: the color is 0
					}
					px[3] = a
					for c := range 3 {
						if a>>8 == 0 {
							px[c] = 0
						}
						want[3*i+c] = uint8(px[c] >> 8)
					}
				default:
					for c := range 3 {
						want[3*i+c] = uint8(px[c%l.spp] >> 8)
					}
				}
			}
			data := tiledTIFF(l.order, w, h, tw, th, l.bps, l.spp, l.photometric, l.extra, l.cmap, 0, samples)
			img, err := DecodeImage(data)
			if err != nil {
				t.Errorf("%s: %v", l.name, err)
				continue
			}
			if img.W != w || img.H != h || img.C != 3 {
				t.Errorf("%s: decoded %dx%dx%d, want %dx%dx3", l.name, img.W, img.H, img.C, w, h)
				continue
			}
			if mean, maxd := diffStats(img.Pix, want); maxd != 0 {
				first := 0
				for first < len(want) && img.Pix[first] == want[first] {
					first++
				}
				t.Errorf("%s: differs from the file's pixels by %.3f on average, %d at most, first at pixel (%d, %d); want equal",
					l.name, mean, maxd, first/3%w, first/3/w)
			}
		}
	})
}

// TestTIFFPredictorIgnoredUncompressed: an uncompressed TIFF with a Predictor tag (2, horizontal
// differencing: a tag of the LZW and Deflate codecs, which some writers put in every file) decodes
// to its samples as they are, as PIL and libtiff read it, with libtiff and with Go's decoder. Go's
// decoder (x/image/tiff) undid the differencing whatever the compression, and such files were kept
// from libtiff so that both decoders gave Go's pixels, not PIL's.
func TestTIFFPredictorIgnoredUncompressed(t *testing.T) {
	const w, h = 20, 19
	eachDecoder(t, libtiff, func(t *testing.T) {
		for _, spp := range []int{1, 3} {
			samples := make([]uint16, w*h*spp)
			want := make([]uint8, w*h*3)
			for i := range samples {
				samples[i] = uint16(i * 2654435761 >> 9 & 0xff)
			}
			for i := range w * h {
				for c := range 3 {
					want[3*i+c] = uint8(samples[i*spp+c%spp])
				}
			}
			data := tiledTIFF(binary.LittleEndian, w, h, 16, 16, 8, spp, map[int]int{1: 1, 3: 2}[spp], nil, nil, 2, samples)
			img, err := DecodeImage(data)
			if err != nil {
				t.Errorf("%d samples a pixel: %v", spp, err)
				continue
			}
			if mean, maxd := diffStats(img.Pix, want); img.W != w || img.H != h || maxd != 0 {
				t.Errorf("%d samples a pixel: %dx%d, differs from the file's samples by %.3f on average, %d at most; want %dx%d and equal",
					spp, img.W, img.H, mean, maxd, w, h)
			}
		}
	})
}
