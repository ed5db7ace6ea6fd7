// Command mkshards writes an image folder as tar shards in the WebDataset layout (KEY.jpg, KEY.png,
// KEY.webp, ...: each image under its own extension, lower case, and KEY.cls with the class index
// for a labeled folder), the format that
// `go run ./train -dataset shards` reads sequentially.
//
//	go run ./datasets/mkshards -in ~/data/imagenet -out ~/data/imagenet-shards -per-shard 1000
//
// The input folder follows torchvision's ImageFolder rules (one subfolder per class, or a flat
// unlabeled folder), or takes its labels from a metadata.csv or metadata.jsonl table at its top, as
// Hugging Face's imagefolder does (-label-column names the column, "label" by default), or from a
// label table outside it (-label-table train.csv, as Kaggle ships one: its file_name column, or
// else its first, names each image by its path under the split folder, with or without its
// extension; its labels are in -label-column, or "label", or else its second column). train/ and
// val/ (or test/) under -in are written as -out/train/train-NNNNNN.tar and -out/val/val-NNNNNN.tar
// (a validation/ or valid/ folder beside train/, as Hugging Face and Kaggle name it, as val/), a
// folder without them as -out/shard-NNNNNN.tar, or with -val-percent P as train/ and val/ shards,
// val/ holding the P% of each class that train -val-percent holds out (the same images), or with
// -split-column COLUMN (or COLUMN=VALUE) as train/ and val/ shards, val/ holding the images that
// train -split-column holds out by that column of the label table (and test/ the images it
// assigns to test, when it assigns others to val: what evaluate -test-split test scores). Image
// bytes are copied unchanged (no
// re-encoding); samples are shuffled across shards (-seed; -no-shuffle keeps the folder's order);
// classes.txt lists the class names, and index.json (in the format of WebDataset's wids) each
// shard's sample count, size and MD5 digest, so that the shards open without a scan, which over
// HTTP would download them (train -data-dir https://host/shards/train/index.json), and a download
// is checked. Every file is written atomically. Each image's header is checked; -verify also
// decodes every image first, in parallel, so that a file damaged past its header is found here
// (-skip-bad-images leaves such files out) rather than in training. The labels of val/ and test/
// are numbered by the classes of train/, so that a label means the same class in every split (a
// class that train/ lacks is refused). A failure leaves -out as it was: the shards, the
// classes.txt and index.json files and the folders this run made are removed.
//
// A Hugging Face data set downloaded as Parquet files (huggingface-cli download --repo-type dataset
// NAME: data/train-00000-of-00003.parquet, data/validation-..., or the Hub's default/train/0000.parquet)
// is written alike: -in is its folder, each split is written from its files (validation as val/),
// the images from the Image feature's bytes, the labels from its ClassLabel feature (classes.txt
// lists the names) or from -label-column. Row groups are read in a random order (-seed) through a
// shuffle buffer of -shuffle-buffer images, so that memory holds that many images, not the set;
// -verify decodes each image as it is written. The datasets library's Arrow files are written the
// same way: a data set that save_to_disk wrote (train/data-00000-of-00001.arrow, ...), or the
// library's cache of one that load_dataset loaded (the folder that holds NAME-train.arrow,
// ~/.cache/huggingface/datasets/NAME/CONFIG/VERSION/HASH), record batches in a random order.
//
//	go run ./datasets/mkshards -in ~/hf/beans -out ~/data/beans-shards
//	go run ./datasets/mkshards -in ~/beans-saved -out ~/data/beans-shards   # save_to_disk's folder
//
// With -val-percent, the training split of Arrow files without a validation split is written as
// train/ and val/, val/ holding the rows that train -val-percent holds out of the same folder.
//
// TFRecord files of tf.train.Example records are written alike: the folder TensorFlow Datasets
// prepares (~/tensorflow_datasets/NAME/VERSION, its ClassLabel names in label.labels.txt), or
// TensorFlow's ImageNet files (train-00000-of-01024, validation-00000-of-00128: image/encoded and
// image/class/label, whose 1-based labels leave class 0 without images). The files are read once
// first, to count the records, check their checksums and read the labels, then in a random order
// (-seed) through the shuffle buffer.
//
//	go run ./datasets/mkshards -in ~/tensorflow_datasets/food101/2.0.0 -out ~/data/food101-shards
//
// ImageNet's archives as image-net.org distributes them are written without extracting them: the
// folder that holds ILSVRC2012_img_train.tar (one tar per class), ILSVRC2012_img_val.tar and the
// development kit ILSVRC2012_devkit_t12.tar.gz (the root that torchvision's ImageNet takes). The
// images and labels are torchvision's: the classes are the WNIDs, sorted (classes.txt), and the
// validation images are labelled by the devkit's ground truth. The tar headers are read first, to
// list the images (the listing kept for the next run); the images are then read where they lie in
// the archives, in a random order over the whole split (-seed). With -val-percent, the training
// archive alone is written as train/ and val/, val/ holding the images that -val-percent holds out
// of it extracted.
//
//	go run ./datasets/mkshards -in ~/imagenet -out ~/data/imagenet-shards
//
// -index writes only the index.json of shards that exist (made by another tool, or by mkshards
// before it wrote indexes), reading each of them once, whole, for its size and digest; it takes a
// folder, a pattern, or a pattern of URLs or pipe: commands, or a bucket's folder, whose index -out
// names:
//
//	go run ./datasets/mkshards -index ~/data/imagenet-shards/train
//	go run ./datasets/mkshards -index 'https://host/train-{000000..000146}.tar' -out train-index.json
//	go run ./datasets/mkshards -index s3://bucket/imagenet-shards/train/ -out train-index.json
//
// SIGINT or SIGTERM is a failure too: the command stops before the next image (after the
// verification under way, with -verify), removes what it wrote and exits with status 130; a
// second signal exits at once.
//
// Exit status: 0 on success, 1 when an image or file is damaged, 2 on a usage error (a bad flag,
// a missing or empty folder, an output folder that already holds shards or lies inside -in), 130
// when interrupted.
package main

