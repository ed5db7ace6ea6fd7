package embedmap

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/plot"
	"github.com/gomlx-ssl/vicreg/plot/plottest"
)

// TestSample: all rows when there are no more than asked; else that many distinct rows in
// increasing order, the same for the same seed, and every row as likely as any other (a
// chi-squared test over 4,000 seeds; sampling the first rows, or any fixed subset, fails it).
func TestSample(t *testing.T) {
	if got := Sample(5, 10, 1); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("Sample(5, 10) = %v, want every row", got)
	}
	const n, k, seeds = 50, 10, 4000
	count := make([]float64, n)
	for seed := range uint64(seeds) {
		got := Sample(n, k, seed)
		if len(got) != k || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != k || got[0] < 0 || got[k-1] >= n {
			t.Fatalf("Sample(%d, %d, %d) = %v: want %d distinct rows in [0, %d), increasing", n, k, seed, got, k, n)
		}
		if again := Sample(n, k, seed); !slices.Equal(again, got) {
			t.Fatalf("seed %d: %v, then %v", seed, got, again)
		}
		for _, r := range got {
			count[r]++
		}
	}
	chi2, want := 0.0, float64(seeds*k)/n
	for _, c := range count {
		chi2 += (c - want) * (c - want) / want
	}
	if chi2 > 85 { // the 0.999 quantile of χ² with 49 degrees of freedom
		t.Errorf("rows drawn unevenly: χ² = %.1f over %d rows (counts %v)", chi2, n, count)
	}
}

// TestPCA: six points on three axes, ±3, ±2 and ±1, whose principal axes are those axes: the
// map puts them at ±3 and ±2 (and the third pair at the centre), and the shares of the variance
// are 9, 4 and 1 out of 14.
func TestPCA(t *testing.T) {
	x := eval.Features{N: 6, D: 3, X: []float32{3, 0, 0, -3, 0, 0, 0, 2, 0, 0, -2, 0, 0, 0, 1, 0, 0, -1}}
	m, err := PCA(x)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]float64{{3, 0}, {3, 0}, {0, 2}, {0, 2}, {0, 0}, {0, 0}}
	for i, w := range want {
		if math.Abs(math.Abs(m.X[i])-w[0]) > 1e-9 || math.Abs(math.Abs(m.Y[i])-w[1]) > 1e-9 {
			t.Errorf("point %d at (%g, %g), want (±%g, ±%g)", i, m.X[i], m.Y[i], w[0], w[1])
		}
	}
	if math.Abs(m.Variance[0]-9.0/14) > 1e-12 || math.Abs(m.Variance[1]-4.0/14) > 1e-12 {
		t.Errorf("shares of the variance %v, want 9/14 and 4/14", m.Variance)
	}
	if xl, yl := m.Axes(); xl != "PC 1 (64.3% of the variance)" || yl != "PC 2 (28.6%)" {
		t.Errorf("axes %q and %q", xl, yl)
	}
	if _, err := PCA(eval.Features{N: 3, D: 1, X: []float32{1, 2, 3}}); err == nil || !strings.Contains(err.Error(), "1 dimension; a map needs 2 or more") {
		t.Errorf("PCA of one dimension: %v", err)
	}
	if _, err := PCA(eval.Features{N: 3, D: 2, X: []float32{1, 2, 1, 2, 1, 2}}); err == nil || !strings.Contains(err.Error(), "every embedding is the same") {
		t.Errorf("PCA of identical points: %v", err)
	}
}

