package finetune

import (
	"fmt"

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

// confusionTitle says what a run's confusion figure shows (trainer.PlotConfusion).
func confusionTitle(res *results.Finetune, cfg Config) string {
	start := "from the pretrained encoder"
	if cfg.Scratch {
		start = "from scratch"
	}
	return fmt.Sprintf("Fine-tuned classifier (-weights %s %s, %g%% of the labels), the test images at step %d", cfg.Weights, start, cfg.TrainPercent, res.Steps)
}
