package trainer

import (
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx-ssl/vicreg/plot/plottest"
)

// TestPlotMetrics draws a metrics file whose loss terms differ by orders of magnitude: each term
// gets its own panel, and the variance term, which falls over three decades, a log axis (tick
// labels at powers of ten, which no linear axis from 0 to 1 would have).
func TestPlotMetrics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for step := 10; step <= 300; step += 10 {
		s := float64(step)
		line := map[string]any{"step": s, "epoch": 0, "loss": 30 - s/20, "invariance": 0.5 - s/1000,
			"variance": math.Pow(10, -s/100), "covariance": 2 + s/300, "lr": s / 1000, "z_std": 0.05,
			"images_per_sec": 800, "probe_batch_acc": s / 400, "probe_loss": 1, "bad_images": 0.25, "step_images_per_sec": 900}
		if step == 150 {
			line["variance"] = nil // a non-finite value, written as null: skipped
		}
		if err := enc.Encode(line); err != nil {
			t.Fatal(err)
		}
		if step%100 == 0 {
			enc.Encode(map[string]any{"step": s, "epoch": s / 100, "probe_acc": 0.5 + s/1000})
		}
	}
	enc.Encode(map[string]any{"step": 120, "rollback_from_step": 135})
	enc.Encode(map[string]any{"step": 300, "epoch": 3, "linear_acc": 0.9}) // the final evaluation's line
	f.Close()

	svg := filepath.Join(dir, "metrics.svg")
	if err := plotMetrics(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := plottest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{"objective (total loss)", "loss term: covariance (unweighted)", "loss term: invariance (unweighted)",
		"loss term: variance (unweighted)", "learning rate", "accuracy (online linear probe)", "throughput (each image two views)", "rollback (non-finite step)",
		"online probe, evaluation images (per epoch)", "online probe, training batches (per log window)",
		"linear probe on frozen features (final)", "bad images replaced (-skip-bad-images)"} {
		if doc.Count(title) != 1 {
			t.Errorf("text %q appears %d times, want once", title, doc.Count(title))
		}
	}
	for _, absent := range []string{"loss term: rollback_from_step (unweighted)", "loss term: probe_loss (unweighted)", "loss term: linear_acc (unweighted)",
		"loss term: bad_images (unweighted)", "loss term: step_images_per_sec (unweighted)",
		"kNN, evaluation images", "accuracy (online linear probe, kNN)"} { // no kNN in this file
		if doc.Count(absent) != 0 {
			t.Errorf("text %q drawn: it has no data or is not a loss term", absent)
		}
	}
	for _, label := range []string{"0.001", "0.01", "0.1", "1"} {
		if doc.Count(label) == 0 {
			t.Errorf("no tick label %q: the variance term (1 down to 0.001) is not on a log axis", label)
		}
	}
	pf, err := os.Open(filepath.Join(dir, "metrics.png"))
	if err != nil {
		t.Fatalf("no PNG beside the SVG: %v", err)
	}
	defer pf.Close()
	if _, err := png.Decode(pf); err != nil {
		t.Errorf("metrics.png does not decode: %v", err)
	}
}
