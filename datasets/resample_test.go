package datasets

import (
	"encoding/json"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// pilFixture is testdata/pil/resample.json (written by testdata/pil/gen.py with torchvision 0.14 and
// PIL 9.4): a synthetic image and torchvision's outputs on it.
type pilFixture struct {
	H, W int
	Pix  []byte
	Tall struct {
		H, W int
		Pix  []byte
	}
	Cases []struct {
		Kind string
		Box  [4]int // top, left, height, width
		Size int
		Pix  []byte
	}
}

func loadPILFixture(t *testing.T) pilFixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "pil", "resample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f pilFixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestResampleMatchesTorchvision checks our resampling pixel for pixel against torchvision's PIL
// path: F.resized_crop(img, top, left, h, w, size, BICUBIC) (what RandomResizedCrop does after
// drawing its box) for shrinking, enlarging, mixed, identity, edge and thin boxes, and
// Resize(int(size/0.875)) + CenterCrop(size) (the evaluation transform) on wide and tall images.
func TestResampleMatchesTorchvision(t *testing.T) {
	f := loadPILFixture(t)
	src := Image{Pix: f.Pix, H: f.H, W: f.W, C: 3}
	tall := Image{Pix: f.Tall.Pix, H: f.Tall.H, W: f.Tall.W, C: 3}
	var rs resampler
	for _, tc := range f.Cases {
		got := make([]uint8, tc.Size*tc.Size*3)
		switch tc.Kind {
		case "crop":
			rs.run(got, src, cropWindow(tc.Box[0], tc.Box[1], tc.Box[2], tc.Box[3], tc.Size, tc.Size), Bicubic)
		case "eval":
			rs.run(got, src, evalWindow(src.H, src.W, tc.Size, false), Bilinear)
		case "eval-tall":
			rs.run(got, tall, evalWindow(tall.H, tall.W, tc.Size, false), Bilinear)
		}
		if len(tc.Pix) != len(got) {
			t.Fatalf("%s %v size %d: fixture has %d bytes, want %d", tc.Kind, tc.Box, tc.Size, len(tc.Pix), len(got))
		}
		diff := 0
		for i := range got {
			if got[i] != tc.Pix[i] {
				diff++
			}
		}
		if diff > 0 {
			t.Errorf("%s %v size %d: %d of %d values differ from torchvision's", tc.Kind, tc.Box, tc.Size, diff, len(got))
		}
	}
}

// TestResampleNegativeControls shows that the comparison above catches the defects it is there
// for: the old bilinear resampling without antialiasing, the source coordinates clamped to the
// image instead of the box, and the bilinear kernel in place of the bicubic one all differ from
// torchvision on the fixture.
func TestResampleNegativeControls(t *testing.T) {
	f := loadPILFixture(t)
	src := Image{Pix: f.Pix, H: f.H, W: f.W, C: 3}
	var rs resampler
	count := func(a, b []uint8) int {
		n := 0
		for i := range a {
			if a[i] != b[i] {
				n++
			}
		}
		return n
	}
	for _, tc := range f.Cases {
		if tc.Kind != "crop" || tc.Box[2] == tc.Size && tc.Box[3] == tc.Size {
			continue // a box of the output's size is a plain crop for every resampler
		}
		top, left, h, w := tc.Box[0], tc.Box[1], tc.Box[2], tc.Box[3]
		size := tc.Size
		// Bilinear without antialiasing (the previous cropResize), rounded to uint8.
		old := make([]uint8, size*size*3)
		for y := range size {
			sy := min(max(float64(top)+(float64(y)+0.5)*float64(h)/float64(size)-0.5, 0), float64(src.H-1))
			j := int(sy)
			j1, fy := min(j+1, src.H-1), sy-float64(j)
			for x := range size {
				sx := min(max(float64(left)+(float64(x)+0.5)*float64(w)/float64(size)-0.5, 0), float64(src.W-1))
				i := int(sx)
				i1, fx := min(i+1, src.W-1), sx-float64(i)
				for c := range 3 {
					p := func(y, x int) float64 { return float64(src.Pix[(y*src.W+x)*3+c]) }
					top := p(j, i) + fx*(p(j, i1)-p(j, i))
					bot := p(j1, i) + fx*(p(j1, i1)-p(j1, i))
					old[(y*size+x)*3+c] = uint8(math.Round(top + fy*(bot-top)))
				}
			}
		}
		// Clamped to the image: PIL's resize with a box, without cropping first.
		clamped := make([]uint8, size*size*3)
		rs.run(clamped, src, window{inW: src.W, inH: src.H, x0: float32(left), x1: float32(left + w),
			y0: float32(top), y1: float32(top + h), rw: size, rh: size, ow: size, oh: size}, Bicubic)
		bilinear := make([]uint8, size*size*3)
		rs.run(bilinear, src, cropWindow(top, left, h, w, size, size), Bilinear)
		for name, got := range map[string][]uint8{"bilinear, no antialiasing": old, "bilinear": bilinear} {
			if count(got, tc.Pix) == 0 {
				t.Errorf("box %v size %d: %s equals torchvision's bicubic output: the comparison cannot catch it", tc.Box, size, name)
			}
		}
		inside := top > 0 || left > 0 || top+h < src.H || left+w < src.W
		if inside && count(clamped, tc.Pix) == 0 {
			t.Errorf("box %v size %d: sampling outside the box equals torchvision's output", tc.Box, size)
		}
	}
}

// TestRandomResizedCropFallback checks torchvision's fallback at extreme aspect ratios, where no
// try can fit: the whole image cut to the nearest allowed ratio, centred (sides rounded half to
// even, as Python's round).
func TestRandomResizedCropFallback(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ratio := [2]float64{3.0 / 4, 4.0 / 3}
	for _, tc := range []struct{ h, w, top, left, ch, cw int }{
		{10, 1000, 0, 493, 10, 13}, // wide: h = 10, w = round(10 * 4/3) = 13
		{1000, 10, 493, 0, 13, 10}, // tall: w = 10, h = round(10 / (3/4)) = 13
		{3, 1000, 0, 498, 3, 4},    // w = round(4.0) = 4
		{1000, 6, 496, 0, 8, 6},    // h = round(8.0) = 8
		{12, 600, 0, 292, 12, 16},  // w = round(16.0) = 16
		{600, 9, 294, 0, 12, 9},    // h = round(12.0) = 12
	} {
		for range 50 {
			top, left, ch, cw := RandomResizedCropParams(rng, tc.h, tc.w, [2]float64{0.08, 1}, ratio)
			if top != tc.top || left != tc.left || ch != tc.ch || cw != tc.cw {
				t.Fatalf("%dx%d image: box top %d left %d %dx%d, want top %d left %d %dx%d", tc.w, tc.h, top, left, cw, ch, tc.top, tc.left, tc.cw, tc.ch)
			}
		}
	}
	// Half-way sides round to even (Python's round): h = 5 with a largest ratio of 1.5 gives
	// w = round(7.5) = 8, with 1.3 gives w = round(6.5) = 6.
	if _, _, ch, cw := RandomResizedCropParams(rng, 5, 1000, [2]float64{0.9, 1}, [2]float64{0.5, 1.5}); ch != 5 || cw != 8 {
		t.Fatalf("round half to even: %dx%d, want 8x5", cw, ch)
	}
	if _, _, ch, cw := RandomResizedCropParams(rng, 5, 1000, [2]float64{0.9, 1}, [2]float64{0.5, 1.3}); ch != 5 || cw != 6 {
		t.Fatalf("round(6.5) = 6: %dx%d, want 6x5", cw, ch)
	}
}

// ksStatistic is the two-sample Kolmogorov-Smirnov statistic.
func ksStatistic(a, b []float64) float64 {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Float64s(a)
	sort.Float64s(b)
	var d float64
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x := min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}

// TestRandomResizedCropLogRatioUniform: where every draw fits (small areas), the crop's log
// aspect ratio is uniform on [log 3/4, log 4/3] up to the rounding of the sides; a generator that
// draws the ratio itself uniformly (not its log) fails the same test.
func TestRandomResizedCropLogRatioUniform(t *testing.T) {
	const n = 20000
	lo, hi := math.Log(0.75), math.Log(4.0/3)
	ref := make([]float64, n)
	for i := range ref {
		ref[i] = lo + (hi-lo)*(float64(i)+0.5)/n
	}
	rng := rand.New(rand.NewPCG(5, 6))
	ours := make([]float64, n)
	for i := range ours {
		_, _, ch, cw := RandomResizedCropParams(rng, 1000, 1000, [2]float64{0.1, 0.3}, [2]float64{0.75, 4.0 / 3})
		ours[i] = math.Log(float64(cw) / float64(ch))
	}
	// The critical value of the KS test at p = 0.001 for samples of 20,000 is about 0.019.
	if d := ksStatistic(ours, ref); d > 0.019 {
		t.Errorf("log aspect ratio: KS distance %.4f to the uniform distribution, want < 0.019", d)
	}
	wrong := make([]float64, n)
	for i := range wrong {
		r := 0.75 + (4.0/3-0.75)*rng.Float64()
		target := 1e6 * (0.1 + 0.2*rng.Float64())
		cw := math.RoundToEven(math.Sqrt(target * r))
		ch := math.RoundToEven(math.Sqrt(target / r))
		wrong[i] = math.Log(cw / ch)
	}
	if d := ksStatistic(wrong, ref); d <= 0.019 {
		t.Errorf("negative control: a uniform ratio passes the log-uniform test (KS %.4f)", d)
	}
}

// TestRandomResizedCropMatchesTorchvision draws 10,000 boxes with torchvision's own
// RandomResizedCrop.get_params (Debian's python3-torchvision) and with ours, on images where the
// fallback is rare (500x375) and frequent (400x100, aspect 4), and compares the distributions of
// the area fraction, the log aspect ratio and the position (two-sample KS), and the share of
// fallbacks. Skipped without /usr/bin/python3 and torchvision.
func TestRandomResizedCropMatchesTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("runs torchvision (-short)")
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3 (Debian's python3-torchvision is the reference)")
	}
	const n = 10000
	sizes := [][2]int{{375, 500}, {100, 400}}
	script := `
import sys, torch
from torchvision.transforms import RandomResizedCrop
torch.manual_seed(0)
for h, w in ((375, 500), (100, 400)):
    img = torch.zeros(1, h, w)
    out = []
    for _ in range(` + strconv.Itoa(n) + `):
        i, j, ch, cw = RandomResizedCrop.get_params(img, (0.08, 1.0), (3/4, 4/3))
        out.append("%d %d %d %d" % (i, j, ch, cw))
    print("\n".join(out))
`
	outb, err := exec.Command(py, "-c", script).Output()
	if err != nil {
		t.Skipf("torchvision is not usable with %s: %v", py, err)
	}
	lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
	if len(lines) != n*len(sizes) {
		t.Fatalf("torchvision printed %d boxes, want %d", len(lines), n*len(sizes))
	}
	for si, size := range sizes {
		h, w := size[0], size[1]
		theirs := [][4]int{}
		for _, line := range lines[si*n : (si+1)*n] {
			var b [4]int
			for k, f := range strings.Fields(line) {
				b[k], _ = strconv.Atoi(f)
			}
			theirs = append(theirs, b)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		ours := make([][4]int, n)
		for i := range ours {
			top, left, ch, cw := RandomResizedCropParams(rng, h, w, [2]float64{0.08, 1}, [2]float64{0.75, 4.0 / 3})
			ours[i] = [4]int{top, left, ch, cw}
		}
		stats := func(boxes [][4]int) (area, logr, cx []float64, fallback float64) {
			fb := 0
			_, _, fch, fcw := RandomResizedCropParams(rand.New(rand.NewPCG(0, 0)), h, w, [2]float64{2, 2}, [2]float64{0.75, 4.0 / 3})
			for _, b := range boxes {
				area = append(area, float64(b[2]*b[3])/float64(h*w))
				logr = append(logr, math.Log(float64(b[3])/float64(b[2])))
				cx = append(cx, (float64(b[1])+float64(b[3])/2)/float64(w))
				if b[2] == fch && b[3] == fcw && b[0] == (h-fch)/2 && b[1] == (w-fcw)/2 {
					fb++
				}
			}
			return area, logr, cx, float64(fb) / float64(len(boxes))
		}
		a1, r1, c1, f1 := stats(ours)
		a2, r2, c2, f2 := stats(theirs)
		// Two-sample KS at p = 0.001 with 10,000 each: 1.95 * sqrt(2/10000) = 0.0276.
		for name, d := range map[string]float64{"area": ksStatistic(a1, a2), "log ratio": ksStatistic(r1, r2), "centre x": ksStatistic(c1, c2)} {
			if d > 0.0276 {
				t.Errorf("%dx%d: %s distribution differs from torchvision's: KS %.4f", w, h, name, d)
			}
		}
		// Fallback share: binomial standard error at most 0.005 each.
		if math.Abs(f1-f2) > 0.02 {
			t.Errorf("%dx%d: fallback share %.4f, torchvision %.4f", w, h, f1, f2)
		}
		t.Logf("%dx%d: fallback share ours %.4f torchvision %.4f", w, h, f1, f2)
		// Negative control: solo-learn's CIFAR scale (0.2, 1) instead of (0.08, 1) is caught.
		for i := range ours {
			top, left, ch, cw := RandomResizedCropParams(rng, h, w, [2]float64{0.2, 1}, [2]float64{0.75, 4.0 / 3})
			ours[i] = [4]int{top, left, ch, cw}
		}
		if a3, _, _, _ := stats(ours); ksStatistic(a3, a2) <= 0.0276 {
			t.Errorf("%dx%d: negative control: crops of scale (0.2, 1) pass as torchvision's (0.08, 1)", w, h)
		}
	}
}

// TestEvalViewOfSizedImages: an image file already s x s gets the whole evaluation transform, as
// torchvision's Resize(int(s/0.875)) then CenterCrop(s) gives it: for a 32x32 black image with a
// one-pixel white frame at s = 32, Resize(36) + CenterCrop(32) keeps only black pixels (the crop
// removes the frame; checked with torchvision 0.14 / PIL 9.4). Through the evaluation iterator
// and through Gather alike. The same pixels in memory (a *Dataset of 32x32 images, as CIFAR) are
// kept as they are, frame included.
func TestEvalViewOfSizedImages(t *testing.T) {
	const s = 32
	frame := func(x, y int) color.RGBA {
		if x == 0 || y == 0 || x == s-1 || y == s-1 {
			return color.RGBA{255, 255, 255, 255}
		}
		return color.RGBA{0, 0, 0, 255}
	}
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a.png"), s, s, frame)
	folder, err := OpenFolder(dir, SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	mem := &Dataset{Name: "framed", Split: SplitTest, N: 1, Height: s, Width: s, Channels: 3, Images: make([]uint8, s*s*3),
		Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}}
	for y := range s {
		for x := range s {
			c := frame(x, y)
			copy(mem.Images[(y*s+x)*3:], []uint8{c.R, c.G, c.B})
		}
	}
	corners := [][2]int{{0, 0}, {0, s / 2}, {s / 2, 0}, {s - 1, s - 1}}
	for _, tc := range []struct {
		name string
		d    Data
		want uint8 // at the frame's pixels
	}{{"image file", folder, 0}, {"in memory", mem, 255}} {
		it, err := NewEvalIterator(tc.d, EvalConfig{BatchSize: 1, Size: s, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		b, ok := it.Next()
		if !ok {
			t.Fatalf("%s: %v", tc.name, it.Err())
		}
		it.Close()
		g, err := Gather(tc.d, []int{0}, GatherConfig{Size: s, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range corners {
			i := (p[0]*s + p[1]) * 3
			if v := math.Round(float64(b.View1[i]) * 255); v != float64(tc.want) {
				t.Errorf("%s, evaluation iterator: pixel (row %d, column %d) is %.0f, want %d", tc.name, p[0], p[1], v, tc.want)
			}
			if v := g.Images[i]; v != tc.want {
				t.Errorf("%s, Gather: pixel (row %d, column %d) is %d, want %d", tc.name, p[0], p[1], v, tc.want)
			}
		}
	}
}
