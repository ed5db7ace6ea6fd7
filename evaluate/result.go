package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// checkResultPath returns what is wrong with the -result path (its folder does not exist or
// cannot be written, or the path is a folder), or "": checked before any work, so that a bad
// path does not cost an evaluation. It writes and removes a temporary file beside path, named as
// atomicfile names its own.
func checkResultPath(path string) string {
	if strings.HasSuffix(path, string(filepath.Separator)) {
		return fmt.Sprintf("-result: %s is a folder: give a file name, such as %s", path, filepath.Join(path, "result.json"))
	}
	dir, base := filepath.Dir(path), filepath.Base(path)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("-result: the folder %s does not exist: create it first (mkdir -p %s) or give a file in an existing folder", dir, dir)
	case err != nil:
		return fmt.Sprintf("-result: %v: give a file in a folder you can write to", err)
	case !info.IsDir():
		return fmt.Sprintf("-result: %s is not a folder: give a file in an existing folder", dir)
	}
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return fmt.Sprintf("-result: %s is a folder: give a file name, such as %s", path, filepath.Join(path, "result.json"))
	}
	f, err := os.CreateTemp(dir, "."+base+atomicfile.TempInfix+"*")
	if err != nil {
		return fmt.Sprintf("-result: cannot write in the folder %s (%v): give a file in a folder you can write to", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Sprintf("-result: cannot remove the test file %s: %v", name, err)
	}
	return ""
}
