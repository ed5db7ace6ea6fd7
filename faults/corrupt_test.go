package faults

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// TestFlippedNewestCheckpointFallsBack flips one data byte in the newest of two checkpoints:
// -resume must name the damaged file, resume from the previous one, keep the damaged file for
// inspection (moved aside as .corrupt when its step is written again) and finish with exactly the
// uninterrupted run's variables.
func TestFlippedNewestCheckpointFallsBack(t *testing.T) {
	needXLA(t)
	t.Parallel()
	ref := reference(t)
	const k = 30
	dir := t.TempDir()
	copyFile(t, ckptPath(ref, k-1), ckptPath(dir, k-1))
	copyFile(t, ckptPath(ref, k), ckptPath(dir, k))
	flipByte(t, ckptPath(dir, k), dataOffset(t, ckptPath(dir, k))) // in the tensor data, covered by the checksum
	r := run(t, bins.train, nil, tinyArgs(dir, "-resume")...)
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.output)
	}
	assertNoStackTrace(t, "flipped newest checkpoint", r.output)
	for _, want := range []string{"skipping a damaged checkpoint", ckptPath(dir, k), "resuming checkpoint=" + ckptPath(dir, k-1)} {
		if !strings.Contains(r.output, want) {
			t.Errorf("the output does not mention %q:\n%s", want, r.output)
		}
	}
	if _, err := os.Stat(ckptPath(dir, k) + ".corrupt"); err != nil {
		t.Errorf("the damaged checkpoint was not kept aside: %v", err)
	}
	assertMatchesReference(t, dir)
}

// TestAllCheckpointsFlipped damages every checkpoint (one in its header, where the step's digit
// changes, one in its data):
// -resume must fail with a non-zero status naming both files, never silently start a new run,
// and delete nothing (a damaged file may be moved aside as .corrupt, its bytes intact).
func TestAllCheckpointsFlipped(t *testing.T) {
	needXLA(t)
	t.Parallel()
	ref := reference(t)
	dir := t.TempDir()
	for _, k := range []int{1, 2} {
		copyFile(t, ckptPath(ref, k), ckptPath(dir, k))
	}
	changeStep(t, ckptPath(dir, 1))                                // header: step 1 becomes 2
	flipByte(t, ckptPath(dir, 2), dataOffset(t, ckptPath(dir, 2))) // data
	before := snapshot(t, dir)
	r := run(t, bins.train, nil, tinyArgs(dir, "-resume")...)
	assertNoStackTrace(t, "all checkpoints flipped", r.output)
	for _, k := range []int{1, 2} {
		if !strings.Contains(r.output, ckptPath(dir, k)) {
			t.Errorf("the output does not name %s:\n%s", ckptPath(dir, k), r.output)
		}
	}
	for _, k := range []int{1, 2} { // both damages are only visible to the checksum
		found := false
		for line := range strings.SplitSeq(r.output, "\n") {
			found = found || strings.Contains(line, ckptPath(dir, k)) && strings.Contains(line, "checksum mismatch")
		}
		if !found {
			t.Errorf("no line of the output reports a checksum mismatch in %s:\n%s", ckptPath(dir, k), r.output)
		}
	}
	// Nothing deleted: every damaged file is still in the folder, under its name or moved aside.
	kept := map[string]bool{}
	for _, data := range snapshot(t, dir) {
		kept[string(data)] = true
	}
	for name, data := range before {
		if !kept[string(data)] {
			t.Errorf("%s was deleted or changed", name)
		}
	}
	if r.code == 0 {
		t.Errorf("exit 0 with every checkpoint damaged: want a failure, not a fresh start:\n%s", r.output)
	}
}

// snapshot returns the contents of the checkpoint files in dir (also those moved aside) by name.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join(dir, "ckpt-*"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = data
	}
	return files
}

// mnistCacheFile returns the path of an MNIST file in the GoMNIST module (the copy every run uses).
func mnistCacheFile(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range datasets.MNISTDirs(t.TempDir()) {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	t.Skipf("MNIST file %s not found in the module cache", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestFlippedMNISTFiles copies the MNIST files into a -data-dir, flips one byte (in the IDX
// header or in the pixels; in the gzip file as distributed, or in a decompressed copy) and runs
// the trainer on it: it must stop before training with exit status 1, naming the damaged file and
// saying how to fix it, with no stack trace and no checkpoint written.
func TestFlippedMNISTFiles(t *testing.T) {
	t.Parallel()
	gunzip := func(t *testing.T, src, dst string) {
		f, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		file   string // damaged file, in <data-dir>/mnist
		raw    bool   // decompressed copy
		offset int64
	}{
		{"gz header", "train-images-idx3-ubyte.gz", false, 12},
		{"gz pixels", "train-images-idx3-ubyte.gz", false, 5_000_000},
		{"raw header", "train-images-idx3-ubyte", true, 5},
		{"raw pixels", "train-images-idx3-ubyte", true, 16 + 28*28*1234 + 400},
		{"raw labels", "t10k-labels-idx1-ubyte", true, 8 + 77},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			mnist := filepath.Join(dataDir, "mnist")
			if err := os.MkdirAll(mnist, 0o755); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(mnist, tc.file)
			if tc.raw {
				gunzip(t, mnistCacheFile(t, tc.file+".gz"), dst)
			} else {
				copyFile(t, mnistCacheFile(t, tc.file), dst)
			}
			flipByte(t, dst, tc.offset)
			ckdir := t.TempDir()
			r := run(t, bins.train, nil, "-dataset", "mnist", "-data-dir", dataDir, "-width", "4", "-expander", "32-32",
				"-batch-size", "16", "-subset", "64", "-steps", "2", "-checkpoint-dir", ckdir)
			if r.code != 1 {
				t.Errorf("exit %d, want 1:\n%s", r.code, r.output)
			}
			assertNoStackTrace(t, tc.name, r.output)
			for _, want := range []string{dst, "delete it"} {
				if !strings.Contains(r.output, want) {
					t.Errorf("the error does not mention %q:\n%s", want, r.output)
				}
			}
			if strings.Contains(r.output, "INFO training") {
				t.Errorf("training started on damaged data:\n%s", r.output)
			}
			if m, _ := filepath.Glob(filepath.Join(ckdir, "ckpt-*")); len(m) > 0 {
				t.Errorf("checkpoints written: %v", m)
			}
		})
	}
}

// TestEvaluateWrongChannels evaluates the 3-channel encoder of the reference run on MNIST
// (1 channel): a usage error (exit status 2) naming -dataset and both channel counts.
func TestEvaluateWrongChannels(t *testing.T) {
	needXLA(t)
	t.Parallel()
	ref := reference(t)
	r := run(t, bins.evaluate, nil, "-checkpoint", ckptPath(ref, tinySteps), "-dataset", "mnist", "-subset", "64", "-probe-epochs", "1")
	if r.code != 2 {
		t.Errorf("exit %d, want 2:\n%s", r.code, r.output)
	}
	assertNoStackTrace(t, "wrong channels", r.output)
	if !strings.Contains(r.output, "-dataset") || !strings.Contains(r.output, "3-channel") || !strings.Contains(r.output, "1 channels") {
		t.Errorf("the error does not name -dataset and the channel counts:\n%s", r.output)
	}
}
