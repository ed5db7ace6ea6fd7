// Package tfrecord reads image data sets stored as TFRecord files of tf.train.Example records,
// for mkshards to write them as WebDataset shards: the folders TensorFlow Datasets prepares
// (~/tensorflow_datasets/NAME/VERSION: NAME-train.tfrecord-00000-of-00016 and the other splits'
// files, with each ClassLabel feature's class names in FEATURE.labels.txt beside them), and the
// files of TensorFlow's ImageNet scripts (train-00000-of-01024, validation-00000-of-00128, whose
// examples hold image/encoded and image/class/label). Each example's image is the encoded bytes of
// its image feature ("image", or "image/encoded"), its label the int64 (a class index) or bytes
// (a class name) of its label feature. Files are read a record at a time, so that a set larger
// than memory can be written, and decompressed as they are read where TFRecordOptions compressed
// them (GZIP, ZLIB).
package tfrecord

import (
	"bufio"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// Split is one split of a data set: its TFRecord files, in order.
type Split = datasets.FileSplit

var (
	// tfdsName is TensorFlow Datasets' file name: NAME-SPLIT.tfrecord-00000-of-00016.
	tfdsName = regexp.MustCompile(`^.+-([A-Za-z0-9_]+)\.tfrecords?(?:-[0-9]{5}-of-[0-9]{5})?$`)
	// shardedName is the name that TensorFlow's ImageNet scripts give: SPLIT-00000-of-01024.
	shardedName = regexp.MustCompile(`^([A-Za-z0-9_]+)-[0-9]{5}-of-[0-9]{5}$`)
)

// FindSplits lists the TFRecord files in dir and in its subfolders named as splits (hidden ones
// left out) by split, train first, then val and test, then others by name; it can be given one
// file too. A file's split is the SPLIT of TensorFlow Datasets' NAME-SPLIT.tfrecord-00000-of-00016
// or of SPLIT-00000-of-01024, or the folder that holds it when that is a split's name, or "" (a
// NAME.tfrecord of no split). A folder without such files gives no splits.
func FindSplits(dir string) ([]Split, error) {
	files := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			switch {
			case path == dir:
			case strings.HasPrefix(d.Name(), ".") || strings.Contains(rel, string(filepath.Separator)) || !datasets.KnownSplit(d.Name()):
				return filepath.SkipDir // not the folders of an image folder's classes
			}
			return nil
		}
		name := d.Name()
		split, ok := "", false
		if m := tfdsName.FindStringSubmatch(name); m != nil {
			split, ok = m[1], true
		} else if m := shardedName.FindStringSubmatch(name); m != nil {
			split, ok = m[1], true
		} else if ext := strings.ToLower(filepath.Ext(name)); ext == ".tfrecord" || ext == ".tfrecords" {
			ok = true
			if parent := filepath.Base(filepath.Dir(path)); datasets.KnownSplit(parent) {
				split = parent
			}
		}
		if !ok || strings.HasPrefix(name, ".") {
			return nil
		}
		split, _ = datasets.FileSplitName(split)
		files[split] = append(files[split], path)
		return nil
	})
	if err != nil {
		return nil, usageErr(dir, err, "give a readable folder")
	}
	return datasets.SortFileSplits(files), nil
}

// Set is a split opened: its features found, its records counted and its labels read.
type Set struct {
	Split
	count  int    // records
	image  string // the image feature
	label  string // the label feature, "" for none
	names  bool   // the labels are bytes (class names), not int64 class indices
	labels datasets.ClassNumbers
}

// imageFeatures and labelFeatures are the features an image and its label are looked for in, in
// this order: TensorFlow Datasets' names, then those of TensorFlow's ImageNet scripts.
var (
	imageFeatures = []string{"image", "image/encoded"}
	labelFeatures = []string{"label", "image/class/label"}
)

