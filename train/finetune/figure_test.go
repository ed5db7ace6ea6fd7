package finetune

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx-ssl/vicreg/plot"
	"github.com/gomlx-ssl/vicreg/plot/plottest"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/trainer"
)

// writeMetrics writes a fine-tuning metrics file as the trainer's Loop does: a line per log window
// with the means of the step's outputs (stepOutputs), its step, epoch and throughput, and after
// each epoch a line with the test accuracy (top5 only when withTop5).
func writeMetrics(t *testing.T, path string, epochs, stepsPerEpoch int, withTop5 bool) {
	t.Helper()
	mf, err := results.OpenMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	outputs := map[string]func(step float64) float64{
		"loss":      func(s float64) float64 { return 2.3 / (1 + s/10) },
		"batch_acc": func(s float64) float64 { return 0.1 + 0.8*s/float64(epochs*stepsPerEpoch) },
		"lr_head":   func(s float64) float64 { return 0.1 },
	}
	for step := 1; step <= epochs*stepsPerEpoch; step++ {
		s := float64(step)
		line := map[string]float64{"step": s, "epoch": s / float64(stepsPerEpoch), "images_per_sec": 500, "step_images_per_sec": 600}
		for _, k := range stepOutputs {
			f, ok := outputs[k]
			if !ok {
				t.Fatalf("the step's output %q has no test values: add it to writeMetrics", k)
			}
			line[k] = f(s)
		}
		if err := mf.Write(line); err != nil {
			t.Fatal(err)
		}
		if step%stepsPerEpoch == 0 {
			e := float64(step / stepsPerEpoch)
			eval := map[string]float64{"step": s, "epoch": e, "top1": 0.5 + 0.1*e, "balanced": 0.4 + 0.1*e}
			if withTop5 {
				eval["top5"] = 0.8 + 0.05*e
			}
			if err := mf.Write(eval); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The fine-tuning figure shows the training loss against the step and the test top-1, top-5 and
// balanced accuracy against the epoch (with the training batches' accuracy), each a line of its own with
// a legend entry, as an SVG and a PNG beside the metrics file.
func TestPlotMetrics(t *testing.T) {
	const epochs, perEpoch = 3, 12
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.jsonl")
	writeMetrics(t, path, epochs, perEpoch, true)
	cfg := Defaults(Finetune, 10)
	cfg.Dataset = "synthetic"
	if err := plotMetrics(path, cfg); err != nil {
		t.Fatal(err)
	}
	paths := trainer.MetricsFigures(path)
	if paths[0] != filepath.Join(dir, "metrics.svg") || paths[1] != filepath.Join(dir, "metrics.png") {
		t.Fatalf("figure paths %v, want metrics.svg and metrics.png beside metrics.jsonl", paths)
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	doc, err := plottest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{legendLoss, legendTop1, legendTop5, legendBatchAcc, legendBalanced, "training loss (cross-entropy)", "classification accuracy", "accuracy", "step", "epoch", "loss"} {
		if doc.Count(s) != 1 {
			t.Errorf("text %q appears %d times, want once", s, doc.Count(s))
		}
	}
	// Series take the palette in order on each panel: the loss the first colour on its own; top-1,
	// top-5, the training batches and the balanced accuracy the first four on the accuracy panel.
	// A line has a vertex per point: one per step for the loss and the batches, one per epoch for
	// the test accuracies.
	for _, c := range []struct {
		name  string
		color int
		n     int
	}{{legendLoss, 0, epochs * perEpoch}, {legendTop1, 0, epochs}, {legendTop5, 1, epochs}, {legendBatchAcc, 2, epochs * perEpoch}, {legendBalanced, 3, epochs}} {
		if got := len(plottest.WithVertices(doc.Lines(plot.Colors[c.color]), c.n)); got != 1 {
			t.Errorf("%q: %d lines of %d vertices in colour %d, want one", c.name, got, c.n, c.color)
		}
	}
	// Top-5 lies above top-1 at every epoch, at the same x (the epoch, not the step).
	top1 := plottest.WithVertices(doc.Lines(plot.Colors[0]), epochs)
	top5 := plottest.WithVertices(doc.Lines(plot.Colors[1]), epochs)
	if len(top1) == 1 && len(top5) == 1 {
		for i := range epochs {
			p1, p5 := top1[0].Points[i], top5[0].Points[i]
			if p1[0] != p5[0] || p5[1] <= p1[1] {
				t.Errorf("epoch %d: top-1 at %v, top-5 at %v; want the same x and top-5 higher", i+1, p1, p5)
			}
		}
	}
	f, err := os.Open(paths[1])
	if err != nil {
		t.Fatalf("no PNG beside the SVG: %v", err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("%s does not decode: %v", paths[1], err)
	}

	// With five classes or fewer there is no top-5: no legend entry for it.
	path = filepath.Join(t.TempDir(), "metrics.jsonl")
	writeMetrics(t, path, epochs, perEpoch, false)
	if err := plotMetrics(path, cfg); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(trainer.MetricsFigures(path)[0])
	if err != nil {
		t.Fatal(err)
	}
	if doc, err = plottest.Parse(data); err != nil {
		t.Fatal(err)
	}
	if doc.Count(legendTop5) != 0 || doc.Count(legendTop1) != 1 {
		t.Errorf("without top-5: legend entries top-5 %d, top-1 %d; want 0 and 1", doc.Count(legendTop5), doc.Count(legendTop1))
	}
}
