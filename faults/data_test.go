package faults

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
	"github.com/gomlx-ssl/vicreg/results"
)

// The data faults: image folders of mixed sizes and tar shards, damaged or missing while training.
// They need a train binary that reads folders and shards as streams (datasets.Open, with
// -image-size, -crop-scale, -dataset shards and -skip-bad-images); until it does, they skip with
// the reason, and switch on by themselves once `train -h` lists -image-size.

var (
	dataFlagsOnce sync.Once
	dataFlagsMiss string
)

// needDataFlags skips the test unless the train binary has the streaming data flags.
func needDataFlags(t *testing.T) {
	t.Helper()
	dataFlagsOnce.Do(func() {
		out, _ := exec.Command(bins.train, "-h").CombinedOutput()
		for _, flag := range []string{"-image-size", "-crop-scale", "-skip-bad-images"} {
			if !strings.Contains(string(out), flag) {
				dataFlagsMiss = flag
				return
			}
		}
		if !strings.Contains(string(out), "shards") {
			dataFlagsMiss = "-dataset shards"
		}
	})
	if dataFlagsMiss != "" {
		t.Skipf("the train binary has no %s yet: the data fault cases run once datasets.Open, -image-size, -crop-scale, -dataset shards and -skip-bad-images are wired into train", dataFlagsMiss)
	}
}

// dataArgs is a tiny run on an image folder or shards of 32 px views.
func dataArgs(dataset, dataDir, ckpt string, steps int, extra ...string) []string {
	args := []string{"-dataset", dataset, "-data-dir", dataDir, "-augment", "vicreg", "-image-size", "32",
		"-stem", "cifar", "-width", "4", "-channels", "3", "-expander", "32-32", "-batch-size", "8",
		"-baselines=false", "-probe-epochs", "1", "-log-every", "1", "-seed", "7", "-workers", "2",
		"-steps", fmt.Sprint(steps), "-checkpoint-every", "1", "-keep", "1000", "-checkpoint-dir", ckpt}
	return append(args, extra...)
}

// readResult reads the result.json a finished run wrote into its checkpoint folder dir.
func readResult(t *testing.T, dir string) results.Pretrain {
	t.Helper()
	res, err := results.ReadAs[results.Pretrain](filepath.Join(dir, results.File))
	if err != nil {
		t.Fatal(err)
	}
	return *res
}

// labeledFolder writes root/train and root/val, 2 classes of mixed sizes.
func labeledFolder(t *testing.T) (string, []string) {
	t.Helper()
	root := t.TempDir()
	paths := datasetstest.WriteImageFolder(t, filepath.Join(root, "train"), []string{"cat", "dog"}, 12)
	datasetstest.WriteImageFolder(t, filepath.Join(root, "val"), []string{"cat", "dog"}, 4)
	return root, paths
}

