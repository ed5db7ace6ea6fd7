package datasets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// imageExtensions are the file name extensions that image folders and shards read (lower case):
// torchvision's ImageFolder's.
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".heic", ".heif", ".avif"}

// readFormats names the formats read, for messages.
const readFormats = "JPEG, PNG, WebP, TIFF, BMP, PPM, PGM, HEIC or AVIF"

// imageExtList lists imageExtensions for messages: ".jpg, .jpeg, ..., .heif or .avif".
var imageExtList = strings.Join(imageExtensions[:len(imageExtensions)-1], ", ") + " or " + imageExtensions[len(imageExtensions)-1]

// isImageFile reports whether name has one of imageExtensions (any case).
func isImageFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range imageExtensions {
		if ext == e {
			return true
		}
	}
	return false
}

// imageFormat names the format of data from its first bytes, as PIL recognises it (whatever the
// file's name says: data sets scraped from the web hold WebP images named .jpg): "jpeg", "png",
// "webp", "tiff", "bmp", "pnm", "heif" (HEIC and AVIF: heifKind tells them apart) or "".
func imageFormat(data []byte) string {
	head := func(n int) string { return string(data[:min(n, len(data))]) }
	switch {
	case len(data) >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff:
		return "jpeg"
	case head(8) == "\x89PNG\r\n\x1a\n":
		return "png"
	case head(4) == "RIFF" && len(data) >= 12 && string(data[8:12]) == "WEBP":
		return "webp"
	case head(4) == "II*\x00" || head(4) == "MM\x00*" || isBigTIFF(data):
		return "tiff"
	case head(2) == "BM" && len(data) >= 18 && slices.Contains([]byte{12, 40, 52, 56, 64, 108, 124}, data[14]) && data[15] == 0:
		return "bmp"
	case isPNM(data):
		return "pnm"
	case heifKind(data) != "":
		return "heif"
	}
	return ""
}

// FormatExt is the file extension of an encoded image's format, recognised from its bytes (".jpg",
// ".png", ".webp", ".tif", ".bmp", ".pgm" or ".ppm", ".heic" or ".avif"), or "" when no format read
// here recognises them: the extension under which a shard holds the image.
func FormatExt(data []byte) string {
	switch imageFormat(data) {
	case "jpeg":
		return ".jpg"
	case "png":
		return ".png"
	case "webp":
		return ".webp"
	case "tiff":
		return ".tif"
	case "bmp":
		return ".bmp"
	case "pnm":
		if data[1] == '2' || data[1] == '5' {
			return ".pgm"
		}
		return ".ppm"
	case "heif":
		if heifKind(data) == "AVIF" {
			return ".avif"
		}
		return ".heic"
	}
	return ""
}

// heifKind names a HEIF file from the brand of its ftyp box, as pillow-heif recognises it: "HEIC"
// (HEVC images: an iPhone's photos), "AVIF" (AV1 images), "HEIF" (mif1, msf1: either), or "".
func heifKind(data []byte) string {
	if len(data) < 12 || string(data[4:8]) != "ftyp" {
		return ""
	}
	switch string(data[8:12]) {
	case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs":
		return "HEIC"
	case "avif", "avis":
		return "AVIF"
	case "mif1", "msf1":
		return "HEIF"
	}
	return ""
}

// otherFormat names the format of data when it is an image format that is not decoded, from its
// first bytes as PIL recognises it (a GIF saved as .jpg), or "".
func otherFormat(data []byte) string {
	if head := string(data[:min(6, len(data))]); head == "GIF87a" || head == "GIF89a" {
		return "GIF"
	}
	return ""
}

var (
	errNotImage = errors.New("not an image file (" + readFormats + ")")
	errEmpty    = errors.New("empty file (0 bytes)") // an interrupted download or copy
)

// MaxImagePixels is the largest image decoded, in pixels: PIL's limit (twice its
// Image.MAX_IMAGE_PIXELS, above which Image.open raises DecompressionBombError, and so
// torchvision's ImageFolder). A larger image is refused from its header, as a bad image, before
// its pixels are allocated: a file of a few hundred bytes can declare gigapixels.
const MaxImagePixels = 2 * 89478485

