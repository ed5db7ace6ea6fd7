// Package hfdata reads image data sets in the files of Hugging Face's datasets library, for
// mkshards to write them as WebDataset shards: Parquet files in the layout of the Hub (each split
// in files named SPLIT-00000-of-00003.parquet, what push_to_hub writes, under data/; or in a
// folder named after the split, default/train/0000.parquet, the Hub's Parquet conversion), and
// Arrow files as the library keeps them (a data set saved by save_to_disk: data-00000-of-00001.arrow
// in a folder for each split; its cache of a loaded data set: NAME-SPLIT.arrow or
// NAME-SPLIT-00000-of-00002.arrow, beside a dataset_info.json that lists the splits). Each image
// is a {bytes, path} struct (the library's Image feature; where the bytes are null, as the
// library leaves the images of a data set loaded from local files, the image is the file at
// path), each label an integer whose class names the files' "huggingface" metadata lists (a
// ClassLabel feature), or a string or integer of another column. Files are read a row group (a
// record batch) at a time, so that a set larger than memory can be written.
//
// Importing the package also registers the Arrow files with package datasets (ArrowFormat), so
// that datasets.Open reads a folder that the library wrote as it reads an image folder: each
// split's rows listed when it opens (OpenRecords), each image then read where it lies.
package hfdata

import (
	"encoding/json"
	"errors"
	"fmt"
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

// Split is one split of a data set: its data files, in order.
type Split = datasets.FileSplit

// shardName is push_to_hub's file name, SPLIT-00000-of-00003.parquet, and the datasets library's
// name of a part of a split that it keeps: data-00000-of-00003.arrow (save_to_disk),
// NAME-SPLIT-00000-of-00003.arrow (its cache).
var shardName = regexp.MustCompile(`^(.+)-[0-9]{5}-of-[0-9]{5}\.(parquet|arrow)$`)

// FindSplits lists the Parquet and Arrow files under dir (in it, in its subfolders, and in their
// subfolders named as splits; hidden ones left out, and the library's caches of a data set's
// transformations, cache-*.arrow) by split, train first, then val and test, then others by name;
// it can be given one file too. A Parquet file's split is the name before -00000-of-00003.parquet,
// or else the folder that holds it when that is a split's name; an Arrow file's, the folder that
// holds it when that is a split's name (save_to_disk's), or else the split that ends its name
// (the cache's NAME-SPLIT.arrow, NAME-SPLIT-00000-of-00003.arrow: a split that the
// dataset_info.json beside it lists, or a split's name); else "" (no split). Files of one split in
// two folders (two configurations of a data set), or in both formats, are a usage error: give the
// folder of one.
func FindSplits(dir string) ([]Split, error) {
	files := map[string][]string{}
	folder := map[string]string{}
	listed := map[string][]string{} // the splits that a folder's dataset_info.json lists
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			depth := strings.Count(rel, string(filepath.Separator)) + 1
			switch {
			case path == dir:
			case strings.HasPrefix(d.Name(), ".") || depth > 2 || depth == 2 && !datasets.KnownSplit(d.Name()):
				return filepath.SkipDir // not the folders of an image folder's classes
			}
			return nil
		}
		ext := strings.ToLower(filepath.Ext(d.Name()))
		if strings.HasPrefix(d.Name(), ".") || ext != ".parquet" && ext != ".arrow" || ext == ".arrow" && strings.HasPrefix(d.Name(), "cache-") {
			return nil
		}
		split := ""
		parent := filepath.Base(filepath.Dir(path))
		m := shardName.FindStringSubmatch(d.Name())
		switch {
		case ext == ".parquet" && m != nil:
			split = m[1]
		case datasets.KnownSplit(parent):
			split = parent
		case ext == ".arrow":
			stem := strings.TrimSuffix(d.Name(), filepath.Ext(d.Name()))
			if m != nil {
				stem = m[1]
			}
			here := filepath.Dir(path)
			if _, ok := listed[here]; !ok {
				listed[here] = infoSplits(here)
			}
			split = arrowSplit(stem, listed[here])
		}
		split, _ = datasets.FileSplitName(split)
		if prev, ok := folder[split]; ok && prev != filepath.Dir(path) {
			return usageErr(dir, fmt.Errorf("holds the data files of split %q in two folders, %s and %s (two configurations?)", split, prev, filepath.Dir(path)),
				"give the folder of one of them")
		}
		if k := slices.IndexFunc(files[split], func(p string) bool { return isArrow(p) != isArrow(path) }); k >= 0 {
			return usageErr(dir, fmt.Errorf("holds split %q in Parquet and in Arrow files (%s and %s)", split, filepath.Base(files[split][k]), d.Name()),
				"give the folder of one of them")
		}
		folder[split] = filepath.Dir(path)
		files[split] = append(files[split], path)
		return nil
	})
	if err != nil {
		if errors.Is(err, datasets.ErrUsage) {
			return nil, err
		}
		return nil, usageErr(dir, err, "give a readable folder")
	}
	if len(files) == 0 {
		if deeper := cacheBelow(dir); len(deeper) > 0 {
			where := strings.Join(deeper, ", ")
			if len(deeper) == maxCacheFolders {
				where += " and more"
			}
			return nil, usageErr(dir, fmt.Errorf("holds the datasets library's Arrow files only deeper, in %s", where),
				"give the folder of one data set (the datasets library's cache keeps each in NAME/CONFIG/VERSION/HASH/)")
		}
	}
	return datasets.SortFileSplits(files), nil
}

