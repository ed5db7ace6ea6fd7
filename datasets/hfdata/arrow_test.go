package hfdata

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// cacheFolder is the fixture's folder of the datasets library's cache (its name holds hashes).
func cacheFolder(t testing.TB) string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join("testdata", "cache", "parquet", "*", "0.0.0", "*", "parquet-train.arrow"))
	if err != nil || len(found) != 1 {
		t.Fatalf("the cache fixture: %v, %v", found, err)
	}
	return filepath.Dir(found[0])
}

// TestArrowLayouts: the datasets library's Arrow files, in save_to_disk's layout (a folder for
// each split, validation as val) and in its cache's (NAME-SPLIT.arrow beside dataset_info.json),
// and in Arrow's file format, give every row in order with the image bytes and labels that
// pyarrow reads from them: ClassLabel names, or the sorted strings of another column, the
// held-out split numbered by train's; a test split whose labels are all -1 is unlabeled; a row
// without image bytes reads the file its path names, beside the Arrow file.
func TestArrowLayouts(t *testing.T) {
	w := readWantFile(t, "expected_arrow.json")
	checkLayout(t, w, splits(t, filepath.Join("testdata", "saved")), 9)

	cache := splits(t, cacheFolder(t))
	if len(cache) != 2 || len(cache["train"].Files) != 1 || filepath.Base(cache["val"].Files[0]) != "parquet-validation.arrow" {
		t.Fatalf("the cache's splits %v, want train and val (parquet-validation.arrow)", cache)
	}
	ctrain, err := Open(cache["train"], "breed")
	if err != nil {
		t.Fatal(err)
	}
	cval, err := Open(cache["val"], "breed")
	if err != nil {
		t.Fatal(err)
	}
	if err := cval.UseClassesOf(ctrain); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ctrain.Classes(), []string{"akita", "beagle", "corgi"}) {
		t.Errorf("the cache's classes %v, want the sorted breeds", ctrain.Classes())
	}
	for _, s := range []*Set{ctrain, cval} {
		if got, want := read(t, s, 0, true, 0), wantRows(w, s); !slices.Equal(got, want) {
			t.Errorf("the cache's %s: read\n%v\nwant\n%v", s.Name, got, want)
		}
	}
	if unlabeled, err := Open(cache["train"], ""); err != nil || unlabeled.Classes() != nil {
		t.Errorf("the cache without -label-column (no ClassLabel, no label column): %v, classes %v; want it unlabeled", err, unlabeled.Classes())
	}

	file, err := Open(Split{Name: "train", Files: []string{filepath.Join("testdata", "file", "data.arrow")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, file, 0, true, 0), wantRows(w, file); !slices.Equal(got, want) || len(got) != 5 {
		t.Errorf("Arrow's file format: read\n%v\nwant\n%v", got, want)
	}

	// Shuffled, the record batches move: every row once, in another order.
	shuffled := read(t, ctrain, 1, false, 0)
	inOrder := read(t, ctrain, 0, true, 0)
	key := func(x sample) string { return x.sha }
	if slices.Equal(shuffled, inOrder) || !slices.Equal(slices.Sorted(slices.Values(mapSlice(shuffled, key))), slices.Sorted(slices.Values(mapSlice(inOrder, key)))) {
		t.Errorf("shuffled record batches: %v; want the rows of %v in another order", shuffled, inOrder)
	}
}

// mapSlice is f of each element of xs.
func mapSlice[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// TestArrowRefusals: compressed record batches, a file cut short, and bytes that are not Arrow's
// are damaged-data errors naming the file; one split in Parquet and Arrow files is a usage error.
func TestArrowRefusals(t *testing.T) {
	if _, err := Open(Split{Name: "train", Files: []string{filepath.Join("testdata", "compressed", "data.arrow")}}, ""); !errors.Is(err, datasets.ErrDamaged) ||
		!strings.Contains(err.Error(), "a compressed body, which is not read: write the file uncompressed") {
		t.Errorf("compressed record batches: %v", err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "saved", "train", "data-00000-of-00002.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"cut.arrow": data[:len(data)/2], "text.arrow": []byte("not an Arrow file at all")} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(Split{Name: "train", Files: []string{p}}, ""); !errors.Is(err, datasets.ErrDamaged) || !strings.Contains(err.Error(), p+": not a readable Arrow file") {
			t.Errorf("%s: %v, want a damaged-data error naming it", name, err)
		}
	}
	mixed := filepath.Join(dir, "mixed")
	for _, f := range []struct{ from, to string }{
		{filepath.Join("testdata", "saved", "train", "data-00000-of-00002.arrow"), "train-00000-of-00002.arrow"},
		{filepath.Join("testdata", "hub", "data", "train-00000-of-00002.parquet"), "train-00001-of-00002.parquet"},
	} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(mixed, 0o755)
		if err := os.WriteFile(filepath.Join(mixed, f.to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := FindSplits(mixed); !errors.Is(err, datasets.ErrUsage) || !strings.Contains(err.Error(), `holds split "train" in Parquet and in Arrow files`) {
		t.Errorf("a split in both formats: %v", err)
	}
	// A cache whose train file holds fewer rows than its dataset_info.json counts (as a file cut
	// at a record batch would): refused, naming the count.
	short := filepath.Join(dir, "short")
	os.MkdirAll(short, 0o755)
	for _, f := range []string{"parquet-train.arrow", "dataset_info.json"} {
		b, err := os.ReadFile(filepath.Join(cacheFolder(t), f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "dataset_info.json" {
			b = []byte(strings.Replace(string(b), `"num_examples": 6`, `"num_examples": 7`, 1))
		}
		if err := os.WriteFile(filepath.Join(short, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found, err := FindSplits(short)
	if err != nil || len(found) != 1 {
		t.Fatalf("the short cache: %v, %v", found, err)
	}
	if _, err := Open(found[0], ""); !errors.Is(err, datasets.ErrDamaged) || !strings.Contains(err.Error(), `the Arrow files of split "train" hold 6 rows, but dataset_info.json beside them counts 7 (num_examples)`) {
		t.Errorf("a cache of fewer rows than it counts: %v", err)
	}
	// The cache's own folder, given for the data set's (its Arrow files four folders down).
	root := filepath.Join("testdata", "cache")
	if _, err := FindSplits(root); !errors.Is(err, datasets.ErrUsage) || !strings.Contains(err.Error(), "holds the datasets library's Arrow files only deeper, in "+cacheFolder(t)) {
		t.Errorf("the cache's folder: %v, want a usage error naming the data set's", err)
	}
	// A cache of two data sets: both named.
	two := t.TempDir()
	var want []string
	for _, name := range []string{"beans", "food101"} {
		folder := filepath.Join(two, name, "default", "0.0.0", "abc")
		want = append(want, folder)
		for _, f := range []string{"dataset_info.json", "parquet-train.arrow"} {
			b, err := os.ReadFile(filepath.Join(cacheFolder(t), f))
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(folder, 0o755)
			if f != "dataset_info.json" {
				f = name + "-train.arrow"
			}
			if err := os.WriteFile(filepath.Join(folder, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := FindSplits(two); !errors.Is(err, datasets.ErrUsage) || !strings.Contains(err.Error(), "only deeper, in "+strings.Join(want, ", ")+" (give the folder of one data set") {
		t.Errorf("a cache of two data sets: %v, want both named", err)
	}
}

// FuzzOpenArrow: any bytes as an Arrow file give an error or samples, never a panic, a hang or an
// allocation of what they declare.
func FuzzOpenArrow(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*", "*.arrow"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures (%v)", err)
	}
	files = append(files, filepath.Join("testdata", "file", "data.arrow"))
	fuzzFiles(f, files, "data-00000-of-00001.arrow")
}