import (
	"errors"
	"flag"
	"fmt"
	"iter"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/datasets/hfdata"
	"github.com/gomlx-ssl/vicreg/datasets/tfrecord"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
	"github.com/gomlx-ssl/vicreg/internal/progress"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	logger := log.NewWithOptions(os.Stderr, log.Options{ReportTimestamp: true})
	fs := flag.NewFlagSet("mkshards", flag.ContinueOnError)
	in := fs.String("in", "", "image folder to read (one subfolder per class, or flat; train/ and val/ as splits), or the folder of a Hugging Face data set's Parquet files (as the Hub keeps them) or Arrow files (as the datasets library's save_to_disk writes them, or its cache keeps them: the folder of NAME-train.arrow), or of TFRecord files (TensorFlow Datasets' prepared folder NAME/VERSION, or TensorFlow's ImageNet train-00000-of-01024 files), or of ImageNet's archives (ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz, read without extracting them)")
	out := fs.String("out", "", "folder to write the shards into (must not hold .tar files yet, nor lie inside -in)")
	perShard := fs.Int("per-shard", 1000, "samples per shard")
	seed := fs.Uint64("seed", 0, "seed of the shuffle across shards")
	noShuffle := fs.Bool("no-shuffle", false, "keep the folder's order (classes then stay together in the shards)")
	skipBad := fs.Bool("skip-bad-images", false, "leave out files whose header is not an image header (with -verify: that do not decode), with a warning each, instead of stopping")
	index := fs.String("index", "", "instead of writing shards, write the index.json of existing ones (made elsewhere, or before this option): a folder, a pattern or a pattern of URLs of .tar shards; -out is then the index file (default: index.json beside the shards)")
	labelColumn := fs.String("label-column", "", "the column of labels in a folder's metadata.csv or metadata.jsonl, or in -label-table (default \""+datasets.DefaultLabelColumn+"\", when the table has it; for -label-table, else its second column); of TFRecord files, the feature of the labels (default label, or image/class/label): int64 class indices or bytes class names; with -index, the member of each sample that holds its class: cls (the default), another extension (label), or EXT:FIELD for a field of a JSON member (json:label)")
	valPercent := fs.Float64("val-percent", 0, "for a folder without a val/ folder (or a data set of Arrow files without a validation split, or ImageNet's training archive alone): write this percentage of each class's images as the val/ split, and the others as train/, chosen by their paths as train -val-percent chooses them (the same images)")
	splitColumn := fs.String("split-column", "", "for a folder without a val/ folder: write the images that this column of the label table holds out as the val/ split, and the others as train/, as train -split-column reads it (COLUMN: values train, val or test, or true/false; COLUMN=VALUE: VALUE marks the held-out images, a fold); test images beside val images are written as test/")
	labelTable := fs.String("label-table", "", "a CSV (or JSON Lines) table of labels outside the folder, as Kaggle ships one (train.csv): its file_name column, or else its first, names each image by its path under the split folder, with or without its extension")
	shuffleBuffer := fs.Int("shuffle-buffer", 10000, "Parquet, Arrow or TFRecord input: images held in memory to shuffle them across the shards, beside reading the row groups (or files) in a random order (0: none)")
	verify := fs.Bool("verify", false, "decode every image first, in parallel (slower), to find files damaged past their header here rather than in training (without it, only headers are checked and train -skip-bad-images replaces such a file)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./datasets/mkshards -in DIR -out DIR [-per-shard 1000]\n\nWrites an image folder as WebDataset tar shards.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := flagargs.Parse(fs, args, "./datasets/mkshards"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	datasets.ExpandHomes(in, out, index, labelTable) // a quoted "~/photos" is the home folder
	usage := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "mkshards: "+format+"\nRun 'go run ./datasets/mkshards -h' for the flags.\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usage("%s", flagargs.Stray(fs, args))
	case *index != "" && *in != "":
		return usage("-index writes the index of existing shards, -in shards from images: give one of them")
	case *index != "" && (*labelTable != "" || *valPercent > 0 || *splitColumn != ""):
		return usage("-index writes the index of shards as they are: -label-table, -val-percent and -split-column read image folders")
	case *index != "":
		label, err := datasets.ParseShardLabel(*labelColumn)
		if err != nil {
			return usage("-label-column %v", err)
		}
		return writeIndex(logger, *index, *out, label, usage)
	case *in == "":
		return usage("-in: give the image folder to read")
	case strings.Contains(*in, "://"):
		return usage("-in %s: a location, not a folder: mkshards reads a folder on this machine; download it first (a Hugging Face data set: huggingface-cli download --repo-type dataset OWNER/NAME --local-dir DIR, then -in DIR), or train on remote shards as they are (train -dataset shards -data-dir URL)", *in)
	case *out == "":
		return usage("-out: give the folder to write the shards into")
	case *perShard <= 0:
		return usage("-per-shard %d: want at least 1", *perShard)
	case !(*valPercent >= 0 && *valPercent < 100):
		return usage("-val-percent %g: want a percentage in [0, 100) (0: none)", *valPercent)
	case *valPercent > 0 && *splitColumn != "":
		return usage("-val-percent and -split-column both choose the held-out images: give one of them")
	case *splitColumn != "" && splitColumnErr(*splitColumn) != nil:
		return usage("-split-column %v", splitColumnErr(*splitColumn))
	case datasets.Within(*out, *in):
		return usage("-out: %s is inside the image folder -in %s, where the shards would be read as images (or as a class): choose a folder outside it", *out, *in)
	}
	hfSplits, err := hfdata.FindSplits(*in)
	if err != nil {
		return report(err)
	}
	var tfSplits []tfrecord.Split
	if len(hfSplits) == 0 {
		if tfSplits, err = tfrecord.FindSplits(*in); err != nil {
			return report(err)
		}
	}
	var archives datasets.ILSVRCArchives // ImageNet's ILSVRC2012 archives
	var imagenet bool
	if len(hfSplits) == 0 && len(tfSplits) == 0 {
		archives, imagenet = datasets.FindILSVRC(*in)
	}
	var splits []string
	// The options of a folder whose held-out images -val-percent or -split-column choose, and the
	// splits already listed to find which there are.
	heldOutOpt := datasets.Options{DataDir: *in, LabelTable: *labelTable, LabelColumn: *labelColumn, ValPercent: *valPercent, SplitColumn: *splitColumn}
	listed := map[string]*datasets.Folder{}
	from := map[string]string{} // the folder under -in of each split: validation/ or valid/ is written as val/
	for _, sp := range hfSplits {
		splits = append(splits, sp.Name)
	}
	for _, sp := range tfSplits {
		splits = append(splits, sp.Name)
	}
	if archives.Train != "" {
		splits = append(splits, "train")
	}
	if archives.Val != "" || (imagenet && *valPercent > 0) {
		splits = append(splits, "val") // with -val-percent, from the training archive
	}
	files, labels := "", "a column"
	if imagenet {
		if *labelTable != "" || *labelColumn != "" {
			return usage("-label-table and -label-column label an image folder or a data set's files; %s holds ImageNet's ILSVRC2012 archives, labelled by their class tars and the development kit: leave them out", *in)
		}
		switch {
		case *valPercent > 0 && archives.Val != "":
			return usage("-val-percent: %s holds %s, the held-out images already: leave -val-percent out, or move %s away to hold out %g%% of the training archive", *in, datasets.ILSVRCValArchive, datasets.ILSVRCValArchive, *valPercent)
		case *splitColumn != "":
			return usage("-split-column holds out images of an image folder by its label table; %s holds ImageNet's ILSVRC2012 archives: give -val-percent instead", *in)
		}
		if archives.Val != "" && archives.Devkit == "" {
			return usage("%s holds %s but not the development kit that labels its images (%s, from image-net.org, or the folder it extracts to): put it beside the archives, or move %s away to write the training images alone",
				*in, datasets.ILSVRCValArchive, datasets.ILSVRCDevkitArchive, datasets.ILSVRCValArchive)
		}
		files = "ImageNet's ILSVRC2012 archives"
	}
	if len(hfSplits) > 0 {
		files = hfdata.Format(hfSplits[0].Files[0]) + " files"
	}
	if len(tfSplits) > 0 {
		files, labels = "TFRecord files", "a feature"
	}
	if len(splits) > 0 && *labelTable != "" {
		return usage("-label-table labels an image folder; %s holds %s, whose labels are %s of theirs (-label-column)", *in, files, labels)
	}
	arrowHeld := len(hfSplits) > 0 && *valPercent > 0 // rows of the Arrow files' training split held out
	if len(splits) > 0 && !imagenet && !arrowHeld && (*valPercent > 0 || *splitColumn != "") {
		return usage("-val-percent and -split-column hold out images of an image folder; %s holds %s, whose splits are their own", *in, files)
	}
	var heldRows map[string]bool // with arrowHeld, the rows held out (FILE:row N)
	if arrowHeld {
		switch {
		case hfdata.Format(hfSplits[0].Files[0]) != "Arrow":
			return usage("-val-percent holds out rows of a data set that the datasets library saved as Arrow files (or keeps in its cache); %s holds %s: leave -val-percent out", *in, files)
		case slices.Contains(splits, "val"):
			return usage("-val-percent: %s holds a val (validation) split of held-out rows already: leave -val-percent out", *in)
		case !slices.Contains(splits, "train"):
			return usage("-val-percent holds out rows of the training split, and %s holds none (its splits: %s)", *in, strings.Join(splits, ", "))
		}
		if heldRows, err = arrowHeldOut(*in, *valPercent, *labelColumn); err != nil {
			return report(err)
		}
		splits = slices.Insert(splits, slices.Index(splits, "train")+1, "val") // train, val, then the others
	}
	if len(splits) == 0 {
		if err := datasets.CheckSplitNames(*in); err != nil {
			return report(err) // Val/ beside train/ would be left out
		}
		for _, s := range []string{"train", "val", "test"} {
			name := s
			if alias := datasets.HeldOutAlias(*in); s == "val" && alias != "" {
				name = alias
			}
			if st, err := os.Stat(filepath.Join(*in, name)); err == nil && st.IsDir() {
				splits = append(splits, s)
				from[s] = name
			}
		}
		if len(splits) == 0 {
			splits = []string{""} // no split folders: -in itself
		}
		if *valPercent > 0 || *splitColumn != "" {
			flag := "-val-percent"
			if *splitColumn != "" {
				flag = "-split-column"
			}
			if slices.Contains(splits, "val") {
				return usage("%s: %s holds a %s/ folder of held-out images already: leave %s out", flag, *in, from["val"], flag)
			}
			splits = []string{"train", "val"} // both from train/, or from -in itself
			if *splitColumn != "" {
				val, test := heldOutSplits(heldOutOpt)
				listed["val"], listed["test"] = val, test
				if test != nil {
					splits = append(splits, "test")
				}
			}
		}
	}
	for _, split := range splits {
		dir := filepath.Join(*out, split)
		if old, _ := filepath.Glob(filepath.Join(dir, "*.tar")); len(old) > 0 {
			return usage("-out: %s already holds %d .tar files (first %s): remove them or choose another folder (nothing was written)", dir, len(old), old[0])
		}
	}
	// Every split is listed, and the held-out splits' labels numbered by train/'s classes, before
	// anything is written: a val/ without some class would otherwise number the others differently.
	sources := make([]source, len(splits))
	var train *hfdata.Set
	var trainRecords *tfrecord.Set
	var devkit *datasets.ILSVRCDevkit
	var trainClasses []string // the ILSVRC2012 training archive's
	if archives.Devkit != "" {
		if devkit, err = datasets.ReadILSVRCDevkit(archives.Devkit); err != nil {
			return report(err)
		}
	}
	for i, split := range splits {
		if imagenet {
			start := time.Now()
			var set *datasets.ILSVRC
			var err error
			archive := archives.Train
			if split == "train" || *valPercent > 0 {
				set, err = datasets.OpenILSVRCTrain(archive, devkit, logger) // the second time, from the listing kept
				if err == nil && *valPercent > 0 {
					err = set.HoldOut(*valPercent, split == "val")
				}
				if err == nil {
					trainClasses = set.Classes()
				}
			} else {
				archive = archives.Val
				set, err = datasets.OpenILSVRCVal(archive, devkit, trainClasses)
			}
			if err != nil {
				return report(err)
			}
			logger.Info("listed the archive", "split", split, "archive", archive, "images", set.Len(), "classes", len(set.Classes()),
				"took", time.Since(start).Round(time.Millisecond))
			sources[i] = source{set: set}
			continue
		}
		if len(hfSplits) > 0 {
			read := split
			if arrowHeld && split == "val" {
				read = "train" // the rows held out of it
			}
			k := slices.IndexFunc(hfSplits, func(sp hfdata.Split) bool { return sp.Name == read })
			set, err := hfdata.Open(hfSplits[k], *labelColumn)
			if err == nil && train != nil {
				err = set.UseClassesOf(train) // FindSplits puts train first
			}
			if err != nil {
				return report(err)
			}
			if split == "train" {
				train = set
			}
			sources[i] = source{set: set}
			if arrowHeld && read == "train" {
				sources[i] = source{set: newHeldOutRows(set, heldRows, split == "val")}
			}
			continue
		}
		if len(tfSplits) > 0 {
			start := time.Now()
			set, err := tfrecord.Open(tfSplits[i], *labelColumn)
			if err == nil && trainRecords != nil {
				err = set.UseClassesOf(trainRecords) // FindSplits puts train first
			}
			if err != nil {
				return report(err)
			}
			if split == "train" {
				trainRecords = set
			}
			logger.Info("read the TFRecord files", "split", split, "files", len(tfSplits[i].Files), "records", set.Len(),
				"label", set.LabelFeature(), "classes", len(set.Classes()), "took", time.Since(start).Round(time.Millisecond))
			sources[i] = source{set: set}
			continue
		}
		labels := datasets.FolderLabels{Table: *labelTable, Column: *labelColumn}
		f := listed[split] // nil unless heldOutSplits listed it
		switch {
		case f != nil:
		case *valPercent > 0 || *splitColumn != "":
			var d datasets.Data
			read := datasets.SplitTest // val/ (test/ is listed by heldOutSplits)
			if split == "train" {
				read = datasets.SplitTrain
			}
			d, err = datasets.Open("folder", read, heldOutOpt)
			if err == nil {
				f = d.(*datasets.Folder)
			}
		default:
			f, err = datasets.OpenFolderLabels(filepath.Join(*in, from[split]), "", labels)
			if err == nil && split != "" && split != "train" {
				err = f.UseClassesOf(filepath.Join(*in, "train"))
			}
		}
		if err != nil {
			return report(err)
		}
		sources[i] = source{folder: f}
	}
	// A failure leaves -out as it was: the shards this run wrote (of earlier splits too), the
	// classes.txt files and the folders it created are removed, so that the command can simply
	// run again once the cause is fixed.
	var written, created []string // created: deepest first
	for _, split := range splits {
		dir := filepath.Join(*out, split)
		for _, name := range []string{"classes.txt", "index.json"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				created = append(created, filepath.Join(dir, name))
			}
		}
		if _, err := os.Stat(dir); err != nil && split != "" {
			created = append(created, dir)
		}
	}
	if _, err := os.Stat(*out); err != nil {
		created = append(created, *out)
	}
	undo := func() {
		for _, p := range written {
			os.Remove(p)
		}
		for _, p := range created {
			os.Remove(p) // a folder only when empty
		}
		if len(written) > 0 {
			logger.Warn("removed the shards this run wrote: -out is as it was", "shards", len(written))
		}
	}
	// A signal stops the writing before the next image; what was written is then removed, as
	// after any failure: a partial set of shards (without classes.txt) would train on a part of
	// the images, and the next run would refuse the folder.
	var stop atomic.Bool
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer func() {
		signal.Stop(signals)
		close(signals) // ends the goroutine below
	}()
	go func() {
		for s := range signals {
			if stop.Swap(true) {
				fmt.Fprintf(os.Stderr, "mkshards: second signal (%v): exiting at once; -out %s may hold shards of this run: remove them before running again\n", s, *out)
				os.Exit(130)
			}
			logger.Warn("signal received: stopping before the next image, then removing the shards written; a second signal exits at once", "signal", s)
		}
	}()
	interrupted := func() int {
		undo()
		fmt.Fprintf(os.Stderr, "mkshards: interrupted: nothing was kept (-out is as it was)\n")
		return 130
	}
	trainImages := 0 // written for training: the split train/, or the folder without splits
	for i, split := range splits {
		if stop.Load() {
			return interrupted()
		}
		src := sources[i]
		n, classes := src.len(), src.classes()
		prefix := split
		if prefix == "" {
			prefix = "shard"
		}
		var bad map[int]error
		var err error
		if f := src.folder; *verify && f != nil { // a Parquet, Arrow or TFRecord data set's images are decoded as they are written
			start := time.Now()
			bar := progress.New("verifying "+prefix, int64(n), 0, progress.Options{Logger: logger, Unit: "images"})
			bad, err = f.Verify(0, func(done int) { bar.Set(int64(done), "") })
			bar.Finish()
			if err == nil && len(bad) > 0 && !*skipBad {
				first := slices.Min(slices.Collect(maps.Keys(bad)))
				if len(bad) == 1 {
					err = fmt.Errorf("%s did not decode (%s): replace or delete it, or rerun with -skip-bad-images to leave it out",
						f.Path(first), datasets.Cause(bad[first]))
				} else {
					err = fmt.Errorf("%d of %d images did not decode, the first %s (%s): replace or delete them, or rerun with -skip-bad-images to leave them out",
						len(bad), n, f.Path(first), datasets.Cause(bad[first]))
				}
			}
			if stop.Load() {
				return interrupted()
			}
			if err != nil {
				undo()
				return report(err)
			}
			logger.Info("verified", "split", split, "images", n, "bad", len(bad), "took", time.Since(start).Round(time.Millisecond))
		}
		skipped := 0
		start := time.Now()
		bar := progress.New(prefix, int64(n-len(bad)), 0, progress.Options{Logger: logger, Unit: "images"})
		opt := datasets.ShardOptions{
			PerShard: *perShard, Prefix: prefix, Seed: *seed, NoShuffle: *noShuffle, SkipBadImages: *skipBad, Bad: bad,
			Skipped: func(path string, err error) {
				skipped++
				logger.Warn("skipping a bad image", "file", path, "err", datasets.Cause(err))
			},
			Progress: func(done int) { bar.Set(int64(done), "") },
			Stop:     &stop,
		}
		var paths []string
		if src.folder != nil {
			paths, err = datasets.WriteShards(src.folder, filepath.Join(*out, split), opt)
		} else {
			samples := src.set.Samples(*seed, *noShuffle, *shuffleBuffer)
			if *verify {
				samples = datasets.Decoded(samples)
			}
			paths, err = datasets.WriteSampleShards(samples, classes, filepath.Join(*out, split), opt)
		}
		bar.Finish()
		written = append(written, paths...)
		if errors.Is(err, datasets.ErrShardsStopped) {
			return interrupted()
		}
		if err != nil {
			undo()
			return report(err)
		}
		if split == "" || split == "train" {
			trainImages = n - skipped
		}
		logger.Info("wrote shards", "split", split, "images", n-skipped, "skipped", skipped, "classes", len(classes),
			"shards", len(paths), "pattern", datasets.ShardPattern(paths), "took", time.Since(start).Round(time.Millisecond))
		if src.folder != nil {
			src.folder.WarnLeftOut(logger)
		}
	}
	fmt.Printf("train with: go run ./train -preset imagenet -dataset shards -data-dir %s%s\n", flagargs.ShellQuote(*out), smallSet(trainImages))
	return 0
}

