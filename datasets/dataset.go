// Package datasets reads image data sets (MNIST, CIFAR-10/100, STL-10 and a synthetic Gaussian
// mixture into memory, downloaded and verified when they are missing; image folders, ImageNet's
// ILSVRC2012 archives, the data set files of a registered FileFormat (Hugging Face's Arrow files,
// once datasets/hfdata is imported) and WebDataset tar shards streamed, decoded per batch) and
// feeds them to training as fixed-shape batches of two
// augmented views, built by a worker pool with torchvision's transforms (RandomResizedCrop on the
// original image, PIL's antialiased bicubic resampling, colour jitter, ...), and to evaluation
// with torchvision's resize and centre crop.
//
// Open returns a Data: a random-access Source (the in-memory *Dataset, an image *Folder, the
// *RecordSet of ImageNet's archives or of a registered format's data set files, a folder of either
// read as an image folder) or sequential *Shards; NewLoader and NewEvalIterator read either, and
// Gather and Visit decode
// chosen samples of either (as decoded, or as the evaluation transform prepares them). Images are
// uint8 in HWC order; batches are float32 NHWC slices ready for tensors.FromFlatDataAndDimensions.
package datasets

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// Split names understood by Load. Not every data set has every split: STL-10 has "unlabeled" and
// "train+unlabeled", the synthetic mixture and image folders accept any name.
const (
	SplitTrain          = "train"
	SplitTest           = "test"
	SplitUnlabeled      = "unlabeled"
	SplitTrainUnlabeled = "train+unlabeled"
)

// Dataset is an in-memory image data set. Image i occupies
// Images[i*Height*Width*Channels : (i+1)*Height*Width*Channels] in HWC order (row by row, channels
// interleaved), with pixel values 0..255.
type Dataset struct {
	// Name of the data set ("mnist", "cifar10", ...) and Split ("train", "test", ...).
	Name, Split string
	// Images holds N*Height*Width*Channels pixels, HWC order.
	Images []uint8
	// N is the number of images; Height, Width, Channels their shape.
	N, Height, Width, Channels int
	// Labels has one class index in [0, NumClasses) per image, or -1 for an unlabeled image
	// (STL-10's "train+unlabeled"); nil when the whole split is unlabeled.
	Labels []int32
	// NumClasses is the number of classes (0 when unknown).
	NumClasses int
	// ClassNames, when known, names each class.
	ClassNames []string
	// Mean and Std are per-channel normalisation statistics on the [0, 1] scale: the values
	// published and used by the reference implementations (ImageNet's for image folders and
	// shards, and for what Gather reads from them), or computed from the pixels for the synthetic
	// set and by the deprecated LoadFolder.
	Mean, Std []float32
	// Mixture holds the generating parameters of the "synthetic" data set; nil otherwise.
	Mixture *GaussianMixture
}

// ImageSize is the number of bytes of one image: Height*Width*Channels.
func (d *Dataset) ImageSize() int { return d.Height * d.Width * d.Channels }

// Image returns the pixels of image i (HWC order); the slice aliases Images. An i outside [0, N)
// panics (a programming error), also where Images has spare capacity that slicing alone would
// hand out.
func (d *Dataset) Image(i int) []uint8 {
	if i < 0 || i >= d.N {
		panic(fmt.Sprintf("datasets: image %d of data set %s/%s, which has %d images", i, d.Name, d.Split, d.N))
	}
	s := d.ImageSize()
	return d.Images[i*s : (i+1)*s]
}

// Label returns the label of image i, or -1 if the data set is unlabeled.
func (d *Dataset) Label(i int) int32 {
	if d.Labels == nil {
		return -1
	}
	return d.Labels[i]
}