// ImageSize returns the height and width of an image from its header, without decoding the
// pixels. An image of more than MaxImagePixels pixels is an error.
func ImageSize(data []byte) (h, w int, err error) {
	var (
		cfg    image.Config
		arith  bool // an arithmetic-coded JPEG
		ifd    tiffIFD
		r      = bytes.NewReader(data)
		format = imageFormat(data)
	)
	switch format {
	case "jpeg":
		var ok bool
		if cfg.Height, cfg.Width, arith, ok, err = jpegSizeLib(data); !ok {
			cfg, err = jpeg.DecodeConfig(r) // without libjpeg, or CMYK: Go's decoder decodes it
		}
	case "png":
		cfg, err = png.DecodeConfig(r)
	case "webp":
		if webpAnimated(data) {
			if err := webpAnimLib(); err != nil {
				return 0, 0, err
			}
			cfg.Height, cfg.Width, err = webpAnimSize(data)
			break
		}
		var ok bool
		if err = webpCutShort(data); err != nil {
			break
		}
		if cfg.Height, cfg.Width, ok = webpSizeLib(data); !ok {
			cfg, err = webp.DecodeConfig(r) // without libwebp, or a file it refuses: Go's decoder says why
		}
		if err == nil {
			err = checkWebPFrame(data, cfg.Width, cfg.Height)
		}
	case "tiff":
		if isBigTIFF(data) {
			cfg.Height, cfg.Width, err = bigTIFFSize(data)
			break
		}
		ifd = readTIFFIFD(data)
		if rgbx := tiffRGBX(data, ifd); rgbx != nil {
			r = bytes.NewReader(rgbx)
		}
		if cfg, err = tiff.DecodeConfig(r); err == nil && ifd.planar == 2 && ifd.samples > 1 {
			// Go's decoder reads the planes as if interleaved, and then says "not enough pixel data".
			err = tiff.UnsupportedError("a plane per channel (PlanarConfiguration 2)")
		}
		if err != nil { // CMYK, gray and alpha, 2 and 4 bits, a plane per channel: read by libtiff only
			if h, w, ok := tiffSizeLib(data); ok {
				cfg.Height, cfg.Width, err = h, w, nil
			}
		}
	case "bmp":
		cfg, err = bmp.DecodeConfig(r)
	case "pnm":
		var p pnmHeader
		p, err = parsePNMHeader(data)
		cfg.Width, cfg.Height = p.w, p.h
	case "heif":
		if cfg.Height, cfg.Width, err = heifSizeLib(data); err != nil {
			return 0, 0, heifErr(data, err)
		}
		if heifCutShort(data) { // refused before its pixels are allocated
			return 0, 0, heifErr(data, errors.New("a box ends past the end of the file"))
		}
	default:
		if len(data) == 0 {
			return 0, 0, errEmpty
		}
		if kind := otherFormat(data); kind != "" {
			return 0, 0, fmt.Errorf("a %s image, whatever its name says: it is not decoded (%s are); convert it to PNG or JPEG", kind, readFormats)
		}
		return 0, 0, errNotImage
	}
	if err != nil {
		return 0, 0, formatErr(format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, fmt.Errorf("image of %dx%d pixels", cfg.Width, cfg.Height)
	}
	if err := checkPixels(cfg.Width, cfg.Height); err != nil {
		return 0, 0, err
	}
	// Then whether the file can hold the pixels it declares: the decoders allocate them first.
	// (WebP and PNM are checked above, where their sizes are read.)
	switch format {
	case "jpeg":
		err = jpegCutShort(len(data), cfg.Width, cfg.Height, arith)
	case "png":
		err = pngCutShort(data, cfg.Width, cfg.Height)
	case "tiff":
		if isBigTIFF(data) {
			err = bigTIFFCutShort(data, cfg.Width, cfg.Height)
		} else {
			err = tiffCutShort(data, ifd, cfg.Width, cfg.Height)
		}
	case "bmp":
		err = bmpCutShort(data)
	}
	if err != nil {
		return 0, 0, err
	}
	return cfg.Height, cfg.Width, nil
}

// isBigTIFF reports whether data is a BigTIFF file (64-bit offsets: "II+\x00" or "MM\x00+"), which
// PIL and libtiff read and Go's decoder does not.
func isBigTIFF(data []byte) bool {
	h := string(data[:min(4, len(data))])
	return h == "II+\x00" || h == "MM\x00+"
}

// bigTIFFSize reads the size of a BigTIFF's first image with libtiff.
func bigTIFFSize(data []byte) (h, w int, err error) {
	if lerr := tiffLib(); lerr != nil {
		return 0, 0, fmt.Errorf("a BigTIFF image (64-bit offsets), which is read with libtiff only, and libtiff is not used (%v): install it (Debian's libtiff6), or convert the file to PNG", lerr)
	}
	h, w, ok := tiffSizeLib(data)
	if !ok {
		return 0, 0, errors.New("a BigTIFF image (64-bit offsets) that libtiff does not read: damaged, or cut short?")
	}
	return h, w, nil
}

// decodeBigTIFF decodes a BigTIFF of h x w pixels (bigTIFFSize) with libtiff, for the layouts
// that libtiff is used for here.
func decodeBigTIFF(data []byte, h, w int) (Image, error) {
	img, ok, err := decodeTIFFLib(data, tiffIFD{predictor: 1}, h, w)
	switch {
	case ok:
		return img, nil
	case err != nil:
		return Image{}, fmt.Errorf("a BigTIFF image (64-bit offsets): %w", err)
	}
	return Image{}, errors.New("a BigTIFF image (64-bit offsets) of a layout that only Go's TIFF decoder reads here, and it does not read BigTIFF: convert the file to classic TIFF (tiffcp -4) or to PNG")
}

// tiffIFD is what the first image directory of a TIFF file says that Go's decoder misreads.
type tiffIFD struct {
	planar, samples, photometric int
	compression, predictor, fill int        // fill: FillOrder
	extraAt                      int        // offset of the ExtraSamples value when it is one SHORT, or 0
	predictorAt                  int        // offset of the Predictor value when it is one SHORT, or 0
	offsets, counts              tiffValues // of the strips or the tiles
	tiled                        bool
	bits                         tiffValues // BitsPerSample
	order                        binary.ByteOrder
}

// tiffValues are the SHORT or LONG values of a tag of a TIFF file's directory: n of them at
// offset at of the file (in the entry itself when they fit in 4 bytes).
type tiffValues struct {
	long bool
	n    int64
	at   int64
}

// size is the bytes of a value: 2 for SHORT, 4 for LONG.
func (v tiffValues) size() int64 {
	if v.long {
		return 4
	}
	return 2
}

// get returns value i, or -1 past the end of data.
func (v tiffValues) get(data []byte, order binary.ByteOrder, i int64) int64 {
	size := v.size()
	p := v.at + i*size
	if p < 0 || p+size > int64(len(data)) {
		return -1
	}
	if v.long {
		return int64(order.Uint32(data[p:]))
	}
	return int64(order.Uint16(data[p:]))
}

// readTIFFIFD reads the first image directory of a TIFF file (SHORT values only; missing or
// unread tags keep their defaults).
func readTIFFIFD(data []byte) tiffIFD {
	d := tiffIFD{planar: 1, samples: 1, photometric: -1, compression: 1, predictor: 1, fill: 1}
	if len(data) < 8 {
		return d
	}
	var order binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		order = binary.BigEndian
	}
	d.order = order
	ifd := int64(order.Uint32(data[4:]))
	if ifd+2 > int64(len(data)) {
		return d
	}
	n := int64(order.Uint16(data[ifd:]))
	for i := range n {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(data)) {
			break
		}
		v := int(order.Uint16(data[e+8:])) // a SHORT, the first of the value field
		switch order.Uint16(data[e:]) {
		case 259:
			d.compression = v
		case 262:
			d.photometric = v
		case 266:
			d.fill = v
		case 277:
			d.samples = v
		case 284:
			d.planar = v
		case 317:
			d.predictor = v
			if order.Uint16(data[e+2:]) == 3 && order.Uint32(data[e+4:]) == 1 {
				d.predictorAt = int(e + 8)
			}
		case 338:
			if order.Uint16(data[e+2:]) == 3 && order.Uint32(data[e+4:]) == 1 {
				d.extraAt = int(e + 8)
			}
		case 258, 273, 324, 279, 325: // BitsPerSample, StripOffsets, TileOffsets, StripByteCounts, TileByteCounts
			typ, n := order.Uint16(data[e+2:]), int64(order.Uint32(data[e+4:]))
			if typ != 3 && typ != 4 {
				break
			}
			v := tiffValues{long: typ == 4, n: n, at: e + 8}
			if n*v.size() > 4 {
				v.at = int64(order.Uint32(data[e+8:]))
			}
			switch tag := order.Uint16(data[e:]); tag {
			case 258:
				d.bits = v
			case 273, 324:
				d.offsets, d.tiled = v, tag == 324
			default:
				d.counts = v
			}
		}
	}
	return d
}

