//go:build !nocloud

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// A run in a bucket (as -checkpoint-mirror leaves it, in the tests' fake S3) is evaluated from its
// copy in the cache folder, with the same accuracies as the run's folder on disk; fine-tuning it
// needs -checkpoint-dir, and a bucket folder without checkpoints is refused, before any work.
func TestRunInABucket(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	f := remotetest.ServeS3(t, "evaluate-secret", remote.Forget)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && !e.IsDir() {
			f.Objects["runs/tiny/"+e.Name()] = data
		}
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())

	args := []string{"-subset", "40", "-probe-epochs", "0", "-knn-k", "3"}
	local := evaluate(t, append([]string{"-checkpoint", dir}, args...)...)
	fromBucket := evaluate(t, append([]string{"-checkpoint", "s3://runs/tiny/"}, args...)...)
	if local.code != 0 || fromBucket.code != 0 {
		t.Fatalf("exit %d on disk, %d from the bucket:\n%s", local.code, fromBucket.code, fromBucket.stderr)
	}
	knn := func(out string) string {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "kNN") {
				return line
			}
		}
		return ""
	}
	if knn(local.stdout) == "" || knn(fromBucket.stdout) != knn(local.stdout) {
		t.Fatalf("kNN from the bucket %q, on disk %q", knn(fromBucket.stdout), knn(local.stdout))
	}
	refused(t, []string{"-checkpoint", "s3://runs/tiny/", "-weights", "freeze"}, "-checkpoint-dir: with an encoder in a bucket (s3://runs/tiny/), name the folder of the fine-tuning runs")
	refused(t, append([]string{"-checkpoint", "s3://runs/none/"}, args...), "-checkpoint: no checkpoint in s3://runs/none/")
}

// Fine-tuning runs mirrored to a bucket (-checkpoint-mirror; the baseline's beside, in
// PREFIX-scratch/) leave their folders' copies there; on "another machine" (the folders deleted),
// -resume restores them into new folders and measures the same accuracies. A local path, or the
// flag without -weights, is refused.
func TestFineTuningMirrored(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	f := remotetest.ServeS3(t, "evaluate-secret", remote.Forget)

	args := []string{"-checkpoint", dir, "-weights", "freeze", "-train-percent", "1", "-epochs", "1", "-eval-subset", "64", "-checkpoint-mirror", "s3://runs/ft/"}
	ft := filepath.Join(t.TempDir(), "ft")
	first := evaluate(t, append(args, "-checkpoint-dir", ft)...)
	if first.code != 0 {
		t.Fatalf("exit %d:\n%s", first.code, first.stderr)
	}
	f.HoldsFolder(t, ft, "runs/ft/", checkpoints.Mirrored)
	f.HoldsFolder(t, ft+"-scratch", "runs/ft-scratch/", checkpoints.Mirrored)
	if t.Failed() {
		return
	}
	for _, d := range []string{ft, ft + "-scratch"} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere := filepath.Join(t.TempDir(), "ft")
	again := evaluate(t, append(args, "-checkpoint-dir", elsewhere, "-resume")...)
	if again.code != 0 || strings.Count(again.stderr, "restored the run's newer checkpoints from the bucket") != 2 {
		t.Fatalf("resumed elsewhere: exit %d, want 0 with both runs restored:\n%s", again.code, again.stderr)
	}
	accuracies := func(out string) string { // the table, without the folders' line
		_, acc, _ := strings.Cut(out, "test accuracy")
		acc, _, _ = strings.Cut(acc, "runs (")
		return acc
	}
	if accuracies(first.stdout) == "" || accuracies(again.stdout) != accuracies(first.stdout) {
		t.Errorf("restored elsewhere, the accuracies\n%s\nwant the first machine's\n%s", accuracies(again.stdout), accuracies(first.stdout))
	}
	if _, err := os.Stat(filepath.Join(elsewhere+"-scratch", "config.json")); err != nil {
		t.Errorf("the baseline was not restored into its folder: %v", err)
	}
	refused(t, append(args[:len(args)-1], "/tmp/mirror", "-checkpoint-dir", filepath.Join(t.TempDir(), "ft")), `-checkpoint-mirror: "/tmp/mirror" is not a bucket folder`)
	refused(t, []string{"-checkpoint", dir, "-subset", "40", "-probe-epochs", "0", "-knn-k", "3", "-checkpoint-mirror", "s3://runs/x/"}, "-checkpoint-mirror")
}
