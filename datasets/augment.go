package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// ViewConfig is the random augmentation of one view, applied in this order (as in the official
// VICReg code and solo-learn): torchvision's RandomResizedCrop on the original image (the box
// drawn by RandomResizedCropParams, resized to Size x Size with PIL's antialiased bicubic filter,
// sampling inside the box only), horizontal flip, colour jitter (brightness, contrast,
// saturation, hue in random order, with probability JitterProb), grayscale, Gaussian blur,
// solarisation, then per-channel normalisation.
type ViewConfig struct {
	// Size is the output side in pixels; 0 means the data set's smaller side (sets of one image
	// size only).
	Size int
	// CropScale is the range of the crop's area as a fraction of the image area, CropRatio the
	// range of its aspect ratio width/height (sampled log-uniformly). CropScale {0, 0} disables the
	// crop: the whole image is resized to Size x Size.
	CropScale, CropRatio [2]float64
	// FlipProb is the probability of a horizontal flip.
	FlipProb float64
	// JitterProb is the probability of applying colour jitter; Brightness, Contrast and Saturation
	// draw a factor uniformly in [max(0, 1-v), 1+v], Hue a shift in [-v, v] (fraction of a turn).
	JitterProb, Brightness, Contrast, Saturation, Hue float64
	// GrayscaleProb is the probability of converting to grayscale (kept with 3 channels).
	GrayscaleProb float64
	// BlurProb is the probability of a Gaussian blur with sigma uniform in BlurSigma (pixels).
	BlurProb  float64
	BlurSigma [2]float64
	// SolarizeProb is the probability of solarisation: values >= 128/255 become 1 - value.
	SolarizeProb float64
}

// Augmentation is a named pair of view configurations.
type Augmentation struct {
	Name         string
	View1, View2 ViewConfig
}

// PresetNames lists the augmentation presets of Preset.
func PresetNames() []string { return []string{"vicreg", "solo-cifar", "mnist", "none"} }

// DefaultImageSize is the view side that Preset uses for d: the images' shorter side when they all
// have one size (28 for MNIST, 32 for CIFAR, 96 for STL-10), capped at 224 for "vicreg"; 224 for
// sets of mixed sizes (image folders and shards, as the official VICReg code's ImageNet views).
func DefaultImageSize(d Data, preset string) int {
	info := d.Info()
	if info.Height <= 0 || info.Width <= 0 {
		return 224
	}
	size := min(info.Height, info.Width)
	if strings.EqualFold(preset, "vicreg") {
		size = min(size, 224)
	}
	return size
}

// Preset returns a named augmentation for images of the given data set, at DefaultImageSize (use
// WithSize and WithCropScale to change them):
//
//   - "vicreg": the official VICReg recipe: crop scale 0.08-1, flip 0.5, jitter (0.4, 0.4, 0.2,
//     0.1) with p 0.8, grayscale 0.2, blur sigma 0.1-2 with p 1.0 / 0.1, solarisation p 0.0 / 0.2.
//   - "solo-cifar": solo-learn's CIFAR recipe: crop scale 0.2-1, flip 0.5, the same jitter and
//     grayscale, no blur, solarisation 0.1 on both views.
//   - "mnist": keeps digits readable: crop scale 0.4-1 with aspect 0.8-1.25 (a zoom and shift of a
//     few pixels: the digits fill the central 20x20 of 28x28; 0.4 beat 0.6 on the validation split,
//     docs/experiments/mnist-recipe.sh), no flip (a mirrored 2, 3, 7 is not a digit), brightness
//     and contrast jitter 0.4 with p 0.8 (no saturation or hue: one channel), light blur sigma
//     0.1-1 with p 0.5 / 0.1, no solarisation (it would hollow out the strokes).
//   - "none": no augmentation, resize only (both views equal).
func Preset(name string, ds Data) (Augmentation, error) {
	if ds == nil {
		return Augmentation{}, fmt.Errorf("augmentation preset %q: no data set given (the view size comes from its images)", name)
	}
	size := DefaultImageSize(ds, name)
	full := [2]float64{0.75, 4.0 / 3}
	switch strings.ToLower(name) {
	case "vicreg":
		v := ViewConfig{Size: size, CropScale: [2]float64{0.08, 1}, CropRatio: full, FlipProb: 0.5,
			JitterProb: 0.8, Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1,
			GrayscaleProb: 0.2, BlurSigma: [2]float64{0.1, 2}}
		v1, v2 := v, v
		v1.BlurProb, v1.SolarizeProb = 1.0, 0.0
		v2.BlurProb, v2.SolarizeProb = 0.1, 0.2
		return Augmentation{Name: "vicreg", View1: v1, View2: v2}, nil
	case "solo-cifar":
		v := ViewConfig{Size: size, CropScale: [2]float64{0.2, 1}, CropRatio: full, FlipProb: 0.5,
			JitterProb: 0.8, Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1,
			GrayscaleProb: 0.2, SolarizeProb: 0.1}
		return Augmentation{Name: "solo-cifar", View1: v, View2: v}, nil
	case "mnist":
		v := ViewConfig{Size: size, CropScale: [2]float64{0.4, 1}, CropRatio: [2]float64{0.8, 1.25},
			JitterProb: 0.8, Brightness: 0.4, Contrast: 0.4, BlurSigma: [2]float64{0.1, 1}}
		v1, v2 := v, v
		v1.BlurProb, v2.BlurProb = 0.5, 0.1
		return Augmentation{Name: "mnist", View1: v1, View2: v2}, nil
	case "none":
		v := ViewConfig{Size: size}
		return Augmentation{Name: "none", View1: v, View2: v}, nil
	}
	return Augmentation{}, fmt.Errorf("unknown augmentation preset %q: want one of %s", name, strings.Join(PresetNames(), ", "))
}

