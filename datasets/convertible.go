package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx-ssl/vicreg/internal/flagargs"
)

// convertibleExts are the extensions of the data set files that mkshards writes as shards, and
// what they are.
var convertibleExts = map[string]string{".parquet": "Parquet", ".arrow": "Arrow", ".tfrecord": "TFRecord", ".tfrecords": "TFRecord"}

// convertible says what the entries of folder dir are when they are files that cannot be read as
// images or shards but that mkshards writes as shards (ImageNet's archives, which an image folder
// reads too, Parquet, Arrow or TFRecord files), and the commands to run; "" otherwise.
func convertible(dir string, entries []os.DirEntry) (what, hint string) {
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if strings.Contains(strings.ToLower(name), ".tfrecord") { // TensorFlow Datasets': NAME-train.tfrecord-00000-of-00016
			ext = ".tfrecord"
		}
		switch {
		case hidden(name) || e.IsDir():
		case name == ILSVRCTrainArchive || name == ILSVRCValArchive:
			what = "ImageNet's ILSVRC2012 archives (" + name + ": a tar of images, not of WebDataset samples)"
		case what == "" && convertibleExts[ext] != "":
			what = convertibleExts[ext] + " files (" + name + ")"
		}
	}
	if what == "" {
		return "", ""
	}
	out := strings.TrimSuffix(filepath.Clean(dir), string(filepath.Separator)) + "-shards"
	hint = fmt.Sprintf("write them as shards first, go run ./datasets/mkshards -in %s -out %s, then train with -dataset shards -data-dir %s",
		flagargs.ShellQuote(dir), flagargs.ShellQuote(out), flagargs.ShellQuote(out))
	switch {
	case strings.HasPrefix(what, "ImageNet's"):
		hint = "train on them as they are with -dataset folder -data-dir " + flagargs.ShellQuote(dir) + ", or " + hint
	case strings.HasPrefix(what, "Arrow"):
		hint += "; Arrow files that Hugging Face's datasets library wrote train as they are from the folder it wrote them in (beside dataset_dict.json, state.json or dataset_info.json), with -dataset folder"
	case strings.HasPrefix(what, "Parquet"):
		hint += "; or load them once with Hugging Face's datasets library (load_dataset), and train on its cache of Arrow files as it is"
	}
	return what, hint
}

// isILSVRCArchive reports whether path names one of ImageNet's image archives.
func isILSVRCArchive(path string) bool {
	return slices.Contains([]string{ILSVRCTrainArchive, ILSVRCValArchive}, filepath.Base(path))
}
