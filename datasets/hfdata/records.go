package hfdata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
)

// ArrowFormat is the datasets library's Arrow files as datasets.Open reads them: a folder that
// save_to_disk wrote (dataset_dict.json, or a split's state.json) or the library's cache of a
// loaded data set (dataset_info.json beside NAME-SPLIT.arrow), trained on as an image folder is,
// each image read where it lies in its file. Importing this package registers it.
var ArrowFormat = datasets.FileFormat{Name: "the datasets library's Arrow files", Ext: ".arrow", Detect: detectArrow, Splits: FindSplits, Open: openRecords, Below: arrowBelow}

func init() { datasets.RegisterFileFormat(ArrowFormat) }

// arrowMarkers are the files that the datasets library writes beside its Arrow files: save_to_disk's
// dataset_dict.json (a DatasetDict) and state.json (a Dataset, or each split of a DatasetDict),
// its cache's dataset_info.json.
var arrowMarkers = []string{"dataset_dict.json", "state.json", "dataset_info.json"}

// detectArrow reports whether dir holds a data set that the datasets library saved or keeps in
// its cache (one of arrowMarkers in it): a few Stat calls, not a listing.
func detectArrow(dir string) bool {
	for _, name := range arrowMarkers {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// arrowBelow lists the folders under dir that hold a data set of the datasets library (cacheBelow:
// its cache's, or a split that save_to_disk wrote, named by the folder of its dataset_dict.json).
func arrowBelow(dir string) []string {
	var found []string
	for _, f := range cacheBelow(dir) {
		if detectArrow(filepath.Dir(f)) && filepath.Dir(f) != dir {
			f = filepath.Dir(f) // save_to_disk's DatasetDict: the folder above its splits
		}
		if !slices.Contains(found, f) {
			found = append(found, f)
		}
	}
	return found
}

// Records is a split of Arrow files read in any order (datasets.Records): where each row's image
// bytes lie in its file, found when it is opened, and its class.
type Records struct {
	set   *Set
	start []int   // the first row of each file
	rows  []place // in file order, then row order
	paths map[int]string
}

// place is where a row's image lies: bytes at to at+size of file file (size -1: null bytes, the
// image the file its path names, if any), and the row's class (-1 for none).
type place struct {
	at    int64
	size  int32
	file  int32
	label int32
}

// OpenRecords opens split, made of Arrow files, for reading its images in any order: Open's
// columns and labels, the labels numbered by the classes of the training split train (unless
// nil), and where each row's image lies, from the record batches' metadata and the buffers of the
// labels and of the image bytes' offsets (the bytes are not read).
func OpenRecords(split Split, train *Split, labelColumn string) (*Records, error) {
	for _, f := range split.Files {
		if !isArrow(f) {
			dir := filepath.Dir(f)
			if datasets.KnownSplit(filepath.Base(dir)) {
				dir = filepath.Dir(dir)
			}
			return nil, usageErr(f, errors.New("a Parquet file, whose images are read a row group at a time, not one by one"),
				fmt.Sprintf("write the data set as shards, go run ./datasets/mkshards -in %s -out DIR, and train with -dataset shards -data-dir DIR; "+
					"or load it once with the datasets library (load_dataset), and train on its cache of Arrow files as it is (~/.cache/huggingface/datasets/NAME/CONFIG/VERSION/HASH)",
					flagargs.ShellQuote(dir)))
		}
	}
	s, err := openColumns(split, labelColumn) // its labels read once, below, with the listing
	if err != nil {
		return nil, err
	}
	r := &Records{set: s, rows: make([]place, 0, s.rows), paths: map[int]string{}}
	tally := s.newTally()
	var labels []string // each row's label as text, numbered once the classes are settled
	for k, path := range s.Files {
		r.start = append(r.start, len(r.rows))
		a, err := openArrow(path)
		if err != nil {
			return nil, err
		}
		var start int64
		for g, n := range a.groups() {
			rows, err := a.locate(g, start, s.label, s.image)
			if err != nil {
				a.close()
				return nil, fileErr(path, err)
			}
			start += n
			if s.label != "" {
				if err := tally.add(path, rows); err != nil {
					a.close()
					return nil, err
				}
			}
			for _, row := range rows {
				labels = append(labels, row.label)
				p := place{at: row.at, size: -1, file: int32(k)}
				switch {
				case row.placed && row.size > maxImageFile:
					a.close()
					return nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Member: rowName(row.index), Index: -1,
						Err: fmt.Errorf("an image of %d bytes (damaged?)", row.size)}
				case row.placed:
					p.size = int32(row.size)
				case row.file != "":
					r.paths[len(r.rows)] = row.file
				}
				r.rows = append(r.rows, p)
			}
		}
		a.close()
	}
	if s.label != "" {
		if err := tally.settle(); err != nil {
			return nil, err
		}
	}
	if train != nil {
		t, err := Open(*train, labelColumn)
		if err != nil {
			return nil, err
		}
		if err := s.UseClassesOf(t); err != nil {
			return nil, err
		}
	}
	for i, l := range labels {
		r.rows[i].label = s.number1(l)
	}
	return r, nil
}

// openRecords is OpenRecords as ArrowFormat's Open.
func openRecords(split datasets.FileSplit, train *datasets.FileSplit, labelColumn string) (datasets.Records, error) {
	r, err := OpenRecords(split, train, labelColumn)
	if err != nil {
		return nil, err // not a nil *Records in an interface
	}
	return r, nil
}

// rowName names row n of a file in messages, as mkshards names a sample's source ("row 12").
func rowName(n int64) string { return "row " + strconv.FormatInt(n, 10) }

// Len is the number of rows.
func (r *Records) Len() int { return len(r.rows) }

// Label is the class of row i, or -1 when unlabeled.
func (r *Records) Label(i int) int32 { return r.rows[i].label }

// Classes are the class names (nil for an unlabeled split).
func (r *Records) Classes() []string { return r.set.Classes() }

// Name names row i: its file and its row there (".../data-00000-of-00002.arrow:row 12").
func (r *Records) Name(i int) string {
	path, row := r.locate(i)
	return path + ":" + rowName(row)
}

// locate is the file of row i and its row there.
func (r *Records) locate(i int) (string, int64) {
	k := r.rows[i].file
	return r.set.Files[k], int64(i - r.start[k])
}

// Encoded reads the image bytes of row i where they lie in its file; or, where they are null,
// the file that its path names (as mkshards reads it). A row without either is a bad image.
func (r *Records) Encoded(i int) ([]byte, error) {
	p := r.rows[i]
	path, row := r.locate(i)
	if p.size < 0 {
		name, ok := r.paths[i]
		if !ok {
			return nil, &datasets.DataError{Kind: datasets.ErrBadImage, Path: path, Member: rowName(row), Index: i, Err: errors.New("no image bytes (null), and no path")}
		}
		data, err := imageFile(path, name)
		if err != nil {
			return nil, &datasets.DataError{Kind: datasets.ErrBadImage, Path: path, Member: rowName(row), Index: i, Err: err}
		}
		return data, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Member: rowName(row), Index: i, Err: err}
	}
	defer f.Close()
	data := make([]byte, p.size)
	if _, err := f.ReadAt(data, p.at); err != nil {
		return nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Member: rowName(row), Index: i,
			Err: fmt.Errorf("reading the image bytes: %w (the file changed since it was opened?)", err)}
	}
	return data, nil
}
