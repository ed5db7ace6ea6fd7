// Package embedmap lays embeddings out on a plane for a person to look at, and draws them, each
// class in its colour: whether the classes fall apart, which ones mingle, which images sit among
// another class's. Two layouts: t-SNE (TSNE: exact, its N × N matrices on the backend, or
// Barnes-Hut's approximation for more points, its quadtree in Go), which keeps each point's
// neighbours near, and PCA (PCA: the first two principal axes), which keeps the largest
// variances, linear and fast.
//
//	rows := embedmap.Sample(x.N, 2000, seed)
//	m, err := embedmap.TSNE(backend, x.Rows(rows), embedmap.TSNEConfig{})
//	fig := embedmap.Figure(m, x.Rows(rows).Labels, classNames, "t-SNE of the test images")
//	err = fig.Save("map.svg")
package embedmap

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/plot"
	xdraw "golang.org/x/image/draw"
)

// Map is a layout of N points on the plane.
type Map struct {
	// Method is "t-SNE" or "PCA".
	Method string
	// X and Y are the coordinates of each point, in the order of the rows mapped.
	X, Y []float64
	// KL is t-SNE's Kullback-Leibler divergence of the map's affinities from the rows' (0 for
	// PCA), and Perplexity its perplexity.
	KL, Perplexity float64
	// Variance is PCA's share of the rows' variance along each axis (zero for t-SNE).
	Variance [2]float64
	// Solver is t-SNE's gradient (TSNEConfig.Solver: SolverExact or SolverBarnesHut; "" for
	// PCA), and Angle Barnes-Hut's θ (0 for the exact gradient).
	Solver string
	Angle  float64
}

// Axes names the map's axes.
func (m Map) Axes() (x, y string) {
	if m.Method == "PCA" {
		return fmt.Sprintf("PC 1 (%.1f%% of the variance)", 100*m.Variance[0]), fmt.Sprintf("PC 2 (%.1f%%)", 100*m.Variance[1])
	}
	return m.Method + " 1", m.Method + " 2"
}