// TestFigure: up to MaxColoured classes, each its colour and a legend entry with its points;
// beyond, the most frequent MaxColoured−1 (ties: the lower class) and "K other classes" in
// grey, drawn first; unlabelled points apart; without labels, one series and no legend.
func TestFigure(t *testing.T) {
	// 12 classes, class c of c+1 points, and two unlabelled points.
	var labels []int32
	for c := range 12 {
		for range c + 1 {
			labels = append(labels, int32(c))
		}
	}
	labels = append(labels, -1, -1)
	n := len(labels)
	m := Map{Method: "t-SNE", X: make([]float64, n), Y: make([]float64, n)}
	for i := range m.X {
		m.X[i], m.Y[i] = float64(i%9), float64(i/9)
	}
	names := make([]string, 12)
	for c := range names {
		names[c] = fmt.Sprintf("class%02d", c)
	}
	fig := Figure(m, labels, names, "the map")
	got := []string{}
	total := 0
	for _, s := range fig.Panels[0].Series {
		got = append(got, s.Name)
		total += len(s.X)
		if !s.Points {
			t.Errorf("series %q is not drawn as points", s.Name)
		}
	}
	// Classes 3 … 11 are the 9 most frequent; 0, 1 and 2 (1 + 2 + 3 points) are the others.
	want := []string{"3 other classes (6)", "unlabelled (2)"}
	for c := 3; c < 12; c++ {
		want = append(want, fmt.Sprintf("class%02d (%d)", c, c+1))
	}
	if !slices.Equal(got, want) || total != n {
		t.Errorf("series %q (%d points), want %q (%d)", got, total, want, n)
	}
	if p := fig.Panels[0]; p.Title != "the map" || p.XLabel != "t-SNE 1" || p.YLabel != "t-SNE 2" {
		t.Errorf("title %q, axes %q, %q", p.Title, p.XLabel, p.YLabel)
	}
	var buf bytes.Buffer
	if err := fig.Encode(&buf, "svg"); err != nil {
		t.Fatal(err)
	}
	doc, err := plottest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Find("class07 (8)"); !ok {
		t.Error("the figure's legend has no class07 (8)")
	}
	// Ten classes or fewer: each its own colour.
	fig = Figure(m, slices.Repeat([]int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10)[:n], nil, "ten")
	if s := fig.Panels[0].Series; len(s) != 10 || s[0].Name != "0 (8)" || s[9].Color != plot.Colors[9] {
		t.Errorf("ten classes: %d series, the first %q", len(s), s[0].Name)
	}
	fig = Figure(m, nil, nil, "unlabelled")
	if s := fig.Panels[0].Series; len(s) != 1 || len(s[0].X) != n || fig.Panels[0].Legend != plot.LegendHidden {
		t.Errorf("without labels: %d series, legend %v; want one of every point, no legend", len(s), fig.Panels[0].Legend)
	}
}

