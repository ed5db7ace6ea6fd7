package trainer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// metricsFile appends one JSON object per line; a resumed run appends to the same file.
type metricsFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

func openMetrics(path string) (*metricsFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	return &metricsFile{path: path, f: f, w: bufio.NewWriter(f)}, nil
}

// Write appends one line; non-finite values are written as null. Lines are flushed at once, so a
// killed run loses nothing it reported.
func (m *metricsFile) Write(values map[string]float64) error {
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
func (m *metricsFile) Close() error {
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
	panels := []struct {
		title string
		keys  []string
	}{
		{"objective and its terms", lossKeys},
		{"learning rate", []string{"lr"}},
		{"accuracy: online probe (test, per epoch; batch, per window), kNN (test)", []string{"probe_acc", "probe_batch_acc", "knn_acc"}},
		{"embedding spread z_std (0 = collapse)", []string{"z_std"}},
		{"throughput (views/s)", []string{"images_per_sec"}},
	}
	const width, panelH, left, top = 760.0, 180.0, 70.0, 30.0
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n",
		width+180, float64(len(panels))*(panelH+top)+top)
	for p, panel := range panels {
		y0 := top + float64(p)*(panelH+top)
		minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for _, k := range panel.keys {
			for _, pt := range series[k] {
				minX, maxX = math.Min(minX, pt[0]), math.Max(maxX, pt[0])
				minY, maxY = math.Min(minY, pt[1]), math.Max(maxY, pt[1])
			}
		}
		fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", left, y0-8, panel.title)
		fmt.Fprintf(&sb, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", left, y0, width-left, panelH)
		if math.IsInf(minX, 0) {
			continue
		}
		if maxX == minX {
			maxX = minX + 1
		}
		if maxY == minY {
			maxY, minY = maxY+0.5, minY-0.5
		}
		fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" text-anchor="end">%.4g</text>`+"\n", left-4, y0+10, maxY)
		fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" text-anchor="end">%.4g</text>`+"\n", left-4, y0+panelH, minY)
		fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f">step %.0f</text>`+"\n", left, y0+panelH+12, minX)
		fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" text-anchor="end">step %.0f</text>`+"\n", width, y0+panelH+12, maxX)
		for i, k := range panel.keys {
			pts := series[k]
			if len(pts) == 0 {
				continue
			}
			color := colors[i%len(colors)]
			var poly strings.Builder
			for _, pt := range pts {
				x := left + (pt[0]-minX)/(maxX-minX)*(width-left)
				y := y0 + panelH - (pt[1]-minY)/(maxY-minY)*panelH
				fmt.Fprintf(&poly, "%.1f,%.1f ", x, y)
			}
			fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", color, poly.String())
			if len(pts) == 1 {
				x := left + (pts[0][0]-minX)/(maxX-minX)*(width-left)
				y := y0 + panelH - (pts[0][1]-minY)/(maxY-minY)*panelH
				fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x, y, color)
			}
			fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" fill="%s">%s</text>`+"\n", width+8, y0+14+float64(i)*14, color, k)
		}
	}
	sb.WriteString("</svg>\n")
	tmp := svgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(sb.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, svgPath)
}
