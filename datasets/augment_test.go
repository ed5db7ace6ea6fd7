package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// testImage is an h x w x c image with varied values.
func testImage(h, w, c int) []uint8 {
	img := make([]uint8, h*w*c)
	for y := range h {
		for x := range w {
			for k := range c {
				img[(y*w+x)*c+k] = pixel(0, y, x, k)
			}
		}
	}
	return img
}

// view is one view of img (h x w x c) with the random numbers of (seed, epoch 0, index 0).
func view(img []uint8, h, w, c int, v ViewConfig, seed uint64) []float32 {
	size := v.viewSize(h, w)
	dst := make([]float32, size*size*c)
	rng := SampleRNG(seed, 0, 0)
	var au augmenter
	au.view(dst, Image{Pix: img, H: h, W: w, C: c}, h, w, v.drawCrop(rng, h, w), v, size, rng, nil, nil)
	return dst
}

func TestViewWithoutCropIsIdentityAtSameSize(t *testing.T) {
	img := testImage(8, 8, 3)
	got := view(img, 8, 8, 3, ViewConfig{}, 1)
	for i, v := range img {
		if got[i] != float32(v)/255 {
			t.Fatalf("identity resize changed pixel %d: %g, want %g", i, got[i], float32(v)/255)
		}
	}
}

func TestFlipIsExact(t *testing.T) {
	img := testImage(5, 5, 3)
	plain := view(img, 5, 5, 3, ViewConfig{}, 1)
	flipped := view(img, 5, 5, 3, ViewConfig{FlipProb: 1}, 1)
	for y := range 5 {
		for x := range 5 {
			for k := range 3 {
				if flipped[(y*5+x)*3+k] != plain[(y*5+4-x)*3+k] {
					t.Fatalf("flip (%d,%d,%d) wrong", y, x, k)
				}
			}
		}
	}
}

func TestGrayscaleAndSolarize(t *testing.T) {
	img := testImage(6, 6, 3)
	g := view(img, 6, 6, 3, ViewConfig{GrayscaleProb: 1}, 1)
	for p := 0; p < len(g); p += 3 {
		want := (0.2989*float64(img[p]) + 0.587*float64(img[p+1]) + 0.114*float64(img[p+2])) / 255
		if g[p] != g[p+1] || g[p] != g[p+2] || math.Abs(float64(g[p])-want) > 1e-6 {
			t.Fatalf("grayscale pixel %d: %v, want three times %g", p/3, g[p:p+3], want)
		}
	}
	s := view(img, 6, 6, 3, ViewConfig{SolarizeProb: 1}, 1)
	for i, v := range img {
		want := float32(v) / 255
		if v >= 128 {
			want = 1 - want
		}
		if math.Abs(float64(s[i]-want)) > 1e-6 {
			t.Fatalf("solarize %d -> %g, want %g", v, s[i], want)
		}
	}
}

func TestColourOps(t *testing.T) {
	// Hue: a shift of 1/3 of a turn maps red to green and green to blue; 0 changes nothing.
	px := []float32{1, 0, 0, 0, 1, 0, 0.2, 0.4, 0.6}
	orig := slices.Clone(px)
	adjustHue(px, 3, 0)
	for i := range px {
		if math.Abs(float64(px[i]-orig[i])) > 1e-6 {
			t.Fatalf("hue shift 0 changed %v to %v", orig, px)
		}
	}
	adjustHue(px, 3, 1.0/3)
	want := []float32{0, 1, 0, 0, 0, 1}
	for i := range want {
		if math.Abs(float64(px[i]-want[i])) > 1e-6 {
			t.Fatalf("hue shift 1/3: %v, want %v", px[:6], want)
		}
	}
	// Contrast: blend with the mean luma, in float64.
	img := []float32{0.1, 0.5, 0.9, 0.3, 0.2, 0.7}
	var m float64
	for p := 0; p < 6; p += 3 {
		m += 0.2989*float64(img[p]) + 0.587*float64(img[p+1]) + 0.114*float64(img[p+2])
	}
	m /= 2
	c := slices.Clone(img)
	adjustContrast(c, 3, 1.5)
	for i := range img {
		want := math.Min(math.Max(1.5*float64(img[i])-0.5*m, 0), 1)
		if math.Abs(float64(c[i])-want) > 1e-6 {
			t.Fatalf("contrast %d: %g, want %g", i, c[i], want)
		}
	}
	// Saturation 0 gives the gray image.
	s := slices.Clone(img)
	adjustSaturation(s, 3, 0)
	if s[0] != s[1] || s[1] != s[2] {
		t.Fatalf("saturation 0: %v", s)
	}
}

