package trainer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

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

// readMetrics reads a JSON-lines metrics file into per-key series of (step, value).
func readMetrics(path string) (map[string][][2]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	series := map[string][][2]float64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var rec map[string]*float64
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		step := rec["step"]
		if step == nil {
			continue
		}
		for k, v := range rec {
			if k != "step" && k != "epoch" && v != nil {
				series[k] = append(series[k], [2]float64{*step, *v})
			}
		}
	}
	return series, sc.Err()
}

// plotMetrics draws the curves of a metrics file as an SVG: the loss and its terms, the learning
// rate, the online probe accuracy and the throughput, one panel each.
func plotMetrics(metricsPath, svgPath string) error {
	series, err := readMetrics(metricsPath)
	if err != nil {
		return err
	}
	var lossKeys []string
	for k := range series {
		switch k {
		case "lr", "probe_acc", "probe_batch_acc", "knn_acc", "probe_loss", "images_per_sec", "step_images_per_sec", "z_std":
		default:
			lossKeys = append(lossKeys, k)
		}
	}
	sort.Strings(lossKeys)
	specs := []struct {
		title, yLabel string
		keys          []string
	}{
		{"objective and its terms", "loss", lossKeys},
		{"learning rate", "lr", []string{"lr"}},
		{"accuracy: online probe (test, per epoch; batch, per window), kNN (test)", "accuracy", []string{"probe_acc", "probe_batch_acc", "knn_acc"}},
		{"embedding spread z_std (0 = collapse)", "z_std", []string{"z_std"}},
		{"throughput (views/s)", "views/s", []string{"images_per_sec"}},
	}
	panels := make([]plot.Panel, len(specs))
	for i, spec := range specs {
		panels[i] = plot.Panel{Title: spec.title, XLabel: "step", YLabel: spec.yLabel}
		for _, k := range spec.keys {
			s := plot.Series{Name: k}
			for _, pt := range series[k] {
				s.X, s.Y = append(s.X, pt[0]), append(s.Y, pt[1])
			}
			panels[i].Series = append(panels[i].Series, s)
		}
	}
	return plot.WriteSVG(svgPath, panels...)
}
