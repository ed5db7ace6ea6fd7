package progress

import (
	"os"
	"path/filepath"
	"testing"
)

func openNotATerminal(t *testing.T) (*os.File, error) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err == nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, err
}
