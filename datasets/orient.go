package datasets

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"io"
	"regexp"
	"strings"
)

// EXIF orientation (Options.ExifOrientation): a camera stores a photo as its sensor read it and
// records in its EXIF data how to turn it upright (tag 0x0112, values 1 to 8). PIL, and so
// torchvision's ImageFolder, ignore it unless the user calls ImageOps.exif_transpose; with the
// option, an image is turned as exif_transpose turns it, after decoding, and its size for the
// crops is the turned size. The orientation is read where PIL's getexif finds it: in a JPEG's
// APP1 segment, a PNG's eXIf chunk (or the "Raw profile type exif" text that ImageMagick writes,
// or failing an Orientation tag in either, its XMP text), a WebP's EXIF chunk, and a TIFF's first
// directory. A HEIC's or AVIF's rotation is applied by
// libheif in any case; BMP, PPM and PGM have no EXIF data.

// orientable is a data set that may turn its images by their EXIF orientation.
type orientable interface{ exifOriented() bool }

// orientOf reports whether d turns its images by their EXIF orientation.
func orientOf(d Data) bool {
	o, ok := d.(orientable)
	return ok && o.exifOriented()
}

// headerSize returns the size of an encoded image from its header (ImageSize) and the orientation
// o that it is turned by once decoded (orientation): with o from 5 to 8, h and w are those of the
// turned image.
func headerSize(data []byte, orient bool) (h, w, o int, err error) {
	if h, w, err = ImageSize(data); err != nil {
		return 0, 0, 1, err
	}
	o = orientation(data, orient)
	if o >= 5 {
		h, w = w, h
	}
	return h, w, o, nil
}

// orientation returns how an image decoded as stored is to be turned (an EXIF orientation, 1 to
// 8): a TIFF by its Orientation tag in any case, as PIL turns it when it loads it (and so
// torchvision's ImageFolder); another image by its EXIF orientation when orient is set, and not
// otherwise. With orient, a TIFF is turned once, as by Pillow 10.1 and later (Pillow 9.4's
// exif_transpose turns it a second time: python-pillow/Pillow#7381).
func orientation(data []byte, orient bool) int {
	if orient || imageFormat(data) == "tiff" {
		return exifOrientation(data)
	}
	return 1
}