// TestWriteCSV: a row per point, named as eval.Features.Names names it, with its class's name
// (empty where unknown) and its coordinates.
func TestWriteCSV(t *testing.T) {
	dir := t.TempDir()
	x := eval.Features{N: 3, D: 1, X: []float32{1, 2, 3}, Labels: []int32{1, -1, 0}, NumClasses: 2,
		Files: []string{filepath.Join(dir, "img", "b", "x,1.jpg"), filepath.Join(dir, "img", "unknown.jpg"), filepath.Join(dir, "img", "a", "y.png")}}
	m := Map{X: []float64{0.5, -1.25, 1e-7}, Y: []float64{2, 3.5, -4}}
	path := filepath.Join(dir, "map.csv")
	if err := WriteCSV(path, m, x, filepath.Join(dir, "img"), []string{"cat", "dog"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	want := "file,label,x,y\n\"b/x,1.jpg\",dog,0.5,2\nunknown.jpg,,-1.25,3.5\na/y.png,cat,1e-07,-4\n"
	if err != nil || string(got) != want {
		t.Errorf("wrote\n%s(%v)\nwant\n%s", got, err, want)
	}
}

// TestThumbnails: Thumbnail keeps the aspect within ThumbnailPixels (a small image enlarged);
// AddThumbnails puts each image at its point, framed in the colour of its point's series.
func TestThumbnails(t *testing.T) {
	for _, c := range []struct{ w, h, wantW, wantH int }{{100, 50, 48, 24}, {10, 20, 24, 48}, {30, 30, 48, 48}} {
		if b := Thumbnail(image.NewRGBA(image.Rect(0, 0, c.w, c.h))).Bounds(); b.Dx() != c.wantW || b.Dy() != c.wantH {
			t.Errorf("Thumbnail of %d x %d: %d x %d, want %d x %d", c.w, c.h, b.Dx(), b.Dy(), c.wantW, c.wantH)
		}
	}
	m := Map{Method: "t-SNE", X: []float64{0, 1, 2, 3}, Y: []float64{0, 1, 4, 9}}
	labels := []int32{1, 0, 1, -1}
	fig := Figure(m, labels, []string{"cat", "dog"}, "map")
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	AddThumbnails(&fig, m, labels, map[int]image.Image{2: img, 3: img, 0: img})
	pn := fig.Panels[0]
	colour := map[string]color.Color{}
	for _, s := range pn.Series {
		colour[s.Name] = s.Color
	}
	want := []struct {
		x, y   float64
		series string
	}{{0, 0, "dog (2)"}, {2, 4, "dog (2)"}, {3, 9, "unlabelled (1)"}}
	if len(pn.Pictures) != len(want) {
		t.Fatalf("%d pictures, want %d", len(pn.Pictures), len(want))
	}
	for k, w := range want {
		p := pn.Pictures[k]
		if p.X != w.x || p.Y != w.y || p.Border != colour[w.series] || p.Image != img {
			t.Errorf("picture %d at (%g, %g), border %v; want (%g, %g) framed as %q (%v)", k, p.X, p.Y, p.Border, w.x, w.y, w.series, colour[w.series])
		}
	}
	if pn.XInclude[0] >= 0 || pn.XInclude[1] <= 3 || pn.YInclude[0] >= 0 || pn.YInclude[1] <= 9 {
		t.Errorf("axes include %v and %v: want a margin beyond the points", pn.XInclude, pn.YInclude)
	}
}

// overlaps counts the pairs of the points chosen of m whose thumbnails would overlap, on
// SpreadOut's plotting area.
func overlaps(m Map, chosen []int) int {
	place := func(v, lo, hi, inches float64) float64 { return (v - lo) / (hi - lo) * inches * 72 / 1.06 }
	lox, hix, loy, hiy := slices.Min(m.X), slices.Max(m.X), slices.Min(m.Y), slices.Max(m.Y)
	n := 0
	for a, i := range chosen {
		for _, j := range chosen[a+1:] {
			dx := place(m.X[i], lox, hix, thumbPlotWidth) - place(m.X[j], lox, hix, thumbPlotWidth)
			dy := place(m.Y[i], loy, hiy, thumbPlotHeight) - place(m.Y[j], loy, hiy, thumbPlotHeight)
			if math.Abs(dx) < thumbSide && math.Abs(dy) < thumbSide {
				n++
			}
		}
	}
	return n
}

// TestSpreadOut: of a map whose points crowd in a small blob (1,900 of 2,000) with the rest
// scattered, the thumbnails chosen overlap none of each other and cover the scattered points
// (a random sample, the negative control, overlaps and keeps to the blob); the same seed chooses
// the same points; where the points cannot be spread (all in one place), the rest are chosen at
// random, k in all.
func TestSpreadOut(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := Map{X: make([]float64, 2000), Y: make([]float64, 2000)}
	for i := range m.X {
		if i < 1900 {
			m.X[i], m.Y[i] = 0.02*r.NormFloat64(), 0.02*r.NormFloat64()
		} else {
			m.X[i], m.Y[i] = 2*r.Float64()-1, 2*r.Float64()-1
		}
	}
	blob := func(chosen []int) int {
		n := 0
		for _, i := range chosen {
			if i < 1900 {
				n++
			}
		}
		return n
	}
	got := SpreadOut(m, 60, 3)
	random := Sample(2000, 60, 3)
	t.Logf("spread out: %d overlapping pairs, %d of 60 in the blob; at random: %d pairs, %d in the blob", overlaps(m, got), blob(got), overlaps(m, random), blob(random))
	if len(got) != 60 || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != 60 {
		t.Fatalf("SpreadOut chose %v: want 60 distinct points, in order", got)
	}
	if overlaps(m, got) != 0 || blob(got) > 10 {
		t.Errorf("%d overlapping pairs, %d points of the blob: want none, and at most 10", overlaps(m, got), blob(got))
	}
	if overlaps(m, random) == 0 || blob(random) <= 10 {
		t.Errorf("the negative control: a random sample has %d overlapping pairs and %d points of the blob", overlaps(m, random), blob(random))
	}
	if again := SpreadOut(m, 60, 3); !slices.Equal(again, got) {
		t.Error("the same seed chose other points")
	}
	same := Map{X: make([]float64, 50), Y: make([]float64, 50)}
	if got := SpreadOut(same, 10, 1); len(got) != 10 || len(slices.Compact(slices.Clone(got))) != 10 {
		t.Errorf("points all in one place: %v, want 10 distinct", got)
	}
	if got := SpreadOut(same, 80, 1); len(got) != 50 {
		t.Errorf("80 of 50 points: %d, want all", len(got))
	}
}
