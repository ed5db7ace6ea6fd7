package plot

import (
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Matrix is a table of values drawn as a grid of shaded cells (a heat map, such as a confusion
// matrix): row i of Values is the i-th row from the top, named Rows[i] on the y axis, and column j
// the j-th from the left, named Columns[j] on the x axis. A cell's shade runs from nearly white
// (0) to dark blue (Max and above; see Shade); a non-finite value is drawn grey. Text, when given,
// is written in the cells (dark on light cells, white on dark ones), and the legend keys the
// shades (Key).
type Matrix struct {
	Values        [][]float64
	Rows, Columns []string
	// Max is the value of the darkest shade; 0 means the largest value.
	Max float64
	// Text, nil or of Values' shape, is each cell's text ("" for none).
	Text [][]string
	// Key formats the values that the legend's swatches stand for (at 0, Max/4, ..., Max); nil
	// means %g, and a legend of LegendHidden shows none.
	Key func(v float64) string
}

// matrixShades are the stops of a Matrix's shades, at 0, 1/4, ..., 1 of its Max: Matplotlib's
// "Blues" (ColorBrewer's), from nearly white to dark blue, linear between stops.
var matrixShades = []color.RGBA{
	{0xf7, 0xfb, 0xff, 0xff}, {0xc6, 0xdb, 0xef, 0xff}, {0x6b, 0xae, 0xd6, 0xff}, {0x21, 0x71, 0xb5, 0xff}, {0x08, 0x30, 0x6b, 0xff},
}

// MaxMatrixLabels is the largest number of rows (or columns) whose every name is written on its
// axis; beyond it, every k-th name is, k the smallest step that keeps within it.
const MaxMatrixLabels = 40

// Shade is the colour of a cell of value v on a scale whose darkest shade is at max: Matplotlib's
// "Blues" from nearly white at 0 (and below) to dark blue at max (and above); grey for a
// non-finite v.
func Shade(v, max float64) color.RGBA {
	if !finite(v) {
		return color.RGBA{0xbb, 0xbb, 0xbb, 0xff}
	}
	t := 0.0
	if max > 0 {
		t = math.Min(1, math.Max(0, v/max))
	}
	k := min(int(t*4), 3)
	f := t*4 - float64(k)
	a, b := matrixShades[k], matrixShades[k+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + f*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

// newMatrixPlot builds the gonum plot of a panel that holds a Matrix.
func newMatrixPlot(pn *Panel, w, h vg.Length) (*panelPlot, error) {
	m := pn.Matrix
	rows, cols := len(m.Values), 0
	if rows > 0 {
		cols = len(m.Values[0])
	}
	if rows == 0 || cols == 0 {
		return nil, fmt.Errorf("plot: panel %q: an empty matrix", pn.Title)
	}
	for i, r := range m.Values {
		if len(r) != cols {
			return nil, fmt.Errorf("plot: panel %q: matrix row %d has %d values, row 0 has %d", pn.Title, i, len(r), cols)
		}
		if m.Text != nil && (len(m.Text) != rows || len(m.Text[i]) != cols) {
			return nil, fmt.Errorf("plot: panel %q: the matrix's text is not of its shape (%d × %d)", pn.Title, rows, cols)
		}
	}
	if len(m.Rows) != rows || len(m.Columns) != cols {
		return nil, fmt.Errorf("plot: panel %q: %d row and %d column names for a %d × %d matrix", pn.Title, len(m.Rows), len(m.Columns), rows, cols)
	}
	top := m.Max
	if top <= 0 {
		for _, r := range m.Values {
			for _, v := range r {
				if finite(v) {
					top = math.Max(top, v)
				}
			}
		}
	}

	p := styledPlot(pn, w, vg.Points(3))
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, float64(cols), 0, float64(rows)
	p.X.Tick.Marker = categoryTicks(m.Columns, false)
	p.Y.Tick.Marker = categoryTicks(m.Rows, true)
	// Column names read upwards when they would not fit side by side.
	widest := vg.Length(0)
	for _, name := range m.Columns {
		widest = max(widest, p.X.Tick.Label.Width(name))
	}
	if widest > (w-vg.Points(100))/vg.Length(cols)*0.9 {
		p.X.Tick.Label.Rotation = math.Pi / 2
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	} else {
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XCenter, draw.YTop
	}
	p.Y.Tick.Label.XAlign, p.Y.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.Add(&cells{m: m, max: top})

	pp := &panelPlot{p: p, place: pn.Legend, legend: gplot.NewLegend()}
	pp.legend.TextStyle = textStyle(sans, 9)
	pp.legend.ThumbnailWidth = vg.Points(12)
	pp.legend.Padding = vg.Points(1)
	if pn.Legend != LegendHidden {
		// The key, darkest first, outside: the cells fill the panel, no corner is free.
		pp.place = LegendOutside
		key := m.Key
		if key == nil {
			key = func(v float64) string { return fmt.Sprintf("%g", v) }
		}
		for k := 4; k >= 0; k-- {
			v := top * float64(k) / 4
			pp.legend.Add(key(v), swatch{Shade(v, top)})
			pp.entries++
		}
	}
	return pp, nil
}

// categoryTicks puts names at the centres of the cells 0..len(names)-1 (from the top when down),
// every k-th name where there are more than MaxMatrixLabels.
func categoryTicks(names []string, down bool) gplot.ConstantTicks {
	step := (len(names) + MaxMatrixLabels - 1) / MaxMatrixLabels
	var ticks gplot.ConstantTicks
	for i, name := range names {
		at := float64(i) + 0.5
		if down {
			at = float64(len(names)-i) - 0.5
		}
		if i%step == 0 {
			ticks = append(ticks, gplot.Tick{Value: at, Label: name})
		}
	}
	return ticks
}

// cells draws a Matrix's cells, with a hairline of white between them, and their text.
type cells struct {
	m   *Matrix
	max float64
}

// Plot implements gonum's plot.Plotter.
func (cl *cells) Plot(c draw.Canvas, p *gplot.Plot) {
	trX, trY := p.Transforms(&c)
	rows := len(cl.m.Values)
	sty := textStyle(sans, 9)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	for i, r := range cl.m.Values {
		y0, y1 := trY(float64(rows-i-1)), trY(float64(rows-i))
		for j, v := range r {
			x0, x1 := trX(float64(j)), trX(float64(j+1))
			shade := Shade(v, cl.max)
			c.FillPolygon(shade, []vg.Point{{X: x0, Y: y0}, {X: x0, Y: y1}, {X: x1, Y: y1}, {X: x1, Y: y0}})
			if cl.m.Text == nil || cl.m.Text[i][j] == "" {
				continue
			}
			sty.Color = color.Black
			if luminance(shade) < 0.5 {
				sty.Color = color.White
			}
			c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, cl.m.Text[i][j])
		}
	}
	line := draw.LineStyle{Color: color.White, Width: vg.Points(0.5)}
	for i := 1; i < rows; i++ {
		c.StrokeLine2(line, trX(0), trY(float64(i)), trX(float64(len(cl.m.Values[0]))), trY(float64(i)))
	}
	for j := 1; j < len(cl.m.Values[0]); j++ {
		c.StrokeLine2(line, trX(float64(j)), trY(0), trX(float64(j)), trY(float64(rows)))
	}
}

// luminance is c's relative luminance, 0 (black) to 1 (white), by Rec. 709's weights on its
// channels.
func luminance(c color.RGBA) float64 {
	return (0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)) / 255
}

// swatch is a legend entry's filled square of one colour, outlined so that white shows.
type swatch struct{ color color.Color }

// Thumbnail implements gonum's plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	box := []vg.Point{c.Min, {X: c.Min.X, Y: c.Max.Y}, c.Max, {X: c.Max.X, Y: c.Min.Y}}
	c.FillPolygon(s.color, box)
	c.StrokeLines(legendBox, append(box, c.Min))
}