// WithSize returns a with both views of side size (the -image-size flag); size <= 0 leaves a as
// it is.
func (a Augmentation) WithSize(size int) Augmentation {
	if size > 0 {
		a.View1.Size, a.View2.Size = size, size
	}
	return a
}

// WithCropScale returns a with the crop area of both views drawn from [lo, hi] (fractions of the
// image area, the -crop-scale flag), turning the crop on (with torchvision's aspect ratios 3/4 to
// 4/3) for a preset that had none.
func (a Augmentation) WithCropScale(lo, hi float64) (Augmentation, error) {
	if !(lo > 0 && lo <= hi && hi <= 1) {
		return a, fmt.Errorf("crop scale %g,%g: want 0 < MIN <= MAX <= 1 (fractions of the image area, e.g. 0.08,1)", lo, hi)
	}
	for _, v := range []*ViewConfig{&a.View1, &a.View2} {
		v.CropScale = [2]float64{lo, hi}
		if v.CropRatio[0] <= 0 || v.CropRatio[1] <= 0 {
			v.CropRatio = [2]float64{0.75, 4.0 / 3}
		}
	}
	return a, nil
}

// ParseCropScale parses "MIN,MAX" (the -crop-scale flag), checking 0 < MIN <= MAX <= 1.
func ParseCropScale(s string) ([2]float64, error) {
	var lo, hi float64
	parts := strings.Split(s, ",")
	if len(parts) == 2 {
		_, err1 := fmt.Sscan(strings.TrimSpace(parts[0]), &lo)
		_, err2 := fmt.Sscan(strings.TrimSpace(parts[1]), &hi)
		if err1 == nil && err2 == nil && lo > 0 && lo <= hi && hi <= 1 {
			return [2]float64{lo, hi}, nil
		}
	}
	return [2]float64{}, fmt.Errorf("crop scale %q: want MIN,MAX with 0 < MIN <= MAX <= 1 (fractions of the image area, e.g. 0.08,1)", s)
}

// SplitMix64 is a 64-bit mixing function (Steele, Lea and Flood), used to derive independent seeds.
func SplitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SampleRNG returns the random generator of one sample: a function of (seed, epoch, index) only,
// so the augmentation of a sample does not depend on which worker makes it or when.
func SampleRNG(seed uint64, epoch, index int) *rand.Rand {
	a := SplitMix64(seed ^ SplitMix64(uint64(epoch)+0x1234567))
	b := SplitMix64(a ^ SplitMix64(uint64(index)+0x89abcdef))
	return rand.New(rand.NewPCG(a, b))
}

// clamp01 clamps to [0, 1] (with branches: the min and max builtins also order -0 and 0 and
// propagate NaN, which costs more, and no NaN or -0 reaches here that would change a result).
func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// gray returns ITU-R 601-2 luma with torchvision's weights.
func gray(r, g, b float32) float32 { return 0.2989*r + 0.587*g + 0.114*b }

func flipH(img []float32, h, w, c int) {
	for y := range h {
		row := img[y*w*c : (y+1)*w*c]
		for x := range w / 2 {
			a, b := x*c, (w-1-x)*c
			for k := range c {
				row[a+k], row[b+k] = row[b+k], row[a+k]
			}
		}
	}
}

func adjustBrightness(img []float32, f float32) {
	for i, v := range img {
		img[i] = clamp01(f * v)
	}
}

