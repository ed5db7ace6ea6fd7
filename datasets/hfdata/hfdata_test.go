package hfdata

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// want is testdata/expected.json (gen.py): for each Parquet file, each row's image SHA-256 and
// label name, as the datasets library wrote them.
type want map[string][]struct {
	SHA256 *string `json:"sha256"`
	Label  *string `json:"label"`
}

func readWant(t testing.TB) want { return readWantFile(t, "expected.json") }

// readWantFile reads the expected rows of testdata/name (expected.json, expected_arrow.json).
func readWantFile(t testing.TB, name string) want {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var w want
	if err := json.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// sample is what a reader found of one row: file, row, image SHA-256, label name.
type sample struct {
	file  string
	row   int
	sha   string
	label string
}

// read returns the samples of s in the order Samples yields them.
func read(t *testing.T, s *Set, seed uint64, noShuffle bool, buffer int) []sample {
	t.Helper()
	var out []sample
	for x := range s.Samples(seed, noShuffle, buffer) {
		if x.Err != nil {
			t.Fatal(x.Err)
		}
		got := sample{file: x.Path, row: x.Index}
		if x.Data != nil {
			sum := sha256.Sum256(x.Data)
			got.sha = hex.EncodeToString(sum[:])
		}
		if x.Label >= 0 {
			got.label = s.Classes()[x.Label]
		}
		out = append(out, got)
	}
	return out
}

func splits(t *testing.T, dir string) map[string]Split {
	t.Helper()
	found, err := FindSplits(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Split{}
	var names []string
	for _, s := range found {
		m[s.Name] = s
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"train", "val", "test"}[:len(names)]) {
		t.Fatalf("splits %v, want train, val and test in that order", names)
	}
	return m
}

// TestHubLayout: push_to_hub's layout (data/SPLIT-0000N-of-0000M.parquet) is found by split
// (validation as val); every row is read in order, its image bytes and ClassLabel label those the
// datasets library wrote, across files and row groups; a validation split without one of the
// classes keeps the ClassLabel numbers; a test split whose labels are all -1 is unlabeled.
func TestHubLayout(t *testing.T) {
	checkLayout(t, readWant(t), splits(t, filepath.Join("testdata", "hub")), 13)
}

// checkLayout checks the splits found (train of 2 files, val and test) against w: train of
// trainRows rows labelled by its ClassLabel (cat, dog, fox), each row read in order with the
// image bytes and label that w holds, val and test numbered by train's classes, test unlabeled
// (every label -1).
func checkLayout(t *testing.T, w want, found map[string]Split, trainRows int) {
	t.Helper()
	if len(found) != 3 || len(found["train"].Files) != 2 {
		t.Fatalf("splits %v, want train (2 files), val and test", found)
	}
	train, err := Open(found["train"], "")
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != trainRows || !slices.Equal(train.Classes(), []string{"cat", "dog", "fox"}) || train.LabelColumn() != "label" {
		t.Fatalf("train: %d rows, classes %v, label column %q; want %d, cat dog fox, label", train.Len(), train.Classes(), train.LabelColumn(), trainRows)
	}
	for _, name := range []string{"train", "val", "test"} {
		s := train
		if name != "train" {
			if s, err = Open(found[name], ""); err != nil {
				t.Fatal(err)
			}
			if err := s.UseClassesOf(train); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := read(t, s, 0, true, 0), wantRows(w, s); !slices.Equal(got, want) {
			t.Errorf("%s: read\n%v\nwant\n%v", name, got, want)
		}
		if name == "test" && s.Classes() != nil {
			t.Errorf("test: classes %v, want none (every label -1)", s.Classes())
		}
	}
}

// wantRows are the rows that w holds for the files of s, in file order.
func wantRows(w want, s *Set) []sample {
	var rows []sample
	for _, file := range s.Files {
		rel, _ := filepath.Rel("testdata", file)
		for i, r := range w[filepath.ToSlash(rel)] {
			x := sample{file: file, row: i}
			if r.SHA256 != nil {
				x.sha = *r.SHA256
			}
			if r.Label != nil {
				x.label = *r.Label
			}
			rows = append(rows, x)
		}
	}
	return rows
}

// TestShuffle: the shuffled order holds every row once, differs from the files' order, is the same
// for one seed and another for another seed; without a buffer only the row groups move.
func TestShuffle(t *testing.T) {
	train, err := Open(splits(t, filepath.Join("testdata", "hub"))["train"], "")
	if err != nil {
		t.Fatal(err)
	}
	inOrder := read(t, train, 0, true, 0)
	key := func(s sample) string { return s.file + s.sha }
	sorted := func(xs []sample) []string {
		var keys []string
		for _, x := range xs {
			keys = append(keys, key(x))
		}
		slices.Sort(keys)
		return keys
	}
	a, b, c := read(t, train, 1, false, 8), read(t, train, 1, false, 8), read(t, train, 2, false, 8)
	if !slices.Equal(sorted(a), sorted(inOrder)) || !slices.Equal(sorted(c), sorted(inOrder)) {
		t.Fatalf("shuffled rows are not the rows:\n%v\n%v", a, inOrder)
	}
	if slices.Equal(a, inOrder) || !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Errorf("seed 1 twice and seed 2: %v, %v, %v; want one order for a seed, another for another, neither the files'", a, b, c)
	}
}

// TestConvertLayout: the Hub's Parquet conversion (default/SPLIT/0000.parquet) is found by
// folder; string labels in a named column become sorted classes; a row without image bytes is a
// bad image; the validation split is numbered by the training split's classes.
func TestConvertLayout(t *testing.T) {
	w := readWant(t)
	found := splits(t, filepath.Join("testdata", "convert"))
	if _, err := Open(found["train"], ""); err != nil {
		t.Fatal(err) // no label column: unlabeled
	}
	train, err := Open(found["train"], "breed")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(train.Classes(), []string{"akita", "corgi", "pug"}) {
		t.Fatalf("classes %v, want akita corgi pug", train.Classes())
	}
	var bad []int
	i := 0
	for x := range train.Samples(0, true, 0) {
		r := w["convert/default/train/0000.parquet"][i]
		if x.Bad != nil {
			bad = append(bad, i)
		} else if sum := sha256.Sum256(x.Data); hex.EncodeToString(sum[:]) != *r.SHA256 || train.Classes()[x.Label] != *r.Label || x.Ext != ".jpg" {
			t.Errorf("row %d: label %d, %s; want %s, the JPEG's bytes", i, x.Label, x.Ext, *r.Label)
		}
		i++
	}
	if !slices.Equal(bad, []int{3}) {
		t.Errorf("bad rows %v, want [3] (no image bytes)", bad)
	}
	val, err := Open(found["val"], "breed")
	if err != nil {
		t.Fatal(err)
	}
	if err := val.UseClassesOf(train); err != nil {
		t.Fatal(err)
	}
	for x := range val.Samples(0, true, 0) {
		if r := w["convert/default/validation/0000.parquet"][x.Index]; val.Classes()[x.Label] != *r.Label {
			t.Errorf("val row %d: %s, want %s", x.Index, val.Classes()[x.Label], *r.Label)
		}
	}
}

// TestErrors: usage errors name the file and what to do.
func TestErrors(t *testing.T) {
	found := splits(t, filepath.Join("testdata", "convert"))
	if _, err := Open(found["train"], "kind"); !errors.Is(err, datasets.ErrUsage) || !strings.Contains(err.Error(), `no "kind" column (the columns: image, breed)`) {
		t.Errorf("-label-column kind: %v", err)
	}
	two := t.TempDir()
	for _, p := range []string{"a/train/0000.parquet", "b/train/0000.parquet"} {
		if err := os.MkdirAll(filepath.Join(two, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(two, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := FindSplits(two); !errors.Is(err, datasets.ErrUsage) || !strings.Contains(err.Error(), "two folders") {
		t.Errorf("two configurations: %v", err)
	}
	broken := filepath.Join(two, "a", "train", "0000.parquet")
	if _, err := Open(Split{Name: "train", Files: []string{broken}}, ""); !errors.Is(err, datasets.ErrDamaged) || !strings.Contains(err.Error(), broken+": not a readable Parquet file") {
		t.Errorf("an empty file: %v", err)
	}
}

// TestFewerClassLabelNames: a validation split whose ClassLabel names fewer classes than train's
// (dog 0 and fox 1 there, 1 and 2 in train) is numbered by train's names.
func TestFewerClassLabelNames(t *testing.T) {
	w := readWant(t)
	found := splits(t, filepath.Join("testdata", "fewer"))
	train, err := Open(found["train"], "")
	if err != nil {
		t.Fatal(err)
	}
	val, err := Open(found["val"], "")
	if err != nil {
		t.Fatal(err)
	}
	if err := val.UseClassesOf(train); err != nil {
		t.Fatal(err)
	}
	n := 0
	for x := range val.Samples(0, true, 0) {
		if got, want := val.Classes()[x.Label], *w["fewer/data/validation-00000-of-00001.parquet"][x.Index].Label; got != want {
			t.Errorf("row %d: %s (label %d), want %s", x.Index, got, x.Label, want)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}

// FuzzOpen: any bytes as a Parquet file give an error or samples, never a panic or a hang.
func FuzzOpen(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*", "*.parquet"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures (%v)", err)
	}
	fuzzFiles(f, files, "train-00000-of-00001.parquet")
}

// fuzzFiles fuzzes Open and a shuffled pass of Samples over one data file named name, seeded by
// the files: an error or samples, never a panic or a hang.
func fuzzFiles(f *testing.F, files []string, name string) {
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		split := Split{Name: "train", Files: []string{path}}
		s, err := Open(split, "")
		if err != nil {
			return
		}
		for x := range s.Samples(1, false, 4) {
			if x.Err != nil {
				break
			}
		}
		if !isArrow(path) {
			return
		}
		r, err := OpenRecords(split, nil, "") // an Arrow file read one row at a time
		if err != nil {
			return
		}
		for i := range r.Len() {
			if img, err := r.Encoded(i); err == nil && len(img) > len(data) {
				t.Fatalf("row %d: %d bytes from a file of %d", i, len(img), len(data))
			}
		}
	})
}

// TestOpenFiles: a pass keeps the files it reads open up to its capacity, reads a file's footer
// once while it stays open, closes the least recently read one beyond the capacity, and closes
// the rest at its end.
func TestOpenFiles(t *testing.T) {
	dir := filepath.Join("testdata", "hub", "data")
	a, b, c := filepath.Join(dir, "train-00000-of-00002.parquet"), filepath.Join(dir, "train-00001-of-00002.parquet"), filepath.Join(dir, "test-00000-of-00001.parquet")
	o := &openFiles{capacity: 2}
	get := func(path string) dataFile {
		t.Helper()
		f, err := o.get(path)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	paths := func() (open []string) {
		for _, e := range o.open {
			open = append(open, filepath.Base(e.path))
		}
		return open
	}
	fa, fb := get(a), get(b)
	if get(a) != fa || get(b) != fb {
		t.Error("an open file was opened again")
	}
	first := o.open[0].f.(*parquetFile).fh // a's, the least recently read
	get(c)
	if got := paths(); !slices.Equal(got, []string{filepath.Base(b), filepath.Base(c)}) {
		t.Errorf("open %v after reading a, b, a, b, c with room for 2; want b and c", got)
	}
	if _, err := first.Stat(); err == nil {
		t.Error("the least recently read file is still open")
	}
	if get(a) == fa {
		t.Error("a file closed and read again was not opened again")
	}
	handles := []*os.File{o.open[0].f.(*parquetFile).fh, o.open[1].f.(*parquetFile).fh}
	o.close()
	for _, fh := range handles {
		if _, err := fh.Stat(); err == nil {
			t.Errorf("%s is still open after close", fh.Name())
		}
	}
	if _, err := o.get(filepath.Join(dir, "missing.parquet")); err == nil || !strings.Contains(err.Error(), "missing.parquet") {
		t.Errorf("a missing file: %v, want an error naming it", err)
	}
}

// pathRow is a row whose image may be a file named by its path, its bytes null (what
// Dataset.to_parquet writes of a data set loaded from local files).
type pathRow struct {
	Image struct {
		Bytes []byte `parquet:"bytes,optional"`
		Path  string `parquet:"path,optional"`
	} `parquet:"image"`
	Label int64 `parquet:"label"`
}

// TestImagePaths: a row without image bytes reads the file its path names, relative to the
// Parquet file's folder (the conversion's fixture, row 3: x23.jpg) or absolute; a file that is
// not there is a bad image that names it and says what to do; a row with bytes ignores its path.
func TestImagePaths(t *testing.T) {
	dir := t.TempDir()
	fixture, err := os.ReadFile(filepath.Join("testdata", "convert", "default", "train", "0000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	parquetPath := filepath.Join(dir, "default", "train", "0000.parquet")
	if err := os.MkdirAll(filepath.Dir(parquetPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(parquetPath, fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 5, 3)), nil); err != nil {
		t.Fatal(err)
	}
	row3 := func() datasets.ShardSample {
		got := samplesOf(t, parquetPath, "breed")
		if len(got) != 5 {
			t.Fatalf("%d rows, want 5", len(got))
		}
		for i, x := range got {
			if i != 3 && x.Bad != nil {
				t.Errorf("row %d: %v", i, x.Bad)
			}
		}
		return got[3]
	}
	if x := row3(); x.Bad == nil || !strings.Contains(x.Bad.Error(), "no image bytes (null), and its file x23.jpg is not beside the Parquet file or in the working folder: put the files there") {
		t.Errorf("row 3 without its file: %v", x.Bad)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(parquetPath), "x23.jpg"), jpg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if x := row3(); x.Bad != nil || !bytes.Equal(x.Data, jpg.Bytes()) || x.Ext != ".jpg" {
		t.Errorf("row 3 beside its file: %v, %d bytes, %q; want the file's %d bytes, .jpg", x.Bad, len(x.Data), x.Ext, jpg.Len())
	}

	// Absolute paths, written here: the file, a missing file, bytes with a path beside them, and a
	// folder.
	abs := filepath.Join(dir, "elsewhere", "a.jpg")
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(abs, jpg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rows := make([]pathRow, 4)
	rows[0].Image.Path = abs
	rows[1].Image.Path = filepath.Join(dir, "elsewhere", "gone.jpg")
	rows[2].Image.Bytes, rows[2].Image.Path = fixturePNG(t), abs
	rows[3].Image.Path = filepath.Dir(abs) // a folder
	file := filepath.Join(dir, "train-00000-of-00001.parquet")
	writeParquet(t, file, rows)
	got := samplesOf(t, file, "")
	if len(got) != 4 || got[3].Bad == nil || !strings.Contains(got[3].Bad.Error(), "its file "+rows[3].Image.Path+" is not an image file (d") || got[0].Bad != nil || !bytes.Equal(got[0].Data, jpg.Bytes()) ||
		got[1].Bad == nil || !strings.Contains(got[1].Bad.Error(), "its file "+rows[1].Image.Path+" is not here: put the files there") ||
		got[2].Bad != nil || !bytes.Equal(got[2].Data, rows[2].Image.Bytes) || got[2].Ext != ".png" {
		t.Errorf("absolute paths: %+v", got)
	}
}

// samplesOf returns every sample of the split of the one Parquet file at path, in order, with
// the labels of labelColumn.
func samplesOf(t *testing.T, path, labelColumn string) []datasets.ShardSample {
	t.Helper()
	s, err := Open(Split{Name: "train", Files: []string{path}}, labelColumn)
	if err != nil {
		t.Fatal(err)
	}
	var got []datasets.ShardSample
	for x := range s.Samples(0, true, 0) {
		got = append(got, x)
	}
	return got
}

// writeParquet writes rows to a Parquet file at path, with opts.
func writeParquet[T any](tb testing.TB, path string, rows []T, opts ...parquet.WriterOption) {
	tb.Helper()
	fh, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](fh, opts...)
	if _, err := w.Write(rows); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		tb.Fatal(err)
	}
}

// fixturePNG is a small PNG image's bytes.
func fixturePNG(tb testing.TB) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
