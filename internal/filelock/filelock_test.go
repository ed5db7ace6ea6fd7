//go:build unix

package filelock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTryAcquireExcludesAndUnlockRemoves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, held, err := TryAcquire(path)
	if err != nil || !held {
		t.Fatalf("TryAcquire of a new file: held %v, %v", held, err)
	}
	if _, held, err := TryAcquire(path); err != nil || held {
		t.Fatalf("second TryAcquire while held: held %v, %v; want refused", held, err)
	}
	if _, err := l.File().WriteString("42\n"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "42\n" {
		t.Errorf("the lock file reads %q, %v; want what its holder wrote", data, err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Unlock left the lock file: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	var none *Lock
	if err := none.Unlock(); err != nil {
		t.Errorf("Unlock of nil: %v", err)
	}
}

// TestTryAcquireTakesOverADeadHoldersFile: a lock file that no open file locks (its holder was
// killed: the kernel released its lock) is taken over.
func TestTryAcquireTakesOverADeadHoldersFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	if err := os.WriteFile(path, []byte("dead\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, held, err := TryAcquire(path)
	if err != nil || !held {
		t.Fatalf("TryAcquire of a dead holder's file: held %v, %v", held, err)
	}
	l.Unlock()
}

func TestTryAcquireNamesTheFileItCannotCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "x.lock")
	_, held, err := TryAcquire(path)
	if err == nil || held || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("TryAcquire in a missing folder: held %v, %v; want an error naming %s", held, err, path)
	}
}

func TestAcquireWaitsForTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	first, _, err := TryAcquire(path)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	got := make(chan error, 1)
	var second *Lock
	go func() {
		var err error
		second, err = Acquire(context.Background(), path, func() { close(waited) })
		got <- err
	}()
	<-waited
	select {
	case err := <-got:
		t.Fatalf("Acquire returned (%v) while the lock was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	first.Unlock()
	if err := <-got; err != nil {
		t.Fatalf("Acquire after the holder's Unlock: %v", err)
	}
	if _, held, _ := TryAcquire(path); held {
		t.Error("Acquire returned a lock that another TryAcquire can take: the lock is on a removed file")
	}
	second.Unlock()
}

func TestAcquireGivesUpWithItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	first, _, err := TryAcquire(path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if l, err := Acquire(ctx, path, nil); !errors.Is(err, context.DeadlineExceeded) || l != nil {
		t.Fatalf("Acquire of a held lock until a deadline: %v, %v; want the deadline's error", l, err)
	}
}

// TestTryAcquireStartsAgainOnARemovedFile: the holder releases the lock (removing the file) just
// after TryAcquire opened the file and before it locks it. TryAcquire must not keep that lock, on
// a file no longer at the path (then a third locker could hold the path's new file at the same
// time), but lock the path's file.
func TestTryAcquireStartsAgainOnARemovedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	holder, _, err := TryAcquire(path)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	opened = func(string) {
		calls++
		if calls == 1 {
			holder.Unlock()
		}
	}
	defer func() { opened = func(string) {} }()
	l, held, err := TryAcquire(path)
	if err != nil || !held {
		t.Fatalf("TryAcquire once the holder let go: held %v, %v", held, err)
	}
	opened = func(string) {}
	if calls != 2 {
		t.Errorf("TryAcquire opened the file %d times; want 2 (the removed one, then the new one)", calls)
	}
	if third, held, _ := TryAcquire(path); held {
		third.Unlock()
		t.Error("a third TryAcquire holds the path's file too: the lock was kept on the removed file")
	}
	l.Unlock()
}

// TestAcquireExcludesUnderContention: goroutines lock one path, each through its own open files,
// and hold it while they count themselves in: one at a time is ever in.
func TestAcquireExcludesUnderContention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	var in, most, total atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				l, err := Acquire(context.Background(), path, nil)
				if err != nil {
					t.Error(err)
					return
				}
				n := in.Add(1)
				if n > most.Load() {
					most.Store(n)
				}
				total.Add(1)
				in.Add(-1)
				l.Unlock()
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 || total.Load() != 8*200 {
		t.Fatalf("at most %d holders at once over %d locks; want 1 over %d", most.Load(), total.Load(), 8*200)
	}
}