func TestBlurPreservesConstantsAndMean(t *testing.T) {
	img := make([]uint8, 10*10)
	for i := range img {
		img[i] = 100
	}
	b := view(img, 10, 10, 1, ViewConfig{BlurProb: 1, BlurSigma: [2]float64{1.5, 1.5}}, 1)
	for i, v := range b {
		if math.Abs(float64(v)-100.0/255) > 1e-6 {
			t.Fatalf("blur of a constant changed pixel %d to %g", i, v)
		}
	}
	// A single bright pixel in the middle spreads as a normalised Gaussian.
	img[5*10+5] = 255
	for i := range img {
		if i != 55 {
			img[i] = 0
		}
	}
	b = view(img, 10, 10, 1, ViewConfig{BlurProb: 1, BlurSigma: [2]float64{1, 1}}, 1)
	var sum float64
	for _, v := range b {
		sum += float64(v)
	}
	if math.Abs(sum-1) > 1e-3 || b[55] <= b[56] || math.Abs(float64(b[54]-b[56])) > 1e-6 {
		t.Fatalf("blurred impulse: sum %g, centre %g, neighbours %g %g", sum, b[55], b[54], b[56])
	}
}

func TestCropAreaFollowsScale(t *testing.T) {
	tests := []struct{ lo, hi float64 }{{0.08, 1}, {0.2, 1}, {0.5, 0.6}}
	for _, tc := range tests {
		rng := rand.New(rand.NewPCG(1, 2))
		const n = 20000
		var sum float64
		var below int
		mid := (tc.lo + tc.hi) / 2
		for range n {
			top, left, ch, cw := RandomResizedCropParams(rng, 200, 200, [2]float64{tc.lo, tc.hi}, [2]float64{0.75, 4.0 / 3})
			if top < 0 || left < 0 || top+ch > 200 || left+cw > 200 {
				t.Fatalf("box %d %d %d %d outside the image", top, left, ch, cw)
			}
			a := float64(ch*cw) / (200 * 200)
			// Rounding each side to an integer moves the area by at most about (h+w+1) pixels.
			if a < tc.lo-0.015 || a > tc.hi+0.015 {
				t.Fatalf("scale %v: area fraction %g outside", tc, a)
			}
			sum += a
			if a < mid {
				below++
			}
		}
		// torchvision's rule: area fraction a uniform in [lo, hi], log-ratio uniform, the draw
		// kept when both sides fit (sqrt(a r) <= 1 and sqrt(a / r) <= 1 on a square image).
		// The expected mean and median of a follow by integration over the accepted region.
		wantMean, wantBelow := acceptedAreaStats(tc.lo, tc.hi, mid)
		if m := sum / n; math.Abs(m-wantMean) > 0.01 {
			t.Errorf("scale %v: mean area %g, want %g", tc, m, wantMean)
		}
		if f := float64(below) / n; math.Abs(f-wantBelow) > 0.02 {
			t.Errorf("scale %v: %g of areas below %g, want %g", tc, f, mid, wantBelow)
		}
	}
}

// acceptedAreaStats integrates on a grid the mean area and the probability of an area below mid,
// given acceptance, for ratios log-uniform in [3/4, 4/3].
func acceptedAreaStats(lo, hi, mid float64) (mean, below float64) {
	const g = 1000
	lr0, lr1 := math.Log(0.75), math.Log(4.0/3)
	var mass, sum, low float64
	for i := range g {
		a := lo + (hi-lo)*(float64(i)+0.5)/g
		for j := range g {
			r := math.Exp(lr0 + (lr1-lr0)*(float64(j)+0.5)/g)
			if a*r <= 1 && a/r <= 1 {
				mass++
				sum += a
				if a < mid {
					low++
				}
			}
		}
	}
	return sum / mass, low / mass
}

func TestPresetsShapesAndRanges(t *testing.T) {
	ds, _ := Synthetic(SyntheticConfig{N: 8, Components: 2, Height: 12, Width: 12, Channels: 3, Sigma: 40, Seed: 3}, "train")
	for _, name := range PresetNames() {
		a, err := Preset(name, ds)
		if err != nil {
			t.Fatal(err)
		}
		if a.View1.Size != 12 || a.View2.Size != 12 {
			t.Fatalf("%s: sizes %d %d, want the data set's 12", name, a.View1.Size, a.View2.Size)
		}
		v1 := make([]float32, 12*12*3)
		v2 := make([]float32, 12*12*3)
		for i := range ds.N {
			a.AugmentPair(ds, i, 1, 0, v1, v2, nil, nil)
			for _, v := range append(v1, v2...) {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("%s: value %g outside [0, 1]", name, v)
				}
			}
		}
	}
	if _, err := Preset("vicreg", nil); err == nil || !strings.Contains(err.Error(), "no data set given") {
		t.Errorf("no data set: %v, want an error saying so", err)
	}
	if _, err := Preset("nope", ds); err == nil {
		t.Fatal("unknown preset accepted")
	}
	big := &Dataset{Height: 300, Width: 256}
	if a, _ := Preset("vicreg", big); a.View1.Size != 224 {
		t.Fatalf("vicreg on 256 px images: size %d, want 224", a.View1.Size)
	}
}

