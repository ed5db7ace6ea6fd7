package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/plot/plottest"
)

func parseSVG(t *testing.T, data []byte) *plottest.Doc {
	t.Helper()
	doc, err := plottest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func encode(t *testing.T, f *Figure, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Encode(&buf, format); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// centre is the horizontal middle of a text, measured with the font the layout used.
func centre(s plottest.Text) float64 {
	return s.X + float64(textStyle(sans, s.Size).Width(s.S))/2
}

func hex(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}

func value(t *testing.T, s plottest.Text) float64 {
	v, err := strconv.ParseFloat(s.S, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkIncreasing fails unless the labels' values increase along the axis, by equal steps (in
// log10 for a log axis) that map to equal distances.
func checkIncreasing(t *testing.T, axis string, labels []plottest.Text, pos func(plottest.Text) float64, log bool) {
	t.Helper()
	if len(labels) <= 2 {
		t.Fatalf("%s axis: %d tick labels, want more than two: %v", axis, len(labels), labels)
	}
	v := func(i int) float64 {
		x := value(t, labels[i])
		if log {
			return math.Log10(x)
		}
		return x
	}
	scale := (pos(labels[1]) - pos(labels[0])) / (v(1) - v(0))
	for i := 1; i < len(labels); i++ {
		if v(i) <= v(i-1) {
			t.Errorf("%s axis labels not increasing along the axis: %v", axis, labels)
		}
		if got := (pos(labels[i]) - pos(labels[0])) / (v(i) - v(0)); math.Abs(got-scale) > 0.02*math.Abs(scale) {
			t.Errorf("%s axis: label %q is at %.2f, want %.2f for a %s scale", axis, labels[i].S, pos(labels[i]),
				pos(labels[0])+scale*(v(i)-v(0)), map[bool]string{false: "linear", true: "log"}[log])
		}
	}
}

func isPowerOfTen(v float64) bool {
	k := math.Round(math.Log10(v))
	return math.Abs(v-math.Pow(10, k)) < 1e-9*v
}

func TestSVGAxesSeriesBandsLegend(t *testing.T) {
	const n = 8
	x, y, lo, hi, rise := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		x[i] = float64(i) * 100 // 0 .. 700: a linear x axis
		y[i] = 5 * math.Pow(10, -float64(i)/2)
		lo[i], hi[i] = y[i]/2, y[i]*2
		rise[i] = 0.002 * math.Pow(3, float64(i))
	}
	fig := &Figure{Panels: []Panel{{
		Title: "p-values", XLabel: "step", YLabel: "p", YScale: Log,
		Series: []Series{
			{Name: "with band", X: x, Y: y, Lo: lo, Hi: hi},
			{Name: "rising", X: x, Y: rise},
			{X: x, Y: hi, Color: color.RGBA{0x11, 0x22, 0x33, 0xff}}, // no name: no legend entry
			{Name: "no points", X: []float64{1, 2}, Y: []float64{math.NaN(), math.Inf(1)}},
		},
		HLines: []RefLine{{At: 0.01, Label: "p = 0.01"}},
	}}}
	doc := parseSVG(t, encode(t, fig, "svg"))

	xs, ys := doc.TickLabels()
	checkIncreasing(t, "x", xs, centre, false)
	checkIncreasing(t, "y", ys, func(s plottest.Text) float64 { return s.Y }, true)
	for _, l := range ys {
		if !isPowerOfTen(value(t, l)) {
			t.Errorf("log-axis tick label %q is not a power of ten (labels %v)", l.S, ys)
		}
	}

	for i, s := range fig.Panels[0].Series[:3] {
		c := s.Color
		if c == nil {
			c = Colors[i]
		}
		if got := plottest.WithVertices(doc.Lines(c), n); len(got) != 1 {
			t.Errorf("series %d (%q): %d stroked paths of its colour with %d vertices, want 1", i, s.Name, len(got), n)
		} else {
			for k := 1; k < n; k++ {
				if got[0].Points[k][0] <= got[0].Points[k-1][0] {
					t.Errorf("series %d: vertices not left to right: %v", i, got[0].Points)
				}
			}
		}
	}
	if got := plottest.WithVertices(doc.Fills(Colors[0]), 2*n); len(got) != 1 {
		t.Errorf("%d translucent filled paths with %d vertices for the band, want 1", len(got), 2*n)
	}
	if got := plottest.WithVertices(doc.Fills(Colors[1]), 2*n); len(got) != 0 {
		t.Errorf("a series without Lo/Hi got %d bands", len(got))
	}
	dashed := 0
	for _, p := range doc.Paths {
		if p.Style["stroke-dasharray"] != "" && len(p.Points) == 2 && p.Points[0][1] == p.Points[1][1] && p.Points[1][0]-p.Points[0][0] > 200 {
			dashed++
		}
	}
	if dashed != 1 {
		t.Errorf("%d dashed horizontal lines across the panel, want 1 (the reference line)", dashed)
	}
	for name, want := range map[string]int{"with band": 1, "rising": 1, "p = 0.01": 1, "no points": 0, "p-values": 1, "step": 1, "p": 1} {
		if got := doc.Count(name); got != want {
			t.Errorf("text %q appears %d times, want %d", name, got, want)
		}
	}
	if len(doc.Lines(Colors[3])) != 0 {
		t.Errorf("the series without finite points was drawn")
	}
}

func TestNonFinitePointsAreSkippedNotZero(t *testing.T) {
	for _, tc := range []struct {
		name  string
		panel Panel
		want  int // vertices of the series' path
	}{
		{"NaN and Inf skipped", Panel{Series: []Series{{Name: "s", X: []float64{0, 1, 2, 3, 4}, Y: []float64{2, math.NaN(), 3, math.Inf(-1), 4}}}}, 3},
		{"log x drops x <= 0", Panel{XScale: Log, Series: []Series{{Name: "s", X: []float64{0, -1, 0.01, 1, 10}, Y: []float64{2, 2, 3, 4, 3}}}}, 3},
		{"log y drops y <= 0", Panel{YScale: Log, Series: []Series{{Name: "s", X: []float64{0, 1, 2, 3}, Y: []float64{0, 2, -1, 4}}}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{tc.panel}}, "svg"))
			paths := doc.Lines(Colors[0])
			var data []plottest.Path
			for _, p := range paths {
				if len(p.Points) > 2 || tc.want == 2 && len(p.Points) == 2 && p.Points[1][0]-p.Points[0][0] > 100 {
					data = append(data, p)
				}
			}
			if len(data) != 1 || len(data[0].Points) != tc.want {
				t.Fatalf("want one path of %d vertices, got %v", tc.want, data)
			}
			// Every finite value is >= 2: a point drawn at 0 would lie below the lowest one.
			minY := math.Inf(1)
			for _, p := range data[0].Points {
				minY = math.Min(minY, p[1])
			}
			_, ys := doc.TickLabels()
			var at2 float64
			for _, l := range ys {
				if value(t, l) == 2 {
					at2 = l.Y
				}
			}
			if at2 != 0 && minY < at2-5 {
				t.Errorf("a vertex lies at y = %.1f, below the tick of the smallest value 2 (%.1f): a skipped point was drawn", minY, at2)
			}
		})
	}
}

