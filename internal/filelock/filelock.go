// Package filelock holds locks on files between processes: flock(2)'s exclusive lock on a lock
// file, which the kernel releases when the process ends, however it ends (kill -9 included).
//
// A lock file exists while its lock is held, or while its holder is releasing it: Unlock removes
// the file before it lets the lock go, and TryAcquire and Acquire, once they hold the lock of an
// open file, check that the file is still the one at the path (else they start again). So two
// processes never hold locks on two files of the same name, and no lock file outlives its use,
// except where a holder died: the next to lock it takes it over. flock is per open file, so two
// locks of one process on one path exclude each other as two processes' do.
//
// On systems without flock(2) a lock always succeeds and excludes nothing.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// A Lock is a held lock on a lock file.
type Lock struct {
	path string
	f    *os.File
}

// File is the lock file, open for reading and writing: its holder may write what others should
// know (who holds it, what for), which they read at the path while it is held.
func (l *Lock) File() *os.File { return l.f }

// TryAcquire takes the lock of the file at path, created if missing (its folder must exist), without
// waiting. held is false, with no error, when another open file holds it.
func TryAcquire(path string) (l *Lock, held bool, err error) {
	for range 100 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, false, fmt.Errorf("locking %s: %w", path, err)
		}
		opened(path)
		held, err := tryLock(f)
		if err != nil || !held {
			f.Close()
			if err != nil {
				err = fmt.Errorf("locking %s: %w", path, err)
			}
			return nil, false, err
		}
		// The holder that just released the lock removed the file: this lock is on a deleted
		// file, and another process may lock a new one. Start again.
		if same, err := sameFile(f, path); err != nil || !same {
			f.Close()
			continue
		}
		return &Lock{path: path, f: f}, true, nil
	}
	return nil, false, fmt.Errorf("locking %s: the file keeps being replaced by other processes", path)
}

// opened is called by TryAcquire between opening the file and locking it; tests replace it.
var opened = func(path string) {}

// Acquire waits until it holds the lock of the file at path (TryAcquire), or ctx ends (its error is
// then ctx's). waiting, when not nil, is called once if the lock is held by another at first.
func Acquire(ctx context.Context, path string, waiting func()) (*Lock, error) {
	wait := 5 * time.Millisecond
	for first := true; ; first = false {
		l, held, err := TryAcquire(path)
		if err != nil || held {
			return l, err
		}
		if first && waiting != nil {
			waiting()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// Unlock removes the lock file and releases the lock. It is safe to call more than once, and on
// a nil Lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Remove while still holding the lock, so that whoever locks the old file next sees that it
	// is gone and starts again.
	err := os.Remove(l.path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("unlocking %s: %w", l.path, err)
	}
	return nil
}

// sameFile reports whether the open file f is still the file at path.
func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}
