package datasets

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultLabelColumn is the column of an image folder's metadata table that holds the labels when
// no other is named (Options.LabelColumn).
const DefaultLabelColumn = "label"

// metadataNames are the label tables that an image folder may hold at its top, as Hugging Face's
// imagefolder reads them: a CSV file with a header row, or JSON Lines (one object per line), each
// row naming an image by its path relative to the folder in a file_name column.
var metadataNames = []string{"metadata.csv", "metadata.jsonl"}

// fileNameColumn is the column of a metadata table that names the images.
const fileNameColumn = "file_name"

// FolderLabels says where the labels of an image folder come from when they are not its class
// folders.
type FolderLabels struct {
	// Table is a label table anywhere (a CSV file with a header row, or JSON Lines), as Kaggle's
	// competitions ship one beside a folder of images and fastai's ImageDataLoaders.from_csv reads
	// it: its file_name column, or else its first, names each image by its path relative to the
	// split folder read (the data folder, or its train/ or val/), or by that path without its
	// extension (an id), with "/" or "\" between folders; the labels are in Column, or else
	// DefaultLabelColumn, or else the second column. One table may list the images of every split. "" means the folder's own
	// metadata.csv or metadata.jsonl, if it holds one (Hugging Face's imagefolder layout).
	Table string
	// Column is the column of labels; "" means DefaultLabelColumn (read when the table has it).
	Column string
	// SplitColumn, when set, is a column of the table (Table, or the folder's metadata table) that
	// assigns each image to a split, as fastai's valid_col, a Kaggle fold column or a data set's
	// own split column do: "COLUMN" reads its values as split names (train or training; val,
	// valid, validation or dev; test) or as booleans saying whether the image is held out (true,
	// 1, yes; false, 0, no: fastai's is_valid), and "COLUMN=VALUE" holds out the images whose value
	// is VALUE and trains on the others (a fold: fold=3). The held-out split is then the val
	// images, or the test images when there are none; test images beside val images are in
	// neither split. Every split is drawn from the images of one folder (the data folder, or its
	// train/): see OpenFolderLabels.
	SplitColumn string
}

// ParseSplitColumn splits a FolderLabels.SplitColumn into its column and the value that marks the
// held-out images ("" when the column's values are split names or booleans), or returns an error
// saying what is wrong with it.
func ParseSplitColumn(spec string) (column, value string, err error) {
	column, value, eq := strings.Cut(spec, "=")
	column, value = strings.TrimSpace(column), strings.TrimSpace(value)
	switch {
	case column == "":
		return "", "", fmt.Errorf("%q names no column: want COLUMN (its values train, val or test, or true/false) or COLUMN=VALUE (VALUE marks the held-out images)", spec)
	case eq && value == "":
		return "", "", fmt.Errorf("%q gives no value after =: want COLUMN=VALUE, VALUE the value of the held-out images (fold=3), or COLUMN alone", spec)
	}
	return column, value, nil
}

// maxMetadataLine bounds one line of a metadata.jsonl file (captions and other columns beside the
// label make lines long, but not this long).
const maxMetadataLine = 16 << 20

// metadataTable is what a folder's metadata file says of its images.
type metadataTable struct {
	path    string
	columns []string // the header (CSV), or the keys of the first row (JSON Lines)
	// outside is set for a table given with FolderLabels.Table, whose names may lack their extension
	// and whose rows may be those of several splits.
	outside bool
	// fileColumn is the column that names the images: fileNameColumn, or an outside CSV table's
	// first column.
	fileColumn string
	// column is the label column, "" when the table has none (only possible when none was named:
	// a table of captions, say).
	column string
	// splitColumn is the column that assigns each image to a split (FolderLabels.SplitColumn's
	// column), "" for none.
	splitColumn string
	rows        map[string]metadataRow // by file name, cleaned (path.Clean)
	names       []string               // the file names in the table's order
}

type metadataRow struct {
	label string
	split string // the value of the split column, trimmed
	line  int
}

