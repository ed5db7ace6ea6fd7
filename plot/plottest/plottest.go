// Package plottest reads back the SVG figures that package plot writes, for tests: the paths
// with their vertices and style properties, and the texts with their positions, so that a test
// can check what a figure shows (tick labels, one path per series, a band per interval, legend
// entries) rather than how its file is spelled.
//
// Coordinates are gonum's: points (1/72 inch) from the bottom left corner, y up.
package plottest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Path is a <path>: its vertices (the points of its M and L commands) and its style properties
// ("stroke", "fill", "fill-opacity", "stroke-dasharray", ...).
type Path struct {
	Points [][2]float64
	Style  map[string]string
}

// Text is a <text>: the left end of its baseline, its font size (points), its content, and its
// colour ("#RRGGBB"; "" for the default, black).
type Text struct {
	X, Y, Size float64
	S          string
	Fill       string
}

// Doc is a parsed figure.
type Doc struct {
	Width, Height float64 // points
	Paths         []Path
	Texts         []Text
}

var (
	pathCmd  = regexp.MustCompile(`[ML](-?[0-9.e+-]+),(-?[0-9.e+-]+)`)
	fontSize = regexp.MustCompile(`font-size:([0-9.]+)px`)
	textFill = regexp.MustCompile(`fill:(#[0-9A-Fa-f]{6})`)
)

// Parse reads an SVG document written by plot.Figure with encoding/xml.
func Parse(data []byte) (*Doc, error) {
	doc := &Doc{}
	dec := xml.NewDecoder(bytes.NewReader(data))
	attr := func(el xml.StartElement, name string) string {
		for _, a := range el.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	var numErr error
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "pt"), 64)
		if err != nil && numErr == nil {
			numErr = fmt.Errorf("plottest: SVG number %q: %w", s, err)
		}
		return v
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("plottest: the SVG is not valid XML: %w", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch el.Name.Local {
		case "svg":
			doc.Width, doc.Height = num(attr(el, "width")), num(attr(el, "height"))
		case "path":
			p := Path{Style: map[string]string{}}
			for _, kv := range strings.Split(attr(el, "style"), ";") {
				if k, v, ok := strings.Cut(kv, ":"); ok {
					p.Style[k] = v
				}
			}
			for _, m := range pathCmd.FindAllStringSubmatch(attr(el, "d"), -1) {
				p.Points = append(p.Points, [2]float64{num(m[1]), num(m[2])})
			}
			doc.Paths = append(doc.Paths, p)
		case "text":
			var s string
			if err := dec.DecodeElement(&s, &el); err != nil {
				return nil, fmt.Errorf("plottest: %w", err)
			}
			size := 0.0
			if m := fontSize.FindStringSubmatch(attr(el, "style")); m != nil {
				size = num(m[1])
			}
			// Texts are drawn under scale(1, -1): y up is minus the attribute.
			fill := ""
			if m := textFill.FindStringSubmatch(attr(el, "style")); m != nil {
				fill = m[1]
			}
			doc.Texts = append(doc.Texts, Text{X: num(attr(el, "x")), Y: -num(attr(el, "y")), Size: size, S: s, Fill: fill})
		}
	}
	return doc, numErr
}

// Near reports whether the SVG colour s ("#RRGGBB") is c, up to the rounding of translucent
// colours in gonum's SVG writer (one unit per channel).
func Near(s string, c color.Color) bool {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	if err != nil || len(s) != 7 {
		return false
	}
	r, g, b, _ := c.RGBA()
	d := func(a uint64, b uint32) bool { return math.Abs(float64(a)-float64(b>>8)) <= 1 }
	return d(v>>16, r) && d(v>>8&0xff, g) && d(v&0xff, b)
}

// Lines returns the stroked, unfilled paths of colour c: a series' line (and its legend sample).
func (d *Doc) Lines(c color.Color) []Path {
	var out []Path
	for _, p := range d.Paths {
		if p.Style["fill"] == "none" && Near(p.Style["stroke"], c) {
			out = append(out, p)
		}
	}
	return out
}

// Fills returns the translucent filled paths of colour c: a series' band (and its legend
// swatch).
func (d *Doc) Fills(c color.Color) []Path {
	var out []Path
	for _, p := range d.Paths {
		if op := p.Style["fill-opacity"]; Near(p.Style["fill"], c) && op != "" && op != "1" {
			out = append(out, p)
		}
	}
	return out
}

// WithVertices keeps the paths with n vertices.
func WithVertices(ps []Path, n int) []Path {
	var out []Path
	for _, p := range ps {
		if len(p.Points) == n {
			out = append(out, p)
		}
	}
	return out
}

// Count returns how many texts are exactly s.
func (d *Doc) Count(s string) int {
	n := 0
	for _, t := range d.Texts {
		if t.S == s {
			n++
		}
	}
	return n
}

// Find returns the first text that is exactly s.
func (d *Doc) Find(s string) (Text, bool) {
	for _, t := range d.Texts {
		if t.S == s {
			return t, true
		}
	}
	return Text{}, false
}

// TickLabels splits the numeric texts of a one-panel figure into the x axis's (the largest group
// on one baseline, the lowest if several tie), ordered left to right, and the others (the y
// axis's), ordered bottom to top.
func (d *Doc) TickLabels() (xs, ys []Text) {
	var numeric []Text
	byY := map[float64]int{}
	for _, t := range d.Texts {
		if _, err := strconv.ParseFloat(t.S, 64); err == nil {
			numeric = append(numeric, t)
			byY[t.Y]++
		}
	}
	base, most := 0.0, 0
	for y, n := range byY {
		if n > most || (n == most && y < base) {
			base, most = y, n
		}
	}
	for _, t := range numeric {
		if t.Y == base {
			xs = append(xs, t)
		} else {
			ys = append(ys, t)
		}
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].X < xs[j].X })
	sort.Slice(ys, func(i, j int) bool { return ys[i].Y < ys[j].Y })
	return xs, ys
}
