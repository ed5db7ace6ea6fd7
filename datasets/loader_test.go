package datasets

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func smallSet(t *testing.T, n int) *Dataset {
	t.Helper()
	ds, err := Synthetic(SyntheticConfig{N: n, Components: 4, Height: 10, Width: 10, Channels: 3, Sigma: 30, Seed: 5}, "train")
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func collect(t *testing.T, ds *Dataset, cfg LoaderConfig, start Position, n int) []*Batch {
	t.Helper()
	return collectN(t, ds, cfg, start, n)
}

func TestLoaderReproducibleAcrossWorkers(t *testing.T) {
	ds := smallSet(t, 37)
	aug, _ := Preset("vicreg", ds)
	cfg := LoaderConfig{BatchSize: 8, Seed: 11, Augmentation: aug}
	var runs [][]*Batch
	for _, w := range []int{1, 2, 5} {
		cfg.Workers = w
		runs = append(runs, collect(t, ds, cfg, Position{}, 10))
	}
	for r := 1; r < len(runs); r++ {
		for i := range runs[0] {
			a, b := runs[0][i], runs[r][i]
			if a.Position != b.Position || !slices.Equal(a.Indices, b.Indices) || !slices.Equal(a.View1, b.View1) || !slices.Equal(a.View2, b.View2) || !slices.Equal(a.Labels, b.Labels) {
				t.Fatalf("batch %d differs between 1 worker and run %d", i, r)
			}
		}
	}
	// Shapes, epochs and drop-last: 37 images, batch 8 -> 4 batches per epoch, 5 images dropped.
	seen := map[int32]bool{}
	for i, b := range runs[0] {
		if want := (Position{Epoch: i / 4, Batch: i % 4}); b.Position != want {
			t.Fatalf("batch %d at %+v, want %+v", i, b.Position, want)
		}
		if len(b.View1) != 8*10*10*3 || !slices.Equal(b.Dims(), []int{8, 10, 10, 3}) || b.Mask != nil {
			t.Fatalf("batch %d: %d values, dims %v", i, len(b.View1), b.Dims())
		}
		if b.Position.Epoch == 0 {
			for k, idx := range b.Indices {
				if seen[idx] {
					t.Fatalf("image %d twice in epoch 0", idx)
				}
				seen[idx] = true
				if b.Labels[k] != ds.Labels[idx] {
					t.Fatalf("label of image %d: %d, want %d", idx, b.Labels[k], ds.Labels[idx])
				}
			}
		}
		if slices.Equal(b.View1, b.View2) {
			t.Fatalf("batch %d: the two views are equal", i)
		}
	}
	if len(seen) != 32 {
		t.Fatalf("%d distinct images in epoch 0, want 32", len(seen))
	}
	if slices.Equal(runs[0][0].Indices, runs[0][4].Indices) {
		t.Fatal("epochs 0 and 1 have the same order")
	}
	// Another seed gives another order.
	cfg.Seed = 12
	other := collect(t, ds, cfg, Position{}, 1)
	if slices.Equal(other[0].Indices, runs[0][0].Indices) {
		t.Fatal("seed does not change the order")
	}
}

func TestLoaderResume(t *testing.T) {
	ds := smallSet(t, 20)
	aug, _ := Preset("solo-cifar", ds)
	cfg := LoaderConfig{BatchSize: 6, Seed: 3, Workers: 2, Augmentation: aug}
	l, err := NewLoader(ds, cfg, Position{})
	if err != nil {
		t.Fatal(err)
	}
	var all []*Batch
	var saved Position
	for i := range 8 {
		if i == 4 {
			saved = l.Position() // a checkpoint after 4 batches
		}
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b)
	}
	l.Close()
	if want := (Position{Epoch: 1, Batch: 1, Images: 20, Classes: ds.NumClasses}); saved != want {
		t.Fatalf("position after 4 batches of 3 per epoch: %+v, want %+v", saved, want)
	}
	resumed := collect(t, ds, cfg, saved, 4)
	for i, b := range resumed {
		a := all[4+i]
		if a.Position != b.Position || !slices.Equal(a.Indices, b.Indices) || !slices.Equal(a.View1, b.View1) || !slices.Equal(a.View2, b.View2) {
			t.Fatalf("resumed batch %d differs", i)
		}
	}
	if _, err := NewLoader(ds, cfg, Position{Epoch: 0, Batch: 3}); err == nil {
		t.Fatal("start batch past the epoch accepted")
	}
	// A position saved on another data set (other images or classes) is refused as a usage error;
	// one without them (older checkpoints) is taken as it is.
	for _, other := range []Position{{Epoch: 1, Batch: 1, Images: 21, Classes: ds.NumClasses}, {Epoch: 1, Batch: 1, Images: 20, Classes: ds.NumClasses + 1}} {
		if _, err := NewLoader(ds, cfg, other); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "resume on the data the run was trained on") {
			t.Errorf("position of another data set %+v: got %v, want a usage error", other, err)
		}
	}
	if l, err := NewLoader(ds, cfg, Position{Epoch: 1, Batch: 1}); err != nil {
		t.Errorf("a position without the data set's size: %v", err)
	} else {
		l.Close()
	}
	if _, err := NewLoader(ds, LoaderConfig{BatchSize: 21}, Position{}); err == nil {
		t.Fatal("batch larger than the data set accepted")
	}
}

