package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/encoder/encodertest"
	"github.com/gomlx-ssl/vicreg/internal/cmdtest"
	"github.com/gomlx-ssl/vicreg/train/config"
)

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(args []string) int {
		os.Args = append([]string{"retrieval"}, args...)
		main()
		return 0
	})
}

// retrieval runs the command in a child process in dir; it returns the exit status and the
// output.
func retrieval(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := cmdtest.Command(args...)
	cmd.Dir = dir
	return cmdtest.Output(t, cmd)
}

// TestUsageErrors: an argument that is not a flag, and a count below 1, are usage errors (exit
// status 2, one line naming the argument or flag, no stack trace). A path given without -encoder
// was ignored, and the example embedded with ./encoder.safetensors, another encoder, and exited 0;
// -queries -1 panicked; -k 0 printed queries without neighbours.
func TestUsageErrors(t *testing.T) {
	runs := encodertest.WriteTinyRuns(t, []int64{5}, func(*config.Config) {}, func(*config.Config) {})
	wd := t.TempDir() // holds another run's checkpoint as encoder.safetensors, the default -encoder
	other, err := filepath.Glob(filepath.Join(runs[1], "ckpt-*"+checkpoints.Ext))
	if err != nil || len(other) != 1 {
		t.Fatalf("the other run's checkpoint: %v %v", other, err)
	}
	data, err := os.ReadFile(other[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wd, "encoder.safetensors"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		{[]string{runs[0]}, []string{"unexpected argument", runs[0], "-encoder"}},
		{[]string{"-encoder", runs[0], "-queries", "-1"}, []string{"-queries"}},
		{[]string{"-encoder", runs[0], "-k", "0"}, []string{"-k"}},
		{[]string{"-encoder", runs[0], "-n", "-1"}, []string{"-n"}},
	} {
		code, out := retrieval(t, wd, tc.args...)
		if code != 2 || strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
			t.Errorf("%q: exit %d, want 2 without a stack trace:\n%s", tc.args, code, out)
		}
		for _, w := range tc.wants {
			if !strings.Contains(out, w) {
				t.Errorf("%q: the message does not say %q:\n%s", tc.args, w, out)
			}
		}
	}
}

// folderRun writes an image folder of classes a and b (perTrain and perVal images each, in train/
// and val/) and a tiny run trained on it (16 px views; more changes it further), and returns the
// folder and the run.
func folderRun(t *testing.T, perTrain, perVal int, more func(*config.Config)) (root, run string) {
	t.Helper()
	root = t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"a", "b"}, perTrain)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"a", "b"}, perVal)
	run = encodertest.WriteTinyRuns(t, []int64{5}, func(c *config.Config) {
		c.Dataset, c.DataDir, c.ImageSize = "folder", root, 16
		more(c)
	})[0]
	return root, run
}

// TestDatasetKeepsTheEncodersFolder: -dataset naming the encoder's own data set, without
// -data-dir, reads the folder the encoder was trained on, as evaluate does; the example dropped
// that folder as soon as -dataset was given (for an image folder, an error; for CIFAR, the
// default data folder, another copy or a download).
func TestDatasetKeepsTheEncodersFolder(t *testing.T) {
	root, run := folderRun(t, 4, 3, func(*config.Config) {})
	code, out := retrieval(t, t.TempDir(), "-encoder", run, "-dataset", "folder", "-queries", "2", "-k", "1")
	if code != 0 || !strings.Contains(out, "neighbours with the query's label") {
		t.Errorf("exit %d, want 0 with the neighbours of the queries in %s:\n%s", code, root, out)
	}
}

