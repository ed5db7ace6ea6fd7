package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/log"
)

// writeTiny writes a 4x4 PNG at dir/name, its colour set by k.
func writeTiny(t *testing.T, dir, name string, k int) {
	t.Helper()
	writePNG(t, filepath.Join(dir, filepath.FromSlash(name)), 4, 4, func(x, y int) color.RGBA { return color.RGBA{uint8(k), 0, 0, 255} })
}

// labelsByFile is each image's class name as f reads it, by its path relative to f's folder.
func labelsByFile(t *testing.T, f *Folder) map[string]string {
	t.Helper()
	info := f.Info()
	got := map[string]string{}
	for i := range info.Len {
		rel, err := filepath.Rel(f.Dir(), f.Path(i))
		if err != nil {
			t.Fatal(err)
		}
		l := f.Label(i)
		if l < 0 || int(l) >= info.NumClasses {
			t.Fatalf("%s: label %d outside [0, %d)", rel, l, info.NumClasses)
		}
		got[filepath.ToSlash(rel)] = info.ClassNames[l]
	}
	return got
}

// TestFolderMetadataLabels: a folder with a metadata table (Hugging Face's imagefolder layout)
// takes each image's label from its row, images in subfolders included (they are not classes);
// the classes are sorted; a CSV written by Excel (a byte order mark, spaces after the commas) reads
// alike; a held-out split without one of the classes numbers the others as the training split
// does; JSON Lines read as CSV does.
func TestFolderMetadataLabels(t *testing.T) {
	root := t.TempDir()
	train := map[string]string{
		"images/a.png": "dog", "images/b.png": "cat", "images/c.png": "bird",
		"images/more/d.png": "dog", "e.png": "cat",
	}
	var csv strings.Builder
	csv.WriteString("\ufefffile_name, id, label\n")
	k := 0
	for _, name := range slices.Sorted(maps.Keys(train)) {
		writeTiny(t, filepath.Join(root, "train"), name, k)
		fmt.Fprintf(&csv, "%s, %d, %s\n", name, k, train[name])
		k++
	}
	writeFile(t, filepath.Join(root, "train", "metadata.csv"), []byte(csv.String()))
	val := map[string]string{"x.png": "dog", "sub/y.png": "cat"}
	writeTiny(t, filepath.Join(root, "val"), "x.png", 1)
	writeTiny(t, filepath.Join(root, "val"), "sub/y.png", 2)
	writeFile(t, filepath.Join(root, "val", "metadata.jsonl"), []byte(`{"file_name": "x.png", "label": "dog", "caption": "a dog"}

{"file_name": "./sub/y.png", "label": "cat"}
`))

	f, err := OpenFolder(root, SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	if got := labelsByFile(t, f); !maps.Equal(got, train) {
		t.Errorf("train labels %v, want %v", got, train)
	}
	if want := []string{"bird", "cat", "dog"}; !slices.Equal(f.Info().ClassNames, want) {
		t.Errorf("classes %v, want %v", f.Info().ClassNames, want)
	}
	d, err := Open("folder", SplitTest, Options{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	v := d.(*Folder)
	if got := labelsByFile(t, v); !maps.Equal(got, val) {
		t.Errorf("val labels %v, want %v", got, val)
	}
	// Numbered as in train/ (bird 0, cat 1, dog 2), not by val's own classes (cat 0, dog 1).
	for i := range v.Info().Len {
		want := map[string]int32{"x.png": 2, "y.png": 1}[filepath.Base(v.Path(i))]
		if v.Label(i) != want {
			t.Errorf("val %s: label %d, want %d (train/'s number)", v.Path(i), v.Label(i), want)
		}
	}
	var logged bytes.Buffer
	f.WarnLeftOut(log.New(&logged))
	if logged.Len() != 0 {
		t.Errorf("a folder whose table lists every image logged:\n%s", logged.String())
	}
}

// TestFolderMetadataNumericLabels: integer labels sort as numbers (2 before 10), so that labels
// 0..K-1 keep their own numbers; a named column is read instead of "label".
func TestFolderMetadataNumericLabels(t *testing.T) {
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("file_name,label,grade\n")
	for i := range 12 {
		name := fmt.Sprintf("%02d.png", i)
		writeTiny(t, dir, name, i)
		fmt.Fprintf(&csv, "%s,%d,%d\n", name, 11-i, i%3)
	}
	writeFile(t, filepath.Join(dir, "metadata.csv"), []byte(csv.String()))
	f, err := OpenFolder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if want := int32(11 - i); f.Label(i) != want {
			t.Errorf("%s: label %d, want %d", f.Path(i), f.Label(i), want)
		}
	}
	if names := f.Info().ClassNames; names[2] != "2" || names[10] != "10" {
		t.Errorf("classes %v, want 0 1 2 ... 11 in numerical order", names)
	}
	t.Chdir(dir) // the folder given as "."
	if here, err := OpenFolder(".", ""); err != nil || here.Label(0) != 11 || here.Info().Len != 12 {
		t.Errorf("the folder as \".\": %v", err)
	}
	g, err := OpenFolderLabels(dir, "", FolderLabels{Column: "grade"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Info().NumClasses != 3 || g.Label(4) != 1 || g.Label(5) != 2 {
		t.Errorf("-label-column grade: %d classes, labels %d %d; want 3 classes, 1 and 2", g.Info().NumClasses, g.Label(4), g.Label(5))
	}
}

// TestFolderMetadataWithoutLabelColumn: a table without a label column (captions) is left aside,
// with a warning naming its columns: the folder reads as class folders. Rows that name no image
// are left out with a warning.
func TestFolderMetadataWithoutLabelColumn(t *testing.T) {
	dir := t.TempDir()
	writeTiny(t, dir, "cat/a.png", 0)
	writeTiny(t, dir, "dog/b.png", 1)
	writeFile(t, filepath.Join(dir, "metadata.csv"), []byte("file_name,caption\ncat/a.png,a cat\n"))
	f, err := OpenFolder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	f.WarnLeftOut(log.New(&logged))
	if f.Info().NumClasses != 2 || f.Ignored() != 0 || !strings.Contains(logged.String(), `no "label" column`) ||
		!strings.Contains(logged.String(), "columns=file_name,caption") {
		t.Errorf("%d classes, %d files ignored, logged:\n%s\nwant the 2 class folders read, the table not counted as ignored, and a warning naming its columns",
			f.Info().NumClasses, f.Ignored(), logged.String())
	}

	writeFile(t, filepath.Join(dir, "metadata.csv"), []byte("file_name,label\ncat/a.png,cat\ndog/b.png,dog\ngone.png,cat\nold/c.jpg,dog\n"))
	if f, err = OpenFolder(dir, ""); err != nil {
		t.Fatal(err)
	}
	logged.Reset()
	f.WarnLeftOut(log.New(&logged))
	if !strings.Contains(logged.String(), "rows=2") || !strings.Contains(logged.String(), `"gone.png old/c.jpg"`) {
		t.Errorf("logged:\n%s\nwant a warning for the 2 rows without images, naming them", logged.String())
	}
}

// TestFolderMetadataErrors: every table that cannot give each image one label is a usage error
// that names the file and the line, and says what to do.
func TestFolderMetadataErrors(t *testing.T) {
	tests := []struct {
		name, table, content, column string
		want                         []string
	}{
		{"image without a row", "metadata.csv", "file_name,label\na.png,cat\n", "",
			[]string{"1 of the 2 images have no row in metadata.csv: [b.png]", "add a row (file_name, label) for each"}},
		{"column named is missing", "metadata.csv", "file_name,label\na.png,cat\nb.png,dog\n", "breed",
			[]string{`metadata.csv: no "breed" column (the columns: file_name, label)`, "name the column of labels with -label-column"}},
		{"no file_name column", "metadata.csv", "id,label\na.png,cat\n", "",
			[]string{"no file_name column (the columns: id, label)", "as Hugging Face's imagefolder reads it"}},
		{"outside the folder", "metadata.csv", "file_name,label\na.png,cat\n../b.png,dog\n", "",
			[]string{`line 3: file_name "../b.png" is not inside the folder`}},
		{"listed twice", "metadata.csv", "file_name,label\na.png,cat\nb.png,dog\n./a.png,dog\n", "",
			[]string{`a.png is listed twice with different labels: "cat" on line 2, "dog" on line 4`}},
		{"empty label", "metadata.csv", "file_name,label\na.png,cat\nb.png, \n", "",
			[]string{"line 3: b.png has no label", "give every image a label"}},
		{"ragged CSV", "metadata.csv", "file_name,label\na.png,cat,x\n", "",
			[]string{"record on line 2: wrong number of fields"}},
		{"empty CSV", "metadata.csv", "", "", []string{"metadata.csv: empty"}},
		{"not JSON", "metadata.jsonl", "{\"file_name\": \"a.png\", \"label\": 1}\nfile_name,label\n", "",
			[]string{"line 2: not a JSON object"}},
		{"label not a string", "metadata.jsonl", "{\"file_name\": \"a.png\", \"label\": true}\n", "",
			[]string{"line 1: label true is neither a string nor a number"}},
		{"file_name not a string", "metadata.jsonl", "{\"file_name\": 3, \"label\": 1}\n", "",
			[]string{"line 1: file_name is 3, not a string"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTiny(t, dir, "a.png", 0)
			writeTiny(t, dir, "b.png", 1)
			writeFile(t, filepath.Join(dir, tc.table), []byte(tc.content))
			_, err := OpenFolderLabels(dir, "", FolderLabels{Column: tc.column})
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("got %v, want a usage error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
	t.Run("both tables", func(t *testing.T) {
		dir := t.TempDir()
		writeTiny(t, dir, "a.png", 0)
		writeFile(t, filepath.Join(dir, "metadata.csv"), []byte("file_name,label\na.png,cat\n"))
		writeFile(t, filepath.Join(dir, "metadata.jsonl"), []byte(`{"file_name": "a.png", "label": "cat"}`))
		if _, err := OpenFolder(dir, ""); err == nil || !strings.Contains(err.Error(), "holds both metadata.csv and metadata.jsonl") {
			t.Fatalf("got %v, want both tables refused", err)
		}
	})
	t.Run("held-out class unknown to train", func(t *testing.T) {
		root := t.TempDir()
		writeTiny(t, filepath.Join(root, "train"), "a.png", 0)
		writeTiny(t, filepath.Join(root, "train"), "b.png", 1)
		writeFile(t, filepath.Join(root, "train", "metadata.csv"), []byte("file_name,label\na.png,cat\nb.png,dog\n"))
		writeTiny(t, filepath.Join(root, "val"), "c.png", 0)
		writeFile(t, filepath.Join(root, "val", "metadata.csv"), []byte("file_name,label\nc.png,fox\n"))
		_, err := Open("folder", SplitTest, Options{DataDir: root})
		if err == nil || !strings.Contains(err.Error(), "classes [fox] are not among those of "+filepath.Join(root, "train")+" ([cat dog])") {
			t.Fatalf("got %v, want the class fox refused", err)
		}
	})
}

// TestFolderLabelTable: a label table outside the folder, as Kaggle ships one (an id column first,
// without the extension, the labels in the second column, named neither file_name nor label),
// labels the images of both splits from one table: held-out images are numbered as the training
// split's, rows of the other split are left out with a warning that says so. It takes the place of
// a metadata table in the folder; a path with its extension reads too; -label-column picks
// another column; JSON Lines read as CSV does; a table kept inside the folder is not a file left
// out.
func TestFolderLabelTable(t *testing.T) {
	root := t.TempDir()
	train := map[string]string{"a.png": "mild", "b.png": "none", "sub/c.png": "severe", "d.png": "none"}
	val := map[string]string{"x.png": "severe", "y.png": "mild"}
	k := 0
	for split, labels := range map[string]map[string]string{"train": train, "val": val} {
		for name := range labels {
			writeTiny(t, filepath.Join(root, split), name, k)
			k++
		}
	}
	// The folder's own table, with other labels: the outside table takes its place.
	writeFile(t, filepath.Join(root, "train", "metadata.csv"), []byte("file_name,label\na.png,x\nb.png,x\nsub/c.png,x\nd.png,x\n"))
	table := filepath.Join(t.TempDir(), "train.csv")
	writeFile(t, table, []byte("image_id,diagnosis,site\na,mild,1\nb,none,2\nsub/c.png,severe,1\nd,none,2\nx,severe,1\ny,mild,2\n"))
	labels := FolderLabels{Table: table}

	f, err := OpenFolderLabels(root, SplitTrain, labels)
	if err != nil {
		t.Fatal(err)
	}
	if got := labelsByFile(t, f); !maps.Equal(got, train) {
		t.Errorf("train labels %v, want %v", got, train)
	}
	if want := []string{"mild", "none", "severe"}; !slices.Equal(f.Info().ClassNames, want) {
		t.Errorf("classes %v, want %v", f.Info().ClassNames, want)
	}
	var logged bytes.Buffer
	f.WarnLeftOut(log.New(&logged))
	if !strings.Contains(logged.String(), "INFO rows of the label table that name no image of this split left out") ||
		!strings.Contains(logged.String(), "rows=2") || !strings.Contains(logged.String(), `"x y"`) {
		t.Errorf("logged:\n%s\nwant a note (not a warning: one table lists every split) that the 2 rows of val/ (x y) name no image of train/", logged.String())
	}
	v, err := OpenFolderLabels(root, SplitTest, labels)
	if err != nil {
		t.Fatal(err)
	}
	if got := labelsByFile(t, v); !maps.Equal(got, val) {
		t.Errorf("val labels %v, want %v", got, val)
	}
	if !slices.Equal(v.Info().ClassNames, f.Info().ClassNames) {
		t.Errorf("val classes %v, want train's %v", v.Info().ClassNames, f.Info().ClassNames)
	}

	site, err := OpenFolderLabels(root, SplitTrain, FolderLabels{Table: table, Column: "site"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a.png": "1", "b.png": "2", "sub/c.png": "1", "d.png": "2"}; !maps.Equal(labelsByFile(t, site), want) {
		t.Errorf("-label-column site: %v, want %v", labelsByFile(t, site), want)
	}

	// A table written on Windows separates folders with backslashes.
	windows := filepath.Join(t.TempDir(), "train.csv")
	writeFile(t, windows, []byte("image_id,diagnosis\r\na,mild\r\nb.png,none\r\nsub\\c,severe\r\nd,none\r\n"))
	if w, err := OpenFolderLabels(root, SplitTrain, FolderLabels{Table: windows}); err != nil || !maps.Equal(labelsByFile(t, w), train) {
		t.Errorf("a table with backslashes and CRLF line ends: %v (%v), want %v", labelsByFile(t, w), err, train)
	}

	jsonl := filepath.Join(t.TempDir(), "labels.jsonl")
	writeFile(t, jsonl, []byte(`{"file_name": "a", "label": "mild"}
{"file_name": "b.png", "label": "none"}
{"file_name": "sub/c", "label": "severe"}
{"file_name": "d", "label": "none"}
`))
	if j, err := OpenFolderLabels(root, SplitTrain, FolderLabels{Table: jsonl}); err != nil || !maps.Equal(labelsByFile(t, j), train) {
		t.Errorf("JSON Lines: %v, want %v (%v)", labelsByFile(t, j), train, err)
	}

	// A table kept in a flat folder beside its images is not counted among the files left out;
	// there, rows without an image are a warning.
	flat := t.TempDir()
	writeTiny(t, flat, "p.png", 0)
	writeTiny(t, flat, "q.png", 1)
	writeFile(t, filepath.Join(flat, "labels.csv"), []byte("id,label\np,cat\nq,dog\ngone,cat\n"))
	g, err := OpenFolderLabels(flat, "", FolderLabels{Table: filepath.Join(flat, "labels.csv")})
	if err != nil || g.Ignored() != 0 || g.Info().NumClasses != 2 {
		t.Fatalf("a table inside the folder: %v; want 2 classes and no file left out", err)
	}
	logged.Reset()
	g.WarnLeftOut(log.New(&logged))
	if !strings.Contains(logged.String(), "WARN rows of the label table name no image in the folder") || !strings.Contains(logged.String(), "first=gone") {
		t.Errorf("logged:\n%s\nwant a warning that the row gone names no image", logged.String())
	}
}

// TestFolderLabelTableErrors: an outside table that cannot label the folder is a usage error that
// says why and what to do.
func TestFolderLabelTableErrors(t *testing.T) {
	tests := []struct {
		name, file, content, column string
		want                        []string
	}{
		{"one column", "t.csv", "id\na\nb\n", "", []string{`no column of labels: no "label" column, and no second column (the columns: id)`, "-label-column"}},
		{"the label column names the images", "t.csv", "id,label\na,cat\nb,dog\n", "id", []string{"the column id names the images: it cannot also hold their labels"}},
		{"column named is missing", "t.csv", "id,label\na,cat\nb,dog\n", "breed", []string{`no "breed" column (the columns: id, label)`}},
		{"names from another folder", "t.csv", "image,label\ntrain_images/a.jpg,cat\ntrain_images/b.jpg,dog\n", "",
			[]string{"2 of the 2 images have no row in", `the table names them as "train_images/a.jpg"`, "relative to"}},
		{"JSON Lines without file_name", "t.jsonl", `{"id": "a", "label": "cat"}`, "", []string{"no file_name column (the columns: id, label)"}},
		{"JSON Lines without labels", "t.jsonl", `{"file_name": "a", "kind": "cat"}`, "", []string{`no column of labels: no "label" column (the columns: file_name, kind)`}},
		{"missing", "", "", "", []string{"give a readable label table (-label-table)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTiny(t, dir, "a.png", 0)
			writeTiny(t, dir, "b.png", 1)
			table := filepath.Join(t.TempDir(), "absent.csv")
			if tc.file != "" {
				table = filepath.Join(t.TempDir(), tc.file)
				writeFile(t, table, []byte(tc.content))
			}
			_, err := OpenFolderLabels(dir, "", FolderLabels{Table: table, Column: tc.column})
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("got %v, want a usage error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
