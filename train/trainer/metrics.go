package trainer

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/plot"
	"github.com/gomlx-ssl/vicreg/results"
)

// StepSeries returns key's values of m against their steps, as a series named name.
func StepSeries(m results.Metrics, key, name string) plot.Series {
	s := plot.Series{Name: name}
	for _, pt := range m[key] {
		s.X, s.Y = append(s.X, pt.Step), append(s.Y, pt.Value)
	}
	return s
}

// EpochSeries returns key's values of m against their epochs (the epochs completed when the line
// was written), as a series named name.
func EpochSeries(m results.Metrics, key, name string) plot.Series {
	s := plot.Series{Name: name}
	for _, pt := range m[key] {
		s.X, s.Y = append(s.X, pt.Epoch), append(s.Y, pt.Value)
	}
	return s
}

// RollbackLines are dashed vertical lines at the steps that the rollbacks of m after a non-finite
// step returned to, for a panel whose x axis is the step; the first has a legend entry.
func RollbackLines(m results.Metrics) []plot.RefLine {
	var lines []plot.RefLine
	for i, pt := range m[results.KeyRollbackFromStep] {
		rl := plot.RefLine{At: pt.Step}
		if i == 0 {
			rl.Label = "rollback (non-finite step)"
		}
		lines = append(lines, rl)
	}
	return lines
}

// MetricsFigures are the paths of the figure drawn from the metrics file at metricsPath: an SVG
// and a PNG beside it, with its name (metrics.svg and metrics.png for metrics.jsonl).
func MetricsFigures(metricsPath string) []string {
	base := strings.TrimSuffix(metricsPath, filepath.Ext(metricsPath))
	return []string{base + ".svg", base + ".png"}
}

// plotMetrics draws the curves of a metrics file as a figure at MetricsFigures(metricsPath) (an
// SVG and a PNG): the total loss and each of its terms on panels of their own (a log axis where
// a term spans decades), the learning rate, the online probe's, the kNN classifier's and the final
// linear probe's accuracy, the embedding spread z_std and the throughput. Rollbacks after a
// non-finite step are dashed vertical lines on the loss panel.
func plotMetrics(metricsPath string) error {
	series, err := results.ReadMetrics(metricsPath)
	if err != nil {
		return err
	}
	var terms []string
	for k := range series {
		if !slices.Contains(results.Keys, k) {
			terms = append(terms, k)
		}
	}
	sort.Strings(terms)
	line := func(key, name string) plot.Series { return StepSeries(series, key, name) }
	fromZero := []float64{0} // every panel's step axis starts where training did
	one := func(title, yLabel, key string, scale plot.Scale) plot.Panel {
		return plot.Panel{Title: title, XLabel: "step", YLabel: yLabel, YScale: scale, Legend: plot.LegendHidden,
			XInclude: fromZero, Series: []plot.Series{line(key, key)}}
	}
	loss := one("objective (total loss)", "loss", results.KeyLoss, plot.AutoScale)
	loss.VLines = RollbackLines(series)
	if len(loss.VLines) > 0 {
		loss.Legend = plot.LegendAuto
	}
	panels := []plot.Panel{loss}
	for _, k := range terms {
		panels = append(panels, one("loss term: "+k+" (unweighted)", k, k, plot.AutoScale))
	}
	panels = append(panels, one("learning rate", "lr", results.KeyLR, plot.Linear))
	if len(series[results.KeyProbeAcc])+len(series[results.KeyProbeBatchAcc])+len(series[results.KeyKNNAcc])+len(series[results.KeyLinearAcc]) > 0 {
		batch := line(results.KeyProbeBatchAcc, "online probe, training batches (per log window)")
		batch.Marker = plot.NoMarker
		acc := plot.Panel{Title: "accuracy (online linear probe)", XLabel: "step", YLabel: "accuracy", XInclude: fromZero, Series: []plot.Series{
			batch, line(results.KeyProbeAcc, "online probe, evaluation images (per epoch)"),
		}}
		if len(series[results.KeyKNNAcc]) > 0 {
			acc.Title = "accuracy (online linear probe, kNN)"
			acc.Series = append(acc.Series, line(results.KeyKNNAcc, "kNN, evaluation images"))
		}
		if len(series[results.KeyLinearAcc]) > 0 {
			acc.Series = append(acc.Series, line(results.KeyLinearAcc, "linear probe on frozen features (final)"))
		}
		panels = append(panels, acc)
	}
	panels = append(panels,
		one("embedding spread z_std (0 = collapse)", "z_std", results.KeyZStd, plot.Linear),
		one("throughput (each image two views)", "images/s", results.KeyImagesPerSec, plot.Linear))
	if len(series[results.KeyBadImages]) > 0 {
		panels = append(panels, one("bad images replaced (-skip-bad-images)", "images per step", results.KeyBadImages, plot.Linear))
	}
	fig := plot.Figure{Title: "Training metrics: " + metricsPath, Columns: 2, Panels: panels}
	return fig.Save(MetricsFigures(metricsPath)...)
}

// ConfusionFile is the figure, in a run's folder, of the confusion matrix of its classifier's
// predictions of the held-out images at the end (the offline linear probe's in pretraining, the
// fine-tuned classifier's): results' Confusion; a PNG of the same name (confusion.png) is beside
// it.
const ConfusionFile = "confusion.svg"

// MapFile is the figure, in a run's folder, of the final t-SNE map of the encoder's embeddings of
// the held-out images (results' EmbeddingMap); map.png is beside it, and the coordinates in
// map.csv (embedmap.CoordinatesFile).
const MapFile = "map.svg"

// NewConfusion is a run's record of the confusion matrix m (eval.ConfusionMatrix) of the classes
// that info names, to be drawn to ConfusionFile in the run's folder (PlotConfusion): its Figure is
// that name, relative to the folder, so that a copy of the run elsewhere says the same.
func NewConfusion(info datasets.Info, m [][]int) *results.Confusion {
	return &results.Confusion{Counts: m, Figure: ConfusionFile, Classes: info.Names(len(m))}
}

// PlotConfusion draws c (nothing when nil) to its Figure in the run folder dir and the PNG beside
// it, what saying which classifier predicted which images (eval.ConfusionFigure).
func PlotConfusion(dir string, c *results.Confusion, what string) error {
	if c == nil {
		return nil
	}
	svg := filepath.Join(dir, c.Figure)
	fig := eval.ConfusionFigure(c.Counts, c.Classes, what)
	if err := fig.Save(svg, strings.TrimSuffix(svg, filepath.Ext(svg))+".png"); err != nil {
		return fmt.Errorf("the confusion matrix: %w", err)
	}
	return nil
}