// exifOrientation returns the EXIF orientation (1 to 8) that an encoded image records where PIL's
// getexif reads it, by its format (jpegOrientation, pngOrientation, webpOrientation, or a TIFF's
// first directory); 1 when it records none or one outside 1 to 8 (what PIL's exif_transpose leaves
// as it is), and for the other formats.
func exifOrientation(data []byte) int {
	switch {
	case len(data) >= 2 && data[0] == 0xFF && data[1] == 0xD8:
		return jpegOrientation(data)
	case bytes.HasPrefix(data, pngSignature):
		return pngOrientation(data)
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return webpOrientation(data)
	case bytes.HasPrefix(data, []byte("II")) || bytes.HasPrefix(data, []byte("MM")):
		return tiffOrientation(data)
	}
	return 1
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngOrientation reads the orientation of a PNG's EXIF data as PIL 9.4 finds it: the eXIf chunk
// (a TIFF structure), or failing that a "Raw profile type exif" text chunk (tEXt, zTXt or iTXt:
// ImageMagick's hex dump of an APP1 segment, "Exif\0\0" first); of several, the last, before the
// image data or after it. Where that EXIF data has no Orientation tag, or there is none, the
// orientation is the XMP text's ("XML:com.adobe.xmp", the first tiff:Orientation in it), as PIL
// 9.4's getexif takes it.
func pngOrientation(data []byte) int {
	// The last eXIf chunk, and the texts of the last "Raw profile type exif" and XMP chunks.
	var exif, raw, xmp []byte
	for i := len(pngSignature); i+12 <= len(data); {
		n := int64(binary.BigEndian.Uint32(data[i:]))
		end := int64(i) + 12 + n
		if n > 1<<31 || end > int64(len(data)) {
			break
		}
		kind, body := string(data[i+4:i+8]), data[i+8:int64(i)+8+n]
		switch kind {
		case "eXIf":
			exif = body
		case "tEXt", "zTXt", "iTXt":
			if text := pngText(kind, body, "Raw profile type exif"); text != nil {
				raw = text
			}
			if text := pngText(kind, body, "XML:com.adobe.xmp"); text != nil {
				xmp = text
			}
		case "IEND":
			i = len(data)
			continue
		}
		i = int(end)
	}
	if exif == nil && raw != nil {
		// "\nexif\n    NNN\n" then the hex digits, 72 to a line.
		if lines := strings.Split(string(raw), "\n"); len(lines) >= 4 {
			if dump, err := hex.DecodeString(strings.Join(lines[3:], "")); err == nil {
				exif = bytes.TrimPrefix(dump, []byte("Exif\x00\x00"))
			}
		}
	}
	if o, tagged := tiffOrientationTag(exif); tagged {
		return o
	}
	if m := xmpOrientation.FindSubmatch(xmp); m != nil && m[1][0] != '0' && m[1][0] != '9' {
		return int(m[1][0] - '0')
	}
	return 1
}

// xmpOrientation finds the orientation in XMP text as PIL 9.4's getexif does: an attribute
// (tiff:Orientation="6") or an element (<tiff:Orientation>6</tiff:Orientation>), the first one.
var xmpOrientation = regexp.MustCompile(`tiff:Orientation(?:="|>)([0-9])`)

// pngText returns the text of a PNG text chunk of the given kind and body when its keyword is
// keyword (inflated for zTXt and a compressed iTXt), or nil.
func pngText(kind string, body []byte, keyword string) []byte {
	k := bytes.IndexByte(body, 0)
	if k < 0 || string(body[:k]) != keyword {
		return nil
	}
	rest := body[k+1:]
	compressed := kind == "zTXt"
	if kind == "iTXt" { // compression flag, method, language tag\0, translated keyword\0, text
		if len(rest) < 2 {
			return nil
		}
		compressed = rest[0] == 1
		rest = rest[2:]
		for range 2 {
			z := bytes.IndexByte(rest, 0)
			if z < 0 {
				return nil
			}
			rest = rest[z+1:]
		}
	} else if compressed { // compression method
		if len(rest) < 1 {
			return nil
		}
		rest = rest[1:]
	}
	if !compressed {
		return rest
	}
	r, err := zlib.NewReader(bytes.NewReader(rest))
	if err != nil {
		return nil
	}
	text, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil
	}
	return text
}

// webpOrientation reads the orientation in a WebP's EXIF chunk (a TIFF structure, "Exif\0\0"
// first or not: PIL takes both).
func webpOrientation(data []byte) int {
	for i := 12; i+8 <= len(data); {
		n := int64(binary.LittleEndian.Uint32(data[i+4:]))
		end := int64(i) + 8 + n
		if end > int64(len(data)) {
			break
		}
		if string(data[i:i+4]) == "EXIF" {
			return tiffOrientation(bytes.TrimPrefix(data[i+8:end], []byte("Exif\x00\x00")))
		}
		i = int(end + n%2) // chunks are padded to an even size
	}
	return 1
}

// jpegOrientation returns the orientation (1 to 8) that a JPEG's first EXIF segment (APP1,
// "Exif\0", as PIL reads it) records in its first IFD, or 1 when it records none, one outside 1
// to 8, or the data is not such a JPEG: what PIL's exif_transpose leaves as it is.
func jpegOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return 1
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0xDA || marker == 0xD9: // the image data (SOS), or its end: no EXIF before
			return 1
		case marker >= 0xD0 && marker <= 0xD7 || marker == 0x01: // markers without a length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return 1
		}
		if seg := data[i+4 : i+2+n]; marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00")) && len(seg) >= 6 {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads the Orientation tag of the first IFD of the TIFF structure t: EXIF's, or
// a TIFF file, classic or BigTIFF (64-bit offsets).
func tiffOrientation(t []byte) int {
	o, _ := tiffOrientationTag(t)
	return o
}