func TestAutoScale(t *testing.T) {
	steps := []float64{0, 1, 2, 3, 4, 5}
	decades := []float64{1, 0.1, 0.01, 0.001, 1e-4, 1e-5}
	for _, tc := range []struct {
		name string
		y    []float64
		log  bool
	}{
		{"five decades: log", decades, true},
		{"within a factor 3: linear", []float64{1, 1.5, 2, 2.5, 3, 2}, false},
		{"a negative value: linear", []float64{1, 0.1, 0.01, -0.001, 1e-4, 1e-5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{{YScale: AutoScale, Series: []Series{{X: steps, Y: tc.y}}}}}, "svg"))
			_, ys := doc.TickLabels()
			checkIncreasing(t, "y", ys, func(s plottest.Text) float64 { return s.Y }, tc.log)
		})
	}
}

func TestLegendAvoidsData(t *testing.T) {
	x := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	rising := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	full := func(v float64) []float64 {
		out := make([]float64, len(x))
		for i := range out {
			out[i] = v
		}
		return out
	}
	// The data area's extent: the ends of the horizontal grid lines.
	area := func(doc *plottest.Doc) (x0, x1, y0, y1 float64) {
		x0, x1, y0, y1 = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for _, p := range doc.Paths {
			if p.Style["stroke"] == hex(gridStyle.Color) {
				for _, q := range p.Points {
					x0, x1, y0, y1 = math.Min(x0, q[0]), math.Max(x1, q[0]), math.Min(y0, q[1]), math.Max(y1, q[1])
				}
			}
		}
		return
	}

	t.Run("rising line: top left", func(t *testing.T) {
		doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{{Series: []Series{{Name: "rising", X: x, Y: rising}}}}}, "svg"))
		x0, x1, y0, y1 := area(doc)
		l, ok := doc.Find("rising")
		if !ok {
			t.Fatal("no legend entry")
		}
		if l.X > (x0+x1)/2 || l.Y < (y0+y1)/2 || l.X < x0 {
			t.Errorf("legend text at (%.0f, %.0f) in a data area [%.0f, %.0f] x [%.0f, %.0f]: want the top left corner", l.X, l.Y, x0, x1, y0, y1)
		}
	})
	t.Run("falling line: top right", func(t *testing.T) {
		falling := append([]float64(nil), rising...)
		sort.Sort(sort.Reverse(sort.Float64Slice(falling)))
		doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{{Series: []Series{{Name: "falling", X: x, Y: falling}}}}}, "svg"))
		x0, x1, y0, y1 := area(doc)
		l, _ := doc.Find("falling")
		if l.X < (x0+x1)/2 || l.X > x1 || l.Y < (y0+y1)/2 {
			t.Errorf("legend text at (%.0f, %.0f) in a data area [%.0f, %.0f] x [%.0f, %.0f]: want the top right corner", l.X, l.Y, x0, x1, y0, y1)
		}
	})
	t.Run("band over the whole panel: outside", func(t *testing.T) {
		doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{{Series: []Series{{Name: "everywhere", X: x, Y: full(0.5), Lo: full(0), Hi: full(1)}}}}}, "svg"))
		_, x1, _, _ := area(doc)
		l, _ := doc.Find("everywhere")
		if l.X <= x1 {
			t.Errorf("legend text at x = %.0f, inside the data area (right edge %.0f), which the band fills", l.X, x1)
		}
		if l.X > doc.Width {
			t.Errorf("legend text at x = %.0f, outside the figure (width %.0f)", l.X, doc.Width)
		}
	})
	t.Run("LegendOutside and LegendHidden", func(t *testing.T) {
		doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{{Legend: LegendOutside, Series: []Series{{Name: "out", X: x, Y: rising}}},
			{Legend: LegendHidden, Series: []Series{{Name: "hidden", X: x, Y: rising}}}}}, "svg"))
		_, x1, _, _ := area(doc)
		if l, _ := doc.Find("out"); l.X <= x1 {
			t.Errorf("LegendOutside: legend text at x = %.0f, inside the data area (right edge %.0f)", l.X, x1)
		}
		if doc.Count("hidden") != 0 {
			t.Errorf("LegendHidden drew a legend")
		}
	})
}