// cacheBelow lists the folders under dir (in sorted order, at most maxCacheFolders of them, at
// most maxCacheDepth below it, among its first maxCacheEntries entries: an image folder is not
// walked through) that hold Arrow files beside a dataset_info.json, as the datasets library's
// cache keeps a data set.
func cacheBelow(dir string) []string {
	var found []string
	seen := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch seen++; {
		case err != nil || len(found) == maxCacheFolders || seen > maxCacheEntries:
			return filepath.SkipAll
		case d.IsDir():
			rel, _ := filepath.Rel(dir, path)
			if path != dir && (strings.HasPrefix(d.Name(), ".") || strings.Count(rel, string(filepath.Separator))+1 > maxCacheDepth) {
				return filepath.SkipDir
			}
		case isArrow(path) && !strings.HasPrefix(d.Name(), "cache-"):
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), "dataset_info.json")); err == nil {
				found = append(found, filepath.Dir(path))
				return filepath.SkipDir // the folder's other files
			}
		}
		return nil
	})
	return found
}

// maxCacheDepth is how deep under a folder cacheBelow looks (the cache's NAME/CONFIG/VERSION/HASH
// and a little more), maxCacheEntries at how many entries at most, and maxCacheFolders how many
// folders it lists.
const (
	maxCacheDepth   = 6
	maxCacheEntries = 10000
	maxCacheFolders = 3
)

// infoSplits are the splits that the datasets library's dataset_info.json in folder lists (nil
// without one).
func infoSplits(folder string) []string {
	return slices.Sorted(maps.Keys(infoCounts(folder)))
}

// infoCounts are the rows of each split that the datasets library's dataset_info.json in folder
// counts (num_examples; -1 where it does not), by the split's name; nil without one, or where
// it lists no splits (save_to_disk's).
func infoCounts(folder string) map[string]int64 {
	data, err := os.ReadFile(filepath.Join(folder, "dataset_info.json"))
	if err != nil {
		return nil
	}
	var info struct {
		Splits map[string]struct {
			NumExamples *int64 `json:"num_examples"`
		} `json:"splits"`
	}
	if json.Unmarshal(data, &info) != nil || len(info.Splits) == 0 {
		return nil
	}
	counts := map[string]int64{}
	for name, sp := range info.Splits {
		counts[name] = -1
		if sp.NumExamples != nil {
			counts[name] = *sp.NumExamples
		}
	}
	return counts
}

// checkCounted checks the rows of s, a split of Arrow files of the datasets library's cache,
// against the count of the dataset_info.json beside them: a file cut short at a record batch
// would otherwise read as a smaller one (an Arrow stream may end without its end marker).
func (s *Set) checkCounted() error {
	folder := filepath.Dir(s.Files[0])
	counts := infoCounts(folder)
	if counts == nil || !isArrow(s.Files[0]) {
		return nil
	}
	name := ""
	for _, f := range s.Files {
		stem := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		if m := shardName.FindStringSubmatch(filepath.Base(f)); m != nil {
			stem = m[1]
		}
		n := arrowSplit(stem, slices.Sorted(maps.Keys(counts)))
		if filepath.Dir(f) != folder || n == "" || name != "" && n != name {
			return nil // not one split of the cache's
		}
		name = n
	}
	if want := counts[name]; want >= 0 && want != s.rows {
		return &datasets.DataError{Kind: datasets.ErrDamaged, Path: folder, Index: -1,
			Err:  fmt.Errorf("the Arrow files of split %q hold %d rows, but dataset_info.json beside them counts %d (num_examples): a file cut short?", name, s.rows, want),
			Hint: "load the data set again with the datasets library (download_mode=\"force_redownload\"), which writes its cache again"}
	}
	return nil
}

