package datasets

import (
	"math"
	"slices"
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