// tiffOrientationTag is tiffOrientation, and whether the directory has an Orientation entry at
// all, whatever its value (PIL's "0x0112 in exif").
func tiffOrientationTag(t []byte) (o int, tagged bool) {
	if len(t) < 8 {
		return 1, false
	}
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1, tagged
	}
	// The layout of a directory: where it starts, the size of its entry count, of an entry, and
	// of the count field within an entry.
	var ifd, countSize, entrySize int64
	switch order.Uint16(t[2:]) {
	case 42:
		ifd, countSize, entrySize = int64(order.Uint32(t[4:])), 2, 12
	case 43:
		if len(t) < 16 || order.Uint16(t[4:]) != 8 {
			return 1, tagged
		}
		ifd, countSize, entrySize = int64(order.Uint64(t[8:])), 8, 20
	default:
		return 1, tagged
	}
	if ifd < 8 || ifd > int64(len(t))-countSize {
		return 1, tagged
	}
	n := int64(order.Uint16(t[ifd:]))
	if countSize == 8 {
		n = int64(min(order.Uint64(t[ifd:]), 1<<16))
	}
	for k := range n {
		e := ifd + countSize + entrySize*k
		if e+entrySize > int64(len(t)) {
			return 1, tagged
		}
		count := int64(order.Uint32(t[e+4:]))
		value := e + 8
		if entrySize == 20 {
			count, value = int64(min(order.Uint64(t[e+4:]), 2)), e+12
		}
		if order.Uint16(t[e:]) != 0x0112 {
			continue
		}
		tagged = true
		if count != 1 {
			continue
		}
		var v int
		switch order.Uint16(t[e+2:]) {
		case 3: // SHORT
			v = int(order.Uint16(t[value:]))
		case 4: // LONG
			v = int(order.Uint32(t[value:]))
		default:
			return 1, tagged
		}
		if v < 1 || v > 8 {
			return 1, tagged
		}
		return v, true
	}
	return 1, tagged
}

// orientImage returns img turned as EXIF orientation o asks (PIL's ImageOps.exif_transpose: 2
// mirrored left to right, 3 turned half a turn, 4 mirrored top to bottom, 5 transposed, 6 turned
// a quarter clockwise, 7 transversed, 8 a quarter anticlockwise); img itself for 1.
func orientImage(img Image, o int) Image {
	if o < 2 || o > 8 {
		return img
	}
	h, w, c := img.H, img.W, img.C
	out := Image{H: h, W: w, C: c, Pix: make([]uint8, len(img.Pix))}
	if o >= 5 {
		out.H, out.W = w, h
	}
	// src gives the pixel of img at output row y and column x.
	src := map[int]func(y, x int) (int, int){
		2: func(y, x int) (int, int) { return y, w - 1 - x },
		3: func(y, x int) (int, int) { return h - 1 - y, w - 1 - x },
		4: func(y, x int) (int, int) { return h - 1 - y, x },
		5: func(y, x int) (int, int) { return x, y },
		6: func(y, x int) (int, int) { return h - 1 - x, y },
		7: func(y, x int) (int, int) { return h - 1 - x, w - 1 - y },
		8: func(y, x int) (int, int) { return x, w - 1 - y },
	}[o]
	// Along an output row the source moves by a fixed step: each row's first pixel and the step
	// come from the mapping. A quarter turn reads the source down its columns, so the output is
	// written in tiles whose source rows stay in the cache.
	const tile = 64
	for ty := 0; ty < out.H; ty += tile {
		for tx := 0; tx < out.W; tx += tile {
			for y := ty; y < min(ty+tile, out.H); y++ {
				sy, sx := src(y, tx)
				at := (sy*w + sx) * c
				sy1, sx1 := src(y, tx+1) // the mapping is affine: past the edge too
				step := (sy1*w+sx1)*c - at
				row := out.Pix[(y*out.W+tx)*c : (y*out.W+min(tx+tile, out.W))*c]
				if c == 3 {
					for x := 0; x < len(row); x += 3 {
						p := img.Pix[at : at+3 : at+3]
						row[x], row[x+1], row[x+2] = p[0], p[1], p[2]
						at += step
					}
					continue
				}
				for x := 0; x < len(row); x += c {
					copy(row[x:x+c], img.Pix[at:at+c])
					at += step
				}
			}
		}
	}
	return out
}
