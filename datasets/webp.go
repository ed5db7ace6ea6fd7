package datasets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"

	"golang.org/x/image/webp"
)

// webpToRGB converts the planes of a lossy WebP (VP8) image to RGB as libwebp does for PIL: the
// 4:2:0 chroma is upsampled with libwebp's "fancy" filter (each pixel weighs its four nearest
// chroma samples 9:3:3:1; at the image's edges the missing samples are the nearest ones), and
// Y'CbCr is BT.601 studio range (Y' 16 to 235), not JPEG's full range that image.YCbCr assumes.
// The arithmetic is libwebp's 14-bit fixed point, so that the result equals PIL's.
func webpToRGB(m *image.YCbCr) Image {
	b := m.Bounds()
	h, w := b.Dy(), b.Dx()
	out := Image{Pix: make([]uint8, h*w*3), H: h, W: w, C: 3}
	cw, ch := (w+1)/2, (h+1)/2
	clamp := func(v, n int) int { return max(0, min(v, n-1)) }
	// near and far chroma index of luma coordinate v: the sample whose centre is nearest, and the
	// next nearest on the other side (the same at an edge).
	nearFar := func(v, n int) (int, int) {
		near := v >> 1
		if v&1 == 1 {
			return clamp(near, n), clamp(near+1, n)
		}
		return clamp(near, n), clamp(near-1, n)
	}
	cb := make([]int32, w) // a row of upsampled chroma
	cr := make([]int32, w)
	for y := range h {
		ny, fy := nearFar(y, ch)
		nCb, fCb := m.Cb[m.COffset(b.Min.X, b.Min.Y+2*ny):], m.Cb[m.COffset(b.Min.X, b.Min.Y+2*fy):]
		nCr, fCr := m.Cr[m.COffset(b.Min.X, b.Min.Y+2*ny):], m.Cr[m.COffset(b.Min.X, b.Min.Y+2*fy):]
		for x := range w {
			nx, fx := nearFar(x, cw)
			cb[x] = fancy(nCb[nx], nCb[fx], fCb[nx], fCb[fx])
			cr[x] = fancy(nCr[nx], nCr[fx], fCr[nx], fCr[fx])
		}
		yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		row := out.Pix[y*w*3 : (y+1)*w*3]
		for x := range w {
			row[3*x], row[3*x+1], row[3*x+2] = studioToRGB(int32(yrow[x]), cb[x], cr[x])
		}
	}
	return out
}

// fancy is libwebp's chroma upsampling of the sample a, given its horizontal neighbour b, its
// vertical neighbour c and the diagonal one d: (9a + 3b + 3c + d + 8)/16, rounded down. (libwebp
// rounds in two steps, to (a + (a + 3b + 3c + d + 8)/8)/2, and at a left or right edge computes
// (3a + c + 2)/4: both equal this.)
func fancy(a, b, c, d uint8) int32 {
	return (9*int32(a) + 3*int32(b) + 3*int32(c) + int32(d) + 8) >> 4
}

// studioToRGB converts BT.601 studio-range Y'CbCr to RGB in libwebp's fixed point: each
// coefficient is scaled by 2^14 and each product keeps its top bits (>> 8), then the sum, in
// units of 1/64, is rounded by the constant term and clipped.
//
//	R = 1.164 (Y'-16) + 1.596 (Cr-128)
//	G = 1.164 (Y'-16) - 0.391 (Cb-128) - 0.813 (Cr-128)
//	B = 1.164 (Y'-16) + 2.018 (Cb-128)
func studioToRGB(y, cb, cr int32) (uint8, uint8, uint8) {
	hi := func(v, k int32) int32 { return v * k >> 8 }
	yy := hi(y, 19077) // 255/219 · 2^14
	r := yy + hi(cr, 26149) - 14234
	g := yy - hi(cb, 6419) - hi(cr, 13320) + 8708
	bl := yy + hi(cb, 33050) - 17685
	return clip6(r), clip6(g), clip6(bl)
}

// clip6 is v/64 clipped to 0..255.
func clip6(v int32) uint8 {
	switch {
	case v < 0:
		return 0
	case v >= 256<<6:
		return 255
	}
	return uint8(v >> 6)
}

