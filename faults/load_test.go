package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Bounds of the load test, between the first and the last quarter of the training phase.
const (
	rssGrowthMiB      = 50  // the median resident memory may grow by at most this ...
	rssGrowthFraction = 0.1 // ... or this fraction of the first quarter's median, whichever is larger
	stepTimeFactor    = 2.0 // the median step time may grow by at most this factor (noisy shared CPUs)
)

// vmRSS reads the resident memory of a process from /proc, in bytes.
func vmRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// stepTimes reads the per-step times (seconds) from a metrics file written with -log-every 1:
// each step line holds step_images_per_sec over the images of one batch.
func stepTimes(t *testing.T, path string, batch int) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var times []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]*float64
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if v := rec["step_images_per_sec"]; v != nil && *v > 0 {
			times = append(times, float64(batch) / *v)
		}
	}
	return times
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// quarters splits x into four consecutive parts.
func quarters(x []float64) [4][]float64 {
	var q [4][]float64
	for i := range 4 {
		q[i] = x[i*len(x)/4 : (i+1)*len(x)/4]
	}
	return q
}

// TestLoadLongRun (with -faults.load) trains the tiny model for -faults.load-steps steps (5,000
// by default; a checkpoint every 500, 3 kept; an online probe every 20 steps), sampling the
// trainer's resident memory every second and reading each step's time from its metrics. Between
// the warm-up (compilation, up to the first step) and the final checkpoint, the median resident memory of the last quarter of
// the samples may exceed the first quarter's by at most max(50 MiB, 10%), and the median step time
// of the last quarter of the steps may be at most twice the first quarter's.
func TestLoadLongRun(t *testing.T) {
	if !*loadRun {
		t.Skip("the long load run is off: pass -faults.load")
	}
	needXLA(t)
	dir := t.TempDir()
	cmd := exec.Command(bins.train, tinyArgs(dir, "-steps", strconv.Itoa(*loadSteps), "-checkpoint-every", "500", "-keep", "3")...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	metrics := filepath.Join(dir, "metrics.jsonl")
	var rss []float64 // MiB, sampled once a second after the first step
	var peakWarmup float64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
	var err error
loop:
	for {
		select {
		case err = <-exited:
			break loop
		case <-tick.C:
			v, rerr := vmRSS(cmd.Process.Pid)
			if rerr != nil {
				continue
			}
			mib := float64(v) / (1 << 20)
			if fileExists(ckptPath(dir, *loadSteps)) {
				continue // training is over: the final evaluation is not part of the loop
			}
			if st, serr := os.Stat(metrics); serr == nil && st.Size() > 0 {
				rss = append(rss, mib)
			} else {
				peakWarmup = max(peakWarmup, mib)
			}
		}
	}
	if err != nil {
		t.Fatalf("the load run failed after %s: %v\n%s", time.Since(start).Round(time.Second), err, out.String())
	}
	if len(rss) < 8 {
		t.Fatalf("only %d resident-memory samples after the warm-up: the run was too short to judge", len(rss))
	}
	times := stepTimes(t, metrics, 16)
	if len(times) != *loadSteps {
		t.Errorf("%d step times in %s, want %d", len(times), metrics, *loadSteps)
	}
	rq, sq := quarters(rss), quarters(times)
	t.Logf("load run: %d steps in %s; resident memory after warm-up (MiB, %d samples): min %.1f, median %.1f, max %.1f; peak during compilation %.1f",
		*loadSteps, time.Since(start).Round(time.Second), len(rss), slices.Min(rss), median(rss), slices.Max(rss), peakWarmup)
	t.Logf("load run: median resident memory per quarter (MiB): %.1f %.1f %.1f %.1f",
		median(rq[0]), median(rq[1]), median(rq[2]), median(rq[3]))
	t.Logf("load run: median step time per quarter (ms): %.2f %.2f %.2f %.2f",
		1e3*median(sq[0]), 1e3*median(sq[1]), 1e3*median(sq[2]), 1e3*median(sq[3]))
	bound := max(rssGrowthMiB, rssGrowthFraction*median(rq[0]))
	if growth := median(rq[3]) - median(rq[0]); growth > bound {
		t.Errorf("resident memory grew by %.1f MiB between the first and last quarter (bound %.1f MiB)", growth, bound)
	}
	if f := median(sq[3]) / median(sq[0]); f > stepTimeFactor {
		t.Errorf("the median step time grew %.2fx between the first and last quarter (bound %.1fx)", f, stepTimeFactor)
	}
}
