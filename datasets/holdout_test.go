package datasets

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/log"
)

// heldOutNames lists the images of f by their paths relative to f's folder, sorted.
func heldOutNames(t *testing.T, f *Folder) []string {
	t.Helper()
	names := make([]string, f.Info().Len)
	for i := range names {
		names[i] = relSlash(f.Dir(), f.Path(i))
	}
	slices.Sort(names)
	return names
}

// openSplits opens the training and test splits of the image folder dir with opt.
func openSplits(t *testing.T, opt Options) (train, test *Folder) {
	t.Helper()
	a, err := Open("folder", SplitTrain, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenTest("folder", opt)
	if err != nil {
		t.Fatal(err)
	}
	return a.(*Folder), b.(*Folder)
}

// TestFolderValPercent: -val-percent splits a folder without split folders into training and
// held-out images: from each class round(p% of its images), never all of them, those whose
// relative paths hash lowest (FNV-1a, then SplitMix64: computed here from the definition); the
// two splits are disjoint and hold every image, labels and classes kept. The choice depends on
// the relative paths alone (a copy of the folder elsewhere holds out the same images) and is
// nested (10% lies inside 30%).
func TestFolderValPercent(t *testing.T) {
	root := t.TempDir()
	counts := map[string]int{"ant": 20, "bee": 10, "cow": 1, "dog": 2}
	for class, n := range counts {
		for i := range n {
			writeTiny(t, root, fmt.Sprintf("%s/%02d.png", class, i), i)
		}
	}
	train, test := openSplits(t, Options{DataDir: root, ValPercent: 20})
	all, err := OpenFolder(root, SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{} // held out, from the definition
	for class, n := range counts {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("%s/%02d.png", class, i)
		}
		key := func(name string) uint64 {
			h := fnv.New64a()
			h.Write([]byte(name))
			return SplitMix64(h.Sum64())
		}
		slices.SortFunc(names, func(a, b string) int { return cmp.Compare(key(a), key(b)) })
		k := map[string]int{"ant": 4, "bee": 2, "cow": 0, "dog": 0}[class] // round(20% of 20, 10, 1, 2), never all
		for _, name := range names[:k] {
			want[name] = true
		}
	}
	if got := heldOutNames(t, test); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Errorf("held out %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
	if train.Info().Len+test.Info().Len != all.Info().Len || train.Info().Len != 33-6 {
		t.Errorf("%d training and %d held-out images of %d; want 27 and 6 of 33", train.Info().Len, test.Info().Len, all.Info().Len)
	}
	for _, f := range []*Folder{train, test} {
		if !slices.Equal(f.Info().ClassNames, all.Info().ClassNames) {
			t.Errorf("classes %v, want the folder's %v", f.Info().ClassNames, all.Info().ClassNames)
		}
		labels := labelsByFile(t, f)
		for name, class := range labels {
			if want[name] != (f == test) {
				t.Errorf("%s is in the wrong split", name)
			}
			if class != strings.Split(name, "/")[0] {
				t.Errorf("%s: class %s", name, class)
			}
		}
	}
	if test.Info().Split != SplitTest || train.Info().Split != SplitTrain {
		t.Errorf("splits %q and %q", train.Info().Split, test.Info().Split)
	}

	copied := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.CopyFS(copied, os.DirFS(root)); err != nil {
		t.Fatal(err)
	}
	if _, c := openSplits(t, Options{DataDir: copied, ValPercent: 20}); !slices.Equal(heldOutNames(t, c), heldOutNames(t, test)) {
		t.Errorf("a copy of the folder holds out %v, want %v", heldOutNames(t, c), heldOutNames(t, test))
	}
	_, small := openSplits(t, Options{DataDir: root, ValPercent: 10})
	_, large := openSplits(t, Options{DataDir: root, ValPercent: 30})
	for _, name := range heldOutNames(t, small) {
		if !slices.Contains(heldOutNames(t, large), name) {
			t.Errorf("%s is held out at 10%% but not at 30%%", name)
		}
	}
}

// TestFolderValPercentLayouts: the held-out images come from train/ when the folder has one (a
// test/ folder of unlabelled images, as Kaggle ships, is then not read); labels may come from a
// label table; a percentage that holds out no image is refused, saying what to do.
func TestFolderValPercentLayouts(t *testing.T) {
	root := t.TempDir()
	for i := range 10 {
		writeTiny(t, filepath.Join(root, "train"), fmt.Sprintf("img%02d.png", i), i)
		writeTiny(t, filepath.Join(root, "test"), fmt.Sprintf("unlabelled%02d.png", i), i)
	}
	var csv strings.Builder
	csv.WriteString("id,label\n")
	for i := range 10 {
		fmt.Fprintf(&csv, "img%02d,%d\n", i, i%2)
	}
	table := filepath.Join(t.TempDir(), "train.csv")
	writeFile(t, table, []byte(csv.String()))
	train, test := openSplits(t, Options{DataDir: root, LabelTable: table, ValPercent: 40})
	if train.Info().Len != 6 || test.Info().Len != 4 || test.Info().NumClasses != 2 {
		t.Errorf("%d training and %d held-out images (%d classes); want 6 and 4 of train/'s 10 (2 classes)", train.Info().Len, test.Info().Len, test.Info().NumClasses)
	}
	for _, name := range heldOutNames(t, test) {
		if !strings.HasPrefix(name, "img") {
			t.Errorf("held out %s: not an image of train/", name)
		}
	}
	var said bytes.Buffer
	train.WarnLeftOut(log.New(&said))
	if !strings.Contains(said.String(), "the folder of held-out images beside them is not read") || !strings.Contains(said.String(), filepath.Join(root, "test")) {
		t.Errorf("logged:\n%s\nwant a note that test/ is not read", said.String())
	}

	flat := t.TempDir()
	for i := range 4 {
		writeTiny(t, filepath.Join(flat, "a"), fmt.Sprintf("%d.png", i), i)
	}
	writeTiny(t, filepath.Join(flat, "b"), "only.png", 9)
	ft, fh := openSplits(t, Options{DataDir: flat, ValPercent: 60})
	if got := heldOutNames(t, fh); len(got) != 2 || !strings.HasPrefix(got[0], "a/") || !strings.HasPrefix(got[1], "a/") || !slices.Contains(heldOutNames(t, ft), "b/only.png") {
		t.Errorf("60%%: held out %v; want 2 of a's 4 images, and b's only image kept for training (round(0.6) = 1 would be all of it)", got)
	}
	// What the listing left out is said once, by the training split.
	writeFile(t, filepath.Join(flat, "a", "notes.txt"), []byte("x"))
	ft, fh = openSplits(t, Options{DataDir: flat, ValPercent: 60})
	var trainLog, heldLog bytes.Buffer
	ft.WarnLeftOut(log.New(&trainLog))
	fh.WarnLeftOut(log.New(&heldLog))
	if !strings.Contains(trainLog.String(), "files left out") || heldLog.Len() != 0 {
		t.Errorf("the training split logged:\n%s\nthe held-out split:\n%s\nwant the file left out said once, by the training split", trainLog.String(), heldLog.String())
	}
	_, err := OpenTest("folder", Options{DataDir: flat, ValPercent: 5})
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "holding out 5% of each class's images holds out none of the 5 images") ||
		!strings.Contains(err.Error(), "raise the percentage (-val-percent)") {
		t.Errorf("5%% of 4 images: %v; want a usage error that says so", err)
	}
	if _, err := OpenTest("folder", Options{DataDir: flat}); !errors.Is(err, ErrNoSplit) || !strings.Contains(err.Error(), "-val-percent 10") {
		t.Errorf("no split folders, no -val-percent: %v; want ErrNoSplit suggesting -val-percent", err)
	}
}
