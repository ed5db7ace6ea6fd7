package plot

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	xfont "golang.org/x/image/font"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Look of every figure.
var (
	sans      = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold  = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
	gridStyle = draw.LineStyle{Color: color.Gray{Y: 0xdd}, Width: vg.Points(0.5)}
	refStyle  = draw.LineStyle{Color: color.Gray{Y: 0x55}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	legendBg  = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xe0}
	legendBox = draw.LineStyle{Color: color.Gray{Y: 0xbb}, Width: vg.Points(0.5)}
)

const (
	lineWidth    = 1.5  // points
	markerRadius = 2.6  // points
	pointRadius  = 1.7  // points, of a Series with Points
	bandAlpha    = 0x40 // opacity of a band, out of 0xff
	legendInset  = 5    // points between a corner legend and the panel's edges
	legendGap    = 10   // points between the panel and an outside legend
	dataPadding  = 0.04 // fraction of the y range added above and below the data
)

// panelPlot is a Panel turned into a gonum plot with its legend and what the legend must avoid.
type panelPlot struct {
	p        *gplot.Plot
	legend   gplot.Legend
	entries  int
	place    LegendPlace
	occupied *occupancy
	markers  bool // some series has markers (the legend keeps a larger distance)
}

// draw lays the panels out on c and draws them.
func (f *Figure) draw(c draw.Canvas) error {
	if len(f.Panels) == 0 {
		return fmt.Errorf("plot: the figure has no panels")
	}
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	if f.Title != "" {
		sty := textStyle(sansBold, 12)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		title := wrap(f.Title, sty, c.Max.X-c.Min.X-vg.Points(20))
		c.FillText(sty, vg.Point{X: c.Center().X, Y: c.Max.Y - vg.Points(6)}, title)
		c.Max.Y -= sty.Height(title) + vg.Points(10)
	}
	cols := max(1, f.Columns)
	rows := (len(f.Panels) + cols - 1) / cols
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadTop: vg.Points(4), PadBottom: vg.Points(2),
		PadLeft: vg.Points(2), PadRight: vg.Points(14), PadX: vg.Points(18), PadY: vg.Points(12)}
	tileW := (c.Max.X - c.Min.X) / vg.Length(cols)
	tileH := (c.Max.Y - c.Min.Y) / vg.Length(rows)

	panels := make([]*panelPlot, len(f.Panels))
	grid := make([][]*gplot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*gplot.Plot, cols)
	}
	for i := range f.Panels {
		pp, err := newPanelPlot(&f.Panels[i], tileW, tileH)
		if err != nil {
			return err
		}
		panels[i] = pp
		grid[i/cols][i%cols] = pp.p
	}

	// Place the legends: in a free corner where there is one, else outside, to the right, in
	// room the panel reserves in its own tile (gonum's alignment then keeps the data areas of
	// all panels the same size). Narrowing the panels for that room can fill a corner that was
	// free, so repeat until no legend moves.
	outside := make([]bool, len(panels))
	corner := make([]int, len(panels))
	var canvases [][]draw.Canvas
	for range len(panels) + 1 {
		canvases = gplot.Align(grid, tiles, c)
		moved := false
		for i, pp := range panels {
			if pp.entries == 0 || pp.place == LegendHidden || outside[i] {
				continue
			}
			dc := pp.p.DataCanvas(canvases[i/cols][i%cols])
			corner[i] = -1
			if pp.place == LegendAuto {
				corner[i] = pp.freeCorner(dc)
			}
			if corner[i] < 0 {
				outside[i], moved = true, true
				pp.p.Add(room{width: pp.legend.Rectangle(dc).Size().X + vg.Points(legendGap)})
			}
		}
		if !moved {
			break
		}
	}

	for i, pp := range panels {
		tc := canvases[i/cols][i%cols]
		pp.p.Draw(tc)
		if pp.entries == 0 || pp.place == LegendHidden {
			continue
		}
		dc := pp.p.DataCanvas(tc)
		if outside[i] {
			pp.legend.Top, pp.legend.Left = true, true
			size := pp.legend.Rectangle(dc).Size()
			lc := dc
			lc.Min.X = dc.Max.X + vg.Points(legendGap)
			lc.Max.X = lc.Min.X + size.X
			pp.legend.Draw(lc)
			continue
		}
		box := pp.cornerBox(dc, corner[i])
		bg := vg.Rectangle{Min: vg.Point{X: box.Min.X - 3, Y: box.Min.Y - 2}, Max: vg.Point{X: box.Max.X + 3, Y: box.Max.Y + 2}}
		dc.SetColor(legendBg)
		dc.Fill(bg.Path())
		dc.StrokeLines(legendBox, []vg.Point{bg.Min, {X: bg.Max.X, Y: bg.Min.Y}, bg.Max, {X: bg.Min.X, Y: bg.Max.Y}, bg.Min})
		pp.legend.Top, pp.legend.Left = corner[i] < 2, corner[i]%2 == 1
		in := vg.Points(legendInset)
		pp.legend.Draw(draw.Crop(dc, in, -in, in, -in))
	}
	return nil
}