// Sample returns at most k of the n rows 0 … n−1, chosen at random by seed, in increasing order
// (all of them when n ≤ k): the same rows for the same n, k and seed.
func Sample(n, k int, seed uint64) []int {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	if n <= k {
		return rows
	}
	r := rand.New(rand.NewPCG(seed, 0x6d6170)) // "map"
	r.Shuffle(n, func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	rows = rows[:k]
	slices.Sort(rows)
	return rows
}

// MaxColoured is the largest number of classes a map's figure gives colours of their own; of
// more, it colours the MaxColoured−1 most frequent and draws the others in light grey.
const MaxColoured = 10

// The greys of the points that have no colour of their own.
var (
	otherGrey      = color.RGBA{0xc7, 0xc7, 0xc7, 0xff}
	unlabelledGrey = color.RGBA{0x7f, 0x7f, 0x7f, 0xff}
)

// palette is how a figure colours the labels it is given.
type palette struct {
	coloured []int32 // the classes with colours of their own, in increasing order
	others   int     // the classes without (drawn in otherGrey)
	count    map[int32]int
}

// newPalette colours the MaxColoured most frequent classes of labels, or the MaxColoured−1 most
// frequent where there are more (ties: the lower class).
func newPalette(labels []int32) palette {
	p := palette{count: map[int32]int{}}
	for _, l := range labels {
		p.count[l]++
	}
	var classes []int32 // labelled classes present, most frequent first
	for c := range p.count {
		if c >= 0 {
			classes = append(classes, c)
		}
	}
	slices.SortFunc(classes, func(a, b int32) int {
		return cmp.Or(p.count[b]-p.count[a], cmp.Compare(a, b))
	})
	p.coloured = classes
	if len(classes) > MaxColoured {
		p.coloured = classes[:MaxColoured-1]
	}
	p.others = len(classes) - len(p.coloured)
	slices.Sort(p.coloured)
	return p
}

// colour is the colour of label l's points, and their marker.
func (p palette) colour(l int32) (color.Color, plot.Marker) {
	if l < 0 {
		return unlabelledGrey, plot.Circle
	}
	if k := slices.Index(p.coloured, l); k >= 0 {
		return plot.Colors[k%len(plot.Colors)], plot.AutoMarkers[k%len(plot.AutoMarkers)]
	}
	return otherGrey, plot.Circle
}

// Figure draws m, each point of class labels[i] (named names[labels[i]]; −1: unlabelled) in its
// class's colour and shape, the legend naming each class with its number of points; labels nil
// draws every point alike. Up to MaxColoured classes each have a colour (plot.Colors); of more,
// the most frequent MaxColoured−1 do, and the rest are "other classes" in light grey, drawn
// first (below). Unlabelled points are grey. The title is title.
func Figure(m Map, labels []int32, names []string, title string) plot.Figure {
	xl, yl := m.Axes()
	panel := plot.Panel{Title: title, XLabel: xl, YLabel: yl}
	fig := plot.Figure{Width: 8, Height: 6.5, Panels: []plot.Panel{panel}}
	if labels == nil {
		fig.Panels[0].Series = []plot.Series{{X: m.X, Y: m.Y, Points: true, Marker: plot.Circle, Color: plot.Colors[0]}}
		fig.Panels[0].Legend = plot.LegendHidden
		return fig
	}
	p := newPalette(labels)
	// series draws the points whose label keep keeps, in the colour of label like.
	series := func(name string, keep func(l int32) bool, like int32) plot.Series {
		s := plot.Series{Points: true}
		s.Color, s.Marker = p.colour(like)
		for i, l := range labels {
			if keep(l) {
				s.X, s.Y = append(s.X, m.X[i]), append(s.Y, m.Y[i])
			}
		}
		s.Name = fmt.Sprintf("%s (%d)", name, len(s.X))
		return s
	}
	var all []plot.Series
	if p.others > 0 {
		other := func(l int32) bool { return l >= 0 && !slices.Contains(p.coloured, l) }
		var like int32 // an uncoloured class
		for !other(like) {
			like++
		}
		all = append(all, series(fmt.Sprintf("%d other classes", p.others), other, like))
	}
	if p.count[-1] > 0 {
		all = append(all, series("unlabelled", func(l int32) bool { return l < 0 }, -1))
	}
	for _, c := range p.coloured {
		name := strconv.Itoa(int(c))
		if int(c) < len(names) {
			name = names[c]
		}
		all = append(all, series(name, func(l int32) bool { return l == c }, c))
	}
	fig.Panels[0].Series = all
	fig.Panels[0].Legend = plot.LegendOutside
	return fig
}

// ThumbnailPixels is the longer side, in pixels, of a thumbnail on a map (Thumbnail).
const ThumbnailPixels = 48

// Thumbnail shrinks img to at most ThumbnailPixels on its longer side (Catmull-Rom; a smaller
// image is enlarged to it), keeping its aspect.
func Thumbnail(img image.Image) image.Image {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return img
	}
	w, h := ThumbnailPixels, ThumbnailPixels
	if b.Dx() > b.Dy() {
		h = max(1, ThumbnailPixels*b.Dy()/b.Dx())
	} else {
		w = max(1, ThumbnailPixels*b.Dx()/b.Dy())
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(out, out.Bounds(), img, b, xdraw.Src, nil)
	return out
}

// The thumbnails' figure (AddThumbnails): its size in inches, the pictures' side in points, and
// the plotting area it leaves the points, about (inches; the legend and the axes take the rest).
const (
	thumbFigureWidth, thumbFigureHeight = 11, 9
	thumbSide                           = 20
	thumbPlotWidth, thumbPlotHeight     = 8.4, 7.8
)

// SpreadOut returns k of m's points (all of them where it has at most k), in increasing order,
// chosen at random by seed but spread out for their thumbnails (AddThumbnails): in a random
// order, a point is taken where its thumbnail would overlap none of those taken, so that the
// images cover the map rather than pile up where it is dense; where fewer than k points are
// taken so, the rest are chosen at random among those left. The same points for the same map,
// k and seed.
func SpreadOut(m Map, k int, seed uint64) []int {
	n := len(m.X)
	if n <= k {
		return Sample(n, k, seed)
	}
	order := rand.New(rand.NewPCG(seed, 0x7468756d)).Perm(n) // "thum"
	// The points' places in points (1/72 inch) on the plotting area, and a grid of cells of the
	// thumbnails' side: a thumbnail overlaps only those of its cell and the eight around it.
	place := func(v []float64, inches float64) []float64 {
		lo, hi := slices.Min(v), slices.Max(v)
		out := make([]float64, len(v))
		for i, vi := range v {
			if hi > lo {
				out[i] = (vi - lo) / (hi - lo) * inches * 72 / 1.06 // the axes reach 3% beyond the points each way
			}
		}
		return out
	}
	px, py := place(m.X, thumbPlotWidth), place(m.Y, thumbPlotHeight)
	type cell struct{ x, y int }
	cellOf := func(i int) cell { return cell{int(px[i] / thumbSide), int(py[i] / thumbSide)} }
	grid := map[cell][]int{}
	overlapsTaken := func(i int) bool {
		c := cellOf(i)
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				for _, j := range grid[cell{c.x + dx, c.y + dy}] {
					if math.Abs(px[i]-px[j]) < thumbSide && math.Abs(py[i]-py[j]) < thumbSide {
						return true
					}
				}
			}
		}
		return false
	}
	taken := make([]bool, n)
	var chosen []int
	for _, i := range order {
		if len(chosen) == k {
			break
		}
		if !overlapsTaken(i) {
			grid[cellOf(i)] = append(grid[cellOf(i)], i)
			taken[i] = true
			chosen = append(chosen, i)
		}
	}
	for _, i := range order {
		if len(chosen) == k {
			break
		}
		if !taken[i] {
			chosen = append(chosen, i)
		}
	}
	slices.Sort(chosen)
	return chosen
}

