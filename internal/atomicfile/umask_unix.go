//go:build unix

package atomicfile

import (
	"os"
	"syscall"
)

// processUmask is read once, at start-up, while no other goroutine creates files (reading the
// umask means setting it and setting it back).
var processUmask = func() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}()

func umask() os.FileMode { return processUmask }