// Open opens a split, reading every record of its files once (their checksums checked): to count
// them, to find the image feature (imageFeatures, else the one bytes feature that holds an image)
// and the label feature (labelColumn, else the first of labelFeatures that the examples have, else
// none), and to read the labels. The classes of int64 labels are named by FEATURE.labels.txt
// beside the files (TensorFlow Datasets' ClassLabel names), else numbered 0 to the largest label;
// those of bytes labels are their distinct values, sorted as numbers when all are integers,
// otherwise as text. A label of -1 (TensorFlow Datasets' mark of a missing label) is none: a
// split without any label (a test split published without them) is unlabeled, one labeled in
// part a usage error. A damaged file, an example without the image feature, a labelColumn that
// the examples lack, and an int64 label past the class names are errors naming the file and
// record.
func Open(split Split, labelColumn string) (*Set, error) {
	s := &Set{Split: split, label: labelColumn}
	seen := map[string]bool{}
	maxLabel, labeled, unlabeled := int64(-1), 0, 0
	first, firstIndex := "", "" // the first example without a label, and the first with an int64 one
	err := s.records(func(path string, index int, ex map[string]feature) error {
		if s.image == "" {
			if err := s.findFeatures(path, index, ex); err != nil {
				return err
			}
		}
		if _, ok := ex[s.image]; !ok {
			return recordErr(datasets.ErrDamaged, path, index, fmt.Errorf("no %q feature (its features: %s)", s.image, featureList(ex)), "")
		}
		s.count++
		if s.label == "" {
			return nil
		}
		f, ok := ex[s.label]
		var value string
		switch {
		case !ok && labelColumn != "":
			return recordErr(datasets.ErrUsage, path, index, fmt.Errorf("no %q feature (its features: %s)", s.label, featureList(ex)), "name the label feature with -label-column")
		case !ok || f.kind == kindInt64 && len(f.ints) == 1 && f.ints[0] == -1:
		case f.kind == kindInt64 && len(f.ints) == 1 && f.ints[0] >= 0:
			maxLabel = max(maxLabel, f.ints[0])
			value = strconv.FormatInt(f.ints[0], 10)
			if firstIndex == "" {
				firstIndex = fmt.Sprintf("%s record %d", path, index)
			}
		case f.kind == kindBytes && len(f.bytes) == 1 && len(f.bytes[0]) > 0:
			s.names = true
			value = string(f.bytes[0])
			seen[value] = true
		default:
			return recordErr(datasets.ErrDamaged, path, index, fmt.Errorf("label feature %q holds %d %s values, want one class index >= 0 (int64) or class name (bytes)", s.label, max(len(f.ints), len(f.bytes)), kindName(f.kind)), "name the feature of the classes with -label-column")
		}
		if value == "" {
			if unlabeled++; first == "" {
				first = fmt.Sprintf("%s record %d", path, index)
			}
			return nil
		}
		labeled++
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case s.count == 0:
		return nil, usageErr(s.Files[0], fmt.Errorf("split %q holds no records", s.Name), "")
	case s.label == "" || labeled == 0:
		s.label = "" // written unlabeled
		return s, nil
	case unlabeled > 0:
		return nil, usageErr(s.Files[0], fmt.Errorf("%d of the %d examples of split %q have no %s (the first: %s)", unlabeled, s.count, s.Name, s.label, first),
			"label every example, or write the labeled ones and the others as two data sets")
	case s.names && firstIndex != "":
		return nil, usageErr(s.Files[0], fmt.Errorf("label feature %q of split %q holds class names (bytes) and class indices (int64, the first: %s)", s.label, s.Name, firstIndex),
			"give every example its class the same way")
	case s.names:
		s.labels = datasets.ValueClasses(slices.Collect(maps.Keys(seen)))
		return s, nil
	}
	labels := filepath.Join(filepath.Dir(s.Files[0]), strings.ReplaceAll(s.label, "/", "_")+".labels.txt")
	if names, err := readLines(labels); err == nil {
		if maxLabel >= int64(len(names)) {
			return nil, usageErr(labels, fmt.Errorf("%d class names, but split %q has label %d", len(names), s.Name, maxLabel), "")
		}
		s.labels = datasets.IndexedClasses(names)
		return s, nil
	}
	var numbered []string
	for k := range maxLabel + 1 {
		numbered = append(numbered, strconv.FormatInt(k, 10))
	}
	s.labels = datasets.IndexedClasses(numbered)
	return s, nil
}

// findFeatures sets s.image (and s.label, when no labelColumn named it) from ex, the first
// example.
func (s *Set) findFeatures(path string, index int, ex map[string]feature) error {
	for _, name := range imageFeatures {
		if f, ok := ex[name]; ok && f.kind == kindBytes {
			s.image = name
			break
		}
	}
	if s.image == "" {
		var images []string
		for name, f := range ex {
			if f.kind == kindBytes && len(f.bytes) == 1 && datasets.FormatExt(f.bytes[0]) != "" {
				images = append(images, name)
			}
		}
		if len(images) != 1 {
			return recordErr(datasets.ErrDamaged, path, index, fmt.Errorf("no image feature found among its features (%s): want one named %s, or a single bytes feature of an encoded image",
				featureList(ex), strings.Join(imageFeatures, " or ")), "")
		}
		s.image = images[0]
	}
	if s.label == "" {
		for _, name := range labelFeatures {
			if _, ok := ex[name]; ok {
				s.label = name
				break
			}
		}
	}
	return nil
}

// featureList lists the features of ex with their kinds, for messages.
func featureList(ex map[string]feature) string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(ex)) {
		out = append(out, name+" ("+kindName(ex[name].kind)+")")
	}
	return strings.Join(out, ", ")
}

// records calls fn with each record of the split's files, in order, parsed.
func (s *Set) records(fn func(path string, index int, ex map[string]feature) error) error {
	for _, path := range s.Files {
		if err := eachRecord(path, func(index int, data []byte) error {
			ex, err := parseExample(data)
			if err != nil {
				return recordErr(datasets.ErrDamaged, path, index, err, "")
			}
			return fn(path, index, ex)
		}); err != nil {
			return err
		}
	}
	return nil
}