// adjustContrast blends with the mean of the grayscale image (torchvision's adjust_contrast).
func adjustContrast(img []float32, c int, f float32) {
	var s float64
	if c == 3 {
		for p := 0; p < len(img); p += 3 {
			s += float64(gray(img[p], img[p+1], img[p+2]))
		}
		s /= float64(len(img) / 3)
	} else {
		for _, v := range img {
			s += float64(v)
		}
		s /= float64(len(img))
	}
	m := (1 - f) * float32(s)
	for i, v := range img {
		img[i] = clamp01(f*v + m)
	}
}

// adjustSaturation blends each pixel with its gray value (no-op for one channel).
func adjustSaturation(img []float32, c int, f float32) {
	if c != 3 {
		return
	}
	for p := 0; p < len(img); p += 3 {
		g := (1 - f) * gray(img[p], img[p+1], img[p+2])
		img[p] = clamp01(f*img[p] + g)
		img[p+1] = clamp01(f*img[p+1] + g)
		img[p+2] = clamp01(f*img[p+2] + g)
	}
}

// adjustHue rotates the hue by shift (a fraction of a turn) in HSV space (no-op for one channel).
func adjustHue(img []float32, c int, shift float32) {
	if c != 3 {
		return
	}
	for p := 0; p < len(img); p += 3 {
		r, g, b := img[p], img[p+1], img[p+2]
		maxc := max(r, g, b)
		minc := min(r, g, b)
		v := maxc
		d := maxc - minc
		if d == 0 {
			continue // gray pixel: hue is undefined and unchanged
		}
		s := d / maxc
		var h float32
		switch {
		case maxc == r:
			h = (g - b) / d
		case maxc == g:
			h = 2 + (b-r)/d
		default:
			h = 4 + (r-g)/d
		}
		h = h/6 + shift
		h -= float32(math.Floor(float64(h)))
		h6 := h * 6
		i := int(h6) % 6
		f := h6 - float32(int(h6))
		pp := v * (1 - s)
		q := v * (1 - s*f)
		t := v * (1 - s*(1-f))
		switch i {
		case 0:
			r, g, b = v, t, pp
		case 1:
			r, g, b = q, v, pp
		case 2:
			r, g, b = pp, v, t
		case 3:
			r, g, b = pp, q, v
		case 4:
			r, g, b = t, pp, v
		default:
			r, g, b = v, pp, q
		}
		img[p], img[p+1], img[p+2] = clamp01(r), clamp01(g), clamp01(b)
	}
}

func toGrayscale(img []float32, c int) {
	if c != 3 {
		return
	}
	for p := 0; p < len(img); p += 3 {
		g := gray(img[p], img[p+1], img[p+2])
		img[p], img[p+1], img[p+2] = g, g, g
	}
}

func solarize(img []float32) {
	const threshold = 128.0 / 255
	for i, v := range img {
		if v >= threshold {
			img[i] = 1 - v
		}
	}
}

// reflect maps an index into [0, n) by mirror reflection without repeating the edge.
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*(n-1) - i
		}
	}
	return i
}

// gaussianBlur convolves with a separable Gaussian of radius ceil(3 sigma), reflecting at the edges.
// tmp must hold len(img) values. Each output sums its 2r+1 products in kernel order, row pass then
// column pass.
func gaussianBlur(img, tmp []float32, h, w, c int, sigma float64) {
	r := int(math.Ceil(3 * sigma))
	if r < 1 {
		return
	}
	k := gaussianKernel(r, sigma)
	rowLen := w * c
	// Rows: each row copied with r reflected pixels on both sides, then convolved.
	pad := make([]float32, (w+2*r)*c)
	for y := range h {
		row := img[y*rowLen : (y+1)*rowLen]
		for x := -r; x < w+r; x++ {
			copy(pad[(x+r)*c:(x+r+1)*c], row[reflect(x, w)*c:(reflect(x, w)+1)*c])
		}
		out := tmp[y*rowLen : (y+1)*rowLen]
		clear(out)
		for i, kv := range k {
			src := pad[i*c : i*c+rowLen]
			for j, v := range src {
				out[j] += kv * v
			}
		}
	}
	// Columns: each output row accumulates the 2r+1 input rows around it, in kernel order.
	acc := pad[:rowLen]
	if len(pad) < rowLen {
		acc = make([]float32, rowLen)
	}
	for y := range h {
		clear(acc)
		for i, kv := range k {
			src := tmp[reflect(y+i-r, h)*rowLen:]
			src = src[:rowLen]
			for j, v := range src {
				acc[j] += kv * v
			}
		}
		copy(img[y*rowLen:(y+1)*rowLen], acc)
	}
}

