package eval

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// TestPredict: each row's class is its highest score (the lowest among ties), its probability the
// softmax of that score, checked against exp(s)/Σexp(s) written out; a row of logits too large
// for that formula in float64 still gets probability 1, not NaN (exp(1000) overflows: the
// negative control shows the naive formula fails on it).
func TestPredict(t *testing.T) {
	scores := []float32{
		1, 2, 0, // class 1
		3, 3, 1, // a tie: class 0
		-2, -1, -4, // class 1
		1000, 0, 0, // class 0, certain
	}
	p := Predict(scores, 3)
	softmax := func(row []float32, c int) float64 {
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(float64(v))
		}
		return math.Exp(float64(row[c])) / sum
	}
	if want := []int32{1, 0, 1, 0}; !slices.Equal(p.Class, want) {
		t.Fatalf("classes %v, want %v", p.Class, want)
	}
	for i := range 3 {
		if want := softmax(scores[3*i:3*i+3], int(p.Class[i])); math.Abs(float64(p.Prob[i])-want) > 1e-6 {
			t.Errorf("row %d: probability %v, want %v", i, p.Prob[i], want)
		}
	}
	if !math.IsNaN(softmax(scores[9:], 0)) {
		t.Fatal("the negative control: the naive softmax of logits of 1000 was expected to be NaN")
	}
	if p.Prob[3] != 1 {
		t.Errorf("logits 1000, 0, 0: probability %v, want 1", p.Prob[3])
	}
	// Every class's probability: the same formula, the predicted class's is Prob.
	for i := range 3 {
		for c := range 3 {
			if want := softmax(scores[3*i:3*i+3], c); math.Abs(float64(p.Probs[3*i+c])-want) > 1e-6 {
				t.Errorf("row %d, class %d: probability %v, want %v", i, c, p.Probs[3*i+c], want)
			}
		}
		if p.Probs[3*i+int(p.Class[i])] != p.Prob[i] {
			t.Errorf("row %d: the predicted class's probability %v in Probs, %v in Prob", i, p.Probs[3*i+int(p.Class[i])], p.Prob[i])
		}
	}
	if got := p.Probs[9:]; got[0] != 1 || got[1] != 0 || got[2] != 0 {
		t.Errorf("logits 1000, 0, 0: probabilities %v, want 1, 0, 0", got)
	}
	// Rows picks rows, each with its classes' probabilities.
	if r := p.Rows([]int{2, 0}, 3); !slices.Equal(r.Class, []int32{1, 1}) || !slices.Equal(r.Prob, []float32{p.Prob[2], p.Prob[0]}) ||
		!slices.Equal(r.Probs, append(slices.Clone(p.Probs[6:9]), p.Probs[0:3]...)) {
		t.Errorf("rows 2 and 0: %+v", r)
	}
}

// TestNames: rows are named by their file relative to the root, with "/" (a file outside it, or
// no root, by its full path), else by their key, else by their data-set index, else by row.
func TestNames(t *testing.T) {
	root := filepath.Join(t.TempDir(), "photos")
	files := []string{filepath.Join(root, "train", "cat", "1.jpg"), filepath.Join(filepath.Dir(root), "elsewhere.jpg")}
	for _, tc := range []struct {
		f      Features
		root   string
		column string
		want   []string
	}{
		{Features{N: 2, Files: files}, root, "file", []string{"train/cat/1.jpg", files[1]}},
		{Features{N: 2, Files: files}, "", "file", files},
		{Features{N: 2, Keys: []string{"cat/1", "dog/2"}, Index: []int32{0, 2}}, root, "key", []string{"cat/1", "dog/2"}},
		{Features{N: 2, Index: []int32{0, 2}}, root, "index", []string{"0", "2"}},
		{Features{N: 2}, root, "index", []string{"0", "1"}},
	} {
		column, names := tc.f.Names(tc.root)
		if column != tc.column || !slices.Equal(names, tc.want) {
			t.Errorf("%+v under %q: %s %v, want %s %v", tc.f, tc.root, column, names, tc.column, tc.want)
		}
	}
}

