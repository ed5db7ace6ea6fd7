package trainer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx-ssl/vicreg/plot"
)

// MetricsFile is a metrics file: it appends one JSON object per line; a resumed run appends to the same file.
type MetricsFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

// OpenMetrics opens (creating it if needed) the JSON-lines metrics file at path for appending.
func OpenMetrics(path string) (*MetricsFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	return &MetricsFile{path: path, f: f, w: bufio.NewWriter(f)}, nil
}

// Write appends one line; non-finite values are written as null. Lines are flushed at once, so a
// killed run loses nothing it reported.
func (m *MetricsFile) Write(values map[string]float64) error {
	line := make(map[string]any, len(values))
	for k, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			line[k] = nil
		} else {
			line[k] = v
		}
	}
	data, _ := json.Marshal(line)
	m.w.Write(data)
	m.w.WriteByte('\n')
	if err := m.w.Flush(); err != nil {
		return fmt.Errorf("metrics file %s: %w", m.path, err)
	}
	return nil
}

// Close flushes and closes the file; closing twice is harmless.
func (m *MetricsFile) Close() error {
	if m.f == nil {
		return nil
	}
	err := m.w.Flush()
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	m.f = nil
	return err
}

// MetricPoint is one value of a metrics file, with the step and the epoch (NaN where its line
// has none, as a rollback's) of its line.
type MetricPoint struct {
	Step, Epoch, Value float64
}

// Metrics are the values of a metrics file by key, each in the order of the file's lines;
// non-finite values (written as null) are left out. Every line has "step", and "epoch" but for a
// rollback's and a resume's; accuracies are fractions. The keys:
//
//   - training lines, the means over the -log-every window: "loss", the objective's terms by
//     name ("invariance", "variance", "covariance", ... unweighted), "lr", "z_std" and the online
//     probe's "probe_loss" and "probe_batch_acc" in pretraining; "loss", "batch_acc" and
//     "lr_head" in fine-tuning; "images_per_sec" (wall clock) and "step_images_per_sec" (compute
//     alone) in both; in pretraining with -skip-bad-images, "bad_images" (images replaced per
//     step, its mean);
//   - evaluation lines: "probe_acc" (online probe, each epoch) and "knn_acc" (-eval-every) in
//     pretraining, and the final evaluation's "linear_acc" and "knn_acc" at the last step;
//     "top1" and "top5" (more than 5 classes) after each fine-tuning epoch;
//   - "rollback_from_step" (a rollback to the line's step) and ResumedKey (not a metric).
type Metrics map[string][]MetricPoint

// ResumedKey marks the line that a resumed run writes before its first step: {"step": S,
// "resumed": 1}, S the step of the checkpoint it resumed from. Lines written before it with a
// step after S come from a process that went on past its last checkpoint and was killed: the
// resumed run trains those steps again.
const ResumedKey = "resumed"

// ReadMetrics reads a JSON-lines metrics file (MetricsFile's) for plotting; lines without a
// step are skipped. At a ResumedKey line at step S, the values read so far at steps after S are
// dropped: the run trained those steps again from S (the file keeps both). A value of a key at the
// step of its previous value replaces it (a finished run evaluated again writes its final line
// again); the values of steps trained again after a rollback are kept, as the rollback's line.
func ReadMetrics(path string) (Metrics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("metrics file: %w", err)
	}
	defer f.Close()
	series := Metrics{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var rec map[string]*float64
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("metrics file %s:%d: %w", path, line, err)
		}
		step := rec["step"]
		if step == nil {
			continue
		}
		if rec[ResumedKey] != nil {
			for k, pts := range series {
				series[k] = slices.DeleteFunc(pts, func(p MetricPoint) bool { return p.Step > *step })
			}
			continue
		}
		epoch := math.NaN()
		if e := rec["epoch"]; e != nil {
			epoch = *e
		}
		for k, v := range rec {
			if k == "step" || k == "epoch" || v == nil {
				continue
			}
			pt := MetricPoint{Step: *step, Epoch: epoch, Value: *v}
			// A value at the step of the key's previous one replaces it: a finished run evaluated
			// again (-resume) writes its final line again. Each rollback stays, even to one step.
			if pts := series[k]; k != "rollback_from_step" && len(pts) > 0 && pts[len(pts)-1].Step == *step {
				pts[len(pts)-1] = pt
				continue
			}
			series[k] = append(series[k], pt)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	return series, nil
}