// uniform draws from [lo, hi).
func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

// viewSize is the output side of a view: v.Size, or the image's shorter side.
func (v ViewConfig) viewSize(h, w int) int {
	if v.Size > 0 {
		return v.Size
	}
	return min(h, w)
}

// crop is the box of one view in the coordinates of the original image.
type crop struct{ top, left, h, w int }

// drawCrop draws the view's crop box of an h x w image (the whole image when the crop is off).
func (v ViewConfig) drawCrop(rng *rand.Rand, h, w int) crop {
	if v.CropScale[1] <= 0 {
		return crop{0, 0, h, w}
	}
	top, left, ch, cw := RandomResizedCropParams(rng, h, w, v.CropScale, v.CropRatio)
	return crop{top, left, ch, cw}
}

// augmenter holds one worker's scratch space.
type augmenter struct {
	rs  resampler
	u8  []uint8
	tmp []float32
}

// resample resamples the window win of img into dst (len(dst) values, on the [0, 1] scale) with
// the given filter, through the augmenter's uint8 buffer (PIL's rounding).
func (a *augmenter) resample(dst []float32, img Image, win window, f Filter) {
	n := len(dst)
	if cap(a.u8) < n {
		a.u8 = make([]uint8, n)
	}
	u8 := a.u8[:n]
	a.rs.run(u8, img, win, f)
	for i, p := range u8 {
		dst[i] = inv255[p]
	}
}

var inv255 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// view writes into dst (size*size*c floats) view v of img: the crop box (in the coordinates of the
// original image of origH x origW pixels; img may be a reduced decode of it) resized with PIL's
// bicubic resampling, then the random colour operations drawn from rng, then normalisation.
func (a *augmenter) view(dst []float32, img Image, origH, origW int, box crop, v ViewConfig, size int, rng *rand.Rand, mean, std []float32) {
	c := img.C
	win := cropWindow(box.top, box.left, box.h, box.w, size, size)
	if img.H != origH || img.W != origW {
		// A reduced decode: resample the box's interval of the smaller image (PIL's resize with a
		// box), clamping at the image's edges.
		sx, sy := float64(img.W)/float64(origW), float64(img.H)/float64(origH)
		win = window{inW: img.W, inH: img.H,
			x0: float32(float64(box.left) * sx), x1: float32(float64(box.left+box.w) * sx),
			y0: float32(float64(box.top) * sy), y1: float32(float64(box.top+box.h) * sy),
			rw: size, rh: size, ow: size, oh: size}
	}
	a.resample(dst, img, win, Bicubic)
	a.colour(dst, size, c, v, rng, mean, std)
}

// colour applies the view's random flip and colour operations, then normalises.
func (a *augmenter) colour(dst []float32, size, c int, v ViewConfig, rng *rand.Rand, mean, std []float32) {
	if v.FlipProb > 0 && rng.Float64() < v.FlipProb {
		flipH(dst, size, size, c)
	}
	if v.JitterProb > 0 && rng.Float64() < v.JitterProb {
		for _, op := range rng.Perm(4) {
			switch op {
			case 0:
				if v.Brightness > 0 {
					adjustBrightness(dst, float32(uniform(rng, max(0, 1-v.Brightness), 1+v.Brightness)))
				}
			case 1:
				if v.Contrast > 0 {
					adjustContrast(dst, c, float32(uniform(rng, max(0, 1-v.Contrast), 1+v.Contrast)))
				}
			case 2:
				if v.Saturation > 0 {
					adjustSaturation(dst, c, float32(uniform(rng, max(0, 1-v.Saturation), 1+v.Saturation)))
				}
			case 3:
				if v.Hue > 0 {
					adjustHue(dst, c, float32(uniform(rng, -v.Hue, v.Hue)))
				}
			}
		}
	}
	if v.GrayscaleProb > 0 && rng.Float64() < v.GrayscaleProb {
		toGrayscale(dst, c)
	}
	if v.BlurProb > 0 && rng.Float64() < v.BlurProb {
		if cap(a.tmp) < len(dst) {
			a.tmp = make([]float32, len(dst))
		}
		gaussianBlur(dst, a.tmp[:len(dst)], size, size, c, uniform(rng, v.BlurSigma[0], v.BlurSigma[1]))
	}
	if v.SolarizeProb > 0 && rng.Float64() < v.SolarizeProb {
		solarize(dst)
	}
	normalize(dst, c, mean, std)
}