// arrowSplit is the split that stem, the name of an Arrow file, names: the split that ends it (the
// datasets library's cache: NAME-SPLIT) among the splits listed (the longest that does), or else
// a split's name that is stem or follows its last "-"; "" for none.
func arrowSplit(stem string, listed []string) string {
	if datasets.KnownSplit(stem) {
		return stem
	}
	best := ""
	for _, s := range listed {
		if strings.HasSuffix(stem, "-"+s) && len(s) > len(best) {
			best = s
		}
	}
	if best != "" {
		return best
	}
	if i := strings.LastIndex(stem, "-"); i >= 0 && datasets.KnownSplit(stem[i+1:]) {
		return stem[i+1:]
	}
	return ""
}

// Set is a split opened: its columns found, its labels read.
type Set struct {
	Split
	rows     int64
	image    string // the image column: a struct with a bytes field
	file     bool   // the image struct has a path field (of text), read where the bytes are null
	label    string // the label column, "" for none
	names    bool   // the labels are ClassLabel indexes (else values, numbered in their sorted order)
	integers bool   // the label column holds integers
	labels   datasets.ClassNumbers
}

// features is the part of the "huggingface" metadata of a file read here.
type features struct {
	Info struct {
		Features map[string]struct {
			Type  string   `json:"_type"`
			Names []string `json:"names"`
		} `json:"features"`
	} `json:"info"`
}

// dataFile is one file of a split, Parquet or Arrow, read a group of rows at a time: a Parquet
// row group, an Arrow record batch.
type dataFile interface {
	// columns are the file's top-level columns; meta is its "huggingface" metadata ("": none).
	columns() (cols []column, meta string)
	// groups are the numbers of rows of the file's groups, in file order.
	groups() []int64
	// read returns the rows of group g, whose first row is row start of the file: the labels of
	// the column label (unless ""), as text, and with images, the image bytes of the struct
	// column image (and where they are null, its path, where it has one).
	read(g int, start int64, label, image string, withImages bool) ([]row, error)
	close() error
}

// column is a top-level column of a file, as far as a split needs to know it.
type column struct {
	name string
	kind columnKind
	path bool   // an image column's struct has a path field of text
	typ  string // the column's type, for messages
}

// columnKind is what a column holds, for a split.
type columnKind int

const (
	otherColumn  columnKind = iota // a plain column of another type
	imageColumn                    // a struct with a bytes field: the Image feature's
	intColumn                      // integers
	textColumn                     // strings (or bytes)
	nestedColumn                   // a struct, list or map that is not an image
)

// find returns the column of cols named name.
func find(cols []column, name string) (column, bool) {
	for _, c := range cols {
		if c.name == name {
			return c, true
		}
	}
	return column{}, false
}

