package plot

import (
	"math"

	gplot "gonum.org/v1/plot"
)

// occupancyCells is the resolution, per axis, of the map of where a panel has data.
const occupancyCells = 128

// occupancy marks the cells of a panel's data area (in the axes' normalised coordinates, [0, 1]
// on each axis) that a line, marker, band or reference line touches; a legend goes only where
// no cell is marked.
type occupancy struct {
	cells [occupancyCells][occupancyCells]bool // [x][y]
}

// newOccupancy maps what the curves and reference lines of p cover, once p's ranges are set.
func newOccupancy(p *gplot.Plot, curves []curve, hlines, vlines []RefLine) *occupancy {
	o := &occupancy{}
	for _, cv := range curves {
		for i, q := range cv.pts {
			x, y := p.X.Norm(q.X), p.Y.Norm(q.Y)
			o.mark(x, y)
			if i > 0 && !cv.points {
				o.segment(p.X.Norm(cv.pts[i-1].X), p.Y.Norm(cv.pts[i-1].Y), x, y)
			}
		}
		for i, q := range cv.band {
			x, lo, hi := p.X.Norm(q.x), p.Y.Norm(q.lo), p.Y.Norm(q.hi)
			o.column(x, lo, hi)
			if i == 0 {
				continue
			}
			r := cv.band[i-1]
			x0, lo0, hi0 := p.X.Norm(r.x), p.Y.Norm(r.lo), p.Y.Norm(r.hi)
			n := int(math.Ceil(math.Abs(x-x0)*occupancyCells*2)) + 1
			for k := 0; k <= n; k++ {
				t := float64(k) / float64(n)
				o.column(x0+t*(x-x0), lo0+t*(lo-lo0), hi0+t*(hi-hi0))
			}
		}
	}
	for _, l := range hlines {
		o.segment(0, p.Y.Norm(l.At), 1, p.Y.Norm(l.At))
	}
	for _, l := range vlines {
		o.segment(p.X.Norm(l.At), 0, p.X.Norm(l.At), 1)
	}
	return o
}

// cell returns the index of normalised coordinate v, and whether it lies inside the area.
func cell(v float64) (int, bool) {
	if math.IsNaN(v) || v < 0 || v > 1 {
		return 0, false
	}
	return min(int(v*occupancyCells), occupancyCells-1), true
}

func (o *occupancy) mark(x, y float64) {
	i, okx := cell(x)
	j, oky := cell(y)
	if okx && oky {
		o.cells[i][j] = true
	}
}

// segment marks the cells along the straight line from (x0, y0) to (x1, y1).
func (o *occupancy) segment(x0, y0, x1, y1 float64) {
	n := int(math.Ceil(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))*occupancyCells*2)) + 1
	n = min(n, 8*occupancyCells)
	for k := 0; k <= n; k++ {
		t := float64(k) / float64(n)
		o.mark(x0+t*(x1-x0), y0+t*(y1-y0))
	}
}

// column marks the cells at x from y = lo to y = hi.
func (o *occupancy) column(x, lo, hi float64) {
	i, ok := cell(x)
	if !ok {
		return
	}
	lo, hi = math.Max(math.Min(lo, hi), 0), math.Min(math.Max(lo, hi), 1)
	for j := int(lo * occupancyCells); j <= int(hi*occupancyCells) && j < occupancyCells; j++ {
		o.cells[i][j] = true
	}
}

// box marks the cells of the rectangle [x0, x1] × [y0, y1] that lie in the area.
func (o *occupancy) box(x0, x1, y0, y1 float64) {
	for i := clampCell(x0); i <= clampCell(x1); i++ {
		o.column((float64(i)+0.5)/occupancyCells, y0, y1)
	}
}

// any reports whether a cell in the rectangle [x0, x1] × [y0, y1] is marked.
func (o *occupancy) any(x0, x1, y0, y1 float64) bool {
	i0, i1 := clampCell(x0), clampCell(x1)
	j0, j1 := clampCell(y0), clampCell(y1)
	for i := i0; i <= i1; i++ {
		for j := j0; j <= j1; j++ {
			if o.cells[i][j] {
				return true
			}
		}
	}
	return false
}

func clampCell(v float64) int {
	return min(max(int(v*occupancyCells), 0), occupancyCells-1)
}
