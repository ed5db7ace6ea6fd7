//go:build !nocloud

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// A run in a bucket (as -checkpoint-mirror leaves it, in the tests' fake S3) is evaluated from its
// copy in the cache folder, with the same accuracies as the run's folder on disk; fine-tuning it
// needs -checkpoint-dir, and a bucket folder without checkpoints is refused, before any work.
func TestRunInABucket(t *testing.T) {
	dir := writeTinyRun(t, func(*config.Config) {}, 5)
	const secret = "evaluate-secret"
	f := remotetest.NewS3(t, secret)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && !e.IsDir() {
			f.Objects["runs/tiny/"+e.Name()] = data
		}
	}
	remotetest.AWSEnv(t, f.URL, "AKIDTEST", secret)
	remote.Forget()
	t.Cleanup(remote.Forget)
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