// pair writes both views of one image. The crop boxes of both views are drawn first (they decide
// how small the image may be decoded), then each view's colour operations: every random number
// comes from rng, in this fixed order.
func (a *augmenter) pair(v1, v2 []float32, img Image, origH, origW int, boxes [2]crop, aug Augmentation, size int, rng *rand.Rand, mean, std []float32) {
	a.view(v1, img, origH, origW, boxes[0], aug.View1, size, rng, mean, std)
	a.view(v2, img, origH, origW, boxes[1], aug.View2, size, rng, mean, std)
}

// drawCrops draws the crop boxes of both views of an h x w image.
func (aug Augmentation) drawCrops(rng *rand.Rand, h, w int) [2]crop {
	b1 := aug.View1.drawCrop(rng, h, w)
	b2 := aug.View2.drawCrop(rng, h, w)
	return [2]crop{b1, b2}
}

// reduction is the JPEG DCT scaling (1, 2, 4 or 8) at which both crop boxes still have at least
// size pixels on each side (PIL's draft rule: never smaller than what is asked for).
func reduction(boxes [2]crop, size int) int {
	side := min(boxes[0].h, boxes[0].w, boxes[1].h, boxes[1].w)
	for _, r := range []int{8, 4, 2} {
		if side/r >= size {
			return r
		}
	}
	return 1
}

func normalize(img []float32, c int, mean, std []float32) {
	if mean == nil {
		return
	}
	if c == 3 {
		m0, m1, m2 := mean[0], mean[1], mean[2]
		s0, s1, s2 := 1/std[0], 1/std[1], 1/std[2]
		for p := 0; p+2 < len(img); p += 3 {
			img[p] = (img[p] - m0) * s0
			img[p+1] = (img[p+1] - m1) * s1
			img[p+2] = (img[p+2] - m2) * s2
		}
		return
	}
	for k := range c {
		m, s := mean[k], 1/std[k]
		for p := k; p < len(img); p += c {
			img[p] = (img[p] - m) * s
		}
	}
}

// AugmentPair writes the two views of image index of ds, for the given seed and epoch, into v1 and
// v2 (each Size*Size*Channels floats), normalised with mean and std (nil: no normalisation). The
// result depends only on (seed, epoch, index); it is what a Loader puts in a batch. It returns no
// error because an in-memory set holds decoded pixels: nothing can fail to read or decode (an
// index outside [0, ds.N) is a programming error and panics). For an image folder or shards,
// decode the image first (Source.Decode, Visit) and call AugmentImage.
func (a Augmentation) AugmentPair(ds *Dataset, index int, seed uint64, epoch int, v1, v2 []float32, mean, std []float32) {
	// Dataset.Decode never returns an error: it slices the decoded pixels of image index out of
	// ds.Images (LoadFolder and Gather decode, and report bad files, before a *Dataset exists).
	img, _ := ds.Decode(index)
	a.AugmentImage(img, index, seed, epoch, v1, v2, mean, std)
}

// AugmentImage writes the two views of img, sample index of its data set as decoded (at its own
// size: Visit with GatherConfig.Size 0), for the given seed and epoch, into v1 and v2 (each
// Size*Size*Channels floats; Size the augmentation's, or img's shorter side without one),
// normalised with mean and std (nil: no normalisation). It is what a Loader without
// ReducedDecode puts in a batch for that sample. Only the first Size*Size*Channels floats of v1
// and v2 are written (a view may be the head of a larger buffer); a shorter v1 or v2 panics.
func (a Augmentation) AugmentImage(img Image, index int, seed uint64, epoch int, v1, v2 []float32, mean, std []float32) {
	rng := SampleRNG(seed, epoch, index)
	size := a.View1.viewSize(img.H, img.W)
	n := size * size * img.C
	if len(v1) < n || len(v2) < n {
		panic(fmt.Sprintf("AugmentImage: views of %d and %d floats, want %d each (%dx%dx%d)", len(v1), len(v2), n, size, size, img.C))
	}
	var au augmenter
	au.pair(v1[:n:n], v2[:n:n], img, img.H, img.W, a.drawCrops(rng, img.H, img.W), a, size, rng, mean, std)
}

// gaussianKernel is the normalised Gaussian of standard deviation sigma on -r..r, in float32.
func gaussianKernel(r int, sigma float64) []float32 {
	k := make([]float32, 2*r+1)
	var s float64
	for i := -r; i <= r; i++ {
		v := math.Exp(-float64(i*i) / (2 * sigma * sigma))
		k[i+r] = float32(v)
		s += v
	}
	for i := range k {
		k[i] /= float32(s)
	}
	return k
}