// tiffRatio is the most that a TIFF compression expands its data, by its Compression tag: none;
// PackBits (128 bytes from 2); Deflate (1032 to 1, a 258-byte match in two bits); LZW (a code of
// at least 9 bits for at most 4096 bytes). Others (JPEG, fax) are not bounded here.
var tiffRatio = map[int]int64{1: 1, 32773: 64, 8: 1032, 32946: 1032, 5: 4096}

// tiffCutShort refuses a TIFF of at most MaxImagePixels (checkPixels comes first), of directory
// d: a compressed one with a strip or tile that lies past the end of the file (libtiff recomputes the byte counts of an
// uncompressed one); or one whose strips or tiles (the file, uncompressed) hold too few bytes for
// its width x height pixels at its compression's largest ratio; or returns nil. Both decoders
// would fail on it after allocating its pixels (up to MaxImagePixels from a header of a hundred
// bytes).
func tiffCutShort(data []byte, d tiffIFD, width, height int) error {
	block := "strip"
	if d.tiled {
		block = "tile"
	}
	have := int64(len(data))
	if d.compression != 1 {
		have = 0
		for i := range min(d.offsets.n, d.counts.n, 1<<20) {
			off, n := d.offsets.get(data, d.order, i), d.counts.get(data, d.order, i)
			if off < 0 || n < 0 {
				return nil // the decoders say what is wrong
			}
			if off+n > int64(len(data)) {
				return fmt.Errorf("TIFF file cut short: its %s %d ends at byte %d, past the file's %d", block, i, off+n, len(data))
			}
			have += n
		}
	}
	bits := d.bits.get(data, d.order, 0)
	if d.bits.n == 0 {
		bits = 1 // the default
	}
	// (Without StripByteCounts, which libtiff estimates: not bounded.)
	if d.counts.n == 0 || d.offsets.n > 1<<20 {
		return nil
	}
	return tiffTooSmall(block, have, d.compression, d.photometric, int64(d.samples), bits, width, height)
}

// tiffTooSmall returns an error when a TIFF's blocks (strips or tiles), holding have bytes (the
// file's length when uncompressed), are too few for width x height pixels of samples of bits
// under compression at its largest expansion (tiffRatio), or nil. Subsampled YCbCr (photometric
// 6) is not bounded.
func tiffTooSmall(block string, have int64, compression, photometric int, samples, bits int64, width, height int) error {
	if ratio := tiffRatio[compression]; ratio > 0 && bits > 0 && photometric != 6 {
		if need := int64(width) * int64(height) * samples * bits / 8 / ratio; have < need {
			what := fmt.Sprintf("its %ss hold", block)
			if compression == 1 {
				what = "it holds"
			}
			return fmt.Errorf("TIFF file cut short or damaged: %s %d bytes, fewer than the %d that %dx%d pixels take at the least", what, have, need, width, height)
		}
	}
	return nil
}