// findMetadata returns the metadata file at the top of dir, "" when it holds none, or a usage
// error when it holds both kinds.
func findMetadata(dir string) (string, error) {
	var found []string
	for _, name := range metadataNames {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode().IsRegular() {
			found = append(found, filepath.Join(dir, name))
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", usageErr(dir, fmt.Errorf("holds both %s and %s: the labels must come from one table", metadataNames[0], metadataNames[1]),
		"remove one of them")
}

// readMetadata reads the metadata file at path. l.Column is the label column; "" means
// DefaultLabelColumn, which the table may lack (then it gives no labels), while a column named
// must be there, as must l.SplitColumn's.
func readMetadata(file string, l FolderLabels) (*metadataTable, error) {
	return readTable(file, l, false)
}

// readLabelTable reads the label table l.Table (see FolderLabels), which must give labels.
func readLabelTable(l FolderLabels) (*metadataTable, error) {
	t, err := readTable(ExpandHome(l.Table), l, true)
	if err == nil && t.column == "" {
		why := fmt.Sprintf("no %q column, and no second column", DefaultLabelColumn)
		if strings.HasSuffix(strings.ToLower(t.path), ".jsonl") {
			why = fmt.Sprintf("no %q column", DefaultLabelColumn) // a JSON object's keys have no order
		}
		err = usageErr(t.path, fmt.Errorf("no column of labels: %s (the columns: %s)", why, strings.Join(t.columns, ", ")),
			"name the column of labels with -label-column")
	}
	return t, err
}

func readTable(file string, l FolderLabels, outside bool) (*metadataTable, error) {
	column := l.Column
	splitColumn, _, err := ParseSplitColumn(l.SplitColumn)
	if l.SplitColumn == "" {
		splitColumn, err = "", nil
	}
	if err != nil {
		return nil, usageErr(file, fmt.Errorf("-split-column %w", err), "")
	}
	fh, err := os.Open(file)
	if err != nil {
		what := "metadata file"
		if outside {
			what = "label table (-label-table)"
		}
		return nil, usageErr(file, err, "give a readable "+what)
	}
	defer fh.Close()
	named := column != ""
	if !named {
		column = DefaultLabelColumn
	}
	t := &metadataTable{path: file, rows: map[string]metadataRow{}, outside: outside, fileColumn: fileNameColumn, splitColumn: splitColumn}
	if strings.HasSuffix(strings.ToLower(file), ".jsonl") {
		err = t.readJSONL(fh, column)
	} else {
		err = t.readCSV(fh, column, named)
	}
	if err != nil {
		return nil, err
	}
	if splitColumn != "" && !slices.Contains(t.columns, splitColumn) {
		return nil, usageErr(file, fmt.Errorf("no %q column (the columns: %s)", splitColumn, strings.Join(t.columns, ", ")),
			"name the column that assigns each image to a split with -split-column")
	}
	if t.column == "" && named {
		hint := "name the column of labels with -label-column, or leave -label-column out to read the folder without labels"
		if outside {
			hint = "name the column of labels with -label-column"
		}
		return nil, usageErr(file, fmt.Errorf("no %q column (the columns: %s)", column, strings.Join(t.columns, ", ")), hint)
	}
	return t, nil
}

// readCSV reads a CSV table; named says whether column was named (else an outside table without
// it takes its labels from its second column).
func (t *metadataTable) readCSV(r io.Reader, column string, named bool) error {
	cr := csv.NewReader(bufio.NewReader(r))
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return usageErr(t.path, errors.New("empty"), "write a header row with the file_name and label columns, then a row per image")
	}
	if err != nil {
		return usageErr(t.path, err, "")
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff") // the byte order mark that Excel writes
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	t.columns = header
	nameAt, labelAt := slices.Index(header, fileNameColumn), slices.Index(header, column)
	if nameAt < 0 && t.outside {
		nameAt, t.fileColumn = 0, header[0]
	}
	if nameAt < 0 {
		return t.noFileNames()
	}
	if labelAt < 0 && t.outside && !named && len(header) > 1 {
		labelAt = slices.IndexFunc(header, func(c string) bool { return c != t.fileColumn && c != t.splitColumn }) // the second column, or the first beside file_name
	}
	if labelAt == nameAt {
		return usageErr(t.path, fmt.Errorf("the column %s names the images: it cannot also hold their labels", header[nameAt]), "name the column of labels with -label-column")
	}
	if labelAt >= 0 {
		t.column = header[labelAt]
	}
	splitAt := -1
	if t.splitColumn != "" {
		splitAt = slices.Index(header, t.splitColumn)
		if splitAt >= 0 && (splitAt == nameAt || splitAt == labelAt) {
			return usageErr(t.path, fmt.Errorf("the column %s holds the images' names or labels: it cannot also assign them to splits", t.splitColumn), "name the split column with -split-column")
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return usageErr(t.path, err, "") // a *csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		label, split := "", ""
		if labelAt >= 0 {
			label = rec[labelAt]
		}
		if splitAt >= 0 {
			split = rec[splitAt]
		}
		if err := t.add(rec[nameAt], label, split, line); err != nil {
			return err
		}
	}
}

func (t *metadataTable) readJSONL(r io.Reader, column string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxMetadataLine)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			return usageErr(t.path, fmt.Errorf("line %d: not a JSON object: %w", line, err), "write one JSON object per line")
		}
		if t.columns == nil {
			for k := range row {
				t.columns = append(t.columns, k)
			}
			slices.Sort(t.columns)
		}
		name, ok := row[fileNameColumn].(string)
		if !ok {
			if _, has := row[fileNameColumn]; has {
				return usageErr(t.path, fmt.Errorf("line %d: file_name is %v, not a string", line, row[fileNameColumn]), "give each image's path as a string")
			}
			return t.noFileNames()
		}
		label := ""
		switch v := row[column].(type) {
		case nil: // missing or null: an empty label
		case string:
			label = v
		case json.Number:
			label = v.String()
		default:
			return usageErr(t.path, fmt.Errorf("line %d: label %v is neither a string nor a number", line, v), "give each image one label, a class name or number")
		}
		if _, has := row[column]; has {
			t.column = column
		}
		split := ""
		if t.splitColumn != "" {
			switch v := row[t.splitColumn].(type) {
			case nil:
			case string:
				split = v
			case json.Number:
				split = v.String()
			case bool:
				split = strconv.FormatBool(v) // fastai's is_valid
			default:
				return usageErr(t.path, fmt.Errorf("line %d: %s %v is neither a string, a number nor a boolean", line, t.splitColumn, v), "give each image its split: train, val or test, true or false, or a fold number")
			}
		}
		if err := t.add(name, label, split, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return usageErr(t.path, err, "")
	}
	if len(t.names) == 0 {
		return usageErr(t.path, errors.New("empty"), "write one JSON object per image, with its file_name and label")
	}
	return nil
}