func TestEvalIteratorPadsAndMasks(t *testing.T) {
	ds := smallSet(t, 7)
	mean := []float32{0.5, 0.25, 0}
	std := []float32{0.5, 2, 1}
	it, err := NewEvalIterator(ds, EvalConfig{BatchSize: 3, Mean: mean, Std: std})
	if err != nil {
		t.Fatal(err)
	}
	if it.NumBatches() != 3 {
		t.Fatalf("%d batches, want 3", it.NumBatches())
	}
	next := 0
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if len(b.View1) != 3*10*10*3 || b.View2 != nil {
			t.Fatalf("batch shape %d", len(b.View1))
		}
		for i := range 3 {
			idx := next
			next++
			if idx >= ds.N {
				if b.Mask[i] != 0 || b.Indices[i] != -1 || b.Labels[i] != -1 {
					t.Fatalf("padding %d: mask %g index %d label %d", i, b.Mask[i], b.Indices[i], b.Labels[i])
				}
				continue
			}
			if b.Mask[i] != 1 || int(b.Indices[i]) != idx || b.Labels[i] != ds.Labels[idx] {
				t.Fatalf("entry %d: mask %g index %d", i, b.Mask[i], b.Indices[i])
			}
			for p, v := range ds.Image(idx) {
				want := (float64(v)/255 - float64(mean[p%3])) / float64(std[p%3])
				if got := float64(b.View1[i*300+p]); got-want > 1e-5 || want-got > 1e-5 {
					t.Fatalf("image %d value %d: %g, want %g", idx, p, got, want)
				}
			}
		}
		if want := min(3, ds.N-3*b.Position.Batch); b.Valid != want {
			t.Fatalf("batch %d: %d valid, want %d", b.Position.Batch, b.Valid, want)
		}
	}
	if next != 9 {
		t.Fatalf("visited %d slots, want 9", next)
	}
}

// grayWide is a Source that says its images are RGB but decodes each to one channel of 5 x 3
// pixels (width x height): a Source of the wrong kind.
type grayWide struct{ *Dataset }

func (g grayWide) Decode(int) (Image, error) {
	return Image{Pix: make([]uint8, 5*3), H: 3, W: 5, C: 1}, nil
}