func TestGridOfPanels(t *testing.T) {
	x := []float64{0, 10, 20, 30}
	panel := func(title string, y ...float64) Panel {
		return Panel{Title: title, YLabel: "value", Series: []Series{{X: x, Y: y}}}
	}
	// Panels whose y tick labels differ in width: the data areas must still line up.
	fig := &Figure{Columns: 2, Title: "the figure", Panels: []Panel{
		panel("top left", 1, 2, 3, 4), panel("top right", 1000, 3000, 2000, 5000), panel("bottom left", 0.001, 0.004, 0.002, 0.003),
	}}
	doc := parseSVG(t, encode(t, fig, "svg"))
	for _, s := range []string{"the figure", "top left", "top right", "bottom left"} {
		if doc.Count(s) != 1 {
			t.Errorf("title %q appears %d times, want once", s, doc.Count(s))
		}
	}
	series := plottest.WithVertices(doc.Lines(Colors[0]), 4)
	if len(series) != 3 {
		t.Fatalf("%d series paths, want 3", len(series))
	}
	tl, tr, bl := series[0].Points, series[1].Points, series[2].Points
	if !(tl[0][0] < doc.Width/2 && tr[0][0] > doc.Width/2 && bl[0][0] < doc.Width/2) {
		t.Errorf("panels not left and right: first x %.0f, %.0f, %.0f in width %.0f", tl[0][0], tr[0][0], bl[0][0], doc.Width)
	}
	if !(tl[0][1] > doc.Height/2 && bl[0][1] < doc.Height/2) {
		t.Errorf("panels not top and bottom: first y %.0f, %.0f in height %.0f", tl[0][1], bl[0][1], doc.Height)
	}
	if math.Abs(tl[0][0]-bl[0][0]) > 0.5 || math.Abs(tl[3][0]-bl[3][0]) > 0.5 {
		t.Errorf("the column's data areas are not aligned: x from %.1f to %.1f above, %.1f to %.1f below", tl[0][0], tl[3][0], bl[0][0], bl[3][0])
	}
	if w1, w2 := tl[3][0]-tl[0][0], tr[3][0]-tr[0][0]; math.Abs(w1-w2) > 0.5 {
		t.Errorf("the columns' data areas differ in width: %.1f and %.1f", w1, w2)
	}
}