// tiffRGBX returns a copy of an RGB TIFF file whose fourth sample has no meaning (ExtraSamples 0,
// PIL's RGBX), which Go's decoder refuses ("wrong number of samples for RGB"), saying instead that
// it is unassociated alpha, which is then dropped: the RGB is the file's. Other files: nil.
func tiffRGBX(data []byte, d tiffIFD) []byte {
	if d.photometric != 2 || d.samples != 4 || d.extraAt == 0 || data[d.extraAt] != 0 || data[d.extraAt+1] != 0 {
		return nil
	}
	out := bytes.Clone(data)
	if data[0] == 'M' {
		out[d.extraAt+1] = 2
	} else {
		out[d.extraAt] = 2
	}
	return out
}

// tiffPredictorIgnored reports whether the first image of a TIFF file has a Predictor tag, one
// SHORT other than 1, that libtiff and PIL ignore: the file is uncompressed or PackBits (the
// predictor is a tag of the LZW and Deflate codecs).
func tiffPredictorIgnored(d tiffIFD) bool {
	return d.predictor != 1 && d.predictorAt != 0 && (d.compression == 1 || d.compression == 32773)
}

// tiffWithoutPredictor returns a copy of a TIFF file whose Predictor tag libtiff and PIL ignore
// (tiffPredictorIgnored), with the tag saying 1 (none): Go's decoder undoes the horizontal
// differencing whatever the compression. Other files: nil.
func tiffWithoutPredictor(data []byte, d tiffIFD) []byte {
	if !tiffPredictorIgnored(d) {
		return nil
	}
	out := bytes.Clone(data)
	if data[0] == 'M' {
		out[d.predictorAt], out[d.predictorAt+1] = 0, 1
	} else {
		out[d.predictorAt], out[d.predictorAt+1] = 1, 0
	}
	return out
}

// jpegCutShort refuses a Huffman-coded JPEG of n bytes that is too short for width x height pixels
// (at most MaxImagePixels: checkPixels comes first), or returns nil: each 8x8 block of every scan takes at least one bit, and a component is
// at most 4 times subsampled each way, so such a JPEG holds at least a bit per 32x32 pixels. A
// header of a few dozen bytes can declare up to MaxImagePixels, which both decoders allocate
// before they find the data missing (and libjpeg also a coefficient buffer for a progressive
// one). Arithmetic coding, which libjpeg reads, can take less than a bit a block: not checked.
func jpegCutShort(n, width, height int, arith bool) error {
	if need := ((width+31)/32*((height+31)/32) + 7) / 8; !arith && n < need {
		return fmt.Errorf("JPEG file cut short: %d bytes, fewer than the %d that %dx%d pixels take at the least", n, need, width, height)
	}
	return nil
}

// checkPixels refuses an image of width x height pixels that is larger than MaxImagePixels.
func checkPixels(width, height int) error {
	// Each side first: two sides of up to 2³² (a TIFF's) overflow their product in int64.
	if n := int64(width) * int64(height); width > MaxImagePixels || height > MaxImagePixels || n > MaxImagePixels {
		return fmt.Errorf("image of %dx%d pixels (%.0f), more than the %d decoded (PIL's limit against decompression bombs): resize it to fewer pixels",
			width, height, float64(width)*float64(height), MaxImagePixels)
	}
	return nil
}

// DecodeImage decodes an image (JPEG, PNG, WebP, TIFF, BMP, PPM or PGM: the formats of torchvision's
// ImageFolder; and HEIC or AVIF with libheif) to 8-bit RGB at its full size, as PIL's
// Image.open(f).convert("RGB") does: grayscale is replicated into the three channels, palettes are
// looked up, alpha is dropped (not composited), 16-bit samples keep their high byte, CMYK is
// converted with PIL's formula. EXIF orientation is not applied (neither PIL nor torchvision apply
// it by default), except a TIFF's Orientation tag, which PIL applies when it loads the image; a
// HEIC or AVIF file's rotation and mirroring boxes are applied, as pillow-heif applies them. An
// image of more than MaxImagePixels pixels is refused from its header.
func DecodeImage(data []byte) (Image, error) {
	img, err := decodeImage(data, 1)
	if err != nil {
		return Image{}, err
	}
	return orientImage(img, orientation(data, false)), nil
}

