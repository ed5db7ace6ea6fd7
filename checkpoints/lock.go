package checkpoints

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/filelock"
)

// LockFile is the name of the lock file in a locked checkpoint folder.
const LockFile = "LOCK"

// ErrLocked is wrapped by the error of Lock when another process holds the folder's lock.
var ErrLocked = errors.New("checkpoint folder in use")

// LockedError is the error of Lock when another process (or another Lock in this process) holds
// the folder: it names the holder as its lock file describes it. errors.Is(err, ErrLocked) holds.
type LockedError struct {
	// Dir is the checkpoint folder.
	Dir string
	// PID, Host, Program and Start describe the holder; PID is 0 when its lock file could not be
	// read (it was being written).
	PID     int
	Host    string
	Program string
	Start   time.Time
}

func (e *LockedError) Error() string {
	lockPath := filepath.Join(e.Dir, LockFile)
	if e.PID == 0 {
		return fmt.Sprintf("checkpoint folder %s is in use by another process (its lock file %s gives no details yet): wait for it to finish or stop it, or use another folder",
			e.Dir, lockPath)
	}
	return fmt.Sprintf("checkpoint folder %s is in use by process %d (%s) on host %s, running since %s: wait for it to finish or stop it (kill %d), or use another folder (the lock, %s, is released when that process exits)",
		e.Dir, e.PID, e.Program, e.Host, e.Start.Local().Format(time.DateTime+" MST"), e.PID, lockPath)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// lockInfo is the content of a lock file (JSON).
type lockInfo struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Program string    `json:"program"`
	Start   time.Time `json:"start"`
}

// FolderLock is a held lock on a checkpoint folder; Unlock releases it.
type FolderLock struct {
	lock *filelock.Lock
}

// Lock takes the exclusive lock of the checkpoint folder dir (creating the folder if needed) for
// the life of the process: the file dir/LOCK holds the PID, host, program and start time, with
// flock(2) on it (internal/filelock), so the kernel releases the lock when the process ends, however it ends. A lock
// file left by a process that died (kill -9, a crash, a power cut) is not locked: it is taken
// over, with a warning naming the dead process on logger (log.Default() when nil).
//
// When another process holds the lock (or another FolderLock of this process: flock is per open
// file), it returns a *LockedError naming the holder, wrapping ErrLocked.
//
// Take the lock before anything writes to the folder (NewManager removes leftover temporary
// files, which must not be another process's file in the making). Readers (evaluate, analyze)
// need no lock: checkpoints are replaced atomically. The lock file is written in place, not
// through internal/atomicfile: a lock must stay on one file, and renaming a new file over it
// would let a second process lock the new one.
func Lock(dir string, logger *log.Logger) (*FolderLock, error) {
	if logger == nil {
		logger = log.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("locking checkpoint folder: creating %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	l, held, err := filelock.TryAcquire(path)
	if err != nil {
		return nil, fmt.Errorf("locking checkpoint folder %s: %w", dir, err)
	}
	if !held {
		info, _ := readLockInfo(path)
		return nil, &LockedError{Dir: dir, PID: info.PID, Host: info.Host, Program: info.Program, Start: info.Start}
	}
	if old, err := readLockInfo(path); err == nil && old.PID != 0 {
		logger.Warn("took over the checkpoint folder's lock from a process that ended without releasing it (killed or crashed?)",
			"dir", dir, "pid", old.PID, "host", old.Host, "program", old.Program, "started", old.Start.Format(time.RFC3339))
	}
	if err := writeLockInfo(l.File()); err != nil {
		_ = l.Unlock()
		return nil, fmt.Errorf("locking checkpoint folder %s: writing %s: %w", dir, path, err)
	}
	return &FolderLock{l}, nil
}

// Unlock removes the lock file and releases the lock. It is safe to call more than once.
func (l *FolderLock) Unlock() error {
	if l == nil {
		return nil
	}
	if err := l.lock.Unlock(); err != nil {
		return fmt.Errorf("unlocking checkpoint folder: %w", err)
	}
	return nil
}

func readLockInfo(path string) (lockInfo, error) {
	var info lockInfo
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return lockInfo{}, err
	}
	return info, nil
}

func writeLockInfo(f *os.File) error {
	host, _ := os.Hostname()
	program := filepath.Base(os.Args[0])
	js, err := json.Marshal(lockInfo{PID: os.Getpid(), Host: host, Program: program, Start: time.Now()})
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(js, '\n'), 0); err != nil {
		return err
	}
	return f.Sync()
}
