package datasets

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/charmbracelet/log"
)

// FileFormat is a kind of data set file that a folder may hold in place of images, whose
// images can be read in any order (Hugging Face's Arrow files): the package that reads it
// (datasets/hfdata) registers it with RegisterFileFormat, and Open then reads a folder of such
// files as it reads an image folder ("folder"), each split a *RecordSet.
type FileFormat struct {
	// Name names the files in messages ("Hugging Face Arrow files"); Ext is their extension
	// (".arrow").
	Name, Ext string
	// Detect reports whether dir holds a data set of such files. It must be cheap (a few Stat
	// calls): Open asks it of every image folder.
	Detect func(dir string) bool
	// Splits lists the splits of the data set in dir, named as FileSplitName names them ("" for
	// files of no split).
	Splits func(dir string) ([]FileSplit, error)
	// Open opens split, its labels those of labelColumn ("" for the format's default) and its
	// classes numbered by those of the training split train (nil when split is the training
	// split).
	Open func(split FileSplit, train *FileSplit, labelColumn string) (Records, error)
	// Below lists a few folders under dir that Detect would detect (a bounded walk): asked when
	// dir fails to open as an image folder, so that the message names the folder to give (a data
	// set in the datasets library's cache lies four folders down). Nil: none.
	Below func(dir string) []string
}

// Records are the images of a split of data set files, in a fixed order (an *ILSVRC archive, or
// what a registered FileFormat opens).
type Records interface {
	// Len is the number of images.
	Len() int
	// Label is the class of image i, or -1 when unlabeled.
	Label(i int) int32
	// Classes are the class names, in the order of the labels (nil for an unlabeled split).
	Classes() []string
	// Encoded reads the bytes of image i, as stored (JPEG, PNG, ...). Its errors are
	// *DataError values naming the file and the image in it.
	Encoded(i int) ([]byte, error)
	// Name names image i in messages and embeddings: its file, ":", and its place there
	// (".../train/data-00000-of-00002.arrow:row 12").
	Name(i int) string
}

var (
	fileFormatsMu sync.Mutex
	fileFormats   []FileFormat
)

// RegisterFileFormat makes Open read the folders that f detects, as image folders are read.
// Packages register their formats in init.
func RegisterFileFormat(f FileFormat) {
	fileFormatsMu.Lock()
	defer fileFormatsMu.Unlock()
	fileFormats = append(fileFormats, f)
}

// fileFormatOf is the registered format of the data set in dir, if a format detects one.
func fileFormatOf(dir string) (FileFormat, bool) {
	fileFormatsMu.Lock()
	formats := fileFormats
	fileFormatsMu.Unlock()
	for _, f := range formats {
		if f.Detect(dir) {
			return f, true
		}
	}
	return FileFormat{}, false
}

// formatBelow is err, of opening dir as an image folder (whose listing left out files of the
// extensions leftOut), or, where that failed as a usage error or left out files of a registered
// format's extension, and the format finds its data sets under dir, a usage error that names
// them.
func formatBelow(dir string, err error, leftOut map[string]int) error {
	fileFormatsMu.Lock()
	formats := fileFormats
	fileFormatsMu.Unlock()
	for _, f := range formats {
		if f.Below == nil || !errors.Is(err, ErrUsage) && leftOut[f.Ext] == 0 {
			continue
		}
		if found := f.Below(dir); len(found) > 0 {
			return usageErr(dir, fmt.Errorf("holds no images but %s deeper, in %s", f.Name, strings.Join(found, ", ")),
				"give the folder of one data set as -data-dir")
		}
	}
	return err
}

// RecordSet is a split of a data set of files read in any order as an image folder is (Open's
// "folder" of ImageNet's archives, its Records an *ILSVRC, or of a registered FileFormat's files,
// such as Hugging Face's Arrow files): a Source whose images the loader decodes from their bytes.
type RecordSet struct {
	recs   Records
	dir    string // the data set's folder
	split  string
	orient bool   // images are turned by their EXIF orientation (Options.ExifOrientation)
	kept   []int  // the records of the split (-val-percent keeps some), nil for all
	unread string // the held-out split's name where -val-percent holds out rows in its place
}

// Len is the number of images.
func (s *RecordSet) Len() int {
	if s.kept != nil {
		return len(s.kept)
	}
	return s.recs.Len()
}

func (s *RecordSet) record(i int) int {
	if s.kept != nil {
		return s.kept[i]
	}
	return i
}

// Info describes the split: every image decoded to RGB, ImageNet's normalisation (as for image
// folders).
func (s *RecordSet) Info() Info {
	classes := s.recs.Classes()
	return Info{Name: "folder", Split: s.split, Len: s.Len(), Channels: 3, NumClasses: len(classes), ClassNames: classes,
		Mean: ImageNetMean, Std: ImageNetStd}
}

// Label is the class of image i, or -1 when unlabeled.
func (s *RecordSet) Label(i int) int32 { return s.recs.Label(s.record(i)) }

// Path names image i: its file and its place there (Records.Name).
func (s *RecordSet) Path(i int) string { return s.recs.Name(s.record(i)) }