// decodeImage is DecodeImage as stored (no orientation applied), allowing a JPEG to be decoded at 1/reduce of its size (reduce 1, 2,
// 4 or 8) through libjpeg's DCT scaling, as PIL's draft mode does. Decoders that cannot scale
// return the full image: callers read the size of the result.
func decodeImage(data []byte, reduce int) (Image, error) {
	if imageFormat(data) == "jpeg" && jpegLib() == nil {
		// libjpeg reads the header first, and the pixel count is checked there.
		if img, ok, err := decodeJPEGLib(data, reduce); ok {
			return img, err
		}
	}
	// Go's decoders allocate from the header: its size is checked first.
	h, w, err := ImageSize(data)
	if err != nil {
		return Image{}, err
	}
	var (
		m image.Image
		r = bytes.NewReader(data)
	)
	switch format := imageFormat(data); format {
	case "jpeg":
		m, err = jpeg.Decode(r)
	case "png":
		if img, ok := decodePNGLib(data, h, w); ok {
			return img, nil
		}
		return decodePNGGo(data)
	case "webp":
		if webpAnimated(data) {
			return decodeWebPAnimLib(data, h, w)
		}
		if img, ok, err := decodeWebPLib(data); ok {
			return img, err
		}
		var rd io.Reader = r
		if vp8l := webpLossless(data); vp8l != nil {
			rd = vp8l
		}
		m, err = webp.Decode(rd)
		switch lossy := m.(type) {
		case *image.YCbCr: // VP8: studio-range Y'CbCr, not image.YCbCr's full range
			return webpToRGB(lossy), nil
		case *image.NYCbCrA: // alpha is dropped, as everywhere
			return webpToRGB(&lossy.YCbCr), nil
		}
	case "tiff":
		if isBigTIFF(data) {
			return decodeBigTIFF(data, h, w)
		}
		d := readTIFFIFD(data)
		img, ok, libErr := decodeTIFFLib(data, d, h, w)
		if ok {
			return img, nil
		}
		img, err = decodeTIFFGo(data, d)
		var unsupported tiff.UnsupportedError
		switch {
		case err == nil || libErr == nil || ranOut(err):
			return img, err // (a file cut short is one whatever libtiff says)
		case errors.As(err, &unsupported): // a layout libtiff reads and Go's decoder does not
			return Image{}, libErr
		}
		return Image{}, fmt.Errorf("%w (libtiff: %v)", err, libErr)
	case "bmp":
		m, err = bmp.Decode(r)
	case "pnm":
		return decodePNM(data)
	case "heif":
		img, err := decodeHEIFLib(data, h, w)
		if err != nil {
			return Image{}, heifErr(data, err)
		}
		return img, nil
	default:
		return Image{}, errNotImage
	}
	if err != nil {
		return Image{}, formatErr(imageFormat(data), err)
	}
	return toRGB(m), nil
}

// decodePNGGo decodes a PNG with Go's decoder, after ImageSize.
func decodePNGGo(data []byte) (Image, error) {
	m, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return Image{}, formatErr("png", err)
	}
	if p, ok := m.(*image.Paletted); ok {
		// Go's decoder extends the palette with black up to the largest index in the file.
		p.Palette = p.Palette[:min(len(p.Palette), pngPaletteLen(data))]
	}
	return toRGB(m), nil
}

// decodeTIFFGo decodes a TIFF of directory d (readTIFFIFD) with Go's decoder, after ImageSize.
func decodeTIFFGo(data []byte, d tiffIFD) (Image, error) {
	if d.fill == 2 && d.compression != 3 && d.compression != 4 {
		return Image{}, errors.New("a TIFF whose bytes hold their bits from the least significant (FillOrder 2), which Go's TIFF decoder " +
			"reads reversed outside fax compression (libtiff and PIL read it: install libtiff, Debian's libtiff6), or convert the file to PNG")
	}
	if rgbx := tiffRGBX(data, d); rgbx != nil {
		data = rgbx
	}
	if none := tiffWithoutPredictor(data, d); none != nil { // (the directory is where it was)
		data = none
	}
	m, err := tiff.Decode(bytes.NewReader(data))
	if err != nil {
		return Image{}, formatErr("tiff", err)
	}
	if img, ok := unpremultiply(m); ok {
		return img, nil
	}
	return toRGB(m), nil
}

