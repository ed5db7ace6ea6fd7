package datasets

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corruptFolder makes a labeled folder of 12 images and replaces two of them by damaged files:
// a truncated JPEG and a file that is not an image. It returns the folder and the two paths.
func corruptFolder(t *testing.T) (*Folder, []string) {
	t.Helper()
	root := t.TempDir()
	paths := makeFolder(t, root, []string{"a", "b"}, 6)
	jpg := paths[1] // img001.jpg of class a
	data, _ := os.ReadFile(jpg)
	writeFile(t, jpg, data[:len(data)/2])
	png := paths[8] // img002.png of class b
	writeFile(t, png, []byte("this is not a PNG"))
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	return f, []string{jpg, png}
}

// TestBadImagesStopWithTheirName: without SkipBadImages, the first batch holding a bad image
// fails with a *DataError that names the file (ErrBadImage, also ErrDamaged), with the batch's
// position in the message, and every later Next returns it too.
func TestBadImagesStopWithTheirName(t *testing.T) {
	f, bad := corruptFolder(t)
	aug, _ := Preset("vicreg", f)
	l, err := NewLoader(f, LoaderConfig{BatchSize: 12, Seed: 1, Workers: 2, Augmentation: aug.WithSize(16)}, Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.Next()
	var de *DataError
	if !errors.As(err, &de) || !errors.Is(err, ErrBadImage) || !errors.Is(err, ErrDamaged) || errors.Is(err, ErrUsage) {
		t.Fatalf("got %v, want a bad-image DataError", err)
	}
	if !slices.Contains(bad, de.Path) || !strings.Contains(err.Error(), de.Path) || !strings.Contains(err.Error(), "batch 0 of epoch 0") {
		t.Fatalf("error %q should name one of %v and the batch", err, bad)
	}
	if _, err2 := l.Next(); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("second Next: %v, want the same error", err2)
	}
}

// TestSkipBadImages: with SkipBadImages each bad image is replaced by the next good image of its
// batch, with the bad sample's own random numbers; the batches are the same for 1 and 4 workers
// and on resume, Batch.BadImages names the bad files, and a batch of bad images only fails.
func TestSkipBadImages(t *testing.T) {
	f, bad := corruptFolder(t)
	aug, _ := Preset("vicreg", f)
	cfg := LoaderConfig{BatchSize: 4, Seed: 5, Workers: 1, Augmentation: aug.WithSize(16), SkipBadImages: true, Logger: quietLogger()}
	one := collectN(t, f, cfg, Position{}, 6)
	cfg.Workers = 4
	four := collectN(t, f, cfg, Position{}, 6)
	sameBatches(t, "skipping, 1 and 4 workers", one, four)
	sameBatches(t, "skipping, resumed", one[4:], collectN(t, f, cfg, Position{Epoch: 1, Batch: 1}, 2))
	order := EpochOrder(12, cfg.Seed, 0)
	var named []string
	for k, b := range one[:3] {
		named = append(named, b.BadImages...)
		for i, want := range order[k*4 : (k+1)*4] {
			isBad := slices.Contains(bad, f.Path(want))
			if !isBad && int(b.Indices[i]) != want {
				t.Fatalf("batch %d slot %d: image %d, want %d", k, i, b.Indices[i], want)
			}
			if isBad {
				// The next good image of the batch (cyclically), with the bad sample's random numbers.
				j := (i + 1) % 4
				for slices.Contains(bad, f.Path(order[k*4+j])) {
					j = (j + 1) % 4
				}
				repl := order[k*4+j]
				if int(b.Indices[i]) != repl || b.Labels[i] != f.Label(repl) {
					t.Fatalf("batch %d slot %d: replaced by %d, want %d", k, i, b.Indices[i], repl)
				}
				img, _ := f.Decode(repl)
				rng := SampleRNG(cfg.Seed, 0, want)
				v1, v2 := make([]float32, 16*16*3), make([]float32, 16*16*3)
				var au augmenter
				au.pair(v1, v2, img, img.H, img.W, cfg.Augmentation.drawCrops(rng, img.H, img.W), cfg.Augmentation, 16, rng, ImageNetMean, ImageNetStd)
				if !slices.Equal(v1, b.View1[i*16*16*3:(i+1)*16*16*3]) || !slices.Equal(v2, b.View2[i*16*16*3:(i+1)*16*16*3]) {
					t.Fatalf("batch %d slot %d: the replacement is not augmented with the bad sample's random numbers", k, i)
				}
			}
		}
	}
	slices.Sort(named)
	wantNamed := slices.Clone(bad)
	slices.Sort(wantNamed)
	if !slices.Equal(named, wantNamed) {
		t.Fatalf("BadImages of epoch 0: %v, want %v", named, wantNamed)
	}
	l, _ := NewLoader(f, cfg, Position{})
	for range 3 {
		l.Next()
	}
	if l.BadImages() != 2 {
		t.Fatalf("Loader.BadImages %d after one epoch, want 2", l.BadImages())
	}
	l.Close()
	// Every image of a batch bad: an error.
	dir := t.TempDir()
	for _, n := range []string{"a.jpg", "b.jpg"} {
		writeFile(t, filepath.Join(dir, n), []byte("garbage"))
	}
	g, _ := OpenFolder(dir, "")
	l, _ = NewLoader(g, LoaderConfig{BatchSize: 2, Augmentation: aug.WithSize(8), SkipBadImages: true, Logger: quietLogger()}, Position{})
	defer l.Close()
	if _, err := l.Next(); err == nil || !strings.Contains(err.Error(), "every image is bad") || !errors.Is(err, ErrBadImage) {
		t.Fatalf("all bad: %v", err)
	}
}

