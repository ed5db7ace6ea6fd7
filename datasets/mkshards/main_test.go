package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/cmdtest"
)

func writeImages(t *testing.T, dir string, n int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		img := image.NewGray(image.Rect(0, 0, 5+i, 4))
		img.SetGray(0, 0, color.Gray{uint8(i)})
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
	}
}

// TestMkshards: train/ and val/ become out/train and out/val shards that OpenShards reads back
// with the classes; a second run into the same folder is refused (exit 2, nothing written); bad
// flags and folders exit 2, a non-image exits 1.
func TestMkshards(t *testing.T) {
	in := t.TempDir()
	writeImages(t, filepath.Join(in, "train", "cat"), 4)
	writeImages(t, filepath.Join(in, "train", "dog"), 3)
	writeImages(t, filepath.Join(in, "val", "cat"), 1)
	writeImages(t, filepath.Join(in, "val", "dog"), 2)
	out := filepath.Join(t.TempDir(), "shards")
	if code := run([]string{"-in", in, "-out", out, "-per-shard", "3"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for split, want := range map[string]int{datasets.SplitTrain: 7, datasets.SplitTest: 3} {
		s, err := datasets.OpenShards(out, split)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != want || s.Info().NumClasses != 2 || s.Info().ClassNames[1] != "dog" {
			t.Fatalf("%s: %d samples, classes %v", split, s.Len(), s.Info().ClassNames)
		}
	}
	if n, _ := filepath.Glob(filepath.Join(out, "train", "train-*.tar")); len(n) != 3 {
		t.Fatalf("%d train shards, want 3", len(n))
	}
	bad := t.TempDir()
	writeImages(t, bad, 2)
	os.WriteFile(filepath.Join(bad, "z.png"), []byte("not a png"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"again into the same folder", []string{"-in", in, "-out", out}, 2},
		{"no -in", []string{"-out", t.TempDir()}, 2},
		{"missing -in", []string{"-in", filepath.Join(in, "nope"), "-out", t.TempDir()}, 2},
		{"empty -in", []string{"-in", t.TempDir(), "-out", t.TempDir()}, 2},
		{"bad -per-shard", []string{"-in", in, "-out", t.TempDir(), "-per-shard", "0"}, 2},
		{"-out is -in", []string{"-in", bad, "-out", bad}, 2},
		{"-verify true", []string{"-verify", "true", "-in", bad, "-out", t.TempDir()}, 2},
		{"-out inside -in", []string{"-in", bad, "-out", filepath.Join(bad, "shards")}, 2},
		{"not an image", []string{"-in", bad, "-out", t.TempDir()}, 1},
		{"not an image, skipped", []string{"-in", bad, "-out", t.TempDir(), "-skip-bad-images"}, 0},
	} {
		if code := run(tc.args); code != tc.code {
			t.Errorf("%s: exit %d, want %d", tc.name, code, tc.code)
		}
	}

	// A bad image in val/, met after train/ is written: the train shards are removed again, so
	// that the same command with -skip-bad-images runs into the same folder.
	badVal := t.TempDir()
	writeImages(t, filepath.Join(badVal, "train", "cat"), 3)
	writeImages(t, filepath.Join(badVal, "val", "cat"), 2)
	os.WriteFile(filepath.Join(badVal, "val", "cat", "z.png"), []byte("not a png"), 0o644)
	out2 := filepath.Join(t.TempDir(), "shards")
	if code := run([]string{"-in", badVal, "-out", out2, "-per-shard", "2"}); code != 1 {
		t.Errorf("a bad image in val/: exit %d, want 1", code)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		left, _ := filepath.Glob(filepath.Join(out2, "*", "*"))
		t.Errorf("the failed run left -out behind (it did not exist before): %v", left)
	}
	if code := run([]string{"-in", badVal, "-out", out2, "-per-shard", "2", "-skip-bad-images"}); code != 0 {
		t.Errorf("again with -skip-bad-images: exit %d, want 0", code)
	}
}

// TestVerify: a PNG truncated past its header passes the header check into the shards; -verify
// decodes it and stops (exit 1, nothing written, the train shards removed), and with
// -skip-bad-images leaves it out.
func TestVerify(t *testing.T) {
	in := t.TempDir()
	writeImages(t, filepath.Join(in, "train", "cat"), 3)
	writeImages(t, filepath.Join(in, "val", "cat"), 3)
	damaged := filepath.Join(in, "val", "cat", "b.png")
	data, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged, data[:len(data)-20], 0o644); err != nil {
		t.Fatal(err)
	}
	count := func(out, split string) int {
		s, err := datasets.OpenShards(out, split)
		if err != nil {
			t.Fatal(err)
		}
		return s.Len()
	}
	out := filepath.Join(t.TempDir(), "shards")
	if code := run([]string{"-in", in, "-out", out}); code != 0 || count(out, datasets.SplitTest) != 3 {
		t.Fatalf("without -verify: exit %d, want 0 with the truncated PNG in the shards", code)
	}
	out = filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", out, "-verify"); code != 1 ||
		!strings.Contains(stderr, damaged+" did not decode") || !strings.Contains(stderr, "rerun with -skip-bad-images to leave it out") {
		t.Errorf("-verify: exit %d, want 1 naming %s and what to do:\n%s", code, damaged, stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(out, "*", "*.tar")); len(left) != 0 {
		t.Errorf("-verify that failed left shards behind: %v", left)
	}
	if code := run([]string{"-in", in, "-out", out, "-verify", "-skip-bad-images"}); code != 0 {
		t.Fatalf("-verify -skip-bad-images: exit %d, want 0", code)
	}
	if n, m := count(out, datasets.SplitTrain), count(out, datasets.SplitTest); n != 3 || m != 2 {
		t.Errorf("-verify -skip-bad-images: %d train and %d val samples, want 3 and 2", n, m)
	}
}

// TestSplitClassesNumberedAsTrain: a val/ without one of train/'s class folders (bird and dog
// against bird, cat and dog) is written with train/'s numbers (dog 2, not 1) and classes.txt; a
// val/ with a class that train/ lacks is refused before anything is written (exit 2, naming both
// class lists).
func TestSplitClassesNumberedAsTrain(t *testing.T) {
	in := t.TempDir()
	for _, c := range []string{"bird", "cat", "dog"} {
		writeImages(t, filepath.Join(in, "train", c), 2)
	}
	writeImages(t, filepath.Join(in, "val", "bird"), 1)
	writeImages(t, filepath.Join(in, "val", "dog"), 1)
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", out, "-no-shuffle"); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	if got := shardLabels(t, filepath.Join(out, "val")); got != "0 2" {
		t.Errorf("val labels %q, want \"0 2\" (bird and dog numbered as in train/)", got)
	}
	if data, err := os.ReadFile(filepath.Join(out, "val", "classes.txt")); err != nil || string(data) != "bird\ncat\ndog\n" {
		t.Errorf("val/classes.txt %q (%v), want train/'s three classes", data, err)
	}

	writeImages(t, filepath.Join(in, "val", "fox"), 1)
	out = filepath.Join(t.TempDir(), "shards")
	code, stderr := runStderr(t, "-in", in, "-out", out)
	want := "classes [fox] are not among those of " + filepath.Join(in, "train") + " ([bird cat dog])"
	if code != 2 || !strings.Contains(stderr, want) || !strings.Contains(stderr, filepath.Join(in, "val")) {
		t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("-out %s exists after the refusal (%v): nothing should be written", out, err)
	}
}

// TestValidationFolder: a validation/ folder beside train/ (Hugging Face's name) is written as
// val/, which the shards reader takes for the held-out split.
func TestValidationFolder(t *testing.T) {
	in := t.TempDir()
	writeImages(t, filepath.Join(in, "train", "cat"), 2)
	writeImages(t, filepath.Join(in, "validation", "cat"), 3)
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", out); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	s, err := datasets.OpenShards(out, datasets.SplitTest)
	if err != nil || s.Len() != 3 || filepath.Base(filepath.Dir(s.Paths()[0])) != "val" {
		t.Fatalf("held-out shards: %v; want validation/'s 3 images in val/", err)
	}
}

// TestMetadataLabels: a folder labelled by a metadata.csv (images in a subfolder, Hugging Face's
// imagefolder layout) is written with each image's label from its row, in the -label-column
// named; without that column it is refused.
func TestMetadataLabels(t *testing.T) {
	in := t.TempDir()
	writeImages(t, filepath.Join(in, "data"), 4) // a.png .. d.png
	table := "file_name,breed\ndata/a.png,pug\ndata/b.png,corgi\ndata/c.png,pug\ndata/d.png,akita\n"
	if err := os.WriteFile(filepath.Join(in, "metadata.csv"), []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", out, "-no-shuffle", "-label-column", "breed"); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	if got := shardLabels(t, out); got != "2 1 2 0" { // akita 0, corgi 1, pug 2
		t.Errorf("labels %q, want \"2 1 2 0\"", got)
	}
	code, stderr := runStderr(t, "-in", in, "-out", filepath.Join(t.TempDir(), "shards"), "-label-column", "label")
	if code != 2 || !strings.Contains(stderr, `no "label" column (the columns: file_name, breed)`) {
		t.Errorf("-label-column label: exit %d, %s; want 2 and the columns named", code, stderr)
	}

	// A Kaggle-style table outside the folder: ids without extensions, labels in the second
	// column; it takes the place of metadata.csv.
	kaggle := filepath.Join(t.TempDir(), "train.csv")
	if err := os.WriteFile(kaggle, []byte("id,grade\ndata/a,3\ndata/b,10\ndata/c,3\ndata/d,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", out, "-no-shuffle", "-label-table", kaggle); code != 0 {
		t.Fatalf("-label-table: exit %d, %s", code, stderr)
	}
	if got := shardLabels(t, out); got != "1 2 1 0" { // 2, 3, 10 in numerical order
		t.Errorf("-label-table: labels %q, want \"1 2 1 0\"", got)
	}
	if classes, err := os.ReadFile(filepath.Join(out, "classes.txt")); err != nil || string(classes) != "2\n3\n10\n" {
		t.Errorf("-label-table: classes.txt %q (%v), want 2 3 10", classes, err)
	}
}

// TestValPercent: -val-percent writes a folder without val/ as train/ and val/ shards: the images
// that train -val-percent holds out (the same, listed by the datasets package here) in val/, the
// others in train/, with one classes.txt; a folder with a val/ already is refused.
func TestValPercent(t *testing.T) {
	in := t.TempDir()
	writeImages(t, filepath.Join(in, "cat"), 10)
	writeImages(t, filepath.Join(in, "dog"), 10)
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", out, "-val-percent", "20"); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	held, err := datasets.OpenTest("folder", datasets.Options{DataDir: in, ValPercent: 20})
	if err != nil {
		t.Fatal(err)
	}
	var want []string // the held-out images' keys (their paths without the extension)
	for i := range held.Info().Len {
		want = append(want, datasets.ShardKey(in, held.(*datasets.Folder).Path(i)))
	}
	for split, n := range map[string]int{"train": 16, "val": 4} {
		s, err := datasets.OpenShards(filepath.Join(out, split), "")
		if err != nil || s.Len() != n || strings.Join(s.Info().ClassNames, " ") != "cat dog" {
			t.Fatalf("%s: %v; want %d samples of cat and dog", split, err, n)
		}
		for _, m := range shardMembers(t, filepath.Join(out, split)) {
			if key, ok := strings.CutSuffix(m.name, ".png"); ok && slices.Contains(want, key) != (split == "val") {
				t.Errorf("%s: %s is in the wrong split", split, m.name)
			}
		}
	}
	if got := shardLabels(t, filepath.Join(out, "val")); strings.Count(got, "0") != 2 || strings.Count(got, "1") != 2 {
		t.Errorf("val labels %q, want 2 of each class", got)
	}
	writeImages(t, filepath.Join(in, "val", "cat"), 2)
	code, stderr := runStderr(t, "-in", in, "-out", filepath.Join(t.TempDir(), "shards"), "-val-percent", "20")
	if code != 2 || !strings.Contains(stderr, "holds a val/ folder of held-out images already") {
		t.Errorf("-val-percent beside val/: exit %d, %s; want 2 and a usage error", code, stderr)
	}
}

// TestSplitColumn: -split-column writes a folder without val/ as train/ and val/ shards by a
// column of the label table: the images whose fold is 1 in val/, the others in train/, labelled
// by the table; a column of split names with val and test images writes test/ too; given with
// -val-percent, or beside a val/ folder, it is refused.
func TestSplitColumn(t *testing.T) {
	in := t.TempDir()
	writeImages(t, in, 9) // a.png ... i.png
	table := filepath.Join(t.TempDir(), "train.csv")
	var csv strings.Builder
	csv.WriteString("id,label,fold\n")
	wantVal := map[string]bool{}
	for i := range 9 {
		name := string(rune('a' + i))
		fmt.Fprintf(&csv, "%s,%s,%d\n", name, []string{"cat", "dog"}[i%2], i%3)
		wantVal[name] = i%3 == 1
	}
	if err := os.WriteFile(table, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", out, "-label-table", table, "-split-column", "fold=1", "-no-shuffle"); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	for split, n := range map[string]int{"train": 6, "val": 3} {
		s, err := datasets.OpenShards(filepath.Join(out, split), "")
		if err != nil || s.Len() != n || strings.Join(s.Info().ClassNames, " ") != "cat dog" {
			t.Fatalf("%s: %v; want %d samples of cat and dog", split, err, n)
		}
		for _, m := range shardMembers(t, filepath.Join(out, split)) {
			if key, ok := strings.CutSuffix(m.name, ".png"); ok && wantVal[key] != (split == "val") {
				t.Errorf("%s: %s is in the wrong split", split, m.name)
			}
		}
	}
	// b, e and h (i = 1, 4, 7): dog, cat, dog.
	if got := shardLabels(t, filepath.Join(out, "val")); got != "1 0 1" {
		t.Errorf("val labels %q, want 1 0 1 (dog cat dog)", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-split-column", "fold=1", "-val-percent", "10"}, "-val-percent and -split-column both choose the held-out images"},
		{[]string{"-split-column", "=1"}, `-split-column "=1" names no column`},
	} {
		args := append([]string{"-in", in, "-out", filepath.Join(t.TempDir(), "shards"), "-label-table", table}, tc.args...)
		if code, stderr := runStderr(t, args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %s; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	// A column of split names with val and test images: a third split, test/.
	names := filepath.Join(t.TempDir(), "splits.csv")
	if err := os.WriteFile(names, []byte("id,label,split\na,cat,train\nb,dog,val\nc,cat,test\nd,dog,train\ne,cat,train\nf,dog,test\ng,cat,val\nh,dog,train\ni,cat,train\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	three := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", three, "-label-table", names, "-split-column", "split", "-no-shuffle"); code != 0 {
		t.Fatalf("three splits: exit %d, %s", code, stderr)
	}
	for split, want := range map[string]string{"train": "a d e h i", "val": "b g", "test": "c f"} {
		var keys []string
		for _, m := range shardMembers(t, filepath.Join(three, split)) {
			if key, ok := strings.CutSuffix(m.name, ".png"); ok {
				keys = append(keys, key)
			}
		}
		if got := strings.Join(keys, " "); got != want {
			t.Errorf("three splits: %s/ holds %s, want %s", split, got, want)
		}
	}
	if got := shardLabels(t, filepath.Join(three, "test")); got != "0 1" {
		t.Errorf("test/ labels %q, want 0 1 (cat dog)", got)
	}
	writeImages(t, filepath.Join(in, "train"), 2)
	writeImages(t, filepath.Join(in, "val"), 2)
	code, stderr := runStderr(t, "-in", in, "-out", filepath.Join(t.TempDir(), "shards"), "-label-table", table, "-split-column", "fold=1")
	if code != 2 || !strings.Contains(stderr, "-split-column: "+in+" holds a val/ folder of held-out images already: leave -split-column out") {
		t.Errorf("-split-column beside val/: exit %d, %s; want 2 and a usage error", code, stderr)
	}
}

// shardLabels reads the .cls members of the shards in dir, in order.
func shardLabels(t *testing.T, dir string) string {
	t.Helper()
	var labels []string
	for _, m := range shardMembers(t, dir) {
		if strings.HasSuffix(m.name, ".cls") {
			labels = append(labels, strings.TrimSpace(m.data))
		}
	}
	return strings.Join(labels, " ")
}

type member struct{ name, data string }

// shardMembers reads the members of the shards in dir, in order.
func shardMembers(t *testing.T, dir string) []member {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no shards in %s (%v)", dir, err)
	}
	sort.Strings(paths)
	var members []member
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			members = append(members, member{h.Name, string(data)})
		}
		f.Close()
	}
	return members
}

// runStderr runs the command with args and returns its exit status and what it wrote to the
// standard error.
func runStderr(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var code int
	msg := cmdtest.Capture(t, &os.Stderr, func() { code = run(args) })
	return code, msg
}

// The suggested command fits the set: the imagenet preset's batch of 2048 is refused below 2048
// training images, so smaller sets get the README's smaller start with a batch of at most a
// quarter of the images.
func TestSmallSet(t *testing.T) {
	for n, want := range map[int]string{
		5000: "", 2048: "",
		2047: " -model resnet18 -batch-size 256 -epochs 100 -image-size 96",
		66:   " -model resnet18 -batch-size 16 -epochs 100 -image-size 96",
		7:    " -model resnet18 -batch-size 2 -epochs 100 -image-size 96",
	} {
		if got := smallSet(n); got != want {
			t.Errorf("smallSet(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestSplitFolderInOtherCase: with train/ beside Val/ (a split folder named in another case),
// mkshards wrote the train/ shards alone and left the held-out images out without a word; it
// refuses the folder (exit 2, naming Val/), before writing anything.
func TestSplitFolderInOtherCase(t *testing.T) {
	in := t.TempDir()
	writeImages(t, filepath.Join(in, "train", "cat"), 2)
	writeImages(t, filepath.Join(in, "train", "dog"), 2)
	writeImages(t, filepath.Join(in, "Val", "cat"), 1)
	writeImages(t, filepath.Join(in, "Val", "dog"), 1)
	out := filepath.Join(t.TempDir(), "shards")
	code, stderr := runStderr(t, "-in", in, "-out", out)
	if code != 2 || !strings.Contains(stderr, "Val/") || !strings.Contains(stderr, "lower case") {
		t.Fatalf("exit %d, stderr %q; want exit 2 and an error naming Val/", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("-out %s exists after the refusal (%v): nothing should be written", out, err)
	}
}

// TestMain runs the command itself in a child process of the test binary
// (TestInterruptLeavesOutAsItWas's, through cmdtest).
func TestMain(m *testing.M) { cmdtest.Main(m, run) }

// TestInterruptLeavesOutAsItWas: Ctrl-C (SIGINT) while the shards are being written is a failure
// like any other: the command removes the shards it wrote (a partial set, without classes.txt,
// would train on a part of the images, and a second run would refuse the folder), says so, and
// exits with a non-zero status.
func TestInterruptLeavesOutAsItWas(t *testing.T) {
	in := t.TempDir()
	for _, class := range []string{"cat", "dog"} {
		dir := filepath.Join(in, "train", class)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 400 {
			img := image.NewGray(image.Rect(0, 0, 8, 8))
			img.SetGray(0, 0, color.Gray{uint8(i)})
			var buf bytes.Buffer
			png.Encode(&buf, img)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("img%04d.png", i)), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := filepath.Join(t.TempDir(), "shards")
	cmd := cmdtest.Command("-in", in, "-out", out, "-per-shard", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	written := 0
	for deadline := time.Now().Add(30 * time.Second); written < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		shards, _ := filepath.Glob(filepath.Join(out, "train", "*.tar"))
		written = len(shards)
	}
	if written < 3 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no shards written within 30 s:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	shards, _ := filepath.Glob(filepath.Join(out, "train", "*.tar"))
	if err == nil {
		t.Errorf("exit status 0 after SIGINT, with %d of 800 shards written; want a failure", len(shards))
	}
	if len(shards) > 0 {
		t.Errorf("SIGINT left %d shards (of 800) in %s, first %s: -out should be as it was", len(shards), out, shards[0])
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("SIGINT left -out %s behind (it did not exist before): %v", out, err)
	}
	if !strings.Contains(stderr.String(), "mkshards: interrupted") {
		t.Errorf("the command does not say it was interrupted:\n%s", stderr.String())
	}
}

// TestIndex: -index writes, for shards without one, the index.json that writing them writes (the
// same bytes); the index opens to the same samples per shard and classes as the scan. A pattern of
// URLs needs -out; -index with -in is refused.
func TestIndex(t *testing.T) {
	in := t.TempDir()
	writeImages(t, filepath.Join(in, "cat"), 4)
	writeImages(t, filepath.Join(in, "dog"), 3)
	out := filepath.Join(t.TempDir(), "shards")
	if code := run([]string{"-in", in, "-out", out, "-per-shard", "3"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	index := filepath.Join(out, "index.json")
	written, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(index)
	if code := run([]string{"-index", out}); code != 0 {
		t.Fatalf("-index: exit %d", code)
	}
	again, _ := os.ReadFile(index)
	if !bytes.Equal(written, again) {
		t.Fatalf("-index wrote\n%s\nmkshards wrote\n%s", again, written)
	}
	scan, err := datasets.OpenShards(out, "")
	if err != nil {
		t.Fatal(err)
	}
	byIndex, err := datasets.OpenShards(index, "")
	if err != nil {
		t.Fatal(err)
	}
	if byIndex.Len() != 7 || scan.Len() != 7 || fmt.Sprint(byIndex.Info().ClassNames) != "[cat dog]" ||
		fmt.Sprint(byIndex.Paths()) != fmt.Sprint(scan.Paths()) {
		t.Fatalf("index: %d samples %v %v; scan: %d %v", byIndex.Len(), byIndex.Info().ClassNames, byIndex.Paths(), scan.Len(), scan.Paths())
	}
	other := filepath.Join(t.TempDir(), "elsewhere.json")
	if code := run([]string{"-index", filepath.Join(out, "shard-{000000..000002}.tar"), "-out", other}); code != 0 {
		t.Fatalf("-index PATTERN -out FILE: exit %d", code)
	}
	if s, err := datasets.OpenShards(other, ""); err != nil || s.Len() != 7 || fmt.Sprint(s.Paths()) != fmt.Sprint(scan.Paths()) {
		t.Fatalf("an index beside no shard (absolute locations): %v", err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"a URL pattern without -out", []string{"-index", "https://example.com/shard-{000000..000002}.tar"}, 2},
		{"-index and -in", []string{"-index", out, "-in", in}, 2},
		{"no shards", []string{"-index", t.TempDir()}, 2},
	} {
		if code := run(tc.args); code != tc.code {
			t.Errorf("%s: exit %d, want %d", tc.name, code, tc.code)
		}
	}
}

// TestParquet: a Hugging Face data set in Parquet files (push_to_hub's layout) is written as shards
// of each split, validation as val/, with the ClassLabel names as classes.txt and each row's label
// (gen.py's); a test split without labels is written without .cls members. A row without image
// bytes stops the writing (exit 1, naming the file and row), or is left out with -skip-bad-images.
func TestParquet(t *testing.T) {
	hub := filepath.Join("..", "hfdata", "testdata", "hub")
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", hub, "-out", out, "-no-shuffle", "-per-shard", "5", "-verify"); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	// gen.py's labels: cat dog fox dog, repeated, over the 13 train rows; cat and dog in turn in val.
	if got, want := shardLabels(t, filepath.Join(out, "train")), "0 1 2 1 0 1 2 1 0 1 2 1 0"; got != want {
		t.Errorf("train labels %q, want %q", got, want)
	}
	if got, want := shardLabels(t, filepath.Join(out, "val")), "1 0 1 0"; got != want {
		t.Errorf("val labels %q, want %q", got, want)
	}
	for split, want := range map[string]int{"train": 13, "val": 4, "test": 3} {
		s, err := datasets.OpenShards(filepath.Join(out, split), "")
		if err != nil || s.Len() != want {
			t.Fatalf("%s: %v, want %d samples", split, err, want)
		}
		if classes := s.Info().ClassNames; split != "test" && strings.Join(classes, " ") != "cat dog fox" || split == "test" && classes != nil {
			t.Errorf("%s: classes %v", split, classes)
		}
	}
	conv := filepath.Join("..", "hfdata", "testdata", "convert")
	code, stderr := runStderr(t, "-in", conv, "-out", filepath.Join(t.TempDir(), "shards"), "-label-table", "train.csv")
	if code != 2 || !strings.Contains(stderr, "-label-table labels an image folder; "+conv+" holds Parquet files") {
		t.Errorf("-label-table with Parquet files: exit %d, want 2 and a usage error:\n%s", code, stderr)
	}
	code, stderr = runStderr(t, "-in", conv, "-out", filepath.Join(t.TempDir(), "shards"), "-label-column", "breed")
	if bad := filepath.Join(conv, "default", "train", "0000.parquet") + ":row 3"; code != 1 || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "no image bytes") {
		t.Errorf("a row without image bytes: exit %d, want 1 naming %s:\n%s", code, bad, stderr)
	}
	out = filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", conv, "-out", out, "-label-column", "breed", "-skip-bad-images"); code != 0 {
		t.Fatalf("-skip-bad-images: exit %d, %s", code, stderr)
	}
	if s, err := datasets.OpenShards(out, datasets.SplitTrain); err != nil || s.Len() != 4 || strings.Join(s.Info().ClassNames, " ") != "akita corgi pug" {
		t.Errorf("-skip-bad-images: %v; want 4 train samples of classes akita corgi pug", err)
	}
}

// TestArrow: a Hugging Face data set that the datasets library saved (save_to_disk: Arrow files in
// a folder for each split) is written as shards of each split, validation as val/, with the
// ClassLabel names as classes.txt and each row's label (gen_arrow.py's); a test split without
// labels is written without .cls members.
func TestArrow(t *testing.T) {
	saved := filepath.Join("..", "hfdata", "testdata", "saved")
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", saved, "-out", out, "-no-shuffle", "-per-shard", "4", "-verify"); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	if got, want := shardLabels(t, filepath.Join(out, "train")), "0 1 2 1 0 2 2 1 0"; got != want {
		t.Errorf("train labels %q, want %q", got, want)
	}
	if got, want := shardLabels(t, filepath.Join(out, "val")), "1 0 1"; got != want {
		t.Errorf("val labels %q, want %q", got, want)
	}
	for split, want := range map[string]int{"train": 9, "val": 3, "test": 2} {
		s, err := datasets.OpenShards(filepath.Join(out, split), "")
		if err != nil || s.Len() != want {
			t.Fatalf("%s: %v, want %d samples", split, err, want)
		}
		if classes := s.Info().ClassNames; split != "test" && strings.Join(classes, " ") != "cat dog fox" || split == "test" && classes != nil {
			t.Errorf("%s: classes %v", split, classes)
		}
	}
	// A data set on the Hub is downloaded first: -in is a folder.
	t.Setenv("HF_ENDPOINT", "")
	code, stderr := runStderr(t, "-in", "hf://datasets/o/beans/", "-out", filepath.Join(t.TempDir(), "shards"))
	if code != 2 || !strings.Contains(stderr, "-in https://huggingface.co/datasets/o/beans/resolve/main/: a location, not a folder") || !strings.Contains(stderr, "huggingface-cli download --repo-type dataset") {
		t.Errorf("-in hf://...: exit %d, want 2 and a usage error saying to download it:\n%s", code, stderr)
	}
	code, stderr = runStderr(t, "-in", saved, "-out", filepath.Join(t.TempDir(), "shards"), "-val-percent", "10")
	if code != 2 || !strings.Contains(stderr, saved+" holds a val (validation) split of held-out rows already: leave -val-percent out") {
		t.Errorf("-val-percent with a validation split: exit %d, want 2 and a usage error:\n%s", code, stderr)
	}
}

// TestArrowValPercent: -val-percent writes the training split of Arrow files without a validation
// split as train/ and val/ shards, val/ holding the rows that train -val-percent holds out (as
// datasets.Open lists them: round(34%) of each class), train/ the others, and
// the test split as test/; Parquet files are refused.
func TestArrowValPercent(t *testing.T) {
	saved := filepath.Join("..", "hfdata", "testdata", "saved")
	in := t.TempDir()
	for _, f := range []string{"dataset_dict.json", "train/data-00000-of-00002.arrow", "train/data-00001-of-00002.arrow", "train/state.json",
		"train/dataset_info.json", "test/data-00000-of-00001.arrow", "test/state.json", "test/dataset_info.json"} {
		data, err := os.ReadFile(filepath.Join(saved, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(in, f)), 0o755)
		if err := os.WriteFile(filepath.Join(in, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", out, "-val-percent", "34"); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	held, err := datasets.OpenTest("folder", datasets.Options{DataDir: in, ValPercent: 34})
	if err != nil {
		t.Fatal(err)
	}
	heldKeys := map[string]bool{} // the held-out rows' shard keys: the file's stem and the row, as hfdata writes them
	for i := range held.Info().Len {
		file, row, _ := strings.Cut(held.(*datasets.RecordSet).Path(i), ":row ")
		n, _ := strconv.Atoi(row)
		heldKeys[fmt.Sprintf("%s_%09d", strings.TrimSuffix(filepath.Base(file), ".arrow"), n)] = true
	}
	// 3 rows of each of cat, dog and fox: round(34%) of each is 1.
	if len(heldKeys) != 3 {
		t.Fatalf("%d rows held out by datasets.Open, want 3", len(heldKeys))
	}
	seen := map[string]bool{}
	for split, n := range map[string]int{"train": 6, "val": 3, "test": 2} {
		s, err := datasets.OpenShards(filepath.Join(out, split), "")
		if err != nil || s.Len() != n {
			t.Fatalf("%s: %v; want %d samples", split, err, n)
		}
		for _, m := range shardMembers(t, filepath.Join(out, split)) {
			key, _, _ := strings.Cut(m.name, ".")
			if split != "test" && heldKeys[key] != (split == "val") {
				t.Errorf("%s: %s is in the wrong split", split, m.name)
			}
			if split != "test" {
				seen[key] = true
			}
		}
	}
	if len(seen) != 9 {
		t.Errorf("train/ and val/ hold %d distinct rows, want the 9 of the training split", len(seen))
	}
	if got := strings.Fields(shardLabels(t, filepath.Join(out, "val"))); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"0", "1", "2"}) {
		t.Errorf("val labels %q, want one of each class", got)
	}
	conv := filepath.Join("..", "hfdata", "testdata", "convert")
	if code, stderr := runStderr(t, "-in", conv, "-out", filepath.Join(t.TempDir(), "shards"), "-val-percent", "10"); code != 2 ||
		!strings.Contains(stderr, "-val-percent holds out rows of a data set that the datasets library saved as Arrow files") {
		t.Errorf("-val-percent with Parquet files: exit %d, want 2 and a usage error:\n%s", code, stderr)
	}
}

// TestIndexLabelColumn: -index -label-column json:label writes the index of shards whose classes
// are names in their .json members, the names as its classes and the member as its label_member;
// a member that is an image's, and
// -index with the options that read image folders, are refused.
func TestIndexLabelColumn(t *testing.T) {
	images, dir := t.TempDir(), t.TempDir()
	writeImages(t, images, 3)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, class := range []string{"dog", "cat", "dog"} {
		img, err := os.ReadFile(filepath.Join(images, string(rune('a'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		label := []byte(fmt.Sprintf(`{"label": %q}`, class))
		for name, data := range map[string][]byte{fmt.Sprintf("k%d.png", i): img, fmt.Sprintf("k%d.json", i): label} {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
			tw.Write(data)
		}
	}
	tw.Close()
	if err := os.WriteFile(filepath.Join(dir, "shard-000000.tar"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var code int
	stdout := cmdtest.Capture(t, &os.Stdout, func() { code = run([]string{"-index", dir, "-label-column", "json:label"}) })
	if code != 0 || !strings.Contains(stdout, "-dataset shards -data-dir "+filepath.Join(dir, "index.json")) {
		t.Fatalf("-index -label-column json:label: exit %d, %s; want the train command", code, stdout)
	}
	idx, err := datasets.ReadShardIndex(filepath.Join(dir, "index.json"))
	if err != nil || !slices.Equal(idx.Classes, []string{"cat", "dog"}) || !slices.Equal(idx.ClassCounts, []int{1, 2}) || idx.LabelMember != "json:label" {
		t.Fatalf("index: %v, classes %q, counts %v, label member %q; want [cat dog], [1 2], json:label", err, idx.Classes, idx.ClassCounts, idx.LabelMember)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-index", dir, "-label-column", "png"}, `-label-column "png" is an image member's extension`},
		{[]string{"-index", dir, "-label-table", "labels.csv"}, "-index writes the index of shards as they are"},
		{[]string{"-index", dir, "-label-column", "label"}, "no sample has a .label member"},
	} {
		if code, stderr := runStderr(t, tc.args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, %s; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestTFRecord: a folder that TensorFlow Datasets prepared, and TensorFlow's ImageNet files, are
// written as shards of each split (validation as val/), each record's label as TensorFlow reads
// it (../tfrecord/testdata/expected.json), in the files' order with -no-shuffle; the classes are
// TensorFlow Datasets' label.labels.txt, or the labels' numbers, or with -label-column a bytes
// feature's names, sorted.
func TestTFRecord(t *testing.T) {
	testdata := filepath.Join("..", "tfrecord", "testdata")
	raw, err := os.ReadFile(filepath.Join(testdata, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string][]struct{ Label int }
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatal(err)
	}
	labels := func(files ...string) string {
		var out []string
		for _, f := range files {
			for _, r := range expected[f] {
				out = append(out, fmt.Sprint(r.Label))
			}
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		in, column string
		splits     map[string]string // split → labels
		classes    string
	}{
		{"tfds/tinyshapes/1.0.0", "", map[string]string{
			"train": labels("tfds/tinyshapes/1.0.0/tinyshapes-train.tfrecord-00000-of-00001"),
			"test":  labels("tfds/tinyshapes/1.0.0/tinyshapes-test.tfrecord-00000-of-00001")}, "circle\nsquare\ntriangle\n"},
		{"imagenet", "", map[string]string{
			"train": labels("imagenet/train-00000-of-00002", "imagenet/train-00001-of-00002"),
			"val":   labels("imagenet/validation-00000-of-00001")}, "0\n1\n2\n3\n"},
		// gen.py's names: 1 tench, 2 goldfish, 3 great white shark; sorted: goldfish 0, shark 1, tench 2.
		{"imagenet", "image/class/text", map[string]string{"train": "2 1 0 2 0", "val": "1 2"}, "goldfish\ngreat white shark\ntench\n"},
	} {
		out := filepath.Join(t.TempDir(), "shards")
		args := []string{"-in", filepath.Join(testdata, tc.in), "-out", out, "-no-shuffle", "-verify"}
		if tc.column != "" {
			args = append(args, "-label-column", tc.column)
		}
		if code, stderr := runStderr(t, args...); code != 0 {
			t.Fatalf("%s: exit %d, %s", tc.in, code, stderr)
		}
		for split, want := range tc.splits {
			if got := shardLabels(t, filepath.Join(out, split)); got != want {
				t.Errorf("%s %s %s: labels %q, want %q", tc.in, tc.column, split, got, want)
			}
			if got, _ := os.ReadFile(filepath.Join(out, split, "classes.txt")); string(got) != tc.classes {
				t.Errorf("%s %s %s: classes.txt %q, want %q", tc.in, tc.column, split, got, tc.classes)
			}
		}
	}
	if code, stderr := runStderr(t, "-in", filepath.Join(testdata, "imagenet"), "-out", t.TempDir(), "-val-percent", "10"); code != 2 || !strings.Contains(stderr, "holds TFRecord files, whose splits are their own") {
		t.Errorf("-val-percent of TFRecord files: exit %d, %s", code, stderr)
	}
}

// TestILSVRC: a folder of ImageNet's ILSVRC2012 archives is written as train/ and val/ shards
// whose images and labels are those torchvision's ImageNet reads from the archives
// (../testdata/ilsvrc/expected.json), the classes (WNIDs) in classes.txt; the validation archive
// without the development kit, and a label table or column, are refused.
func TestILSVRC(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the archives' listings kept here, not in the user's cache
	testdata := filepath.Join("..", "testdata", "ilsvrc")
	raw, err := os.ReadFile(filepath.Join(testdata, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Classes    []string
		Train, Val [][2]any // [SHA-256, target]
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(testdata, "archives")
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", in, "-out", out, "-per-shard", "4", "-verify"); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	for split, pairs := range map[string][][2]any{"train": ref.Train, "val": ref.Val} {
		var want, got []string
		for _, p := range pairs {
			want = append(want, fmt.Sprintf("%s %v", p[0], p[1]))
		}
		members := shardMembers(t, filepath.Join(out, split))
		for i := 0; i+1 < len(members); i += 2 { // KEY.jpg (or .png) then KEY.cls
			sum := sha256.Sum256([]byte(members[i].data))
			got = append(got, hex.EncodeToString(sum[:])+" "+members[i+1].data)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: images and labels\n%q\ntorchvision's\n%q", split, got, want)
		}
		if got, _ := os.ReadFile(filepath.Join(out, split, "classes.txt")); string(got) != strings.Join(ref.Classes, "\n")+"\n" {
			t.Errorf("%s: classes.txt %q, want %q", split, got, ref.Classes)
		}
	}
	// The training archive alone, with -val-percent: train/ and val/ hold the images that
	// -val-percent keeps and holds out of the archive extracted (train/WNID/NAME).
	trainOnly := t.TempDir()
	data, err := os.ReadFile(filepath.Join(in, "ILSVRC2012_img_train.tar"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(trainOnly, "ILSVRC2012_img_train.tar"), data, 0o644)
	extracted := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(data))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		inner, _ := io.ReadAll(tr)
		itr := tar.NewReader(bytes.NewReader(inner))
		for ih, err := itr.Next(); err == nil; ih, err = itr.Next() {
			img, _ := io.ReadAll(itr)
			p := filepath.Join(extracted, "train", strings.TrimSuffix(h.Name, ".tar"), ih.Name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, img, 0o644)
		}
	}
	keys := func(dir string) []string {
		var k []string
		for _, m := range shardMembers(t, dir) {
			if !strings.HasSuffix(m.name, ".cls") {
				k = append(k, path.Base(strings.TrimSuffix(m.name, filepath.Ext(m.name)))) // an image folder's keys hold its class folder
			}
		}
		slices.Sort(k)
		return k
	}
	var fromArchive string
	for _, from := range []string{trainOnly, extracted} {
		out := filepath.Join(t.TempDir(), "shards")
		if code, stderr := runStderr(t, "-in", from, "-out", out, "-val-percent", "34"); code != 0 {
			t.Fatalf("-val-percent 34 of %s: exit %d, %s", from, code, stderr)
		}
		if from == trainOnly {
			fromArchive = out // compared with the extracted folder's below
			continue
		}
		for _, split := range []string{"train", "val"} {
			got, want := keys(filepath.Join(fromArchive, split)), keys(filepath.Join(out, split))
			if !slices.Equal(got, want) || len(got) == 0 {
				t.Errorf("-val-percent 34, %s: %q; from the extracted folder, %q", split, got, want)
			}
		}
	}
	noDevkit := t.TempDir()
	for _, name := range []string{"ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"} {
		data, err := os.ReadFile(filepath.Join(in, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(noDevkit, name), data, 0o644)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-in", noDevkit}, "not the development kit that labels its images (ILSVRC2012_devkit_t12.tar.gz"},
		{[]string{"-in", in, "-label-column", "label"}, "holds ImageNet's ILSVRC2012 archives, labelled by their class tars"},
		{[]string{"-in", in, "-val-percent", "10"}, "holds ILSVRC2012_img_val.tar, the held-out images already: leave -val-percent out"},
		{[]string{"-in", in, "-split-column", "fold"}, "holds ImageNet's ILSVRC2012 archives: give -val-percent instead"},
	} {
		if code, stderr := runStderr(t, append(c.args, "-out", t.TempDir())...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, %s; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestKaggleImageNet: Kaggle's copy of ImageNet is written from its CLS-LOC folder, val/ labelled
// by LOC_val_solution.csv three folders up (numbered by train/'s classes) and test/ unlabelled;
// the download's top folder is refused, naming the folder to give.
func TestKaggleImageNet(t *testing.T) {
	root := t.TempDir()
	images := filepath.Join(root, "ILSVRC", "Data", "CLS-LOC")
	writeImages(t, filepath.Join(images, "train", "n01440764"), 2)
	writeImages(t, filepath.Join(images, "train", "n02119789"), 2)
	writeImages(t, filepath.Join(images, "test"), 2)
	writeImages(t, filepath.Join(images, "val"), 3) // a.png, b.png, c.png
	os.WriteFile(filepath.Join(root, "LOC_val_solution.csv"), []byte("ImageId,PredictionString\nb,n01440764 0 0 1 1\nc,n02119789 0 0 2 2 n02119789 1 1 2 2\na,n02119789 1 1 3 3\n"), 0o644)
	out := filepath.Join(t.TempDir(), "shards")
	if code, stderr := runStderr(t, "-in", images, "-out", out, "-no-shuffle"); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	if got := shardLabels(t, filepath.Join(out, "val")); got != "1 0 1" {
		t.Errorf("val labels %q, want 1 0 1 (a, b, c: n02119789, n01440764, n02119789)", got)
	}
	if got := shardLabels(t, filepath.Join(out, "test")); got != "" {
		t.Errorf("test labels %q, want none", got)
	}
	if code, stderr := runStderr(t, "-in", root, "-out", t.TempDir()); code != 2 || !strings.Contains(stderr, "give "+images+" instead") {
		t.Errorf("the top folder: exit %d, %s", code, stderr)
	}
}
