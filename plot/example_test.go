package plot_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx-ssl/vicreg/plot"
)

// A curve with its 95% interval on log axes, a dashed reference line, written as SVG and PNG.
func ExampleFigure_Save() {
	sigma := []float64{0.01, 0.05, 0.1, 0.4, 0.8}
	p := []float64{0.32, 0.21, 0.17, 0.11, 0.085}
	lo := []float64{0.25, 0.15, 0.12, 0.07, 0.05}
	hi := []float64{0.40, 0.28, 0.23, 0.16, 0.13}
	fig := plot.Figure{Panels: []plot.Panel{{
		Title:  "normality p-value against input noise",
		XLabel: "normalised input noise σ", YLabel: "p-value",
		XScale: plot.Log, YScale: plot.Log,
		Series: []plot.Series{{Name: "VICReg (mean, 95% interval)", X: sigma, Y: p, Lo: lo, Hi: hi}},
		HLines: []plot.RefLine{{At: 0.01, Label: "p = 0.01"}},
	}}}
	dir, err := os.MkdirTemp("", "plot-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := fig.Save(filepath.Join(dir, "noise.svg"), filepath.Join(dir, "noise.png")); err != nil {
		panic(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// noise.png
	// noise.svg
}