// Validate checks that the shapes, the pixel buffer, the labels and the normalisation statistics
// agree with each other.
func (d *Dataset) Validate() error {
	if d == nil {
		return fmt.Errorf("dataset is nil")
	}
	name := d.Name
	if d.Split != "" {
		name += "/" + d.Split
	}
	if d.N <= 0 || d.Height <= 0 || d.Width <= 0 || d.Channels <= 0 {
		return fmt.Errorf("dataset %s: invalid shape N=%d H=%d W=%d C=%d, want all > 0", name, d.N, d.Height, d.Width, d.Channels)
	}
	if want := d.N * d.ImageSize(); len(d.Images) != want {
		return fmt.Errorf("dataset %s: %d pixel bytes, want N*H*W*C = %d", name, len(d.Images), want)
	}
	if d.Labels != nil {
		if len(d.Labels) != d.N {
			return fmt.Errorf("dataset %s: %d labels for %d images", name, len(d.Labels), d.N)
		}
		for i, l := range d.Labels {
			if l < -1 || (d.NumClasses > 0 && int(l) >= d.NumClasses) {
				return fmt.Errorf("dataset %s: label %d of image %d out of range [0, %d)", name, l, i, d.NumClasses)
			}
		}
	}
	if d.ClassNames != nil && len(d.ClassNames) != d.NumClasses {
		return fmt.Errorf("dataset %s: %d class names for %d classes", name, len(d.ClassNames), d.NumClasses)
	}
	if len(d.Mean) != d.Channels || len(d.Std) != d.Channels {
		return fmt.Errorf("dataset %s: normalisation has %d means and %d stds, want %d (one per channel)", name, len(d.Mean), len(d.Std), d.Channels)
	}
	for c, s := range d.Std {
		if !(s > 0) {
			return fmt.Errorf("dataset %s: std of channel %d is %g, want > 0", name, c, s)
		}
	}
	return nil
}

// ComputeMeanStd returns the per-channel mean and standard deviation of the pixels on the [0, 1]
// scale (population statistics, in float64).
func (d *Dataset) ComputeMeanStd() (mean, std []float32) {
	c := d.Channels
	sum := make([]float64, c)
	sq := make([]float64, c)
	for i, v := range d.Images {
		x := float64(v) / 255
		sum[i%c] += x
		sq[i%c] += x * x
	}
	n := float64(len(d.Images) / c)
	mean, std = make([]float32, c), make([]float32, c)
	for k := range c {
		m := sum[k] / n
		v := sq[k]/n - m*m
		if v < 1e-12 {
			v = 1e-12
		}
		mean[k] = float32(m)
		std[k] = float32(math.Sqrt(v))
	}
	return mean, std
}

