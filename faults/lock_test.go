package faults

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/checkpoints"
)

// folderListing describes every entry of dir (name, size, modification time), to check that a
// process changed nothing there.
func folderListing(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %s\n", e.Name(), info.Size(), info.ModTime().Format(time.RFC3339Nano))
	}
	return b.String()
}

// TestSecondTrainIntoFolderInUse starts a run, stops it (SIGSTOP) in the middle of training with
// its folder locked, and starts two more into the same folder, with and without -resume: each
// must exit 2 naming the first process (PID, host) and the flag to change, touching nothing in the
// folder, not even a temporary file that looks left over (the first process could be writing
// it). Then the first run is killed with SIGKILL: its lock file stays, unlocked, and a -resume
// takes the stale lock over (saying so, with the dead PID), resumes from the newest checkpoint
// and finishes with exactly the uninterrupted run's variables.
func TestSecondTrainIntoFolderInUse(t *testing.T) {
	needXLA(t)
	t.Parallel()
	reference(t) // before the clock starts: the reference run competes for the CPUs
	dir := t.TempDir()
	first := exec.Command(bins.train, tinyArgs(dir)...)
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = first.Wait(); close(exited) }()
	t.Cleanup(func() { _ = first.Process.Kill(); <-exited })
	if !waitForFile(ckptPath(dir, 2), exited) {
		t.Fatalf("the first run ended before its second checkpoint:\n%s", firstOut.String())
	}
	if err := first.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	pid := first.Process.Pid
	// A file that looks like the temporary file of a checkpoint in the making: a second process
	// must not clean it up while the first holds the folder.
	inFlight := filepath.Join(dir, ".ckpt-000000099"+checkpoints.Ext+".tmp-12345")
	if err := os.WriteFile(inFlight, []byte("in the making"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := folderListing(t, dir)
	host, _ := os.Hostname()
	for _, args := range [][]string{tinyArgs(dir, "-resume"), tinyArgs(dir)} {
		r := run(t, bins.train, nil, args...)
		if r.code != 2 {
			t.Errorf("train %v into a folder in use: exit %d, want 2:\n%s", args[len(args)-1], r.code, r.output)
		}
		assertNoStackTrace(t, "second train", r.output)
		for _, want := range []string{"-checkpoint-dir", dir, fmt.Sprintf("in use by process %d (train) on host %s", pid, host)} {
			if !strings.Contains(r.output, want) {
				t.Errorf("the error does not mention %q:\n%s", want, r.output)
			}
		}
		for _, bad := range []string{"INFO training", "INFO resuming"} {
			if strings.Contains(r.output, bad) {
				t.Errorf("the second run went on (%q):\n%s", bad, r.output)
			}
		}
	}
	if after := folderListing(t, dir); after != before {
		t.Errorf("the refused runs changed the folder:\nbefore\n%s\nafter\n%s", before, after)
	}
	if err := os.Remove(inFlight); err != nil {
		t.Fatal(err)
	}

	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	if code := exitCode(first.ProcessState); code != -9 {
		t.Fatalf("the first run ended with %d, not by SIGKILL:\n%s", code, firstOut.String())
	}
	lock, err := os.ReadFile(filepath.Join(dir, checkpoints.LockFile))
	if err != nil || !bytes.Contains(lock, []byte(fmt.Sprintf(`"pid":%d`, pid))) {
		t.Fatalf("after kill -9 the lock file holds %q (%v), want the dead run's description", lock, err)
	}
	newest, _, bad := folderState(dir)
	if len(bad) > 0 || newest < 2 {
		t.Fatalf("after the kill: newest valid checkpoint %d, damaged %v", newest, bad)
	}
	r := run(t, bins.train, nil, tinyArgs(dir, "-resume")...)
	if r.code != 0 {
		t.Fatalf("-resume after the kill: exit %d:\n%s", r.code, r.output)
	}
	for _, want := range []string{"took over the checkpoint folder's lock", fmt.Sprintf("pid=%d", pid),
		fmt.Sprintf("resuming checkpoint=%s step=%d", ckptPath(dir, int(newest)), newest)} {
		if !strings.Contains(r.output, want) {
			t.Errorf("the resumed run does not say %q:\n%s", want, r.output)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, checkpoints.LockFile)); !os.IsNotExist(err) {
		t.Errorf("the lock file is still there after the run ended: %v", err)
	}
	assertMatchesReference(t, dir)
}
