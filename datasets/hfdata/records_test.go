package hfdata

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// recordRows are the rows of r as samples: file and row from Name, image SHA-256, label name.
func recordRows(t *testing.T, r datasets.Records) []sample {
	t.Helper()
	var out []sample
	for i := range r.Len() {
		file, row, ok := strings.Cut(r.Name(i), ":row ")
		n, err := strconv.Atoi(row)
		if !ok || err != nil {
			t.Fatalf("record %d named %q, want FILE:row N", i, r.Name(i))
		}
		x := sample{file: file, row: n}
		data, err := r.Encoded(i)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		sum := sha256.Sum256(data)
		x.sha = hex.EncodeToString(sum[:])
		if k := r.Label(i); k >= 0 {
			x.label = r.Classes()[k]
		}
		out = append(out, x)
	}
	return out
}

// TestRecords: each layout of the datasets library's Arrow files, read one row at a time where its
// image bytes lie, gives every row with the image bytes and label that pyarrow reads
// (expected_arrow.json): save_to_disk's splits (ClassLabel, validation numbered by train's
// classes, an unlabeled test split), the cache's (string labels, a row whose image is the file
// its path names), and Arrow's file format with large_binary bytes (8-byte offsets).
func TestRecords(t *testing.T) {
	w := readWantFile(t, "expected_arrow.json")
	saved := splits(t, filepath.Join("testdata", "saved"))
	train := saved["train"]
	for _, name := range []string{"train", "val", "test"} {
		var numberBy *Split
		if name != "train" {
			numberBy = &train
		}
		r, err := OpenRecords(saved[name], numberBy, "")
		if err != nil {
			t.Fatal(err)
		}
		set, err := Open(saved[name], "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := recordRows(t, r), wantRows(w, set); !slices.Equal(got, want) {
			t.Errorf("saved %s: read\n%v\nwant\n%v", name, got, want)
		}
		if wantClasses := []string{"cat", "dog", "fox"}; name != "test" && !slices.Equal(r.Classes(), wantClasses) || name == "test" && r.Classes() != nil {
			t.Errorf("saved %s: classes %v", name, r.Classes())
		}
	}

	cache := splits(t, cacheFolder(t))
	ctrain := cache["train"]
	for _, name := range []string{"train", "val"} {
		var numberBy *Split
		if name == "val" {
			numberBy = &ctrain
		}
		r, err := OpenRecords(cache[name], numberBy, "breed")
		if err != nil {
			t.Fatal(err)
		}
		set, _ := Open(cache[name], "breed")
		if got, want := recordRows(t, r), wantRows(w, set); !slices.Equal(got, want) || !slices.Equal(r.Classes(), []string{"akita", "beagle", "corgi"}) {
			t.Errorf("the cache's %s: read\n%v (classes %v)\nwant\n%v", name, got, r.Classes(), want)
		}
	}
	if len(cache["train"].Files) != 1 {
		t.Fatal("the cache's train split: want one file")
	}

	file := Split{Name: "train", Files: []string{filepath.Join("testdata", "file", "data.arrow")}}
	r, err := OpenRecords(file, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	set, _ := Open(file, "")
	if got, want := recordRows(t, r), wantRows(w, set); !slices.Equal(got, want) || len(got) != 5 {
		t.Errorf("Arrow's file format: read\n%v\nwant\n%v", got, want)
	}
}

// TestArrowFolder: with this package imported, datasets.Open reads a folder that save_to_disk
// wrote as an image folder: the training split for training, the validation split (numbered by
// train's classes) for the test split, the test split with -test-split test, each image decoded
// to the pixels of its bytes and named by its file and row; -label-column picks the cache's
// column; -val-percent splits the training rows as it splits an image folder's images (every
// row once, round(P%) of each class held out); -label-table and Parquet files are refused, and
// a data set without a held-out split has none (ErrNoSplit).
func TestArrowFolder(t *testing.T) {
	w := readWantFile(t, "expected_arrow.json")
	dir := filepath.Join("testdata", "saved")
	saved := splits(t, dir)
	for _, c := range []struct {
		split, testSplit, want string
	}{{datasets.SplitTrain, "", "train"}, {datasets.SplitTest, "", "val"}, {datasets.SplitTest, "test", "test"}} {
		d, err := datasets.Open("folder", c.split, datasets.Options{DataDir: dir, TestSplit: c.testSplit})
		if err != nil {
			t.Fatalf("%s (-test-split %q): %v", c.split, c.testSplit, err)
		}
		s, ok := d.(*datasets.RecordSet)
		if !ok {
			t.Fatalf("%s: a %T, want a *datasets.RecordSet", c.split, d)
		}
		set, err := Open(saved[c.want], "")
		if err != nil {
			t.Fatal(err)
		}
		want := wantRows(w, set)
		info := s.Info()
		if info.Len != len(want) || info.Split != c.split || info.Channels != 3 {
			t.Errorf("%s: info %+v, want %d images of split %s", c.split, info, len(want), c.split)
		}
		for i, x := range want {
			if got := s.Path(i); got != x.file+":row "+strconv.Itoa(x.row) {
				t.Errorf("%s image %d: path %q, want %s row %d", c.split, i, got, x.file, x.row)
			}
			if k := s.Label(i); x.label == "" && k != -1 || x.label != "" && (k < 0 || info.ClassNames[k] != x.label) {
				t.Errorf("%s image %d: label %d, want %q", c.split, i, k, x.label)
			}
		}
		r, err := OpenRecords(saved["train"], nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if c.want == "train" {
			for i := range s.Len() {
				data, _ := r.Encoded(i)
				want, err := datasets.DecodeImage(data)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Decode(i)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("image %d decoded %dx%d (%v), want the %dx%d of its bytes", i, got.W, got.H, err, want.W, want.H)
				}
			}
		}
	}
	if !datasets.HasHeldOut("folder", datasets.Options{DataDir: dir}) {
		t.Error("HasHeldOut: false for a data set with a validation split")
	}
	// One split's folder (save_to_disk's state.json in it) is read as that split.
	if d, err := datasets.Open("folder", datasets.SplitTrain, datasets.Options{DataDir: filepath.Join(dir, "train")}); err != nil || d.Info().Len != 9 {
		t.Errorf("the train/ folder alone: %v, want its 9 images", err)
	}

	// The cache's string labels, by -label-column; its held-out split numbered by train's.
	cache := cacheFolder(t)
	d, err := datasets.Open("folder", datasets.SplitTest, datasets.Options{DataDir: cache, LabelColumn: "breed"})
	if err != nil {
		t.Fatal(err)
	}
	if info := d.Info(); info.Len != 2 || !slices.Equal(info.ClassNames, []string{"akita", "beagle", "corgi"}) {
		t.Errorf("the cache's validation split: %+v, want 2 images of the training split's 3 breeds", info)
	}

	// -val-percent: the training rows split in two, as an image folder's images are.
	var held, kept []string
	for _, split := range []string{datasets.SplitTest, datasets.SplitTrain} {
		d, err := datasets.Open("folder", split, datasets.Options{DataDir: dir, ValPercent: 34})
		if err != nil {
			t.Fatal(err)
		}
		s := d.(*datasets.RecordSet)
		var logged bytes.Buffer
		datasets.WarnLeftOut(d, log.New(&logged))
		if said := strings.Contains(logged.String(), "the data set's own held-out split is not read split=val"); said != (split == datasets.SplitTest) {
			t.Errorf("%s split with -val-percent: logged %q", split, logged.String())
		}
		for i := range s.Len() {
			name := s.Path(i)
			if split == datasets.SplitTest {
				held = append(held, name)
			} else {
				kept = append(kept, name)
			}
		}
	}
	all, err := OpenRecords(saved["train"], nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	perClass := map[int32]int{}
	for i := range all.Len() {
		names = append(names, all.Name(i))
		perClass[all.Label(i)]++
	}
	wantHeld := 0
	for _, n := range perClass { // round(34%) of each class, at most all but one
		wantHeld += min(int(float64(n)*0.34+0.5), n-1)
	}
	if len(held) != wantHeld || !slices.Equal(slices.Sorted(slices.Values(append(held, kept...))), slices.Sorted(slices.Values(names))) {
		t.Errorf("-val-percent 34: held out %v and kept %v; want %d held out and every row once", held, kept, wantHeld)
	}

	// Refusals.
	if _, err := datasets.Open("folder", datasets.SplitTrain, datasets.Options{DataDir: dir, LabelTable: "labels.csv"}); !errors.Is(err, datasets.ErrUsage) ||
		!strings.Contains(err.Error(), "holds the datasets library's Arrow files, labelled by their own columns") {
		t.Errorf("-label-table: %v", err)
	}
	only := filepath.Join(t.TempDir(), "only")
	copyFiles(t, filepath.Join(dir, "train"), filepath.Join(only, "train"))
	copyFiles(t, dir, only, "dataset_dict.json")
	if datasets.HasHeldOut("folder", datasets.Options{DataDir: only}) {
		t.Error("HasHeldOut: true for a data set of a training split alone")
	}
	if _, err := datasets.OpenTest("folder", datasets.Options{DataDir: only}); !errors.Is(err, datasets.ErrNoSplit) {
		t.Errorf("OpenTest of a training split alone: %v, want ErrNoSplit", err)
	}
	if _, err := datasets.Open("folder", datasets.SplitTest, datasets.Options{DataDir: only}); !errors.Is(err, datasets.ErrNoSplit) ||
		!strings.Contains(err.Error(), `of the splits "train", and no val (validation) or test split`) {
		t.Errorf("the test split of a training split alone: %v", err)
	}
	// A folder above the data set (the cache's, or one that holds the folder save_to_disk
	// wrote) names it, not its nested folders as classes without images.
	above := t.TempDir()
	copyFiles(t, filepath.Join(dir, "train"), filepath.Join(above, "beans", "train"))
	copyFiles(t, dir, filepath.Join(above, "beans"), "dataset_dict.json")
	for _, c := range []struct{ dir, want string }{
		{filepath.Join("testdata", "cache", "parquet"), cacheFolder(t)},
		{above, filepath.Join(above, "beans")},
	} {
		if _, err := datasets.Open("folder", datasets.SplitTrain, datasets.Options{DataDir: c.dir}); !errors.Is(err, datasets.ErrUsage) ||
			!strings.Contains(err.Error(), "holds no images but the datasets library's Arrow files deeper, in "+c.want+" (give the folder of one data set") {
			t.Errorf("%s: %v, want a usage error naming %s", c.dir, err, c.want)
		}
	}
	parquet := filepath.Join(t.TempDir(), "parquet")
	copyFiles(t, filepath.Join("testdata", "hub", "data"), filepath.Join(parquet, "data"))
	if err := os.WriteFile(filepath.Join(parquet, "dataset_info.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.Open("folder", datasets.SplitTrain, datasets.Options{DataDir: parquet}); !errors.Is(err, datasets.ErrUsage) ||
		!strings.Contains(err.Error(), "a Parquet file, whose images are read a row group at a time") || !strings.Contains(err.Error(), "mkshards -in "+filepath.Join(parquet, "data")) {
		t.Errorf("Parquet files: %v", err)
	}
}

// copyFiles copies the files of folder from (those named, or all) into folder to.
func copyFiles(t *testing.T, from, to string, names ...string) {
	t.Helper()
	if names == nil {
		entries, err := os.ReadDir(from)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecordsDamage: an Arrow file cut short after it was opened fails the read past the cut,
// naming the file and row; a row without image bytes or a path is a bad image.
func TestRecordsDamage(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, filepath.Join("testdata", "saved", "train"), dir)
	split := Split{Name: "train", Files: []string{filepath.Join(dir, "data-00000-of-00002.arrow")}}
	r, err := OpenRecords(split, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	last := r.Len() - 1
	if err := os.Truncate(split.Files[0], r.rows[last].at); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Encoded(0); err != nil {
		t.Errorf("row 0, before the cut: %v", err)
	}
	if _, err := r.Encoded(last); !errors.Is(err, datasets.ErrDamaged) || !strings.Contains(err.Error(), split.Files[0]+":row "+strconv.Itoa(last)+": reading the image bytes") {
		t.Errorf("the last row, past the cut: %v", err)
	}
	r.rows[0].size = -1 // as a row whose bytes are null, without a path
	if _, err := r.Encoded(0); !errors.Is(err, datasets.ErrBadImage) || !strings.Contains(err.Error(), "row 0: no image bytes (null), and no path") {
		t.Errorf("a row without bytes or path: %v", err)
	}
}

// TestArrowLoader: the loader reads a folder of Arrow files as it reads an image folder: an epoch
// gives every training row once, with its label, and the next epoch another order.
func TestArrowLoader(t *testing.T) {
	d, err := datasets.Open("folder", datasets.SplitTrain, datasets.Options{DataDir: filepath.Join("testdata", "saved")})
	if err != nil {
		t.Fatal(err)
	}
	aug, err := datasets.Preset("vicreg", d)
	if err != nil {
		t.Fatal(err)
	}
	l, err := datasets.NewLoader(d, datasets.LoaderConfig{BatchSize: 3, Seed: 1, Workers: 2, Augmentation: aug.WithSize(8)}, datasets.Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := d.(*datasets.RecordSet)
	var epochs [2][]int32
	for e := range epochs {
		seen := map[int32]bool{}
		for range 3 {
			b, err := l.Next()
			if err != nil {
				t.Fatal(err)
			}
			for k, i := range b.Indices {
				if seen[i] || b.Labels[k] != s.Label(int(i)) {
					t.Errorf("epoch %d: image %d labelled %d (seen before: %v), want %d once", e, i, b.Labels[k], seen[i], s.Label(int(i)))
				}
				seen[i] = true
				epochs[e] = append(epochs[e], i)
			}
		}
		if len(seen) != 9 {
			t.Errorf("epoch %d: %d images, want the 9 training rows", e, len(seen))
		}
	}
	if slices.Equal(epochs[0], epochs[1]) {
		t.Errorf("two epochs in the same order %v", epochs[0])
	}
}

// TestArrowRowCountBeyondBody: a record batch that declares more rows than its body has bytes (a
// damaged count, which would size what is allocated for its rows) is a damaged-data error naming
// the file, when it is opened.
func TestArrowRowCountBeyondBody(t *testing.T) {
	src := filepath.Join("testdata", "saved", "train", "data-00000-of-00002.arrow")
	a, err := openArrow(src)
	if err != nil {
		t.Fatal(err)
	}
	b := a.batches[0]
	meta := make([]byte, b.metaLen)
	if _, err := a.fh.ReadAt(meta, b.meta); err != nil {
		t.Fatal(err)
	}
	a.close()
	rb, ok := fbuf(meta).root().sub(2) // the Message's header: the RecordBatch
	if !ok || rb.i64(0, 0) != b.rows {
		t.Fatalf("the first batch's length field: %v, %d rows", ok, rb.i64(0, 0))
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	at := b.meta + int64(rb.pos+rb.field(0))
	binary.LittleEndian.PutUint64(data[at:], uint64(b.bodyLen+1))
	p := filepath.Join(t.TempDir(), "data-00000-of-00001.arrow")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenRecords(Split{Name: "train", Files: []string{p}}, nil, "")
	if want := fmt.Sprintf("%d rows in a body of %d bytes", b.bodyLen+1, b.bodyLen); !errors.Is(err, datasets.ErrDamaged) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), want) {
		t.Errorf("a batch of more rows than body bytes: %v, want a damaged-data error saying %q", err, want)
	}
}
