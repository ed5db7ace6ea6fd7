package faults

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/results"
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
		if name := e.Name(); name != filepath.Base(ckptPath(dir, k)) && name != "metrics.jsonl" && name != "config.json" && !strings.HasPrefix(name, results.EventsPrefix) {
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

// enospcScript runs inside a private mount namespace: it mounts a tmpfs of $2 bytes on the
// checkpoint folder $1, copies the checkpoint $3 into it, runs the trainer (the remaining
// arguments) once, copies what the folder holds to $4/after, frees space (a remount 64 MiB
// large), runs the trainer again and copies the folder to $4/final. Exit statuses go to
// $4/first.code and $4/second.code, outputs to $4/first.log and $4/second.log.
const enospcScript = `set -u
dir=$1 size=$2 src=$3 out=$4; shift 4
mount -t tmpfs -o size=$size tmpfs "$dir" || exit 90
cp "$src" "$dir/" || exit 91
"$@" >"$out/first.log" 2>&1; echo $? >"$out/first.code"
mkdir "$out/after" && cp -a "$dir/." "$out/after/" || exit 92
mount -o remount,size=64m "$dir" || exit 93
"$@" >"$out/second.log" 2>&1; echo $? >"$out/second.code"
mkdir "$out/final" && cp -a "$dir/." "$out/final/" || exit 94
`

// privateMount returns the unshare command line that runs a shell in a private mount namespace
// where it may mount a tmpfs (as root: unshare -m; otherwise in a user namespace: unshare -rm),
// or skips the test with the reason.
func privateMount(t *testing.T) []string {
	t.Helper()
	probe := t.TempDir()
	var reasons []string
	for _, flags := range [][]string{{"-m"}, {"-r", "-m"}} {
		args := append(slices.Clone(flags), "sh", "-c", `mount -t tmpfs -o size=65536 tmpfs "$0"`, probe)
		out, err := exec.Command("unshare", args...).CombinedOutput()
		if err == nil {
			return append(slices.Clone(flags), "bash", "-c", enospcScript, "enospc")
		}
		reasons = append(reasons, fmt.Sprintf("unshare %s: %v %s", strings.Join(flags, " "), err, bytes.TrimSpace(out)))
	}
	t.Skipf("the ENOSPC trial needs a private mount namespace with a tmpfs, not permitted here (CI runs it as root): %s", strings.Join(reasons, "; "))
	return nil
}

// TestNoSpaceLeftDuringCheckpointWrite is the real disk-full case beside the file-size limit:
// the checkpoint folder is a tmpfs, in a private mount namespace, with room for the step-10
// checkpoint and about half of the next one. Resuming there must fail at once with exit status
// 1, naming the checkpoint it could not write and "no space left on device", saying the previous
// checkpoints are intact; the folder must hold the step-10 checkpoint, byte for byte and
// loadable, and nothing else (no partial or temporary file, no lock); after space is freed, a
// -resume on the same file system must finish with exactly the uninterrupted run's variables.
func TestNoSpaceLeftDuringCheckpointWrite(t *testing.T) {
	needXLA(t)
	t.Parallel()
	unshare := privateMount(t)
	ref := reference(t)
	const k = 10
	src := ckptPath(ref, k)
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	pages := func(n int64) int64 { return (n + page - 1) / page }
	// The step-10 checkpoint, the lock file, and half a checkpoint.
	size := page * (pages(st.Size()) + 1 + pages(st.Size())/2)
	dir := filepath.Join(t.TempDir(), "run") // the mount point; empty outside the namespace
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	args := append(unshare, dir, fmt.Sprint(size), src, out, bins.train)
	args = append(args, tinyArgs(dir, "-resume", "-metrics", filepath.Join(out, "metrics.jsonl"))...)
	r := run(t, "unshare", nil, args...)
	if r.code != 0 {
		t.Fatalf("the namespace script failed with status %d:\n%s", r.code, r.output)
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	first := read("first.log")
	t.Logf("no space left (tmpfs of %d KiB, checkpoint %d KiB): exit %s", size/1024, st.Size()/1024, read("first.code"))
	if code := read("first.code"); code != "1" {
		t.Fatalf("exit status %s, want 1:\n%s", code, first)
	}
	assertNoStackTrace(t, "no space left", first)
	for _, want := range []string{ckptPath(dir, k+1), "no space left on device", "previous checkpoints are intact"} {
		if !strings.Contains(first, want) {
			t.Errorf("the error does not mention %q:\n%s", want, first)
		}
	}
	after := filepath.Join(out, "after")
	entries, err := os.ReadDir(after)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(src) && e.Name() != "config.json" {
			t.Errorf("left behind after the failed write: %s", e.Name())
		}
	}
	kept, _ := os.ReadFile(filepath.Join(after, filepath.Base(src)))
	orig, _ := os.ReadFile(src)
	if !bytes.Equal(kept, orig) {
		t.Errorf("the step-%d checkpoint changed", k)
	}
	loadState(t, filepath.Join(after, filepath.Base(src))).Free()

	if code := read("second.code"); code != "0" {
		t.Fatalf("resume after freeing space: exit %s:\n%s", code, read("second.log"))
	}
	assertMatchesReference(t, filepath.Join(out, "final"))
}