// Decode reads and decodes image i to RGB.
func (s *RecordSet) Decode(i int) (Image, error) {
	data, name, err := s.encoded(i)
	if err != nil {
		return Image{}, err
	}
	img, err := decodeImage(data, 1)
	if err != nil {
		return Image{}, badImageErr(name, "", i, err)
	}
	return orientImage(img, orientation(data, s.orient)), nil
}

func (s *RecordSet) exifOriented() bool { return s.orient }

// encoded reads the bytes of image i, for the loader to decode.
func (s *RecordSet) encoded(i int) ([]byte, string, error) {
	r := s.record(i)
	data, err := s.recs.Encoded(r)
	return data, s.recs.Name(r), err
}

// holdOut keeps the images that -val-percent holds out (held) or those it does not, chosen as an
// image folder's are (heldOutMask), by the images' names relative to the data set's folder.
func (s *RecordSet) holdOut(percent float64, held bool) error {
	n := s.recs.Len()
	names := make([]string, n)
	var labels []int32
	if len(s.recs.Classes()) > 0 {
		labels = make([]int32, n)
	}
	for i := range n {
		name := s.recs.Name(i)
		if rel, err := filepath.Rel(s.dir, name); err == nil && !strings.HasPrefix(rel, "..") {
			name = filepath.ToSlash(rel)
		}
		names[i] = name
		if labels != nil {
			labels[i] = s.recs.Label(i)
		}
	}
	out, err := heldOutMask(s.dir, names, labels, len(s.recs.Classes()), percent)
	if err != nil {
		return err
	}
	s.kept = []int{}
	for i, o := range out {
		if o == held {
			s.kept = append(s.kept, i)
		}
	}
	return nil
}

// openRecords opens split of the data set in dir that format f reads (Open's "folder"): its
// training split for SplitTrain; for SplitTest its val split, or else its test split (only its
// test split with -test-split test), numbered by the training split's classes; with
// opt.ValPercent both from the training split. A split that is not there is ErrNoSplit; the
// options that label an image folder's images from a table are refused.
func openRecords(f FileFormat, dir, split string, opt Options) (*RecordSet, error) {
	if opt.LabelTable != "" || opt.SplitColumn != "" {
		return nil, usageErr(dir, fmt.Errorf("holds %s, labelled by their own columns", f.Name),
			"leave -label-table and -split-column out (-label-column names the column of labels)")
	}
	splits, err := f.Splits(dir)
	if err != nil {
		return nil, err
	}
	find := func(names ...string) *FileSplit {
		for _, name := range names {
			for i := range splits {
				if splits[i].Name == name {
					return &splits[i]
				}
			}
		}
		return nil
	}
	var names []string
	for _, sp := range splits {
		names = append(names, fmt.Sprintf("%q", sp.Name))
	}
	train := find(SplitTrain)
	if train == nil && len(splits) == 1 && !KnownSplit(splits[0].Name) {
		train = &splits[0] // files of no split, or of one of another name
	}
	held := find("val", SplitTest)
	if opt.TestSplit == "test" {
		held = find(SplitTest)
	}
	wantHeld := split != SplitTrain && split != ""
	read, numberBy := train, (*FileSplit)(nil)
	switch {
	case opt.ValPercent > 0 || !wantHeld:
		if train == nil {
			return nil, usageErr(dir, fmt.Errorf("holds no training split among its splits (%s): %w", strings.Join(names, ", "), ErrNoSplit),
				"give the folder of a data set with a train split")
		}
	case held == nil:
		want := "val (validation) or test split"
		if opt.TestSplit == "test" {
			want = "test split (-test-split test)"
		}
		return nil, usageErr(dir, fmt.Errorf("holds %s of the splits %s, and no %s: %w", f.Name, strings.Join(names, ", "), want, ErrNoSplit),
			"hold out a percentage of the training split (-val-percent 10), or go without the held-out split")
	default:
		read, numberBy = held, train
	}
	recs, err := f.Open(*read, numberBy, opt.LabelColumn)
	if err != nil {
		return nil, err
	}
	s := &RecordSet{recs: recs, dir: dir, split: split, orient: opt.ExifOrientation}
	if split == splitTestOnly {
		s.split = SplitTest
	}
	if opt.ValPercent > 0 {
		if err := s.holdOut(opt.ValPercent, wantHeld); err != nil {
			return nil, err
		}
		if held != nil && wantHeld {
			s.unread = held.Name
		}
	}
	if s.Len() == 0 {
		return nil, usageErr(read.Files[0], errors.New("its split holds no images"), "give the folder of a data set with images")
	}
	return s, nil
}

// WarnLeftOut logs what the split leaves out: with -val-percent, the data set's own held-out
// split, not read (as an image folder's val/ folder is not).
func (s *RecordSet) WarnLeftOut(logger *log.Logger) {
	if s.unread != "" {
		logger.Info("the test split is the rows held out of the training split (-val-percent): the data set's own held-out split is not read",
			"split", s.unread, "folder", s.dir)
	}
}

// recordSplitsDiffer reports whether the data set in dir, which f reads, has a held-out split
// (val or test) beside its training split.
func recordSplitsDiffer(f FileFormat, dir string) bool {
	splits, err := f.Splits(dir)
	if err != nil {
		return false
	}
	for _, sp := range splits {
		if sp.Name == "val" || sp.Name == SplitTest {
			return true
		}
	}
	return false
}
