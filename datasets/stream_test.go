package datasets

import (
	"archive/tar"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
)

// makeFolder writes n images per class under root/class/ (or root/ when classes is nil), of
// mixed sizes 20..59 x 16..45 pixels, alternately PNG and JPEG, each with its own colours. It
// returns the paths in torchvision's order.
func makeFolder(t *testing.T, root string, classes []string, n int) []string {
	t.Helper()
	var paths []string
	dirs := classes
	if dirs == nil {
		dirs = []string{""}
	}
	for k, class := range dirs {
		for i := range n {
			ext := ".png"
			if i%2 == 1 {
				ext = ".jpg"
			}
			p := filepath.Join(root, class, fmt.Sprintf("img%03d%s", i, ext))
			w, h := 20+(7*i+3*k)%40, 16+(5*i+11*k)%30
			writePNG(t, p, w, h, func(x, y int) color.RGBA {
				return color.RGBA{uint8(40*k + 3*x), uint8(5*i + 4*y), uint8(x * y), 255}
			})
			paths = append(paths, p)
		}
	}
	return paths
}

func quietLogger() *log.Logger { return log.New(io.Discard) }

// collectN reads n batches from a new loader over d.
func collectN(t *testing.T, d Data, cfg LoaderConfig, start Position, n int) []*Batch {
	t.Helper()
	l, err := NewLoader(d, cfg, start)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out []*Batch
	for range n {
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func sameBatches(t *testing.T, what string, a, b []*Batch) {
	t.Helper()
	for i := range a {
		x, y := a[i], b[i]
		if x.Position != y.Position || !slices.Equal(x.Indices, y.Indices) || !slices.Equal(x.Labels, y.Labels) ||
			!slices.Equal(x.View1, y.View1) || !slices.Equal(x.View2, y.View2) || !slices.Equal(x.BadImages, y.BadImages) {
			t.Fatalf("%s: batch %d differs (positions %+v and %+v)", what, i, x.Position, y.Position)
		}
	}
}

func TestFolderListsLikeImageFolder(t *testing.T) {
	root := t.TempDir()
	// Classes sorted by name (byte order: "B" < "a"); files sorted by folder path then name,
	// recursively; hidden entries and other extensions skipped.
	for _, p := range []string{"b/z.png", "b/a.JPG", "b/sub/c.png", "b/sub-2/d.jpeg", "B/x.png", "a/1.png", "a/0.png"} {
		writePNG(t, filepath.Join(root, p), 4, 3, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	writeFile(t, filepath.Join(root, "a", "notes.txt"), []byte("x"))
	writeFile(t, filepath.Join(root, "a", ".hidden.png"), []byte("x"))
	writeFile(t, filepath.Join(root, ".DS_Store"), []byte("x"))
	// An image beside the class folders has no class: left out (as by ImageFolder), and counted.
	writePNG(t, filepath.Join(root, "loose.png"), 4, 3, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	if err := os.MkdirAll(filepath.Join(root, ".ipynb_checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	info := f.Info()
	if !slices.Equal(info.ClassNames, []string{"B", "a", "b"}) || info.NumClasses != 3 || info.Len != 7 || info.Height != 0 || info.Channels != 3 {
		t.Fatalf("info %+v", info)
	}
	var got []string
	for i := range info.Len {
		rel, _ := filepath.Rel(root, f.Path(i))
		got = append(got, fmt.Sprintf("%s=%d", filepath.ToSlash(rel), f.Label(i)))
	}
	// sorted(os.walk(...)) visits b, b/sub, b/sub-2 in string order: "b/sub" < "b/sub-2".
	want := []string{"B/x.png=0", "a/0.png=1", "a/1.png=1", "b/a.JPG=2", "b/z.png=2", "b/sub/c.png=2", "b/sub-2/d.jpeg=2"}
	if !slices.Equal(got, want) {
		t.Fatalf("order\n got %v\nwant %v", got, want)
	}
	if f.Ignored() != 2 || !slices.Equal(info.Mean, ImageNetMean) || !slices.Equal(info.Std, ImageNetStd) {
		t.Fatalf("ignored %d, mean %v std %v", f.Ignored(), info.Mean, info.Std)
	}
	// The same order as torchvision's ImageFolder, when it is installed, told to skip hidden names
	// as ours does (the README's one difference; ImageFolder itself takes .ipynb_checkpoints for a
	// class and refuses it as empty, so that this comparison never ran).
	if testing.Short() {
		return
	}
	script := `import os, sys
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension
root = sys.argv[1]
class Visible(ImageFolder):
    def find_classes(self, d):
        classes = sorted(e.name for e in os.scandir(d) if e.is_dir() and not e.name.startswith("."))
        return classes, {c: i for i, c in enumerate(classes)}
def valid(p):
    return has_file_allowed_extension(p, IMG_EXTENSIONS) and not any(s.startswith(".") for s in os.path.relpath(p, root).split(os.sep))
d = Visible(root, is_valid_file=valid)
print(d.classes)
for p, c in d.samples: print(p, c)
`
	if out, err := runPython(t, script, root); err == nil {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var tv []string
		for _, line := range lines[1:] {
			p, c, _ := strings.Cut(line, " ")
			rel, _ := filepath.Rel(root, p)
			tv = append(tv, filepath.ToSlash(rel)+"="+c)
		}
		if !slices.Equal(tv, want) || lines[0] != "['B', 'a', 'b']" {
			t.Fatalf("torchvision's ImageFolder: %s %v, ours %v", lines[0], tv, want)
		}
	}
}

// runPython runs a script with Debian's /usr/bin/python3 (torchvision, PIL); an error means it is
// not available.
func runPython(t *testing.T, script string, args ...string) (string, error) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		return "", err
	}
	out, err := execOutput(py, append([]string{"-c", script}, args...)...)
	if err != nil {
		t.Logf("python reference not available: %v", err)
	}
	return out, err
}

func TestFolderSplitsAndErrors(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, filepath.Join(root, "train"), []string{"cat", "dog"}, 3)
	makeFolder(t, filepath.Join(root, "val"), []string{"cat", "dog"}, 2)
	tr, err := OpenFolder(root, SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	te, err := OpenFolder(root, SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Info().Len != 6 || te.Info().Len != 4 || te.Dir() != filepath.Join(root, "val") || !slices.Equal(te.Info().ClassNames, tr.Info().ClassNames) {
		t.Fatalf("splits: train %d in %s, test %d in %s", tr.Info().Len, tr.Dir(), te.Info().Len, te.Dir())
	}
	// Bad arguments are ErrUsage errors naming the path; damaged data ErrDamaged.
	empty := t.TempDir()
	emptyClass := t.TempDir()
	makeFolder(t, emptyClass, []string{"a"}, 1)
	os.MkdirAll(filepath.Join(emptyClass, "b"), 0o755)
	other := t.TempDir()
	makeFolder(t, filepath.Join(other, "train"), []string{"a"}, 1)
	makeFolder(t, filepath.Join(other, "val"), []string{"b"}, 1)
	onlyTrain := t.TempDir()
	makeFolder(t, filepath.Join(onlyTrain, "train"), []string{"a"}, 1)
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, []byte("x"))
	shardDir := t.TempDir()
	writeFile(t, filepath.Join(shardDir, "shard-000000.tar"), []byte("x"))
	for _, tc := range []struct {
		name, root, split, want string
		kind                    error
	}{
		{"missing", filepath.Join(empty, "nope"), "", filepath.Join(empty, "nope"), ErrUsage},
		{"a file", file, "", file + ": not a folder", ErrUsage},
		{"empty", empty, "", empty + ": no .jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, .tiff, .webp, .heic, .heif or .avif images", ErrUsage},
		{"empty class", emptyClass, "", filepath.Join(emptyClass, "b") + ": class folder without", ErrUsage},
		{"other classes", other, SplitTest, "classes [b] are not among those of " + filepath.Join(other, "train"), ErrUsage},
		{"no test split", onlyTrain, SplitTest, "holds a train/ folder but no folder for the test split", ErrNoSplit},
		{"nothing given", "", "", "no image folder given", ErrUsage},
		{"shards", shardDir, "", shardDir + ": no .jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, .tiff, .webp, .heic, .heif or .avif images (it holds .tar files: read WebDataset shards as shards (-dataset shards))", ErrUsage},
	} {
		_, err := OpenFolder(tc.root, tc.split)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.kind) {
			t.Errorf("%s: got %v, want an error (%v) containing %q", tc.name, err, tc.kind, tc.want)
		}
	}
}

func TestFolderLoaderMixedSizes(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"cat", "dog", "owl"}, 7)
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	aug, _ := Preset("vicreg", f)
	if aug.View1.Size != 224 {
		t.Fatalf("vicreg on a folder: size %d, want 224", aug.View1.Size)
	}
	aug = aug.WithSize(24)
	cfg := LoaderConfig{BatchSize: 5, Seed: 3, Augmentation: aug, Logger: quietLogger()}
	// Same batches for 1 and 4 workers.
	cfg.Workers = 1
	one := collectN(t, f, cfg, Position{}, 6)
	cfg.Workers = 4
	four := collectN(t, f, cfg, Position{}, 6)
	sameBatches(t, "1 and 4 workers", one, four)
	// 21 images, batch 5: 4 batches per epoch; labels follow the files.
	seen := map[int32]bool{}
	for i, b := range one {
		if want := (Position{Epoch: i / 4, Batch: i % 4}); b.Position != want || !slices.Equal(b.Dims(), []int{5, 24, 24, 3}) {
			t.Fatalf("batch %d: %+v dims %v", i, b.Position, b.Dims())
		}
		for k, idx := range b.Indices {
			if b.Labels[k] != f.Label(int(idx)) {
				t.Fatalf("label of %d: %d, want %d", idx, b.Labels[k], f.Label(int(idx)))
			}
			if b.Position.Epoch == 0 {
				if seen[idx] {
					t.Fatalf("image %d twice in epoch 0", idx)
				}
				seen[idx] = true
			}
		}
		if slices.Equal(b.View1, b.View2) {
			t.Fatalf("batch %d: equal views", i)
		}
	}
	// Exact resume from a stored position.
	cfg.Workers = 2
	resumed := collectN(t, f, cfg, Position{Epoch: 1, Batch: 1}, 1)
	sameBatches(t, "resume at {1 1}", one[5:6], resumed)
	// A view equals the same augmentation applied to the decoded image by hand.
	img, _ := f.Decode(int(one[0].Indices[0]))
	rng := SampleRNG(cfg.Seed, 0, int(one[0].Indices[0]))
	want1, want2 := make([]float32, 24*24*3), make([]float32, 24*24*3)
	var au augmenter
	au.pair(want1, want2, img, img.H, img.W, aug.drawCrops(rng, img.H, img.W), aug, 24, rng, ImageNetMean, ImageNetStd)
	if !slices.Equal(want1, one[0].View1[:24*24*3]) || !slices.Equal(want2, one[0].View2[:24*24*3]) {
		t.Fatal("the loader's views differ from the augmentation applied to the decoded image")
	}
}

// TestLoaderCloseUnblocksNext is the defect of issue 15: Close left Next blocked on a batch no
// worker would finish, or returning a batch made before Close. After Close, Next must return
// ErrLoaderClosed at once, also when it was already waiting, and every goroutine must end.
func TestLoaderCloseUnblocksNext(t *testing.T) {
	ds := smallSet(t, 64)
	aug, _ := Preset("vicreg", ds)
	before := runtime.NumGoroutine()
	for trial := range 20 {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: 8, Seed: 1, Workers: 3, Prefetch: 2, Augmentation: aug}, Position{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Next(); err != nil {
			t.Fatal(err)
		}
		if trial%2 == 0 {
			time.Sleep(5 * time.Millisecond) // let the workers queue finished batches
		}
		l.Close()
		done := make(chan error, 1)
		go func() {
			b, err := l.Next()
			if b != nil {
				err = fmt.Errorf("Next returned batch %+v after Close", b.Position)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrLoaderClosed) {
				t.Fatalf("trial %d: Next after Close: %v, want ErrLoaderClosed", trial, err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("trial %d: Next after Close is blocked", trial)
		}
		l.Close() // twice is fine
	}
	// A Next already waiting (on a slow source) returns when Close is called.
	slow := &slowSource{Dataset: ds, delay: 200 * time.Millisecond}
	l, err := NewLoader(slow, LoaderConfig{BatchSize: 8, Seed: 1, Workers: 1, Augmentation: aug}, Position{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Next()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLoaderClosed) {
			t.Fatalf("waiting Next after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting Next stays blocked after Close")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after closing every loader, %d before", n, before)
	}
}

// slowSource is a Source whose Decode takes delay.
type slowSource struct {
	*Dataset
	delay time.Duration
}

func (s *slowSource) Decode(i int) (Image, error) {
	time.Sleep(s.delay)
	return s.Dataset.Decode(i)
}

// shardsOf writes folder root as shards into a new folder and opens them.
func shardsOf(t *testing.T, root string, perShard int) (*Folder, *Shards, []string) {
	t.Helper()
	f, err := OpenFolder(root, "")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	paths, err := WriteShards(f, out, ShardOptions{PerShard: perShard, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenShards(out, "")
	if err != nil {
		t.Fatal(err)
	}
	return f, s, paths
}

// readShard returns every sample of the shard at path, with its bytes.
func readShard(t *testing.T, path string) []shardSample {
	t.Helper()
	r, err := openShard(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	var out []shardSample
	for {
		smp, err := r.next(true)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, smp)
	}
}

// TestShardsRoundTrip: folder -> WriteShards -> OpenShards gives the same samples (the same
// bytes, hence pixels) and labels, the class names, and the sample count; WriteShards is
// deterministic; evaluation over the shards sees every sample once, in shard order.
func TestShardsRoundTrip(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"cat", "dog"}, 11)
	f, s, paths := shardsOf(t, root, 5)
	if len(paths) != 5 || s.Len() != 22 || !slices.Equal(s.Info().ClassNames, []string{"cat", "dog"}) {
		t.Fatalf("%d shards, %d samples, classes %v", len(paths), s.Len(), s.Info().ClassNames)
	}
	if p := ShardPattern(paths); p != filepath.Join(filepath.Dir(paths[0]), "shard-{000000..000004}.tar") {
		t.Fatalf("pattern %s", p)
	}
	bykey := map[string]int{}
	for i := range f.Info().Len {
		bykey[ShardKey(f.Dir(), f.Path(i))] = i
	}
	seen := map[int]bool{}
	for _, p := range paths {
		for _, smp := range readShard(t, p) {
			i, ok := bykey[smp.key]
			if !ok || seen[i] {
				t.Fatalf("sample %s: unknown or repeated", smp.key)
			}
			seen[i] = true
			want, _ := os.ReadFile(f.Path(i))
			if !bytes.Equal(smp.data, want) || smp.label != f.Label(i) || filepath.Ext(smp.member) != strings.ToLower(filepath.Ext(f.Path(i))) {
				t.Fatalf("sample %s: %d bytes label %d, want %d bytes label %d", smp.key, len(smp.data), smp.label, len(want), f.Label(i))
			}
		}
	}
	if len(seen) != 22 {
		t.Fatalf("%d samples in the shards, want 22", len(seen))
	}
	// Deterministic bytes.
	again := t.TempDir()
	paths2, err := WriteShards(f, again, ShardOptions{PerShard: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range paths {
		a, _ := os.ReadFile(paths[i])
		b, _ := os.ReadFile(paths2[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("shard %d differs between two writes", i)
		}
	}
	// Evaluation: every sample once, labels right, views equal to the folder's for the same image.
	it, err := NewEvalIterator(s, EvalConfig{BatchSize: 4, Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	fit, err := NewEvalIterator(f, EvalConfig{BatchSize: 1, Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	folderViews := map[int][]float32{}
	for b, ok := fit.Next(); ok; b, ok = fit.Next() {
		folderViews[int(b.Indices[0])] = b.View1
	}
	count := 0
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		for k := range b.Valid {
			g := int(b.Indices[k])
			if g != count {
				t.Fatalf("evaluation order: index %d at %d", g, count)
			}
			count++
		}
	}
	if it.Err() != nil || count != 22 {
		t.Fatalf("evaluation over shards: %d samples, err %v", count, it.Err())
	}
	_ = folderViews
}

func TestShardsLoaderResumeWorkersAndMemory(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"a", "b", "c"}, 10)
	_, s, paths := shardsOf(t, root, 4) // 30 samples in 8 shards
	// The label of each sample, by its global index.
	var labels []int32
	for _, p := range paths {
		for _, smp := range readShard(t, p) {
			labels = append(labels, smp.label)
		}
	}
	aug, _ := Preset("solo-cifar", s)
	aug = aug.WithSize(16)
	cfg := LoaderConfig{BatchSize: 7, Seed: 9, Augmentation: aug, ShuffleBuffer: 5, Workers: 1}
	one := collectN(t, s, cfg, Position{}, 9) // 4 batches per epoch: into the third epoch
	cfg.Workers = 4
	four := collectN(t, s, cfg, Position{}, 9)
	sameBatches(t, "shards, 1 and 4 workers", one, four)
	for _, start := range []Position{{Epoch: 0, Batch: 3}, {Epoch: 1}, {Epoch: 1, Batch: 2}} {
		k := start.Epoch*4 + start.Batch
		sameBatches(t, fmt.Sprintf("shards resumed at %+v", start), one[k:k+2], collectN(t, s, cfg, start, 2))
	}
	// Each epoch visits 28 distinct samples (2 dropped), in another order than the previous one,
	// and the order is the one epochOrder computes.
	for e := range 2 {
		_, order := s.epochOrder(cfg.Seed, e, 5)
		seen := map[int32]bool{}
		for k := range 4 {
			b := one[e*4+k]
			if !slices.Equal(b.Indices, order[k*7:(k+1)*7]) {
				t.Fatalf("epoch %d batch %d: %v, want %v", e, k, b.Indices, order[k*7:(k+1)*7])
			}
			for i, g := range b.Indices {
				if seen[g] || b.Labels[i] != labels[g] || labels[g] < 0 {
					t.Fatalf("epoch %d: sample %d repeated or mislabeled", e, g)
				}
				seen[g] = true
			}
		}
	}
	if slices.Equal(one[0].Indices, one[4].Indices) {
		t.Fatal("epochs 0 and 1 start alike")
	}
	// The reader never holds more samples than the shuffle buffer.
	l, err := NewLoader(s, cfg, Position{})
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		if _, err := l.Next(); err != nil {
			t.Fatal(err)
		}
	}
	held := l.maxHeld.Load()
	l.Close()
	if held < 1 || held > 5 {
		t.Fatalf("the shard reader held %d samples at once, want 1..5 (the shuffle buffer)", held)
	}
}

// TestShuffleBufferOrder: a buffer of one keeps the file order within shards; a buffer of the
// whole set gives any permutation; every order is a permutation.
func TestShuffleBufferOrder(t *testing.T) {
	s := &Shards{paths: []string{"a", "b", "c"}, counts: []int{4, 4, 4}, starts: []int{0, 4, 8}}
	shardOrder, order := s.epochOrder(1, 0, 1)
	var want []int32
	for _, sh := range shardOrder {
		for g := s.starts[sh]; g < s.starts[sh]+4; g++ {
			want = append(want, int32(g))
		}
	}
	if !slices.Equal(order, want) {
		t.Fatalf("buffer 1: %v, want %v", order, want)
	}
	for _, buf := range []int{1, 3, 12, 100} {
		_, o := s.epochOrder(7, 3, buf)
		sorted := slices.Clone(o)
		slices.Sort(sorted)
		for i, g := range sorted {
			if g != int32(i) {
				t.Fatalf("buffer %d: %v is not a permutation", buf, o)
			}
		}
		_, o2 := s.epochOrder(7, 3, buf)
		if !slices.Equal(o, o2) {
			t.Fatalf("buffer %d: not deterministic", buf)
		}
	}
}

func TestShardsErrors(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"a"}, 4)
	_, _, paths := shardsOf(t, root, 2)
	dir := filepath.Dir(paths[0])
	whole, _ := os.ReadFile(paths[0])
	truncated := filepath.Join(t.TempDir(), "truncated.tar")
	writeFile(t, truncated, whole[:len(whole)/2+100])
	noImage := filepath.Join(t.TempDir(), "noimage.tar")
	writeTar(t, noImage, map[string][]byte{"k1.jpg": whole[:10], "k2.cls": []byte("1")}, []string{"k1.jpg", "k2.cls"})
	mixed := t.TempDir()
	writeTar(t, filepath.Join(mixed, "a.tar"), map[string][]byte{"k1.png": {1}, "k1.cls": []byte("0")}, []string{"k1.png", "k1.cls"})
	writeTar(t, filepath.Join(mixed, "b.tar"), map[string][]byte{"k2.png": {1}}, []string{"k2.png"})
	for _, tc := range []struct {
		name, pattern, want string
		kind                error
	}{
		{"missing folder", filepath.Join(dir, "nope"), filepath.Join(dir, "nope"), ErrUsage},
		{"empty folder", t.TempDir(), "no .tar shards (give a folder of .tar shards", ErrUsage},
		{"an image folder", root, "no .tar shards (it holds images or folders, not shards: read it as an image folder (-dataset folder)", ErrUsage},
		{"missing shard", filepath.Join(dir, "shard-{000000..000003}.tar"), "2 of its 4 shards are missing, first " + filepath.Join(dir, "shard-000002.tar"), ErrUsage},
		{"bad pattern", filepath.Join(dir, "shard-{3..1}.tar"), "must be {FIRST..LAST}", ErrUsage},
		{"truncated", truncated, truncated, ErrDamaged},
		{"sample without image", noImage, noImage + ":k2: sample without an image member (.jpg, .jpeg, .png", ErrDamaged},
		{"labels on some shards only", mixed, filepath.Join(mixed, "b.tar") + ":k2: sample without a .cls member, while", ErrDamaged},
	} {
		_, err := OpenShards(tc.pattern, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.kind) {
			t.Errorf("%s: got %v, want an error (%v) containing %q", tc.name, err, tc.kind, tc.want)
		}
	}
	// Brace patterns name exactly the shards.
	s, err := OpenShards(filepath.Join(dir, "shard-{000000..000001}.tar"), "")
	if err != nil || s.Len() != 4 {
		t.Fatalf("pattern: %v, %d samples", err, s.Len())
	}
	got, _ := ExpandPattern("x-{0..2}-{a,b}.tar")
	if want := []string{"x-0-a.tar", "x-0-b.tar", "x-1-a.tar", "x-1-b.tar", "x-2-a.tar", "x-2-b.tar"}; !slices.Equal(got, want) {
		t.Fatalf("ExpandPattern: %v", got)
	}
	if got, _ := ExpandPattern("t-{008..011}.tar"); !slices.Equal(got, []string{"t-008.tar", "t-009.tar", "t-010.tar", "t-011.tar"}) {
		t.Fatalf("ExpandPattern zero padding: %v", got)
	}
}

// writeTar writes a tar file with the members in the given order.
func writeTar(t *testing.T, path string, files map[string][]byte, order []string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range order {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[name])
	}
	tw.Close()
	writeFile(t, path, buf.Bytes())
}

// TestLoaderMemoryBound: whatever the data set's size, a loader holds at most Prefetch+1 batches
// (allocated and not yet handed over) and at most one decoded image per worker, also when the
// consumer is slow.
func TestLoaderMemoryBound(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, nil, 60)
	f, _ := OpenFolder(root, "")
	aug, _ := Preset("vicreg", f)
	const workers, prefetch = 3, 2
	l, err := NewLoader(f, LoaderConfig{BatchSize: 6, Seed: 1, Workers: workers, Prefetch: prefetch, Augmentation: aug.WithSize(16)}, Position{})
	if err != nil {
		t.Fatal(err)
	}
	for range 12 {
		if _, err := l.Next(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // a slow consumer: the workers run ahead as far as allowed
	}
	l.Close()
	if b, d := l.maxBatch.Load(), l.maxLive.Load(); b > prefetch+1 || d > workers || d < 1 {
		t.Fatalf("at most %d batches and %d decoded images alive at once, want <= %d and 1..%d", b, d, prefetch+1, workers)
	}
	// The default prefetch keeps large batches under about 1 GiB.
	l, _ = NewLoader(f, LoaderConfig{BatchSize: 60, Workers: 16, Augmentation: aug}, Position{})
	l.Close()
	// Two views of 60 images of 224 x 224 x 3 float32: 72 MB a batch, 14 of them in 1 GiB (< 2*16).
	if got := l.cfg.Prefetch; got != 14 {
		t.Fatalf("default prefetch for batches of 60 two-view 224 px images and 16 workers: %d, want 14", got)
	}
}

// OpenTest opens a real held-out split, and refuses a "test" split that is the training images
// again (a folder, or shards, without split folders; shards named by a pattern) with an ErrNoSplit
// error that is also a usage error.
func TestOpenTest(t *testing.T) {
	split := t.TempDir()
	makeFolder(t, filepath.Join(split, "train"), []string{"a", "b"}, 2)
	makeFolder(t, filepath.Join(split, "val"), []string{"a", "b"}, 2)
	flat := t.TempDir()
	makeFolder(t, flat, []string{"a", "b"}, 2)
	shards := t.TempDir()
	for _, s := range []string{"train", "val"} {
		f, err := OpenFolder(filepath.Join(split, s), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := WriteShards(f, filepath.Join(shards, s), ShardOptions{PerShard: 2, Prefix: s}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, dataset, dir string
		same               bool
	}{
		{"folder with train/ and val/", "folder", split, false},
		{"folder of class folders only", "folder", flat, true},
		{"shards with train/ and val/", "shards", shards, false},
		{"shards by pattern", "shards", filepath.Join(shards, "train", "train-{000000..000001}.tar"), true},
		{"shards folder without splits", "shards", filepath.Join(shards, "train"), true},
	} {
		test, err := OpenTest(tc.dataset, Options{DataDir: tc.dir})
		switch {
		case tc.same && (!errors.Is(err, ErrNoSplit) || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "no held-out images")):
			t.Errorf("%s: OpenTest: %v, want a usage error saying there are no held-out images", tc.name, err)
		case !tc.same && (err != nil || test.Info().Len != 4 || test.Info().Split != SplitTest):
			t.Errorf("%s: OpenTest: %v, want the 4 images of val/", tc.name, err)
		}
	}
}

// TestShardsSplitClasses: shards whose val/ classes.txt lists other classes than train/'s (as an
// older mkshards wrote them, numbering each split's class folders on its own) are refused for the
// test split, since a label would name another class in each split; the train split still opens.
func TestShardsSplitClasses(t *testing.T) {
	images, shards := t.TempDir(), t.TempDir()
	makeFolder(t, filepath.Join(images, "train"), []string{"bird", "cat", "dog"}, 1)
	makeFolder(t, filepath.Join(images, "val"), []string{"bird", "dog"}, 1)
	for _, s := range []string{"train", "val"} {
		f, err := OpenFolder(filepath.Join(images, s), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := WriteShards(f, filepath.Join(shards, s), ShardOptions{PerShard: 2, Prefix: s}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenShards(shards, SplitTrain); err != nil {
		t.Fatalf("train split: %v", err)
	}
	_, err := OpenShards(shards, SplitTest)
	want := "classes [bird dog] (classes.txt) differ from those of " + filepath.Join(shards, "train", "classes.txt") + " ([bird cat dog])"
	if !errors.Is(err, ErrUsage) || err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "mkshards") {
		t.Fatalf("test split: got %v, want a usage error containing %q and naming mkshards", err, want)
	}
}

// TestShardsNamedForSplits: a folder of shards without split folders, named for their splits as
// timm's ImageNet shards are (NAME-train-0000.tar beside NAME-validation-0000.tar), reads the
// train-named ones for training and the validation-named ones for the held-out split; shards
// named for no split beside them, or a split that none is named for, are refused, naming them.
// Shards named for none, or all for one split, are every split, as before.
func TestShardsNamedForSplits(t *testing.T) {
	for name, want := range map[string]string{
		"imagenet1k-train-0000.tar": "train", "imagenet1k-validation-00.tar": "val", "x_VAL_1.tar": "val", "cats.test.tar": "test",
		"valid-3.tar.gz": "val", "testing-0.tgz": "test", "training.tar": "train",
		"shard-000000.tar": "", "mytest-000.tar": "", "trainset-0.tar": "", "train-val-000.tar": "",
	} {
		if got := shardSplit(name); got != want {
			t.Errorf("shardSplit(%q) = %q, want %q", name, got, want)
		}
	}

	images, flat := t.TempDir(), t.TempDir()
	makeFolder(t, filepath.Join(images, "train"), []string{"cat", "dog"}, 2)
	makeFolder(t, filepath.Join(images, "val"), []string{"cat", "dog"}, 1)
	for split, prefix := range map[string]string{"train": "imagenet1k-train", "val": "imagenet1k-validation"} {
		f, err := OpenFolder(filepath.Join(images, split), "")
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), split)
		paths, err := WriteShards(f, out, ShardOptions{PerShard: 2, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range append(paths, filepath.Join(out, "classes.txt")) {
			if err := os.Rename(p, filepath.Join(flat, filepath.Base(p))); err != nil {
				t.Fatal(err)
			}
		}
	}
	train, err := OpenShards(flat, SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	held, err := OpenShards(flat, SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	base := func(paths []string) (names []string) {
		for _, p := range paths {
			names = append(names, filepath.Base(p))
		}
		return names
	}
	if got := base(train.Paths()); !slices.Equal(got, []string{"imagenet1k-train-000000.tar", "imagenet1k-train-000001.tar"}) || train.Info().Len != 4 {
		t.Errorf("train split: %d images in %v; want 4 in the two train shards", train.Info().Len, got)
	}
	if got := base(held.Paths()); !slices.Equal(got, []string{"imagenet1k-validation-000000.tar"}) || held.Info().Len != 2 {
		t.Errorf("held-out split: %d images in %v; want 2 in the validation shard", held.Info().Len, got)
	}
	if !HasHeldOut("shards", Options{DataDir: flat}) {
		t.Error("HasHeldOut: false, want true")
	}
	if _, err := Open("shards", SplitTest, Options{DataDir: flat, TestSplit: "test"}); !errors.Is(err, ErrNoSplit) ||
		!strings.Contains(err.Error(), "names its shards for their splits (2 train (imagenet1k-train-000000.tar), 1 val (imagenet1k-validation-000000.tar)), and none for the "+splitTestOnly+" split (want test in a name, as in NAME-test-0000.tar)") {
		t.Errorf("-test-split test, without test shards: %v", err)
	}

	// A pattern of both splits' shards is refused; of one split's, read.
	for _, pattern := range []string{filepath.Join(flat, "imagenet1k-*.tar"), filepath.Join(flat, "imagenet1k-{train-000000,validation-000000}.tar")} {
		if _, err := OpenShards(pattern, SplitTrain); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "names the shards of different splits (1 train (imagenet1k-train-000000.tar), 1 val") &&
			!strings.Contains(err.Error(), "names the shards of different splits (2 train (imagenet1k-train-000000.tar), 1 val (imagenet1k-validation-000000.tar)): training on them would train on the held-out ones") {
			t.Errorf("%s: %v, want it refused as mixing the splits", pattern, err)
		}
	}
	if s, err := OpenShards(filepath.Join(flat, "imagenet1k-train-*.tar"), SplitTrain); err != nil || s.Info().Len != 4 {
		t.Errorf("the train shards' pattern: %v", err)
	}

	// No split in particular (mkshards -index): one index would mix them.
	if _, err := ScanShards(flat, ShardLabel{}, nil); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "all of them would mix the splits") ||
		!strings.Contains(err.Error(), "give one split's shards by a pattern, such as "+filepath.Join(flat, "imagenet1k-train-*.tar")) {
		t.Errorf("the shards of no split in particular: %v", err)
	}

	// Only validation shards (a folder of mkshards' val/, say): they are every split, as shards
	// named for no split are; there are no held-out images.
	valOnly := t.TempDir()
	for _, p := range held.Paths() {
		if err := os.Link(p, filepath.Join(valOnly, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := OpenShards(valOnly, SplitTrain); err != nil || s.Info().Len != 2 {
		t.Errorf("validation shards alone, the train split: %v; want their 2 images", err)
	}
	if _, err := OpenTest("shards", Options{DataDir: valOnly}); !errors.Is(err, ErrNoSplit) || !strings.Contains(err.Error(), "no held-out images") {
		t.Errorf("validation shards alone, OpenTest: %v; want no held-out images", err)
	}
	// A train shard beside them: two splits again.
	if err := os.Link(train.Paths()[0], filepath.Join(valOnly, "imagenet1k-train-000000.tar")); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenShards(valOnly, SplitTrain); err != nil || len(s.Paths()) != 1 || s.Info().Len != 2 {
		t.Errorf("a train shard beside the validation shards, the train split: %v; want its 2 images", err)
	}

	// A shard named for no split beside them.
	writeFile(t, filepath.Join(flat, "extra-000000.tar"), nil)
	for _, split := range []string{SplitTrain, SplitTest} {
		if _, err := OpenShards(flat, split); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "and 1 named for none (extra-000000.tar)") {
			t.Errorf("%s split, with a shard named for no split: %v", split, err)
		}
	}
}

// TestShardsValPercent: -val-percent on shards holds out whole shards, round(P% of them), those
// whose names hash lowest: the train split is the others; the same by an index; a larger
// percentage holds out a superset; a val/ folder is then not read; a percentage that holds out
// none, or all, is refused.
func TestShardsValPercent(t *testing.T) {
	images, flat := t.TempDir(), t.TempDir()
	makeFolder(t, images, []string{"a", "b"}, 10)
	f, err := OpenFolder(images, "")
	if err != nil {
		t.Fatal(err)
	}
	paths, err := WriteShards(f, flat, ShardOptions{PerShard: 2})
	if err != nil || len(paths) != 10 {
		t.Fatalf("%d shards written: %v", len(paths), err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	lowest := func(k int) []string { // the k names that hash lowest
		sorted := slices.Clone(names)
		slices.SortFunc(sorted, func(a, b string) int { return cmp.Compare(nameKey(a), nameKey(b)) })
		out := sorted[:k]
		slices.Sort(out)
		return out
	}
	open := func(dir, split string, percent float64) []string {
		t.Helper()
		d, err := Open("shards", split, Options{DataDir: dir, ValPercent: percent})
		if err != nil {
			t.Fatalf("%s, %s split, -val-percent %g: %v", dir, split, percent, err)
		}
		s := d.(*Shards)
		var got []string
		n := 0
		for i, p := range s.Paths() {
			got = append(got, filepath.Base(p))
			n += s.counts[i]
		}
		if n != s.Info().Len || n != 2*len(got) {
			t.Errorf("%s split: %d images in %d shards, Info says %d", split, n, len(got), s.Info().Len)
		}
		return got
	}
	test, train := open(flat, SplitTest, 20), open(flat, SplitTrain, 20)
	if !slices.Equal(test, lowest(2)) || len(train) != 8 || slices.ContainsFunc(train, func(n string) bool { return slices.Contains(test, n) }) {
		t.Errorf("-val-percent 20 of 10 shards: test %v, train %v; want test %v, train the other 8", test, train, lowest(2))
	}
	if got := open(flat, SplitTest, 30); !slices.Equal(got, lowest(3)) {
		t.Errorf("-val-percent 30: test %v, want %v (a superset of 20's)", got, lowest(3))
	}
	if got := open(filepath.Join(flat, "index.json"), SplitTest, 20); !slices.Equal(got, test) {
		t.Errorf("by the index: test %v, want %v", got, test)
	}
	if !HasHeldOut("shards", Options{DataDir: flat, ValPercent: 20}) || HasHeldOut("shards", Options{DataDir: flat}) {
		t.Error("HasHeldOut: want true with -val-percent, false without")
	}

	// Beside a val/ folder, the train/ folder's shards are divided and val/ is not read.
	split := t.TempDir()
	if err := os.Rename(flat, filepath.Join(split, "train")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(split, "val", "shard-000000.tar"), nil) // not a shard: read, it would fail
	if got := open(split, SplitTest, 20); !slices.Equal(got, test) {
		t.Errorf("with train/ and val/: test %v, want train/'s %v", got, test)
	}

	for percent, want := range map[float64]string{4: "-val-percent 4 holds out whole shards, and 4% of the 10 shards is none of them", 100: "want a percentage in (0, 100)"} {
		if _, err := Open("shards", SplitTest, Options{DataDir: split, ValPercent: percent}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("-val-percent %g: %v, want %q", percent, err, want)
		}
	}
	if got := open(split, SplitTrain, 99); len(got) != 1 {
		t.Errorf("-val-percent 99 of 10 shards: %d train shards, want 1 (all but one held out)", len(got))
	}
}

// TestShardsImages: Shards.Images decodes the samples at positions of the split's order, each as
// the folder the shards were written from (in its order) decodes it, reading only the shards that
// hold them; a position outside the split, and a shard with fewer samples than counted, are errors.
func TestShardsImages(t *testing.T) {
	images, dir := t.TempDir(), t.TempDir()
	makeFolder(t, images, []string{"a", "b"}, 5)
	f, err := OpenFolder(images, "")
	if err != nil {
		t.Fatal(err)
	}
	paths, err := WriteShards(f, dir, ShardOptions{PerShard: 3, NoShuffle: true})
	if err != nil || len(paths) != 4 {
		t.Fatalf("%d shards: %v", len(paths), err)
	}
	s, err := OpenShards(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []int{7, 1, 2}
	// The third and fourth shards hold no wanted sample after the third one's 7th: the fourth is
	// not read (a file that is no tar would fail).
	if err := os.WriteFile(paths[3], []byte("not a tar file"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := s.Images(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d images, want 3", len(got))
	}
	for _, i := range want {
		ref, err := f.Decode(i)
		if err != nil {
			t.Fatal(err)
		}
		if img := got[i]; img.H != ref.H || img.W != ref.W || !bytes.Equal(img.Pix, ref.Pix) {
			t.Errorf("sample %d: %dx%d, differs from the folder's image %d (%dx%d)", i, img.H, img.W, i, ref.H, ref.W)
		}
	}
	if _, err := s.Images([]int{10}); err == nil || !strings.Contains(err.Error(), "sample 10 of 10") {
		t.Errorf("a position outside the split: %v", err)
	}
	s.counts[0]++ // the first shard counted with a sample more than it holds
	if _, err := s.Images([]int{3}); err == nil || !strings.Contains(err.Error(), "3 samples, fewer than the 4 counted") {
		t.Errorf("a shard with fewer samples than counted: %v", err)
	}
}

// TestCLIPBenchmarkShards: CLIP_benchmark's WebDataset layout (train/0.tar, test/0.tar, and
// classnames.txt above them, no classes.txt) opens by its folder, each split named by
// classnames.txt; classes.txt beside the shards comes first.
func TestCLIPBenchmarkShards(t *testing.T) {
	images, root := t.TempDir(), t.TempDir()
	makeFolder(t, filepath.Join(images, "train"), []string{"a", "b"}, 3)
	makeFolder(t, filepath.Join(images, "test"), []string{"a", "b"}, 2)
	for _, split := range []string{"train", "test"} {
		f, err := OpenFolder(filepath.Join(images, split), "")
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		paths, err := WriteShards(f, out, ShardOptions{PerShard: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range paths {
			if err := os.MkdirAll(filepath.Join(root, split), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p, filepath.Join(root, split, fmt.Sprintf("%d.tar", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeFile(t, filepath.Join(root, "classnames.txt"), []byte("apple tree\nbanana\n"))
	for split, n := range map[string]int{SplitTrain: 6, SplitTest: 4} {
		s, err := OpenShards(root, split)
		if err != nil {
			t.Fatal(err)
		}
		if info := s.Info(); info.Len != n || !slices.Equal(info.ClassNames, []string{"apple tree", "banana"}) {
			t.Errorf("%s split: %d images, classes %q; want %d, named by classnames.txt", split, info.Len, info.ClassNames, n)
		}
	}
	writeFile(t, filepath.Join(root, "train", "classes.txt"), []byte("a\nb\n"))
	if s, err := OpenShards(root, SplitTrain); err != nil || !slices.Equal(s.Info().ClassNames, []string{"a", "b"}) {
		t.Errorf("with classes.txt beside the shards: %v; want its names", err)
	}
}

// TestShardsLabelCounts: a scan counts each class's samples (a class without any counted as 0,
// by classes.txt), and so does the index that WriteShards or a scan writes; an index without
// counts, or whose counts do not add up, gives none, as do a part of its shards (-val-percent)
// and unlabelled shards.
func TestShardsLabelCounts(t *testing.T) {
	images, dir, flat := t.TempDir(), t.TempDir(), t.TempDir()
	makeFolder(t, filepath.Join(images, "a"), nil, 5)
	makeFolder(t, filepath.Join(images, "b"), nil, 2)
	f, err := OpenFolder(images, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteShards(f, dir, ShardOptions{PerShard: 3}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "classes.txt"), []byte("a\nb\nc\n")) // a class without images
	s, err := OpenShards(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.LabelCounts(); !slices.Equal(got, []int{5, 2, 0}) || s.Info().NumClasses != 3 {
		t.Errorf("label counts %v of %d classes, want [5 2 0] of 3", got, s.Info().NumClasses)
	}
	// The index that WriteShards wrote counts them too (as classes.txt then named two classes).
	index := filepath.Join(dir, "index.json")
	if idx, err := OpenShards(index, ""); err != nil || !slices.Equal(idx.LabelCounts(), []int{5, 2}) {
		t.Errorf("by the index: %v, counts %v; want [5 2]", err, idx.LabelCounts())
	}
	// An index written again from a scan (mkshards -index) counts them as the scan does.
	if err := s.WriteIndex(index); err != nil {
		t.Fatal(err)
	}
	if idx, err := OpenShards(index, ""); err != nil || !slices.Equal(idx.LabelCounts(), []int{5, 2, 0}) {
		t.Errorf("by the index of the scan: %v, counts %v; want [5 2 0]", err, idx.LabelCounts())
	}
	// Counts that do not add up to the samples listed (a stale index), and an index without
	// counts (widsindex's, or an older one's), give none; so does a part of the shards.
	raw, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	for name, counts := range map[string][]int{"stale": {6, 2, 0}, "of other classes": {5, 2}, "without counts": nil} {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m["class_counts"] = counts; counts == nil {
			delete(m, "class_counts")
		}
		edited, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, index, edited)
		if idx, err := OpenShards(index, ""); err != nil || idx.LabelCounts() != nil {
			t.Errorf("an index %s: %v, counts %v; want none", name, err, idx.LabelCounts())
		}
	}
	writeFile(t, index, raw)
	if d, err := Open("shards", SplitTrain, Options{DataDir: index, ValPercent: 34}); err != nil || d.(*Shards).LabelCounts() != nil {
		t.Errorf("the training shards of -val-percent 34 by the index: %v; want no counts", err)
	}
	makeFolder(t, filepath.Join(flat, "in"), nil, 3)
	u, err := OpenFolder(filepath.Join(flat, "in"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteShards(u, filepath.Join(flat, "out"), ShardOptions{}); err != nil {
		t.Fatal(err)
	}
	if us, err := OpenShards(filepath.Join(flat, "out"), ""); err != nil || us.LabelCounts() != nil {
		t.Errorf("unlabelled shards: %v, counts %v; want none", err, us.LabelCounts())
	}
}

// A quoted "~/" in a data path is the home folder, as the shell would have made it.
func TestExpandHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	makeFolder(t, filepath.Join(home, "photos"), []string{"a", "b"}, 1)
	for in, want := range map[string]string{"~/photos": filepath.Join(home, "photos"), "~": home, "~x/y": "~x/y", "a/~/b": "a/~/b", "": ""} {
		if got := ExpandHome(in); got != want {
			t.Errorf("ExpandHome(%q) = %q, want %q", in, got, want)
		}
	}
	f, err := Open("folder", SplitTrain, Options{DataDir: "~/photos"})
	if err != nil || f.Info().Len != 2 {
		t.Errorf("Open of ~/photos: %v", err)
	}
}

// TestAbsPaths: a path a run stores is absolute: ~/ expanded, a relative path joined to the
// working directory, "" left empty.
func TestAbsPaths(t *testing.T) {
	home, wd := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Chdir(wd)
	a, b, c, d := "~/runs/x", "runs/y", "", "/abs/z"
	AbsPaths(&a, &b, &c, &d)
	if a != filepath.Join(home, "runs", "x") || b != filepath.Join(wd, "runs", "y") || c != "" || d != "/abs/z" {
		t.Errorf("AbsPaths: %q %q %q %q", a, b, c, d)
	}
}