// TestFileDeletedWhileTraining: a file that disappears is a named ErrDamaged error even with
// SkipBadImages (it is not a bad image: restoring it fixes the run), and once it is back, a loader
// resumed at the failed batch's position gives the batches of an uninterrupted run.
func TestFileDeletedWhileTraining(t *testing.T) {
	root := t.TempDir()
	paths := makeFolder(t, root, nil, 12)
	f, _ := OpenFolder(root, "")
	aug, _ := Preset("solo-cifar", f)
	cfg := LoaderConfig{BatchSize: 4, Seed: 2, Workers: 2, Prefetch: 1, Augmentation: aug.WithSize(12), SkipBadImages: true, Logger: quietLogger()}
	ref := collectN(t, f, cfg, Position{}, 6)
	// Delete, after two batches, an image those batches read (so it is not read early by chance)
	// that the second epoch's first batch needs again: with Prefetch 1, that batch is not started
	// before the third one is taken.
	victim := ""
	first := EpochOrder(12, cfg.Seed, 0)[:8]
	for _, idx := range EpochOrder(12, cfg.Seed, 1)[:4] {
		if slices.Contains(first, idx) {
			victim = f.Path(idx)
			break
		}
	}
	if victim == "" {
		t.Fatal("no image of epoch 0's first two batches in epoch 1's first batch: choose another seed")
	}
	data, _ := os.ReadFile(victim)
	l, _ := NewLoader(f, cfg, Position{})
	for range 2 {
		if _, err := l.Next(); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(victim)
	var err error
	var pos Position
	for range 4 {
		pos = l.Position()
		if _, err = l.Next(); err != nil {
			break
		}
	}
	l.Close()
	var de *DataError
	if !errors.As(err, &de) || de.Path != victim || !errors.Is(err, ErrDamaged) || errors.Is(err, ErrBadImage) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("deleted file: %v", err)
	}
	if pos.Epoch != 1 || pos.Batch != 0 {
		t.Fatalf("failed at %+v, want {1 0}", pos)
	}
	writeFile(t, victim, data)
	sameBatches(t, "resumed after restoring the file", ref[3:], collectN(t, f, cfg, pos, 3))
	_ = paths
}

