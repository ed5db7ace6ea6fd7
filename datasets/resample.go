package datasets

import (
	"math"
	"math/rand/v2"
)

// Resampling as PIL's Image.resize (libImaging/Resample.c, 8 bits per channel): a separable
// convolution, horizontal pass then vertical pass, each rounded to uint8; the kernel is widened by
// the scale factor when shrinking (antialiasing); weights are fixed-point integers with 22
// fractional bits. Written from the algorithm's description so that our views equal torchvision's
// PIL path pixel for pixel (a test checks it against PIL).

// Filter is a resampling kernel.
type Filter struct {
	name    string
	support float64
	f       func(x float64) float64
}

var (
	// Bicubic is PIL's BICUBIC (Keys' cubic convolution, a = -0.5): torchvision's
	// InterpolationMode.BICUBIC, which the official VICReg code uses for its crops.
	Bicubic = Filter{name: "bicubic", support: 2, f: bicubic}
	// Bilinear is PIL's BILINEAR (the triangle kernel, antialiased when shrinking): torchvision's
	// default interpolation, which its standard evaluation transform (Resize, CenterCrop) uses.
	Bilinear = Filter{name: "bilinear", support: 1, f: triangle}
)

func bicubic(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	if x < 1 {
		return ((a+2)*x-(a+3))*x*x + 1
	}
	if x < 2 {
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

func triangle(x float64) float64 {
	x = math.Abs(x)
	if x < 1 {
		return 1 - x
	}
	return 0
}

const (
	resampleBits = 32 - 8 - 2 // PIL's PRECISION_BITS
	resampleHalf = 1 << (resampleBits - 1)
)

// axis holds the fixed-point weights of one resampling axis: output i reads n[i] input samples
// from first[i] with the weights k[i*ksize:].
type axis struct {
	first, n []int
	k        []int32
	ksize    int
	w        []float64 // scratch: one output's float weights
}

// newAxis computes the weights of outputs from..from+count-1 of an axis of outSize samples that
// resamples the interval [in0, in1) of an input axis of inSize samples (PIL's precompute_coeffs and
// normalize_coeffs_8bpc; input positions are clamped to [0, inSize)). offset is added to every
// input index.
func newAxis(inSize int, in0, in1 float32, outSize, from, count, offset int, flt Filter) axis {
	return newAxisInto(axis{}, inSize, in0, in1, outSize, from, count, offset, flt)
}

// newAxisInto is newAxis reusing the buffers of a.
func newAxisInto(a axis, inSize int, in0, in1 float32, outSize, from, count, offset int, flt Filter) axis {
	scale := float64(in1-in0) / float64(outSize)
	filterScale := max(scale, 1)
	support := flt.support * filterScale
	ksize := int(math.Ceil(support))*2 + 1
	a.first, a.n, a.k, a.ksize = grow(a.first, count), grow(a.n, count), grow(a.k, count*ksize), ksize
	a.w = grow(a.w, ksize)
	w := a.w
	for i := range count {
		xx := from + i
		center := float64(in0) + (float64(xx)+0.5)*scale
		ss := 1 / filterScale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		var sum float64
		for x := range xmax {
			w[x] = flt.f((float64(x+xmin) - center + 0.5) * ss)
			sum += w[x]
		}
		k := a.k[i*ksize : (i+1)*ksize]
		for x := range xmax {
			v := w[x]
			if sum != 0 {
				v /= sum
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<resampleBits))
			} else {
				k[x] = int32(0.5 + v*(1<<resampleBits))
			}
		}
		a.first[i], a.n[i] = xmin+offset, max(xmax, 0)
	}
	return a
}

