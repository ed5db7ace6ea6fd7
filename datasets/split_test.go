package datasets

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	ds := tinySet(10)
	tail := ds.Tail(3)
	if tail.N != 3 || tail.Label(0) != ds.Label(7) || !slices.Equal(tail.Image(2), ds.Image(9)) {
		t.Errorf("Tail(3): N %d, first label %d (want %d)", tail.N, tail.Label(0), ds.Label(7))
	}
	if ds.Tail(0) != ds || ds.Tail(10) != ds {
		t.Error("Tail(0) and Tail(N) should return the data set itself")
	}
}

// tinySet is a data set of n 1x1 gray images whose pixel is the index, label index%3.
func tinySet(n int) *Dataset {
	ds := &Dataset{Name: "tiny", N: n, Height: 1, Width: 1, Channels: 1, NumClasses: 3, Mean: []float32{0}, Std: []float32{1}}
	for i := range n {
		ds.Images = append(ds.Images, uint8(i))
		ds.Labels = append(ds.Labels, int32(i%3))
	}
	return ds
}

func TestLabelFractionIsBalancedDeterministicAndNested(t *testing.T) {
	// 3 classes of 1000, 500 and 10 images, and some unlabelled ones.
	var labels []int32
	for c, n := range []int{1000, 500, 10} {
		for range n {
			labels = append(labels, int32(c))
		}
	}
	labels = append(labels, -1, -1, -1)
	one, err := LabelFraction(labels, 3, 1, 42)
	if err != nil {
		t.Fatal(err)
	}
	ten, _ := LabelFraction(labels, 3, 10, 42)
	all, _ := LabelFraction(labels, 3, 100, 42)
	count := func(idx []int) [3]int {
		var c [3]int
		for _, i := range idx {
			if labels[i] < 0 {
				t.Fatalf("unlabelled image %d chosen", i)
			}
			c[labels[i]]++
		}
		return c
	}
	if got, want := count(one), [3]int{10, 5, 1}; got != want {
		t.Errorf("1%%: %v images per class, want %v (1%% of each, at least one)", got, want)
	}
	if got, want := count(ten), [3]int{100, 50, 1}; got != want {
		t.Errorf("10%%: %v images per class, want %v", got, want)
	}
	if got, want := count(all), [3]int{1000, 500, 10}; got != want {
		t.Errorf("100%%: %v, want every labelled image", got)
	}
	for _, i := range one {
		if _, found := slices.BinarySearch(ten, i); !found {
			t.Fatalf("image %d is in the 1%% subset but not in the 10%% one (same seed): not nested", i)
		}
	}
	again, _ := LabelFraction(labels, 3, 1, 42)
	other, _ := LabelFraction(labels, 3, 1, 43)
	if !slices.Equal(one, again) {
		t.Error("the same seed gave another subset")
	}
	if slices.Equal(one, other) {
		t.Error("another seed gave the same subset")
	}
	// The chosen images of the big class are spread over it, not its first ones.
	var mean float64
	for _, i := range ten[:100] {
		mean += float64(i) / 100
	}
	if math.Abs(mean-500) > 100 {
		t.Errorf("10%% subset of class 0 has mean index %.0f, want about 500 (a random draw)", mean)
	}
	for _, p := range []float64{0, -1, 100.5, math.NaN()} {
		if _, err := LabelFraction(labels, 3, p, 1); err == nil {
			t.Errorf("percent %v: no error", p)
		}
	}
	if _, err := LabelFraction(nil, 0, 10, 1); err == nil {
		t.Error("no labels: no error")
	}
}

func TestSelect(t *testing.T) {
	ds := tinySet(10)
	sel := Select(ds, []int{7, 2})
	if sel.Info().Len != 2 || sel.Label(0) != ds.Label(7) {
		t.Errorf("Select of a Dataset: len %d, label %d", sel.Info().Len, sel.Label(0))
	}
	// A source that is not in memory is read through.
	through := Select(&selection{src: ds, idx: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}, []int{9, 4})
	img, err := through.Decode(0)
	if err != nil || img.Pix[0] != 9 || through.Label(1) != ds.Label(4) || through.Info().Len != 2 {
		t.Errorf("Select of a source: pixel %v, %v", img.Pix, err)
	}
	if got := Labels(through); !slices.Equal(got, []int32{ds.Label(9), ds.Label(4)}) {
		t.Errorf("Labels: %v", got)
	}
}

// TestFolds: k-fold assignment is stratified (each class's rows spread over the folds to within
// one), balanced (fold sizes within one), leaves unlabelled rows out, follows its definition
// (each class's rows ordered by FNV-1a then SplitMix64 of their names, dealt in turn with the
// count carried across classes, computed here), and depends on the names alone, not the rows'
// order. Bad counts are errors.
func TestFolds(t *testing.T) {
	var labels []int32
	var names []string
	for c, n := range []int{7, 3, 1} {
		for i := range n {
			labels = append(labels, int32(c))
			names = append(names, fmt.Sprintf("class%d/img%02d.png", c, i))
		}
	}
	labels, names = append(labels, -1), append(names, "unlabelled.png")
	const k = 3
	fold, err := Folds(labels, 3, names, k)
	if err != nil {
		t.Fatal(err)
	}
	// The definition.
	want := make([]int, len(labels))
	want[len(want)-1] = -1
	next := 0
	for c := range 3 {
		var idx []int
		for i, l := range labels {
			if l == int32(c) {
				idx = append(idx, i)
			}
		}
		key := func(i int) uint64 {
			h := fnv.New64a()
			h.Write([]byte(names[i]))
			return SplitMix64(h.Sum64())
		}
		sort.Slice(idx, func(a, b int) bool { return key(idx[a]) < key(idx[b]) })
		for _, i := range idx {
			want[i] = next % k
			next++
		}
	}
	if !slices.Equal(fold, want) {
		t.Errorf("folds %v, want %v", fold, want)
	}
	sizes := make([]int, k)
	perClass := make([][]int, 3)
	for c := range perClass {
		perClass[c] = make([]int, k)
	}
	for i, f := range fold {
		if labels[i] >= 0 {
			sizes[f]++
			perClass[labels[i]][f]++
		}
	}
	if slices.Max(sizes)-slices.Min(sizes) > 1 {
		t.Errorf("fold sizes %v differ by more than one", sizes)
	}
	for c, counts := range perClass {
		if slices.Max(counts)-slices.Min(counts) > 1 {
			t.Errorf("class %d's rows per fold %v differ by more than one", c, counts)
		}
	}
	// The rows in reverse order: each name keeps its fold.
	rl, rn := slices.Clone(labels), slices.Clone(names)
	slices.Reverse(rl)
	slices.Reverse(rn)
	rev, err := Folds(rl, 3, rn, k)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rev {
		if rev[i] != fold[len(fold)-1-i] {
			t.Errorf("%s: fold %d in reverse order, %d in order", rn[i], rev[i], fold[len(fold)-1-i])
		}
	}
	for _, tc := range []struct {
		k     int
		names []string
		want  string
	}{
		{1, names, "1 folds: want 2 or more"},
		{12, names, "12 folds of 11 labelled images"},
		{3, names[:3], "3 names for 12 rows"},
	} {
		if _, err := Folds(labels, 3, tc.names, tc.k); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("k %d, %d names: %v, want an error containing %q", tc.k, len(tc.names), err, tc.want)
		}
	}
}