// AddThumbnails draws images over fig (Figure's drawing of m and labels): images[i], point i's
// image (Thumbnail's), centred at the point and framed in its class's colour. The figure grows
// for them, and its axes reach a little beyond the points so that the images at the edges stay
// inside.
func AddThumbnails(fig *plot.Figure, m Map, labels []int32, images map[int]image.Image) {
	if len(images) == 0 {
		return
	}
	p := newPalette(labels)
	pn := &fig.Panels[0]
	points := slices.Sorted(maps.Keys(images)) // the same figure for the same images
	for _, i := range points {
		pic := plot.Picture{X: m.X[i], Y: m.Y[i], Image: images[i]}
		if labels != nil {
			pic.Border, _ = p.colour(labels[i])
		}
		pn.Pictures = append(pn.Pictures, pic)
	}
	pn.PictureSide = thumbSide
	pad := func(v []float64) []float64 {
		lo, hi := slices.Min(v), slices.Max(v)
		return []float64{lo - 0.03*(hi-lo), hi + 0.03*(hi-lo)}
	}
	pn.XInclude, pn.YInclude = pad(m.X), pad(m.Y)
	fig.Width, fig.Height = thumbFigureWidth, thumbFigureHeight
}

// CoordinatesFile is where the coordinates of the map drawn to figure go: beside it, its
// extension replaced by .csv (map.svg: map.csv); "" for "".
func CoordinatesFile(figure string) string {
	if figure == "" {
		return ""
	}
	return strings.TrimSuffix(figure, filepath.Ext(figure)) + ".csv"
}

// WriteCSV writes m to path as CSV, atomically: a row per point, under the header file (or key,
// or index: eval.Features.Names of x, the rows mapped, relative to root), label (the class's
// name in names, empty where unknown), x, y.
func WriteCSV(path string, m Map, x eval.Features, root string, names []string) error {
	if len(m.X) != x.N {
		panic(fmt.Sprintf("embedmap.WriteCSV: a map of %d points for %d rows", len(m.X), x.N))
	}
	column, rows := x.Names(root)
	return atomicfile.Write(path, 0, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{column, "label", "x", "y"}); err != nil {
			return err
		}
		for i, name := range rows {
			label := ""
			if x.Labels != nil && x.Labels[i] >= 0 {
				label = strconv.Itoa(int(x.Labels[i]))
				if int(x.Labels[i]) < len(names) {
					label = names[x.Labels[i]]
				}
			}
			if err := cw.Write([]string{name, label, strconv.FormatFloat(m.X[i], 'g', 7, 64), strconv.FormatFloat(m.Y[i], 'g', 7, 64)}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}