// pngCutShort refuses a PNG of at most MaxImagePixels (checkPixels comes first) whose image data (its IDAT chunks, as far as the file holds them) is
// too short for its width x height pixels, or returns nil: deflate compresses at most 1032 to 1 (a
// 258-byte match in two bits), and a header of 33 bytes can declare up to MaxImagePixels, which
// both decoders allocate before they find the data missing.
func pngCutShort(data []byte, width, height int) error {
	if len(data) < 26 {
		return nil // the decoder says what is wrong
	}
	channels := map[byte]int64{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[data[25]]
	bits := int64(width) * int64(height) * int64(data[24]) * channels
	var have int64
	for c := range chunks(data, false) {
		if c.id == "IDAT" {
			have += min(c.n, int64(len(data))-c.at)
		}
	}
	if need := bits / 8 / 1032; have < need {
		return fmt.Errorf("PNG file cut short: %d bytes of image data (IDAT), fewer than the %d that %dx%d pixels take at the least", have, need, width, height)
	}
	return nil
}

// pngPaletteLen returns the number of colors in a PNG's PLTE chunk (0 without one), found by
// walking its chunks from the signature.
func pngPaletteLen(data []byte) int {
	for c := range chunks(data, false) {
		switch c.id {
		case "PLTE":
			return int(c.n / 3)
		case "IDAT", "IEND":
			return 0
		}
	}
	return 0
}

// chunk is a chunk of a PNG or RIFF (WebP) file: its type, and the offset and the declared length
// of its data, which may reach past the end of a file cut short.
type chunk struct {
	id    string
	at, n int64
}

// chunks yields the chunks of a PNG file (after its 8-byte signature: a big-endian length, the
// type, the data, a CRC) or, with riff, of a RIFF file (after its 12-byte header: the type, a
// little-endian length, the data padded to an even length) whose headers lie in data, and stops
// after one that reaches past its end.
func chunks(data []byte, riff bool) iter.Seq[chunk] {
	return func(yield func(chunk) bool) {
		p := int64(8)
		if riff {
			p = 12
		}
		for p+8 <= int64(len(data)) {
			c := chunk{at: p + 8}
			if riff {
				c.id, c.n = string(data[p:p+4]), int64(binary.LittleEndian.Uint32(data[p+4:]))
				p = c.at + c.n + c.n&1
			} else {
				c.n, c.id = int64(binary.BigEndian.Uint32(data[p:])), string(data[p+4:p+8])
				p = c.at + c.n + 4
			}
			if !yield(c) {
				return
			}
		}
	}
}

// bmpCutShort returns an error when an uncompressed BMP file (what Go's decoder reads, its header
// checked first) holds fewer bytes of pixels than its header declares, or nil: Go's decoder
// allocates the pixels first, and an 80-byte file can declare up to MaxImagePixels. The rows are
// read from the header's pixel offset, each padded to 4 bytes, the last one too.
func bmpCutShort(data []byte) error {
	if len(data) < 30 {
		return nil // the decoder says why
	}
	u32 := func(i int) int64 { return int64(binary.LittleEndian.Uint32(data[i:])) }
	w, h := int64(int32(u32(18))), int64(int32(u32(22)))
	bpp := int64(binary.LittleEndian.Uint16(data[28:]))
	if w*max(h, -h) > MaxImagePixels {
		return nil // over the limit (checkPixels refuses it first); the product below could overflow
	}
	need := (w*bpp + 31) / 32 * 4 * max(h, -h)
	if have := int64(len(data)) - u32(10); need > 0 && have < need {
		return fmt.Errorf("BMP file cut short: %d bytes of pixels, want %d", max(have, 0), need)
	}
	return nil
}

// unpremultiply converts a TIFF's associated (premultiplied) alpha, ExtraSamples 1, which Go's
// decoder returns as image.RGBA or RGBA64 (RGB without alpha too, opaque), to RGB as PIL does: each
// channel v·255/alpha rounded down and clipped to 255, and 0 where alpha is 0 (16-bit samples:
// their high bytes). It reports false for other kinds of image.
func unpremultiply(m image.Image) (Image, bool) {
	var (
		src             []uint8
		stride, bpp, bs int
	)
	switch m := m.(type) {
	case *image.RGBA:
		src, stride, bpp, bs = m.Pix, m.Stride, 4, 1
	case *image.RGBA64:
		src, stride, bpp, bs = m.Pix, m.Stride, 8, 2
	default:
		return Image{}, false
	}
	b := m.Bounds()
	h, w := b.Dy(), b.Dx()
	out := Image{Pix: make([]uint8, h*w*3), H: h, W: w, C: 3}
	for y := range h {
		s := src[y*stride : y*stride+w*bpp]
		row := out.Pix[y*w*3 : (y+1)*w*3]
		for x := range w {
			p := s[x*bpp : (x+1)*bpp]
			r, g, bl, a := p[0], p[bs], p[2*bs], p[3*bs]
			if a != 255 { // opaque pixels (all of them in a TIFF without alpha) are copied
				r, g, bl = unpremultiplied(r, a), unpremultiplied(g, a), unpremultiplied(bl, a)
			}
			row[3*x], row[3*x+1], row[3*x+2] = r, g, bl
		}
	}
	return out, true
}

// unpremultiplied is PIL's v·255/a rounded down and clipped to 255, 0 where a is 0.
func unpremultiplied(v, a uint8) uint8 {
	if a == 0 {
		return 0
	}
	return uint8(min(255, int(v)*255/int(a)))
}

// ranOut reports whether a decoder's error is that it ran out of bytes.
func ranOut(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }

// formatErr adds to a decoder's error what it means: when the decoder ran out of bytes, that the
// file is cut short; when the file is of a variant of its format that the decoder does not read
// (PIL reads most of them), what to do.
func formatErr(format string, err error) error {
	if ranOut(err) || format == "png" && strings.Contains(err.Error(), "not enough pixel data") { // image/png's words for the same
		return fmt.Errorf("%s file cut short (%w): a copy or download that did not finish?", strings.ToUpper(format), err)
	}
	var unsupported tiff.UnsupportedError
	if errors.As(err, &unsupported) || errors.Is(err, bmp.ErrUnsupported) ||
		format == "webp" && strings.Contains(err.Error(), "not implemented") {
		todo := "convert the file to PNG"
		if more := "which reads more of them (CMYK, JPEG, gray and alpha, 2 and 4 bits, a plane per channel)"; format == "tiff" && libtiff.forced() {
			todo = "unset VICREG_TIFF=go to use libtiff, " + more + ", or " + todo
		} else if format == "tiff" && tiffLib() != nil {
			todo = "install libtiff (Debian's libtiff6), " + more + ", or " + todo
		}
		return fmt.Errorf("%w: a %s variant that is not decoded here; %s", err, strings.ToUpper(format), todo)
	}
	if format == "bmp" && strings.Contains(err.Error(), "invalid palette index") { // x/image/bmp's unexported error
		return fmt.Errorf("%w: a pixel indexes past the end of the palette (PIL reads it as gray); convert the file to PNG", err)
	}
	return err
}

// JPEGDecoder says which JPEG decoder is in use, and why when it is Go's: log it, or print it with
// the backend information.
func JPEGDecoder() string { return libjpeg.describe() }

// WebPDecoder says which WebP decoder is in use, and why when it is Go's.
func WebPDecoder() string { return libwebp.describe() }

// PNGDecoder says which PNG decoder is in use, and why when it is Go's.
func PNGDecoder() string { return libpng.describe() }

// TIFFDecoder says which TIFF decoder is in use, and why when it is Go's.
func TIFFDecoder() string { return libtiff.describe() }

// nativeDecoder is a C decoder library, opened on first use unless its environment variable
// is "go", which forces Go's decoder.
type nativeDecoder struct {
	env       string       // VICREG_JPEG, VICREG_WEBP, VICREG_PNG, VICREG_TIFF
	load      func() error // opens the library
	name      func() string
	lib       string // the library's name, for a message
	goDecoder string // Go's decoder, and how it compares
	once      sync.Once
	err       error
}

// describe says which decoder is in use: the library (its version and file), or Go's decoder and
// why the library is not used.
func (d *nativeDecoder) describe() string {
	if err := d.unavailable(); err != nil {
		return fmt.Sprintf("%s; %s not used: %v)", d.goDecoder, d.lib, err)
	}
	return d.name()
}

// forced reports whether Go's decoder is asked for in the environment (VICREG_TIFF=go, ...).
func (d *nativeDecoder) forced() bool { return strings.EqualFold(os.Getenv(d.env), "go") }

// unavailable returns nil when the library is loaded and to be used, or why not.
func (d *nativeDecoder) unavailable() error {
	d.once.Do(func() {
		if d.forced() {
			d.err = errors.New(d.env + "=go")
			return
		}
		d.err = d.load()
	})
	return d.err
}

var (
	libjpeg = &nativeDecoder{env: "VICREG_JPEG", load: loadLibjpeg, name: libjpegName, lib: "libjpeg-turbo",
		goDecoder: "Go image/jpeg (pure Go"}
	libwebp = &nativeDecoder{env: "VICREG_WEBP", load: loadLibwebp, name: libwebpName, lib: "libwebp",
		goDecoder: "Go x/image/webp (pure Go, about 3 times slower"}
	libpng = &nativeDecoder{env: "VICREG_PNG", load: loadLibpng, name: libpngName, lib: "libpng",
		goDecoder: "Go image/png (pure Go, about 1.5 times slower"}
	libtiff = &nativeDecoder{env: "VICREG_TIFF", load: loadLibtiff, name: libtiffName, lib: "libtiff",
		goDecoder: "Go x/image/tiff (pure Go, 3 to 5 times slower"}
	libheif = &nativeDecoder{env: "VICREG_HEIF", load: loadLibheif, name: libheifName, lib: "libheif",
		goDecoder: "none (HEIC and AVIF images are refused"}
)

// heifLib returns nil when libheif is loaded and to be used, or why not.
func heifLib() error { return libheif.unavailable() }

// HEIFDecoder says which HEIC and AVIF decoder is in use, or why there is none.
func HEIFDecoder() string { return libheif.describe() }

// heifErr says what went wrong with a HEIC or AVIF file: libheif's message (a file cut short said
// so), or why there is no decoder, and what to do.
func heifErr(data []byte, err error) error {
	kind := heifKind(data)
	if lerr := heifLib(); lerr != nil {
		return fmt.Errorf("a %s image, which is decoded with libheif only, and libheif is not used (%v): install it (Debian and Ubuntu: apt install libheif1), or convert the image to JPEG or PNG", kind, lerr)
	}
	if heifCutShort(data) || strings.Contains(err.Error(), "libheif error 2/100)") { // heif_error_Invalid_input, heif_suberror_End_of_data
		return fmt.Errorf("%s file cut short (%w): a copy or download that did not finish?", kind, err)
	}
	return fmt.Errorf("%s image: %w", kind, err)
}

// heifCutShort reports whether a HEIF file ends inside one of its top-level boxes (ISO BMFF: each
// a 32-bit size, or 1 and a 64-bit size after the type, or 0 for "to the end").
func heifCutShort(data []byte) bool {
	for pos := uint64(0); pos < uint64(len(data)); {
		rest := uint64(len(data)) - pos
		if rest < 8 {
			return true
		}
		size := uint64(binary.BigEndian.Uint32(data[pos:]))
		switch size {
		case 0:
			return false
		case 1:
			if rest < 16 {
				return true
			}
			size = binary.BigEndian.Uint64(data[pos+8:])
		}
		if size < 8 || size > rest {
			return size > rest
		}
		pos += size
	}
	return false
}

// jpegLib returns nil when libjpeg-turbo is loaded and to be used, or why not.
func jpegLib() error { return libjpeg.unavailable() }

// webpLib returns nil when libwebp is loaded and to be used, or why not.
func webpLib() error { return libwebp.unavailable() }

// pngLib returns nil when libpng is loaded and to be used, or why not.
func pngLib() error { return libpng.unavailable() }

// tiffLib returns nil when libtiff is loaded and to be used, or why not.
func tiffLib() error { return libtiff.unavailable() }

// toRGB converts a decoded image to RGB bytes in HWC order, with PIL's convert("RGB") semantics.
func toRGB(m image.Image) Image {
	b := m.Bounds()
	h, w := b.Dy(), b.Dx()
	out := Image{Pix: make([]uint8, h*w*3), H: h, W: w, C: 3}
	pix := out.Pix
	switch m := m.(type) {
	case *image.YCbCr:
		ycbcrToRGB(pix, m)
	case *image.Gray:
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+w]
			row := pix[y*w*3 : (y+1)*w*3]
			for x, v := range src {
				row[3*x], row[3*x+1], row[3*x+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+2*w]
			row := pix[y*w*3 : (y+1)*w*3]
			for x := range w {
				v := src[2*x] // high byte (big-endian)
				row[3*x], row[3*x+1], row[3*x+2] = v, v, v
			}
		}
	case *image.RGBA:
		copyRGB(pix, m.Pix, m.Stride, h, w, 4, 1)
	case *image.NRGBA:
		copyRGB(pix, m.Pix, m.Stride, h, w, 4, 1)
	case *image.RGBA64:
		copyRGB(pix, m.Pix, m.Stride, h, w, 8, 2)
	case *image.NRGBA64:
		copyRGB(pix, m.Pix, m.Stride, h, w, 8, 2)
	case *image.Paletted:
		var lut [256][3]uint8 // an index past the palette's end is gray, as in PIL (its palettes start as a gray ramp)
		for i := range lut {
			lut[i] = [3]uint8{uint8(i), uint8(i), uint8(i)}
		}
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			if rgba, ok := c.(color.RGBA); ok && rgba.A == 255 {
				n = color.NRGBA{rgba.R, rgba.G, rgba.B, 255}
			}
			lut[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+w]
			row := pix[y*w*3 : (y+1)*w*3]
			for x, v := range src {
				c := lut[v]
				row[3*x], row[3*x+1], row[3*x+2] = c[0], c[1], c[2]
			}
		}
	case *image.CMYK:
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+4*w]
			row := pix[y*w*3 : (y+1)*w*3]
			for x := range w {
				r, g, bl := cmykToRGB(src[4*x], src[4*x+1], src[4*x+2], src[4*x+3])
				row[3*x], row[3*x+1], row[3*x+2] = r, g, bl
			}
		}
	default:
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				p := (y*w + x) * 3
				pix[p], pix[p+1], pix[p+2] = c.R, c.G, c.B
			}
		}
	}
	return out
}