func TestPNGSize(t *testing.T) {
	fig := &Figure{Width: 4, Height: 3, DPI: 50, Panels: []Panel{{Series: []Series{{Name: "s", X: []float64{0, 1, 2}, Y: []float64{0, 1, 0}}}}}}
	img, err := png.Decode(bytes.NewReader(encode(t, fig, "png")))
	if err != nil {
		t.Fatalf("the PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 200 || b.Dy() != 150 {
		t.Errorf("PNG is %dx%d, want 200x150 (4 x 3 inches at 50 dpi)", b.Dx(), b.Dy())
	}
	want := Colors[0].(color.RGBA)
	found := false
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y && !found; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X && !found; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			d := math.Abs(float64(r>>8)-float64(want.R)) + math.Abs(float64(g>>8)-float64(want.G)) + math.Abs(float64(b>>8)-float64(want.B))
			found = d < 30
		}
	}
	if !found {
		t.Errorf("no pixel of the series' colour: the line was not drawn")
	}
	fig.Width, fig.Height, fig.DPI = 0, 0, 0
	img, err = png.Decode(bytes.NewReader(encode(t, fig, "png")))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != int(math.Round(DefaultPanelWidth*DefaultDPI)) || b.Dy() != int(math.Round(DefaultPanelHeight*DefaultDPI)) {
		t.Errorf("default PNG is %dx%d, want %gx%g inches at %d dpi", b.Dx(), b.Dy(), DefaultPanelWidth, DefaultPanelHeight, DefaultDPI)
	}
}

