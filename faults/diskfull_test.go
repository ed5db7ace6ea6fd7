package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiskFullDuringCheckpointWrite resumes the reference run's checkpoint of step 10 under a
// file-size limit of half a checkpoint (`ulimit -f`: Go ignores SIGXFSZ, so the write fails with
// EFBIG, as it would with ENOSPC on a full disk). The run must fail at once with exit status 1 and
// a message naming the checkpoint it could not write and saying the previous ones are intact; the
// folder must hold the step-10 checkpoint, still verifying, and no partial or temporary file; a
// later -resume without the limit must finish with exactly the uninterrupted run's variables.
func TestDiskFullDuringCheckpointWrite(t *testing.T) {
	needXLA(t)
	t.Parallel()
	ref := reference(t)
	const k = 10
	dir := t.TempDir()
	copyFile(t, ckptPath(ref, k), ckptPath(dir, k))
	st, err := os.Stat(ckptPath(dir, k))
	if err != nil {
		t.Fatal(err)
	}
	limitKiB := st.Size() / 1024 / 2
	args := append([]string{"-c", fmt.Sprintf(`ulimit -f %d && exec "$0" "$@"`, limitKiB), bins.train}, tinyArgs(dir, "-resume")...)
	r := run(t, "bash", nil, args...)
	t.Logf("disk full (file-size limit %d KiB, checkpoint %d KiB): exit %d after %s", limitKiB, st.Size()/1024, r.code, r.wall.Round(1e6))
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1:\n%s", r.code, r.output)
	}
	assertNoStackTrace(t, "disk full", r.output)
	for _, want := range []string{ckptPath(dir, k+1), "file too large", "previous checkpoints are intact"} {
		if !strings.Contains(r.output, want) {
			t.Errorf("the error does not mention %q:\n%s", want, r.output)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); name != filepath.Base(ckptPath(dir, k)) && name != "metrics.jsonl" {
			t.Errorf("left behind after the failed write: %s", name)
		}
	}
	loadState(t, ckptPath(dir, k)).Free()

	r = run(t, bins.train, nil, tinyArgs(dir, "-resume")...)
	if r.code != 0 {
		t.Fatalf("resume after the disk-full failure: exit %d:\n%s", r.code, r.output)
	}
	assertMatchesReference(t, dir)
}