// corners, in the order tried: top right, top left, bottom right, bottom left.
const numCorners = 4

// cornerBox is the rectangle, in dc's coordinates, that the legend covers in corner k.
func (pp *panelPlot) cornerBox(dc draw.Canvas, k int) vg.Rectangle {
	size := pp.legend.Rectangle(dc).Size()
	// The legend's first line starts a font descent below the top.
	size.Y += pp.legend.TextStyle.FontExtents().Descent
	in := vg.Points(legendInset)
	var r vg.Rectangle
	if k%2 == 1 { // left
		r.Min.X = dc.Min.X + in
	} else {
		r.Min.X = dc.Max.X - in - size.X
	}
	if k < 2 { // top
		r.Min.Y = dc.Max.Y - in - size.Y
	} else {
		r.Min.Y = dc.Min.Y + in
	}
	r.Max = vg.Point{X: r.Min.X + size.X, Y: r.Min.Y + size.Y}
	return r
}

// freeCorner returns the first corner where the legend covers no data on dc, or -1.
func (pp *panelPlot) freeCorner(dc draw.Canvas) int {
	w, h := dc.Max.X-dc.Min.X, dc.Max.Y-dc.Min.Y
	if w <= 0 || h <= 0 {
		return -1
	}
	clear := vg.Points(lineWidth + 2)
	if pp.markers {
		clear += vg.Points(markerRadius)
	}
	for k := range numCorners {
		r := pp.cornerBox(dc, k)
		if r.Min.X < dc.Min.X || r.Min.Y < dc.Min.Y || r.Max.X > dc.Max.X || r.Max.Y > dc.Max.Y {
			return -1 // larger than the panel
		}
		x0 := float64((r.Min.X - clear - dc.Min.X) / w)
		x1 := float64((r.Max.X + clear - dc.Min.X) / w)
		y0 := float64((r.Min.Y - clear - dc.Min.Y) / h)
		y1 := float64((r.Max.Y + clear - dc.Min.Y) / h)
		if !pp.occupied.any(x0, x1, y0, y1) {
			return k
		}
	}
	return -1
}

// curve is a Series with its points checked against the axes' scales.
type curve struct {
	name   string
	color  color.Color
	marker Marker
	dashed bool
	points bool // markers alone, no line (Series.Points)
	pts    plotter.XYs
	band   []bandPoint
}

