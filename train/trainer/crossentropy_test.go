package trainer

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// TestMaskedCrossEntropy: the loss is the mean cross-entropy of the labelled rows (a row of
// label -1 left out), or with class weights Σ w·CE / Σ w over them, PyTorch's
// CrossEntropyLoss(weight=..., ignore_index=-1), written out here in float64; the accuracy is the
// plain share of labelled rows predicted right either way; a batch without a labelled row gives
// 0, not NaN, with or without weights.
func TestMaskedCrossEntropy(t *testing.T) {
	b := backendtest.Backend(t)
	logits := []float32{2, 0, -1, 0.5, 0.5, 3, -2, 1, 0, 1, 1, 1, 0, 5, 0}
	labels := []int32{0, 2, 1, -1, 2}
	weights := []float32{0.5, 1, 3}
	var sum, wsum, wce float64
	hits, labelled := 0, 0
	for i, l := range labels {
		if l < 0 {
			continue
		}
		row := logits[3*i : 3*i+3]
		z, best := 0.0, 0
		for c, v := range row {
			z += math.Exp(float64(v))
			if v > row[best] {
				best = c
			}
		}
		ce := math.Log(z) - float64(row[l])
		sum, labelled = sum+ce, labelled+1
		wsum, wce = wsum+float64(weights[l]), wce+float64(weights[l])*ce
		if best == int(l) {
			hits++
		}
	}
	run := func(labels []int32, w []float32) (loss, acc float64) {
		t.Helper()
		exec, err := graph.NewExec(b, func(x, y *graph.Node) (*graph.Node, *graph.Node) {
			return MaskedCrossEntropy(x, y, w)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(logits, 5, 3), labels)
		if err != nil {
			t.Fatal(err)
		}
		return float64(tensors.ToScalar[float32](out[0])), float64(tensors.ToScalar[float32](out[1]))
	}
	// PyTorch 1.13 (Debian's python3-torch) on the same logits and labels:
	// F.cross_entropy(logits, labels, ignore_index=-1) and with weight=tensor([0.5, 1, 3]).
	const torchPlain, torchWeighted = 1.4210630655288696, 2.1240155696868896
	if math.Abs(sum/float64(labelled)-torchPlain) > 1e-6 || math.Abs(wce/wsum-torchWeighted) > 1e-6 {
		t.Fatalf("the float64 reference %v, %v disagrees with PyTorch's %v, %v", sum/float64(labelled), wce/wsum, torchPlain, torchWeighted)
	}
	wantAcc := float64(hits) / float64(labelled)
	if loss, acc := run(labels, nil); math.Abs(loss-sum/float64(labelled)) > 1e-6 || math.Abs(acc-wantAcc) > 1e-7 {
		t.Errorf("loss %v, accuracy %v; want %v and %v", loss, acc, sum/float64(labelled), wantAcc)
	}
	if loss, acc := run(labels, weights); math.Abs(loss-wce/wsum) > 1e-6 || math.Abs(acc-wantAcc) > 1e-7 || math.Abs(wce/wsum-sum/float64(labelled)) < 1e-3 {
		t.Errorf("weighted: loss %v, accuracy %v; want %v (not the plain %v) and %v", loss, acc, wce/wsum, sum/float64(labelled), wantAcc)
	}
	none := []int32{-1, -1, -1, -1, -1}
	for _, w := range [][]float32{nil, weights} {
		if loss, acc := run(none, w); loss != 0 || acc != 0 {
			t.Errorf("no labelled row (weights %v): loss %v, accuracy %v; want 0 and 0", w, loss, acc)
		}
	}
}
