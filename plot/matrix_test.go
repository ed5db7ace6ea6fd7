package plot

import (
	"image/color"
	"math"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/plot/plottest"
)

// TestShade: the scale's ends are ColorBrewer's "Blues" (#F7FBFF at 0, #08306B at max), its
// middle the stop at 1/2 (#6BAED6), clamped beyond the ends, grey for NaN; darker with v.
func TestShade(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "#F7FBFF"}, {-1, "#F7FBFF"}, {0.5, "#6BAED6"}, {1, "#08306B"}, {7, "#08306B"}, {math.NaN(), "#BBBBBB"},
	} {
		if got := hex(Shade(tc.v, 1)); got != tc.want {
			t.Errorf("Shade(%v, 1) = %s, want %s", tc.v, got, tc.want)
		}
	}
	last := 2.0
	for v := 0.0; v <= 1; v += 0.01 {
		if l := luminance(Shade(v, 1)); l >= last {
			t.Fatalf("Shade(%v) is not darker than the shade before it (luminance %v, then %v)", v, last, l)
		} else {
			last = l
		}
	}
}

// cellFills are the opaque filled rectangles (4 vertices) of colour c in doc.
func cellFills(doc *plottest.Doc, c color.Color) []plottest.Path {
	var out []plottest.Path
	for _, p := range plottest.WithVertices(doc.Paths, 4) {
		if op := p.Style["fill-opacity"]; plottest.Near(p.Style["fill"], c) && (op == "" || op == "1") {
			out = append(out, p)
		}
	}
	return out
}

// TestMatrixCells: a cell per value, in its shade, row 0 at the top and column 0 at the left;
// each cell's text in it, white on a dark cell and black on a light one; the rows' and columns'
// names on their axes; the key's five swatches beside the matrix; shapes that do not match
// refused.
func TestMatrixCells(t *testing.T) {
	m := &Matrix{
		Values:  [][]float64{{1, 0.25, 0}, {0.5, math.NaN(), 0.75}},
		Rows:    []string{"top", "bottom"},
		Columns: []string{"left", "middle", "right"},
		Max:     1,
		Text:    [][]string{{"A", "B", ""}, {"D", "E", "F"}},
		Key:     func(v float64) string { return "key " + strings.Repeat("|", int(4*v)) },
	}
	doc := parseSVG(t, encode(t, &Figure{Panels: []Panel{{Title: "m", Matrix: m}}}, "svg"))
	centres := map[string][2]float64{} // each cell's centre, by its text
	for i, row := range m.Values {
		for j, v := range row {
			fills := cellFills(doc, Shade(v, 1))
			// The key's swatch of the same shade (at 0, 1/4, ..., 1) is the other fill.
			want := 1
			if v == 0 || v == 0.25 || v == 0.5 || v == 0.75 || v == 1 {
				want = 2
			}
			if len(fills) != want {
				t.Fatalf("cell (%d, %d) of %v: %d fills of %s, want %d", i, j, v, len(fills), hex(Shade(v, 1)), want)
			}
			p := fills[0].Points
			centres[m.Text[i][j]] = [2]float64{(p[0][0] + p[2][0]) / 2, (p[0][1] + p[2][1]) / 2}
		}
	}
	// Row 0 above row 1, column 0 left of column 1 left of column 2.
	if !(centres["A"][1] > centres["D"][1] && centres["A"][0] < centres["B"][0] && centres["E"][0] < centres["F"][0]) {
		t.Errorf("cell centres %v: want row 0 above row 1 and columns left to right", centres)
	}
	for _, s := range []string{"A", "B", "D", "E", "F"} {
		txt, ok := doc.Find(s)
		if !ok {
			t.Fatalf("no text %q", s)
		}
		if math.Abs(centre(txt)-centres[s][0]) > 1 {
			t.Errorf("text %q centred at x %v, its cell at %v", s, centre(txt), centres[s][0])
		}
	}
	for _, s := range []string{"top", "bottom", "left", "middle", "right", "key ||||", "key ||", "key "} {
		if doc.Count(s) != 1 {
			t.Errorf("%d texts %q, want 1", doc.Count(s), s)
		}
	}
	for _, p := range doc.Texts {
		want, ok := map[string]string{"A": "#FFFFFF", "F": "#FFFFFF", "B": "", "D": "", "E": ""}[p.S] // white on 1 and 0.75
		if ok && p.Fill != want {
			t.Errorf("text %q in colour %q, want %q", p.S, p.Fill, want)
		}
	}
	for _, bad := range []*Matrix{
		{Values: [][]float64{{1, 2}, {3}}, Rows: []string{"a", "b"}, Columns: []string{"a", "b"}},
		{Values: [][]float64{{1, 2}}, Rows: []string{"a"}, Columns: []string{"a"}},
		{Values: [][]float64{{1}}, Rows: []string{"a"}, Columns: []string{"a"}, Text: [][]string{{"x", "y"}}},
		{},
	} {
		var buf strings.Builder
		if err := (&Figure{Panels: []Panel{{Title: "bad", Matrix: bad}}}).Encode(&buf, "svg"); err == nil || !strings.Contains(err.Error(), `panel "bad"`) {
			t.Errorf("matrix %+v: %v, want an error naming the panel", bad, err)
		}
	}
}
