// Package plot draws the toolkit's figures: line series with optional shaded bands (a lower and
// an upper curve, such as a 95% interval) and markers, on one or more panels laid out on a grid,
// with ticks and a light grid on both axes, linear or log scales, dashed reference lines, titles,
// axis labels, and legends placed where they hide no data (in a free corner of the panel, else
// outside it, to the right); scatter plots (Series.Points) with pictures at points (a map's
// thumbnails); and heat maps (a Panel's Matrix: a confusion matrix, say).
//
// A Figure is written as SVG or PNG, chosen by each path's extension, through internal/atomicfile:
//
//	fig := plot.Figure{Panels: []plot.Panel{{
//		Title: "p-value against input noise", XLabel: "σ", YLabel: "p", XScale: plot.Log, YScale: plot.Log,
//		Series: []plot.Series{{Name: "VICReg", X: sigma, Y: mean, Lo: lo, Hi: hi}},
//		HLines: []plot.RefLine{{At: 0.01, Label: "p = 0.01"}},
//	}}}
//	err := fig.Save("noise.svg", "noise.png")
//
// The same figure always gives the same bytes, so figures kept in a repository change only when
// their data do. The package is built on gonum.org/v1/plot; callers need not import it.
package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Scale is how an axis maps values to positions.
type Scale int

const (
	// Linear is the default scale.
	Linear Scale = iota
	// Log is a base-10 log scale with tick labels at powers of ten (or at 1, 2 and 5 times them
	// when the range spans less than two decades), and at an end of the axis that falls on a
	// tick (such as 0.4 for data from 0.01 to 0.4). Values <= 0 are left out.
	Log
	// AutoScale is Log when every value on the axis is positive and the largest is at least
	// AutoLogRatio times the smallest, else Linear: for quantities that may or may not span
	// decades, such as the terms of a loss.
	AutoScale
)

// AutoLogRatio is the ratio of the largest to the smallest value above which AutoScale picks a
// log axis (one and a half decades).
const AutoLogRatio = 30

// Marker is the shape drawn at each point of a series.
type Marker int

const (
	// MarkerAuto (the zero value) draws the series' own shape, chosen by its index in the panel,
	// when the series has at most MaxAutoMarkers points, and no marker otherwise.
	MarkerAuto Marker = iota
	// NoMarker draws the line only (a series of one point gets its MarkerAuto shape: a line
	// through one point would draw nothing).
	NoMarker
	// Circle is a filled disc.
	Circle
	// Square is a filled square.
	Square
	// Triangle is a filled triangle pointing up.
	Triangle
	// Diamond is a filled square standing on a corner.
	Diamond
	// Cross is an x.
	Cross
	// Plus is a +.
	Plus
)

// MaxAutoMarkers is the largest number of points for which MarkerAuto draws markers.
const MaxAutoMarkers = 30

// AutoMarkers is the order in which MarkerAuto assigns shapes to the series of a panel; callers
// that give related series one colour can tell them apart by these shapes.
var AutoMarkers = []Marker{Circle, Square, Triangle, Diamond, Cross, Plus}

// LegendPlace says where a panel's legend goes.
type LegendPlace int

const (
	// LegendAuto (the zero value) puts the legend inside the panel, in the first of the corners
	// top right, top left, bottom right and bottom left where it covers no curve, band, marker
	// or reference line; when none is free, outside the panel, to its right.
	LegendAuto LegendPlace = iota
	// LegendOutside puts the legend to the right of the panel.
	LegendOutside
	// LegendHidden draws no legend.
	LegendHidden
)

// Series is one curve: the points (X[i], Y[i]), joined by a line, and optionally a shaded band
// from Lo[i] to Hi[i] at each X[i]. Points with a non-finite coordinate (or, on a log axis, a
// coordinate <= 0) are left out, and the line joins the remaining points; they are never drawn
// as zero. A series with no points left gets no legend entry.
type Series struct {
	// Name is the legend entry; a series without a name has none.
	Name string
	// X and Y are the points; Y may be nil for a band alone, else it has len(X) values.
	X, Y []float64
	// Lo and Hi, both nil or both of len(X), are the band's lower and upper curves. On a log
	// axis a lower value <= 0 is drawn at the bottom of the axis.
	Lo, Hi []float64
	// Marker is the shape at each point (MarkerAuto: see there).
	Marker Marker
	// Dashed draws the line dashed.
	Dashed bool
	// Points draws the points alone, without a line (a scatter plot): a smaller marker at
	// every point, whatever their number (MarkerAuto: the series' own shape). A band is
	// drawn as for any series.
	Points bool
	// Color is the colour of the line, the markers and (lighter) the band; nil takes
	// Colors[i % len(Colors)] for the i-th series of the panel.
	Color color.Color
}

// RefLine is a dashed reference line across a panel, at a fixed value (for example a
// significance level). A line with a label gets a legend entry.
type RefLine struct {
	At    float64
	Label string
}

