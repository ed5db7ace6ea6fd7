package analysis

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// The analysis of a run trained on an image folder of mixed sizes reads that folder (its path from
// the run's configuration) at the run's view size: the -image-size it gave, or the preset's. It
// reads only the images it measures (the first -entropy-images and the anchors), normalised as
// training normalised them (ImageNet's statistics for a folder), and the same images from shards
// written from that folder.
func TestTestImagesOfAFolderRun(t *testing.T) {
	root := t.TempDir()
	for _, split := range []string{"train", "val"} {
		datasetstest.WriteImageFolder(t, filepath.Join(root, split), []string{"cat", "dog"}, 5)
	}
	run := config.Default()
	run.Dataset, run.DataDir, run.Augment, run.Model.InChannels = "folder", root, "vicreg", 3
	opts := DefaultOptions()
	opts.Anchors, opts.EntropyImages = 3, 4
	quiet := log.New(io.Discard)
	for _, tc := range []struct{ imageSize, want int }{{0, 224}, {32, 32}} {
		run.ImageSize = tc.imageSize
		set, err := testImages(run, opts, quiet)
		if err != nil {
			t.Fatalf("-image-size %d: %v", tc.imageSize, err)
		}
		ds := set.ds
		// The anchors among the first 4 images are read once.
		extra := 0
		for _, a := range set.anchors {
			if a >= 4 {
				extra++
			}
		}
		if set.n != 4 || ds.N != 4+extra || len(set.anchors) != 3 || ds.Height != tc.want || ds.Width != tc.want || ds.NumClasses != 2 {
			t.Errorf("-image-size %d: %d images of %dx%d in %d classes (%d entropy images, anchors %v), want 4 + the anchors after them, of %dx%[8]d in 2",
				tc.imageSize, ds.N, ds.Width, ds.Height, ds.NumClasses, set.n, set.anchors, tc.want)
		}
		if a := slices.Clone(set.anchors); len(slices.Compact(slices.Sorted(slices.Values(a)))) != 3 || slices.Max(a) >= ds.N {
			t.Errorf("-image-size %d: anchors %v, want 3 distinct images of the %d read", tc.imageSize, set.anchors, ds.N)
		}
		if set.aug.View1.Size != tc.want {
			t.Errorf("-image-size %d: views of %d px, want %d", tc.imageSize, set.aug.View1.Size, tc.want)
		}
		// The folder lists its files class by class (cat, then dog): the entropy images are drawn
		// from the whole split, not its first files (which would all be cats).
		if src := set.source; src != (DataSource{Dataset: "folder", Dir: root, Split: "test", Images: 10, EntropyImages: 4, EntropySelection: "random", Anchors: 3}) {
			t.Errorf("-image-size %d: data %+v", tc.imageSize, src)
		}
		if labels := ds.Labels[:4]; !slices.Contains(labels, 0) || !slices.Contains(labels, 1) {
			t.Errorf("-image-size %d: the entropy images' labels %v: want both classes, drawn from the whole split", tc.imageSize, labels)
		}
		if !slices.Equal(ds.Mean, datasets.ImageNetMean) || !slices.Equal(ds.Std, datasets.ImageNetStd) {
			t.Errorf("-image-size %d: normalised with %v %v, want ImageNet's, as training on a folder is", tc.imageSize, ds.Mean, ds.Std)
		}
	}
	// The same images as shards (in the folder's order): the same pixels and labels.
	folderSet, err := testImages(run, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	shards := t.TempDir()
	f, err := datasets.OpenFolder(root, "val")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.WriteShards(f, filepath.Join(shards, "val"), datasets.ShardOptions{PerShard: 4, NoShuffle: true}); err != nil {
		t.Fatal(err)
	}
	run.Dataset, run.DataDir = "shards", shards
	set, err := testImages(run, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(set.ds.Images, folderSet.ds.Images) || !slices.Equal(set.ds.Labels, folderSet.ds.Labels) || !slices.Equal(set.anchors, folderSet.anchors) {
		t.Errorf("shards: labels %v anchors %v, the folder's %v %v; same pixels: %v", set.ds.Labels, set.anchors,
			folderSet.ds.Labels, folderSet.anchors, slices.Equal(set.ds.Images, folderSet.ds.Images))
	}
	opts.Anchors = 11
	if _, err := testImages(run, opts, quiet); err == nil {
		t.Error("11 anchors of 10 test images: no error")
	}

	// Class folders without train/ and val/: the training images are measured, with a warning.
	var logged strings.Builder
	run.Dataset, run.DataDir, opts.Anchors = "folder", filepath.Join(root, "train"), 3
	set, err = testImages(run, opts, log.New(&logged))
	if err != nil || set.data.Info().Len != 10 || set.source.Split != "train" || !strings.Contains(logged.String(), "no held-out split") {
		t.Errorf("a folder without splits: %v, want its 10 images measured with a warning; logged:\n%s", err, logged.String())
	}
	// A train/ folder without val/: its images, with the same warning.
	trainOnly := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(trainOnly, "train"), []string{"cat", "dog"}, 4)
	logged.Reset()
	run.DataDir = trainOnly
	set, err = testImages(run, opts, log.New(&logged))
	if err != nil || set.data.Info().Len != 8 || set.source.Split != "train" || !strings.Contains(logged.String(), "no held-out split") {
		t.Errorf("a train/ folder without val/: %v, want its 8 images measured with a warning; logged:\n%s", err, logged.String())
	}
}

// An in-memory data set is measured as it is: the anchors are drawn from the whole test split.
func TestTestImagesInMemory(t *testing.T) {
	run := config.Default()
	run.Dataset, run.Augment, run.Model.InChannels = "synthetic", "solo-cifar", 3
	opts := DefaultOptions()
	opts.Anchors, opts.EntropyImages = 5, 10
	set, err := testImages(run, opts, log.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := datasets.LoadWith("synthetic", datasets.SplitTest, datasets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The first 10 images, then the anchors that are not among them, as they are.
	if set.n != 10 || len(set.anchors) != 5 || set.ds.N != len(set.indices) || set.ds.N < 10 || set.ds.N > 15 ||
		!slices.Equal(set.indices[:10], []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("%d images of samples %v (%d entropy, anchors %v), want the first 10 and the anchors", set.ds.N, set.indices, set.n, set.anchors)
	}
	for k, i := range set.indices {
		if !slices.Equal(set.ds.Image(k), ds.Image(i)) || set.ds.Labels[k] != ds.Labels[i] {
			t.Fatalf("image %d differs from sample %d of the split", k, i)
		}
	}
	if set.source.EntropySelection != "first" || set.source.EntropyImages != 10 || set.source.Dir != "" {
		t.Errorf("data %+v: want the first 10 images of the published order, from the cache folder", set.source)
	}
	var anchors []int
	for _, k := range set.anchors {
		anchors = append(anchors, set.indices[k])
	}
	if slices.Max(anchors) < 10 {
		t.Errorf("anchors %v: all among the entropy images (drawn from the first 10 only?)", anchors)
	}
}

// folderRun writes a val/ folder of perClass images of mixed sizes in each of two classes and
// returns their paths and the configuration of a run trained on that folder (vicreg views of 16
// px).
func folderRun(t *testing.T, perClass int) ([]string, config.Config) {
	t.Helper()
	root := t.TempDir()
	paths := datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"cat", "dog"}, perClass)
	run := config.Default()
	run.Dataset, run.DataDir, run.Augment, run.ImageSize, run.Model.InChannels = "folder", root, "vicreg", 16, 3
	return paths, run
}

// The analysis of a folder run measures what training and evaluate saw: each anchor's views and
// each entropy image's pair are exactly the views a training Loader draws for that sample (the
// run's augmentation on the image as decoded, at any size), and the clean images are exactly
// evaluate's (the evaluation transform, normalised as in training).
func TestAnalysisInputsAreTrainingsViews(t *testing.T) {
	_, run := folderRun(t, 5)
	opts := DefaultOptions()
	opts.Anchors, opts.EntropyImages, opts.Views = 3, 4, 2
	quiet := log.New(io.Discard)
	set, err := testImages(run, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	in, err := prepareInputs(set, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	const p = 16 * 16 * 3
	n := set.data.Info().Len
	// loaderViews is epoch e of a Loader over the whole split: sample index -> its two views.
	loaderViews := func(seed uint64, e int) map[int][2][]float32 {
		l, err := datasets.NewLoader(set.data, datasets.LoaderConfig{BatchSize: n, Seed: seed, Workers: 2, Augmentation: set.aug, Logger: quiet},
			datasets.Position{Epoch: e})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		views := map[int][2][]float32{}
		for r, i := range b.Indices {
			views[int(i)] = [2][]float32{b.View1[r*p : (r+1)*p], b.View2[r*p : (r+1)*p]}
		}
		return views
	}
	pairs := loaderViews(opts.Seed^0x5eed, 0)
	for k := range in.n {
		want := pairs[set.indices[k]]
		if !slices.Equal(in.view1[k*p:(k+1)*p], want[0]) || !slices.Equal(in.view2[k*p:(k+1)*p], want[1]) {
			t.Errorf("entropy image %d (sample %d): its pair differs from the training loader's", k, set.indices[k])
		}
	}
	for m := range opts.Views {
		epoch := loaderViews(opts.Seed, m)
		for a, k := range set.anchors {
			j := a*opts.Views + m
			if !slices.Equal(in.views[j*p:(j+1)*p], epoch[set.indices[k]][0]) {
				t.Errorf("anchor %d (sample %d), view %d: differs from the training loader's first view of epoch %d", a, set.indices[k], m, m)
			}
		}
	}
	it, err := datasets.NewEvalIterator(set.data, datasets.EvalConfig{BatchSize: n, Size: 16, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, ok := it.Next()
	if !ok {
		t.Fatal(it.Err())
	}
	for k := range in.n {
		i := set.indices[k]
		if !slices.Equal(in.clean[k*p:(k+1)*p], b.View1[i*p:(i+1)*p]) {
			t.Errorf("entropy image %d (sample %d): the clean image differs from evaluate's", k, i)
		}
	}
}

// With bad images skipped, the images kept, their sample indices, the entropy images and the
// anchors stay aligned: image k of ds is sample indices[k] as evaluate prepares it, each anchor
// is the image it was drawn as, and the views drawn later are those of the same samples.
func TestTestImagesDropBadKeepsTheIndices(t *testing.T) {
	paths, run := folderRun(t, 6)
	opts := DefaultOptions()
	opts.Anchors, opts.EntropyImages, opts.Views = 6, 5, 1
	quiet := log.New(io.Discard)
	clean, err := testImages(run, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	// Damage an entropy image and an anchor that is not one (both exist with these seeds).
	anchorOnly := -1
	for _, k := range clean.anchors {
		if k >= clean.n {
			anchorOnly = k
			break
		}
	}
	if anchorOnly < 0 {
		t.Fatal("no anchor beyond the entropy images: change the counts")
	}
	sorted := slices.Clone(paths)
	slices.Sort(sorted) // the folder's order: its sample indices
	for _, k := range []int{1, anchorOnly} {
		if err := os.WriteFile(sorted[clean.indices[k]], []byte("not an image"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts.SkipBadImages = true
	set, err := testImages(run, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Delete(slices.Clone(clean.indices), anchorOnly, anchorOnly+1)
	want = slices.Delete(want, 1, 2)
	if !slices.Equal(set.indices, want) || set.n != clean.n-1 || set.ds.N != len(want) {
		t.Fatalf("after dropping 2 bad images: indices %v (want %v), %d entropy images, %d anchors", set.indices, want, set.n, len(set.anchors))
	}
	for k, i := range set.indices {
		if !slices.Equal(set.ds.Image(k), clean.ds.Image(slices.Index(clean.indices, i))) {
			t.Errorf("image %d is not sample %d", k, i)
		}
	}
	var anchors, cleanAnchors []int
	for _, k := range set.anchors {
		anchors = append(anchors, set.indices[k])
	}
	for _, k := range clean.anchors {
		if i := clean.indices[k]; i != clean.indices[anchorOnly] && i != clean.indices[1] {
			cleanAnchors = append(cleanAnchors, i)
		}
	}
	if !slices.Equal(anchors, cleanAnchors) {
		t.Errorf("anchors of samples %v, want %v", anchors, cleanAnchors)
	}
	in, err := prepareInputs(set, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	const p = 16 * 16 * 3
	for k := range in.n {
		img, err := set.data.(*datasets.Folder).Decode(set.indices[k])
		if err != nil {
			t.Fatal(err)
		}
		v1, v2 := make([]float32, p), make([]float32, p)
		set.aug.AugmentImage(img, set.indices[k], opts.Seed^0x5eed, 0, v1, v2, set.ds.Mean, set.ds.Std)
		if !slices.Equal(in.view1[k*p:(k+1)*p], v1) || !slices.Equal(in.view2[k*p:(k+1)*p], v2) {
			t.Errorf("entropy image %d (sample %d): its views are not that sample's", k, set.indices[k])
		}
	}
}
