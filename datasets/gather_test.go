package datasets

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Gather of a folder: the images asked for, in that order and repeated where asked, with their
// labels, the folder's classes, and the normalisation that training on the folder uses
// (ImageNet's), not statistics of the gathered pixels; only the images asked for are decoded.
func TestGatherFolder(t *testing.T) {
	root := t.TempDir()
	col := func(k int) func(x, y int) color.RGBA {
		return func(x, y int) color.RGBA { return color.RGBA{uint8(10*x + k), uint8(20 * y), uint8(40 * k), 255} }
	}
	for k, name := range []string{"cat/a.png", "cat/b.png", "dog/c.png", "dog/d.png"} {
		writePNG(t, filepath.Join(root, "train", name), 6, 4, col(k))
	}
	// A file that does not decode, never asked for: Gather must not read it.
	writeFile(t, filepath.Join(root, "train", "dog", "e.png"), []byte("not an image"))
	f, err := OpenFolder(root, SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{2, 0, 2, 3}
	var progress []int
	ds, err := Gather(f, idx, GatherConfig{Workers: 3, Progress: func(done int) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 4 || ds.Height != 4 || ds.Width != 6 || ds.Channels != 3 || ds.NumClasses != 2 || !slices.Equal(ds.ClassNames, []string{"cat", "dog"}) {
		t.Fatalf("got %d images of %dx%dx%d in classes %v", ds.N, ds.Width, ds.Height, ds.Channels, ds.ClassNames)
	}
	if !slices.Equal(ds.Labels, []int32{1, 0, 1, 1}) {
		t.Errorf("labels %v, want [1 0 1 1]", ds.Labels)
	}
	if !slices.Equal(ds.Mean, ImageNetMean) || !slices.Equal(ds.Std, ImageNetStd) {
		t.Errorf("normalisation %v %v, want ImageNet's (what a Loader over the folder uses)", ds.Mean, ds.Std)
	}
	if !slices.Equal(progress, []int{1, 2, 3}) {
		t.Errorf("progress %v, want 1, 2, 3 (three distinct images)", progress)
	}
	// PNG pixels are exact: image k of the result is file idx[k].
	for k, i := range idx {
		for y := range 4 {
			for x := range 6 {
				want := col(i)(x, y)
				got := ds.Image(k)[(y*6+x)*3:]
				if got[0] != want.R || got[1] != want.G || got[2] != want.B {
					t.Fatalf("image %d (file %d), pixel (%d, %d) = %v, want %v", k, i, x, y, got[:3], want)
				}
			}
		}
	}
	// Resized: every image square; a file already of that size is kept exact.
	ds, err = Gather(f, []int{1, 0}, GatherConfig{Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Height != 4 || ds.Width != 4 || ds.N != 2 {
		t.Fatalf("resized: %d images of %dx%d, want 2 of 4x4", ds.N, ds.Width, ds.Height)
	}
	// The centre crop at the same scale: columns 1..4 of a 6x4 image.
	if got, want := ds.Image(0)[0], col(1)(1, 0).R; got != want {
		t.Errorf("centre crop pixel %d, want %d", got, want)
	}
	if _, err := Gather(f, []int{4}, GatherConfig{}); !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), "e.png") {
		t.Errorf("a bad image: got %v, want ErrBadImage naming e.png", err)
	}
	// Skipping bad images: the others, in the order asked; the bad one reported once.
	var skipped []int
	ds, err = Gather(f, []int{4, 3, 4, 1}, GatherConfig{SkipBadImages: true, Skipped: func(i int, err error) {
		if errors.Is(err, ErrBadImage) {
			skipped = append(skipped, i)
		}
	}})
	if err != nil || ds.N != 2 || !slices.Equal(ds.Labels, []int32{1, 0}) || !slices.Equal(skipped, []int{4}) || ds.Image(1)[0] != col(1)(0, 0).R {
		t.Errorf("skipping bad images: %v; %d images, labels %v, skipped %v", err, ds.N, ds.Labels, skipped)
	}
	if ds, err = Gather(f, []int{4}, GatherConfig{SkipBadImages: true}); err != nil || ds.N != 0 {
		t.Errorf("only bad images, skipped: %v, %v", ds, err)
	}
	if _, err := Gather(f, []int{0, 5}, GatherConfig{}); err == nil || !strings.Contains(err.Error(), "gather folder: index 5 out of range [0, 5)") {
		t.Errorf("index out of range: got %v", err)
	}
	// Visit's error names Visit (it said "gather").
	if err := Visit(f, []int{0, 5}, GatherConfig{}, func(int, int32, Image) error { return nil }); err == nil || !strings.Contains(err.Error(), "visit folder: index 5 out of range [0, 5)") {
		t.Errorf("index out of range, Visit: got %v", err)
	}
	if ds, err := Gather(f, nil, GatherConfig{}); err != nil || ds.N != 0 {
		t.Errorf("no indices: %v, %v", ds, err)
	}
	if ds, err := Gather(f, nil, GatherConfig{Size: 8}); err != nil || ds.N != 0 || ds.Height != 8 || ds.Width != 8 {
		t.Errorf("no image at size 8: %v, %d images of %dx%d, want none of 8x8", err, ds.N, ds.Width, ds.Height)
	}
}

// Gather of images of mixed sizes without a size names the image that differs and the one it
// differs from.
func TestGatherMixedSizesNeedASize(t *testing.T) {
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "a.png"), 4, 4, func(x, y int) color.RGBA { return color.RGBA{} })
	writePNG(t, filepath.Join(root, "b.png"), 5, 4, func(x, y int) color.RGBA { return color.RGBA{} })
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Gather(f, []int{0, 1}, GatherConfig{})
	want := filepath.Join(root, "b.png") + ": is 5x4, want 4x4 like " + filepath.Join(root, "a.png")
	// The advice names the field to set (it said "give an image size", which a caller of Gather
	// cannot map to anything).
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "GatherConfig.Size") {
		t.Fatalf("got %v, want a usage error containing %q", err, want)
	}
	if ds, err := Gather(f, []int{0, 1}, GatherConfig{Size: 3}); err != nil || ds.Width != 3 {
		t.Fatalf("with a size: %v", err)
	}
}

