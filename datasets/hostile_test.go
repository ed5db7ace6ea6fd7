package datasets

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/log"
	"golang.org/x/image/tiff"
)

// pngDeclaring is a PNG that declares w x h 8-bit gray pixels but holds the data of one row only:
// a few hundred bytes that claim gigabytes.
func pngDeclaring(t *testing.T, w, h int) []byte { return pngOfZeros(t, w, h, 1) }

// pngOfZeros is an 8-bit gray PNG of w x h pixels whose image data holds the given rows of zeros
// (each a filter byte and w zeros), deflated by zlib at its best compression.
func pngOfZeros(t *testing.T, w, h, rows int) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		buf.WriteString(typ)
		buf.Write(data)
		binary.Write(&buf, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 0 // 8 bits, gray
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(make([]byte, rows*(1+w)))
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return buf.Bytes()
}

// jpegDeclaring is a small JPEG whose frame header (SOF0) is rewritten to declare w x h pixels.
func jpegDeclaring(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	i := bytes.Index(data, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	binary.BigEndian.PutUint16(data[i+5:], uint16(h))
	binary.BigEndian.PutUint16(data[i+7:], uint16(w))
	return data
}

// TestJPEGCutShortRefusedBeforeAllocating: a JPEG of a few hundred bytes (or 31: a progressive
// one the fuzzer made) that declares 12000x12000 pixels, under MaxImagePixels, is refused as cut
// short before its pixels are allocated, with libjpeg and with Go's decoder: 432 MB (and, for the
// progressive one, libjpeg's coefficient buffer besides) were allocated first, up to 0.7 s a file.
// A real JPEG all of one gray (the fewest bytes a Huffman-coded JPEG takes), 4000x4000, is accepted.
func TestJPEGCutShortRefusedBeforeAllocating(t *testing.T) {
	progressive := []byte("\xff\xd8\xff\xc2\x00\x11\b0000\x03\x0110\x0210\x0310\xff\xda\x00\f\x03\x010\x020\x03")
	var flat bytes.Buffer
	if err := jpeg.Encode(&flat, image.NewGray(image.Rect(0, 0, 4000, 4000)), &jpeg.Options{Quality: 1}); err != nil {
		t.Fatal(err)
	}
	eachDecoder(t, libjpeg, func(t *testing.T) {
		for name, data := range map[string][]byte{"baseline": jpegDeclaring(t, 12000, 12000), "progressive": progressive} {
			err, n := allocating(func() error { _, err := DecodeImage(data); return err })
			switch {
			case name == "progressive" && jpegLib() != nil && err != nil:
				// Go's decoder refuses its quantization table from the header ("bad Tq value").
			case err == nil || !strings.Contains(err.Error(), "JPEG file cut short"):
				t.Errorf("%s (%d bytes): %v; want an error saying the file is cut short", name, len(data), err)
			}
			if n > 1<<20 {
				t.Errorf("%s: %d MB allocated; want the file refused first", name, n>>20)
			}
		}
		if h, w, err := ImageSize(flat.Bytes()); err != nil || h != 4000 || w != 4000 {
			t.Errorf("a flat 4000x4000 JPEG of %d bytes: %dx%d, %v; want it accepted", flat.Len(), w, h, err)
		}
	})
}

// TestPNGCutShortRefusedBeforeAllocating: a PNG of 100 bytes that declares 12000x12000 pixels,
// under MaxImagePixels, is refused as cut short before its pixels are allocated, with libpng and
// with Go's decoder (144 MB were allocated first); a PNG of that size all of one gray, deflated
// as tightly as zlib can (140,051 bytes, 1028 to 1, against the 139,534 the check asks for at
// 1032 to 1; PIL's optimize=True writes 139,863), is accepted.
func TestPNGCutShortRefusedBeforeAllocating(t *testing.T) {
	declared := pngDeclaring(t, 12000, 12000)
	flat := pngOfZeros(t, 12000, 12000, 12000)
	eachDecoder(t, libpng, func(t *testing.T) {
		err, n := allocating(func() error { _, err := DecodeImage(declared); return err })
		if err == nil || !strings.Contains(err.Error(), "PNG file cut short") {
			t.Errorf("%d bytes declaring 12000x12000: %v; want an error saying the file is cut short", len(declared), err)
		}
		if n > 1<<20 {
			t.Errorf("%d MB allocated; want the file refused first", n>>20)
		}
		if h, w, err := ImageSize(flat); err != nil || h != 12000 || w != 12000 {
			t.Errorf("a flat 12000x12000 PNG of %d bytes: %dx%d, %v; want it accepted", len(flat), w, h, err)
		}
	})
}

// tiffEntry calls f with each 12-byte entry of the first image directory of a little-endian TIFF
// and its tag, to change it in place.
func tiffEntry(data []byte, f func(tag uint16, entry []byte)) {
	ifd := int(binary.LittleEndian.Uint32(data[4:]))
	for e := range int(binary.LittleEndian.Uint16(data[ifd:])) {
		entry := data[ifd+2+12*e : ifd+14+12*e]
		f(binary.LittleEndian.Uint16(entry), entry)
	}
}

// tiffDeclaring rewrites the first image directory of a little-endian TIFF to declare w x h pixels
// (its ImageWidth and ImageLength entries; RowsPerStrip too, so that it stays one strip).
func tiffDeclaring(data []byte, w, h uint32) {
	tiffEntry(data, func(tag uint16, entry []byte) {
		typ := binary.LittleEndian.Uint16(entry[2:])
		v := map[uint16]uint32{256: w, 257: h, 278: h}[tag]
		switch {
		case v == 0:
		case typ == 3: // SHORT
			binary.LittleEndian.PutUint16(entry[8:], uint16(v))
		default:
			binary.LittleEndian.PutUint32(entry[8:], v)
		}
	})
}

// TestTIFFCutShortRefusedBeforeAllocating: a TIFF of under a kilobyte (uncompressed, LZW) that
// declares 12000x12000 pixels, under MaxImagePixels, or an LZW one whose strip reaches past its
// end, is refused as cut short before its pixels are allocated, with libtiff and with Go's
// decoder; a
// real 4000x4000 TIFF all of one gray, Deflate-compressed, is accepted, and so is, with libtiff,
// which estimates them as PIL does, a Deflate TIFF without StripByteCounts, and an uncompressed one
// whose one strip declares more bytes than the file holds.
func TestTIFFCutShortRefusedBeforeAllocating(t *testing.T) {
	fixture := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	files, want := map[string][]byte{}, map[string]string{}
	for _, name := range []string{"gray.tiff", "lzw.tif"} {
		data := fixture(name)
		tiffDeclaring(data, 12000, 12000)
		files[name+" declaring 12000x12000"] = data
		want[name+" declaring 12000x12000"] = "TIFF file cut short or damaged: "
	}
	lzw := fixture("lzw.tif")
	tiffEntry(lzw, func(tag uint16, entry []byte) {
		if tag == 279 { // one LONG, or SHORT
			binary.LittleEndian.PutUint16(entry[8:], 5000) // its one strip's bytes: past the end
		}
	})
	files["lzw.tif of a strip past its end"] = lzw
	want["lzw.tif of a strip past its end"] = "TIFF file cut short: its strip 0 ends at byte 5008, past the file's 728"
	var flat bytes.Buffer
	if err := tiff.Encode(&flat, image.NewGray(image.Rect(0, 0, 4000, 4000)), &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	// Deflate, and large enough that its pixels take more than 0 bytes at Deflate's largest ratio.
	var small bytes.Buffer
	m := image.NewGray(image.Rect(0, 0, 64, 48))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	if err := tiff.Encode(&small, m, &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	noCounts, overCounted := small.Bytes(), fixture("gray.tiff")
	tiffEntry(noCounts, func(tag uint16, entry []byte) {
		if tag == 279 {
			binary.LittleEndian.PutUint16(entry, 65000) // StripByteCounts becomes an unknown tag
		}
	})
	tiffEntry(overCounted, func(tag uint16, entry []byte) {
		if tag == 279 {
			binary.LittleEndian.PutUint32(entry[8:], 5000) // past the end, which libtiff recomputes
		}
	})
	eachDecoder(t, libtiff, func(t *testing.T) {
		for name, data := range files {
			err, n := allocating(func() error { _, err := DecodeImage(data); return err })
			if err == nil || !strings.Contains(err.Error(), want[name]) {
				t.Errorf("%s: %v; want an error saying %q", name, err, want[name])
			}
			if n > 1<<20 {
				t.Errorf("%s: %d MB allocated; want the file refused first", name, n>>20)
			}
		}
		if h, w, err := ImageSize(flat.Bytes()); err != nil || h != 4000 || w != 4000 {
			t.Errorf("a flat 4000x4000 Deflate TIFF of %d bytes: %dx%d, %v; want it accepted", flat.Len(), w, h, err)
		}
		if img, err := DecodeImage(noCounts); tiffLib() == nil && (err != nil || img.H != 48 || img.W != 64) {
			t.Errorf("a Deflate TIFF without StripByteCounts: %dx%d, %v; want it read by libtiff", img.W, img.H, err)
		}
		if img, err := DecodeImage(overCounted); tiffLib() == nil && (err != nil || img.H != 11 || img.W != 15) {
			t.Errorf("gray.tiff whose one strip declares 5000 bytes: %dx%d, %v; want it read by libtiff", img.W, img.H, err)
		}
	})
}

// declaring returns a small fixture of testdata/pil/formats whose header is changed to declare
// more than MaxImagePixels: a BMP of 20000x10000, a TIFF of 20000x10000, a lossless WebP of
// 16384x16384 (its largest).
func declaring(t *testing.T, name string) []byte {
	t.Helper()
	src := map[string]string{"bomb.bmp": "rgb.bmp", "bomb.tif": "gray.tiff", "bomb.webp": "lossless.webp"}[name]
	data, err := os.ReadFile(filepath.Join("testdata", "pil", "formats", src))
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(name) {
	case ".bmp": // BITMAPINFOHEADER: width and height, int32 at 18 and 22
		binary.LittleEndian.PutUint32(data[18:], 20000)
		binary.LittleEndian.PutUint32(data[22:], 10000)
	case ".tif":
		tiffDeclaring(data, 20000, 10000)
	case ".webp": // VP8L: after the signature byte 0x2f, 14 bits each of width-1 and height-1
		i := bytes.Index(data, []byte("VP8L")) + 9
		bits := binary.LittleEndian.Uint32(data[i:])
		binary.LittleEndian.PutUint32(data[i:], bits&^(1<<28-1)|16383|16383<<14)
	}
	return data
}

// TestDecompressionBombRefused: a file of a few hundred bytes that declares more pixels than PIL
// accepts (PIL's Image.open raises DecompressionBombError above 2 x Image.MAX_IMAGE_PIXELS =
// 178956970 pixels, and so torchvision's ImageFolder) is refused from its header, as a bad image
// that names the file and the limit, without allocating the pixels it claims.
func TestDecompressionBombRefused(t *testing.T) {
	bombs := map[string][]byte{
		"bomb.png": pngDeclaring(t, 20000, 10000),  // 200 Mpixels: 200 MB of gray for Go's decoder
		"bomb.jpg": jpegDeclaring(t, 15000, 15000), // 225 Mpixels
		"bomb.pgm": []byte("P5\n20000 10000\n255\n\x00\x00"),
	}
	for _, name := range []string{"bomb.bmp", "bomb.tif", "bomb.webp"} {
		bombs[name] = declaring(t, name)
	}
	for name, data := range bombs {
		if h, w, err := ImageSize(data); err == nil || !strings.Contains(err.Error(), "178956970") {
			t.Errorf("%s: ImageSize gives %dx%d, %v; want an error naming the limit of 178956970 pixels", name, w, h, err)
		}
	}
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "a.png"), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	for name, data := range bombs {
		writeFile(t, filepath.Join(root, name), data)
	}
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.Info().Len {
		if filepath.Base(f.Path(i)) == "a.png" {
			continue
		}
		err, alloc := allocating(func() error { _, err := f.Decode(i); return err })
		if alloc > 16<<20 {
			t.Errorf("%s: decoding allocated %d MB", f.Path(i), alloc>>20)
		}
		var de *DataError
		if !errors.As(err, &de) || !errors.Is(err, ErrBadImage) || de.Path != f.Path(i) || !strings.Contains(err.Error(), "178956970") {
			t.Errorf("%s: got %v, want a bad image error naming the file and the limit of 178956970 pixels", f.Path(i), err)
		}
	}
}

// TestDanglingLinkRefusedAtListing: a link whose target is gone (a moved store, a disk not
// mounted) cannot be read. Listed as an image, it let a run start and stop at the step that reached
// it (an ErrDamaged error, which -skip-bad-images does not skip); as a class folder, it was left
// out as not an image file and the classes after it renumbered. The listing refuses it,
// naming the link.
func TestDanglingLinkRefusedAtListing(t *testing.T) {
	for _, layout := range []string{"flat", "in a class", "a class"} {
		t.Run(layout, func(t *testing.T) {
			root := t.TempDir()
			img := func(rel string) {
				writePNG(t, filepath.Join(root, rel), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
			}
			var link string
			switch layout {
			case "flat":
				img("a.png")
				link = filepath.Join(root, "gone.jpg")
			case "in a class":
				img("cat/a.png")
				img("dog/b.png")
				link = filepath.Join(root, "cat", "sub", "gone.JPG")
				img("cat/sub/c.png")
			case "a class":
				img("dog/b.png")
				img("eel/b.png")
				link = filepath.Join(root, "cat")
			}
			if err := os.Symlink(filepath.Join(t.TempDir(), "moved"), link); err != nil {
				t.Skip(err)
			}
			f, err := OpenFolder(root, "")
			if err == nil {
				t.Fatalf("listed %d images of classes %v, without the dangling link %s; want an error naming it", f.Info().Len, f.Info().ClassNames, link)
			}
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), link) {
				t.Fatalf("got %v, want a usage error naming %s", err, link)
			}
		})
	}
}

// TestLinkLoopRefused: a link back to a folder above it (a loop) is a usage error naming the link
// (exit status 2), not damaged data whose path repeats the link 32 times and whose hint is to
// "restore it and resume" (exit status 1). A link to a folder elsewhere is followed, as
// torchvision's ImageFolder follows it.
func TestLinkLoopRefused(t *testing.T) {
	root := t.TempDir()
	img := func(rel string) {
		writePNG(t, filepath.Join(root, rel), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	img("cat/a.png")
	img("dog/b.png")
	other := t.TempDir()
	writePNG(t, filepath.Join(other, "c.png"), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	if err := os.Symlink(other, filepath.Join(root, "cat", "more")); err != nil {
		t.Skip(err)
	}
	f, err := OpenFolder(root, "")
	if err != nil || f.Info().Len != 3 || f.Path(1) != filepath.Join(root, "cat", "more", "c.png") {
		t.Fatalf("with a link to a folder elsewhere: %v; want 3 images, the second through the link", err)
	}
	for _, name := range []string{"x", "y"} {
		if err := os.Symlink(filepath.Join(root, "cat"), filepath.Join(root, "cat", name)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = OpenFolder(root, "")
	link := filepath.Join(root, "cat", "x")
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), link+": ") || !strings.Contains(err.Error(), "loop") || strings.Contains(err.Error(), "resume") {
		t.Fatalf("got %v, want a usage error naming the loop %s", err, link)
	}
}

// TestClassNameWithLineBreak: classes.txt holds one class name per line, so a class folder whose
// name holds a line break cannot be written there: the shards read back had 3 classes, named
// wrongly, for a folder of 2. mkshards refuses it before writing, naming the folder.
func TestClassNameWithLineBreak(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"a\nb/x.png", "c/y.png"} {
		writePNG(t, filepath.Join(root, rel), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	_, err = WriteShards(f, out, ShardOptions{})
	if err == nil {
		s, err := OpenShards(out, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Fatalf("wrote shards of a folder of classes %q that read back as %d classes %q; want an error naming the folder", f.Info().ClassNames, s.Info().NumClasses, s.Info().ClassNames)
	}
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), filepath.Join(root, "a\nb")) {
		t.Fatalf("got %v, want a usage error naming the class folder", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("wrote %d files before the error", len(entries))
	}
}

// TestArchiveArtefactsSkipped: what macOS and Windows leave in a photo folder is not data. A zip
// made by macOS's Finder unpacks with a __MACOSX/ folder of AppleDouble "._NAME" files beside the
// photos; it made a flat folder a labelled one of the single class __MACOSX, refused as a class
// folder without images. It is skipped, as are .DS_Store, "._" files and hidden folders; Thumbs.db
// and desktop.ini are files left out (counted, as every file that is not an image).
func TestArchiveArtefactsSkipped(t *testing.T) {
	img := func(root, rel string) {
		writePNG(t, filepath.Join(root, rel), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	junk := func(root string, rels ...string) {
		for _, rel := range rels {
			writeFile(t, filepath.Join(root, rel), []byte("\x00\x05\x16\x07 AppleDouble"))
		}
	}
	flat := t.TempDir()
	img(flat, "a.png")
	img(flat, "b.jpg")
	junk(flat, "__MACOSX/._a.png", "__MACOSX/._b.jpg", "._a.png", ".DS_Store", "Thumbs.db", "desktop.ini", ".thumbnails/a.png")
	f, err := OpenFolder(flat, "")
	if err != nil || f.Info().Len != 2 || f.Info().NumClasses != 0 || f.Ignored() != 2 {
		t.Fatalf("flat folder unpacked from a macOS zip: %v; want its 2 images, unlabelled, and 2 files left out (Thumbs.db, desktop.ini)", err)
	}
	classes := t.TempDir()
	img(classes, "cat/a.png")
	img(classes, "dog/b.png")
	junk(classes, "__MACOSX/cat/._a.png", "__MACOSX/dog/._b.png", "cat/._a.png", "cat/__MACOSX/._a.png", ".git/HEAD", ".DS_Store")
	f, err = OpenFolder(classes, "")
	if err != nil || !slices.Equal(f.Info().ClassNames, []string{"cat", "dog"}) || f.Info().Len != 2 {
		t.Fatalf("class folders unpacked from a macOS zip: %v; want the classes cat and dog, one image each", err)
	}
}

// TestOtherFormatsNamed: a folder whose images are JPEG XL, JPEG 2000 or GIF holds images, just
// not ones that are read. The error said "remove it or add images" (for a class folder, with
// "torchvision's ImageFolder refuses it too") or "put the images in this folder"; it names the
// formats found and says to convert them. The warning about files left out beside read images
// names their extensions, so that 50 .jxl photos left out are seen as such.
func TestOtherFormatsNamed(t *testing.T) {
	img := func(root, rel string) {
		writePNG(t, filepath.Join(root, rel), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	classes := t.TempDir()
	img(classes, "cat/a.png")
	writeFile(t, filepath.Join(classes, "phone", "IMG_1.JXL"), []byte("x"))
	writeFile(t, filepath.Join(classes, "phone", "IMG_2.jxl"), []byte("x"))
	writeFile(t, filepath.Join(classes, "phone", "IMG_3.jp2"), []byte("x"))
	flat := t.TempDir()
	writeFile(t, filepath.Join(flat, "anim.gif"), []byte("x"))
	for name, root := range map[string]string{"class folder": classes, "flat folder": flat} {
		_, err := OpenFolder(root, "")
		msg := fmt.Sprint(err)
		if !errors.Is(err, ErrUsage) || !strings.Contains(msg, "convert") || strings.Contains(msg, "add images") || strings.Contains(msg, "put the images") ||
			!strings.Contains(msg, map[string]string{"class folder": ".jxl 2, .jp2 1", "flat folder": ".gif 1"}[name]) {
			t.Errorf("%s of other formats: %v; want a usage error that names them and says to convert them", name, err)
		}
	}
	mixed := t.TempDir()
	img(mixed, "cat/a.png")
	img(mixed, "dog/b.png")
	for _, name := range []string{"cat/c.jxl", "cat/d.jxl", "dog/e.JXL", "dog/notes.txt"} {
		writeFile(t, filepath.Join(mixed, name), []byte("x"))
	}
	f, err := OpenFolder(mixed, "")
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	f.WarnLeftOut(log.New(&logged))
	if !strings.Contains(logged.String(), ".jxl 3, .txt 1") {
		t.Errorf("logged %q; want the files left out named by extension (.jxl 3, .txt 1)", logged.String())
	}
}

// TestWithinFollowsLinks: the README promises that mkshards refuses an -out inside -in, and train
// a -checkpoint-dir inside the image folder (it would be read as a class: a run's metrics.png then
// trained as an image). With -data-dir a link to the folder (~/data linked to a scratch disk) and
// the run folder given by its real path, or the other way round, the folder was not recognised.
func TestWithinFollowsLinks(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	if err := os.MkdirAll(filepath.Join(target, "cat"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{filepath.Join(target, "runs"), link, true},
		{filepath.Join(target, "cat", "runs", "a"), link, true}, // several levels that do not exist yet
		{filepath.Join(link, "runs"), target, true},
		{filepath.Join(link, "cat"), target, true},
		{link, target, true},
		{filepath.Join(base, "runs"), link, false},
		{base, link, false},
		{filepath.Join(target, "..", "runs"), link, false},
	} {
		if got := Within(c.path, c.dir); got != c.want {
			t.Errorf("Within(%s, %s) = %v, want %v", c.path, c.dir, got, c.want)
		}
	}
}

// TestEmptyFileNamed: a zero-byte file (an interrupted download or copy, common in scraped data
// sets) is reported as empty, not as "not an image file", which points to a format problem
// in a photo.jpg.
func TestEmptyFileNamed(t *testing.T) {
	root := t.TempDir()
	img := func(rel string) {
		writePNG(t, filepath.Join(root, rel), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	img("a.png")
	writeFile(t, filepath.Join(root, "b.jpg"), nil)
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Decode(1)
	if !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), f.Path(1)+": empty file (0 bytes)") {
		t.Fatalf("got %v, want a bad image error saying that %s is empty", err, f.Path(1))
	}
	if _, _, err := ImageSize(nil); err == nil || !strings.Contains(err.Error(), "empty file") {
		t.Fatalf("ImageSize of no bytes: %v", err)
	}
}

// TestMisnamedFormatNamed: a GIF, HEIC or AVIF image saved under a .jpg name (common in data
// sets scraped from the web; PIL, and so torchvision, recognise the format from the bytes) is
// read as what it is: a GIF is a bad image that names the format it is, not only "not an image
// file"; a HEIC or AVIF goes to libheif (these are damaged: libheif says why), or, without it,
// names the format and the package to install (TestHEIFWithoutLibheif).
func TestMisnamedFormatNamed(t *testing.T) {
	for kind, head := range map[string]string{
		"GIF":  "GIF89a\x04\x00\x04\x00\x81\x00\x00\x00",
		"HEIC": "\x00\x00\x00\x18ftypheic\x00\x00\x00\x00",
		"AVIF": "\x00\x00\x00\x18ftypavif\x00\x00\x00\x00",
	} {
		fix := map[string]string{"GIF": "convert", "HEIC": "libheif", "AVIF": "libheif"}[kind]
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "photo.jpg"), []byte(head+strings.Repeat("\x00", 64)))
		f, err := OpenFolder(root, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Decode(0)
		if !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), kind) || !strings.Contains(err.Error(), fix) {
			t.Errorf("%s named photo.jpg: %v; want a bad image error naming %s and %s", kind, err, kind, fix)
		}
	}
	if _, _, err := ImageSize([]byte("BMW owners' manual, not an image at all")); err != errNotImage {
		t.Errorf("text: %v, want %v", err, errNotImage)
	}
}

// TestShardGlobSkipsHiddenFiles: shards copied by macOS to a drive without its own metadata
// (exFAT, FAT, a network share) get an AppleDouble "._NAME.tar" beside each. A folder of shards
// skips them; a glob (-data-dir 'dir/*.tar') matched them too, unlike the shell's and Python's
// globs, and stopped at the first as a damaged shard.
func TestShardGlobSkipsHiddenFiles(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"cat", "dog"}, 3)
	_, _, paths := shardsOf(t, root, 4)
	dir := filepath.Dir(paths[0])
	for _, p := range paths {
		writeFile(t, filepath.Join(dir, "._"+filepath.Base(p)), []byte("\x00\x05\x16\x07 AppleDouble"))
	}
	for _, pattern := range []string{dir, filepath.Join(dir, "*.tar"), filepath.Join(dir, "shard-*.tar")} {
		s, err := OpenShards(pattern, "")
		if err != nil || len(s.Paths()) != len(paths) || s.Len() != 6 {
			t.Errorf("%s: %v; want the %d shards of 6 samples", pattern, err, len(paths))
		}
	}
	// A glob that names hidden files itself gets them.
	if got, _ := filepath.Glob(filepath.Join(dir, ".*.tar")); len(got) != len(paths) {
		t.Fatalf("the AppleDouble files: %v", got)
	}
}

// TestNASThumbnailsSkipped: a Synology NAS indexes every folder of photos into an "@eaDir"
// subfolder that holds, per photo, a folder of JPEG thumbnails (SYNOPHOTO_THUMB_XL.jpg, ...). The
// recursive walk of a class folder read them as more images of the class, several small copies of
// each photo, silently. They are skipped, as hidden names are.
func TestNASThumbnailsSkipped(t *testing.T) {
	root := t.TempDir()
	img := func(rel string) {
		writePNG(t, filepath.Join(root, rel), 8, 8, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	img("cat/a.jpg")
	img("dog/b.jpg")
	img("dog/sub/c.jpg")
	for _, photo := range []string{"cat/@eaDir/a.jpg", "dog/@eaDir/b.jpg", "dog/sub/@eaDir/c.jpg"} {
		img(photo + "/SYNOPHOTO_THUMB_XL.jpg")
		img(photo + "/SYNOPHOTO_THUMB_S.jpg")
	}
	img("@eaDir/x.jpg/SYNOPHOTO_THUMB_S.jpg")
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range f.Info().Len {
		rel, _ := filepath.Rel(root, f.Path(i))
		got = append(got, filepath.ToSlash(rel))
	}
	if want := []string{"cat/a.jpg", "dog/b.jpg", "dog/sub/c.jpg"}; !slices.Equal(got, want) || !slices.Equal(f.Info().ClassNames, []string{"cat", "dog"}) {
		t.Fatalf("listed %q of classes %q; want %q of classes [cat dog]", got, f.Info().ClassNames, want)
	}
}

// TestSplitFoldersInOtherCase: split folders named Train/ and Test/ (as in many archives made on
// Windows or for Kaggle) are not train/ and test/ on a case-sensitive file system. Both were read
// as the two classes of one folder, so that training took the test images with "which split" as
// the label; with train/ beside Val/, the run went unevaluated with a warning. Either is refused,
// naming the folders; a class folder named "Train" (trains, in a data set of vehicles) is not a
// split.
func TestSplitFoldersInOtherCase(t *testing.T) {
	img := func(root, rel string) {
		writePNG(t, filepath.Join(root, rel), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	upper := t.TempDir()
	for _, rel := range []string{"Train/cat/a.png", "Train/dog/b.png", "Test/cat/c.png", "Test/dog/d.png"} {
		img(upper, rel)
	}
	mixed := t.TempDir()
	for _, rel := range []string{"train/cat/a.png", "train/dog/b.png", "Val/cat/c.png", "Val/dog/d.png"} {
		img(mixed, rel)
	}
	for _, c := range []struct {
		root, split, names string
	}{
		{upper, SplitTrain, "Test/ Train/"},
		{upper, SplitTest, "Test/ Train/"},
		{upper, "", "Test/ Train/"},
		{mixed, SplitTest, "Val/"},
	} {
		f, err := OpenFolder(c.root, c.split)
		if err == nil {
			t.Errorf("split %q of %s: listed classes %q; want an error naming %s", c.split, c.root, f.Info().ClassNames, c.names)
			continue
		}
		if !errors.Is(err, ErrUsage) || errors.Is(err, ErrNoSplit) || !strings.Contains(err.Error(), c.names) || !strings.Contains(err.Error(), "lower case") {
			t.Errorf("split %q of %s: %v; want a usage error naming %s", c.split, c.root, err, c.names)
		}
	}
	vehicles := t.TempDir()
	for _, rel := range []string{"Bus/a.png", "Car/b.png", "Train/c.png"} {
		img(vehicles, rel)
	}
	if f, err := OpenFolder(vehicles, SplitTrain); err != nil || !slices.Equal(f.Info().ClassNames, []string{"Bus", "Car", "Train"}) {
		t.Errorf("vehicles: %v; want the classes Bus, Car and Train", err)
	}
}