// Panel is one plot: its series share the axes.
type Panel struct {
	// Title is drawn above the panel, wrapped to its width.
	Title string
	// XLabel and YLabel name the axes (with their units).
	XLabel, YLabel string
	// XScale and YScale are the axes' scales (Linear by default).
	XScale, YScale Scale
	// XInclude and YInclude are values the axes must show even where no data reach them
	// (for example 0 and 1 for a fraction).
	XInclude, YInclude []float64
	// Series are the curves, drawn in order (the bands of all series below every line).
	Series []Series
	// HLines and VLines are dashed reference lines at fixed y and x values; the axes include
	// them.
	HLines, VLines []RefLine
	// Legend says where the legend goes (LegendAuto by default).
	Legend LegendPlace
	// Pictures are images drawn over the series (see Picture), PictureSide points on their
	// longer side (0: DefaultPictureSide).
	Pictures    []Picture
	PictureSide float64
	// Matrix, when set, is drawn in place of series and reference lines (a heat map: see
	// Matrix); the scales and included values do not apply, and the legend, unless hidden, is
	// the key of its shades, outside the panel.
	Matrix *Matrix
}

// Figure is one image: its panels laid out row by row on a grid of Columns columns.
type Figure struct {
	// Title, if any, is drawn above all panels.
	Title string
	// Columns is the number of panels per row; 0 means 1.
	Columns int
	// Panels are drawn left to right, then top to bottom.
	Panels []Panel
	// Width and Height are the figure's size in inches; 0 means DefaultPanelWidth (or
	// DefaultGridPanelWidth with several columns) per column and DefaultPanelHeight per row.
	Width, Height float64
	// DPI is the PNG's resolution in pixels per inch (0 means DefaultDPI): a PNG has
	// round(Width·DPI) × round(Height·DPI) pixels.
	DPI int
}

// Defaults of a Figure's size and resolution.
const (
	DefaultPanelWidth     = 7.5 // inches, one column
	DefaultGridPanelWidth = 5.0 // inches per column, several columns
	DefaultPanelHeight    = 2.8 // inches per row
	DefaultDPI            = 150
)

// Colors is the palette given to series without a Color, in order (Matplotlib's "tab10", which
// stays distinguishable for the common forms of colour blindness when paired with markers).
var Colors = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
	color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0x17, 0xbe, 0xcf, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff},
	color.RGBA{0xbc, 0xbd, 0x22, 0xff},
}

// Size returns the figure's width and height in inches, with the defaults applied.
func (f *Figure) Size() (width, height float64) {
	cols := max(1, f.Columns)
	rows := max(1, (len(f.Panels)+cols-1)/cols)
	width, height = f.Width, f.Height
	if width <= 0 {
		width = DefaultPanelWidth
		if cols > 1 {
			width = DefaultGridPanelWidth * float64(cols)
		}
	}
	if height <= 0 {
		height = DefaultPanelHeight * float64(rows)
		if f.Title != "" {
			height += 0.35
		}
	}
	return width, height
}

// Encode writes the figure to w in the given format: "svg" or "png".
func (f *Figure) Encode(w io.Writer, format string) error {
	width, height := f.Size()
	wl, hl := vg.Length(width)*vg.Inch, vg.Length(height)*vg.Inch
	switch format {
	case "svg":
		c := vgsvg.New(wl, hl)
		if err := f.draw(draw.New(c)); err != nil {
			return err
		}
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			return err
		}
		_, err := w.Write(svgFontFallback(buf.Bytes()))
		return err
	case "png":
		dpi := f.DPI
		if dpi <= 0 {
			dpi = DefaultDPI
		}
		c := vgimg.NewWith(vgimg.UseWH(wl, hl), vgimg.UseDPI(dpi))
		if err := f.draw(draw.New(c)); err != nil {
			return err
		}
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	}
	return fmt.Errorf("plot: unknown format %q (use svg or png)", format)
}

// Save writes the figure to each path, in the format its extension names (.svg or .png), each
// atomically (internal/atomicfile): a failure leaves any earlier file at that path as it was.
func (f *Figure) Save(paths ...string) error {
	if len(paths) == 0 {
		return fmt.Errorf("plot: Save needs at least one path (name.svg or name.png)")
	}
	for _, path := range paths {
		format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
		if format != "svg" && format != "png" {
			return fmt.Errorf("plot: %s: unknown figure format %q (name the file .svg or .png)", path, filepath.Ext(path))
		}
	}
	for _, path := range paths {
		format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
		if err := atomicfile.Write(path, 0, func(w io.Writer) error { return f.Encode(w, format) }); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	return nil
}

// svgFontFallback adds metric-compatible fallbacks to the font family gonum writes (Liberation
// Sans), so that a viewer without the Liberation fonts uses Arial or Helvetica, whose glyph widths
// the layout matches, rather than its default serif font.
func svgFontFallback(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"), []byte("font-family:Liberation Sans,Arial,Helvetica,sans-serif;"))
}
