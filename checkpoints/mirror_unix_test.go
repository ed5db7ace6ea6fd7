//go:build unix && !nocloud

package checkpoints

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/filelock"
)

// A command that copies a run from a bucket while another process copies it waits for that copy,
// then finds it complete and downloads nothing.
func TestLocalCopyWaitsForAnotherCopy(t *testing.T) {
	f := fakeS3Bucket(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	m, _ := mirroredManager(t, "s3://runs/r/")
	for step := int64(1); step <= 2; step++ {
		if _, err := m.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Mirror.Wait(); err != nil {
		t.Fatal(err)
	}
	// The other process: it holds the copy's lock (flock is per open file, so a lock of this
	// process excludes LocalCopy as another's would), and makes the copy meanwhile.
	dir := filepath.Join(os.Getenv("XDG_CACHE_HOME"), "vicreg-runs", "s3", "runs", "r")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	other, held, err := filelock.TryAcquire(filepath.Join(dir, LockFile))
	if err != nil || !held {
		t.Fatalf("the other process's lock: held %v, %v", held, err)
	}
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := LocalCopy(t.Context(), "s3://runs/r/", log.New(&logs))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("LocalCopy returned (%v) while another process held the copy", err)
	case <-time.After(100 * time.Millisecond):
	}
	if n := len(f.Entries("GET ")); n != 0 {
		t.Fatalf("%d downloads while another process held the copy", n)
	}
	other2, err := NewMirror(t.Context(), dir, "s3://runs/r/", log.New(&logs)) // the other's copy
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other2.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	gets := len(f.Entries("GET "))
	other.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(f.Entries("GET ")) - gets; n != 0 {
		t.Fatalf("the waiting copy downloaded %d files the other had copied", n)
	}
	if !bytes.Contains(logs.Bytes(), []byte("another process is copying this run")) {
		t.Errorf("the wait was not logged:\n%s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !os.IsNotExist(err) {
		t.Errorf("the copy's lock file is left: %v", err)
	}
}
