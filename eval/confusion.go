package eval

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx-ssl/vicreg/plot"
)

// ConfusionMatrix counts a classifier's predictions pred of rows labelled labels: m[t][p] is the
// number of rows of class t predicted as class p, for classes classes. Rows whose label is -1
// (unknown) are not counted.
func ConfusionMatrix(pred, labels []int32, classes int) [][]int {
	if len(pred) != len(labels) {
		panic(fmt.Sprintf("eval.ConfusionMatrix: %d predictions for %d labels", len(pred), len(labels)))
	}
	m := make([][]int, classes)
	for t := range m {
		m[t] = make([]int, classes)
	}
	for i, l := range labels {
		if l >= 0 {
			m[l][pred[i]]++
		}
	}
	return m
}

// Confused is an off-diagonal cell of a confusion matrix: Count of the Of images of class True
// that were predicted as class Predicted.
type Confused struct {
	True, Predicted, Count, Of int
}

// MostConfused returns the n off-diagonal cells of m holding the most images, most first (ties in
// the order of the rows, then of the columns), leaving out empty cells.
func MostConfused(m [][]int, n int) []Confused {
	var cells []Confused
	for t, row := range m {
		of := 0
		for _, c := range row {
			of += c
		}
		for p, c := range row {
			if p != t && c > 0 {
				cells = append(cells, Confused{True: t, Predicted: p, Count: c, Of: of})
			}
		}
	}
	slices.SortStableFunc(cells, func(a, b Confused) int { return b.Count - a.Count })
	return cells[:min(n, len(cells))]
}

// MaxConfusionText is the largest number of classes whose confusion figure writes each cell's
// share in it; beyond, the shades alone tell (their key beside the matrix).
const MaxConfusionText = 20

// MaxConfusionClasses is the largest number of classes a confusion figure draws (a cell is a
// path in the SVG: 1000 classes would make a million); of more classes, it draws those whose
// images are most often mistaken.
const MaxConfusionClasses = 100

// ConfusionFigure draws the confusion matrix m of the classes named names as a heat map titled
// "<what>: R of N right (P%)", what saying which classifier predicted which images: a row per
// true class (named with its number of images), a column per predicted class,
// each cell shaded by the share of its row's images (so that rare classes read as clearly as
// common ones) and, for up to MaxConfusionText classes, holding that share in percent (none for
// no image, "<1%" for a share that rounds to 0). A class without images has a grey row. Of more
// than MaxConfusionClasses classes, it draws the MaxConfusionClasses whose images are most often
// predicted wrong (ties: the lower class), in their order, shares still of their whole rows.
func ConfusionFigure(m [][]int, names []string, what string) plot.Figure {
	of := make([]int, len(m)) // each row's images
	right, total := 0, 0
	for t, row := range m {
		for _, c := range row {
			of[t] += c
		}
		right, total = right+row[t], total+of[t]
	}
	title := fmt.Sprintf("%s: %d of %d right (%.2f%%)", what, right, total, 100*float64(right)/float64(max(total, 1)))
	shown := make([]int, len(m))
	for t := range shown {
		shown[t] = t
	}
	panel := "each row: a true class's images (their number), by the class predicted; share of the row"
	if len(m) > MaxConfusionClasses {
		slices.SortStableFunc(shown, func(a, b int) int { return (of[b] - m[b][b]) - (of[a] - m[a][a]) })
		shown = shown[:MaxConfusionClasses]
		slices.Sort(shown)
		panel = fmt.Sprintf("the %d of %d classes most often mistaken; ", MaxConfusionClasses, len(m)) + panel
	}
	n := len(shown)
	mx := &plot.Matrix{Values: make([][]float64, n), Rows: make([]string, n), Columns: make([]string, n), Max: 1,
		Key: func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }}
	if n <= MaxConfusionText {
		mx.Text = make([][]string, n)
	}
	for i, t := range shown {
		mx.Columns[i] = names[t]
		mx.Rows[i] = fmt.Sprintf("%s (%d)", names[t], of[t])
		mx.Values[i] = make([]float64, n)
		if mx.Text != nil {
			mx.Text[i] = make([]string, n)
		}
		for j, p := range shown {
			c := m[t][p]
			mx.Values[i][j] = math.NaN()
			if of[t] > 0 {
				mx.Values[i][j] = float64(c) / float64(of[t])
				if mx.Text != nil && c > 0 {
					mx.Text[i][j] = fmt.Sprintf("%.0f%%", 100*mx.Values[i][j])
					if mx.Text[i][j] == "0%" {
						mx.Text[i][j] = "<1%"
					}
				}
			}
		}
	}
	side := min(12, max(5, 2.5+0.42*float64(n)))
	return plot.Figure{Title: title, Width: side + 0.8, Height: side,
		Panels: []plot.Panel{{Title: panel, XLabel: "predicted class", YLabel: "true class (images)", Matrix: mx}}}
}