// Gather of shards gives what Gather of the folder they were written from gives, reading the
// shards once, in order, up to the last sample asked for: a damaged shard after it is not read.
func TestGatherShards(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"cat", "dog"}, 11)
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	paths, err := WriteShards(f, out, ShardOptions{PerShard: 5, NoShuffle: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenShards(out, "")
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{21, 3, 3, 10, 0}
	fromShards, err := Gather(s, idx, GatherConfig{Size: 12, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	fromFolder, err := Gather(f, idx, GatherConfig{Size: 12})
	if err != nil {
		t.Fatal(err)
	}
	if fromShards.N != 5 || fromShards.Height != 12 || !slices.Equal(fromShards.Images, fromFolder.Images) ||
		!slices.Equal(fromShards.Labels, fromFolder.Labels) || !slices.Equal(fromShards.Labels, []int32{1, 0, 0, 0, 0}) {
		t.Fatalf("shards: %d images, labels %v; the folder's labels %v, images equal: %v", fromShards.N, fromShards.Labels,
			fromFolder.Labels, slices.Equal(fromShards.Images, fromFolder.Images))
	}
	if !slices.Equal(fromShards.ClassNames, []string{"cat", "dog"}) || !slices.Equal(fromShards.Mean, ImageNetMean) {
		t.Errorf("classes %v, mean %v", fromShards.ClassNames, fromShards.Mean)
	}
	// Damage the last shard (samples 20 and 21) after the shards were opened.
	last := paths[len(paths)-1]
	if err := os.Truncate(last, 700); err != nil {
		t.Fatal(err)
	}
	if ds, err := Gather(s, []int{12, 4}, GatherConfig{Size: 12}); err != nil || ds.N != 2 {
		t.Errorf("samples before the damaged shard: %v", err)
	}
	if _, err := Gather(s, []int{4, 21}, GatherConfig{Size: 12}); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), last) {
		t.Errorf("a sample of the damaged shard: got %v, want ErrDamaged naming %s", err, last)
	}
}

// Gather of an in-memory set copies the images (resizing them only when asked).
func TestGatherInMemory(t *testing.T) {
	ds := &Dataset{Name: "toy", Split: "test", N: 3, Height: 2, Width: 2, Channels: 1, NumClasses: 3,
		Images: []uint8{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23}, Labels: []int32{0, 1, 2},
		Mean: []float32{0.5}, Std: []float32{0.25}}
	got, err := Gather(ds, []int{2, 0}, GatherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Images, []uint8{20, 21, 22, 23, 0, 1, 2, 3}) || !slices.Equal(got.Labels, []int32{2, 0}) || !slices.Equal(got.Mean, ds.Mean) {
		t.Fatalf("got images %v labels %v mean %v", got.Images, got.Labels, got.Mean)
	}
	got, err = Gather(ds, []int{1}, GatherConfig{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Bilinear 2x2 -> 1x1 with antialiasing averages the four pixels: (10+11+12+13)/4 = 11.5.
	if got.Height != 1 || len(got.Images) != 1 || got.Images[0] < 11 || got.Images[0] > 12 {
		t.Fatalf("resized to 1x1: %v (%dx%d)", got.Images, got.Width, got.Height)
	}
}

// Cause is a data error's cause alone: for the log line of a skipped image, which names the file
// and must not advise the flag in use.
func TestCause(t *testing.T) {
	err := badImageErr("/x/cat.jpg", "", 3, errors.New("unexpected EOF"))
	if !strings.Contains(err.Error(), "-skip-bad-images") || !strings.Contains(err.Error(), "/x/cat.jpg") {
		t.Fatalf("the error %q: want the file and the hint", err)
	}
	if got := Cause(fmt.Errorf("step 3: %w", err)); got != "unexpected EOF" {
		t.Errorf("Cause = %q, want the cause alone", got)
	}
	if got := Cause(errors.New("plain")); got != "plain" {
		t.Errorf("Cause of another error = %q", got)
	}
}

// DataDirOf resolves a data directory as the loaders read it.
func TestDataDirOf(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("VICREG_DATA", "/cache")
	for _, tc := range []struct{ name, dir, want string }{
		{"mnist", "", "/cache"}, {"CIFAR10", "", "/cache"}, {"mnist", "~/d", filepath.Join(home, "d")},
		{"folder", "", ""}, {"shards", "~/s/{0..1}.tar", filepath.Join(home, "s/{0..1}.tar")}, {"synthetic", "/x", ""},
	} {
		if got := DataDirOf(tc.name, tc.dir); got != tc.want {
			t.Errorf("DataDirOf(%q, %q) = %q, want %q", tc.name, tc.dir, got, tc.want)
		}
	}
}

// Visit hands over each image as decoded, with its label, and AugmentImage on it gives exactly
// the views that a Loader puts in a batch for that sample, for a folder of images of many sizes
// and for its shards: what an analysis needs to measure the views training saw. An error from
// the callback stops Visit and is returned.
func TestVisitViewsAreTheLoaders(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"cat", "dog"}, 6)
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := WriteShards(f, out, ShardOptions{PerShard: 5}); err != nil {
		t.Fatal(err)
	}
	s, err := OpenShards(out, "")
	if err != nil {
		t.Fatal(err)
	}
	aug, err := Preset("vicreg", f)
	if err != nil {
		t.Fatal(err)
	}
	aug = aug.WithSize(12)
	const seed, per = 5, 12 * 12 * 3
	for _, d := range []Data{f, s} {
		info := d.Info()
		l, err := NewLoader(d, LoaderConfig{BatchSize: info.Len, Seed: seed, Workers: 2, Augmentation: aug, Logger: quietLogger()}, Position{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := l.Next()
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		row := map[int]int{} // sample index -> row of the batch
		for r, i := range b.Indices {
			row[int(i)] = r
		}
		var mu sync.Mutex
		visited := 0
		sizes := map[[2]int]bool{} // the sizes of the images handed over
		err = Visit(d, identityOrder(info.Len), GatherConfig{Workers: 3}, func(i int, label int32, img Image) error {
			v1, v2 := make([]float32, per), make([]float32, per)
			aug.AugmentImage(img, i, seed, 0, v1, v2, info.Mean, info.Std)
			mu.Lock()
			defer mu.Unlock()
			visited++
			r, ok := row[i]
			if !ok {
				return fmt.Errorf("sample %d is not in the loader's epoch", i)
			}
			sizes[[2]int{img.H, img.W}] = true
			if !slices.Equal(v1, b.View1[r*per:(r+1)*per]) || !slices.Equal(v2, b.View2[r*per:(r+1)*per]) {
				return fmt.Errorf("sample %d: the views differ from the loader's", i)
			}
			if label != b.Labels[r] {
				return fmt.Errorf("sample %d: label %d, the loader's %d", i, label, b.Labels[r])
			}
			return nil
		})
		if err != nil || visited != info.Len {
			t.Fatalf("%s: %v after %d of %d images", info.Name, err, visited, info.Len)
		}
		if len(sizes) < info.Len/2 {
			t.Errorf("%s: %d sizes among %d images, want them as decoded (makeFolder's differ)", info.Name, len(sizes), info.Len)
		}
	}
	stop := errors.New("enough")
	calls := 0
	err = Visit(f, identityOrder(f.Info().Len), GatherConfig{Workers: 1}, func(int, int32, Image) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("callback error: Visit returned %v after %d calls, want it after 1", err, calls)
	}
}

// Gather's Size is the evaluation transform's (EvalConfig.Size): its images, scaled to [0, 1],
// are exactly what an EvalIterator gives (without normalisation), the border of int(Size/0.875)
// included: a 16x8 PNG at Size 7 is cropped from its own pixels (8 = int(7/0.875), so no resize),
// at column 4.
func TestGatherSizeIsTheEvaluationTransform(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"cat", "dog"}, 5)
	col := func(x, y int) color.RGBA { return color.RGBA{uint8(9 * x), uint8(20 * y), uint8(x + y), 255} }
	writePNG(t, filepath.Join(root, "dog", "wide.png"), 16, 8, col)
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	n := f.Info().Len
	ds, err := Gather(f, identityOrder(n), GatherConfig{Size: 7, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewEvalIterator(f, EvalConfig{BatchSize: n, Size: 7, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, ok := it.Next()
	if !ok {
		t.Fatal(it.Err())
	}
	for i, v := range ds.Images {
		if got, want := float32(v)/255, b.View1[i]; got != want {
			t.Fatalf("value %d (image %d): Gather %g, the evaluation transform %g", i, i/(7*7*3), got, want)
		}
	}
	wide := slices.Index(f.files, filepath.Join(root, "dog", "wide.png"))
	if got, want := ds.Image(wide)[:3], col(4, 0); got[0] != want.R || got[1] != want.G || got[2] != want.B {
		t.Errorf("wide.png's first pixel %v, want column 4's %v", got, want)
	}
}

// Channels names the channels that opening the data set gives, for the sets made here (the
// published ones are checked where they are loaded), and 0 for an unknown name.
func TestChannelsOfFoldersShardsAndSynthetic(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"cat", "dog"}, 3)
	out := t.TempDir()
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteShards(f, out, ShardOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir string }{{"folder", root}, {"shards", out}, {"synthetic", ""}} {
		d, err := Open(tc.name, SplitTrain, Options{DataDir: tc.dir})
		if errors.Is(err, ErrNoSplit) {
			d, err = OpenFolder(tc.dir, "")
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got, want := Channels(tc.name), d.Info().Channels; got != want || want == 0 {
			t.Errorf("Channels(%q) = %d, opening it gives %d", tc.name, got, want)
		}
	}
	if Channels("imagenet") != 0 {
		t.Errorf("Channels of an unknown name: %d, want 0", Channels("imagenet"))
	}
}

// Visit's image is the callback's to keep, also from an in-memory data set at its own size (no
// resize): changing it leaves the data set as it was (it was a view of Dataset.Images).
func TestVisitImageIsACopy(t *testing.T) {
	ds := &Dataset{Name: "mem", N: 3, Height: 2, Width: 2, Channels: 1, Images: []uint8{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3},
		Mean: []float32{0.5}, Std: []float32{0.25}}
	before := slices.Clone(ds.Images)
	var mu sync.Mutex
	var kept []Image
	err := Visit(ds, []int{0, 1, 2}, GatherConfig{Workers: 2}, func(_ int, _ int32, img Image) error {
		for i := range img.Pix {
			img.Pix[i] = 99
		}
		mu.Lock()
		kept = append(kept, img)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ds.Images, before) || len(kept) != 3 {
		t.Errorf("after the callback changed its images: the data set's %v, want %v unchanged", ds.Images, before)
	}
}