// TestWritePredictions: a row per image, under the header of its names, with its label (empty
// where unknown), the class predicted, its probability to 6 places and, when given, its fold and
// every class's probability.
func TestWritePredictions(t *testing.T) {
	info := datasets.Info{NumClasses: 2, ClassNames: []string{"cat", "dog"}}
	x := Features{N: 3, D: 1, X: []float32{0, 0, 0}, NumClasses: 2, Labels: []int32{1, -1, 0}, Keys: []string{"a/1", "a/2", "b/3"}}
	p := Prediction{Class: []int32{1, 0, 1}, Prob: []float32{0.75, 0.5, 0.999999}}
	path := filepath.Join(t.TempDir(), "p.csv")
	read := func() string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if err := WritePredictions(path, Predictions{X: x, Labels: info, Classes: info, P: p}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "key,label,predicted,probability\na/1,dog,dog,0.750000\na/2,,cat,0.500000\nb/3,cat,dog,0.999999\n"; got != want {
		t.Errorf("wrote\n%s\nwant\n%s", got, want)
	}
	if err := WritePredictions(path, Predictions{X: x, Labels: info, Classes: info, P: p, Fold: []int{2, 1, 3}}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "key,label,predicted,probability,fold\na/1,dog,dog,0.750000,2\na/2,,cat,0.500000,1\nb/3,cat,dog,0.999999,3\n"; got != want {
		t.Errorf("with folds, wrote\n%s\nwant\n%s", got, want)
	}
	p.Probs = []float32{0.25, 0.75, 0.5, 0.5, 0.000001, 0.999999}
	if err := WritePredictions(path, Predictions{X: x, Labels: info, Classes: info, P: p, Probabilities: true}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "key,label,predicted,probability,p_cat,p_dog\na/1,dog,dog,0.750000,0.250000,0.750000\na/2,,cat,0.500000,0.500000,0.500000\nb/3,cat,dog,0.999999,0.000001,0.999999\n"; got != want {
		t.Errorf("with the classes' probabilities, wrote\n%s\nwant\n%s", got, want)
	}
}

// TestWriteEmbeddingsKeys: each row's WebDataset key goes to NAME.keys.txt, as files go to
// NAME.files.txt (TestWriteEmbeddingsFiles); Rows keeps each row's key; an export without keys
// removes an earlier list; a key with a line break is refused, and so is a list of the wrong
// length.
func TestWriteEmbeddingsKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "emb.npy")
	f := Features{N: 3, D: 1, X: []float32{1, 2, 3}, Keys: []string{"cat/1", "cat/2", "dog/3"}}
	if err := WriteEmbeddings(path, f.Rows([]int{2, 0})); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(KeysFile(path)); err != nil || string(got) != "dog/3\ncat/1\n" || KeysFile(path) != filepath.Join(dir, "emb.keys.txt") {
		t.Errorf("keys in %s: %q, %v; want the rows' keys, one per line", KeysFile(path), got, err)
	}
	if _, err := os.Stat(FilesFile(path)); !os.IsNotExist(err) {
		t.Errorf("keys also wrote %s: %v", FilesFile(path), err)
	}
	f.Keys = nil
	if err := WriteEmbeddings(path, f); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(KeysFile(path)); !os.IsNotExist(err) {
		t.Errorf("an export without keys left the earlier %s: %v", KeysFile(path), err)
	}
	f.Keys = []string{"a", "b\nc", "d"}
	if err := WriteEmbeddings(path, f); err == nil || !strings.Contains(err.Error(), `the key of row 1, "b\nc", has a line break`) {
		t.Errorf("a key with a line break: %v", err)
	}
	f.Keys = []string{"a"}
	if err := WriteEmbeddings(path, f); err == nil || !strings.Contains(err.Error(), "1 keys for 3 rows") {
		t.Errorf("too few keys: %v", err)
	}
}

// TestConfusionMatrix: the counts of each (label, prediction) pair, written out by hand; rows of
// unknown label (-1) are not counted; the most frequent confusions are the largest off-diagonal
// counts, ties in row then column order, each with its row's images.
func TestConfusionMatrix(t *testing.T) {
	labels := []int32{0, 0, 0, 0, 1, 1, 1, 2, 2, -1, 2}
	pred := []int32{0, 1, 1, 2, 1, 0, 1, 2, 0, 1, 1}
	want := [][]int{{1, 2, 1}, {1, 2, 0}, {1, 1, 1}}
	m := ConfusionMatrix(pred, labels, 3)
	for i := range want {
		if !slices.Equal(m[i], want[i]) {
			t.Fatalf("confusion matrix %v, want %v", m, want)
		}
	}
	got := MostConfused(m, 4)
	wantTop := []Confused{{0, 1, 2, 4}, {0, 2, 1, 4}, {1, 0, 1, 3}, {2, 0, 1, 3}}
	if !slices.Equal(got, wantTop) {
		t.Errorf("most confused %v, want %v", got, wantTop)
	}
	if all := MostConfused(m, 100); len(all) != 5 {
		t.Errorf("all confusions: %v, want the 5 non-empty off-diagonal cells", all)
	}
	if none := MostConfused([][]int{{3, 0}, {0, 2}}, 5); len(none) != 0 {
		t.Errorf("a diagonal matrix: confusions %v, want none", none)
	}
}

// TestConfusionFigure: each row's cells hold the shares of its images (67% for 2 of 3; nothing for
// none, <1% for 1 of 301), its name tells its images, a class without images has a grey row and
// no text, and beyond
// MaxConfusionText classes the cells hold no text.
func TestConfusionFigure(t *testing.T) {
	fig := ConfusionFigure([][]int{{1, 2, 0, 0}, {0, 4, 0, 0}, {0, 0, 0, 0}, {1, 0, 300, 0}}, []string{"cat", "dog", "emu", "gnu"}, "t")
	mx := fig.Panels[0].Matrix
	if !slices.Equal(mx.Rows, []string{"cat (3)", "dog (4)", "emu (0)", "gnu (301)"}) || !slices.Equal(mx.Text[0], []string{"33%", "67%", "", ""}) ||
		!slices.Equal(mx.Text[1], []string{"", "100%", "", ""}) || !slices.Equal(mx.Text[2], []string{"", "", "", ""}) ||
		!slices.Equal(mx.Text[3], []string{"<1%", "", "100%", ""}) ||
		mx.Values[0][1] != 2.0/3 || !math.IsNaN(mx.Values[2][0]) || mx.Max != 1 {
		t.Errorf("matrix %+v: want the rows' shares, and an empty row of NaN", mx)
	}
	n := MaxConfusionText + 1
	big := make([][]int, n)
	names := make([]string, n)
	for i := range big {
		big[i] = make([]int, n)
		big[i][i] = 1
		names[i] = strconv.Itoa(i)
	}
	if mx := ConfusionFigure(big, names, "t").Panels[0].Matrix; mx.Text != nil {
		t.Errorf("%d classes: cell texts %v, want none", n, mx.Text)
	}
	var buf strings.Builder
	if err := fig.Encode(&buf, "svg"); err != nil {
		t.Fatal(err)
	}
}

// TestConfusionFigureOfManyClasses: of more than MaxConfusionClasses classes, the figure shows
// those whose images are most often mistaken (here class t has t mistaken images, so classes 30
// to 129 of 130), in their order, each row's shares still of all its images (class 129's
// mistakes go to class 0, not shown: its diagonal is 10 of 139).
func TestConfusionFigureOfManyClasses(t *testing.T) {
	const n = 130
	m := make([][]int, n)
	names := make([]string, n)
	for c := range m {
		m[c] = make([]int, n)
		m[c][c], m[c][(c+1)%n] = 10, c
		names[c] = "c" + strconv.Itoa(c)
	}
	mx := ConfusionFigure(m, names, "t").Panels[0].Matrix
	if len(mx.Rows) != MaxConfusionClasses || !slices.Equal(mx.Columns, names[n-MaxConfusionClasses:]) || mx.Rows[0] != "c30 (40)" {
		t.Fatalf("%d rows from %q, columns %v; want the classes 30 to 129", len(mx.Rows), mx.Rows[0], mx.Columns)
	}
	last := MaxConfusionClasses - 1
	if mx.Values[last][last] != 10.0/139 || mx.Values[0][1] != 30.0/40 || mx.Text != nil {
		t.Errorf("class 129's share %v, want 10/139; class 30's mistakes %v, want 30/40", mx.Values[last][last], mx.Values[0][1])
	}
	if !strings.Contains(ConfusionFigure(m, names, "t").Panels[0].Title, "the 100 of 130 classes most often mistaken") {
		t.Error("the panel's title does not say which classes it shows")
	}
}
