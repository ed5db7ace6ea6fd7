//go:build unix

package checkpoints

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
)

// lockHelperEnv makes the test binary, run as a child process, take a lock and wait to be killed.
const lockHelperEnv = "VICREG_LOCK_HELPER_DIR"

// TestLockHelper is not a test: run by TestLockHeldByAnotherProcess in a child process, it takes
// the lock of the folder named by lockHelperEnv, says so, and waits to be killed.
func TestLockHelper(t *testing.T) {
	dir := os.Getenv(lockHelperEnv)
	if dir == "" {
		t.Skip("helper process of TestLockHeldByAnotherProcess")
	}
	if _, err := Lock(dir, nil); err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(4)
}

func TestLockTwiceInOneProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	l, err := Lock(dir, nil) // creates the folder
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir, nil) // another open file: flock refuses it as it would another process
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v, want a *LockedError wrapping ErrLocked", err)
	}
	host, _ := os.Hostname()
	if le.PID != os.Getpid() || le.Host != host || le.Dir != dir || time.Since(le.Start) > time.Minute {
		t.Errorf("LockedError %+v, want this process (pid %d, host %s) and a recent start", le, os.Getpid(), host)
	}
	for _, want := range []string{dir, fmt.Sprintf("process %d", os.Getpid()), "on host " + host, "kill", filepath.Join(dir, LockFile)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Unlock left the lock file: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	l2, err := Lock(dir, nil)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	l2.Unlock()
}

// TestLockHeldByAnotherProcess: a child process holds the lock; Lock here is refused with the
// child's PID; after kill -9 of the child the lock file is still there, not locked, and the next
// Lock takes it over, logging the dead PID.
func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelper$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("the helper said %q (%v), want \"locked\"", line, err)
	}
	_, err = Lock(dir, nil)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid || le.Program != filepath.Base(os.Args[0]) {
		t.Fatalf("Lock while the child (pid %d) holds it: %v (%+v)", cmd.Process.Pid, err, le)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("process %d", cmd.Process.Pid)) {
		t.Errorf("error %q does not name the child", err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	stale, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil || !bytes.Contains(stale, []byte(fmt.Sprintf(`"pid":%d`, cmd.Process.Pid))) {
		t.Fatalf("after kill -9 the lock file holds %q (%v), want the dead process's description", stale, err)
	}
	var logs bytes.Buffer
	l, err := Lock(dir, log.New(&logs))
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	defer l.Unlock()
	if !strings.Contains(logs.String(), "took over") || !strings.Contains(logs.String(), fmt.Sprintf("pid=%d", cmd.Process.Pid)) {
		t.Errorf("the take-over was not logged with the dead PID:\n%s", logs.String())
	}
	now, _ := os.ReadFile(filepath.Join(dir, LockFile))
	if !bytes.Contains(now, []byte(fmt.Sprintf(`"pid":%d`, os.Getpid()))) {
		t.Errorf("the lock file holds %q, want this process", now)
	}
}

// TestStaleLockFileWrittenByHand: a lock file that no process locks is taken over (logged with
// the PID it names); an empty one silently.
func TestStaleLockFileWrittenByHand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LockFile)
	if err := os.WriteFile(path, []byte(`{"pid":999999,"host":"elsewhere","program":"train","start":"2026-01-02T03:04:05Z"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l, err := Lock(dir, log.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"took over", "pid=999999", "host=elsewhere", "2026-01-02T03:04:05Z"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, logs.String())
		}
	}
	l.Unlock()

	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	l, err = Lock(dir, log.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if logs.Len() != 0 {
		t.Errorf("an empty lock file was reported: %s", logs.String())
	}
}

func TestLockErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(filepath.Join(file, "sub"), nil); err == nil || !strings.Contains(err.Error(), file) || errors.Is(err, ErrLocked) {
		t.Errorf("a folder under a file: %v, want an error naming %s (not ErrLocked)", err, file)
	}
}