type bandPoint struct{ x, lo, hi float64 }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// newPanelPlot checks a panel's data and builds its gonum plot for a tile of about w × h.
func newPanelPlot(pn *Panel, w, h vg.Length) (*panelPlot, error) {
	if pn.Matrix != nil {
		return newMatrixPlot(pn, w, h)
	}
	for _, s := range pn.Series {
		if s.Y != nil && len(s.Y) != len(s.X) {
			return nil, fmt.Errorf("plot: panel %q, series %q: %d x values but %d y values", pn.Title, s.Name, len(s.X), len(s.Y))
		}
		if (s.Lo == nil) != (s.Hi == nil) || (s.Lo != nil && (len(s.Lo) != len(s.X) || len(s.Hi) != len(s.X))) {
			return nil, fmt.Errorf("plot: panel %q, series %q: a band needs Lo and Hi with one value per x (%d x, %d lo, %d hi)",
				pn.Title, s.Name, len(s.X), len(s.Lo), len(s.Hi))
		}
	}
	var xs, ys []float64
	for _, s := range pn.Series {
		xs = append(xs, s.X...)
		ys = append(append(append(ys, s.Y...), s.Lo...), s.Hi...)
	}
	for _, pic := range pn.Pictures {
		xs, ys = append(xs, pic.X), append(ys, pic.Y)
	}
	xs = append(xs, pn.XInclude...)
	ys = append(ys, pn.YInclude...)
	for _, l := range pn.VLines {
		xs = append(xs, l.At)
	}
	for _, l := range pn.HLines {
		ys = append(ys, l.At)
	}
	logX, logY := resolve(pn.XScale, xs), resolve(pn.YScale, ys)
	okX := func(v float64) bool { return finite(v) && (!logX || v > 0) }
	okY := func(v float64) bool { return finite(v) && (!logY || v > 0) }

	// The curves, and the values the axes must span.
	var curves []curve
	var spanX, spanY []float64
	for i, s := range pn.Series {
		cv := curve{name: s.Name, color: s.Color, marker: s.Marker, dashed: s.Dashed, points: s.Points}
		if cv.color == nil {
			cv.color = Colors[i%len(Colors)]
		}
		for j, x := range s.X {
			if !okX(x) {
				continue
			}
			if s.Y != nil && okY(s.Y[j]) {
				cv.pts = append(cv.pts, plotter.XY{X: x, Y: s.Y[j]})
				spanX, spanY = append(spanX, x), append(spanY, s.Y[j])
			}
			if s.Lo != nil && finite(s.Lo[j]) && okY(s.Hi[j]) {
				lo := s.Lo[j]
				if !okY(lo) {
					lo = math.Inf(-1) // at the bottom of a log axis
				} else {
					spanY = append(spanY, lo)
				}
				cv.band = append(cv.band, bandPoint{x, lo, s.Hi[j]})
				spanX, spanY = append(spanX, x), append(spanY, s.Hi[j])
			}
		}
		if cv.marker == MarkerAuto || (cv.marker == NoMarker && len(cv.pts) == 1) {
			// A line through one point draws nothing: a single point gets its marker whatever
			// the series asked.
			cv.marker = NoMarker
			if len(cv.pts) <= MaxAutoMarkers || cv.points {
				cv.marker = AutoMarkers[i%len(AutoMarkers)]
			}
		}
		curves = append(curves, cv)
	}
	var pics []Picture // those at finite places on the axes
	for _, pic := range pn.Pictures {
		if okX(pic.X) && okY(pic.Y) && pic.Image != nil {
			pics = append(pics, pic)
			spanX, spanY = append(spanX, pic.X), append(spanY, pic.Y)
		}
	}
	empty := len(spanX) == 0
	for _, v := range pn.XInclude {
		if okX(v) {
			spanX = append(spanX, v)
		}
	}
	for _, v := range pn.YInclude {
		if okY(v) {
			spanY = append(spanY, v)
		}
	}
	var hlines, vlines []RefLine
	for _, l := range pn.HLines {
		if okY(l.At) {
			hlines, spanY = append(hlines, l), append(spanY, l.At)
		}
	}
	for _, l := range pn.VLines {
		if okX(l.At) {
			vlines, spanX = append(vlines, l), append(spanX, l.At)
		}
	}

	p := styledPlot(pn, w, vg.Points(4))
	inches := func(l vg.Length) float64 { return float64(l / vg.Inch) }
	p.X.Tick.Marker = ticker{log: logX, target: min(10, max(3, int(math.Round(inches(w)*1.1))))}
	p.Y.Tick.Marker = ticker{log: logY, target: min(8, max(3, int(math.Round(inches(h)*1.6))))}
	if logX {
		p.X.Scale = gplot.LogScale{}
	}
	if logY {
		p.Y.Scale = gplot.LogScale{}
	}
	grid := plotter.NewGrid()
	grid.Vertical, grid.Horizontal = gridStyle, gridStyle
	p.Add(grid)

	pp := &panelPlot{p: p, place: pn.Legend, legend: gplot.NewLegend()}
	pp.legend.TextStyle = textStyle(sans, 9)
	pp.legend.ThumbnailWidth = vg.Points(18)
	pp.legend.Padding = vg.Points(1)
	if empty {
		p.Add(noData{})
	}

	// Bands under everything else, then reference lines, then the lines and their markers.
	thumbs := make([][]gplot.Thumbnailer, len(curves))
	for i, cv := range curves {
		if len(cv.band) == 0 {
			continue
		}
		r, g, b, _ := cv.color.RGBA()
		bd := &band{pts: cv.band, color: color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: bandAlpha}}
		p.Add(bd)
		thumbs[i] = append(thumbs[i], bd)
	}
	var refs []*refLine
	for _, l := range hlines {
		refs = append(refs, &refLine{at: l.At, label: l.Label})
	}
	for _, l := range vlines {
		refs = append(refs, &refLine{at: l.At, label: l.Label, vertical: true})
	}
	for _, rl := range refs {
		p.Add(rl)
	}
	for i, cv := range curves {
		if len(cv.pts) > 0 {
			radius := markerRadius
			if cv.points {
				radius = pointRadius
			} else {
				ln := &plotter.Line{XYs: cv.pts, LineStyle: draw.LineStyle{Color: cv.color, Width: vg.Points(lineWidth)}}
				if cv.dashed {
					ln.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(2.5)}
				}
				p.Add(ln)
				thumbs[i] = append(thumbs[i], ln)
			}
			if cv.marker != NoMarker {
				sc := &plotter.Scatter{XYs: cv.pts, GlyphStyle: draw.GlyphStyle{Color: cv.color, Radius: vg.Points(radius), Shape: glyph(cv.marker)}}
				p.Add(sc)
				thumbs[i] = append(thumbs[i], sc)
				pp.markers = true
			}
		}
		if cv.name != "" && len(thumbs[i]) > 0 {
			pp.legend.Add(cv.name, thumbs[i]...)
			pp.entries++
		}
	}
	for _, rl := range refs {
		if rl.label != "" {
			pp.legend.Add(rl.label, rl)
			pp.entries++
		}
	}
	side := vg.Points(pn.PictureSide)
	if side <= 0 {
		side = vg.Points(DefaultPictureSide)
	}
	if len(pics) > 0 {
		p.Add(&pictures{pics: pics, side: side})
	}

	// The axes' ranges: the data's, the y range padded, both widened when empty.
	p.X.Min, p.X.Max = axisRange(spanX, logX, 0)
	if len(spanX) > 0 && slices.Min(spanX) < slices.Max(spanX) {
		// Unpadded: the x axis ends at data values, which a log axis labels even between ticks.
		p.X.Tick.Marker = ticker{log: logX, target: p.X.Tick.Marker.(ticker).target, dataEnds: true}
	}
	p.Y.Min, p.Y.Max = axisRange(spanY, logY, dataPadding)
	for i := range curves {
		for j := range curves[i].band {
			if math.IsInf(curves[i].band[j].lo, -1) {
				curves[i].band[j].lo = p.Y.Min
			}
		}
	}
	pp.occupied = newOccupancy(p, curves, hlines, vlines)
	// A picture covers about its side around its centre (the data area is somewhat smaller than
	// the tile: a fifth more).
	dx, dy := 1.2*float64(side/w)/2, 1.2*float64(side/h)/2
	for _, pic := range pics {
		x, y := p.X.Norm(pic.X), p.Y.Norm(pic.Y)
		pp.occupied.box(x-dx, x+dx, y-dy, y+dy)
	}
	return pp, nil
}

