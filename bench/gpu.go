package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// gpuUse is what nvidia-smi saw of GPU 0 while one process of the bench ran.
type gpuUse struct {
	PeakMiB  float64 // highest memory.used minus the value before the process started
	MeanUtil float64 // mean utilization.gpu, percent, over the samples
	Samples  int
}

// gpuSampler reads `nvidia-smi --query-gpu=memory.used,utilization.gpu -lms 100` of GPU 0.
type gpuSampler struct {
	cmd      *exec.Cmd
	mu       sync.Mutex
	base     float64 // memory.used of the first sample
	peak     float64
	utilSum  float64
	n        int
	err      error
	finished chan struct{}
}

// startGPUSampler starts nvidia-smi and waits (at most 5 s) for its first sample, the baseline
// that the peak is measured from: the bench runs one process at a time on the GPU, so the
// difference is that process's memory (its CUDA context and its allocator's pool).
func startGPUSampler() (*gpuSampler, error) {
	cmd := exec.Command("nvidia-smi", "-i", "0", "--query-gpu=memory.used,utilization.gpu", "--format=csv,noheader,nounits", "-lms", "100")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting nvidia-smi: %w", err)
	}
	s := &gpuSampler{cmd: cmd, finished: make(chan struct{})}
	first := make(chan struct{})
	go s.read(out, first)
	select {
	case <-first:
	case <-s.finished:
	case <-time.After(5 * time.Second):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("nvidia-smi gave no sample in 5 s: %v", s.err)
	}
	return s, nil
}

// read parses nvidia-smi's lines until it exits; first is closed after the first sample.
func (s *gpuSampler) read(r io.Reader, first chan struct{}) {
	defer close(s.finished)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		mem, util, err := parseSMISample(sc.Text())
		s.mu.Lock()
		if err != nil {
			s.err = err
		} else {
			if s.n == 0 {
				s.base = mem
				close(first)
			}
			s.peak = max(s.peak, mem)
			s.utilSum += util
			s.n++
		}
		s.mu.Unlock()
	}
}

// stop ends the sampling and returns what it saw after the baseline.
func (s *gpuSampler) stop() gpuUse {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	<-s.finished
	s.mu.Lock()
	defer s.mu.Unlock()
	u := gpuUse{PeakMiB: s.peak - s.base, Samples: s.n}
	if s.n > 0 {
		u.MeanUtil = s.utilSum / float64(s.n)
	}
	return u
}

// parseSMISample parses one "memory.used, utilization.gpu" line (MiB, percent, no units).
func parseSMISample(line string) (memMiB, utilPct float64, err error) {
	a, b, ok := strings.Cut(line, ",")
	if !ok {
		return 0, 0, fmt.Errorf("nvidia-smi line %q: want \"memory, utilization\"", line)
	}
	if memMiB, err = strconv.ParseFloat(strings.TrimSpace(a), 64); err != nil {
		return 0, 0, fmt.Errorf("nvidia-smi line %q: %w", line, err)
	}
	if utilPct, err = strconv.ParseFloat(strings.TrimSpace(b), 64); err != nil {
		return 0, 0, fmt.Errorf("nvidia-smi line %q: %w", line, err)
	}
	return memMiB, utilPct, nil
}

// sampled runs fn with GPU sampling when on is true; the use is zero when sampling is off or
// nvidia-smi fails (the error is returned as a note).
func sampled(on bool, fn func()) (gpuUse, string) {
	if !on {
		fn()
		return gpuUse{}, ""
	}
	s, err := startGPUSampler()
	if err != nil {
		fn()
		return gpuUse{}, err.Error()
	}
	fn()
	return s.stop(), ""
}