// TestEvalSkipsBadImages: evaluation with SkipBadImages leaves bad images out, keeping the valid
// entries first (so code that reads the first Valid entries stays right); without it, Next stops
// and Err names the file.
func TestEvalSkipsBadImages(t *testing.T) {
	f, bad := corruptFolder(t)
	it, _ := NewEvalIterator(f, EvalConfig{BatchSize: 5, Size: 16, Workers: 3, SkipBadImages: true, Logger: quietLogger()})
	var got []int32
	var named []string
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		for i := range b.BatchSize {
			if (i < b.Valid) != (b.Mask[i] == 1) {
				t.Fatalf("batch %d: mask %v with %d valid", b.Position.Batch, b.Mask, b.Valid)
			}
		}
		got = append(got, b.Indices[:b.Valid]...)
		named = append(named, b.BadImages...)
	}
	if it.Err() != nil || len(got) != 10 || !slices.Equal(named, bad) {
		t.Fatalf("evaluation skipping: %v, %d images, bad %v", it.Err(), len(got), named)
	}
	it, _ = NewEvalIterator(f, EvalConfig{BatchSize: 5, Size: 16})
	for _, ok := it.Next(); ok; _, ok = it.Next() {
	}
	if err := it.Err(); err == nil || !strings.Contains(err.Error(), bad[0]) || !errors.Is(err, ErrBadImage) {
		t.Fatalf("evaluation without skipping: %v", err)
	}
}