// styledPlot is a gonum plot in the figures' look, with pn's title (wrapped to about w) and axis
// labels, and ticks of the given length.
func styledPlot(pn *Panel, w, tick vg.Length) *gplot.Plot {
	p := gplot.New()
	p.Title.Text = wrap(pn.Title, textStyle(sans, 11), w-vg.Points(30))
	p.Title.TextStyle = textStyle(sans, 11)
	p.Title.TextStyle.XAlign, p.Title.TextStyle.YAlign = draw.XCenter, draw.YTop
	p.Title.Padding = vg.Points(4)
	for _, ax := range []*gplot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle = textStyle(sans, 10)
		ax.Label.TextStyle.XAlign, ax.Label.TextStyle.YAlign = draw.XCenter, draw.YBottom
		xa, ya := ax.Tick.Label.XAlign, ax.Tick.Label.YAlign
		ax.Tick.Label = textStyle(sans, 9)
		ax.Tick.Label.XAlign, ax.Tick.Label.YAlign = xa, ya
		ax.Tick.Length = tick
		ax.Label.Padding = vg.Points(2)
	}
	p.X.Label.Text, p.Y.Label.Text = pn.XLabel, pn.YLabel
	return p
}

// resolve decides whether an axis is logarithmic.
func resolve(s Scale, values []float64) bool {
	switch s {
	case Log:
		return true
	case AutoScale:
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range values {
			if !finite(v) {
				continue
			}
			if v <= 0 {
				return false
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		return hi >= AutoLogRatio*lo
	}
	return false
}

// axisRange returns the range of values, widened by pad (a fraction of the range, in log space
// on a log axis) on both sides; a single value gets a range around it, no value a unit range.
func axisRange(values []float64, log bool, pad float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if log {
			v = math.Log10(v)
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	switch {
	case math.IsInf(lo, 1):
		lo, hi = 0, 1
	case lo == hi:
		d := math.Abs(lo) * 0.1
		if log || d == 0 {
			d = 0.5
		}
		lo, hi = lo-d, hi+d
	default:
		d := (hi - lo) * pad
		lo, hi = lo-d, hi+d
	}
	if log {
		return math.Pow(10, lo), math.Pow(10, hi)
	}
	return lo, hi
}

// textStyle is a black text style in the given font and size (points).
func textStyle(f font.Font, size float64) text.Style {
	return text.Style{Color: color.Black, Font: font.From(f, font.Length(size)), Handler: gplot.DefaultTextHandler}
}

// wrap breaks s at spaces into lines no wider than width.
func wrap(s string, sty text.Style, width vg.Length) string {
	if s == "" || sty.Width(s) <= width {
		return s
	}
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && sty.Width(line+" "+word) > width {
			lines = append(lines, line)
			line = word
			continue
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return strings.Join(append(lines, line), "\n")
}

// band is a filled area between a lower and an upper curve.
type band struct {
	pts   []bandPoint
	color color.Color
}

// Plot implements gonum's plot.Plotter.
func (b *band) Plot(c draw.Canvas, p *gplot.Plot) {
	trX, trY := p.Transforms(&c)
	poly := make([]vg.Point, 0, 2*len(b.pts))
	for _, q := range b.pts {
		poly = append(poly, vg.Point{X: trX(q.x), Y: trY(q.lo)})
	}
	for i := len(b.pts) - 1; i >= 0; i-- {
		poly = append(poly, vg.Point{X: trX(b.pts[i].x), Y: trY(b.pts[i].hi)})
	}
	c.FillPolygon(b.color, c.ClipPolygonXY(poly))
}

// Thumbnail implements gonum's plot.Thumbnailer: a filled swatch.
func (b *band) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(b.color, []vg.Point{c.Min, {X: c.Min.X, Y: c.Max.Y}, c.Max, {X: c.Max.X, Y: c.Min.Y}})
}

// refLine is a dashed line across the panel at a fixed y (or x) value.
type refLine struct {
	at       float64
	label    string
	vertical bool
}

// Plot implements gonum's plot.Plotter.
func (l *refLine) Plot(c draw.Canvas, p *gplot.Plot) {
	trX, trY := p.Transforms(&c)
	if l.vertical {
		x := trX(l.at)
		c.StrokeLines(refStyle, c.ClipLinesXY([]vg.Point{{X: x, Y: c.Min.Y}, {X: x, Y: c.Max.Y}})...)
		return
	}
	y := trY(l.at)
	c.StrokeLines(refStyle, c.ClipLinesXY([]vg.Point{{X: c.Min.X, Y: y}, {X: c.Max.X, Y: y}})...)
}

// Thumbnail implements gonum's plot.Thumbnailer.
func (l *refLine) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(refStyle, c.Min.X, y, c.Max.X, y)
}

// room reserves width to the right of a panel's data area, for a legend outside it: gonum
// shrinks the data area so that this glyph box fits in the panel's tile.
type room struct{ width vg.Length }

// Plot implements gonum's plot.Plotter; room draws nothing.
func (room) Plot(draw.Canvas, *gplot.Plot) {}

// GlyphBoxes implements gonum's plot.GlyphBoxer.
func (r room) GlyphBoxes(*gplot.Plot) []gplot.GlyphBox {
	return []gplot.GlyphBox{{X: 1, Y: 0.5, Rectangle: vg.Rectangle{Max: vg.Point{X: r.width}}}}
}

// noData marks a panel without any point.
type noData struct{}

// Plot implements gonum's plot.Plotter.
func (noData) Plot(c draw.Canvas, _ *gplot.Plot) {
	sty := textStyle(sans, 11)
	sty.Color = color.Gray{Y: 0x88}
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	c.FillText(sty, c.Center(), "no data")
}

// glyph is the gonum shape of a marker.
func glyph(m Marker) draw.GlyphDrawer {
	switch m {
	case Square:
		return draw.BoxGlyph{}
	case Triangle:
		return draw.PyramidGlyph{}
	case Diamond:
		return diamondGlyph{}
	case Cross:
		return strokeGlyph{diagonal: true}
	case Plus:
		return strokeGlyph{}
	}
	return draw.CircleGlyph{}
}

// diamondGlyph is a filled square standing on a corner.
type diamondGlyph struct{}

// DrawGlyph implements gonum's draw.GlyphDrawer.
func (diamondGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius * 1.25
	c.FillPolygon(sty.Color, []vg.Point{{X: pt.X, Y: pt.Y + r}, {X: pt.X + r, Y: pt.Y}, {X: pt.X, Y: pt.Y - r}, {X: pt.X - r, Y: pt.Y}})
}

// strokeGlyph is a + (or, diagonal, an x) drawn with the series' line width.
type strokeGlyph struct{ diagonal bool }

// DrawGlyph implements gonum's draw.GlyphDrawer.
func (g strokeGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	ls := draw.LineStyle{Color: sty.Color, Width: vg.Points(1.2)}
	r := sty.Radius * 1.2
	if g.diagonal {
		r *= 0.85
		c.StrokeLines(ls, []vg.Point{{X: pt.X - r, Y: pt.Y - r}, {X: pt.X + r, Y: pt.Y + r}}, []vg.Point{{X: pt.X - r, Y: pt.Y + r}, {X: pt.X + r, Y: pt.Y - r}})
		return
	}
	c.StrokeLines(ls, []vg.Point{{X: pt.X - r, Y: pt.Y}, {X: pt.X + r, Y: pt.Y}}, []vg.Point{{X: pt.X, Y: pt.Y - r}, {X: pt.X, Y: pt.Y + r}})
}
