//go:build unix

package datasets

import (
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSpecialFileRefused: a named pipe (or a device) under an image's name is not a file to
// decode: reading it waited for a writer for ever, hanging the loader (torchvision's ImageFolder
// too). The listing refuses it, naming it.
func TestSpecialFileRefused(t *testing.T) {
	for _, layout := range []string{"flat", "classes"} {
		root := t.TempDir()
		dir := root
		if layout == "classes" {
			dir = filepath.Join(root, "cat")
			writePNG(t, filepath.Join(root, "dog", "b.png"), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
		}
		writePNG(t, filepath.Join(dir, "a.png"), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
		pipe := filepath.Join(dir, "b.jpg")
		if err := syscall.Mkfifo(pipe, 0o644); err != nil {
			t.Skip(err)
		}
		done := make(chan error, 1)
		go func() {
			f, err := OpenFolder(root, "")
			if err == nil {
				for i := range f.Info().Len {
					if _, err = f.Decode(i); err != nil {
						break
					}
				}
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), pipe) {
				t.Errorf("%s: %v; want a usage error naming %s", layout, err, pipe)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: listing and decoding a folder with the named pipe %s did not end in 5 s", layout, pipe)
			os.WriteFile(pipe, nil, 0o644) // lets the stuck reader go
		}
	}
}