// source is one split to write: an image folder's, or a Parquet, Arrow or TFRecord data set's, or
// an ILSVRC2012 archive's.
type source struct {
	folder *datasets.Folder
	set    table
}

// table is a split of a data set read record by record (Parquet, Arrow or TFRecord files, ILSVRC2012
// archives), written from its Samples.
type table interface {
	Len() int
	Classes() []string
	Samples(seed uint64, noShuffle bool, buffer int) iter.Seq[datasets.ShardSample]
}

// len is the number of images.
func (s source) len() int {
	if s.folder != nil {
		return s.folder.Info().Len
	}
	return s.set.Len()
}

// classes are the class names (nil: unlabeled).
func (s source) classes() []string {
	if s.folder != nil {
		return s.folder.Info().ClassNames
	}
	return s.set.Classes()
}

// arrowHeldOut names the rows of the training split of the Arrow files in dir that train
// -val-percent percent holds out of them (the rows of its test split, as datasets.Open lists them:
// FILE:row N).
func arrowHeldOut(dir string, percent float64, labelColumn string) (map[string]bool, error) {
	d, err := datasets.Open("folder", datasets.SplitTest, datasets.Options{DataDir: dir, ValPercent: percent, LabelColumn: labelColumn})
	if err != nil {
		return nil, err
	}
	held, ok := d.(*datasets.RecordSet)
	if !ok {
		return nil, &datasets.DataError{Kind: datasets.ErrUsage, Path: dir, Index: -1,
			Err:  errors.New("-val-percent reads a data set that the datasets library saved (save_to_disk: dataset_dict.json or state.json beside its Arrow files) or keeps in its cache (dataset_info.json), and this folder holds neither file"),
			Hint: "give the folder that the library wrote, or leave -val-percent out"}
	}
	names := make(map[string]bool, held.Len())
	for i := range held.Len() {
		names[held.Path(i)] = true
	}
	return names, nil
}

