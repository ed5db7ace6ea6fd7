// Package hfparquet reads image data sets stored as Parquet files in the layout of the Hugging Face
// Hub, for mkshards to write them as WebDataset shards: each split in files named
// SPLIT-00000-of-00003.parquet (what push_to_hub writes, under data/), or in a folder named after
// the split (default/train/0000.parquet, the Hub's Parquet conversion); each image a {bytes, path}
// struct (the datasets library's Image feature; where the bytes are null, as Dataset.to_parquet
// leaves the images of a data set loaded from local files, the image is the file at path), each
// label an integer whose class names the files' "huggingface" metadata lists (a ClassLabel
// feature), or a string or integer of another column. Files are read a row group at a time, so
// that a set larger than memory can be written.
package hfparquet

import (
	"bytes"
	"encoding/json"
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

	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// Split is one split of a data set: its Parquet files, in order.
type Split = datasets.FileSplit

// shardName is push_to_hub's file name: SPLIT-00000-of-00003.parquet.
var shardName = regexp.MustCompile(`^(.+)-[0-9]{5}-of-[0-9]{5}\.parquet$`)

// FindSplits lists the Parquet files under dir (in it, in its subfolders, and in their subfolders
// named as splits; hidden ones left out) by split, train first, then val and test, then others by
// name; it can be given one Parquet file too. A file's split is the name before
// -00000-of-00003.parquet, or else the folder that holds it when that is a split's name, or else
// "" (no split). Files of one split in two folders (two configurations of a data set) are a usage
// error: give the folder of one.
func FindSplits(dir string) ([]Split, error) {
	files := map[string][]string{}
	folder := map[string]string{}
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
		if strings.HasPrefix(d.Name(), ".") || !strings.EqualFold(filepath.Ext(d.Name()), ".parquet") {
			return nil
		}
		split := ""
		if m := shardName.FindStringSubmatch(d.Name()); m != nil {
			split = m[1]
		} else if parent := filepath.Base(filepath.Dir(path)); datasets.KnownSplit(parent) {
			split = parent
		}
		split, _ = datasets.FileSplitName(split)
		if prev, ok := folder[split]; ok && prev != filepath.Dir(path) {
			return usageErr(dir, fmt.Errorf("holds the Parquet files of split %q in two folders, %s and %s (two configurations?)", split, prev, filepath.Dir(path)),
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
	return datasets.SortFileSplits(files), nil
}

// Set is a split opened: its columns found, its labels read.
type Set struct {
	Split
	rows     int64
	image    []string // the path of the leaf column of the image bytes
	file     []string // and of the image's file ({bytes, path}'s path), nil without one
	label    string   // the label column, "" for none
	names    bool     // the labels are ClassLabel indexes (else values, numbered in their sorted order)
	integers bool     // the label column holds integers
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

// Open opens the files of split: it finds the image column (the Image feature of the files'
// metadata, or else the first column that is a struct with a bytes field) and the label column
// (labelColumn; by default the first ClassLabel feature, or else a column named "label"), and
// reads the labels that are not ClassLabel indexes to list their classes (sorted; numerically when
// all are integers). Every file must have the columns of the first. A split whose rows are
// labeled in part (-1, null or "" in the others) is a usage error.
func Open(split Split, labelColumn string) (*Set, error) {
	s := &Set{Split: split}
	if len(split.Files) == 0 {
		return nil, errors.New("hfparquet.Open: a split without files") // programming error
	}
	for i, path := range split.Files {
		err := withFile(path, func(f *parquet.File) error {
			s.rows += f.NumRows()
			if i == 0 {
				return s.columns(f, path, labelColumn)
			}
			for _, col := range [][]string{s.image, {s.label}} {
				if _, ok := f.Schema().Lookup(col...); col[0] != "" && !ok {
					return usageErr(path, fmt.Errorf("no column %s, which %s has", strings.Join(col, "."), split.Files[0]),
						"give the files of one data set")
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if s.label != "" {
		if err := s.scanLabels(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// columns finds the image and label columns of the first file, f at path.
func (s *Set) columns(f *parquet.File, path, labelColumn string) error {
	var meta features
	if text, ok := f.Lookup("huggingface"); ok {
		if err := json.Unmarshal([]byte(text), &meta); err != nil {
			return usageErr(path, fmt.Errorf("its huggingface metadata does not parse: %w", err), "")
		}
	}
	var fields []string
	for _, field := range f.Schema().Fields() {
		fields = append(fields, field.Name())
	}
	for _, name := range fields {
		feature, ok := meta.Info.Features[name]
		if ok && feature.Type == "Image" {
			s.image = []string{name, "bytes"}
			break
		}
	}
	if s.image == nil {
		for _, name := range fields {
			if _, ok := f.Schema().Lookup(name, "bytes"); ok {
				s.image = []string{name, "bytes"}
				break
			}
		}
	}
	if s.image == nil {
		return usageErr(path, fmt.Errorf("no image column (the columns: %s): want an Image feature, or a struct with a bytes field", strings.Join(fields, ", ")),
			"give the Parquet files of an image data set")
	}
	if leaf, ok := f.Schema().Lookup(s.image[0], "path"); ok && leaf.Node.Type().Kind() == parquet.ByteArray {
		s.file = []string{s.image[0], "path"}
	}
	switch {
	case labelColumn != "":
		if !slices.Contains(fields, labelColumn) {
			return usageErr(path, fmt.Errorf("no %q column (the columns: %s)", labelColumn, strings.Join(fields, ", ")), "name the column of labels with -label-column")
		}
		s.label = labelColumn
	default:
		for _, name := range fields {
			if meta.Info.Features[name].Type == "ClassLabel" {
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
	leaf, ok := f.Schema().Lookup(s.label)
	if !ok {
		return usageErr(path, fmt.Errorf("the label column %s is not a plain column", s.label), "name another with -label-column")
	}
	switch leaf.Node.Type().Kind() {
	case parquet.Int32, parquet.Int64:
		s.integers = true
	case parquet.ByteArray:
	default:
		return usageErr(path, fmt.Errorf("the label column %s holds %s values, not integers or strings", s.label, leaf.Node.Type()), "name another with -label-column")
	}
	if feature := meta.Info.Features[s.label]; feature.Type == "ClassLabel" && len(feature.Names) > 0 {
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
	seen := map[string]bool{}
	var labeled, unlabeled int64
	var first string
	for _, path := range s.Files {
		err := withFile(path, func(f *parquet.File) error {
			return s.readRowGroups(f, nil, false, func(rows []row) error {
				for _, r := range rows {
					switch {
					case r.label == "" || r.label == "-1" && s.integers:
						if unlabeled++; first == "" {
							first = fmt.Sprintf("%s row %d", path, r.index)
						}
						continue
					case s.names:
						if _, ok := s.labels.OfIndex(parseIndex(r.label)); !ok {
							return usageErr(path, fmt.Errorf("row %d: label %s outside the %d classes of its ClassLabel feature", r.index, r.label, len(s.labels.Classes())), "")
						}
					default:
						seen[r.label] = true
					}
					labeled++
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	switch {
	case labeled == 0:
		s.labels, s.label = datasets.ClassNumbers{}, "" // written unlabeled
		return nil
	case unlabeled > 0:
		return usageErr(s.Files[0], fmt.Errorf("%d of the %d rows of split %q have no %s (the first: %s)", unlabeled, s.rows, s.Name, s.label, first),
			"label every row, or write the labeled rows and the others as two data sets")
	case s.names:
		return nil
	}
	s.labels = datasets.ValueClasses(slices.Collect(maps.Keys(seen)))
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
	index int64
	image []byte
	file  string // the image's path, read where its bytes are null
	label string
}

// readRowGroups calls fn with the rows of each row group of f in turn, in the order of groups
// (all when nil): their labels, and their images when withImages is set.
func (s *Set) readRowGroups(f *parquet.File, groups []int, withImages bool, fn func([]row) error) error {
	var starts []int64
	var start int64
	for _, rg := range f.RowGroups() {
		starts = append(starts, start)
		start += rg.NumRows()
	}
	if groups == nil {
		for g := range f.RowGroups() {
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		rg := f.RowGroups()[g]
		if n := rg.NumRows(); n < 0 || n > maxGroupRows {
			return fmt.Errorf("row group %d of %d rows (damaged?)", g, n)
		}
		rows := make([]row, rg.NumRows())
		for i := range rows {
			rows[i].index = starts[g] + int64(i)
		}
		if s.label != "" {
			leaf, _ := f.Schema().Lookup(s.label)
			err := readColumn(f, g, leaf, len(rows), func(i int, v parquet.Value) {
				switch {
				case v.IsNull():
				case v.Kind() == parquet.ByteArray:
					rows[i].label = strings.TrimSpace(string(v.ByteArray()))
				default:
					rows[i].label = strconv.FormatInt(v.Int64(), 10)
				}
			})
			if err != nil {
				return fmt.Errorf("column %s: %w", s.label, err)
			}
		}
		if withImages {
			leaf, _ := f.Schema().Lookup(s.image...)
			err := readColumn(f, g, leaf, len(rows), func(i int, v parquet.Value) {
				if !v.IsNull() {
					rows[i].image = bytes.Clone(v.ByteArray()) // v points into a page, which the reader releases
				}
			})
			if err != nil {
				return fmt.Errorf("column %s: %w", strings.Join(s.image, "."), err)
			}
			if s.file != nil && slices.ContainsFunc(rows, func(r row) bool { return r.image == nil }) {
				leaf, _ := f.Schema().Lookup(s.file...)
				err := readColumn(f, g, leaf, len(rows), func(i int, v parquet.Value) {
					if !v.IsNull() && rows[i].image == nil {
						rows[i].file = string(v.ByteArray())
					}
				})
				if err != nil {
					return fmt.Errorf("column %s: %w", strings.Join(s.file, "."), err)
				}
			}
		}
		if err := fn(rows); err != nil {
			return err
		}
	}
	return nil
}

// maxGroupRows bounds the rows of a row group, against a damaged count (the datasets library writes
// groups of hundreds of images).
const maxGroupRows = 1 << 22

// readColumn calls fn with each of the n values of the column leaf in row group g of f (one a row:
// no repeated fields), once checkPages has found its pages' headers sound.
func readColumn(f *parquet.File, g int, leaf parquet.LeafColumn, n int, fn func(i int, v parquet.Value)) (err error) {
	defer recoverParquet(&err)
	chunks := f.RowGroups()[g].ColumnChunks()
	meta := f.Metadata().RowGroups[g].Columns
	if c := leaf.ColumnIndex; c < 0 || c >= len(chunks) || c >= len(meta) {
		return fmt.Errorf("no chunk of column %d among the row group's %d (damaged?)", c, len(chunks))
	}
	if err := checkPages(f, &meta[leaf.ColumnIndex].MetaData, int64(n)); err != nil {
		return err
	}
	r := parquet.NewColumnChunkValueReader(chunks[leaf.ColumnIndex])
	defer r.Close()
	buf := make([]parquet.Value, 256)
	i := 0
	for {
		k, err := r.ReadValues(buf)
		for _, v := range buf[:k] {
			if i >= n || v.RepetitionLevel() != 0 {
				return errors.New("a repeated field, or more values than rows")
			}
			fn(i, v)
			i++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if i != n {
		return fmt.Errorf("%d values for %d rows", i, n)
	}
	return nil
}

// Samples yields the rows of the split as shard samples: the image bytes (a row without them is
// a bad image), an extension from their format, and the class number. Unless noShuffle, the row
// groups of all files are read in an order drawn from seed and the rows pass through a shuffle
// buffer of buffer rows (WebDataset's shuffle: memory for buffer images, not the set). A file that
// cannot be read yields a sample whose Err says so, and nothing after it.
func (s *Set) Samples(seed uint64, noShuffle bool, buffer int) iter.Seq[datasets.ShardSample] {
	rng := rand.New(rand.NewPCG(datasets.SplitMix64(seed^0x9e37), 0x9e37))
	if noShuffle {
		buffer = 0
	}
	rows := func(yield func(datasets.ShardSample) bool) {
		type group struct{ file, group int }
		var groups []group
		for i, path := range s.Files {
			err := withFile(path, func(f *parquet.File) error {
				for g := range f.RowGroups() {
					groups = append(groups, group{i, g})
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
		stopped := false
		files := &openFiles{capacity: keptOpen}
		defer files.close()
		for _, g := range groups {
			path := s.Files[g.file]
			stem := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), ".", "_")
			f, err := files.get(path)
			if err == nil {
				err = fileErr(path, s.readRowGroups(f, []int{g.group}, true, func(rows []row) error {
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
							stopped = true
							return errStop
						}
					}
					return nil
				}))
			}
			if stopped {
				return
			}
			if err != nil {
				yield(datasets.ShardSample{Path: path, Index: -1, Err: err})
				return
			}
		}
	}
	return datasets.Shuffled(rows, rng, buffer)
}

var errStop = errors.New("stopped")

// maxImageFile bounds the size of an image file a row names (a shard's member has the same bound).
const maxImageFile = 1 << 30

// imageFile reads the image of a row without bytes from its path, name: as it is if absolute,
// else relative to the folder of the Parquet file at parquetPath, or else to the working folder.
// It must be a regular file (not a device or a pipe, which could be endless) of at most
// maxImageFile bytes.
func imageFile(parquetPath, name string) ([]byte, error) {
	tried := []string{name}
	if !filepath.IsAbs(name) {
		tried = []string{filepath.Join(filepath.Dir(parquetPath), name), name}
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
		where = "beside the Parquet file or in the working folder"
	}
	return nil, fmt.Errorf("no image bytes (null), and its file %s is not %s: put the files there, or write the images into the Parquet files (push_to_hub does)", name, where)
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

// withFile opens the Parquet file at path and calls fn with it; its errors name the file.
func withFile(path string, fn func(*parquet.File) error) error {
	fh, f, err := openFile(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	return fileErr(path, fn(f))
}

// openFile opens the Parquet file at path, its footer read; its errors name the file. The caller
// closes fh.
func openFile(path string) (fh *os.File, f *parquet.File, err error) {
	fh, err = os.Open(path)
	if err != nil {
		return nil, nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: err}
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: err}
	}
	err = func() (err error) {
		defer recoverParquet(&err)
		f, err = parquet.OpenFile(fh, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		return err
	}()
	if err != nil {
		fh.Close()
		return nil, nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: fmt.Errorf("not a readable Parquet file: %w", err),
			Hint: "download it again"}
	}
	return fh, f, nil
}

// fileErr is err, of reading the Parquet file at path, as a DataError that names the file
// (errStop and DataErrors as they are).
func fileErr(path string, err error) error {
	var de *datasets.DataError
	if err == nil || errors.Is(err, errStop) || errors.As(err, &de) {
		return err
	}
	return &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: err, Hint: "download it again"}
}

// openFiles keeps at most its capacity of Parquet files open, the most recently read, so that a
// pass over row groups in shuffled order does not read a file's footer again for each group (its
// parsing grows with the row groups: a file of 300 groups took 1.2 ms an open).
type openFiles struct {
	capacity int
	open     []openedFile // least recently read first
}

type openedFile struct {
	path string
	fh   *os.File
	f    *parquet.File
}

// get returns the open file at path, opening it (and closing the least recently read one beyond
// the capacity) if it is not.
func (o *openFiles) get(path string) (*parquet.File, error) {
	for i, e := range o.open {
		if e.path == path {
			o.open = append(append(o.open[:i:i], o.open[i+1:]...), e)
			return e.f, nil
		}
	}
	fh, f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	if len(o.open) >= o.capacity {
		o.open[0].fh.Close()
		o.open = o.open[1:]
	}
	o.open = append(o.open, openedFile{path, fh, f})
	return f, nil
}

// close closes the files left open.
func (o *openFiles) close() {
	for _, e := range o.open {
		e.fh.Close()
	}
	o.open = nil
}

// keptOpen is the number of Parquet files a pass keeps open (openFiles).
const keptOpen = 8

// maxPage bounds the uncompressed size of one page, and maxPageRatio its ratio to the compressed
// size (beyond 1 MiB): a JPEG does not compress, a page of labels holds at most a group's rows.
const (
	maxPage      = 1 << 30
	maxPageRatio = 1024
)

// checkPages reads the headers of the pages of a column chunk (of rows rows) and refuses the
// sizes that only damaged data declare: parquet-go allocates what a page header declares before
// decoding the page, so that a damaged header exhausts memory, a fatal error (found by FuzzOpen).
// A page must lie within the chunk, within maxPage and maxPageRatio uncompressed, and hold at most
// rows values (a dictionary: at most a value per byte).
func checkPages(f *parquet.File, m *format.ColumnMetaData, rows int64) error {
	start := m.DataPageOffset
	if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
		start = m.DictionaryPageOffset
	}
	end := start + m.TotalCompressedSize
	if start < 4 || m.TotalCompressedSize < 0 || end < start || end > f.Size() {
		return fmt.Errorf("a column chunk at bytes %d to %d of a file of %d (damaged?)", start, end, f.Size())
	}
	var values int64
	for pos := start; pos < end; {
		var h format.PageHeader
		used, err := pageHeader(f, pos, end, &h)
		if err != nil {
			return fmt.Errorf("the page header at byte %d: %w", pos, err)
		}
		c, u := int64(h.CompressedPageSize), int64(h.UncompressedPageSize)
		if c < 0 || u < 0 || pos+used+c > end || u > maxPage || u > maxPageRatio*c+1<<20 {
			return fmt.Errorf("a page at byte %d of %d bytes compressed, %d uncompressed, in a column chunk that ends at byte %d (damaged?)", pos, c, u, end)
		}
		n := int64(-1)
		levels := int64(0) // the bytes of uncompressed levels before the compressed values (a page V2)
		if d, ok := h.DataPageHeader.Get(); ok {
			n = int64(d.NumValues)
		} else if d, ok := h.DataPageHeaderV2.Get(); ok {
			n = int64(d.NumValues)
			levels = int64(d.RepetitionLevelsByteLength) + int64(d.DefinitionLevelsByteLength)
			if compressed, set := d.IsCompressed.Get(); set && !compressed {
				levels = c // nothing compressed
			}
		} else if d, ok := h.DictionaryPageHeader.Get(); ok && (d.NumValues < 0 || int64(d.NumValues) > u) {
			return fmt.Errorf("a dictionary page at byte %d of %d values in %d bytes (damaged?)", pos, d.NumValues, u)
		}
		if levels < 0 || levels > c || levels > u {
			return fmt.Errorf("a page at byte %d whose levels take %d of its %d bytes (damaged?)", pos, levels, c)
		}
		if levels < c {
			if err := checkCompressed(f, m.Codec, pos+used+levels, c-levels, u-levels); err != nil {
				return fmt.Errorf("the page at byte %d: %w", pos, err)
			}
		}
		if n >= 0 {
			if values += n; n > rows || values > rows {
				return fmt.Errorf("a page at byte %d of %d values, beyond the row group's %d rows (damaged?)", pos, n, rows)
			}
		}
		pos += used + c
	}
	return nil
}

// checkCompressed checks the size that the compressed data of a page (c bytes at byte at of f)
// declare against u, the uncompressed size its header gives, for the codecs whose decoders
// allocate from the data: snappy (the size leads its data) and LZ4_RAW (parquet-go's decoder
// doubles its buffer until the data decode, without end for damaged data: it is decoded here,
// into u bytes).
func checkCompressed(f *parquet.File, codec format.CompressionCodec, at, c, u int64) error {
	switch codec {
	case format.Snappy:
		head := make([]byte, min(c, 10))
		if _, err := f.ReadAt(head, at); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n, err := snappy.DecodedLen(head); err != nil || int64(n) != u {
			return fmt.Errorf("snappy data of %d bytes for %d (%v; damaged?)", n, u, err)
		}
	case format.Lz4Raw:
		src := make([]byte, c)
		if _, err := f.ReadAt(src, at); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n, err := lz4.UncompressBlock(src, make([]byte, u)); err != nil || int64(n) != u {
			return fmt.Errorf("LZ4 data that do not decode to %d bytes (%v; damaged?)", u, err)
		}
	}
	return nil
}

// pageHeader decodes into h the page header at byte pos of f (before end) and returns its size.
func pageHeader(f *parquet.File, pos, end int64, h *format.PageHeader) (int64, error) {
	for window := int64(4 << 10); ; window *= 8 {
		buf := make([]byte, min(window, end-pos))
		if _, err := f.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		r := bytes.NewReader(buf)
		*h = format.PageHeader{}
		err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(r)).Decode(h)
		if err == nil {
			return int64(len(buf) - r.Len()), nil
		}
		if int64(len(buf)) == end-pos || window > 64<<20 { // a header of statistics may be long, not this long
			return 0, err
		}
	}
}

// recoverParquet turns a panic of the Parquet reader into *err: parquet-go panics on some damaged
// data (a gzip page whose header does not parse, found by FuzzOpen) rather than returning an error.
func recoverParquet(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("the Parquet reader failed (damaged data?): %v", r)
	}
}

// usageErr is a usage error about the file or folder at path.
func usageErr(path string, err error, hint string) error {
	return &datasets.DataError{Kind: datasets.ErrUsage, Path: path, Index: -1, Err: err, Hint: hint}
}
