package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/log"
)

// splitRow is an image of the split-column tests: its label and the values of its split columns.
type splitRow struct {
	name, label, isValid, split, fold string
}

// splitRows are 9 images in 3 classes; each is assigned to a split three ways: is_valid (fastai),
// split (train, val, test) and fold (0..2).
var splitRows = []splitRow{
	{"a0", "ant", "False", "train", "0"},
	{"a1", "ant", "True", "val", "1"},
	{"a2", "ant", "False", "test", "2"},
	{"b0", "bee", "False", "train", "2"},
	{"b1", "bee", "False", "train", "0"},
	{"b2", "bee", "True", "val", "1"},
	{"c0", "cow", "False", "test", "1"},
	{"c1", "cow", "True", "train", "2"},
	{"c2", "cow", "False", "train", "0"},
}

// splitWant is the images (name.png: label) of splitRows whose column value (by get) passes keep.
func splitWant(get func(splitRow) string, keep func(string) bool) map[string]string {
	want := map[string]string{}
	for _, r := range splitRows {
		if keep(get(r)) {
			want[r.name+".png"] = r.label
		}
	}
	return want
}

// TestFolderSplitColumn: a column of the label table assigns the images of one folder to the
// splits, read three ways: booleans (fastai's is_valid, True is held out), split names (val held
// out, test in neither split, with a note that says how to hold out test instead), and
// COLUMN=VALUE (a fold). Labels and classes are those of the whole table in both splits; the
// label column defaults to the first column beside the names and the split column; JSON Lines
// booleans and a metadata.csv inside the folder read too.
func TestFolderSplitColumn(t *testing.T) {
	root := t.TempDir()
	var csv strings.Builder
	csv.WriteString("image_id,is_valid,breed,split,fold\n")
	var jsonl strings.Builder
	for i, r := range splitRows {
		writeTiny(t, root, r.name+".png", i)
		fmt.Fprintf(&csv, "%s,%s,%s,%s,%s\n", r.name, r.isValid, r.label, r.split, r.fold)
		fmt.Fprintf(&jsonl, `{"file_name": %q, "label": %q, "is_valid": %s}`+"\n", r.name+".png", r.label, strings.ToLower(r.isValid))
	}
	table := filepath.Join(t.TempDir(), "train.csv")
	writeFile(t, table, []byte(csv.String()))
	jsonTable := filepath.Join(t.TempDir(), "train.jsonl")
	writeFile(t, jsonTable, []byte(jsonl.String()))

	isValid := func(r splitRow) string { return r.isValid }
	split := func(r splitRow) string { return r.split }
	fold := func(r splitRow) string { return r.fold }
	is := func(v string) func(string) bool { return func(s string) bool { return s == v } }
	not := func(v string) func(string) bool { return func(s string) bool { return s != v } }
	tests := []struct {
		name, table, column, labels string
		train, test                 map[string]string
	}{
		// The labels are in the second column once the split column is left aside.
		{"booleans", table, "is_valid", "", splitWant(isValid, is("False")), splitWant(isValid, is("True"))},
		{"split names", table, "split", "breed", splitWant(split, is("train")), splitWant(split, is("val"))},
		{"the test split held out", table, "split=test", "breed", splitWant(split, not("test")), splitWant(split, is("test"))},
		{"a fold", table, "fold=2", "breed", splitWant(fold, not("2")), splitWant(fold, is("2"))},
		{"a fold written as a float", table, "fold=2.0", "breed", splitWant(fold, not("2")), splitWant(fold, is("2"))},
		{"JSON Lines booleans", jsonTable, "is_valid", "", splitWant(isValid, is("False")), splitWant(isValid, is("True"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, te := openSplits(t, Options{DataDir: root, LabelTable: tc.table, LabelColumn: tc.labels, SplitColumn: tc.column})
			if got := labelsByFile(t, tr); !maps.Equal(got, tc.train) {
				t.Errorf("training split %v, want %v", got, tc.train)
			}
			if got := labelsByFile(t, te); !maps.Equal(got, tc.test) {
				t.Errorf("held-out split %v, want %v", got, tc.test)
			}
			for _, f := range []*Folder{tr, te} {
				if want := []string{"ant", "bee", "cow"}; !slices.Equal(f.Info().ClassNames, want) {
					t.Errorf("%s split's classes %v, want the table's %v", f.Info().Split, f.Info().ClassNames, want)
				}
			}
			var said, heldSaid bytes.Buffer
			tr.WarnLeftOut(log.New(&said))
			te.WarnLeftOut(log.New(&heldSaid))
			note := "images of the split column's test split: in neither the training split nor the held-out split"
			if wantNote := tc.column == "split"; strings.Contains(said.String(), note) != wantNote || heldSaid.Len() != 0 {
				t.Errorf("the training split logged:\n%s\nthe held-out split:\n%s\nwant a note on the test images left out only for split names with val and test, by the training split", said.String(), heldSaid.String())
			}
			if tc.column == "split" && (!strings.Contains(said.String(), "images=2") || !strings.Contains(said.String(), "-split-column split=test")) {
				t.Errorf("logged:\n%s\nwant the 2 test images counted and -split-column split=test suggested", said.String())
			}
		})
	}

	// A metadata.csv inside a train/ folder holds the column; val/ beside it is not read.
	split2 := t.TempDir()
	var meta strings.Builder
	meta.WriteString("file_name,label,split\n")
	for i, r := range splitRows {
		writeTiny(t, filepath.Join(split2, "train"), r.name+".png", i)
		fmt.Fprintf(&meta, "%s.png,%s,%s\n", r.name, r.label, r.split)
	}
	writeTiny(t, filepath.Join(split2, "val"), "other.png", 0)
	writeFile(t, filepath.Join(split2, "train", "metadata.csv"), []byte(meta.String()))
	tr, te := openSplits(t, Options{DataDir: split2, SplitColumn: "split"})
	if !maps.Equal(labelsByFile(t, tr), splitWant(split, is("train"))) || !maps.Equal(labelsByFile(t, te), splitWant(split, is("val"))) {
		t.Errorf("metadata.csv's split column: %v and %v, want the train and val rows", labelsByFile(t, tr), labelsByFile(t, te))
	}
	var said bytes.Buffer
	tr.WarnLeftOut(log.New(&said))
	if !strings.Contains(said.String(), "(-split-column): the folder of held-out images beside them is not read") || !strings.Contains(said.String(), filepath.Join(split2, "val")) {
		t.Errorf("logged:\n%s\nwant a note that val/ is not read", said.String())
	}
}

// TestFolderSplitColumnErrors: a split column that cannot split the folder is a usage error that
// says why and what to do.
func TestFolderSplitColumnErrors(t *testing.T) {
	tests := []struct {
		name, content, column string
		valPercent            float64
		want                  []string
	}{
		{"no such column", "id,label,fold\na,x,0\nb,y,1\n", "split", 0, []string{`no "split" column (the columns: id, label, fold)`, "-split-column"}},
		{"not a split", "id,label,split\na,x,train\nb,y,maybe\n", "split", 0, []string{`line 3: b: its split is "maybe", not a split`, "-split-column split=VALUE"}},
		{"no split", "id,label,split\na,x,train\nb,y,\n", "split", 0, []string{"line 3: b: it has no split"}},
		{"a fold number without its value", "id,label,fold\na,x,0\nb,y,4\n", "fold", 0, []string{`its fold is "4"`, "-split-column fold=VALUE"}},
		{"a value no image has", "id,label,fold\na,x,0\nb,y,1\n", "fold=3", 0, []string{`no image's fold is "3" (its values: 0, 1)`}},
		{"none held out", "id,label,split\na,x,train\nb,y,train\n", "split", 0, []string{"none of the 2 images is held out: their split values are train", "-split-column split=VALUE"}},
		{"every image held out", "id,label,is_valid\na,x,true\nb,y,1\n", "is_valid", 0, []string{"every one of the 2 images is held out"}},
		{"the names' column", "id,label,split\na,x,train\nb,y,val\n", "id", 0, []string{"the column id holds the images' names or labels: it cannot also assign them to splits"}},
		{"the labels' column", "id,label,split\na,x,train\nb,y,val\n", "label", 0, []string{"the column label holds the images' names or labels"}},
		{"a spec without a column", "id,label,split\na,x,train\nb,y,val\n", "=val", 0, []string{`"=val" names no column`}},
		{"a spec without a value", "id,label,split\na,x,train\nb,y,val\n", "split=", 0, []string{`"split=" gives no value after =`}},
		{"with -val-percent", "id,label,split\na,x,train\nb,y,val\n", "split", 10, []string{"-val-percent 10 and -split-column split both choose the held-out images", "give one of them"}},
		{"no table", "", "split", 0, []string{"-split-column split names a column of the label table, and the folder holds no metadata.csv", "-label-table"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTiny(t, dir, "a.png", 0)
			writeTiny(t, dir, "b.png", 1)
			opt := Options{DataDir: dir, SplitColumn: tc.column, ValPercent: tc.valPercent}
			if tc.content != "" {
				opt.LabelTable = filepath.Join(t.TempDir(), "t.csv")
				writeFile(t, opt.LabelTable, []byte(tc.content))
			}
			for _, split := range []string{SplitTrain, SplitTest} {
				_, err := Open("folder", split, opt)
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("%s split: got %v, want a usage error", split, err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s split: got %q, want it to contain %q", split, err, w)
					}
				}
			}
		})
	}
}
