package datasets

import (
	"errors"
	"fmt"
	"math"
)

// pnmHeader is the header of a Netpbm image: PBM (P1 plain, P4 raw), PGM (P2, P5) or PPM (P3, P6).
type pnmHeader struct {
	magic    byte // '1' to '6'
	w, h     int
	maxval   int // 1 for PBM
	channels int // 3 for PPM, 1 otherwise
	raster   int // offset of the first sample: raw pixels, or the first value of a plain file
}

// plain reports whether the samples are decimal text (P1, P2, P3).
func (p pnmHeader) plain() bool { return p.magic <= '3' }

// isPNM reports whether data starts like a Netpbm image: "P1" to "P6", then white space or a
// comment.
func isPNM(data []byte) bool {
	return len(data) >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' && (isPNMSpace(data[2]) || data[2] == '#')
}

func isPNMSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// pnmScanner reads the decimal values of a Netpbm header or plain raster, skipping white space and
// comments (from # to the end of the line).
type pnmScanner struct {
	data []byte
	pos  int
}

// skip moves past white space and comments.
func (s *pnmScanner) skip() {
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case isPNMSpace(c):
			s.pos++
		case c == '#':
			for s.pos < len(s.data) && s.data[s.pos] != '\n' && s.data[s.pos] != '\r' {
				s.pos++
			}
		default:
			return
		}
	}
}

// next returns the next decimal value, at most limit; digits == 1 reads one digit (plain PBM
// writes its bits without spaces between them). A comment inside a number, with the end of its
// line, is left out of it ("1#c\n5" is 15), as the Netpbm format says and PIL reads it.
func (s *pnmScanner) next(what string, limit, digits int) (int, error) {
	s.skip()
	n, v := 0, 0 // digits read, value
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '#' && n > 0 && digits == 0 {
			for s.pos < len(s.data) && s.data[s.pos] != '\n' && s.data[s.pos] != '\r' {
				s.pos++
			}
			s.pos = min(s.pos+1, len(s.data)) // and its end of line
			continue
		}
		if c < '0' || c > '9' || digits != 0 && n >= digits {
			break
		}
		v = 10*v + int(c-'0')
		if v > limit {
			return 0, fmt.Errorf("PNM %s above %d", what, limit)
		}
		s.pos++
		n++
	}
	if n == 0 {
		if s.pos == len(s.data) {
			return 0, fmt.Errorf("PNM file cut short: no %s", what)
		}
		return 0, fmt.Errorf("PNM %s: %q is not a number", what, s.data[s.pos])
	}
	return v, nil
}

// parsePNMHeader reads the header of a Netpbm image.
func parsePNMHeader(data []byte) (pnmHeader, error) {
	if !isPNM(data) {
		return pnmHeader{}, errNotImage
	}
	p := pnmHeader{magic: data[1], maxval: 1, channels: 1}
	if p.magic == '3' || p.magic == '6' {
		p.channels = 3
	}
	s := &pnmScanner{data: data, pos: 2}
	var err error
	if p.w, err = s.next("width", 1<<24, 0); err != nil {
		return p, err
	}
	if p.h, err = s.next("height", 1<<24, 0); err != nil {
		return p, err
	}
	if p.magic != '1' && p.magic != '4' {
		if p.maxval, err = s.next("maxval", 65535, 0); err != nil {
			return p, err
		}
		if p.maxval == 0 {
			return p, errors.New("PNM maxval 0: want 1 to 65535")
		}
	}
	if p.w == 0 || p.h == 0 {
		return p, fmt.Errorf("image of %dx%d pixels", p.w, p.h)
	}
	if p.plain() {
		p.raster = s.pos
		return p, nil
	}
	// One white space character separates the header from the raw pixels.
	if s.pos >= len(data) || !isPNMSpace(data[s.pos]) {
		return p, errors.New("PNM file cut short after its header")
	}
	p.raster = s.pos + 1
	return p, nil
}

// decodePNM decodes a Netpbm image to 8-bit RGB. Samples are scaled from 0..maxval to 0..255,
// rounded, as PIL scales them (identity for maxval 255), except that PIL 9.4 reads a PGM of maxval
// above 255 as 16-bit gray and clips it to 255 (of maxval 65535, 100 is 0 here and 100 in PIL).
// PBM's 1 is black. A sample above maxval is 255 in a raw file, as in PIL, and an error in a plain
// one (PIL's too).
func decodePNM(data []byte) (Image, error) {
	p, err := parsePNMHeader(data)
	if err != nil {
		return Image{}, err
	}
	if err := checkPixels(p.w, p.h); err != nil {
		return Image{}, err
	}
	n := p.w * p.h * p.channels // samples
	if p.plain() {
		// A digit per sample at least, and a separator between two (but plain PBM's bits).
		need := 2*n - 1
		if p.magic == '1' {
			need = n
		}
		if have := len(data) - p.raster; have < need {
			return Image{}, fmt.Errorf("PNM file cut short: %d bytes of text, too few for %d samples", have, n)
		}
	} else {
		need := n
		switch {
		case p.magic == '4':
			need = (p.w + 7) / 8 * p.h
		case p.maxval > 255:
			need = 2 * n
		}
		if have := len(data) - p.raster; have < need {
			return Image{}, fmt.Errorf("PNM file cut short: %d bytes of pixels, want %d", have, need)
		}
	}
	out := Image{Pix: make([]uint8, p.w*p.h*3), H: p.h, W: p.w, C: 3}
	var lut []uint8 // sample -> 8 bits
	if p.maxval != 255 && p.magic != '1' && p.magic != '4' {
		lut = make([]uint8, p.maxval+1)
		for v := range lut {
			// PIL's min(255, round(v / maxval * 255)): the rounding of a float64, half to even.
			lut[v] = uint8(math.RoundToEven(float64(v) / float64(p.maxval) * 255))
		}
	}
	set := func(i, v int) error { // sample i (in channels) takes value v
		if v > p.maxval {
			if p.plain() { // PIL: "Channel value too large"
				return fmt.Errorf("PNM sample %d above its maxval %d", v, p.maxval)
			}
			v = p.maxval // PIL reads a raw one as 255
		}
		var b uint8
		switch {
		case p.magic == '1' || p.magic == '4':
			b = uint8(255 * (1 - v)) // 1 is black
		case lut != nil:
			b = lut[v]
		default:
			b = uint8(v)
		}
		if p.channels == 3 {
			out.Pix[i] = b
		} else {
			out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = b, b, b
		}
		return nil
	}
	raw := data[p.raster:]
	switch {
	case p.plain():
		s := &pnmScanner{data: data, pos: p.raster}
		digits := 0
		if p.magic == '1' {
			digits = 1
		}
		for i := range n {
			v, err := s.next("sample", 65535, digits)
			if err != nil {
				return Image{}, err
			}
			if err := set(i, v); err != nil {
				return Image{}, err
			}
		}
	case p.magic == '4':
		row := (p.w + 7) / 8
		for y := range p.h {
			for x := range p.w {
				set(y*p.w+x, int(raw[y*row+x/8]>>(7-x%8)&1))
			}
		}
	case p.magic == '6' && p.maxval == 255:
		copy(out.Pix, raw[:n])
	case p.maxval > 255:
		for i := range n {
			if err := set(i, int(raw[2*i])<<8|int(raw[2*i+1])); err != nil {
				return Image{}, err
			}
		}
	default:
		for i := range n {
			if err := set(i, int(raw[i])); err != nil {
				return Image{}, err
			}
		}
	}
	return out, nil
}
