package datasets

import (
	"bytes"
	"encoding/binary"
)

// EXIF orientation (Options.ExifOrientation): a camera stores a photo as its sensor read it and
// records in the JPEG's EXIF data how to turn it upright (tag 0x0112, values 1 to 8). PIL, and so
// torchvision's ImageFolder, ignore it unless the user calls ImageOps.exif_transpose; with the
// option, a JPEG is turned as exif_transpose turns it, after decoding, and its size for the crops
// is the turned size. Other formats are read as stored (a HEIC's rotation is applied by libheif
// in any case).

// orientable is a data set that may turn its JPEGs by their EXIF orientation.
type orientable interface{ exifOriented() bool }

// orientOf reports whether d turns its JPEGs by their EXIF orientation.
func orientOf(d Data) bool {
	o, ok := d.(orientable)
	return ok && o.exifOriented()
}

// headerSize returns the size of an encoded image from its header (ImageSize) and, when orient is
// set, the EXIF orientation o of a JPEG (1 for other formats, or none): with o from 5 to 8, h and
// w are those of the turned image.
func headerSize(data []byte, orient bool) (h, w, o int, err error) {
	if h, w, err = ImageSize(data); err != nil {
		return 0, 0, 1, err
	}
	o = 1
	if orient {
		o = jpegOrientation(data)
	}
	if o >= 5 {
		h, w = w, h
	}
	return h, w, o, nil
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

// tiffOrientation reads the Orientation tag of the first IFD of the TIFF structure t (EXIF's).
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	if order.Uint16(t[2:]) != 42 {
		return 1
	}
	ifd := int64(order.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 1
	}
	n := int64(order.Uint16(t[ifd:]))
	for k := range n {
		e := ifd + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 1
		}
		if order.Uint16(t[e:]) != 0x0112 || order.Uint32(t[e+4:]) != 1 {
			continue
		}
		var v int
		switch order.Uint16(t[e+2:]) {
		case 3: // SHORT
			v = int(order.Uint16(t[e+8:]))
		case 4: // LONG
			v = int(order.Uint32(t[e+8:]))
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
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