// TestSkipsBadImagesAsItsRunDid: the encoder of a run trained with -skip-bad-images searches its
// image folder without the images that do not decode, as evaluate and analyze do; the example
// stopped at the first of them (exit 1).
func TestSkipsBadImagesAsItsRunDid(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"a", "b"}, 4)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"a", "b"}, 3)
	if err := os.WriteFile(filepath.Join(root, "val", "b", "bad.jpg"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := encodertest.WriteTinyRuns(t, []int64{5}, func(c *config.Config) {
		c.Dataset, c.DataDir, c.ImageSize, c.SkipBadImages = "folder", root, 16, true
	})[0]
	code, out := retrieval(t, t.TempDir(), "-encoder", run, "-queries", "2", "-k", "1")
	if code != 0 || !strings.Contains(out, "neighbours with the query's label") || strings.Contains(out, "query b/bad.jpg") {
		t.Errorf("exit %d, want 0 with the queries' neighbours among the images that decode:\n%s", code, out)
	}
	// -skip-bad-images=false stops at the bad image, naming it; the flag its message names exists.
	code, out = retrieval(t, t.TempDir(), "-encoder", run, "-queries", "2", "-k", "1", "-skip-bad-images=false")
	if code != 1 || !strings.Contains(out, "bad.jpg") || !strings.Contains(out, "-skip-bad-images") {
		t.Errorf("-skip-bad-images=false: exit %d, want 1 naming bad.jpg and -skip-bad-images:\n%s", code, out)
	}
}

// TestCountOfAFolderRefused: -n given for an image folder, whose images the example cannot take
// the first N of, is a usage error naming -n and the data set (as evaluate's -subset is); it was
// silently ignored and every image searched. -n 0 (every image) is accepted.
func TestCountOfAFolderRefused(t *testing.T) {
	_, run := folderRun(t, 4, 3, func(*config.Config) {})
	code, out := retrieval(t, t.TempDir(), "-encoder", run, "-n", "3", "-queries", "2", "-k", "1")
	if code != 2 || !strings.Contains(out, "-n") || !strings.Contains(out, "-dataset folder") || strings.Contains(out, "neighbours") {
		t.Errorf("-n 3 on a folder: exit %d, want 2 naming -n and the folder, without a search:\n%s", code, out)
	}
	code, out = retrieval(t, t.TempDir(), "-encoder", run, "-n", "0", "-queries", "2", "-k", "1")
	if code != 0 || !strings.Contains(out, "neighbours with the query's label") {
		t.Errorf("-n 0 on a folder: exit %d, want 0 with the neighbours of the queries:\n%s", code, out)
	}
}

// TestCountLargerThanTheTestSplitRefused: -n N larger than the test split's images is a usage
// error naming the split, its size and -n 0, before any image is embedded; it silently searched
// every image. The default -n (1000) stays a cap.
func TestCountLargerThanTheTestSplitRefused(t *testing.T) {
	run := encodertest.WriteTinyRuns(t, []int64{5}, func(*config.Config) {})[0] // synthetic: 4096 test images
	code, out := retrieval(t, t.TempDir(), "-encoder", run, "-n", "5000", "-queries", "2", "-k", "1")
	for _, w := range []string{"-n: 5000", "4096", "test split", "-n 0"} {
		if !strings.Contains(out, w) {
			t.Errorf("-n 5000: the message does not say %q:\n%s", w, out)
		}
	}
	if code != 2 || strings.Contains(out, "neighbours") {
		t.Errorf("-n 5000: exit %d, want 2 without a search:\n%s", code, out)
	}
}

// TestQueriesAndNeighboursBeyondTheImagesRefused: -queries N more than the images searched, and
// -k N more than the other images, are usage errors naming the flag and the count there is,
// before any image is embedded; both were silently cut to what there is (-k 10 listed 5
// neighbours). Their defaults stay caps: on 4 images, 4 queries of 3 neighbours.
func TestQueriesAndNeighboursBeyondTheImagesRefused(t *testing.T) {
	_, run := folderRun(t, 2, 2, func(*config.Config) {})
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"-queries", "5", "-k", "1"}, []string{"-queries: 5", "4 images", "-queries 4"}},
		{[]string{"-queries", "2", "-k", "4"}, []string{"-k: 4", "3 other images", "-k 3"}},
	} {
		code, out := retrieval(t, t.TempDir(), append([]string{"-encoder", run}, tc.args...)...)
		if code != 2 || strings.Contains(out, "query ") || strings.Contains(out, "done=") {
			t.Errorf("%q: exit %d, want 2 before any search:\n%s", tc.args, code, out)
		}
		for _, w := range tc.wants {
			if !strings.Contains(out, w) {
				t.Errorf("%q: the message does not say %q:\n%s", tc.args, w, out)
			}
		}
	}
	code, out := retrieval(t, t.TempDir(), "-encoder", run)
	if code != 0 || strings.Count(out, "query ") != 4 || !strings.Contains(out, " of 12\n") {
		t.Errorf("the defaults on 4 images: exit %d, want 0 with 4 queries of 3 neighbours:\n%s", code, out)
	}
}

// TestNeighboursOfASingleImageNamed: -k given where one image is searched (-n 1) is a usage error
// that says there is no other image and how to search more; it said "give -k 0 or fewer", which
// -k refuses ("must be >= 1").
func TestNeighboursOfASingleImageNamed(t *testing.T) {
	run := encodertest.WriteTinyRuns(t, []int64{5}, func(*config.Config) {})[0]
	code, out := retrieval(t, t.TempDir(), "-encoder", run, "-n", "1", "-k", "1")
	if code != 2 || strings.Contains(out, "-k 0") || !strings.Contains(out, "no other image") || !strings.Contains(out, "-n 2") {
		t.Errorf("-n 1 -k 1: exit %d, want 2 saying there is no other image and to give -n 2 or more:\n%s", code, out)
	}
}

// TestReadsTheRunsLabelsAndSplit: the encoder of a run on a flat folder labelled by a label table,
// with 50% of each class held out, searches the held-out images with the table's labels, as
// evaluate reads them; the example read the folder with its defaults: every image, unlabelled.
func TestReadsTheRunsLabelsAndSplit(t *testing.T) {
	flat := t.TempDir()
	var table strings.Builder
	table.WriteString("id,kind\n")
	names, classes := datasetstest.Flatten(t, flat, datasetstest.WriteImageFolder(t, t.TempDir(), []string{"a", "b"}, 4))
	for i, name := range names {
		table.WriteString(strings.TrimSuffix(name, filepath.Ext(name)) + "," + classes[i] + "\n")
	}
	labels := filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(labels, []byte(table.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run := encodertest.WriteTinyRuns(t, []int64{5}, func(c *config.Config) {
		c.Dataset, c.DataDir, c.ImageSize, c.LabelTable, c.ValPercent = "folder", flat, 16, labels, 50
	})[0]
	code, out := retrieval(t, t.TempDir(), "-encoder", run, "-queries", "4", "-k", "1")
	// 2 of each class's 4 images held out: 4 images searched, each with one neighbour.
	if code != 0 || !strings.Contains(out, "neighbours with the query's label: ") || !strings.Contains(out, " of 4\n") || strings.Contains(out, "label -1") {
		t.Errorf("exit %d, want 0 with the 4 held-out images' neighbours, labelled by the table:\n%s", code, out)
	}
}