// TestShardBadImage: a corrupt image inside a shard is named by shard and member; with
// SkipBadImages it is replaced like a folder's.
func TestShardBadImage(t *testing.T) {
	f, _ := corruptFolder(t)
	out := t.TempDir()
	paths, err := WriteShards(f, out, ShardOptions{PerShard: 6, NoShuffle: true, SkipBadImages: false})
	if err == nil || !errors.Is(err, ErrBadImage) {
		t.Fatalf("WriteShards of a folder with a non-image: %v, %v", paths, err)
	}
	paths, err = WriteShards(f, t.TempDir(), ShardOptions{PerShard: 6, NoShuffle: true, SkipBadImages: true})
	if err != nil {
		t.Fatal(err)
	}
	// The truncated JPEG has a valid header: it is in the shards, and fails when decoded.
	s, err := OpenShards(filepath.Dir(paths[0]), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 11 {
		t.Fatalf("%d samples, want 11 (the non-image left out)", s.Len())
	}
	aug, _ := Preset("vicreg", s)
	l, _ := NewLoader(s, LoaderConfig{BatchSize: 11, Augmentation: aug.WithSize(8)}, Position{})
	_, err = l.Next()
	l.Close()
	var de *DataError
	if !errors.As(err, &de) || de.Path != paths[0] || de.Member != "a/img001.jpg" || !strings.Contains(err.Error(), paths[0]+":a/img001.jpg") {
		t.Fatalf("bad image in a shard: %v", err)
	}
	l, _ = NewLoader(s, LoaderConfig{BatchSize: 11, Augmentation: aug.WithSize(8), SkipBadImages: true, Logger: quietLogger()}, Position{})
	b, err := l.Next()
	l.Close()
	if err != nil || !slices.Equal(b.BadImages, []string{paths[0] + ":a/img001.jpg"}) {
		t.Fatalf("skipping in a shard: %v %v", err, b)
	}
}

// TestVerifyFindsImagesDamagedPastTheirHeader: the header check of WriteShards lets a truncated
// JPEG through (TestShardBadImage); Folder.Verify decodes it and reports it, the non-image too,
// for any number of workers; given as ShardOptions.Bad it is a bad image: refused, or left out
// with SkipBadImages. A file that cannot be read stops Verify naming it.
func TestVerifyFindsImagesDamagedPastTheirHeader(t *testing.T) {
	f, damaged := corruptFolder(t)
	want := []string{damaged[0], damaged[1]}
	slices.Sort(want)
	for _, workers := range []int{1, 3} {
		calls := 0
		bad, err := f.Verify(workers, func(done int) {
			if calls++; done != calls {
				t.Errorf("%d workers: progress %d at call %d", workers, done, calls)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, err := range bad {
			if !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), f.Path(i)) {
				t.Errorf("image %d: %v, want a bad-image error naming %s", i, err, f.Path(i))
			}
			got = append(got, f.Path(i))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) || calls != f.Info().Len {
			t.Errorf("%d workers: bad %v after %d progress calls, want %v after %d", workers, got, calls, want, f.Info().Len)
		}
	}
	bad, _ := f.Verify(0, nil)
	onlyTruncated := map[int]error{}
	for i, err := range bad {
		if f.Path(i) == damaged[0] {
			onlyTruncated[i] = err
		}
	}
	if _, err := WriteShards(f, t.TempDir(), ShardOptions{NoShuffle: true, Bad: onlyTruncated}); !errors.Is(err, ErrBadImage) ||
		!strings.Contains(err.Error(), damaged[0]) {
		t.Errorf("WriteShards with the truncated JPEG in Bad: %v, want a bad-image error naming %s", err, damaged[0])
	}
	paths, err := WriteShards(f, t.TempDir(), ShardOptions{NoShuffle: true, SkipBadImages: true, Bad: bad})
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenShards(filepath.Dir(paths[0]), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != f.Info().Len-2 {
		t.Errorf("%d samples in the shards, want %d (both damaged files left out)", s.Len(), f.Info().Len-2)
	}

	if err := os.Remove(f.Path(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Verify(2, nil); !errors.Is(err, ErrDamaged) || errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), f.Path(3)) {
		t.Errorf("Verify with a file deleted: %v, want an error naming %s", err, f.Path(3))
	}
}

// TestSkipBadImagesOfASelectionNamesTheFile: a label subset of an image folder (Select, what
// fine-tuning on -train-percent of the labels reads) names a skipped image by its file, as the
// folder itself does, not by its position in the subset.
func TestSkipBadImagesOfASelectionNamesTheFile(t *testing.T) {
	f, bad := corruptFolder(t)
	// Every other image: the subset holds both damaged files (images 1 and 8 of the folder) at
	// positions that are not their folder indices.
	idx := []int{0, 1, 3, 5, 7, 8, 10, 11}
	sel := Select(f, idx)
	aug, _ := Preset("vicreg", f)
	var logged strings.Builder
	logger := quietLogger()
	logger.SetOutput(&logged)
	l, err := NewLoader(sel, LoaderConfig{BatchSize: 4, Seed: 3, Workers: 2, Augmentation: aug.WithSize(8), SkipBadImages: true, Logger: logger}, Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var named []string
	for range 2 {
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		named = append(named, b.BadImages...)
	}
	slices.Sort(named)
	want := slices.Clone(bad)
	slices.Sort(want)
	if !slices.Equal(named, want) {
		t.Errorf("Batch.BadImages of an epoch of the subset: %v, want the files %v", named, want)
	}
	l.Close() // the workers, which go on with the next batches and log into logged, have stopped
	for _, p := range bad {
		if !strings.Contains(logged.String(), p) {
			t.Errorf("the warnings do not name %s:\n%s", p, logged.String())
		}
	}
}

// TestSkipBadImagesInAPartialBatchOfBadImages: with KeepLastBatch an epoch's last batch can be a
// single image, and with SkipBadImages a bad one there must not stop the run (README: a bad image
// is logged, counted and replaced deterministically); the partial batch of bad images only takes
// the first good image of the full batch before it, with the bad samples' random numbers, the
// same on resume at that batch and for any number of workers. In a folder and in tar shards.
func TestSkipBadImagesInAPartialBatchOfBadImages(t *testing.T) {
	f, bad := corruptFolder(t) // 12 images, 2 bad
	aug, _ := Preset("vicreg", f)
	cfg := LoaderConfig{BatchSize: 11, KeepLastBatch: true, Seed: 1, Workers: 1, Augmentation: aug.WithSize(8), SkipBadImages: true, Logger: quietLogger()}
	epoch := -1
	for e := range 200 {
		if slices.Contains(bad, f.Path(EpochOrder(12, cfg.Seed, e)[11])) {
			epoch = e
			break
		}
	}
	if epoch < 0 {
		t.Fatal("no epoch ends with a bad image")
	}
	got := collectN(t, f, cfg, Position{Epoch: epoch}, 2)
	last := got[1]
	order := EpochOrder(12, cfg.Seed, epoch)
	j := 0
	for slices.Contains(bad, f.Path(order[j])) {
		j++
	}
	if last.BatchSize != 1 || !slices.Equal(last.BadImages, []string{f.Path(order[11])}) || last.Indices[0] != int32(order[j]) || last.Labels[0] != f.Label(order[j]) {
		t.Fatalf("the partial batch of one bad image: size %d, images %v, bad %v; want image %d in place of %s", last.BatchSize, last.Indices, last.BadImages, order[j], f.Path(order[11]))
	}
	sameBatches(t, "resumed at the partial batch of a bad image", got[1:], collectN(t, f, cfg, Position{Epoch: epoch, Batch: 1}, 1))
	cfg.Workers = 3
	sameBatches(t, "3 workers", got, collectN(t, f, cfg, Position{Epoch: epoch}, 2))

	paths, err := WriteShards(f, t.TempDir(), ShardOptions{PerShard: 6, NoShuffle: true, SkipBadImages: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenShards(filepath.Dir(paths[0]), "") // 11 samples: the truncated JPEG a/img001.jpg is one
	if err != nil {
		t.Fatal(err)
	}
	scfg := LoaderConfig{BatchSize: 10, KeepLastBatch: true, Seed: 1, Workers: 2, Augmentation: aug.WithSize(8), SkipBadImages: true, ShuffleBuffer: 4, Logger: quietLogger()}
	epoch = -1
	for e := range 200 {
		if _, o := s.epochOrder(scfg.Seed, e, scfg.ShuffleBuffer); o[10] == 1 { // a/img001.jpg, in folder order
			epoch = e
			break
		}
	}
	if epoch < 0 {
		t.Fatal("shards: no epoch ends with the bad image")
	}
	sgot := collectN(t, s, scfg, Position{Epoch: epoch}, 2)
	if b := sgot[1]; b.BatchSize != 1 || len(b.BadImages) != 1 || b.Indices[0] != sgot[0].Indices[0] {
		t.Fatalf("shards, the partial batch of one bad image: size %d, images %v, bad %v; want the first image of the batch before, %d", b.BatchSize, b.Indices, b.BadImages, sgot[0].Indices[0])
	}
	sameBatches(t, "shards resumed at the partial batch of a bad image", sgot[1:], collectN(t, s, scfg, Position{Epoch: epoch, Batch: 1}, 1))
}

// TestEvalKeysOfShards: an evaluation batch of shards names each valid image by its WebDataset
// key, the member's name less its extension as the tar holds it (read here with archive/tar), in
// the order of the rows and of their Indices; a bad image left out (SkipBadImages) takes its key
// with it. A folder's batches have no keys.
func TestEvalKeysOfShards(t *testing.T) {
	f, _ := corruptFolder(t)
	paths, err := WriteShards(f, t.TempDir(), ShardOptions{PerShard: 4, NoShuffle: true, SkipBadImages: true})
	if err != nil {
		t.Fatal(err)
	}
	var members []string // each sample's key, in the shards' order
	for _, p := range paths {
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(fh)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ext := path.Ext(hdr.Name); ext == ".jpg" || ext == ".png" {
				members = append(members, strings.TrimSuffix(hdr.Name, ext))
			}
		}
		fh.Close()
	}
	s, err := OpenShards(filepath.Dir(paths[0]), "")
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewEvalIterator(s, EvalConfig{BatchSize: 3, Size: 16, Workers: 2, SkipBadImages: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if len(b.Keys) != b.Valid {
			t.Fatalf("batch %d: %d keys for %d valid images", b.Position.Batch, len(b.Keys), b.Valid)
		}
		for i, k := range b.Keys {
			if want := members[b.Indices[i]]; k != want {
				t.Errorf("batch %d row %d (sample %d): key %q, want %q", b.Position.Batch, i, b.Indices[i], k, want)
			}
		}
		keys = append(keys, b.Keys...)
	}
	if it.Err() != nil || len(members) != 11 || len(keys) != 10 || slices.Contains(keys, "a/img001") || !slices.Contains(keys, "b/img005") {
		t.Fatalf("keys %v of the samples %v (%v); want the 10 images that decode, a/img001 (truncated) left out", keys, members, it.Err())
	}
	fit, _ := NewEvalIterator(f, EvalConfig{BatchSize: 4, Size: 16, SkipBadImages: true, Logger: quietLogger()})
	if b, ok := fit.Next(); !ok || b.Keys != nil {
		t.Errorf("a folder's evaluation batch: keys %v, want none", b.Keys)
	}
	fit.Close()
}
