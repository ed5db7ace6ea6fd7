package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if err := WriteFile(path, []byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new" {
		t.Fatalf("read %q, %v; want \"new\"", got, err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600&^umask() {
		t.Errorf("mode %v, want %v", info.Mode().Perm(), 0o600&^umask())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the file (no temporary left)", len(entries))
	}
}

// A failure while writing leaves the old file untouched and no temporary file behind.
func TestWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	if err := WriteFile(path, []byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := Write(path, 0, func(w io.Writer) error {
		if _, err := w.Write([]byte("partial")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want one wrapping %v and naming %s", err, boom, path)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "old" {
		t.Errorf("file holds %q after a failed write, want \"old\"", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want 1 (the temporary file must be removed)", len(entries))
	}
}

type failingSync struct{ *os.File }

func (f failingSync) Sync() error { return errors.New("sync failed") }

func TestSyncFailureIsReported(t *testing.T) {
	dir := t.TempDir()
	orig := Create
	Create = func(dir, pattern string) (File, error) {
		f, err := os.CreateTemp(dir, pattern)
		return failingSync{f}, err
	}
	t.Cleanup(func() { Create = orig })
	path := filepath.Join(dir, "x")
	if err := WriteFile(path, []byte("x"), 0); err == nil || !strings.Contains(err.Error(), "sync failed") {
		t.Fatalf("error %v, want the sync failure", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the destination exists after a failed sync: %v", err)
	}
}

func TestIsTemp(t *testing.T) {
	dir := t.TempDir()
	var seen string
	orig := Create
	Create = func(dir, pattern string) (File, error) {
		f, err := os.CreateTemp(dir, pattern)
		if f != nil {
			seen = filepath.Base(f.Name())
		}
		return f, err
	}
	t.Cleanup(func() { Create = orig })
	if err := WriteFile(filepath.Join(dir, "ckpt-000000001.safetensors"), nil, 0); err != nil {
		t.Fatal(err)
	}
	if !IsTemp(seen, "ckpt-") || !IsTemp(seen, "") {
		t.Errorf("IsTemp(%q, \"ckpt-\") = false, want true", seen)
	}
	for _, name := range []string{"ckpt-000000001.safetensors", ".ckpt-1", "metrics.jsonl"} {
		if IsTemp(name, "ckpt-") {
			t.Errorf("IsTemp(%q) = true, want false", name)
		}
	}
}

// waitingForLock reports whether a goroutine in the function fn (as stack traces name it) waits
// for a sync.Mutex.
func waitingForLock(fn string) bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if header, _, _ := strings.Cut(g, "\n"); strings.Contains(header, "[sync.Mutex.Lock") && strings.Contains(g, fn) {
			return true
		}
	}
	return false
}

// TestRemovePendingDuringCreate: a signal handler's RemovePending that comes while a write's
// temporary file has just been created still finds and removes it (the file is recorded in the
// same step as it is made), and the write then fails instead of renaming it into place. Recorded
// after its creation, the file was missed: left behind by a command that exits at once.
func TestRemovePendingDuringCreate(t *testing.T) {
	dir := t.TempDir()
	created, release, proceed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	create := Create
	Create = func(dir, pattern string) (File, error) {
		f, err := create(dir, pattern)
		close(created) // on disk, where a signal may find it
		<-release
		if err != nil {
			return nil, err
		}
		// The write goes on only once RemovePending is done: the lock is not fair, so the write,
		// released, could otherwise finish and untrack its file before RemovePending took the
		// lock, and find it gone (a loaded fresh-clone make test did).
		return &gatedFile{File: f, gate: proceed}, nil
	}
	defer func() { Create = create }()
	written := make(chan error, 1)
	go func() { written <- WriteFile(filepath.Join(dir, "out.npy"), []byte("data"), 0) }()
	<-created
	removed := make(chan []string, 1)
	go func() { removed <- RemovePending() }()
	// Release the creation only once RemovePending has begun: a fixed sleep was too short for a
	// loaded machine (the fresh-clone make test), where the goroutine had not started, then found
	// nothing pending after the write, and the test failed with the code right.
	for deadline := time.Now().Add(10 * time.Second); !waitingForLock("atomicfile.RemovePending("); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("RemovePending was not waiting for the lock within 10 s")
		}
	}
	close(release)
	got := <-removed
	close(proceed)
	if len(got) != 1 || !IsTemp(filepath.Base(got[0]), "") {
		t.Errorf("RemovePending during the creation removed %q, want the write's temporary file", got)
	}
	if err := <-written; err == nil {
		t.Error("the write whose temporary file was removed succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left in the folder: %v", entries)
	}
}

// gatedFile's writes wait until gate is closed.
type gatedFile struct {
	File
	gate chan struct{}
}

func (f *gatedFile) Write(p []byte) (int, error) {
	<-f.gate
	return f.File.Write(p)
}

// closingFile calls onClose when closed.
type closingFile struct {
	File
	onClose func()
}

func (f *closingFile) Close() error {
	err := f.File.Close()
	f.onClose()
	return err
}

// TestCheckWritableFileIsTracked: the test file CheckWritable makes is tracked as a write's own,
// so that a signal handler's RemovePending, coming while it exists, removes it; CheckWritable then
// still succeeds, and nothing is left in the folder or pending.
func TestCheckWritableFileIsTracked(t *testing.T) {
	dir := t.TempDir()
	var removed []string
	create := Create
	Create = func(dir, pattern string) (File, error) {
		f, err := create(dir, pattern)
		if err != nil {
			return nil, err
		}
		return &closingFile{File: f, onClose: func() { removed = RemovePending() }}, nil
	}
	defer func() { Create = create }()
	if err := CheckWritable(filepath.Join(dir, "out.csv"), "out.csv"); err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || !IsTemp(filepath.Base(removed[0]), "out.csv") {
		t.Errorf("RemovePending while the test file existed removed %q, want it", removed)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 || len(pending) != 0 {
		t.Errorf("left in the folder: %v; pending: %v", entries, pending)
	}
}
