package main

import (
	"fmt"
	"io"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/results"
)

// mostConfused is how many of the most frequent confusions -confusion prints.
const mostConfused = 5

// drawConfusion draws the confusion matrix of the probe's predictions pred of rows labelled
// labels (on: which rows, for the title) to path (-confusion), prints its most frequent
// confusions, and returns it for -result. info names the classes (the training split's).
func drawConfusion(w io.Writer, path, on string, info datasets.Info, pred, labels []int32, classes int) (*results.Confusion, error) {
	m := eval.ConfusionMatrix(pred, labels, classes)
	names := info.Names(classes)
	fig := eval.ConfusionFigure(m, names, "Linear probe, "+on)
	if err := fig.Save(path); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "the linear probe's confusion matrix on %s: %s\n", on, path)
	if worst := eval.MostConfused(m, mostConfused); len(worst) > 0 {
		fmt.Fprintf(w, "most frequent confusions (true class -> predicted):\n")
		for _, c := range worst {
			fmt.Fprintf(w, "  %s -> %s: %d of %d images (%.1f%%)\n", names[c.True], names[c.Predicted], c.Count, c.Of, 100*float64(c.Count)/float64(c.Of))
		}
	} else {
		fmt.Fprintf(w, "no confusions: every image's class predicted\n")
	}
	return &results.Confusion{Classes: names, Counts: m, Figure: path}, nil
}