// Head returns the first n images of d (a copy), or d itself when n <= 0 or n >= d.N.
func (d *Dataset) Head(n int) *Dataset {
	if n <= 0 || n >= d.N {
		return d
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return d.Subset(idx)
}

// Subset returns a new Dataset with the images at the given indices (copied).
func (d *Dataset) Subset(indices []int) *Dataset {
	s := d.ImageSize()
	out := *d
	out.N = len(indices)
	out.Images = make([]uint8, len(indices)*s)
	if d.Labels != nil {
		out.Labels = make([]int32, len(indices))
	}
	for k, i := range indices {
		copy(out.Images[k*s:(k+1)*s], d.Image(i))
		if d.Labels != nil {
			out.Labels[k] = d.Labels[i]
		}
	}
	return &out
}

// known is what the toolkit knows of a named data set without reading it: the side of its
// images (0: of any size), their channels and the normalisation its Info gives (nil for the
// synthetic set, whose statistics come from its pixels).
type known struct {
	side, channels int
	mean, std      []float32
}

// knownSet returns what is known of the named data set; ok is false for an unknown name.
func knownSet(name string) (k known, ok bool) {
	switch strings.ToLower(name) {
	case "mnist":
		return known{28, 1, mnistMean, mnistStd}, true
	case "cifar10":
		return known{32, 3, cifar10Spec.mean, cifar10Spec.std}, true
	case "cifar100":
		return known{32, 3, cifar100Spec.mean, cifar100Spec.std}, true
	case "stl10":
		return known{stlSide, 3, ImageNetMean, ImageNetStd}, true
	case "folder", "shards":
		return known{0, 3, ImageNetMean, ImageNetStd}, true // decoded to RGB, of any size
	case "synthetic":
		s := DefaultSynthetic()
		return known{s.Height, s.Channels, nil, nil}, true
	}
	return known{}, false
}

// ImageSide is the side of the images of the named data set where all have one (MNIST 28,
// CIFAR 32, STL-10 96, the default synthetic set's 16), and 0 for an image folder, shards or an
// unknown name (images of any size).
func ImageSide(name string) int {
	k, _ := knownSet(name)
	return k.side
}

// Channels is the number of channels of the named data set's images, without reading it: 1 for
// MNIST, 3 for CIFAR-10/100, STL-10, the default synthetic set and an image folder or shards
// (decoded to RGB); 0 for an unknown name.
func Channels(name string) int {
	k, _ := knownSet(name)
	return k.channels
}

// Normalisation returns the per-channel mean and standard deviation (on the [0, 1] scale) that
// the named data set's images are normalised with, as its Info says, without reading it:
// published values for MNIST, CIFAR-10/100 and STL-10 (ImageNet's), ImageNet's for an image
// folder or shards. ok is false for the synthetic set, whose statistics come from its pixels,
// and for an unknown name.
func Normalisation(name string) (mean, std []float32, ok bool) {
	k, _ := knownSet(name)
	if k.mean == nil {
		return nil, nil, false
	}
	return slices.Clone(k.mean), slices.Clone(k.std), true
}

// Names lists the data sets that Open knows (LoadWith knows all but "shards").
func Names() []string {
	return []string{"mnist", "cifar10", "cifar100", "stl10", "folder", "shards", "synthetic"}
}

// Open opens split of the named data set (one of Names()) for a Loader or an EvalIterator,
// without decoding anything ahead: "folder" lists the image folder opt.DataDir (OpenFolder),
// "shards" scans the tar shards that opt.DataDir names, a folder or a pattern (OpenShards); the
// other sets are small and fixed-size, and are read into memory (LoadWith). Errors about the data
// are *DataError values: errors.Is(err, ErrUsage) for a bad argument, ErrDamaged for damaged data.
func Open(name, split string, opt Options) (Data, error) {
	opt.DataDir = ExpandHome(opt.DataDir)
	switch opt.TestSplit {
	case "", "val":
	case "test":
		if opt.ValPercent > 0 {
			return nil, usageErr(opt.DataDir, fmt.Errorf("-test-split test reads the test/ folder, and -val-percent %g holds out its own test split in place of it", opt.ValPercent),
				"give one of them (evaluate reads the run's -val-percent unless given: -val-percent 0 scores test/)")
		}
		if split == SplitTest {
			split = splitTestOnly
		}
	default:
		return nil, usageErr(opt.DataDir, fmt.Errorf("-test-split %q: want val (val/, or else test/) or test (test/ alone)", opt.TestSplit), "")
	}
	d, err := open(name, split, opt)
	if err == nil && opt.TestSplit == "test" {
		switch d := d.(type) {
		case *Folder:
			d.testLeft = 0 // the split column's test images are the test split: not left out
			if split == splitTestOnly {
				d.split = SplitTest
			}
		case *Shards:
			if split == splitTestOnly {
				d.split = SplitTest
			}
		}
	}
	return d, err
}

func open(name, split string, opt Options) (Data, error) {
	switch strings.ToLower(name) {
	case "folder":
		read := split
		if opt.ValPercent > 0 {
			read = SplitTrain // both splits are drawn from the training images
			if opt.SplitColumn != "" {
				return nil, usageErr(opt.DataDir, fmt.Errorf("-val-percent %g and -split-column %s both choose the held-out images", opt.ValPercent, opt.SplitColumn),
					"give one of them")
			}
		}
		if ff, ok := fileFormatOf(opt.DataDir); ok {
			s, err := openRecords(ff, opt.DataDir, split, opt)
			if err != nil {
				return nil, err // not a nil *RecordSet in a non-nil Data
			}
			return s, nil
		}
		if a, ok := ilsvrcFolder(opt.DataDir); ok {
			s, err := openILSVRC(a, opt.DataDir, split, opt)
			if err != nil {
				return nil, err // not a nil *RecordSet in a non-nil Data
			}
			return s, nil
		}
		f, err := OpenFolderLabels(opt.DataDir, read, FolderLabels{Table: opt.LabelTable, Column: opt.LabelColumn, SplitColumn: opt.SplitColumn})
		if err == nil && opt.ValPercent > 0 {
			err = f.holdOut(opt.ValPercent, split != SplitTrain && split != "")
			f.split = split
			if test, terr := resolveSplit(opt.DataDir, SplitTest); terr == nil && test != f.dir {
				f.notRead = test // a val/ or test/ folder, left for the final word
			}
		}
		var leftOut map[string]int
		if f != nil {
			leftOut = f.other
		}
		if err := formatBelow(opt.DataDir, err, leftOut); err != nil {
			return nil, err
		}
		f.orient = opt.ExifOrientation
		return f, nil
	case "shards":
		label, err := ParseShardLabel(opt.LabelColumn)
		if err != nil {
			return nil, usageErr(opt.DataDir, fmt.Errorf("-label-column %w", err), "")
		}
		s, err := openShards(opt.DataDir, split, shardOptions{percent: opt.ValPercent, label: label, classes: ExpandHome(opt.ClassNames)})
		if err != nil {
			return nil, err
		}
		if opt.ShardReadAhead != 0 {
			s.readAhead = max(opt.ShardReadAhead, 0)
		}
		s.cache = ExpandHome(opt.ShardCache)
		s.orient = opt.ExifOrientation
		return s, nil
	}
	ds, err := LoadWith(name, split, opt)
	if err != nil {
		return nil, err // not a nil *Dataset in a non-nil Data
	}
	return ds, nil
}

// OpenTest opens the test split of the data set name: Open's test split, except that an image
// folder or shards without split folders (or shards named by a pattern), whose "test" split would
// be the training images again, is an ErrNoSplit error (and ErrUsage) saying how to give held-out
// images, not an evaluation of the training images. It decides from the layout alone: nothing of
// the training split is listed or scanned.
func OpenTest(name string, opt Options) (Data, error) {
	if HasHeldOut(name, opt) {
		return Open(name, SplitTest, opt)
	}
	hint := "give the data directory a train/ and a val/ (or test/) folder of class folders, or hold out a percentage of the images (-val-percent 10), or name the label table's column of splits (-split-column)"
	if strings.EqualFold(name, "shards") {
		hint = "give the data directory a train/ and a val/ (or test/) folder of shards"
		if isIndex(opt.DataDir) {
			hint = "give the index of train/ shards with the index of the same name in a val/ (or test/) folder beside train/, as mkshards writes them, or hold out a percentage of the training shards (-val-percent 5)"
		}
	}
	return nil, usageErr(ExpandHome(opt.DataDir), fmt.Errorf("no held-out images: the test split would be the training images: %w", ErrNoSplit), hint)
}

// HasHeldOut reports whether the data set name, as opt reads it, has held-out images for its
// test split (OpenTest opens them; without them, it is an ErrNoSplit error). It decides from the
// layout alone, as OpenTest does.
func HasHeldOut(name string, opt Options) bool {
	return !sameSplits(name, ExpandHome(opt.DataDir)) || strings.EqualFold(name, "folder") && (opt.ValPercent > 0 || opt.SplitColumn != "") ||
		strings.EqualFold(name, "shards") && opt.ValPercent > 0
}

// sameSplits reports whether the training and test splits of the data set name in dir are the
// same images: an image folder, or a folder of shards, without split folders; shards named by a
// pattern, a glob or one file.
func sameSplits(name, dir string) bool {
	dir = ExpandHome(dir)
	switch strings.ToLower(name) {
	case "folder":
		if f, ok := fileFormatOf(dir); ok {
			return !recordSplitsDiffer(f, dir)
		}
		if a, ok := ilsvrcFolder(dir); ok {
			return a.Val == "" || a.Devkit == ""
		}
		train, err1 := resolveSplit(dir, SplitTrain)
		test, err2 := resolveSplit(dir, SplitTest)
		return err1 == nil && err2 == nil && train == test
	case "shards":
		if isIndex(dir) {
			if info, err := readInfo(dir); err == nil && info != nil {
				return info.infoSplit(SplitTest) == ""
			}
			return indexForSplit(dir, SplitTrain) == indexForSplit(dir, SplitTest)
		}
		train, err1 := shardPaths(dir, SplitTrain)
		test, err2 := shardPaths(dir, SplitTest)
		return err1 == nil && err2 == nil && slices.Equal(train, test)
	}
	return false
}

// Options configure LoadWith. The zero value reads from DefaultDataDir, downloads what is missing
// from the canonical URLs, and prints download progress to standard error.
type Options struct {
	// DataDir is where data sets are looked for and downloaded to (one subfolder per data set);
	// for "folder" it is the image folder itself, for "shards" the folder of .tar files or a
	// pattern such as dir/train-{000000..000146}.tar. Empty means DefaultDataDir().
	DataDir string
	// NoDownload forbids network access: a missing file is an error that says where to put it.
	NoDownload bool
	// BaseURL, when set, replaces the scheme and host part of every download URL: the file name is
	// appended to it (for mirrors and for tests against a local HTTP server).
	BaseURL string
	// Progress receives download progress lines; nil means os.Stderr. Use io.Discard to silence it.
	Progress interface{ Write([]byte) (int, error) }
	// ImageSize, for "folder" read by LoadWith into memory, prepares every image as the evaluation
	// transform does (shorter side to int(ImageSize/0.875), then the centre ImageSize x ImageSize:
	// LoadFolder); 0 requires all images to have the same size.
	// Open ignores it: the loader crops the original images.
	ImageSize int
	// ShardReadAhead is the number of remote shards (URLs, pipe: commands) downloaded at once,
	// the one being read included, into files of the temporary folder (TMPDIR), each removed once
	// read: 0 means DefaultReadAhead, a negative number none (each shard streamed as it is read).
	ShardReadAhead int
	// ShardCache, when set, is a folder that keeps remote shards once downloaded (written
	// atomically, named by CacheName): later epochs and runs read them there, under the folder's
	// size limit (LimitShardCache); a shard whose cached size differs from its index's is
	// downloaded again.
	ShardCache string
	// Synthetic configures the "synthetic" data set; the zero value means DefaultSynthetic().
	Synthetic SyntheticConfig
	// ExifOrientation turns the images of an image folder or shards upright as their EXIF data
	// says, as PIL's ImageOps.exif_transpose does (orient.go); without it they are read as PIL
	// and torchvision read them: as stored, but for a TIFF's Orientation tag.
	ExifOrientation bool
	// LabelColumn is the column of an image folder's metadata table (metadata.csv or
	// metadata.jsonl, see Folder) that holds the labels; "" means DefaultLabelColumn, read when the
	// table has it. A column named must be in the table. Of shards, it names the member that holds
	// each sample's class, as ParseShardLabel reads it: "" for .cls, an extension, or EXT:FIELD
	// (json:label) for a field of a JSON member.
	LabelColumn string
	// LabelTable is a label table outside the image folder (a CSV file, or JSON Lines, see
	// FolderLabels.Table) that labels its images in place of the folder's class folders or metadata
	// table; "" for none.
	LabelTable string
	// ClassNames is, for "shards", the location (a file or URL) of a class list, one name a line
	// in the order of the class indices as classes.txt, which numbers the shards' classes in place
	// of the list beside them or in their index: for shards whose class indices nothing beside
	// them names (timm's _info.json on the Hugging Face Hub, pipe: commands); "" for none.
	ClassNames string
	// ValPercent holds out this percentage of an image folder's training images (those of its
	// train/ folder, or of the folder itself) as its test split, in place of a val/ or test/
	// folder (see Folder.holdOut), or of the training split's shards, whole (see holdOutShards);
	// 0 means none.
	ValPercent float64
	// SplitColumn is a column of an image folder's label table that assigns each image to a split
	// (FolderLabels.SplitColumn: COLUMN or COLUMN=VALUE), in place of a val/ or test/ folder; ""
	// for none. It and ValPercent exclude each other.
	SplitColumn string
	// TestSplit says which held-out split an image folder's or shards' test split is: "" or "val"
	// for val/ (or its aliases), else test/ (a split column's val images, else its test images);
	// "test" for test/ alone (the split column's test images): the final figure, once a recipe
	// was chosen on val/. In-memory data sets have one test split, whatever it says.
	TestSplit string
}

// DefaultDataDir is $VICREG_DATA if set, otherwise the "vicreg-datasets" folder in the user's cache
// folder (e.g. ~/.cache/vicreg-datasets), otherwise "data".
func DefaultDataDir() string {
	if d := os.Getenv("VICREG_DATA"); d != "" {
		return d
	}
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "vicreg-datasets")
	}
	return "data"
}

