package eval

import (
	"fmt"
	"math"
)

// TopK returns the fraction of the labelled rows (label >= 0) whose label is among the k highest
// of their scores: scores is row-major [len(labels), classes]. A tie at the k-th place counts the
// lower class indices first (as a stable sort by decreasing score). It returns -1 when no row is
// labelled, and an error for a NaN score of a labelled row.
func TopK(scores []float32, labels []int32, classes, k int) (float64, error) {
	hits, labelled, err := topKHits(scores, labels, classes, k)
	if err != nil {
		return 0, err
	}
	if labelled == 0 {
		return -1, nil
	}
	return float64(hits) / float64(labelled), nil
}

// topKHits counts the labelled rows (label >= 0) of scores whose label is among their k highest
// scores, as TopK ranks them, and the labelled rows.
func topKHits(scores []float32, labels []int32, classes, k int) (hits, labelled int, err error) {
	if classes <= 0 || len(scores) != len(labels)*classes {
		return 0, 0, fmt.Errorf("top-%d accuracy: %d scores for %d rows of %d classes", k, len(scores), len(labels), classes)
	}
	if k < 1 {
		return 0, 0, fmt.Errorf("top-%d accuracy: k must be >= 1", k)
	}
	for i, l := range labels {
		if l < 0 {
			continue
		}
		if int(l) >= classes {
			return 0, 0, fmt.Errorf("top-%d accuracy: label %d of row %d out of range [0, %d)", k, l, i, classes)
		}
		labelled++
		row := scores[i*classes : (i+1)*classes]
		for c, v := range row {
			if v != v { // NaN compares false with everything: the label would rank first
				return 0, 0, fmt.Errorf("top-%d accuracy: row %d has a NaN score (class %d): the model's outputs are not finite", k, i, c)
			}
		}
		if rank(row, int(l)) < k {
			hits++
		}
	}
	return hits, labelled, nil
}

// rank is the rank of class l among the scores of row, from 0: the classes scoring higher, plus
// the equal-scoring classes of lower index (a stable sort by decreasing score).
func rank[T float32 | float64](row []T, l int) int {
	s, r := row[l], 0
	for c, v := range row {
		if v > s || (v == s && c < l) {
			r++
		}
	}
	return r
}

// BalancedScores is the balanced accuracy (Balanced) of the top-1 predictions of scores (row-major
// [len(labels), classes]): each row's class of highest score, the lowest index among ties, as TopK
// ranks them. It returns -1 when no row is labelled, and TopK's errors for a NaN score of a
// labelled row, a label out of range, or scores of the wrong length.
func BalancedScores(scores []float32, labels []int32, classes int) (float64, error) {
	if _, err := TopK(scores, labels, classes, 1); err != nil {
		return 0, err
	}
	return Balanced(Top1(scores, classes), labels, classes), nil
}

// Predict is the prediction of each row of scores (logits, row-major [rows, classes]): its class
// of highest score (Top1), and that class's and every class's softmax probability (Prob, Probs),
// computed stably (the row's maximum subtracted first) in float64.
func Predict(scores []float32, classes int) Prediction {
	p := Prediction{Class: Top1(scores, classes), Prob: make([]float32, len(scores)/classes), Probs: make([]float32, len(scores))}
	e := make([]float64, classes)
	for i, best := range p.Class {
		row := scores[i*classes : (i+1)*classes]
		sum := 0.0
		for c, v := range row {
			e[c] = math.Exp(float64(v - row[best]))
			sum += e[c]
		}
		p.Prob[i] = float32(1 / sum)
		for c := range row {
			p.Probs[i*classes+c] = float32(e[c] / sum)
		}
	}
	return p
}

// Top1 is each row's class of highest score (scores row-major [rows, classes]), the lowest index
// among ties, as TopK ranks them.
func Top1(scores []float32, classes int) []int32 {
	pred := make([]int32, len(scores)/classes)
	for i := range pred {
		row := scores[i*classes : (i+1)*classes]
		for c, v := range row {
			if v > row[pred[i]] {
				pred[i] = int32(c)
			}
		}
	}
	return pred
}

// Accuracy is the top-1 accuracy on the labelled rows of f of a classifier whose score function
// fills logits (length classes) for one row x; -1 when f has no labels. A NaN score is an error
// (TopK).
func Accuracy(f Features, score func(x []float32, logits []float64), classes int) (float64, error) {
	if f.Labels == nil {
		return -1, nil
	}
	scores := make([]float32, f.N*classes)
	logits := make([]float64, classes)
	for i := range f.N {
		score(f.Row(i), logits)
		for c, v := range logits {
			scores[i*classes+c] = float32(v)
		}
	}
	return TopK(scores, f.Labels, classes, 1)
}

// Majority is the baseline that every classifier should beat: always predicting the class most
// frequent among the labelled rows of train (the lowest-numbered among ties). It returns that
// class and its accuracy on the labelled rows of test, which is the class's share of them: high
// where the classes are imbalanced, 1/classes where they are balanced. It returns -1, -1 when
// either has no labelled row.
func Majority(train, test Features) (class int, acc float64) {
	counts := map[int32]int{}
	for _, l := range train.Labels {
		if l >= 0 {
			counts[l]++
		}
	}
	class = -1
	for l, n := range counts {
		if class < 0 || n > counts[int32(class)] || n == counts[int32(class)] && int(l) < class {
			class = int(l)
		}
	}
	hits, labelled := 0, 0
	for _, l := range test.Labels {
		if l >= 0 {
			labelled++
			if int(l) == class {
				hits++
			}
		}
	}
	if class < 0 || labelled == 0 {
		return -1, -1
	}
	return class, float64(hits) / float64(labelled)
}

// hitRate is the fraction of the rows whose prediction is their label (every row labelled).
func hitRate(pred, labels []int32) float64 {
	hits := 0
	for i, p := range pred {
		if p == labels[i] {
			hits++
		}
	}
	return float64(hits) / float64(len(pred))
}

// PerClass counts, for each class, the rows labelled with it (labels -1 or out of range are not
// counted) and those of them that pred predicts right: hits[c]/rows[c] is the class's recall.
func PerClass(pred, labels []int32, classes int) (rows, hits []int) {
	rows, hits = make([]int, classes), make([]int, classes)
	for i, l := range labels {
		if l < 0 || int(l) >= classes {
			continue
		}
		rows[l]++
		if pred[i] == l {
			hits[l]++
		}
	}
	return rows, hits
}

// Balanced is the balanced accuracy of the predictions pred of rows labelled labels (-1: unknown,
// not counted): the mean over the classes present in labels of the fraction of their rows
// predicted as themselves (their recall), as scikit-learn's balanced_accuracy_score defines it. It
// weighs each class alike, so that on imbalanced classes a classifier that favours the frequent
// ones scores lower than its accuracy says; with balanced classes it equals the accuracy. It is
// -1 when no row is labelled.
func Balanced(pred, labels []int32, classes int) float64 {
	rows, hits := PerClass(pred, labels, classes)
	sum, present := 0.0, 0
	for c, n := range rows {
		if n > 0 {
			sum += float64(hits[c]) / float64(n)
			present++
		}
	}
	if present == 0 {
		return -1
	}
	return sum / float64(present)
}