// TestDataFolderAndShardsTrain: a folder of JPEGs and PNGs of mixed sizes trains, and so do the
// same images written as shards by mkshards' library.
func TestDataFolderAndShardsTrain(t *testing.T) {
	needDataFlags(t)
	needXLA(t)
	t.Parallel()
	root, _ := labeledFolder(t)
	r := run(t, bins.train, nil, dataArgs("folder", root, t.TempDir(), 4)...)
	if r.code != 0 {
		t.Fatalf("training on a folder of mixed sizes: exit %d:\n%s", r.code, r.output)
	}
	assertNoStackTrace(t, "folder", r.output)
	shards := t.TempDir()
	for _, split := range []string{"train", "val"} {
		f, err := datasets.OpenFolder(filepath.Join(root, split), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := datasets.WriteShards(f, filepath.Join(shards, split), datasets.ShardOptions{PerShard: 5, Prefix: split}); err != nil {
			t.Fatal(err)
		}
	}
	r = run(t, bins.train, nil, dataArgs("shards", shards, t.TempDir(), 4)...)
	if r.code != 0 {
		t.Fatalf("training on shards: exit %d:\n%s", r.code, r.output)
	}
	assertNoStackTrace(t, "shards", r.output)

	// Class folders without train/ and val/: the test split would be the training images, so the
	// run trains but is not evaluated, and says why (it used to report their "test" accuracy).
	r = run(t, bins.train, nil, dataArgs("folder", filepath.Join(root, "train"), t.TempDir(), 2)...)
	if r.code != 0 || !strings.Contains(r.output, "no held-out images") || strings.Contains(r.output, "Accuracy on") {
		t.Errorf("training on class folders without a val/ split: exit %d, want 0, a warning and no accuracy:\n%s", r.code, r.output)
	}
}

// TestDataBadInput: each bad data argument exits 2 naming the path, each kind of damaged data
// exits 1 naming the file (and the step for an image met while training), never with a stack
// trace.
func TestDataBadInput(t *testing.T) {
	needDataFlags(t)
	needXLA(t)
	t.Parallel()
	empty := t.TempDir()
	noImages := t.TempDir()
	if err := os.WriteFile(filepath.Join(noImages, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt, paths := labeledFolder(t)
	if err := os.WriteFile(paths[3], []byte("not a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	shardDir := t.TempDir()
	good, _ := labeledFolder(t)
	f, _ := datasets.OpenFolder(filepath.Join(good, "train"), "")
	shardPaths, err := datasets.WriteShards(f, shardDir, datasets.ShardOptions{PerShard: 6})
	if err != nil {
		t.Fatal(err)
	}
	truncDir := t.TempDir()
	data, _ := os.ReadFile(shardPaths[0])
	if err := os.WriteFile(filepath.Join(truncDir, "shard-000000.tar"), data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(shardDir, "shard-{000000..000009}.tar")
	unlabelledVal := t.TempDir()
	datasetstest.WriteImageFolder(t, filepath.Join(unlabelledVal, "train"), []string{"cat", "dog"}, 4)
	datasetstest.WriteImageFolder(t, filepath.Join(unlabelledVal, "val"), []string{"."}, 4) // images straight in val/
	for _, tc := range []struct {
		name, dataset, dir string
		code               int
		wants              []string
	}{
		{"empty folder", "folder", empty, 2, []string{empty}},
		{"folder without images", "folder", noImages, 2, []string{noImages, "no .jpg"}},
		{"missing folder", "folder", filepath.Join(empty, "nope"), 2, []string{filepath.Join(empty, "nope")}},
		{"corrupt image", "folder", corrupt, 1, []string{paths[3], "step"}},
		{"missing shards", "shards", missing, 2, []string{"shard-000004.tar"}},
		{"truncated shard", "shards", truncDir, 1, []string{filepath.Join(truncDir, "shard-000000.tar")}},
		{"unlabelled val/", "folder", unlabelledVal, 2, []string{"evaluation images", "not"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, bins.train, nil, dataArgs(tc.dataset, tc.dir, t.TempDir(), 6)...)
			assertNoStackTrace(t, tc.name, r.output)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", r.code, tc.code, r.output)
			}
			for _, w := range tc.wants {
				if !strings.Contains(r.output, w) {
					t.Errorf("the output does not mention %q:\n%s", w, r.output)
				}
			}
		})
	}
	// With -skip-bad-images the corrupt image is logged by name, counted in metrics.jsonl, and the
	// run finishes.
	ck := t.TempDir()
	r := run(t, bins.train, nil, dataArgs("folder", corrupt, ck, 6, "-skip-bad-images")...)
	if r.code != 0 || !strings.Contains(r.output, paths[3]) {
		t.Fatalf("-skip-bad-images: exit %d, want 0 with %s named:\n%s", r.code, paths[3], r.output)
	}
	metrics, _ := os.ReadFile(filepath.Join(ck, "metrics.jsonl"))
	if !strings.Contains(string(metrics), "bad_images") {
		t.Errorf("metrics.jsonl does not count the bad images (a \"bad_images\" field):\n%s", metrics)
	}
}

// TestDataFileDeletedWhileTraining deletes an image once the run has written checkpoints: the run
// stops naming the file (exit 1), the checkpoints written verify, and once the file is back
// -resume finishes the run.
func TestDataFileDeletedWhileTraining(t *testing.T) {
	needDataFlags(t)
	needXLA(t)
	t.Parallel()
	root, paths := labeledFolder(t)
	ck := t.TempDir()
	const steps = 60
	cmd := exec.Command(bins.train, dataArgs("folder", root, ck, steps)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	lines := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			select {
			case lines <- struct{}{}:
			default:
			}
		}
		close(lines)
	}()
	victim := paths[0]
	saved, _ := os.ReadFile(victim)
	deadline := time.Now().Add(10 * time.Minute)
	for !fileExists(ckptPath(ck, 3)) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// Every image is read in each epoch (24 images, batch 8): the run meets the missing file soon.
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	cmd.Wait()
	code := exitCode(cmd.ProcessState)
	output := out.String()
	assertNoStackTrace(t, "file deleted while training", output)
	if code != 1 || !strings.Contains(output, victim) {
		t.Fatalf("exit %d, want 1 naming %s:\n%s", code, victim, output)
	}
	for k := int64(1); k <= 3; k++ {
		loadState(t, ckptPath(ck, int(k))) // fails the test if a checkpoint does not verify
	}
	if err := os.WriteFile(victim, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, bins.train, nil, dataArgs("folder", root, ck, steps, "-resume")...)
	if r.code != 0 {
		t.Fatalf("-resume once the file is back: exit %d:\n%s", r.code, r.output)
	}
}

// TestDataEvaluateOwnImages: evaluate on a run trained on a folder of mixed sizes finds the
// folder through the checkpoint, reads it as training did (streamed, at the run's view size), so
// its kNN accuracy is the run's own, and its encoder export embeds exactly as the checkpoint.
func TestDataEvaluateOwnImages(t *testing.T) {
	needDataFlags(t)
	needXLA(t)
	t.Parallel()
	root, _ := labeledFolder(t)
	ck := t.TempDir()
	if r := run(t, bins.train, nil, dataArgs("folder", root, ck, 2)...); r.code != 0 {
		t.Fatalf("training: exit %d:\n%s", r.code, r.output)
	}
	res := readResult(t, ck)
	out := t.TempDir()
	exported, fromCkpt, fromExport := filepath.Join(out, "e.safetensors"), filepath.Join(out, "ckpt.npy"), filepath.Join(out, "export.npy")
	r := run(t, bins.evaluate, nil, "-checkpoint", ck, "-probe-epochs", "1", "-export-encoder", exported, "-embeddings", fromCkpt)
	assertNoStackTrace(t, "evaluate", r.output)
	if res.KNN == nil {
		t.Fatalf("the run's %s has no kNN accuracy", results.File)
	}
	if want := fmt.Sprintf("kNN (k=20, T=0.07): test %.2f%%", 100**res.KNN); r.code != 0 || !strings.Contains(r.output, want) {
		t.Fatalf("evaluate on the run's folder: exit %d, want 0 and %q (the run's own kNN):\n%s", r.code, want, r.output)
	}
	if r := run(t, bins.evaluate, nil, "-checkpoint", exported, "-probe-epochs", "0", "-knn-k", "0", "-embeddings", fromExport); r.code != 0 {
		t.Fatalf("evaluate on the exported encoder: exit %d:\n%s", r.code, r.output)
	}
	a, errA := os.ReadFile(fromCkpt)
	b, errB := os.ReadFile(fromExport)
	if errA != nil || errB != nil || len(a) < 1000 || !bytes.Equal(a, b) {
		t.Errorf("the exported encoder's embeddings (%d bytes, %v) differ from the checkpoint's (%d bytes, %v)", len(b), errB, len(a), errA)
	}
	// Without a held-out split, a probe is refused rather than scored on the training images.
	r = run(t, bins.evaluate, nil, "-checkpoint", ck, "-data-dir", filepath.Join(root, "train"))
	if r.code != 2 || !strings.Contains(r.output, "no held-out images") {
		t.Errorf("evaluate on class folders without val/: exit %d, want 2 and \"no held-out images\":\n%s", r.code, r.output)
	}
}

// TestDataBadEvaluationImage: an evaluation image that does not decode stops the run at the first
// epoch's evaluation (exit 1, naming it), but the epoch's training is saved first, and -resume
// finishes the run once the image is fixed.
func TestDataBadEvaluationImage(t *testing.T) {
	needDataFlags(t)
	needXLA(t)
	t.Parallel()
	root, _ := labeledFolder(t)
	bad := filepath.Join(root, "val", "cat", "zz-not-an-image.jpg")
	if err := os.WriteFile(bad, []byte("not a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	ck := t.TempDir()
	// 24 training images, batch 8: an epoch is 3 steps; checkpoints only at epoch ends.
	args := dataArgs("folder", root, ck, 6, "-checkpoint-every", "0")
	r := run(t, bins.train, nil, args...)
	assertNoStackTrace(t, "bad evaluation image", r.output)
	if r.code != 1 || !strings.Contains(r.output, bad) || !strings.Contains(r.output, "-resume") {
		t.Fatalf("exit %d, want 1 naming %s and -resume:\n%s", r.code, bad, r.output)
	}
	loadState(t, ckptPath(ck, 3)) // the first epoch's training, saved before the failed evaluation

	// With -skip-bad-images the run finishes, and the accuracies count the 8 good val images of 9.
	skip := t.TempDir()
	if r := run(t, bins.train, nil, dataArgs("folder", root, skip, 3, "-skip-bad-images")...); r.code != 0 {
		t.Fatalf("-skip-bad-images: exit %d:\n%s", r.code, r.output)
	}
	if res := readResult(t, skip); res.EvalImages != 8 {
		t.Errorf("-skip-bad-images: eval_images %d, want the 8 that decode", res.EvalImages)
	}
	// evaluate.py's protocol on that encoder skips the bad image as its run did; on the encoder of
	// the run that did not skip, it stops naming the file, and -skip-bad-images (a flag evaluate
	// has, as its message says) gets it through.
	ft := []string{"-weights", "freeze", "-epochs", "1", "-baseline=false", "-batch-size", "8"}
	if r := run(t, bins.evaluate, nil, append([]string{"-checkpoint", skip, "-checkpoint-dir", t.TempDir()}, ft...)...); r.code != 0 {
		t.Errorf("evaluate -weights freeze on the encoder of a -skip-bad-images run: exit %d, want 0:\n%s", r.code, r.output)
	}
	if r := run(t, bins.evaluate, nil, append([]string{"-checkpoint", ck, "-checkpoint-dir", t.TempDir()}, ft...)...); r.code != 1 || !strings.Contains(r.output, bad) {
		t.Errorf("evaluate -weights freeze with a bad image: exit %d, want 1 naming %s:\n%s", r.code, bad, r.output)
	}
	if r := run(t, bins.evaluate, nil, append([]string{"-checkpoint", ck, "-checkpoint-dir", t.TempDir(), "-skip-bad-images"}, ft...)...); r.code != 0 {
		t.Errorf("evaluate -weights freeze -skip-bad-images: exit %d, want 0:\n%s", r.code, r.output)
	}

	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	if r := run(t, bins.train, nil, append(args, "-resume")...); r.code != 0 || !strings.Contains(r.output, "resuming") {
		t.Fatalf("-resume once the image is gone: exit %d, want 0 resuming from step 3:\n%s", r.code, r.output)
	}
	loadState(t, ckptPath(ck, 6))
}

// TestBadImageSaysHowToResume: a run stopped by a bad training image, during training or in the
// final evaluation, names the checkpoint it saved and says to continue with -resume after
// replacing the image, not deleting it (-resume refuses a training set of another size).
func TestBadImageSaysHowToResume(t *testing.T) {
	needDataFlags(t)
	needXLA(t)
	t.Parallel()
	root, paths := labeledFolder(t)
	bad := paths[len(paths)-1]
	good, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	ck := t.TempDir()
	if r := run(t, bins.train, nil, dataArgs("folder", root, ck, 2)...); r.code != 0 {
		t.Fatalf("the run before the damage: exit %d:\n%s", r.code, r.output)
	}
	if err := os.WriteFile(bad, good[:len(good)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	advice := "must be replaced with a good one, not deleted"

	// The final evaluation of the finished run (-resume trains nothing) meets the image.
	r := run(t, bins.train, nil, dataArgs("folder", root, ck, 2, "-resume")...)
	assertNoStackTrace(t, "final evaluation", r.output)
	saved := filepath.Join(ck, "ckpt-000000002.safetensors")
	for _, w := range []string{bad, "the trained checkpoint " + saved + " is saved", "-resume", advice} {
		if !strings.Contains(r.output, w) {
			t.Errorf("final evaluation: the output does not say %q:\n%s", w, r.output)
		}
	}
	if r.code != 1 {
		t.Errorf("final evaluation: exit %d, want 1", r.code)
	}

	// A new run meets it while training, after its first checkpoints (every step; an epoch is 3).
	ck2 := t.TempDir()
	r = run(t, bins.train, nil, dataArgs("folder", root, ck2, 6)...)
	assertNoStackTrace(t, "training", r.output)
	if r.code != 1 || !strings.Contains(r.output, bad) {
		t.Fatalf("training: exit %d, want 1 naming %s:\n%s", r.code, bad, r.output)
	}
	latest, err := (&checkpoints.Manager{Dir: ck2}).List()
	if err != nil || len(latest) == 0 {
		t.Fatalf("training: no checkpoint before the bad image (%v); choose another image:\n%s", err, r.output)
	}
	for _, w := range []string{"the training up to " + latest[len(latest)-1] + " is saved", "continue with -resume", advice} {
		if !strings.Contains(r.output, w) {
			t.Errorf("training: the output does not say %q:\n%s", w, r.output)
		}
	}

	// As the message says: the image replaced, -resume finishes both runs.
	if err := os.WriteFile(bad, good, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{ck, ck2} {
		steps := map[string]int{ck: 2, ck2: 6}[dir]
		if r := run(t, bins.train, nil, dataArgs("folder", root, dir, steps, "-resume")...); r.code != 0 {
			t.Errorf("-resume in %s after replacing the image: exit %d:\n%s", dir, r.code, r.output)
		}
	}
}
