//go:build linux

package backend

import (
	"io"
	"os"
	"syscall"
)

// captureStderr runs fn with file descriptor 2 redirected to a temporary file and returns what
// was written there (by C++ code such as the PJRT plugin's logging as well as by Go). If the
// redirection cannot be set up, fn runs with stderr untouched and nil is returned.
func captureStderr(fn func()) []byte {
	tmp, err := os.CreateTemp("", "vicreg-stderr-")
	if err != nil {
		fn()
		return nil
	}
	defer tmp.Close()
	_ = os.Remove(tmp.Name()) // the open descriptor keeps the file
	saved, err := syscall.Dup(2)
	if err != nil {
		fn()
		return nil
	}
	defer syscall.Close(saved)
	if err := syscall.Dup3(int(tmp.Fd()), 2, 0); err != nil {
		fn()
		return nil
	}
	func() {
		defer func() { _ = syscall.Dup3(saved, 2, 0) }()
		fn()
	}()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	out, _ := io.ReadAll(tmp)
	return out
}
