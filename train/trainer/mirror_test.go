//go:build !nocloud

package trainer

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// A new run (no -resume) refuses a bucket folder that holds another run's checkpoints, as it
// refuses such a local folder, and writes nothing there; a bucket that cannot be listed is an error
// of -checkpoint-mirror that says why. (TestResumeIsExact moves a run to another machine through
// a bucket.)
func TestOpenMirrorRefusals(t *testing.T) {
	f := fakeBucket(t)
	f.Objects["runs/old/ckpt-000000100.safetensors"] = []byte("another run's")
	logger := log.New(io.Discard)
	mgr, unlock, err := OpenCheckpoints(t.TempDir(), 3, "", logger)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var fe *config.FieldError
	_, err = OpenMirror(mgr, "s3://runs/old/", false, logger)
	if !errors.As(err, &fe) || fe.Flag != "checkpoint-mirror" ||
		!strings.Contains(err.Error(), "s3://runs/old/ already holds checkpoints of a run (the newest: ckpt-000000100.safetensors): pass -resume to continue it") {
		t.Fatalf("a bucket folder with another run: %v", err)
	}
	if puts := f.Entries("PUT "); len(puts) != 0 {
		t.Fatalf("uploads %q", puts)
	}
	if _, err := OpenMirror(mgr, "s3://runs/new/", false, logger); err != nil {
		t.Fatalf("an empty bucket folder: %v", err)
	}
	_, err = OpenMirror(mgr, "s3:///runs", false, logger)
	if !errors.As(err, &fe) || fe.Flag != "checkpoint-mirror" || !strings.Contains(err.Error(), "s3:///runs names no bucket") {
		t.Fatalf("no bucket: %v", err)
	}
	remotetest.AWSEnv(t, f.URL, "", "")
	remote.Forget()
	_, err = OpenMirror(mgr, "s3://runs/new/", false, logger)
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "listing the bucket folder s3://runs/new/") || !strings.Contains(err.Error(), "no usable AWS credentials") {
		t.Fatalf("no credentials: %v", err)
	}
}
