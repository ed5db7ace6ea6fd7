package main

import (
	"os"
	"path/filepath"
	"testing"
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
