package embedmap

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/stat"

	"github.com/gomlx-ssl/vicreg/analysis"
	"github.com/gomlx-ssl/vicreg/eval"
)

// PCA maps the rows of x to the plane by their first two principal components
// (analysis.PCA), recording the share of the variance along each.
func PCA(x eval.Features) (Map, error) {
	if err := x.Validate("PCA"); err != nil {
		return Map{}, err
	}
	if x.D < 2 {
		return Map{}, fmt.Errorf("PCA: the embeddings have %d dimension; a map needs 2 or more", x.D)
	}
	rows := make([][]float64, x.N)
	cols := make([][]float64, x.D)
	for j := range cols {
		cols[j] = make([]float64, x.N)
	}
	for i := range rows {
		rows[i] = make([]float64, x.D)
		for j, v := range x.Row(i) {
			rows[i][j], cols[j][i] = float64(v), float64(v)
		}
	}
	total := 0.0 // the variance in all dimensions (sample variances, as analysis.PCA's)
	for _, c := range cols {
		total += stat.Variance(c, nil)
	}
	proj, vars, err := analysis.PCA(rows, 2)
	if err != nil {
		return Map{}, err
	}
	if total == 0 {
		return Map{}, errors.New("PCA: every embedding is the same: there is nothing to map")
	}
	m := Map{Method: "PCA", X: make([]float64, x.N), Y: make([]float64, x.N)}
	for i, r := range proj {
		m.X[i], m.Y[i] = r[0], r[1]
	}
	m.Variance = [2]float64{vars[0] / total, vars[1] / total}
	return m, nil
}