// DataDirOf is the folder that the data set name reads for the data directory dir (Options.DataDir):
// dir with a leading ~ expanded; when empty, DefaultDataDir() for the sets downloaded into it,
// and "" for an image folder or shards (which need one) and for the synthetic set (which reads
// nothing).
func DataDirOf(name, dir string) string {
	dir = ExpandHome(dir)
	switch strings.ToLower(name) {
	case "synthetic":
		return ""
	case "folder", "shards":
		return dir
	}
	if dir == "" {
		return DefaultDataDir()
	}
	return dir
}

// Load reads a data set split into memory, downloading it into dataDir when it is missing
// (see LoadWith). An empty dataDir means DefaultDataDir().
func Load(name, dataDir, split string) (*Dataset, error) {
	return LoadWith(name, split, Options{DataDir: dataDir})
}

// LoadWith reads split of the named data set (one of Names()) with the given options and validates it.
func LoadWith(name, split string, opt Options) (*Dataset, error) {
	opt.DataDir = DataDirOf(name, opt.DataDir)
	var (
		ds  *Dataset
		err error
	)
	switch strings.ToLower(name) {
	case "mnist":
		ds, err = loadMNIST(split, opt)
	case "cifar10", "cifar-10":
		ds, err = loadCIFAR(cifar10Spec, split, opt)
	case "cifar100", "cifar-100":
		ds, err = loadCIFAR(cifar100Spec, split, opt)
	case "stl10", "stl-10":
		ds, err = loadSTL10(split, opt)
	case "folder":
		ds, err = LoadFolder(opt.DataDir, split, opt.ImageSize)
	case "shards":
		return nil, fmt.Errorf("tar shards are read as they stream, not into memory: open them with datasets.Open")
	case "synthetic":
		cfg := opt.Synthetic
		if cfg.N == 0 {
			cfg = DefaultSynthetic()
		}
		ds, err = Synthetic(cfg, split)
	default:
		return nil, fmt.Errorf("unknown data set %q: want one of %s", name, strings.Join(Names(), ", "))
	}
	if err != nil {
		return nil, err
	}
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	return ds, nil
}