// gaussianBlurReference is the direct form of gaussianBlur (every output a loop over the kernel
// with reflected indices): the optimised one must give the same bits.
func gaussianBlurReference(img, tmp []float32, h, w, c int, sigma float64) {
	r := int(math.Ceil(3 * sigma))
	if r < 1 {
		return
	}
	k := gaussianKernel(r, sigma)
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

func TestGaussianBlurMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		h, w, c int
		sigma   float64
	}{{9, 7, 3, 0.5}, {16, 16, 3, 2}, {5, 40, 1, 1.3}, {3, 3, 3, 2}, {30, 2, 3, 0.9}} {
		a := make([]float32, tc.h*tc.w*tc.c)
		for i := range a {
			a[i] = rng.Float32()
		}
		b := slices.Clone(a)
		gaussianBlur(a, make([]float32, len(a)), tc.h, tc.w, tc.c, tc.sigma)
		gaussianBlurReference(b, make([]float32, len(b)), tc.h, tc.w, tc.c, tc.sigma)
		if !slices.Equal(a, b) {
			t.Fatalf("%+v: the optimised blur differs from the direct one", tc)
		}
	}
}

// AugmentImage writes the first Size*Size*Channels floats of longer buffers, as it would exact
// ones (the colour operations and the normalisation once ran over the whole slice: the contrast's
// mean took in the rest), and refuses shorter ones with a message that gives the size.
func TestAugmentImageBufferLength(t *testing.T) {
	const h, w, c, size = 20, 30, 3, 12
	img := Image{Pix: testImage(h, w, c), H: h, W: w, C: c}
	a, err := Preset("vicreg", &Dataset{Height: h, Width: w, Channels: c})
	if err != nil {
		t.Fatal(err)
	}
	a = a.WithSize(size)
	n := size * size * c
	mean, std := []float32{0.5, 0.4, 0.3}, []float32{0.2, 0.25, 0.3}
	for seed := range uint64(8) {
		v1, v2 := make([]float32, n), make([]float32, n)
		a.AugmentImage(img, 3, seed, 0, v1, v2, mean, std)
		b1, b2 := make([]float32, 2*n), make([]float32, 2*n)
		a.AugmentImage(img, 3, seed, 0, b1, b2, mean, std)
		if !slices.Equal(v1, b1[:n]) || !slices.Equal(v2, b2[:n]) {
			t.Fatalf("seed %d: the views in buffers of %d floats differ from those in buffers of %d", seed, 2*n, n)
		}
		if slices.ContainsFunc(b1[n:], func(v float32) bool { return v != 0 }) {
			t.Fatalf("seed %d: wrote past the view's %d floats", seed, n)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "want 432 each (12x12x3)") {
			t.Fatalf("short buffers: panic %v, want one that gives the size", r)
		}
	}()
	a.AugmentImage(img, 3, 1, 0, make([]float32, 10), make([]float32, n), nil, nil)
}

// AugmentPair gives the views that AugmentImage gives of the set's decoded image (Dataset.Decode
// cannot fail: the pixels are in memory), and an index outside the set panics, naming it, rather
// than augmenting a zero image: here the pixel buffer has spare capacity, which plain slicing
// would hand out as image N.
func TestAugmentPairDecodesInMemory(t *testing.T) {
	ds, err := Synthetic(SyntheticConfig{N: 4, Components: 2, Height: 6, Width: 9, Channels: 3, Sigma: 40, Seed: 3}, "train")
	if err != nil {
		t.Fatal(err)
	}
	spare := make([]uint8, len(ds.Images), len(ds.Images)+ds.ImageSize())
	copy(spare, ds.Images)
	ds.Images = spare
	a, err := Preset("vicreg", ds)
	if err != nil {
		t.Fatal(err)
	}
	n := a.View1.Size * a.View1.Size * ds.Channels
	for i := range ds.N {
		img, err := ds.Decode(i)
		if err != nil || !slices.Equal(img.Pix, ds.Image(i)) || img.H != 6 || img.W != 9 || img.C != 3 {
			t.Fatalf("Decode(%d): %dx%d pixels of %d channels, %v; want image %d, 9x6 of 3, and no error", i, img.W, img.H, img.C, err, i)
		}
		v1, v2, w1, w2 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		a.AugmentPair(ds, i, 7, 1, v1, v2, ds.Mean, ds.Std)
		a.AugmentImage(img, i, 7, 1, w1, w2, ds.Mean, ds.Std)
		if !slices.Equal(v1, w1) || !slices.Equal(v2, w2) {
			t.Fatalf("image %d: AugmentPair differs from AugmentImage of the decoded image", i)
		}
	}
	for _, index := range []int{ds.N, -1} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), fmt.Sprintf("image %d of data set synthetic/train, which has 4", index)) {
					t.Errorf("AugmentPair of image %d of 4: panic %v, want one naming the index and the set", index, r)
				}
			}()
			a.AugmentPair(ds, index, 7, 1, make([]float32, n), make([]float32, n), nil, nil)
		}()
	}
}
