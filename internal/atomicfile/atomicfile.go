// Package atomicfile writes files atomically: the content goes to a temporary file in the same
// folder, which is fsynced, renamed over the destination, and then the folder is fsynced, so that a
// crash at any moment leaves either the old file or the complete new one, never a partial file.
//
// Every file the toolkit writes whole (checkpoints, exported encoders, downloads, embeddings,
// figures, reports, results, shards kept in a shard cache) goes through this package. Three kinds
// do not: the metrics file, which is appended to line by line and flushed after each line
// (results.MetricsFile), the folder lock, which must stay one file (checkpoints.Lock), and the
// temporary copies of remote shards read ahead, removed once read (datasets).
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// TempInfix is part of every temporary file name: ".<base>" + TempInfix + "<random>". IsTemp
// recognises such names, so that a folder's owner can remove what a crash left behind.
const TempInfix = ".tmp-"

// File is what Write needs of the temporary file; tests substitute failing ones through Create.
type File interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// Create creates the temporary file in dir with the given name pattern (as os.CreateTemp). Tests
// replace it to inject write, sync or close errors; restore it afterwards.
var Create = func(dir, pattern string) (File, error) { return os.CreateTemp(dir, pattern) }

// SyncDir fsyncs a folder so that a rename in it is durable. Tests may replace it.
var SyncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// IsTemp reports whether name (a base name) is a temporary file that Write creates for base
// names starting with prefix ("" matches any).
func IsTemp(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, "."+prefix)
	return ok && strings.Contains(rest, TempInfix)
}

// Write creates or replaces path with what fn writes, atomically. fn receives a buffered writer;
// Write flushes it. On any error (from fn or the file system) the temporary file is removed, the
// file at path is left as it was, and the error names path and the step that failed. The file
// gets mode perm (before the umask); 0 means 0o644.
func Write(path string, perm os.FileMode, fn func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if perm == 0 {
		perm = 0o644
	}
	f, err := createTracked(dir, "."+base+TempInfix+"*")
	if err != nil {
		return fmt.Errorf("writing %s: creating a temporary file: %w", path, err)
	}
	tmp := f.Name()
	defer untrack(tmp)
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = fn(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing %s: syncing %s: %w", path, tmp, err)
	}
	closed = true
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: closing %s: %w", path, tmp, err)
	}
	if err = os.Chmod(tmp, perm&^umask()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: renaming %s: %w", path, tmp, err)
	}
	if err = SyncDir(dir); err != nil {
		// The file is in place; only the durability of the rename is in doubt.
		return fmt.Errorf("writing %s: syncing folder %s: %w", path, dir, err)
	}
	return nil
}

// pending holds the temporary files of the writes in progress (RemovePending).
var (
	pendingMu sync.Mutex
	pending   = map[string]bool{}
)

// createTracked creates a temporary file and records it as pending in one step under the lock
// that RemovePending takes: a signal handler never finds the file on disk but not yet recorded.
func createTracked(dir, pattern string) (File, error) {
	pendingMu.Lock()
	defer pendingMu.Unlock()
	f, err := Create(dir, pattern)
	if err == nil {
		pending[f.Name()] = true
	}
	return f, err
}

// untrack records that the write of tmp is over (renamed or removed).
func untrack(tmp string) {
	pendingMu.Lock()
	defer pendingMu.Unlock()
	delete(pending, tmp)
}

// RemovePending removes the temporary files of the writes in progress and returns their names:
// for a command stopped by a signal, which then exits at once, so that a write cut short leaves
// nothing behind (the destination files keep what they held). The writes themselves then fail.
func RemovePending() []string {
	pendingMu.Lock()
	defer pendingMu.Unlock()
	var names []string
	for tmp := range pending {
		if err := os.Remove(tmp); err == nil {
			names = append(names, tmp)
		}
		delete(pending, tmp)
	}
	return names
}

// WriteFile is Write of a byte slice.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Copy is Write of everything r yields (a download, say).
func Copy(path string, perm os.FileMode, r io.Reader) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// CheckWritable says, before any work, why Write could not create path: its folder does not
// exist, is not a folder or cannot be written, or path is a folder (the error then suggests the
// file example in it). It creates and removes a temporary file beside path, named and tracked
// as Write's own (RemovePending removes it). The error says what to do; a caller puts the flag's name before it.
func CheckWritable(path, example string) error {
	if info, err := os.Stat(path); strings.HasSuffix(path, string(filepath.Separator)) || err == nil && info.IsDir() {
		return fmt.Errorf("%s is a folder: give a file name, such as %s", path, filepath.Join(path, example))
	}
	dir, base := filepath.Dir(path), filepath.Base(path)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the folder %s does not exist: create it first (mkdir -p %s) or give a file in an existing folder", dir, dir)
	case err != nil:
		return fmt.Errorf("%v: give a file in a folder you can write to", err)
	case !info.IsDir():
		return fmt.Errorf("%s is not a folder: give a file in an existing folder", dir)
	}
	// Tracked as Write's own (RemovePending): a signal in between leaves nothing behind.
	f, err := createTracked(dir, "."+base+TempInfix+"*")
	if err != nil {
		return fmt.Errorf("cannot write in the folder %s (%v): give a file in a folder you can write to", dir, err)
	}
	name := f.Name()
	f.Close()
	defer untrack(name)
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) { // gone: RemovePending's
		return fmt.Errorf("cannot remove the test file %s: %v", name, err)
	}
	return nil
}
