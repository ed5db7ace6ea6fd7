package datasets

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertibleHint: a folder of files that mkshards writes as shards (ImageNet's archives,
// Parquet, Arrow and TFRecord files), read as an image folder or as shards, is refused with the
// mkshards command that writes it as shards (ImageNet's archives, which an image folder reads, only
// as shards, the hint naming -dataset folder too), nor is one of the archives given alone read as
// shards.
func TestConvertibleHint(t *testing.T) {
	for _, c := range []struct{ file, what string }{
		{ILSVRCTrainArchive, "ImageNet's ILSVRC2012 archives"},
		{ILSVRCValArchive, "ImageNet's ILSVRC2012 archives"},
		{"train-00000-of-00001.parquet", "Parquet files"},
		{"data-00000-of-00001.arrow", "Arrow files"},
		{"tinyshapes-train.tfrecord-00000-of-00001", "TFRecord files"},
		{"cifar.tfrecords", "TFRecord files"},
	} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, c.file), []byte("x"))
		writeFile(t, filepath.Join(dir, "README.md"), []byte("x"))
		command := "go run ./datasets/mkshards -in " + dir + " -out " + dir + "-shards, then train with -dataset shards -data-dir " + dir + "-shards"
		for _, kind := range []string{"folder", "shards"} {
			if kind == "folder" && strings.HasPrefix(c.file, "ILSVRC") {
				continue // an image folder reads them (TestILSVRCFolderSource)
			}
			_, err := Open(kind, SplitTrain, Options{DataDir: dir})
			if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "holds "+c.what) || !strings.Contains(err.Error(), command) {
				t.Errorf("%s of %s: %v; want a usage error naming %s and %q", kind, c.file, err, c.what, command)
			}
			if also := map[string]string{"Arrow files": "train as they are from the folder it wrote them in", "Parquet files": "train on its cache of Arrow files as it is"}[c.what]; !strings.Contains(fmt.Sprint(err), also) {
				t.Errorf("%s of %s: %v; want it to say %q", kind, c.file, err, also)
			}
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, ILSVRCTrainArchive)
	writeFile(t, p, []byte("x"))
	if _, err := Open("shards", SplitTrain, Options{DataDir: p}); err == nil || !strings.Contains(err.Error(), "one of ImageNet's ILSVRC2012 archives") ||
		!strings.Contains(err.Error(), "mkshards -in "+dir+" ") || !strings.Contains(err.Error(), "-dataset folder -data-dir "+dir+", or") {
		t.Errorf("shards of %s: %v", p, err)
	}
}