// ycbcrToRGB converts with color.YCbCrToRGB, row by row: the chroma samples of a row are found
// once per row and stepped through by the subsampling ratio (what YOffset and COffset compute
// for every pixel).
func ycbcrToRGB(pix []uint8, m *image.YCbCr) {
	b := m.Bounds()
	h, w := b.Dy(), b.Dx()
	sx := 0 // log2 of the horizontal chroma subsampling (COffset of the row handles the vertical)
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
		sx = 1
	case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
		sx = 2
	}
	for y := range h {
		yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		yrow = yrow[:w]
		c0 := m.COffset(b.Min.X, b.Min.Y+y)
		cx0 := b.Min.X >> sx // chroma column of the row's first pixel, in absolute coordinates
		cb, cr := m.Cb[c0:], m.Cr[c0:]
		row := pix[y*w*3 : (y+1)*w*3]
		for x, yv := range yrow {
			ci := (b.Min.X+x)>>sx - cx0
			r, g, bl := color.YCbCrToRGB(yv, cb[ci], cr[ci])
			row[3*x], row[3*x+1], row[3*x+2] = r, g, bl
		}
	}
}

// copyRGB copies the first three channels of an interleaved image of the given bytes per pixel;
// with 2 bytes per sample it keeps the high byte (big-endian).
func copyRGB(dst, src []uint8, stride, h, w, bpp, bps int) {
	for y := range h {
		s := src[y*stride : y*stride+w*bpp]
		row := dst[y*w*3 : (y+1)*w*3]
		for x := range w {
			p := x * bpp
			row[3*x], row[3*x+1], row[3*x+2] = s[p], s[p+bps], s[p+2*bps]
		}
	}
}

// cmykToRGB is PIL's CMYK to RGB conversion: each channel (255-K)·(255-C)/255, rounded.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - int(k)
	conv := func(v uint8) uint8 {
		t := int(v)*nk + 128
		return uint8(nk - ((t + (t >> 8)) >> 8))
	}
	return conv(c), conv(m), conv(y)
}

// decodeFile reads and decodes one image file, turned by its EXIF orientation when orient is set.
func decodeFile(path string, index int, orient bool) (Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Image{}, damagedErr(path, "", index, err)
	}
	img, err := decodeImage(data, 1)
	if err != nil {
		return Image{}, badImageErr(path, "", index, err)
	}
	return orientImage(img, orientation(data, orient)), nil
}