// MissingRunData says what to do when dir, the data folder that a run's configuration records,
// is not there: a run moved to another machine, data moved since, or a relative path (stored by
// runs before paths were made absolute) read from another working directory.
func MissingRunData(dir string) string {
	msg := fmt.Sprintf("the run was trained on %s (its configuration's data_dir), which is not there", dir)
	if !filepath.IsAbs(dir) {
		msg += ": a relative path, from the folder the run was started in"
	}
	return msg + "; give the images' folder with -data-dir"
}

// CheckRecordedDataDir returns a usage error when dir, a data directory read from a run's
// configuration rather than given on the command line, is a pipe: command: a command found in a
// run's folder, which may come from someone else, is not run without being asked for.
func CheckRecordedDataDir(dir string) error {
	if !isPipe(dir) {
		return nil
	}
	return usageErr(dir, errors.New("the run read its shards through a command (its configuration's data_dir), which is not run again unasked"),
		"give it with -data-dir to run it")
}

// RecordedShardCache is the shard cache dir that a run recorded (its configuration's
// shard_cache) when that folder exists here, else "": a folder named by a run's configuration,
// which may come from another machine, is used but never created.
func RecordedShardCache(dir string) string {
	if dir == "" || !isDir(dir) {
		return ""
	}
	return dir
}