func TestSameInputSameBytes(t *testing.T) {
	mk := func(last float64) *Figure {
		return &Figure{Columns: 2, Panels: []Panel{
			{Title: "a", YScale: Log, Series: []Series{{Name: "s", X: []float64{1, 2, 3}, Y: []float64{0.1, 0.01, last}, Lo: []float64{0.05, 0.005, last / 2}, Hi: []float64{0.2, 0.02, last * 2}}},
				HLines: []RefLine{{At: 0.01, Label: "ref"}}},
			{Title: "b", Series: []Series{{Name: "t", X: []float64{1, 2, 3}, Y: []float64{3, 1, 2}, Marker: Diamond, Dashed: true}}},
		}}
	}
	for _, format := range []string{"svg", "png"} {
		a, b := encode(t, mk(0.001), format), encode(t, mk(0.001), format)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the same figure gave different bytes", format)
		}
		// Negative control: the comparison sees a change of one value.
		if c := encode(t, mk(0.002), format); bytes.Equal(a, c) {
			t.Errorf("%s: a figure with another value gave the same bytes", format)
		}
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	fig := &Figure{Panels: []Panel{{Series: []Series{{Name: "s", X: []float64{0, 1}, Y: []float64{1, 2}}}}}}
	svg, pngPath := filepath.Join(dir, "f.svg"), filepath.Join(dir, "f.PNG")
	if err := fig.Save(svg, pngPath); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, encode(t, fig, "svg")) {
		t.Errorf("the saved SVG differs from Encode's")
	}
	if !bytes.Contains(data, []byte("font-family:Liberation Sans,Arial,Helvetica,sans-serif;")) {
		t.Errorf("the SVG names no fallback font")
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("the saved PNG does not decode: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("folder holds %d files, want the 2 figures (no temporary files)", len(entries))
	}

	for _, tc := range []struct {
		name  string
		fig   *Figure
		paths []string
		want  string
	}{
		{"unknown extension", fig, []string{filepath.Join(dir, "g.svg"), filepath.Join(dir, "g.jpg")}, `g.jpg: unknown figure format ".jpg" (name the file .svg or .png)`},
		{"no path", fig, nil, "at least one path"},
		{"missing folder", fig, []string{filepath.Join(dir, "missing", "g.svg")}, "missing/g.svg"},
		{"no panels", &Figure{}, []string{filepath.Join(dir, "h.svg")}, "no panels"},
		{"x and y lengths", &Figure{Panels: []Panel{{Title: "P", Series: []Series{{Name: "S", X: []float64{1, 2}, Y: []float64{1}}}}}},
			[]string{filepath.Join(dir, "h.svg")}, `panel "P", series "S": 2 x values but 1 y values`},
		{"band lengths", &Figure{Panels: []Panel{{Title: "P", Series: []Series{{Name: "S", X: []float64{1, 2}, Y: []float64{1, 2}, Lo: []float64{0, 0}}}}}},
			[]string{filepath.Join(dir, "h.svg")}, `series "S": a band needs Lo and Hi`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fig.Save(tc.paths...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "g.svg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Save wrote g.svg although another path's format was unknown (%v)", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("failed saves left files behind: %d entries", len(entries))
	}
}

func TestLinearTicks(t *testing.T) {
	for _, r := range [][2]float64{{0, 700}, {0, 1}, {-0.04, 1.04}, {0.9512, 0.9787}, {1e-4, 3e-4}, {2e-6, 9e-6}, {3e7, 9e7}, {-5, -1}, {0, 0.3}, {1234, 1240}} {
		ticks := linearTicks(r[0], r[1], 5)
		var labelled []float64
		for _, tk := range ticks {
			if tk.Label == "" {
				continue
			}
			v, err := strconv.ParseFloat(tk.Label, 64)
			if err != nil {
				t.Errorf("range %v: label %q is not a number", r, tk.Label)
				continue
			}
			if math.Abs(v-tk.Value) > 1e-9*math.Max(math.Abs(v), r[1]-r[0]) {
				t.Errorf("range %v: label %q for value %g", r, tk.Label, tk.Value)
			}
			if tk.Value < r[0] || tk.Value > r[1] {
				t.Errorf("range %v: tick %g outside it", r, tk.Value)
			}
			labelled = append(labelled, tk.Value)
		}
		if len(labelled) < 5 {
			t.Errorf("range %v: %d labelled ticks %v, want at least 5", r, len(labelled), labelled)
		}
		for i := 2; i < len(labelled); i++ {
			if d0, d := labelled[1]-labelled[0], labelled[i]-labelled[i-1]; math.Abs(d-d0) > 1e-9*d0 {
				t.Errorf("range %v: uneven ticks %v", r, labelled)
			}
		}
	}
}

func TestLogTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi  float64
		powers  bool // every label a power of ten
		atLeast int
	}{
		{1e-3, 10, true, 5}, {0.0008, 0.9, true, 3}, {0.008, 0.9, false, 3}, {1e-12, 1e3, true, 4}, {0.3, 3, false, 3}, {0.4, 0.9, false, 3}, {0.95, 1.05, false, 3},
	} {
		var labels []string
		for _, tk := range logTicks(tc.lo, tc.hi, 5, false) {
			if tk.Value < tc.lo*(1-1e-9) || tk.Value > tc.hi*(1+1e-9) {
				t.Errorf("[%g, %g]: tick %g outside the range", tc.lo, tc.hi, tk.Value)
			}
			if tk.Label == "" {
				continue
			}
			labels = append(labels, tk.Label)
			v, err := strconv.ParseFloat(tk.Label, 64)
			if err != nil || math.Abs(v-tk.Value) > 1e-9*v {
				t.Errorf("[%g, %g]: label %q for value %g", tc.lo, tc.hi, tk.Label, tk.Value)
			}
			atEnd := math.Abs(v-tc.lo) <= 1e-9*v || math.Abs(v-tc.hi) <= 1e-9*v // an end on a tick is labelled
			if tc.powers && !isPowerOfTen(v) && !atEnd {
				t.Errorf("[%g, %g]: label %q is not a power of ten", tc.lo, tc.hi, tk.Label)
			}
		}
		if len(labels) < tc.atLeast {
			t.Errorf("[%g, %g]: labels %v, want at least %d", tc.lo, tc.hi, labels, tc.atLeast)
		}
	}
}

