package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSMISample(t *testing.T) {
	mem, util, err := parseSMISample("81559, 97")
	if err != nil || mem != 81559 || util != 97 {
		t.Errorf("got %v, %v, %v", mem, util, err)
	}
	for _, bad := range []string{"81559", "[N/A], 3", "1, x"} {
		if _, _, err := parseSMISample(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v should quote the line", bad, err)
		}
	}
}

// TestGPUSampler runs the sampler on a fake nvidia-smi that prints a baseline of 500 MiB, then
// 2,500 and 1,500 MiB at 90% and 60% utilisation, and a malformed line: the peak is 2,000 MiB
// above the baseline, the utilisation the mean of the three samples.
func TestGPUSampler(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\necho '500, 0'\nsleep 0.2\necho '2500, 90'\necho 'garbage'\necho '1500, 60'\nexec sleep 30\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	u, note := sampled(true, func() { waitFor(t, func() bool { return false }, 0.5) })
	if note != "" || u.PeakMiB != 2000 || u.Samples != 3 || u.MeanUtil != 50 {
		t.Errorf("got %+v, note %q; want peak 2000 MiB over 3 samples, mean utilisation 50%%", u, note)
	}
	// Off: no sampling, fn still runs.
	ran := false
	if u, _ := sampled(false, func() { ran = true }); !ran || u.Samples != 0 {
		t.Errorf("sampled(false) ran=%v, %+v", ran, u)
	}
	// No nvidia-smi: fn runs and the note says why there are no figures.
	t.Setenv("PATH", t.TempDir())
	ran = false
	if _, note := sampled(true, func() { ran = true }); !ran || !strings.Contains(note, "nvidia-smi") {
		t.Errorf("without nvidia-smi: ran=%v, note %q", ran, note)
	}
}

// waitFor polls cond for up to seconds.
func waitFor(t *testing.T, cond func() bool, seconds float64) {
	t.Helper()
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMeasurePipeline runs the input pipeline briefly: it reports the preset's view size and a
// positive rate.
func TestMeasurePipeline(t *testing.T) {
	r, err := measurePipeline("vicreg", 40, 8, 1, 50*time.Millisecond)
	if err != nil || r.View != 40 || r.ImagesPS <= 0 || r.ImagesCPUS <= 0 {
		t.Errorf("got %+v, %v; want 40 px views (the vicreg preset keeps images under 224 px) and positive rates", r, err)
	}
	var b strings.Builder
	printPipeline(&b, []pipelineRow{{Preset: "vicreg", Source: 256, View: 224, Batch: 128, Workers: 16, ImagesPS: 1500, ImagesCPUS: 95}})
	if !strings.Contains(b.String(), "| vicreg | 256 | 224 | 128 | 16 | 1500 | 3000 | 95 |") {
		t.Errorf("table:\n%s", b.String())
	}
}
