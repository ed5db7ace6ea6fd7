// Package plot draws line plots as standalone SVG files: one or more panels stacked vertically,
// each with a title, axis labels, tick values at the ends of both axes and a legend, with one
// polyline (and a dot per point) for each series. It has no dependencies beyond the standard
// library and is meant for training curves and analysis reports, not publication figures.
package plot

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strings"
)

// Series is one named curve: points (X[i], Y[i]). Points with a non-finite coordinate are skipped.
type Series struct {
	Name string
	X, Y []float64
}

// Panel is one plot: its series share the axes.
type Panel struct {
	Title          string
	XLabel, YLabel string
	// LogX draws the x axis on a log10 scale (points with x <= 0 are skipped).
	LogX   bool
	Series []Series
}

// Colors is the palette of the series, in order (it wraps around).
var Colors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"}

// Layout of a panel, in SVG pixels.
const (
	plotWidth   = 760.0 // right edge of the plotting area
	panelHeight = 180.0
	left        = 80.0 // left edge of the plotting area (room for y ticks and label)
	top         = 34.0 // room above each panel for its title
	bottom      = 30.0 // room below each panel for the x ticks and label
	legendWidth = 220.0
)

// SVG writes the panels, stacked vertically, as one SVG document to w.
func SVG(w io.Writer, panels ...Panel) error {
	var sb strings.Builder
	height := float64(len(panels))*(panelHeight+top+bottom) + 10
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n",
		plotWidth+legendWidth, height)
	for p, panel := range panels {
		drawPanel(&sb, panel, top+float64(p)*(panelHeight+top+bottom))
	}
	sb.WriteString("</svg>\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// WriteSVG writes the panels to path atomically (a temporary file renamed into place).
func WriteSVG(path string, panels ...Panel) error {
	var sb strings.Builder
	if err := SVG(&sb, panels...); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("writing plot %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing plot %s: %w", path, err)
	}
	return nil
}

// points returns the drawable points of s in plot coordinates (x transformed for LogX).
func points(s Series, logX bool) [][2]float64 {
	var pts [][2]float64
	for i := range min(len(s.X), len(s.Y)) {
		x, y := s.X[i], s.Y[i]
		if logX {
			if x <= 0 {
				continue
			}
			x = math.Log10(x)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		pts = append(pts, [2]float64{x, y})
	}
	return pts
}

func drawPanel(sb *strings.Builder, panel Panel, y0 float64) {
	esc := html.EscapeString
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	all := make([][][2]float64, len(panel.Series))
	for i, s := range panel.Series {
		all[i] = points(s, panel.LogX)
		for _, pt := range all[i] {
			minX, maxX = math.Min(minX, pt[0]), math.Max(maxX, pt[0])
			minY, maxY = math.Min(minY, pt[1]), math.Max(maxY, pt[1])
		}
	}
	fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", left, y0-10, esc(panel.Title))
	fmt.Fprintf(sb, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", left, y0, plotWidth-left, panelHeight)
	if panel.XLabel != "" {
		fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n", (left+plotWidth)/2, y0+panelHeight+24, esc(panel.XLabel))
	}
	if panel.YLabel != "" {
		fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" text-anchor="middle" transform="rotate(-90 %.0f %.0f)">%s</text>`+"\n",
			14.0, y0+panelHeight/2, 14.0, y0+panelHeight/2, esc(panel.YLabel))
	}
	if math.IsInf(minX, 0) {
		fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" fill="#999">no data</text>`+"\n", left+8, y0+18)
		return
	}
	if maxX == minX {
		maxX, minX = maxX+0.5, minX-0.5
	}
	if maxY == minY {
		maxY, minY = maxY+0.5, minY-0.5
	}
	xTick := func(v float64) string {
		if panel.LogX {
			return fmt.Sprintf("%.4g", math.Pow(10, v))
		}
		return fmt.Sprintf("%.4g", v)
	}
	fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" text-anchor="end">%.4g</text>`+"\n", left-4, y0+10, maxY)
	fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" text-anchor="end">%.4g</text>`+"\n", left-4, y0+panelHeight, minY)
	fmt.Fprintf(sb, `<text x="%.0f" y="%.0f">%s</text>`+"\n", left, y0+panelHeight+12, xTick(minX))
	fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" text-anchor="end">%s</text>`+"\n", plotWidth, y0+panelHeight+12, xTick(maxX))
	px := func(x float64) float64 { return left + (x-minX)/(maxX-minX)*(plotWidth-left) }
	py := func(y float64) float64 { return y0 + panelHeight - (y-minY)/(maxY-minY)*panelHeight }
	for i, s := range panel.Series {
		color := Colors[i%len(Colors)]
		pts := all[i]
		if len(pts) == 0 {
			continue // no legend entry for a series without points
		}
		fmt.Fprintf(sb, `<text x="%.0f" y="%.0f" fill="%s">%s</text>`+"\n", plotWidth+8, y0+12+float64(i)*14, color, esc(s.Name))
		var poly strings.Builder
		for _, pt := range pts {
			fmt.Fprintf(&poly, "%.1f,%.1f ", px(pt[0]), py(pt[1]))
		}
		fmt.Fprintf(sb, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", color, strings.TrimSpace(poly.String()))
		if len(pts) <= 40 {
			for _, pt := range pts {
				fmt.Fprintf(sb, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n", px(pt[0]), py(pt[1]), color)
			}
		}
	}
}