// The labelled ticks of log axes, derived from logTicks' rule (target 5): with three or more
// powers of ten inside, every n-th power is labelled, n = ⌊(decades+6)/7⌋; with fewer, the ticks
// at 1, 2 and 5 times a power. Then an axis end that falls on a tick is labelled too; a labelled
// neighbour within half a label slot of it (log10(hi/lo)/10 decades) loses its label, unless that
// neighbour is a power of ten and the end is not.
func TestLogTicksLabelTheEnds(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		// 0.01 and 0.1 inside: 1-2-5 labels up to 0.2; the end 0.4 is a tick 0.30 decades from
		// 0.2 (the slot is log10(40)/10 = 0.16 decades): labelled.
		{0.01, 0.4, []string{"0.01", "0.02", "0.05", "0.1", "0.2", "0.4"}},
		// Four powers of ten, n = 1: all labelled, both ends among them.
		{0.001, 1, []string{"0.001", "0.01", "0.1", "1"}},
		// One power inside: 0.05, 0.1, 0.2 and the end 0.4 (0.30 decades from 0.2 > 0.09).
		{0.05, 0.4, []string{"0.05", "0.1", "0.2", "0.4"}},
		{1, 1000, []string{"1", "10", "100", "1000"}},
		// The low end too: 0.03 lies 0.22 decades below 0.05 (slot 0.11).
		{0.03, 0.4, []string{"0.03", "0.05", "0.1", "0.2", "0.4"}},
		// Ten powers, n = 2: 1e-6, 1e-4, ..., 100; the end 1000 lies one decade from 100 (slot
		// 0.9): labelled as well.
		{1e-6, 1e3, []string{"1e-6", "0.0001", "0.01", "1", "100", "1000"}},
		// The end 0.6 lies 0.08 decades from 0.5 (slot 0.18): 0.5, not a power of ten, gives way.
		{0.01, 0.6, []string{"0.01", "0.02", "0.05", "0.1", "0.2", "0.6"}},
		// Three powers, n = 1, with minor ticks: the end 0.9 is one (0.95 decades from 0.1,
		// slot 0.31): labelled; the end 0.0008 is 0.1 decades below the power 0.001, which keeps
		// its label.
		{0.0008, 0.9, []string{"0.001", "0.01", "0.1", "0.9"}},
	} {
		// The ends as the figure computes them (axisRange goes through log10).
		lo, hi := math.Pow(10, math.Log10(tc.lo)), math.Pow(10, math.Log10(tc.hi))
		var got []string
		for _, tk := range logTicks(lo, hi, 5, false) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("[%g, %g]: labels %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}

// The noise figure's case end to end: a log x axis over the levels 0.01 to 0.4 names its last
// tick, at the right end of the axis.
func TestLogAxisEndLabelledInFigure(t *testing.T) {
	levels := []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.4}
	y := []float64{0.5, 0.4, 0.3, 0.2, 0.1, 0.05}
	doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{{XLabel: "σ", YLabel: "p", XScale: Log,
		Series: []Series{{Name: "p", X: levels, Y: y}}}}}, "svg"))
	xs, _ := doc.TickLabels()
	var labels []string
	for _, x := range xs {
		labels = append(labels, x.S)
	}
	if len(labels) == 0 || labels[len(labels)-1] != "0.4" {
		t.Errorf("x tick labels %v, want the last to be 0.4", labels)
	}
}

