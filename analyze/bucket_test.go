//go:build !nocloud

package main

import (
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
)

// Runs in a bucket are read from their copies in the cache folder (checkpoints.LocalCopy, tested
// there): a bucket folder without checkpoints is a usage error naming it, for -checkpoints and for
// each run of -compare.
func TestRunsInABucketRefused(t *testing.T) {
	const secret = "analyze-secret"
	remotetest.ServeS3(t, secret, remote.Forget)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for _, args := range [][]string{
		{"-checkpoints", "s3://runs/none/"},
		{"-compare", "s3://runs/none/", "-noise-levels", "0.1"},
	} {
		var code int
		msg := stderr(t, func() { code = run(args) })
		if code != 2 || !strings.Contains(msg, "analyze: no checkpoint in s3://runs/none/") {
			t.Errorf("%q: exit %d, want 2 naming the bucket folder:\n%s", args, code, msg)
		}
	}
}
