package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/log"
)

// TestTestSplit: Options.TestSplit "test" reads the test split from test/ alone where val/ is read
// by default, in an image folder and in a folder of shards, numbering its labels by train/'s
// classes and naming it "test"; by a split column it is the test images. A folder without test/,
// -val-percent beside it and an unknown value are usage errors that say what to do.
func TestTestSplit(t *testing.T) {
	root := t.TempDir()
	layout := map[string]map[string]string{ // split: image: class
		"train": {"a/t0.png": "a", "a/t1.png": "a", "b/t2.png": "b", "c/t3.png": "c"},
		"val":   {"a/v0.png": "a", "c/v1.png": "c"},
		"test":  {"b/x0.png": "b", "c/x1.png": "c", "c/x2.png": "c"},
	}
	k := 0
	for split, images := range layout {
		for name := range images {
			writeTiny(t, filepath.Join(root, split), name, k)
			k++
		}
	}
	for _, tc := range []struct{ testSplit, want string }{{"", "val"}, {"val", "val"}, {"test", "test"}} {
		d, err := OpenTest("folder", Options{DataDir: root, TestSplit: tc.testSplit})
		if err != nil {
			t.Fatalf("TestSplit %q: %v", tc.testSplit, err)
		}
		f := d.(*Folder)
		if got := labelsByFile(t, f); f.Dir() != filepath.Join(root, tc.want) || !maps.Equal(got, layout[tc.want]) {
			t.Errorf("TestSplit %q: %s %v, want %s/ %v", tc.testSplit, f.Dir(), got, tc.want, layout[tc.want])
		}
		if info := f.Info(); info.Split != SplitTest || strings.Join(info.ClassNames, " ") != "a b c" {
			t.Errorf("TestSplit %q: split %q, classes %v; want test, and train/'s a b c", tc.testSplit, info.Split, info.ClassNames)
		}
	}

	// The same layout as shards: train/, val/ and test/ folders of one shard each.
	shards := t.TempDir()
	classes := []string{"a", "b", "c"}
	for split, images := range layout {
		files, order := map[string][]byte{}, []string(nil)
		for name, class := range images {
			key := strings.TrimSuffix(filepath.Base(name), ".png")
			files[key+".png"], files[key+".cls"] = tinyPNG(t), []byte(fmt.Sprint(strings.Index("abc", class)))
			order = append(order, key+".png", key+".cls")
		}
		writeTar(t, filepath.Join(shards, split, split+"-000000.tar"), files, order)
		writeFile(t, filepath.Join(shards, split, "classes.txt"), []byte(strings.Join(classes, "\n")+"\n"))
	}
	for _, tc := range []struct{ testSplit, want string }{{"", "val"}, {"test", "test"}} {
		d, err := OpenTest("shards", Options{DataDir: shards, TestSplit: tc.testSplit})
		if err != nil {
			t.Fatalf("shards, TestSplit %q: %v", tc.testSplit, err)
		}
		if info := d.Info(); info.Len != len(layout[tc.want]) || info.Split != SplitTest {
			t.Errorf("shards, TestSplit %q: %d images of split %q; want %s/'s %d, split test", tc.testSplit, info.Len, info.Split, tc.want, len(layout[tc.want]))
		}
	}

	// A split column: its test images, not its val images.
	flat := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id,label,split\n")
	want := map[string]string{}
	for i, r := range splitRows {
		writeTiny(t, flat, r.name+".png", i)
		fmt.Fprintf(&csv, "%s,%s,%s\n", r.name, r.label, r.split)
		if r.split == "test" {
			want[r.name+".png"] = r.label
		}
	}
	table := filepath.Join(t.TempDir(), "t.csv")
	writeFile(t, table, []byte(csv.String()))
	d, err := OpenTest("folder", Options{DataDir: flat, LabelTable: table, SplitColumn: "split", TestSplit: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := labelsByFile(t, d.(*Folder)); !maps.Equal(got, want) || d.Info().Split != SplitTest {
		t.Errorf("the split column's test images: %v (split %q), want %v", got, d.Info().Split, want)
	}
	// The training split does not note the test images as left out: they are the test split.
	tr, err := Open("folder", SplitTrain, Options{DataDir: flat, LabelTable: table, SplitColumn: "split", TestSplit: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var said bytes.Buffer
	tr.(*Folder).WarnLeftOut(log.New(&said))
	if strings.Contains(said.String(), "test split") {
		t.Errorf("the training split logged:\n%s\nwant no note on the test images, scored as the test split", said.String())
	}

	noTest := t.TempDir()
	for _, split := range []string{"train", "val"} {
		for name := range layout[split] {
			writeTiny(t, filepath.Join(noTest, split), name, 0)
		}
	}
	for _, tc := range []struct {
		name string
		opt  Options
		want []string
	}{
		{"no test/", Options{DataDir: noTest, TestSplit: "test"}, []string{"-test-split test reads a test/ folder beside train/, and it holds none", "leave -test-split out"}},
		{"with -val-percent", Options{DataDir: noTest, TestSplit: "test", ValPercent: 10}, []string{"-val-percent 10 holds out its own test split", "give one of them"}},
		{"an unknown value", Options{DataDir: root, TestSplit: "holdout"}, []string{`-test-split "holdout": want val (val/, or else test/) or test (test/ alone)`}},
		{"a fold", Options{DataDir: flat, LabelTable: table, SplitColumn: "split=val", TestSplit: "test"}, []string{"-split-column split=val assigns none: its held-out images are those whose split is \"val\"", "leave -test-split out"}},
	} {
		_, err := OpenTest("folder", tc.opt)
		if !errors.Is(err, ErrUsage) {
			t.Fatalf("%s: %v, want a usage error", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q, want it to contain %q", tc.name, err, w)
			}
		}
	}
	twoWay := filepath.Join(t.TempDir(), "t.csv")
	writeFile(t, twoWay, []byte("id,label,split\na0,ant,train\na1,ant,val\nb0,bee,train\nb1,bee,val\nb2,bee,train\nc0,cow,val\nc1,cow,train\nc2,cow,train\na2,ant,train\n"))
	if _, err := OpenTest("folder", Options{DataDir: flat, LabelTable: twoWay, SplitColumn: "split", TestSplit: "test"}); !errors.Is(err, ErrUsage) ||
		!strings.Contains(err.Error(), "none of the 9 images is in the split column's test split") {
		t.Errorf("a split column without test images: %v; want a usage error that says so", err)
	}
}

// tinyPNG is a 2x2 PNG file's bytes.
func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
