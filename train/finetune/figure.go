package finetune

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/plot"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/trainer"
)

// Legend entries of the fine-tuning figure.
const (
	legendLoss     = "training loss (window mean)"
	legendTop1     = "test top-1 (each epoch)"
	legendTop5     = "test top-5 (each epoch)"
	legendBalanced = "test balanced top-1 (each epoch)"
	legendBatchAcc = "training batches, top-1 (window mean)"
)

// plotMetrics draws a fine-tuning run's metrics file as a figure at
// trainer.MetricsFigures(metricsPath) (an SVG and a PNG beside it): the training loss against the
// step (the mean of each log window, with any rollback after a non-finite step as a dashed line),
// and, against the epoch, the test top-1 and top-5 accuracy and the balanced accuracy (top-1's)
// after each epoch with the training batches' top-1 accuracy.
func plotMetrics(metricsPath string, cfg Config) error {
	m, err := results.ReadMetrics(metricsPath)
	if err != nil {
		return err
	}
	fromZero := []float64{0}
	loss := plot.Panel{Title: "training loss (cross-entropy)", XLabel: "step", YLabel: "loss", YScale: plot.AutoScale, XInclude: fromZero,
		Series: []plot.Series{trainer.StepSeries(m, results.KeyLoss, legendLoss)}, VLines: trainer.RollbackLines(m)}
	batch := trainer.EpochSeries(m, results.KeyBatchAcc, legendBatchAcc)
	batch.Marker = plot.NoMarker
	acc := plot.Panel{Title: "classification accuracy", XLabel: "epoch", YLabel: "accuracy", XInclude: fromZero,
		Series: []plot.Series{trainer.EpochSeries(m, results.KeyTop1, legendTop1), trainer.EpochSeries(m, results.KeyTop5, legendTop5), batch,
			trainer.EpochSeries(m, results.KeyBalanced, legendBalanced)}}
	start := "from the pretrained encoder"
	if cfg.Scratch {
		start = "from scratch"
	}
	title := fmt.Sprintf("Fine-tuning metrics (-weights %s %s, %s, %g%% of the labels): %s", cfg.Weights, start, cfg.Dataset, cfg.TrainPercent, metricsPath)
	fig := plot.Figure{Title: title, Panels: []plot.Panel{loss, acc}}
	if err := fig.Save(trainer.MetricsFigures(metricsPath)...); err != nil {
		return fmt.Errorf("the fine-tuning metrics figure: %w", err)
	}
	return nil
}

// ConfusionFile is the file, in a run's folder, of the confusion matrix of its classifier's
// top-1 predictions on the test images at the end (results.Finetune.Confusion); a PNG of the same
// name (confusion.png) is beside it.
const ConfusionFile = "confusion.svg"

// plotConfusion draws res.Confusion (nothing when the run measured none) to ConfusionFile and
// its PNG in the run's folder.
func plotConfusion(res *results.Finetune, cfg Config) error {
	c := res.Confusion
	if c == nil {
		return nil
	}
	right, total := 0, 0
	for t, row := range c.Counts {
		right += row[t]
		for _, n := range row {
			total += n
		}
	}
	start := "from the pretrained encoder"
	if cfg.Scratch {
		start = "from scratch"
	}
	title := fmt.Sprintf("Fine-tuned classifier (-weights %s %s, %g%% of the labels), the test images at step %d: %d of %d right (%.2f%%)",
		cfg.Weights, start, cfg.TrainPercent, res.Steps, right, total, 100*float64(right)/float64(max(total, 1)))
	svg := filepath.Join(cfg.CheckpointDir, ConfusionFile)
	fig := eval.ConfusionFigure(c.Counts, c.Classes, title)
	if err := fig.Save(svg, strings.TrimSuffix(svg, ".svg")+".png"); err != nil {
		return fmt.Errorf("the confusion matrix: %w", err)
	}
	return nil
}