// A series of one point asked to be drawn without markers still shows: its point gets a marker
// (a line through one point draws nothing); a longer one stays a bare line.
func TestSinglePointSeriesIsDrawn(t *testing.T) {
	fig := &Figure{Panels: []Panel{{Title: "one point", Series: []Series{
		{Name: "alone", X: []float64{1}, Y: []float64{2}, Marker: NoMarker},
		{Name: "line", X: []float64{0, 1, 2}, Y: []float64{1, 2, 3}, Marker: NoMarker},
	}}}}
	doc := parseSVG(t, encode(t, fig, "svg"))
	filled := func(c color.Color) int { // opaque filled shapes of colour c: markers
		n := 0
		for _, p := range doc.Paths {
			if plottest.Near(p.Style["fill"], c) && (p.Style["fill-opacity"] == "" || p.Style["fill-opacity"] == "1") {
				n++
			}
		}
		return n
	}
	if filled(Colors[0]) == 0 {
		t.Error("the one-point series drew no marker: it is invisible")
	}
	if n := filled(Colors[1]); n != 0 {
		t.Errorf("the three-point series without markers drew %d filled shapes", n)
	}
}

// An axis that ends at data values (the x axis: unpadded) labels an end between the round ticks
// too, as its own tick, with the same give-way rule as an end on a tick; a padded axis does not.
func TestLogTicksLabelDataEnds(t *testing.T) {
	for _, tc := range []struct {
		lo, hi   float64
		dataEnds bool
		want     string
	}{
		// The A2 scales: 0.25 lies 0.10 decades from 0.2 (slot log10(25)/10 = 0.14): 0.2 gives way.
		{0.01, 0.25, true, "0.01 0.02 0.05 0.1 0.25"},
		{0.01, 0.25, false, "0.01 0.02 0.05 0.1 0.2"},
		// 0.11 lies 0.04 decades from the power 0.1 (slot 0.096), which keeps its label: no tick
		// at 0.11; 0.012 lies 0.22 decades from 0.02: labelled.
		{0.012, 0.11, true, "0.012 0.02 0.05 0.1"},
		// Far ends in exponent form, to three significant digits.
		{1.234e-7, 1e-3, true, "1.23e-7 1e-6 1e-5 0.0001 0.001"},
	} {
		lo, hi := math.Pow(10, math.Log10(tc.lo)), math.Pow(10, math.Log10(tc.hi))
		var got []string
		for _, tk := range logTicks(lo, hi, 5, tc.dataEnds) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("[%g, %g], data ends %v: labels %v, want %s", tc.lo, tc.hi, tc.dataEnds, got, tc.want)
		}
	}
	levels := []float64{0.01, 0.05, 0.25}
	doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{{XLabel: "scale", YLabel: "ratio", XScale: Log,
		Series: []Series{{Name: "median", X: levels, Y: []float64{1, 1.1, 1.4}}}}}}, "svg"))
	xs, _ := doc.TickLabels()
	if len(xs) == 0 || xs[len(xs)-1].S != "0.25" {
		t.Errorf("x tick labels %v, want the last to be 0.25, the largest scale", xs)
	}
}

