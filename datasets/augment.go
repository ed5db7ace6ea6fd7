package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// ViewConfig is the random augmentation of one view, applied in this order (as in the official
// VICReg code and solo-learn): random resized crop with bilinear resize to Size x Size, horizontal
// flip, colour jitter (brightness, contrast, saturation, hue in random order, with probability
// JitterProb), grayscale, Gaussian blur, solarisation, then per-channel normalisation.
type ViewConfig struct {
	// Size is the output side in pixels; 0 means the data set's smaller side.
	Size int
	// CropScale is the range of the crop's area as a fraction of the image area, CropRatio the
	// range of its aspect ratio width/height (sampled log-uniformly). CropScale {0, 0} disables the
	// crop: the whole image is resized.
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

// Preset returns a named augmentation for images of the given data set:
//
//   - "vicreg": the official VICReg recipe: crop scale 0.08-1 at 224 (at the data set's size for
//     images smaller than 224), flip 0.5, jitter (0.4, 0.4, 0.2, 0.1) with p 0.8, grayscale 0.2,
//     blur sigma 0.1-2 with p 1.0 / 0.1, solarisation p 0.0 / 0.2.
//   - "solo-cifar": solo-learn's CIFAR recipe: crop scale 0.2-1, flip 0.5, the same jitter and
//     grayscale, no blur, solarisation 0.1 on both views.
//   - "mnist": keeps digits readable: crop scale 0.6-1 with aspect 0.8-1.25 (a zoom and shift of at
//     most a few pixels: the digits fill the central 20x20 of 28x28 and a smaller crop cuts strokes
//     off), no flip (a mirrored 2, 3, 7 is not a digit), brightness and contrast jitter 0.4 with
//     p 0.8 (no saturation or hue: one channel), light blur sigma 0.1-1 with p 0.5 / 0.1, no
//     solarisation (it would hollow out the strokes).
//   - "none": no augmentation, resize only (both views equal).
func Preset(name string, ds *Dataset) (Augmentation, error) {
	size := min(ds.Height, ds.Width)
	full := [2]float64{0.75, 4.0 / 3}
	switch strings.ToLower(name) {
	case "vicreg":
		if size > 224 {
			size = 224
		}
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
		v := ViewConfig{Size: size, CropScale: [2]float64{0.6, 1}, CropRatio: [2]float64{0.8, 1.25},
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

// splitmix64 is a 64-bit mixing function (Steele, Lea and Flood), used to derive independent seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SampleRNG returns the random generator of one sample: a function of (seed, epoch, index) only,
// so the augmentation of a sample does not depend on which worker makes it or when.
func SampleRNG(seed uint64, epoch, index int) *rand.Rand {
	a := splitmix64(seed ^ splitmix64(uint64(epoch)+0x1234567))
	b := splitmix64(a ^ splitmix64(uint64(index)+0x89abcdef))
	return rand.New(rand.NewPCG(a, b))
}

// cropBox draws a random resized crop box like torchvision's RandomResizedCrop.get_params: up to 10
// tries of an area fraction uniform in scale and a log-uniform aspect ratio; then a centre crop
// with the aspect ratio clamped to ratio.
func cropBox(rng *rand.Rand, h, w int, scale, ratio [2]float64) (top, left, ch, cw int) {
	area := float64(h * w)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * (scale[0] + (scale[1]-scale[0])*rng.Float64())
		ar := math.Exp(lr0 + (lr1-lr0)*rng.Float64())
		cw = int(math.Round(math.Sqrt(target * ar)))
		ch = int(math.Round(math.Sqrt(target / ar)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			top = rng.IntN(h - ch + 1)
			left = rng.IntN(w - cw + 1)
			return top, left, ch, cw
		}
	}
	in := float64(w) / float64(h)
	switch {
	case in < ratio[0]:
		cw = w
		ch = int(math.Round(float64(cw) / ratio[0]))
	case in > ratio[1]:
		ch = h
		cw = int(math.Round(float64(ch) * ratio[1]))
	default:
		cw, ch = w, h
	}
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}

// cropResize resizes the box (top, left, ch, cw) of src (h x w x c uint8, HWC) to oh x ow with
// bilinear interpolation (half-pixel centres, edge clamping, no antialiasing) into dst, on the
// [0, 1] scale.
func cropResize(dst []float32, src []uint8, h, w, c int, top, left, ch, cw float64, oh, ow int) {
	x0 := make([]int, ow)
	x1 := make([]int, ow)
	fx := make([]float32, ow)
	for x := range ow {
		sx := left + (float64(x)+0.5)*cw/float64(ow) - 0.5
		sx = min(max(sx, 0), float64(w-1))
		i := int(sx)
		x0[x], x1[x], fx[x] = i, min(i+1, w-1), float32(sx-float64(i))
	}
	const inv = 1.0 / 255
	for y := range oh {
		sy := top + (float64(y)+0.5)*ch/float64(oh) - 0.5
		sy = min(max(sy, 0), float64(h-1))
		j := int(sy)
		j1 := min(j+1, h-1)
		fy := float32(sy - float64(j))
		r0 := src[j*w*c : (j+1)*w*c]
		r1 := src[j1*w*c : (j1+1)*w*c]
		out := dst[y*ow*c : (y+1)*ow*c]
		for x := range ow {
			a, b, f := x0[x]*c, x1[x]*c, fx[x]
			for k := range c {
				top := float32(r0[a+k]) + f*(float32(r0[b+k])-float32(r0[a+k]))
				bot := float32(r1[a+k]) + f*(float32(r1[b+k])-float32(r1[a+k]))
				out[x*c+k] = (top + fy*(bot-top)) * inv
			}
		}
	}
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

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
func gaussianBlur(img, tmp []float32, h, w, c int, sigma float64) {
	r := int(math.Ceil(3 * sigma))
	if r < 1 {
		return
	}
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
	for y := range h {
		for x := range w {
			for ch := range c {
				var acc float32
				for i := -r; i <= r; i++ {
					acc += k[i+r] * img[(y*w+reflect(x+i, w))*c+ch]
				}
				tmp[(y*w+x)*c+ch] = acc
			}
		}
	}
	for y := range h {
		for x := range w {
			for ch := range c {
				var acc float32
				for i := -r; i <= r; i++ {
					acc += k[i+r] * tmp[(reflect(y+i, h)*w+x)*c+ch]
				}
				img[(y*w+x)*c+ch] = acc
			}
		}
	}
}

// uniform draws from [lo, hi).
func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

// applyView writes into dst (size*size*c floats) one augmented, normalised view of img (h x w x c).
// tmp is scratch space of the same length as dst. Every random draw comes from rng, in a fixed order.
func applyView(dst, tmp []float32, img []uint8, h, w, c int, v ViewConfig, rng *rand.Rand, mean, std []float32) {
	size := v.Size
	if size == 0 {
		size = min(h, w)
	}
	top, left, ch, cw := 0, 0, h, w
	if v.CropScale[1] > 0 {
		top, left, ch, cw = cropBox(rng, h, w, v.CropScale, v.CropRatio)
	}
	cropResize(dst, img, h, w, c, float64(top), float64(left), float64(ch), float64(cw), size, size)
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
		gaussianBlur(dst, tmp, size, size, c, uniform(rng, v.BlurSigma[0], v.BlurSigma[1]))
	}
	if v.SolarizeProb > 0 && rng.Float64() < v.SolarizeProb {
		solarize(dst)
	}
	normalize(dst, c, mean, std)
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
// result depends only on (seed, epoch, index).
func (a Augmentation) AugmentPair(ds *Dataset, index int, seed uint64, epoch int, v1, v2 []float32, mean, std []float32) {
	rng := SampleRNG(seed, epoch, index)
	tmp := make([]float32, max(len(v1), len(v2)))
	img := ds.Image(index)
	applyView(v1, tmp, img, ds.Height, ds.Width, ds.Channels, a.View1, rng, mean, std)
	applyView(v2, tmp, img, ds.Height, ds.Width, ds.Channels, a.View2, rng, mean, std)
}