// eachRecord calls fn with each record of the TFRecord file at path, in order; a damaged file is
// an error that names it.
func eachRecord(path string, fn func(index int, data []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return usageErr(path, err, "")
	}
	defer f.Close()
	r, err := decompressed(f)
	if err != nil {
		return &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: err, Hint: "download or prepare the file again"}
	}
	rr := newRecordReader(r)
	for {
		data, err := rr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: err, Hint: "download or prepare the file again"}
		}
		if err := fn(rr.n-1, data); err != nil {
			return err
		}
	}
}

// decompressed reads a TFRecord file from f, decompressing it where TFRecordOptions compressed it
// (GZIP, ZLIB): a file whose first record header checks is read as it is, else one that starts
// as a gzip or zlib stream is decompressed. (A zlib stream has no magic number of its own, and an
// uncompressed file may start with the bytes of one: the header's checksum decides.)
func decompressed(f io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(f, 1<<16)
	head, _ := br.Peek(12)
	switch {
	case len(head) == 12 && binary.LittleEndian.Uint32(head[8:]) == maskedCRC(head[:8]):
		return br, nil
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return gzip.NewReader(br)
	case len(head) >= 2 && head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0:
		return zlib.NewReader(br)
	}
	return br, nil // read as it is: the first record's error says what is wrong
}

// Len is the number of records.
func (s *Set) Len() int { return s.count }

// Classes are the class names (nil for an unlabeled split).
func (s *Set) Classes() []string { return s.labels.Classes() }

// LabelFeature is the feature the labels are read from ("" for none).
func (s *Set) LabelFeature() string { return s.label }

// UseClassesOf numbers the labels of s, a held-out split, by the classes of the training split
// train, so that a label means the same class in both; a class of s that train lacks is a usage
// error. It does nothing when either is unlabeled.
func (s *Set) UseClassesOf(train *Set) error {
	return s.labels.UseClassesOf(s.Split, train.Split, train.labels)
}

// Samples yields the records of the split as shard samples: the image bytes (a record whose
// bytes are not an image's is a bad image), an extension from their format, and the class number.
// Unless noShuffle, the files are read in an order drawn from seed and the records pass through
// a shuffle buffer of buffer records (datasets.Shuffled). A file that cannot be read yields a
// sample whose Err says so, and nothing after it.
func (s *Set) Samples(seed uint64, noShuffle bool, buffer int) iter.Seq[datasets.ShardSample] {
	rng := rand.New(rand.NewPCG(datasets.SplitMix64(seed^0x7f4a), 0x7f4a))
	if noShuffle {
		buffer = 0
	}
	records := func(yield func(datasets.ShardSample) bool) {
		files := slices.Clone(s.Files)
		if !noShuffle {
			rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
		}
		for _, path := range files {
			stem := strings.ReplaceAll(filepath.Base(path), ".", "_")
			err := eachRecord(path, func(index int, data []byte) error {
				x := datasets.ShardSample{Path: path, Member: fmt.Sprintf("record %d", index), Index: index,
					Key: fmt.Sprintf("%s_%09d", stem, index), Label: -1}
				ex, err := parseExample(data)
				if err != nil {
					return recordErr(datasets.ErrDamaged, path, index, err, "")
				}
				if f := ex[s.image]; len(f.bytes) == 1 {
					x.Data = f.bytes[0]
				}
				x.Ext = datasets.FormatExt(x.Data)
				if _, _, err := datasets.ImageSize(x.Data); err != nil {
					x.Bad = x.BadImage(err)
				}
				if s.labels.Classes() != nil {
					var ok bool
					if x.Label, ok = s.number1(ex[s.label]); !ok {
						return recordErr(datasets.ErrDamaged, path, index, fmt.Errorf("label feature %q is not as it was when the split was opened (the file changed?)", s.label), "")
					}
				}
				if !yield(x) {
					return errStop
				}
				return nil
			})
			if errors.Is(err, errStop) {
				return
			}
			if err != nil {
				yield(datasets.ShardSample{Path: path, Index: -1, Err: err})
				return
			}
		}
	}
	return datasets.Shuffled(records, rng, buffer)
}

var errStop = errors.New("stopped")

// number1 is the class number written for the label feature f, false where f is not a label
// that Open read (the file changed since).
func (s *Set) number1(f feature) (int32, bool) {
	switch {
	case s.names && len(f.bytes) == 1:
		return s.labels.OfValue(string(f.bytes[0]))
	case !s.names && len(f.ints) == 1:
		return s.labels.OfIndex(f.ints[0])
	}
	return -1, false
}

// readLines reads a file of one name a line (FEATURE.labels.txt).
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	return lines, sc.Err()
}

// recordErr is the error (of kind datasets.ErrDamaged, or ErrUsage) of record index of the file at
// path.
func recordErr(kind error, path string, index int, err error, hint string) error {
	return &datasets.DataError{Kind: kind, Path: path, Member: fmt.Sprintf("record %d", index), Index: index, Err: err, Hint: hint}
}

func usageErr(path string, err error, hint string) error {
	return &datasets.DataError{Kind: datasets.ErrUsage, Path: path, Index: -1, Err: err, Hint: hint}
}