// webpFrame returns the image chunk (VP8 lossy or VP8L lossless) of an extended (VP8X) WebP file
// as a simple WebP file of that chunk alone, read in place (nothing is copied), and its kind, or
// nil for other files and files cut short.
func webpFrame(data []byte) (simple io.Reader, fourcc string) {
	if len(data) < 30 || string(data[12:16]) != "VP8X" {
		return nil, ""
	}
	for c := range chunks(data, true) {
		if c.id == "VP8 " || c.id == "VP8L" {
			if c.n > int64(len(data))-c.at {
				return nil, "" // cut short: Go's decoder says so
			}
			whole := data[c.at-8 : c.at+c.n]
			padding := make([]byte, len(whole)%2)
			header := binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(4+len(whole)+len(padding)))
			header = append(header, "WEBP"...)
			return io.MultiReader(bytes.NewReader(header), bytes.NewReader(whole), bytes.NewReader(padding)), c.id
		}
	}
	return nil, ""
}

// webpLossless returns the lossless (VP8L) image of an extended (VP8X) WebP file as a simple WebP
// file of that chunk alone, or nil for other files. libwebp writes a lossless image with alpha and
// metadata (EXIF, ICC, XMP) so, flagging the alpha in the VP8X chunk, and Go's decoder refuses
// that flag beside a VP8L chunk ("invalid format"); the VP8L bitstream carries its own alpha.
func webpLossless(data []byte) io.Reader {
	if simple, id := webpFrame(data); id == "VP8L" {
		return simple
	}
	return nil
}

// checkWebPFrame refuses an extended (VP8X) WebP file whose image is of another size than its
// canvas of width x height pixels, as libwebp does: Go's decoder allocates the image's own size,
// and the canvas is what was checked against MaxImagePixels.
func checkWebPFrame(data []byte, width, height int) error {
	simple, _ := webpFrame(data)
	if simple == nil {
		return nil
	}
	cfg, err := webp.DecodeConfig(simple)
	if err != nil {
		return err
	}
	if cfg.Width != width || cfg.Height != height {
		return fmt.Errorf("a WebP image of %dx%d pixels in a canvas of %dx%d (its VP8X chunk): not a valid WebP file", cfg.Width, cfg.Height, width, height)
	}
	return nil
}

// webpCutShort returns an error when a WebP file does not hold the whole of its image chunk (VP8
// or VP8L), or nil. Its header can declare up to MaxImagePixels in 30 bytes, and both decoders
// allocate the pixels before they find the data missing (libwebp reads the size from the header
// alone); PIL refuses such a file too.
func webpCutShort(data []byte) error {
	if len(data) >= 30 && string(data[12:16]) == "VP8X" {
		if simple, _ := webpFrame(data); simple == nil {
			return errors.New("WebP file cut short: no whole VP8 or VP8L image chunk")
		}
		return nil
	}
	if len(data) < 20 {
		return fmt.Errorf("WebP file cut short: %d bytes", len(data))
	}
	if id := string(data[12:16]); id == "VP8 " || id == "VP8L" {
		if size := binary.LittleEndian.Uint32(data[16:]); int64(size) > int64(len(data)-20) {
			return fmt.Errorf("WebP file cut short: its %s chunk of %d bytes has %d", strings.TrimSpace(id), size, len(data)-20)
		}
	}
	return nil
}

// webpAnimated reports whether a WebP file is extended (VP8X) with its animation flag set.
func webpAnimated(data []byte) bool {
	return len(data) >= 21 && string(data[12:16]) == "VP8X" && data[20]&2 != 0
}

// webpAnimSize reads the canvas size of an animated WebP from its VP8X chunk, and checks that the
// file holds all the bytes its RIFF header declares and a whole first frame (an ANMF chunk), which
// libwebpdemux needs, before the canvas, which can declare up to MaxImagePixels in 30 bytes, is
// allocated.
func webpAnimSize(data []byte) (h, w int, err error) {
	if len(data) < 30 {
		return 0, 0, fmt.Errorf("WebP file cut short: %d bytes", len(data))
	}
	if riff := int64(binary.LittleEndian.Uint32(data[4:])) + 8; riff > int64(len(data)) {
		return 0, 0, fmt.Errorf("WebP file cut short: %d bytes of the %d its header declares (an animation is decoded from the whole file)", len(data), riff)
	}
	w = 1 + (int(data[24]) | int(data[25])<<8 | int(data[26])<<16)
	h = 1 + (int(data[27]) | int(data[28])<<8 | int(data[29])<<16)
	for c := range chunks(data, true) {
		if c.id == "ANMF" {
			if c.n > int64(len(data))-c.at {
				return 0, 0, fmt.Errorf("WebP file cut short: its first frame (ANMF chunk) of %d bytes has %d", c.n, int64(len(data))-c.at)
			}
			return h, w, nil
		}
	}
	return 0, 0, errors.New("WebP file cut short: an animation without a whole frame (ANMF chunk)")
}