func (t *metadataTable) noFileNames() error {
	hint := "name the column of image paths (relative to the folder) file_name, as Hugging Face's imagefolder reads it"
	if t.outside {
		hint = "name the column of image paths (relative to the folder read) file_name, or give the table as CSV with that column first"
	}
	return usageErr(t.path, fmt.Errorf("no %s column (the columns: %s)", fileNameColumn, strings.Join(t.columns, ", ")), hint)
}

// add records the row of line: the image name (a path relative to the folder, with "/"), its
// label and its split, trimmed of spaces. The same image listed twice must have the same label and
// split.
func (t *metadataTable) add(name, label, split string, line int) error {
	if t.outside {
		name = strings.ReplaceAll(name, `\`, "/") // a table written on Windows (train\0001.jpg)
	}
	clean := path.Clean(strings.TrimSpace(name))
	switch {
	case strings.TrimSpace(name) == "":
		return usageErr(t.path, fmt.Errorf("line %d: empty %s", line, t.fileColumn), "name an image on each row")
	case path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../"):
		hint := "give each image's path relative to the folder that holds the metadata file"
		if t.outside {
			hint = "give each image's path relative to the image folder read (-data-dir, or its train/ or val/)"
		}
		return usageErr(t.path, fmt.Errorf("line %d: %s %q is not inside the folder", line, t.fileColumn, name), hint)
	}
	label, split = strings.TrimSpace(label), strings.TrimSpace(split)
	if old, ok := t.rows[clean]; ok {
		if old.label != label {
			return usageErr(t.path, fmt.Errorf("%s is listed twice with different labels: %q on line %d, %q on line %d", clean, old.label, old.line, label, line),
				"keep one row per image")
		}
		if old.split != split {
			return usageErr(t.path, fmt.Errorf("%s is listed twice in different splits: %s %q on line %d, %q on line %d", clean, t.splitColumn, old.split, old.line, split, line),
				"keep one row per image")
		}
		return nil
	}
	t.rows[clean] = metadataRow{label: label, split: split, line: line}
	t.names = append(t.names, clean)
	return nil
}

// classes lists the distinct labels of the table, sorted by SortClasses. It is a usage error for a
// row of an image to have an empty label.
func (t *metadataTable) classes() ([]string, error) {
	seen := map[string]bool{}
	var classes []string
	for _, name := range t.names {
		row := t.rows[name]
		if row.label == "" {
			return nil, usageErr(t.path, fmt.Errorf("line %d: %s has no %s", row.line, name, t.column),
				"give every image a label (the probe and kNN need one per image), or remove its row and the image")
		}
		if !seen[row.label] {
			seen[row.label] = true
			classes = append(classes, row.label)
		}
	}
	return SortClasses(classes), nil
}

// SortClasses sorts class names given as labels (in place, and returns them): in numerical order
// when all are integers (so that labels 0..K-1 keep their numbers), otherwise as strings, as class
// folders are sorted.
func SortClasses(classes []string) []string {
	numbers := make(map[string]int64, len(classes))
	for _, c := range classes {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			slices.Sort(classes)
			return classes
		}
		numbers[c] = n
	}
	slices.SortFunc(classes, func(a, b string) int {
		if numbers[a] != numbers[b] {
			return cmp.Compare(numbers[a], numbers[b])
		}
		return strings.Compare(a, b) // "01" and "1"
	})
	return classes
}