// TestPointsSeries: a series with Points draws a marker at each of its points, more than
// MaxAutoMarkers of them too, and no line; a series without draws its line.
func TestPointsSeries(t *testing.T) {
	n := 3 * MaxAutoMarkers
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i], y[i] = float64(i), math.Sin(float64(i))
	}
	for _, points := range []bool{true, false} {
		doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{{Series: []Series{{Name: "scatter", X: x, Y: y, Points: points}}}}}, "svg"))
		markers := 0
		for _, p := range doc.Paths {
			if plottest.Near(p.Style["fill"], Colors[0]) {
				markers++
			}
		}
		lines := len(plottest.WithVertices(doc.Lines(Colors[0]), n))
		if points && (markers != n+1 || lines != 0) { // one more marker: the legend's
			t.Errorf("Points: %d filled markers and %d lines through the %d points, want %d and none", markers, lines, n, n+1)
		}
		if !points && (markers != 0 || lines != 1) {
			t.Errorf("a line series of %d points: %d filled markers and %d lines, want none and one", n, markers, lines)
		}
	}
}

// TestPictures: a picture is drawn at its place, PictureSide points on its longer side (its
// aspect kept), framed in its Border's colour; the legend avoids it.
func TestPictures(t *testing.T) {
	red := image.NewRGBA(image.Rect(0, 0, 20, 10)) // twice as wide as high
	for i := 0; i < len(red.Pix); i += 4 {
		red.Pix[i], red.Pix[i+3] = 0xff, 0xff
	}
	blue := color.RGBA{0, 0, 0xff, 0xff}
	fig := &Figure{Width: 4, Height: 4, DPI: 100, Panels: []Panel{{XInclude: []float64{0, 1}, YInclude: []float64{0, 1}, PictureSide: 36,
		Series:   []Series{{Name: "points", X: []float64{0.1}, Y: []float64{0.1}, Points: true}},
		Pictures: []Picture{{X: 1, Y: 1, Image: red, Border: blue}}}}}
	img, err := png.Decode(bytes.NewReader(encode(t, fig, "png")))
	if err != nil {
		t.Fatal(err)
	}
	var reds, blues int
	minX, maxX, minY, maxY := math.MaxInt, -1, math.MaxInt, -1
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			switch {
			case r > 0xf000 && g < 0x1000 && b < 0x1000:
				reds++
				minX, maxX, minY, maxY = min(minX, x), max(maxX, x), min(minY, y), max(maxY, y)
			case b > 0xf000 && r < 0x1000 && g < 0x1000:
				blues++
			}
		}
	}
	// 36 points at 100 DPI: 50 pixels wide, 25 high, at the top right of the panel.
	w, h := maxX-minX+1, maxY-minY+1
	if math.Abs(float64(w)-50) > 3 || math.Abs(float64(h)-25) > 3 || minX < img.Bounds().Dx()/2 || maxY > img.Bounds().Dy()/2 {
		t.Errorf("the picture covers %d x %d pixels at x %d–%d, y %d–%d of %v: want about 50 x 25, top right", w, h, minX, maxX, minY, maxY, img.Bounds())
	}
	if reds < 40*20 || blues < 2*(w+h) {
		t.Errorf("%d red pixels (the picture) and %d blue (its frame): want a filled picture and its frame", reds, blues)
	}
	// The picture fills the top right corner, where the legend would go: it goes top left.
	doc := parseSVG(t, encode(t, fig, "svg"))
	if l, ok := doc.Find("points"); !ok || l.X > doc.Width/2 || l.Y < doc.Height/2 { // y upwards
		t.Errorf("the legend (%v) is at (%.0f, %.0f) of %.0f x %.0f: want the top left, away from the picture", ok, l.X, l.Y, doc.Width, doc.Height)
	}
}