// heldOutRows are the rows of an Arrow split that -val-percent holds out (held) or keeps, named
// as datasets.Open names them (FILE:row N).
type heldOutRows struct {
	*hfdata.Set
	names map[string]bool
	held  bool
	n     int
}

func newHeldOutRows(s *hfdata.Set, names map[string]bool, held bool) heldOutRows {
	n := len(names)
	if !held {
		n = s.Len() - n
	}
	return heldOutRows{Set: s, names: names, held: held, n: n}
}

// Len is the number of rows held out, or kept.
func (h heldOutRows) Len() int { return h.n }

// Samples yields the set's samples held out, or kept (and any error).
func (h heldOutRows) Samples(seed uint64, noShuffle bool, buffer int) iter.Seq[datasets.ShardSample] {
	return func(yield func(datasets.ShardSample) bool) {
		for x := range h.Set.Samples(seed, noShuffle, buffer) {
			if x.Err == nil && h.names[x.Path+":"+x.Member] != h.held {
				continue
			}
			if !yield(x) {
				return
			}
		}
	}
}

// report prints err and returns the exit status for it: 2 for a bad argument, 1 otherwise.
func report(err error) int {
	fmt.Fprintf(os.Stderr, "mkshards: %v\n", err)
	if errors.Is(err, datasets.ErrUsage) {
		return 2
	}
	return 1
}