func clip8(ss int) uint8 {
	v := ss >> resampleBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// grow returns s resized to n elements, reusing its array when it is large enough (the elements
// are not cleared).
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// resampler holds scratch buffers; one per worker.
type resampler struct {
	tmp  []uint8
	acc  []int
	h, v axis
	w    []float64
}

// window describes one resampling: the input region, the size it is resized to, and the window
// of the resized image that is kept.
type window struct {
	// Input axes: inW x inH samples at offset (offX, offY) in the source image; the resized interval
	// is [x0, x1) x [y0, y1) in those coordinates.
	inW, inH, offX, offY int
	x0, x1, y0, y1       float32
	// The resized image is rw x rh; the output is its window of ow x oh pixels at (left, top).
	rw, rh, left, top, ow, oh int
}

// cropWindow is PIL's img.crop(box).resize((size, size)): the box (top, left, ch, cw) of the image
// resized to oh x ow, sampling inside the box only.
func cropWindow(top, left, ch, cw, oh, ow int) window {
	return window{inW: cw, inH: ch, offX: left, offY: top, x1: float32(cw), y1: float32(ch),
		rw: ow, rh: oh, ow: ow, oh: oh}
}

// run resamples src (HWC uint8) through win into dst (oh*ow*c uint8) with the given filter.
func (r *resampler) run(dst []uint8, src Image, win window, flt Filter) {
	c := src.C
	r.h = newAxisInto(r.h, win.inW, win.x0, win.x1, win.rw, win.left, win.ow, win.offX, flt)
	r.v = newAxisInto(r.v, win.inH, win.y0, win.y1, win.rh, win.top, win.oh, win.offY, flt)
	horiz, vert := r.h, r.v
	// Rows of the source that the vertical pass reads.
	rowFirst := vert.first[0]
	rowLast := vert.first[win.oh-1] + vert.n[win.oh-1]
	rows := rowLast - rowFirst
	identityH := win.rw == win.inW && win.x0 == 0 && win.x1 == float32(win.inW) && win.left == 0 && win.ow == win.rw
	identityV := win.rh == win.inH && win.y0 == 0 && win.y1 == float32(win.inH) && win.top == 0 && win.oh == win.rh
	// Horizontal pass into tmp (rows x ow x c), or a view of the source when it is the identity.
	var tmp []uint8
	tmpStride := win.ow * c
	if identityH {
		tmp = src.Pix
		tmpStride = src.W * c
		rowFirst, rows = 0, src.H
		if identityV {
			for y := range win.oh {
				copy(dst[y*win.ow*c:(y+1)*win.ow*c], src.Pix[(win.offY+y)*src.W*c+win.offX*c:])
			}
			return
		}
		// The vertical pass reads columns offX.. of the source rows.
		tmp = src.Pix[win.offX*c:]
	} else {
		if cap(r.tmp) < rows*tmpStride {
			r.tmp = make([]uint8, rows*tmpStride)
		}
		tmp = r.tmp[:rows*tmpStride]
		r.horizontal(tmp, src, rowFirst, rows, horiz)
		if identityV {
			copy(dst, tmp[(vert.first[0]-rowFirst)*tmpStride:])
			return
		}
	}
	r.vertical(dst, tmp, tmpStride, rowFirst, win.ow*c, vert)
}

// horizontal resamples rows first..first+rows-1 of src along x into tmp.
func (r *resampler) horizontal(tmp []uint8, src Image, first, rows int, a axis) {
	c, ow := src.C, len(a.first)
	stride := src.W * c
	for y := range rows {
		in := src.Pix[(first+y)*stride : (first+y+1)*stride]
		out := tmp[y*ow*c : (y+1)*ow*c]
		switch c {
		case 3:
			for xx := range ow {
				n := a.n[xx]
				k := a.k[xx*a.ksize : xx*a.ksize+n]
				s := in[a.first[xx]*3:]
				ss0, ss1, ss2 := resampleHalf, resampleHalf, resampleHalf
				for _, w := range k {
					if len(s) < 3 {
						break // never: the taps lie inside the row
					}
					wi := int(w)
					ss0 += int(s[0]) * wi
					ss1 += int(s[1]) * wi
					ss2 += int(s[2]) * wi
					s = s[3:]
				}
				o := out[3*xx : 3*xx+3 : 3*xx+3]
				o[0], o[1], o[2] = clip8(ss0), clip8(ss1), clip8(ss2)
			}
		default:
			for xx := range ow {
				n := a.n[xx]
				k := a.k[xx*a.ksize : xx*a.ksize+n]
				for ch := range c {
					ss := resampleHalf
					for i, w := range k {
						ss += int(in[(a.first[xx]+i)*c+ch]) * int(w)
					}
					out[xx*c+ch] = clip8(ss)
				}
			}
		}
	}
}

// vertical resamples along y: output row i combines rows a.first[i]-base.. of tmp (stride values
// apart, width values each).
func (r *resampler) vertical(dst, tmp []uint8, stride, base, width int, a axis) {
	if cap(r.acc) < width {
		r.acc = make([]int, width)
	}
	acc := r.acc[:width]
	for yy := range len(a.first) {
		for i := range acc {
			acc[i] = resampleHalf
		}
		n := a.n[yy]
		for j, w := range a.k[yy*a.ksize : yy*a.ksize+n] {
			row := tmp[(a.first[yy]-base+j)*stride:]
			row = row[:width]
			wi := int(w)
			for i, v := range row {
				acc[i] += int(v) * wi
			}
		}
		out := dst[yy*width : (yy+1)*width]
		for i, s := range acc {
			out[i] = clip8(s)
		}
	}
}

// RandomResizedCropParams draws the crop box of torchvision's RandomResizedCrop.get_params for an
// h x w image: up to 10 tries of an area uniform in scale (fractions of h*w) and an aspect ratio
// w/h log-uniform in ratio, each side rounded half to even (Python's round), kept when it fits;
// then the fallback: the whole image, cut to the nearest allowed aspect ratio, centred. Every
// random number comes from rng, in a fixed order.
func RandomResizedCropParams(rng *rand.Rand, h, w int, scale, ratio [2]float64) (top, left, ch, cw int) {
	area := float64(h) * float64(w)
	rlo, rhi := min(ratio[0], ratio[1]), max(ratio[0], ratio[1])
	logLo, logHi := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(rng, scale[0], scale[1])
		ar := math.Exp(uniform(rng, logLo, logHi))
		cw = int(math.RoundToEven(math.Sqrt(target * ar)))
		ch = int(math.RoundToEven(math.Sqrt(target / ar)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			top = rng.IntN(h - ch + 1)
			left = rng.IntN(w - cw + 1)
			return top, left, ch, cw
		}
	}
	in := float64(w) / float64(h)
	switch {
	case in < rlo:
		cw = w
		ch = int(math.RoundToEven(float64(cw) / rlo))
	case in > rhi:
		ch = h
		cw = int(math.RoundToEven(float64(ch) * rhi))
	default:
		cw, ch = w, h
	}
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}

// EvalResizeFraction is the share of the resized image that the evaluation view keeps: the shorter
// side is resized to int(size/0.875) and the centre size x size kept (torchvision's standard
// evaluation transform: Resize(256), CenterCrop(224)).
const EvalResizeFraction = 0.875

// evalWindow is torchvision's Resize(int(size/0.875)) then CenterCrop(size) on an h x w image.
// With keepSized, an image that is already size x size is kept as it is: in-memory data sets
// (CIFAR at 32, MNIST at 28), evaluated on their own pixels as solo-learn does; image files of a
// folder or shards always get the whole transform, whatever their size.
func evalWindow(h, w, size int, keepSized bool) window {
	if keepSized && h == size && w == size {
		return window{inW: w, inH: h, x1: float32(w), y1: float32(h), rw: w, rh: h, ow: w, oh: h}
	}
	short := int(float64(size) / EvalResizeFraction)
	rh, rw := short, short
	if w <= h {
		rh = int(float64(short) * float64(h) / float64(w))
	} else {
		rw = int(float64(short) * float64(w) / float64(h))
	}
	if rh == h && rw == w {
		rh, rw = h, w
	}
	top := int(math.RoundToEven(float64(rh-size) / 2))
	left := int(math.RoundToEven(float64(rw-size) / 2))
	return window{inW: w, inH: h, x1: float32(w), y1: float32(h), rw: rw, rh: rh, left: left, top: top, ow: size, oh: size}
}
