package main

import (
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// TestPrintAccuracy: the final report prints each accuracy measured on a line ending in it (what
// docs/experiments/summarize reads), the balanced accuracies of the probe, kNN, each label
// fraction and the baselines on one line, the top-5 accuracies on another, the map of the
// embeddings with its trustworthiness, and nothing of what was not measured.
func TestPrintAccuracy(t *testing.T) {
	f := results.Acc
	res := &results.Pretrain{Linear: f(0.9), KNN: f(0.8), ProbeAcc: f(0.85), LinearBalanced: f(0.7), KNNBalanced: f(0.6),
		LowLabel:    []results.LowLabel{{Percent: 10, Images: 51, Linear: 0.5, KNN: 0.4, LinearBalanced: f(0.45), KNNBalanced: f(0.35)}},
		PixelLinear: f(0.3), PixelLinearBalanced: f(0.25), RandomLinear: f(0.2), RandomLinearBalanced: f(0.15),
		LinearTop5: f(0.95), KNNTop5: f(0.925), Majority: f(0.6), MajorityClass: "cat", EvalSplit: "test", EvalImages: 100,
		Map: &results.EmbeddingMap{Figure: "map.svg", Method: "t-SNE", Split: "test", Images: 80, Of: 100, Trustworthiness: f(0.9316), TrustNeighbours: 5}}
	cfg := config.Config{Dataset: "folder", Loss: "vicreg", KNNK: 20, CheckpointDir: "runs/a"}
	var out strings.Builder
	printAccuracy(&out, res, cfg)
	want := `
Accuracy on folder/test, 100 images (vicreg):
  linear probe, pretrained encoder   90.00%
  kNN (k=20), pretrained encoder     80.00%
  balanced accuracy (mean per-class recall): linear probe 70.00%, kNN 60.00%; 10% of the labels: linear probe 45.00%, kNN 35.00%; raw pixels 25.00%; random encoder 15.00%
  top-5 accuracy: linear probe 95.00%, kNN 92.50%
  online linear probe                85.00%
  linear probe,   10% of the labels  50.00%   (kNN  40.00%, 51 images)
  linear probe, raw pixels           30.00%
  linear probe, random encoder       20.00%
  always the majority class          60.00%   (cat, the most frequent in training)

The t-SNE map of 80 test images' embeddings; trustworthiness 0.932 at 5 neighbours: runs/a/map.svg
`
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	// Without baselines, label fractions or balanced accuracies (a result of an earlier release).
	res = &results.Pretrain{Linear: f(0.9), KNN: f(0.8), EvalSplit: "test", EvalImages: 100}
	out.Reset()
	printAccuracy(&out, res, cfg)
	if want := "\nAccuracy on folder/test, 100 images (vicreg):\n  linear probe, pretrained encoder   90.00%\n  kNN (k=20), pretrained encoder     80.00%\n"; out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	// Class-weighted probes say so in the heading.
	res.ClassWeight = "balanced"
	out.Reset()
	printAccuracy(&out, res, cfg)
	if want := "\nAccuracy on folder/test, 100 images (vicreg; the linear probes with balanced class weights):\n"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("printed:\n%s\nwant it to start with:\n%s", out.String(), want)
	}
}
