package main

import "github.com/gomlx-ssl/vicreg/internal/atomicfile"

// checkOutputPath returns what is wrong with the path that flag names, a file the command will
// write (atomicfile.CheckWritable: its folder does not exist or cannot be written, or the path is
// a folder, for which example is the file name to suggest), or "": checked before any work, so
// that a bad path does not cost an evaluation.
func checkOutputPath(flag, path, example string) string {
	if err := atomicfile.CheckWritable(path, example); err != nil {
		return flag + ": " + err.Error()
	}
	return ""
}
