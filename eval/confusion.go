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

// ConfusionFigure draws the confusion matrix m of the classes named names as a heat map titled
// title: a row per true class (named with its number of images), a column per predicted class,
// each cell shaded by the share of its row's images (so that rare classes read as clearly as
// common ones) and, for up to MaxConfusionText classes, holding that share in percent (none for
// no image, "<1%" for a share that rounds to 0). A class without images has a grey row.
func ConfusionFigure(m [][]int, names []string, title string) plot.Figure {
	n := len(m)
	mx := &plot.Matrix{Values: make([][]float64, n), Rows: make([]string, n), Columns: names, Max: 1,
		Key: func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }}
	if n <= MaxConfusionText {
		mx.Text = make([][]string, n)
	}
	for t, row := range m {
		of := 0
		for _, c := range row {
			of += c
		}
		mx.Rows[t] = fmt.Sprintf("%s (%d)", names[t], of)
		mx.Values[t] = make([]float64, n)
		if mx.Text != nil {
			mx.Text[t] = make([]string, n)
		}
		for p, c := range row {
			mx.Values[t][p] = math.NaN()
			if of > 0 {
				mx.Values[t][p] = float64(c) / float64(of)
				if mx.Text != nil && c > 0 {
					mx.Text[t][p] = fmt.Sprintf("%.0f%%", 100*mx.Values[t][p])
					if mx.Text[t][p] == "0%" {
						mx.Text[t][p] = "<1%"
					}
				}
			}
		}
	}
	side := min(12, max(5, 2.5+0.42*float64(n)))
	return plot.Figure{Title: title, Width: side + 0.8, Height: side,
		Panels: []plot.Panel{{Title: "each row: a true class's images (their number), by the class predicted; share of the row",
			XLabel: "predicted class", YLabel: "true class (images)", Matrix: mx}}}
}
