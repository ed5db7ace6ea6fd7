package trainer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/plot/plottest"
	"github.com/gomlx-ssl/vicreg/results"
)

// An unlabelled image folder trains without any online probe (the run logs "no online probe,
// kNN or linear probe"), so no probe accuracy or probe loss was measured: metrics.jsonl must not
// hold one and metrics.svg must not draw an "accuracy (online linear probe)" panel. The steps
// output no probe values (they had been placeholder zeros, written as a measured 0% accuracy and
// 0 loss, and drawn as a flat 0 curve under the online probe's legend).
func TestUnlabelledRunRecordsNoProbe(t *testing.T) {
	b := backendtest.XLA(t)
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, root, []string{""}, 32) // a flat folder: unlabelled
	c := tinyConfig(t)
	c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16
	c.Subset, c.EvalSubset, c.Steps = 0, 0, 2
	if _, err := Run(b, c, quiet()); err != nil {
		t.Fatal(err)
	}
	m, err := results.ReadMetrics(filepath.Join(c.CheckpointDir, results.MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{results.KeyProbeBatchAcc, results.KeyProbeLoss} {
		if pts := m[k]; len(pts) > 0 {
			t.Errorf("metrics.jsonl of an unlabelled run holds %q = %v (want no value: there is no probe)", k, pts[0].Value)
		}
	}
	data, err := os.ReadFile(filepath.Join(c.CheckpointDir, "metrics.svg"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := plottest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"accuracy (online linear probe)", "online probe, training batches (per log window)"} {
		if n := doc.Count(text); n != 0 {
			t.Errorf("metrics.svg of an unlabelled run draws %q (%d times): want no accuracy panel", text, n)
		}
	}
}
