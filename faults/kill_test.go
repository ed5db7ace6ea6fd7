package faults

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// isTempCheckpoint reports whether name is the temporary file of a checkpoint being written
// (".ckpt-<step>.safetensors.tmp-<random>", see internal/atomicfile).
func isTempCheckpoint(name string) bool {
	return atomicfile.IsTemp(name, "ckpt-") && strings.Contains(name, checkpoints.Ext+atomicfile.TempInfix)
}

// folderState verifies every checkpoint in dir. It returns the newest step (0 if none), the
// number of temporary files, and one error per checkpoint that does not load.
func folderState(dir string) (newest int64, temps int, bad []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, []error{err}
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case isTempCheckpoint(name):
			temps++
		case strings.HasPrefix(name, "ckpt-") && strings.HasSuffix(name, checkpoints.Ext):
			s, err := checkpoints.Load(filepath.Join(dir, name))
			if err != nil {
				bad = append(bad, err)
				continue
			}
			newest = max(newest, s.Step)
			s.Free()
		}
	}
	return newest, temps, bad
}

// waitForFile polls for path until it exists or the process exits; it reports whether it exists.
func waitForFile(path string, exited <-chan struct{}) bool {
	for {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		select {
		case <-exited:
			_, err := os.Stat(path)
			return err == nil
		case <-time.After(500 * time.Microsecond):
		}
	}
}

// waitForTemp polls dir for a checkpoint's temporary file until one appears or the process exits.
func waitForTemp(dir string, exited <-chan struct{}) bool {
	for {
		if entries, err := os.ReadDir(dir); err == nil {
			for _, e := range entries {
				if isTempCheckpoint(e.Name()) {
					return true
				}
			}
		}
		select {
		case <-exited:
			return false
		default:
		}
	}
}

// TestKill9ResumesExactly kills the trainer with SIGKILL at random moments of its training loop
// (after the checkpoint of a random step appears, plus a random delay of up to 60 ms, which lands
// in a step, in a metrics write or in a checkpoint write; or, for half the trials, within 2 ms of
// a checkpoint's temporary file appearing), -faults.trials times. After each kill
// every checkpoint left must verify; each resume must start from the newest one; each chain of
// kills ends with a resume that runs to the end, whose final checkpoint must equal the
// uninterrupted run's bit for bit (no tolerance: the resume is exact by design).
func TestKill9ResumesExactly(t *testing.T) {
	needXLA(t)
	t.Parallel()
	rng := newRNG(t)
	var kills, midWrite, failures, chains, processes int
	for kills < *trials {
		chains++
		dir := t.TempDir()
		for {
			before, _, bad := folderState(dir)
			if len(bad) > 0 {
				t.Fatalf("chain %d: damaged checkpoints before a restart: %v", chains, bad)
			}
			cmd := exec.Command(bins.train, tinyArgs(dir, "-resume")...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			processes++
			exited := make(chan struct{})
			var waitErr error
			go func() { waitErr = cmd.Wait(); close(exited) }()

			killed, aimed := false, false
			var waitStep int64
			var delay time.Duration
			if kills < *trials && before+1 < tinySteps {
				// Half the kills are uniform over a step and its writes; the other half aim at a
				// checkpoint write: they wait for its temporary file, then kill within 2 ms.
				waitStep = before + 1 + rng.Int64N(min(6, tinySteps-1-before))
				aimed = rng.IntN(2) == 0
				if aimed {
					delay = time.Duration(rng.Int64N(int64(2 * time.Millisecond)))
				} else {
					delay = time.Duration(rng.Int64N(int64(60 * time.Millisecond)))
				}
				if waitForFile(ckptPath(dir, int(waitStep)), exited) && (!aimed || waitForTemp(dir, exited)) {
					time.Sleep(delay)
					killed = cmd.Process.Kill() == nil
				}
			}
			<-exited
			if before > 0 && !strings.Contains(out.String(), fmt.Sprintf("resuming checkpoint=%s step=%d", ckptPath(dir, int(before)), before)) {
				failures++
				t.Errorf("chain %d: the restarted run did not resume from the newest checkpoint (step %d):\n%s", chains, before, out.String())
			}
			if killed && exitCode(cmd.ProcessState) == -9 {
				kills++
				newest, temps, bad := folderState(dir)
				if temps > 0 {
					midWrite++
				}
				moment := fmt.Sprintf("%s after checkpoint %d appeared", delay.Round(time.Microsecond), waitStep)
				if aimed {
					moment = fmt.Sprintf("%s after the temporary file of the checkpoint after %d appeared", delay.Round(time.Microsecond), waitStep)
				}
				t.Logf("trial %d (chain %d): SIGKILL %s; newest valid checkpoint %d; %d temporary file(s) left",
					kills, chains, moment, newest, temps)
				if len(bad) > 0 || newest < waitStep {
					failures++
					t.Errorf("trial %d: after the kill: newest valid checkpoint %d (want >= %d), damaged: %v", kills, newest, waitStep, bad)
				}
				continue
			}
			// Not killed (or it finished before the signal landed): the run must have completed.
			if waitErr != nil {
				t.Fatalf("chain %d: the run failed: %v\n%s", chains, waitErr, out.String())
			}
			break
		}
		// The chain's last resume finished: compare with the uninterrupted run.
		if !t.Run(fmt.Sprintf("chain%d_matches_uninterrupted", chains), func(t *testing.T) { assertMatchesReference(t, dir) }) {
			failures++
		}
	}
	t.Logf("kill -9 summary: %d trials, %d failures, %d kills during a checkpoint write (temporary file left), %d chains, %d processes",
		kills, failures, midWrite, chains, processes)
}