// Within reports whether path is dir or inside it, as written (both made absolute) or once the
// symbolic links of their existing parts are followed (dir a link to the folder that path names by
// its real path, say): an output folder there would be read as images, or as a class, of dir.
func Within(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	return inside(p, d) || inside(followLinks(p), followLinks(d))
}

// inside reports whether the absolute path p is d or inside it, by their names.
func inside(p, d string) bool {
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// followLinks is the absolute path with the symbolic links of its longest existing part followed
// (filepath.EvalSymlinks), and the part that does not exist yet appended as it is.
func followLinks(path string) string {
	rest := ""
	for p := path; ; {
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(resolved, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// AbsPaths applies ExpandHome to each non-empty path in place and makes it absolute, so that a
// path a run stores (config.json, result.json) names the same file from any working directory.
// URLs and pipe: commands (shards' locations) are left as they are.
func AbsPaths(paths ...*string) {
	for _, p := range paths {
		if *p = ExpandHome(*p); *p != "" && !isRemote(*p) {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
}

// ExpandHomes applies ExpandHome to each path in place: the path flags of a command once parsed.
func ExpandHomes(paths ...*string) {
	for _, p := range paths {
		*p = ExpandHome(*p)
	}
}

// ExpandHome replaces a leading "~/" (or a lone "~") of path by the user's home folder, as a
// shell would, for paths that reach us quoted (-data-dir '~/shards/train-{000000..000009}.tar'),
// and a location of the Hugging Face Hub written as huggingface_hub's file system writes it
// (hf://datasets/OWNER/NAME/train-{0000..0009}.tar) by its URL (remote.HubURL); other paths
// are returned as they are.
func ExpandHome(path string) string {
	if strings.HasPrefix(path, "hf://") {
		return remote.HubURL(path)
	}
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return path
	}
	return filepath.Join(home, path[1:])
}