// A Source whose image has the wrong channels stops Gather and a Loader with a message that
// gives its size as width x height, as every size of an image is given, then its channels.
func TestWrongChannelsMessageGivesWidthByHeight(t *testing.T) {
	src := grayWide{smallSet(t, 4)}
	const want = "decoded to 5x3 pixels (width x height) of 1 channel(s) in 15 bytes; want 3 channels"
	if _, err := Gather(src, []int{1}, GatherConfig{Workers: 1}); err == nil || !strings.Contains(err.Error(), "synthetic sample 1: "+want) {
		t.Errorf("Gather: %v, want %q", err, want)
	}
	aug, _ := Preset("none", src.Dataset)
	l, err := NewLoader(src, LoaderConfig{BatchSize: 2, Workers: 1, Augmentation: aug}, Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Next(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Loader: %v, want %q", err, want)
	}
}

// TestLoaderKeepLastBatch: with KeepLastBatch an epoch is ceil(N/B) batches that visit every image
// once, in the epoch's order, the last one of N mod B images; the full batches are those of a
// loader that drops the rest; the partial batch is the same after a resume and for any number of
// workers. In memory and from tar shards.
func TestLoaderKeepLastBatch(t *testing.T) {
	ds := smallSet(t, 20)
	aug, _ := Preset("solo-cifar", ds)
	drop := LoaderConfig{BatchSize: 6, Seed: 3, Workers: 1, Augmentation: aug}
	keep := drop
	keep.KeepLastBatch = true
	all := collect(t, ds, keep, Position{}, 9) // 4 batches per epoch: into the third epoch
	dropped := collect(t, ds, drop, Position{}, 6)
	for e := range 2 {
		order := EpochOrder(20, keep.Seed, e)
		for k := range 4 {
			b := all[e*4+k]
			var want []int32
			for _, i := range order[k*6 : min(k*6+6, 20)] {
				want = append(want, int32(i))
			}
			if b.Position != (Position{Epoch: e, Batch: k}) || !slices.Equal(b.Indices, want) {
				t.Fatalf("epoch %d batch %d at %+v: images %v, want %v", e, k, b.Position, b.Indices, want)
			}
			if n := len(want); b.BatchSize != n || b.Valid != n || len(b.Labels) != n || len(b.View1) != n*b.Height*b.Width*b.Channels || len(b.View2) != len(b.View1) {
				t.Fatalf("epoch %d batch %d: size %d (valid %d, %d labels, %d values), want %d images", e, k, b.BatchSize, b.Valid, len(b.Labels), len(b.View1), n)
			}
			if k < 3 {
				sameBatches(t, fmt.Sprintf("full batch %d of epoch %d, keeping and dropping the last", k, e), []*Batch{dropped[e*3+k]}, []*Batch{b})
			}
		}
	}
	if all[8].Position != (Position{Epoch: 2}) {
		t.Fatalf("the ninth batch at %+v, want the start of epoch 2", all[8].Position)
	}
	keep.Workers = 3
	sameBatches(t, "keeping the last batch, 1 and 3 workers", all, collect(t, ds, keep, Position{}, 9))
	sameBatches(t, "resumed at the partial batch", all[3:6], collect(t, ds, keep, Position{Epoch: 0, Batch: 3}, 3))
	if _, err := NewLoader(ds, keep, Position{Epoch: 0, Batch: 4}); err == nil {
		t.Fatal("start batch past the epoch accepted")
	}

	root := t.TempDir()
	makeFolder(t, root, []string{"a", "b", "c"}, 10)
	_, s, _ := shardsOf(t, root, 4) // 30 samples in 8 shards
	saug, _ := Preset("solo-cifar", s)
	scfg := LoaderConfig{BatchSize: 7, Seed: 9, Augmentation: saug.WithSize(16), ShuffleBuffer: 5, Workers: 2, KeepLastBatch: true}
	sb := collectN(t, s, scfg, Position{}, 6) // 5 batches per epoch: 7, 7, 7, 7, 2
	_, order := s.epochOrder(scfg.Seed, 0, 5)
	for k := range 5 {
		if want := order[k*7 : min(k*7+7, 30)]; !slices.Equal(sb[k].Indices, want) || sb[k].BatchSize != len(want) {
			t.Fatalf("shards, batch %d: images %v (size %d), want %v", k, sb[k].Indices, sb[k].BatchSize, want)
		}
	}
	if sb[5].Position != (Position{Epoch: 1}) {
		t.Fatalf("shards: the sixth batch at %+v, want the start of epoch 1", sb[5].Position)
	}
	sameBatches(t, "shards resumed at the partial batch", sb[4:6], collectN(t, s, scfg, Position{Epoch: 0, Batch: 4}, 2))
}
