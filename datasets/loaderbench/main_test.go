package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/cmdtest"
)

// TestDirOfOtherFilesKept: -dir naming a folder that holds files the benchmark did not write (a
// folder of one's own photos) is refused with a usage error, and every file in it is kept; the
// benchmark emptied it (os.RemoveAll) before writing its JPEGs whenever it did not hold exactly
// -images of them.
func TestDirOfOtherFilesKept(t *testing.T) {
	photos := filepath.Join(t.TempDir(), "photos")
	if err := os.MkdirAll(filepath.Join(photos, "2024"), 0o755); err != nil {
		t.Fatal(err)
	}
	mine := []string{filepath.Join(photos, "holiday.jpg"), filepath.Join(photos, "notes.txt"), filepath.Join(photos, "2024", "beach.jpg")}
	for _, p := range mine {
		if err := os.WriteFile(p, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// -python names no program: should the benchmark go on, it fails making its JPEGs.
	if code := run([]string{"-dir", photos, "-images", "4", "-python", filepath.Join(t.TempDir(), "no-python")}); code != 2 {
		t.Errorf("exit status %d, want 2 (a usage error)", code)
	}
	for _, p := range mine {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was lost: %v", p, err)
		}
	}
}

// TestBadCountsRefused: a count below 1 (or a stray argument, before whose flags the flag package
// stopped) is a usage error before any work. -rss -rounds 0 panicked on the median of no
// measurement once the image folders existed; -batches 0 printed a table of zeros.
func TestBadCountsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	// The folders of a memory measurement, as an earlier run left them (the file names the
	// benchmark gives; their content is not read before the rounds).
	for n, folder := range map[int]string{2000: "2000", 20000: "20000"} {
		d := filepath.Join(dir+"-rss", folder)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("img%06d.jpg", i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	noPython := filepath.Join(t.TempDir(), "no-python")
	for _, args := range [][]string{
		{"-rss", "-rounds", "0"},
		{"-batches", "0"},
		{"-batch", "0"},
		{"-size", "-1"},
		{"-images", "0"},
		{"-rss", "-rss-steps", "0"},
		{"-python", noPython, "extra", "-batches", "0"},
	} {
		if code := run(append([]string{"-dir", dir, "-python", noPython}, args...)); code != 2 {
			t.Errorf("%q: exit status %d, want 2", args, code)
		}
	}
}

// stderrOf runs the command with args and returns its exit status and what it wrote to stderr.
func stderrOf(t *testing.T, args ...string) (code int, out string) {
	t.Helper()
	out = cmdtest.Capture(t, &os.Stderr, func() { code = run(args) })
	return code, out
}

// TestOtherModesFlagsRefused: a flag that only the other measurement reads is a usage error
// naming it, before any work: -rss measured its own 2,000 and 20,000 images, batches and warm-up
// without a word about -images, -batches, -warmup or -levers, and the table ignored -rss-steps.
func TestOtherModesFlagsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	noPython := filepath.Join(t.TempDir(), "no-python") // should the benchmark go on, it fails making its JPEGs
	for _, tc := range []struct {
		flag string
		args []string
	}{
		{"-images", []string{"-rss", "-images", "4"}},
		{"-batches", []string{"-rss", "-batches", "3"}},
		{"-warmup", []string{"-rss", "-warmup", "0"}},
		{"-levers", []string{"-rss", "-levers=false"}},
		{"-rss-steps", []string{"-rss-steps", "3"}},
	} {
		code, out := stderrOf(t, append([]string{"-dir", dir, "-python", noPython}, tc.args...)...)
		if code != 2 || !strings.Contains(out, tc.flag) || strings.Contains(out, "writing ") {
			t.Errorf("%q: exit status %d, want 2 naming %s before any work:\n%s", tc.args, code, tc.flag, out)
		}
	}
}

// TestMissingPhotographsNamed: the benchmark crops skimage's sample photographs (Debian's
// python3-skimage) into its JPEGs; without them it stopped with a Python traceback
// ("FileNotFoundError: ... astronaut.png") and "exit status 1". It says what to install.
func TestMissingPhotographsNamed(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy, PIL").Run(); err != nil {
		t.Skipf("/usr/bin/python3 with numpy and PIL (python3-pil) is needed: %v", err)
	}
	t.Setenv("VICREG_SKIMAGE_DATA", t.TempDir())
	t.Chdir(filepath.Join("..", "..")) // the repository root, where the benchmark runs
	code, out := stderrOf(t, "-dir", filepath.Join(t.TempDir(), "jpegs"), "-images", "2", "-python", "/usr/bin/python3")
	if code != 1 || !strings.Contains(out, "python3-skimage") || !strings.Contains(out, "the JPEGs were not written") || strings.Contains(out, "Traceback") {
		t.Errorf("exit %d, want 1 with a message naming python3-skimage and no traceback:\n%s", code, out)
	}
}