// smallSet is what to add to the imagenet preset (ResNet-50, batch 2048, 224 px) for n training
// images, fewer than its batch: the README's smaller start, with a batch of at most a quarter of
// the images (a power of two, at most 256).
func smallSet(n int) string {
	if n >= 2048 {
		return ""
	}
	b := 2
	for b*2 <= min(256, n/4) {
		b *= 2
	}
	return fmt.Sprintf(" -model resnet18 -batch-size %d -epochs 100 -image-size 96", b)
}

// writeIndex writes the index.json of the shards that pattern names to out (default: beside them),
// their classes read from the member label names (which the index records).
func writeIndex(logger *log.Logger, pattern, out string, label datasets.ShardLabel, usage func(string, ...any) int) int {
	remote := strings.Contains(pattern, "://") || strings.HasPrefix(pattern, "pipe:")
	if out == "" && remote {
		return usage("-out: give the file to write the index of remote shards to (then put it beside them, or anywhere: it holds their full URLs)")
	}
	start := time.Now()
	var bar *progress.Bar
	s, err := datasets.ScanShards(pattern, label, func(done, total int) {
		if bar == nil {
			bar = progress.New("scanning", int64(total), 0, progress.Options{Logger: logger, Unit: "shards"})
		}
		bar.Set(int64(done), "")
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return report(err)
	}
	if out == "" {
		out = filepath.Join(filepath.Dir(s.Paths()[0]), "index.json")
	} else if st, err := os.Stat(out); err == nil && st.IsDir() {
		out = filepath.Join(out, "index.json")
	}
	if err := s.WriteIndex(out); err != nil {
		return report(fmt.Errorf("writing the index: %w", err))
	}
	info := s.Info()
	logger.Info("wrote the index", "file", out, "shards", len(s.Paths()), "samples", info.Len, "classes", info.NumClasses, "took", time.Since(start).Round(time.Millisecond))
	fmt.Printf("train with: go run ./train -preset imagenet -dataset shards -data-dir %s%s\n", flagargs.ShellQuote(out), smallSet(info.Len))
	return 0
}

// splitColumnErr says what is wrong with a -split-column value, nil when nothing is.
func splitColumnErr(spec string) error {
	_, _, err := datasets.ParseSplitColumn(spec)
	return err
}

// heldOutSplits lists the held-out split of the folder that opt reads by its split column, and
// its test images when the column assigns images to test beside those it assigns to val (then
// the held-out split is the val images, and the test images are a third split); nil for each
// that does not open (listing the splits again says why) or is not a split of its own.
func heldOutSplits(opt datasets.Options) (val, test *datasets.Folder) {
	v, err := datasets.Open("folder", datasets.SplitTest, opt)
	if err != nil {
		return nil, nil
	}
	opt.TestSplit = "test"
	t, err := datasets.Open("folder", datasets.SplitTest, opt)
	val = v.(*datasets.Folder)
	if err != nil || t.(*datasets.Folder).Path(0) == val.Path(0) { // no val images: the held-out ones are the test images
		return val, nil
	}
	return val, t.(*datasets.Folder)
}