// Open opens the files of split: it finds the image column (the Image feature of the files'
// metadata, or else the first column that is a struct with a bytes field) and the label column
// (labelColumn; by default the first ClassLabel feature, or else a column named "label"), and
// reads the labels that are not ClassLabel indexes to list their classes (sorted; numerically when
// all are integers). Every file must have the columns of the first. A split whose rows are
// labeled in part (-1, null or "" in the others) is a usage error.
func Open(split Split, labelColumn string) (*Set, error) {
	s, err := openColumns(split, labelColumn)
	if err != nil {
		return nil, err
	}
	if s.label != "" {
		if err := s.scanLabels(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// openColumns is Open without reading the labels: the files' columns found and their rows
// counted.
func openColumns(split Split, labelColumn string) (*Set, error) {
	s := &Set{Split: split}
	if len(split.Files) == 0 {
		return nil, errors.New("hfdata.Open: a split without files") // programming error
	}
	for i, path := range split.Files {
		err := withFile(path, func(f dataFile) error {
			for _, n := range f.groups() {
				s.rows += n
			}
			cols, meta := f.columns()
			if i == 0 {
				return s.columns(cols, meta, path, labelColumn)
			}
			for _, name := range []string{s.image, s.label} {
				if _, ok := find(cols, name); name != "" && !ok {
					return usageErr(path, fmt.Errorf("no column %s, which %s has", name, split.Files[0]),
						"give the files of one data set")
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if err := s.checkCounted(); err != nil {
		return nil, err
	}
	return s, nil
}

// columns finds the image and label columns of the first file, at path, among its columns cols
// and by its "huggingface" metadata meta.
func (s *Set) columns(cols []column, meta, path, labelColumn string) error {
	var info features
	if meta != "" {
		if err := json.Unmarshal([]byte(meta), &info); err != nil {
			return usageErr(path, fmt.Errorf("its huggingface metadata does not parse: %w", err), "")
		}
	}
	var fields []string
	for _, c := range cols {
		fields = append(fields, c.name)
	}
	for _, c := range cols {
		if c.kind == imageColumn && info.Info.Features[c.name].Type == "Image" {
			s.image, s.file = c.name, c.path
			break
		}
	}
	if s.image == "" {
		for _, c := range cols {
			if c.kind == imageColumn {
				s.image, s.file = c.name, c.path
				break
			}
		}
	}
	if s.image == "" {
		return usageErr(path, fmt.Errorf("no image column (the columns: %s): want an Image feature, or a struct with a bytes field", strings.Join(fields, ", ")),
			"give the files of an image data set")
	}
	switch {
	case labelColumn != "":
		if !slices.Contains(fields, labelColumn) {
			return usageErr(path, fmt.Errorf("no %q column (the columns: %s)", labelColumn, strings.Join(fields, ", ")), "name the column of labels with -label-column")
		}
		s.label = labelColumn
	default:
		for _, name := range fields {
			if info.Info.Features[name].Type == "ClassLabel" {
				s.label = name
				break
			}
		}
		if s.label == "" && slices.Contains(fields, datasets.DefaultLabelColumn) {
			s.label = datasets.DefaultLabelColumn
		}
	}
	if s.label == "" {
		return nil
	}
	c, _ := find(cols, s.label)
	switch c.kind {
	case intColumn:
		s.integers = true
	case textColumn:
	case otherColumn:
		return usageErr(path, fmt.Errorf("the label column %s holds %s values, not integers or strings", s.label, c.typ), "name another with -label-column")
	default:
		return usageErr(path, fmt.Errorf("the label column %s is not a plain column", s.label), "name another with -label-column")
	}
	if feature := info.Info.Features[s.label]; feature.Type == "ClassLabel" && len(feature.Names) > 0 {
		s.names, s.labels = true, datasets.IndexedClasses(feature.Names)
	}
	return nil
}

// scanLabels reads the label column of every file: the labels that are not ClassLabel indexes
// are listed as the classes (sorted; numerically when all are integers). A row without a label
// (null, "", or -1 in an integer column, Hugging Face's mark of a missing label) is unlabeled; a
// split labeled in part is a usage error, as the shards reader takes a shard's samples to be all
// labeled or none, and a split without any label (a test split without its labels) is unlabeled.
func (s *Set) scanLabels() error {
	t := s.newTally()
	for _, path := range s.Files {
		err := withFile(path, func(f dataFile) error {
			var start int64
			for g, n := range f.groups() {
				rows, err := s.readGroup(f, g, start, false)
				if err != nil {
					return err
				}
				start += n
				if err := t.add(path, rows); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return t.settle()
}

// labelTally gathers the labels of a split's rows as they are read (scanLabels, OpenRecords),
// then settles its classes.
type labelTally struct {
	s                  *Set
	seen               map[string]bool
	labeled, unlabeled int64
	first              string
}

func (s *Set) newTally() *labelTally { return &labelTally{s: s, seen: map[string]bool{}} }

// add counts the labels of rows, read from the file at path.
func (t *labelTally) add(path string, rows []row) error {
	s := t.s
	for _, r := range rows {
		switch {
		case r.label == "" || r.label == "-1" && s.integers:
			if t.unlabeled++; t.first == "" {
				t.first = fmt.Sprintf("%s row %d", path, r.index)
			}
			continue
		case s.names:
			if _, ok := s.labels.OfIndex(parseIndex(r.label)); !ok {
				return usageErr(path, fmt.Errorf("row %d: label %s outside the %d classes of its ClassLabel feature", r.index, r.label, len(s.labels.Classes())), "")
			}
		default:
			t.seen[r.label] = true
		}
		t.labeled++
	}
	return nil
}

// settle sets the split's classes from the labels counted: none read, it is unlabeled; labeled
// in part, a usage error; values other than ClassLabel indexes, their sorted list.
func (t *labelTally) settle() error {
	s := t.s
	switch {
	case t.labeled == 0:
		s.labels, s.label = datasets.ClassNumbers{}, "" // written unlabeled
		return nil
	case t.unlabeled > 0:
		return usageErr(s.Files[0], fmt.Errorf("%d of the %d rows of split %q have no %s (the first: %s)", t.unlabeled, s.rows, s.Name, s.label, t.first),
			"label every row, or write the labeled rows and the others as two data sets")
	case s.names:
		return nil
	}
	s.labels = datasets.ValueClasses(slices.Collect(maps.Keys(t.seen)))
	return nil
}

// Len is the number of rows.
func (s *Set) Len() int { return int(s.rows) }

// Classes are the class names (nil for an unlabeled split).
func (s *Set) Classes() []string { return s.labels.Classes() }

// LabelColumn is the column the labels are read from ("" for none).
func (s *Set) LabelColumn() string { return s.label }

// UseClassesOf numbers the labels of s, a held-out split, by the classes of the training split
// train, so that a label means the same class in both; a class of s that train lacks is a usage
// error. It does nothing when either is unlabeled.
func (s *Set) UseClassesOf(train *Set) error {
	return s.labels.UseClassesOf(s.Split, train.Split, train.labels)
}

// row is one row read: its index in its file, image bytes and label (as text; "" for none).
type row struct {
	index    int64
	image    []byte
	file     string // the image's path, read where its bytes are null
	label    string
	at, size int64 // where the image bytes lie in the file, when placed (Arrow's locate)
	placed   bool
}

// readGroup reads group g of f (whose first row is row start of the file): its labels, and its
// images when withImages is set.
func (s *Set) readGroup(f dataFile, g int, start int64, withImages bool) ([]row, error) {
	return f.read(g, start, s.label, s.image, withImages)
}

// maxGroupRows bounds the rows of a group, against a damaged count (the datasets library writes
// groups of hundreds of images).
const maxGroupRows = 1 << 22

// Samples yields the rows of the split as shard samples: the image bytes (a row without them is
// a bad image), an extension from their format, and the class number. Unless noShuffle, the
// groups of all files (row groups, record batches) are read in an order drawn from seed and the
// rows pass through a shuffle buffer of buffer rows (WebDataset's shuffle: memory for buffer
// images, not the set). A file that cannot be read yields a sample whose Err says so, and nothing
// after it.
func (s *Set) Samples(seed uint64, noShuffle bool, buffer int) iter.Seq[datasets.ShardSample] {
	rng := rand.New(rand.NewPCG(datasets.SplitMix64(seed^0x9e37), 0x9e37))
	if noShuffle {
		buffer = 0
	}
	rows := func(yield func(datasets.ShardSample) bool) {
		type group struct {
			file, group int
			start       int64
		}
		var groups []group
		for i, path := range s.Files {
			err := withFile(path, func(f dataFile) error {
				var start int64
				for g, n := range f.groups() {
					groups = append(groups, group{i, g, start})
					start += n
				}
				return nil
			})
			if err != nil {
				yield(datasets.ShardSample{Path: path, Index: -1, Err: err})
				return
			}
		}
		if !noShuffle {
			rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
		}
		files := &openFiles{capacity: keptOpen}
		defer files.close()
		for _, g := range groups {
			path := s.Files[g.file]
			stem := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), ".", "_")
			f, err := files.get(path)
			var rows []row
			if err == nil {
				rows, err = s.readGroup(f, g.group, g.start, true)
				err = fileErr(path, err)
			}
			if err != nil {
				yield(datasets.ShardSample{Path: path, Index: -1, Err: err})
				return
			}
			for _, r := range rows {
				var readErr error
				if r.image == nil && r.file != "" {
					r.image, readErr = imageFile(path, r.file)
				}
				sample := datasets.ShardSample{Path: path, Member: fmt.Sprintf("row %d", r.index), Index: int(r.index),
					Key: fmt.Sprintf("%s_%09d", stem, r.index), Ext: datasets.FormatExt(r.image), Data: r.image, Label: s.number1(r.label)}
				switch {
				case readErr != nil:
					sample.Bad = sample.BadImage(readErr)
				case r.image == nil:
					sample.Bad = sample.BadImage(errors.New("no image bytes (null), and no path"))
				default:
					if _, _, err := datasets.ImageSize(r.image); err != nil {
						sample.Bad = sample.BadImage(err)
					}
				}
				if !yield(sample) {
					return
				}
			}
		}
	}
	return datasets.Shuffled(rows, rng, buffer)
}

// maxImageFile bounds the size of an image file a row names (a shard's member has the same bound).
const maxImageFile = 1 << 30

// imageFile reads the image of a row without bytes from its path, name: as it is if absolute,
// else relative to the folder of the data file at dataPath, or else to the working folder.
// It must be a regular file (not a device or a pipe, which could be endless) of at most
// maxImageFile bytes.
func imageFile(dataPath, name string) ([]byte, error) {
	tried := []string{name}
	if !filepath.IsAbs(name) {
		tried = []string{filepath.Join(filepath.Dir(dataPath), name), name}
	}
	for _, p := range tried {
		info, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, fmt.Errorf("no image bytes (null); its file: %w", err)
		case !info.Mode().IsRegular() || info.Size() > maxImageFile:
			return nil, fmt.Errorf("no image bytes (null), and its file %s is not an image file (%s, %d bytes)", p, info.Mode().Type(), info.Size())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("no image bytes (null); its file: %w", err)
		}
		return data, nil
	}
	where := "here"
	if len(tried) > 1 {
		where = "beside the " + Format(dataPath) + " file or in the working folder"
	}
	return nil, fmt.Errorf("no image bytes (null), and its file %s is not %s: put the files there, or write the images into the %s files (push_to_hub does)", name, where, Format(dataPath))
}

// number1 is the class number written for the label text l, or -1 for none.
func (s *Set) number1(l string) int32 {
	k := int32(-1)
	switch {
	case l == "":
	case s.names:
		k, _ = s.labels.OfIndex(parseIndex(l))
	default:
		k, _ = s.labels.OfValue(l)
	}
	return k
}

// parseIndex is the class index that l, a ClassLabel column's value, holds; -1 for none.
func parseIndex(l string) int64 {
	k, err := strconv.ParseInt(l, 10, 64)
	if err != nil {
		return -1
	}
	return k
}

// Format names the format of the data file at path: "Parquet" or "Arrow".
func Format(path string) string {
	if isArrow(path) {
		return "Arrow"
	}
	return "Parquet"
}

// withFile opens the data file at path and calls fn with it; its errors name the file.
func withFile(path string, fn func(dataFile) error) error {
	f, err := openFile(path)
	if err != nil {
		return err
	}
	defer f.close()
	return fileErr(path, fn(f))
}

// openFile opens the data file at path (Arrow for .arrow, else Parquet); its errors name the
// file. The caller closes it.
func openFile(path string) (dataFile, error) {
	if isArrow(path) {
		a, err := openArrow(path)
		if err != nil {
			return nil, err // not a nil *arrowFile in an interface
		}
		return a, nil
	}
	p, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// fileErr is err, of reading the data file at path, as a DataError that names the file
// (DataErrors as they are).
func fileErr(path string, err error) error {
	var de *datasets.DataError
	if err == nil || errors.As(err, &de) {
		return err
	}
	return &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: err, Hint: "download it again"}
}

// openFiles keeps at most its capacity of data files open, the most recently read, so that a
// pass over groups in shuffled order does not read a file's footer (or an Arrow file's message
// headers) again for each group (a Parquet footer's parsing grows with the row groups: a file of
// 300 groups took 1.2 ms an open).
type openFiles struct {
	capacity int
	open     []openedFile // least recently read first
}

type openedFile struct {
	path string
	f    dataFile
}

// get returns the open file at path, opening it (and closing the least recently read one beyond
// the capacity) if it is not.
func (o *openFiles) get(path string) (dataFile, error) {
	for i, e := range o.open {
		if e.path == path {
			o.open = append(append(o.open[:i:i], o.open[i+1:]...), e)
			return e.f, nil
		}
	}
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	if len(o.open) >= o.capacity {
		o.open[0].f.close()
		o.open = o.open[1:]
	}
	o.open = append(o.open, openedFile{path, f})
	return f, nil
}

// close closes the files left open.
func (o *openFiles) close() {
	for _, e := range o.open {
		e.f.close()
	}
	o.open = nil
}

// keptOpen is the number of data files a pass keeps open (openFiles).
const keptOpen = 8

// usageErr is a usage error about the file or folder at path.
func usageErr(path string, err error, hint string) error {
	return &datasets.DataError{Kind: datasets.ErrUsage, Path: path, Index: -1, Err: err, Hint: hint}
}

// missingImage reports whether a row of rows has no image bytes.
func missingImage(rows []row) bool {
	for _, r := range rows {
		if r.image == nil && !r.placed {
			return true
		}
	}
	return false
}