// Steps returns key's values against their steps, as a series named name.
func (m Metrics) Steps(key, name string) plot.Series {
	s := plot.Series{Name: name}
	for _, pt := range m[key] {
		s.X, s.Y = append(s.X, pt.Step), append(s.Y, pt.Value)
	}
	return s
}

// Epochs returns key's values against their epochs (the epochs completed when the line was
// written), as a series named name.
func (m Metrics) Epochs(key, name string) plot.Series {
	s := plot.Series{Name: name}
	for _, pt := range m[key] {
		s.X, s.Y = append(s.X, pt.Epoch), append(s.Y, pt.Value)
	}
	return s
}

// Rollbacks are dashed vertical lines at the steps that rollbacks after a non-finite step
// returned to, for a panel whose x axis is the step; the first has a legend entry.
func (m Metrics) Rollbacks() []plot.RefLine {
	var lines []plot.RefLine
	for i, pt := range m["rollback_from_step"] {
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
	series, err := ReadMetrics(metricsPath)
	if err != nil {
		return err
	}
	var terms []string
	for k := range series {
		switch k {
		case "loss", "lr", "probe_acc", "probe_batch_acc", "knn_acc", "linear_acc", "probe_loss", "images_per_sec", "step_images_per_sec", "z_std", "rollback_from_step":
		default:
			terms = append(terms, k)
		}
	}
	sort.Strings(terms)
	line := series.Steps
	fromZero := []float64{0} // every panel's step axis starts where training did
	one := func(title, yLabel, key string, scale plot.Scale) plot.Panel {
		return plot.Panel{Title: title, XLabel: "step", YLabel: yLabel, YScale: scale, Legend: plot.LegendHidden,
			XInclude: fromZero, Series: []plot.Series{line(key, key)}}
	}
	loss := one("objective (total loss)", "loss", "loss", plot.AutoScale)
	loss.VLines = series.Rollbacks()
	if len(loss.VLines) > 0 {
		loss.Legend = plot.LegendAuto
	}
	panels := []plot.Panel{loss}
	for _, k := range terms {
		panels = append(panels, one("loss term: "+k+" (unweighted)", k, k, plot.AutoScale))
	}
	panels = append(panels, one("learning rate", "lr", "lr", plot.Linear))
	if len(series["probe_acc"])+len(series["probe_batch_acc"])+len(series["knn_acc"])+len(series["linear_acc"]) > 0 {
		batch := line("probe_batch_acc", "online probe, training batches (per log window)")
		batch.Marker = plot.NoMarker
		acc := plot.Panel{Title: "accuracy (online linear probe)", XLabel: "step", YLabel: "accuracy", XInclude: fromZero, Series: []plot.Series{
			batch, line("probe_acc", "online probe, evaluation images (per epoch)"),
		}}
		if len(series["knn_acc"]) > 0 {
			acc.Title = "accuracy (online linear probe, kNN)"
			acc.Series = append(acc.Series, line("knn_acc", "kNN, evaluation images"))
		}
		if len(series["linear_acc"]) > 0 {
			acc.Series = append(acc.Series, line("linear_acc", "linear probe on frozen features (final)"))
		}
		panels = append(panels, acc)
	}
	panels = append(panels,
		one("embedding spread z_std (0 = collapse)", "z_std", "z_std", plot.Linear),
		one("throughput (each image two views)", "images/s", "images_per_sec", plot.Linear))
	fig := plot.Figure{Title: "Training metrics: " + metricsPath, Columns: 2, Panels: panels}
	return fig.Save(MetricsFigures(metricsPath)...)
}
