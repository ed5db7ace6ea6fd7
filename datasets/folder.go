package datasets

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/log"
)

// Folder is an image folder read as torchvision's ImageFolder reads one: a list of files, each
// decoded when a batch needs it (nothing is held decoded). It is a Source.
//
// Layout: one subfolder per class (classes sorted by name, label = position; images found
// recursively inside each class folder, in the order of torchvision: sorted by folder path, then
// by file name), or a flat folder of images, which is unlabeled. Files and folders whose names
// start with ".", and __MACOSX and @eaDir folders, are skipped; only the files of ImageFolder's
// extensions are read (.jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, .tiff, .webp, any case); other
// files are counted in Ignored.
//
// Labels from a table: a folder that holds a metadata.csv (a header row, then a row per image) or a
// metadata.jsonl file (a JSON object per image) at its top, as Hugging Face's imagefolder reads
// one, takes its labels from the table's label column (DefaultLabelColumn, or the one
// OpenFolderLabels names): its images are those found recursively under it (subfolders are not
// classes), each named by a row's file_name, its path relative to the folder with "/". Every image
// must have a row with a label; the classes are the table's distinct labels, in numerical order
// when all are integers, otherwise sorted. A table without that column (captions only, say) is left
// aside, and the folder read as above. A label table given outside the folder
// (FolderLabels.Table, as Kaggle ships one) takes the place of the folder's own, and may name the
// images without their extensions.
type Folder struct {
	dir     string
	files   []string
	labels  []int32
	classes []string
	ignored int
	beside  int            // images among the ignored files: beside the class folders, so of no class
	other   map[string]int // the other ignored files (not of an image extension read), by extension
	split   string
	orient  bool // images are turned by their EXIF orientation (Options.ExifOrientation)

	labelsFrom FolderLabels   // an outside label table, and the label column ("": DefaultLabelColumn, if there)
	table      string         // the metadata file the labels come from, "" for none
	splitDir   bool           // dir is a split folder (train/, val/) under the folder given
	heldOut    bool           // the images held out of the training split's listing (holdOut, splitByColumn)
	parts      []splitPart    // the split that the split column assigns each image listed to (listTable)
	splitSeen  []string       // the split column's distinct values (the first few), for errors
	testLeft   int            // images of the split column's test split, in neither split beside val images
	notRead    string         // the held-out folder (val/, test/) not read for a hold-out, for WarnLeftOut
	unlisted   []string       // rows of the table that name no image listed (the first few), for WarnLeftOut
	nUnlisted  int            // how many rows name no image
	noLabels   *metadataTable // a metadata file without a label column, left aside, for WarnLeftOut
}

// maxNamed is how many of the files that a warning is about it names.
const maxNamed = 3

// splitDirs are the folder names that hold a split under one root: train/, and val/ or test/ for
// the test split (ImageNet's names).
func splitDirs(split string) []string {
	switch split {
	case SplitTrain:
		return []string{"train"}
	case SplitTest:
		return []string{"val", "test"}
	case splitTestOnly:
		return []string{"test"}
	case "":
		return nil
	}
	return []string{split}
}

// splitTestOnly is the test split read from test/ alone, not val/ (Options.TestSplit "test"):
// Open opens it for SplitTest, and the data it returns says SplitTest.
const splitTestOnly = "test (-test-split test)"

// heldOutAliases are other names of an image folder's held-out split beside train/: Hugging
// Face's validation/ and Kaggle's valid/, read for the test split when root holds no val/ (before
// test/, as val/ is). Without a train/ folder beside it, such a folder is a class ("valid" beside
// "invalid"), not a split.
var heldOutAliases = []string{"validation", "valid"}

// HeldOutAlias returns the folder of heldOutAliases that holds the held-out split under root: the
// first that exists beside a train/ folder, or "" when root holds train/ and val/, or neither.
func HeldOutAlias(root string) string { return heldOutAlias(folderIn(root)) }

// heldOutAlias is HeldOutAlias of a root that holds the folders has says it holds (locally, or in
// a bucket).
func heldOutAlias(has func(name string) bool) string {
	if !has("train") || has("val") {
		return ""
	}
	for _, name := range heldOutAliases {
		if has(name) {
			return name
		}
	}
	return ""
}

// splitFolder returns the folder of split (splitDirs, with heldOutAliases for val) among those has
// says a root holds, or "" for none.
func splitFolder(split string, has func(name string) bool) string {
	for _, name := range splitDirs(split) {
		if has(name) {
			return name
		}
		if alias := heldOutAlias(has); name == "val" && alias != "" {
			return alias
		}
	}
	return ""
}

// hasSplitFolders reports whether a root that holds the folders has says it holds has split
// folders: train/, val/, test/ or one of heldOutAliases.
func hasSplitFolders(has func(name string) bool) bool {
	return slices.ContainsFunc(append([]string{"train", "val", "test"}, heldOutAliases...), has)
}

// folderIn says whether root holds a folder of a name.
func folderIn(root string) func(name string) bool {
	return func(name string) bool { return isDir(filepath.Join(root, name)) }
}

// resolveSplit returns the folder of split under root: root/train, root/val (or one of
// heldOutAliases) or root/test when root holds split folders, root itself when it holds none
// (then every split is the same images).
func resolveSplit(root, split string) (string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return "", usageErr(root, err, "give the folder that holds the images")
	}
	if !st.IsDir() {
		return "", usageErr(root, errors.New("not a folder"), "give the folder that holds the images")
	}
	if name := splitFolder(split, folderIn(root)); name != "" {
		return filepath.Join(root, name), nil
	}
	if err := CheckSplitNames(root); err != nil {
		return "", err
	}
	if err := missingSplit(root, split, folderIn(root)); err != nil {
		return "", err
	}
	return root, nil
}

// missingSplit is the ErrNoSplit usage error of a root (a folder, or a bucket's) that holds split
// folders (has says which names it holds) but none for split; nil when it holds none, or when
// split is "". splitTestOnly needs a test/ folder: a root without one is an error.
func missingSplit(root, split string, has func(name string) bool) error {
	if split == splitTestOnly && !has("test") {
		return usageErr(root, fmt.Errorf("-test-split test reads a test/ folder beside train/, and it holds none: %w", ErrNoSplit),
			"leave -test-split out to evaluate on val/, or give the folder a test/ of labelled images")
	}
	for _, name := range []string{"train", "val", "test"} {
		if has(name) && split != "" {
			return usageErr(root, fmt.Errorf("holds a %s/ folder but no folder for the %s split (want %s/): %w", name, split,
				strings.Join(splitDirs(split), "/ or "), ErrNoSplit), "")
		}
	}
	return nil
}

// CheckSplitNames returns a usage error when root holds split folders named in another case
// (Train/, VAL/: from archives made on Windows, or for Kaggle), which a case-sensitive file system
// does not find as train/, val/ and test/: read as class folders, the splits would be the classes.
// It takes a folder for training's and one for the held-out split (either in another case) to be
// splits: one class folder named "Train" (of trains) is not. It refuses the top folder of Kaggle's
// copy of ImageNet too, naming the folder of its images (ILSVRC/Data/CLS-LOC).
func CheckSplitNames(root string) error {
	if err := kaggleRootErr(root); err != nil {
		return err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil // listing root reports it
	}
	var train, held bool
	var other []string
	for _, e := range entries {
		name := e.Name()
		lower := strings.ToLower(name)
		if (lower != "train" && lower != "val" && lower != "test" && !slices.Contains(heldOutAliases, lower)) || !entryIsDir(root, e) {
			continue
		}
		train = train || lower == "train"
		held = held || lower != "train"
		if name != lower {
			other = append(other, name+"/")
		}
	}
	if !train || !held || len(other) == 0 {
		return nil
	}
	sort.Strings(other)
	return usageErr(root, fmt.Errorf("holds %s: split folders are read in lower case only (train/, and val/ or test/), and these would be read as classes or missed",
		strings.Join(other, " ")), "rename them in lower case")
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// OpenFolder lists the image folder root for split: root/train for "train", root/val (or
// root/validation or root/valid beside root/train, or root/test) for "test" when root holds such
// folders, otherwise root itself for any split. It decodes nothing. The labels of a test split are
// numbered by the classes of root/train (UseClassesOf). A metadata table gives labels from its
// DefaultLabelColumn.
func OpenFolder(root, split string) (*Folder, error) {
	return OpenFolderLabels(root, split, FolderLabels{})
}

// OpenFolderLabels is OpenFolder with the labels taken from an outside label table, or from the
// column of a metadata table that labels names (see Folder and FolderLabels): a table that lacks
// that column is then a usage error. With labels.SplitColumn, every split is drawn from the
// training images (root/train, or root itself) by that column of the table (see
// FolderLabels.SplitColumn): split "train" (or "") is the images it assigns to training, any other
// split the held-out images; a val/ or test/ folder beside them is not read.
func OpenFolderLabels(root, split string, labels FolderLabels) (*Folder, error) {
	if root == "" {
		return nil, usageErr("", errors.New("no image folder given"), "set the data directory to the image folder")
	}
	read := split
	if labels.SplitColumn != "" {
		read = SplitTrain // both splits are drawn from the training images
	}
	dir, err := resolveSplit(root, read)
	if err != nil {
		return nil, err
	}
	f := &Folder{dir: dir, split: split, labelsFrom: labels, splitDir: dir != root}
	if err := f.list(); err != nil {
		return nil, err
	}
	if labels.SplitColumn != "" {
		if err := f.splitByColumn(split); err != nil {
			return nil, err
		}
		if test, terr := resolveSplit(root, SplitTest); terr == nil && test != f.dir {
			f.notRead = test // a val/ or test/ folder, left for the final word
		}
		return f, nil
	}
	if dir != root && split != SplitTrain {
		if err := f.UseClassesOf(filepath.Join(root, "train")); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// UseClassesOf numbers the labels of f, a held-out split, by the classes of the training split in
// trainDir (its class folders, or the labels of its metadata table), so that a label means the same
// class in both: a split without some of the classes (a small validation set) keeps the training
// numbers. A class of f that the training split lacks is a usage error, since no classifier trained
// there could name it. It does nothing when either split is unlabelled, when trainDir does not
// exist, and when the labels come from an outside label table (whose classes, all its labels, are
// every split's already).
func (f *Folder) UseClassesOf(trainDir string) error {
	if f.classes == nil || f.labelsFrom.Table != "" || f.labelsFrom.SplitColumn != "" {
		return nil // an outside label table gives every split its classes: already the training split's
	}
	train, err := splitClasses(trainDir, f.labelsFrom)
	if err != nil || train == nil || slices.Equal(train, f.classes) {
		return err
	}
	number, unknown := Renumber(f.classes, train)
	if len(unknown) > 0 {
		return usageErr(f.dir, fmt.Errorf("classes %s are not among those of %s (%s): no classifier trained there could name them",
			summarize(unknown), trainDir, summarize(train)), "give both splits the same classes, or leave these out of the held-out split")
	}
	for i, l := range f.labels {
		f.labels[i] = number[l]
	}
	f.classes = train
	return nil
}

// Renumber maps the classes of a held-out split to those of the training split, train, by name:
// number[k] is the training number of classes[k]; unknown lists the classes that train lacks.
func Renumber(classes, train []string) (number []int32, unknown []string) {
	at := make(map[string]int32, len(train))
	for k, c := range train {
		at[c] = int32(k)
	}
	number = make([]int32, len(classes))
	for k, c := range classes {
		n, ok := at[c]
		if !ok {
			unknown = append(unknown, c)
		}
		number[k] = n
	}
	return number, unknown
}

// splitClasses lists the classes of the split folder dir as a Folder numbers them: the labels of its
// label or metadata table (an error when that table cannot be read), or its class folders; nil when
// it is unlabelled or cannot be listed (opening it says why).
func splitClasses(dir string, labels FolderLabels) ([]string, error) {
	t, err := labelTable(dir, labels)
	if err != nil {
		return nil, err
	}
	if t != nil && t.column != "" {
		return t.classes()
	}
	classes, err := classFolders(dir)
	if err != nil {
		return nil, nil
	}
	return classes, nil
}

// summarize lists up to 5 names.
func summarize(names []string) string {
	if len(names) <= 5 {
		return "[" + strings.Join(names, " ") + "]"
	}
	return fmt.Sprintf("[%s ... %s] (%d)", strings.Join(names[:4], " "), names[len(names)-1], len(names))
}

// hidden reports whether a folder entry is left out of every listing, uncounted: hidden names
// (".DS_Store", AppleDouble "._photo.jpg" files, ".git", ".ipynb_checkpoints"), the "__MACOSX"
// folder of AppleDouble files that a zip made by macOS's Finder unpacks beside the photos, and
// the "@eaDir" folders of JPEG thumbnails that a Synology NAS writes beside them. None is data;
// torchvision's ImageFolder would read such a folder as a class, or its thumbnails as images.
func hidden(name string) bool {
	return strings.HasPrefix(name, ".") || name == "__MACOSX" || name == "@eaDir"
}

// entryIsDir reports whether a folder entry is a folder, following symbolic links.
func entryIsDir(dir string, e fs.DirEntry) bool {
	if e.Type()&fs.ModeSymlink != 0 {
		return isDir(filepath.Join(dir, e.Name()))
	}
	return e.IsDir()
}

// linkedType is the type of a folder entry (the type bits of fs.FileMode), following symbolic
// links, for the listing of an image folder: a link whose target cannot be reached (moved, on a
// disk not mounted) is a usage error naming it, rather than a file that stops the run when a batch
// reaches it, or a class folder left out (the classes after it would be renumbered).
func linkedType(dir string, e fs.DirEntry) (fs.FileMode, error) {
	if e.Type()&fs.ModeSymlink == 0 {
		return e.Type(), nil
	}
	path := filepath.Join(dir, e.Name())
	st, err := os.Stat(path)
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // the path is the error's own
		}
		target, _ := os.Readlink(path)
		return 0, usageErr(path, fmt.Errorf("a link to %s, which cannot be read: %w", target, err),
			"restore its target (a folder moved? a disk not mounted?) or remove the link")
	}
	return st.Mode().Type(), nil
}

// checkRegular returns a usage error naming path, a file with an image's name, when its type
// (linkedType) is not that of a regular file: reading a named pipe waits for a writer for ever.
func checkRegular(path string, typ fs.FileMode) error {
	if typ.IsRegular() {
		return nil
	}
	kind := "a " + typ.String()
	switch {
	case typ&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case typ&fs.ModeSocket != 0:
		kind = "a socket"
	case typ&fs.ModeDevice != 0:
		kind = "a device"
	}
	return usageErr(path, fmt.Errorf("not a regular file but %s", kind), "remove it, or put the image file there")
}

// classFolders lists the class folders of dir (sorted), or nil for a flat folder.
func classFolders(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var classes []string
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		typ, err := linkedType(dir, e)
		if err != nil {
			return nil, err
		}
		if typ.IsDir() {
			classes = append(classes, e.Name())
		}
	}
	sort.Strings(classes)
	return classes, nil
}

// labelTable reads the table that labels the split folder dir: the outside label table of labels,
// or else dir's metadata table; nil when there is neither.
func labelTable(dir string, labels FolderLabels) (*metadataTable, error) {
	if labels.Table != "" {
		return readLabelTable(labels)
	}
	file, err := findMetadata(dir)
	if file == "" && err == nil && labels.SplitColumn == "" {
		if solution := kaggleSolution(dir); solution != "" {
			return readKaggleSolution(solution)
		}
	}
	if file == "" || err != nil {
		return nil, err
	}
	return readMetadata(file, labels)
}

func (f *Folder) list() error {
	t, err := labelTable(f.dir, f.labelsFrom)
	if err != nil {
		return err
	}
	if t != nil && t.column != "" {
		return f.listTable(t)
	}
	if f.labelsFrom.SplitColumn != "" {
		what := "the folder holds no metadata.csv or metadata.jsonl"
		if t != nil {
			what = t.path + " gives no labels"
		}
		return usageErr(f.dir, fmt.Errorf("-split-column %s names a column of the label table, and %s", f.labelsFrom.SplitColumn, what),
			"give the table of labels and splits with -label-table (and its column of labels with -label-column), or leave -split-column out")
	}
	f.noLabels = t
	isTable := func(name string) bool { return t != nil && name == filepath.Base(t.path) }
	classes, err := classFolders(f.dir)
	if de := (*DataError)(nil); errors.As(err, &de) {
		return err // a dangling link, named
	}
	if err != nil {
		return usageErr(f.dir, err, "give a readable folder")
	}
	if classes == nil {
		entries, err := os.ReadDir(f.dir)
		if err != nil {
			return usageErr(f.dir, err, "give a readable folder")
		}
		for _, e := range entries {
			switch {
			case hidden(e.Name()) || e.IsDir() || isTable(e.Name()):
			case isImageFile(e.Name()):
				typ, _ := linkedType(f.dir, e) // classFolders refused dangling links
				if err := checkRegular(filepath.Join(f.dir, e.Name()), typ); err != nil {
					return err
				}
				f.files = append(f.files, filepath.Join(f.dir, e.Name()))
			default:
				f.ignored++
				countExt(&f.other, e.Name())
			}
		}
		sort.Strings(f.files)
		if len(f.files) == 0 {
			msg, hint := "no "+imageExtList+" images", "put the images in this folder, or in one subfolder per class"
			if what, do := convertible(f.dir, entries); what != "" {
				msg, hint = msg+": it holds "+what, do
			} else if slices.ContainsFunc(entries, func(e os.DirEntry) bool { return isShardName(e.Name()) }) {
				hint = "it holds .tar files: read WebDataset shards as shards (-dataset shards)"
			} else if otherFormats(f.other) {
				msg += ": it holds " + leftOut(f.other)
				hint = "convert the images to one of the formats read (" + readFormats + ")"
			}
			return usageErr(f.dir, errors.New(msg), hint)
		}
		return nil
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return usageErr(f.dir, err, "give a readable folder")
	}
	for _, e := range entries {
		if !hidden(e.Name()) && !isTable(e.Name()) && !entryIsDir(f.dir, e) { // classFolders refused dangling links
			f.ignored++ // a file beside the class folders has no class (ImageFolder skips it too)
			if isImageFile(e.Name()) {
				f.beside++
			} else {
				countExt(&f.other, e.Name())
			}
		}
	}
	for k, class := range classes {
		files, other, err := walkImages(f.dir, filepath.Join(f.dir, class))
		if err != nil {
			return err
		}
		f.leaveOut(other)
		if len(files) == 0 {
			msg, hint := "class folder without "+imageExtList+" images", "remove it or add images (torchvision's ImageFolder refuses it too)"
			if otherFormats(other) {
				msg += ": it holds " + leftOut(other)
				hint = "convert its images to one of the formats read (" + readFormats + "), or remove it"
			}
			return usageErr(filepath.Join(f.dir, class), errors.New(msg), hint)
		}
		for _, file := range files {
			f.files = append(f.files, file)
			f.labels = append(f.labels, int32(k))
		}
	}
	f.classes = classes
	return nil
}

// listTable lists the images under the folder, recursively, with the labels of the metadata table t.
func (f *Folder) listTable(t *metadataTable) error {
	classes, err := t.classes()
	if err != nil {
		return err
	}
	files, other, err := walkImages(f.dir, f.dir)
	if err != nil {
		return err
	}
	if ext := filepath.Ext(t.path); t.outside && !Within(t.path, f.dir) {
		// An outside table elsewhere is not among the folder's files.
	} else if other[ext] > 1 { // the table itself is not a file left out
		other[ext]--
	} else {
		delete(other, ext)
	}
	f.leaveOut(other)
	if len(files) == 0 {
		return usageErr(f.dir, errors.New("no "+imageExtList+" images"), "put the images that "+filepath.Base(t.path)+" names in this folder")
	}
	at := make(map[string]int32, len(classes))
	for k, c := range classes {
		at[c] = int32(k)
	}
	listed := make(map[string]bool, len(files))
	var missing []string
	for _, file := range files {
		rel := relSlash(f.dir, file)
		name := rel
		row, ok := t.rows[name]
		if !ok && t.outside { // an id: the name without its extension
			name = strings.TrimSuffix(rel, path.Ext(rel))
			row, ok = t.rows[name]
		}
		if !ok {
			missing = append(missing, rel)
			continue
		}
		listed[name] = true
		f.files = append(f.files, file)
		f.labels = append(f.labels, at[row.label])
		if t.splitColumn != "" {
			part, err := f.splitPartOf(t, name, row)
			if err != nil {
				return err
			}
			f.parts = append(f.parts, part)
		}
	}
	if len(missing) > 0 {
		hint := "add a row (" + t.fileColumn + ", " + t.column + ") for each, or move the images without a label out of the folder"
		if len(listed) == 0 && len(t.names) > 0 {
			or := ""
			if t.outside {
				or = " (or without its extension)"
			}
			hint = fmt.Sprintf("no row names an image here: the table names them as %q, so give each image's path relative to %s%s, or %s", t.names[0], f.dir, or, hint)
		}
		table := filepath.Base(t.path) // in the folder the error names
		if t.outside {
			table = t.path
		}
		return usageErr(f.dir, fmt.Errorf("%d of the %d images have no row in %s: %s", len(missing), len(files), table, summarize(missing)), hint)
	}
	for _, name := range t.names {
		if !listed[name] {
			if f.nUnlisted++; len(f.unlisted) < maxNamed {
				f.unlisted = append(f.unlisted, name)
			}
		}
	}
	f.classes, f.table = classes, t.path
	return nil
}

// leaveOut counts the files of other (counts by extension, of a walkImages) among those ignored.
func (f *Folder) leaveOut(other map[string]int) {
	for ext, n := range other {
		if f.other == nil {
			f.other = map[string]int{}
		}
		f.ignored += n
		f.other[ext] += n
	}
}

// walkImages finds the images under dir, a class folder of root, recursively, following links to
// folders (at most 32 levels deep), in torchvision's order: sorted by folder path, then by file
// name, and counts the other files by extension. A link back to root or to a folder above it is a
// loop: a usage error naming it.
func walkImages(root, dir string) (files []string, other map[string]int, err error) {
	type folder struct {
		path  string
		files []string
	}
	type visited struct {
		path string
		info os.FileInfo
	}
	var folders []folder
	var above []visited // root and the folders that hold the one walked
	if st, err := os.Stat(root); err == nil && root != dir {
		above = append(above, visited{root, st})
	}
	var walk func(path string, depth int) error
	walk = func(path string, depth int) error {
		if depth > 32 {
			return damagedErr(path, "", -1, errors.New("folders nested more than 32 deep"))
		}
		st, err := os.Stat(path)
		if err != nil {
			return damagedErr(path, "", -1, err)
		}
		for _, a := range above {
			if os.SameFile(a.info, st) {
				return usageErr(path, fmt.Errorf("a link back to %s, which holds it (a loop)", a.path), "remove the link")
			}
		}
		above = append(above, visited{path, st})
		defer func() { above = above[:len(above)-1] }()
		entries, err := os.ReadDir(path)
		if err != nil {
			return damagedErr(path, "", -1, err)
		}
		fd := folder{path: path}
		for _, e := range entries {
			if hidden(e.Name()) {
				continue
			}
			typ, err := linkedType(path, e)
			if err != nil {
				return err
			}
			switch {
			case typ.IsDir():
				if err := walk(filepath.Join(path, e.Name()), depth+1); err != nil {
					return err
				}
			case isImageFile(e.Name()):
				if err := checkRegular(filepath.Join(path, e.Name()), typ); err != nil {
					return err
				}
				fd.files = append(fd.files, e.Name())
			default:
				countExt(&other, e.Name())
			}
		}
		folders = append(folders, fd)
		return nil
	}
	if err := walk(dir, 0); err != nil {
		return nil, nil, err
	}
	sort.Slice(folders, func(i, j int) bool { return folders[i].path < folders[j].path })
	for _, fd := range folders {
		sort.Strings(fd.files)
		for _, name := range fd.files {
			files = append(files, filepath.Join(fd.path, name))
		}
	}
	return files, other, nil
}

// countExt counts the file name's extension (lower case; "" for none) in *m, made when nil.
func countExt(m *map[string]int, name string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[strings.ToLower(filepath.Ext(name))]++
}

// otherImageExtensions are image formats that are not read (nor by torchvision's ImageFolder): a
// folder of them is told to convert them.
var otherImageExtensions = []string{".dng", ".gif", ".jp2", ".jxl", ".pbm", ".pnm"}

// otherFormats reports whether the counts of files by extension include images of formats that
// are not read.
func otherFormats(counts map[string]int) bool {
	for ext := range counts {
		if slices.Contains(otherImageExtensions, ext) {
			return true
		}
	}
	return false
}

// leftOut lists counts of files by extension, the most frequent first (at most 5): ".webp 3, .txt 1".
func leftOut(counts map[string]int) string {
	exts := slices.Collect(maps.Keys(counts))
	sort.Slice(exts, func(i, j int) bool {
		if counts[exts[i]] != counts[exts[j]] {
			return counts[exts[i]] > counts[exts[j]]
		}
		return exts[i] < exts[j]
	})
	var parts []string
	for i, ext := range exts {
		if i == 5 {
			parts = append(parts, "...")
			break
		}
		name := ext
		if name == "" {
			name = "no extension"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, counts[ext]))
	}
	return strings.Join(parts, ", ")
}

// Info describes the folder: 3 channels (every image is decoded to RGB), sizes 0 (they may
// differ), ImageNet's normalisation (LoaderConfig.Mean and Std override it).
func (f *Folder) Info() Info {
	return Info{Name: "folder", Split: f.split, Len: len(f.files), Channels: 3, NumClasses: len(f.classes),
		ClassNames: f.classes, Mean: ImageNetMean, Std: ImageNetStd}
}

// Dir is the folder that holds the split's images.
func (f *Folder) Dir() string { return f.dir }

// Path is the file of sample i.
func (f *Folder) Path(i int) string { return f.files[i] }

// Ignored is the number of files left out: those not of an image extension read, and those
// beside the class folders of a labelled folder (they have no class). Hidden files are not counted.
func (f *Folder) Ignored() int { return f.ignored }

// WarnLeftOut logs what the listing left out, if anything: images beside the class folders (with
// a subfolder, a folder is read as class folders, as torchvision's ImageFolder reads it: a photo
// folder with one subfolder loses its own photos), other files, the rows of a metadata table that
// name no image in the folder (images deleted since, or misnamed), and a metadata table left aside
// for want of a label column.
func (f *Folder) WarnLeftOut(logger *log.Logger) {
	if f.heldOut {
		return // the training split, listed from the same folder, says it
	}
	if f.notRead != "" {
		by := "-val-percent"
		if f.labelsFrom.SplitColumn != "" {
			by = "-split-column"
		}
		logger.Info("the test split is the images held out of the training images ("+by+"): the folder of held-out images beside them is not read", "folder", f.notRead)
	}
	if f.testLeft > 0 {
		column, _, _ := ParseSplitColumn(f.labelsFrom.SplitColumn)
		logger.Info(fmt.Sprintf("images of the split column's test split: in neither the training split nor the held-out split (its val images); evaluate -test-split test scores them (mkshards writes them as test/ shards), and -split-column %s=test holds them out and trains on the others", column),
			"images", f.testLeft, "table", f.table)
	}
	switch {
	case f.nUnlisted > 0 && f.labelsFrom.Table != "" && f.splitDir:
		// One label table lists the images of every split, as expected.
		logger.Info("rows of the label table that name no image of this split left out (those of the other splits, or images removed since)",
			"rows", f.nUnlisted, "first", strings.Join(f.unlisted, " "), "table", f.table, "folder", f.dir)
	case f.nUnlisted > 0 && f.labelsFrom.Table != "":
		logger.Warn("rows of the label table name no image in the folder: left out (images of another split, removed since, or misnamed?)",
			"rows", f.nUnlisted, "first", strings.Join(f.unlisted, " "), "table", f.table, "folder", f.dir)
	case f.nUnlisted > 0:
		logger.Warn("rows of the metadata table name no image in the folder: left out (images removed since, or misnamed?)",
			"rows", f.nUnlisted, "first", strings.Join(f.unlisted, " "), "table", f.table)
	}
	if t := f.noLabels; t != nil {
		col := f.labelsFrom.Column
		if col == "" {
			col = DefaultLabelColumn
		}
		logger.Warn(fmt.Sprintf("the metadata table has no %q column: its rows give no labels, and the folder is read as class folders or a flat folder; name the column of labels with -label-column", col),
			"columns", strings.Join(t.columns, ","), "table", t.path)
	}
	if f.beside > 0 {
		logger.Warn("images beside the class folders left out: a folder with subfolders is read as one subfolder per class (ImageFolder's rule); move them into a class folder, or the subfolders out, to use them",
			"images", f.beside, "folder", f.dir)
	}
	if other := f.ignored - f.beside; other > 0 {
		logger.Warn("files left out: not "+imageExtList, "count", other, "kinds", leftOut(f.other), "folder", f.dir)
	}
}

// WarnLeftOut logs what d left out when d is an image folder (Folder.WarnLeftOut) or a RecordSet
// (RecordSet.WarnLeftOut); the other data sets leave nothing out.
func WarnLeftOut(d Data, logger *log.Logger) {
	if w, ok := d.(interface{ WarnLeftOut(*log.Logger) }); ok {
		w.WarnLeftOut(logger)
	}
}

// Label is the class of sample i, or -1 for a flat folder.
func (f *Folder) Label(i int) int32 {
	if f.labels == nil {
		return -1
	}
	return f.labels[i]
}

// Decode reads and decodes sample i to RGB.
func (f *Folder) Decode(i int) (Image, error) { return decodeFile(f.files[i], i, f.orient) }

func (f *Folder) exifOriented() bool { return f.orient }

// encoded reads the bytes of sample i, for the loader to decode at a reduced scale.
func (f *Folder) encoded(i int) ([]byte, string, error) {
	data, err := os.ReadFile(f.files[i])
	if err != nil {
		return nil, f.files[i], damagedErr(f.files[i], "", i, err)
	}
	return data, f.files[i], nil
}

// LoadFolder reads a folder of images into memory as an RGB data set (folder layout
// and splits as OpenFolder). With size > 0 each image is prepared as the evaluation transform
// does (GatherConfig.Size: shorter side to int(size/0.875), PIL's antialiased bilinear filter,
// then the centre size x size); with size 0 every image must have the size of the first one. Its
// normalisation statistics are computed from the pixels.
//
// Deprecated: LoadFolder decodes the whole folder before returning; OpenFolder streams it, with
// the crops on the original images. LoadFolder stays for callers that need a *Dataset.
func LoadFolder(root, split string, size int) (*Dataset, error) {
	f, err := OpenFolder(root, split)
	if err != nil {
		return nil, err
	}
	ds, err := Gather(f, identityOrder(len(f.files)), GatherConfig{Size: size})
	if err != nil {
		return nil, err
	}
	ds.Mean, ds.Std = ds.ComputeMeanStd()
	return ds, nil
}

// holdOut splits the images listed into training and held-out images, keeping the held-out ones
// when held is set and the others when not: from each class (an unlabelled folder is one class),
// round(percent% of its images), at most all but one, those whose paths relative to the folder
// hash lowest (FNV-1a, then SplitMix64). The choice depends on the paths alone, not on a seed or
// the order of listing: every run and command holds out the same images, a larger percentage
// holds out a superset, and images added to a class move the others between the splits only as
// much as the class's count changes. The order of the images kept is unchanged.
func (f *Folder) holdOut(percent float64, held bool) error {
	rels := make([]string, len(f.files))
	for i, file := range f.files {
		rels[i] = relSlash(f.dir, file)
	}
	out, err := heldOutMask(f.dir, rels, f.labels, len(f.classes), percent)
	if err != nil {
		return err
	}
	f.keep(func(i int) bool { return out[i] == held })
	f.heldOut = held
	return nil
}

// heldOutMask marks the images to hold out, named by names (their paths relative to the folder
// dir, with "/") and labelled by labels (nil: one class): from each class, round(percent% of its
// images), at most all but one, those whose names hash lowest (Folder.holdOut).
func heldOutMask(dir string, names []string, labels []int32, classes int, percent float64) ([]bool, error) {
	if !(percent > 0 && percent < 100) {
		return nil, usageErr(dir, fmt.Errorf("hold out %g%% of the images: want a percentage in (0, 100)", percent), "")
	}
	byClass := make([][]int, max(1, classes))
	for i := range names {
		c := 0
		if labels != nil {
			c = int(labels[i])
		}
		byClass[c] = append(byClass[c], i)
	}
	keys := make([]uint64, len(names))
	for i, name := range names {
		keys[i] = nameKey(name)
	}
	out := make([]bool, len(names))
	n := 0
	for _, idx := range byClass {
		k := min(int(math.Round(percent/100*float64(len(idx)))), len(idx)-1)
		slices.SortFunc(idx, func(a, b int) int { return cmp.Or(cmp.Compare(keys[a], keys[b]), strings.Compare(names[a], names[b])) })
		for _, i := range idx[:max(k, 0)] {
			out[i] = true
			n++
		}
	}
	if n == 0 {
		return nil, usageErr(dir, fmt.Errorf("holding out %g%% of each class's images holds out none of the %d images", percent, len(names)),
			"raise the percentage (-val-percent), or give the folder a train/ and a val/ folder")
	}
	return out, nil
}

// keep keeps the images i listed for which keep(i) holds, in their order.
func (f *Folder) keep(keep func(i int) bool) {
	files, labels := f.files[:0:0], []int32(nil)
	for i, file := range f.files {
		if keep(i) {
			files = append(files, file)
			if f.labels != nil {
				labels = append(labels, f.labels[i])
			}
		}
	}
	f.files, f.labels, f.parts = files, labels, nil
}

// splitPart is a split that a split column (FolderLabels.SplitColumn) assigns an image to.
type splitPart int8

const (
	partTrain splitPart = iota
	partVal
	partTest
)

// maxSplitValues is how many distinct values of a split column an error lists.
const maxSplitValues = 8

// splitPartOf reads the split column's value of the image name (its row of t): a split name or a
// boolean, or with COLUMN=VALUE whether it is VALUE (FolderLabels.SplitColumn).
func (f *Folder) splitPartOf(t *metadataTable, name string, row metadataRow) (splitPart, error) {
	if !slices.Contains(f.splitSeen, row.split) && len(f.splitSeen) < maxSplitValues {
		f.splitSeen = append(f.splitSeen, row.split)
	}
	_, value, _ := ParseSplitColumn(f.labelsFrom.SplitColumn) // readTable checked it
	if value != "" {
		if strings.EqualFold(row.split, value) || sameNumber(row.split, value) {
			return partVal, nil
		}
		return partTrain, nil
	}
	switch strings.ToLower(row.split) {
	case "train", "training", "false", "0", "no":
		return partTrain, nil
	case "val", "valid", "validation", "dev", "true", "1", "yes":
		return partVal, nil
	case "test", "testing":
		return partTest, nil
	}
	what := fmt.Sprintf("its %s is %q", t.splitColumn, row.split)
	if row.split == "" {
		what = "it has no " + t.splitColumn
	}
	return 0, usageErr(t.path, fmt.Errorf("line %d: %s: %s, not a split (train, val or test) nor a boolean (true: held out)", row.line, name, what),
		fmt.Sprintf("give every image its split, or name the value of the held-out images (a fold): -split-column %s=VALUE", t.splitColumn))
}

// sameNumber reports whether a and b are the same number written two ways: a fold column that
// pandas wrote as floats (3.0) names fold 3.
func sameNumber(a, b string) bool {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	return errA == nil && errB == nil && x == y
}

// splitByColumn keeps the images that the split column assigns to split: for "train" (or "") the
// training images, for splitTestOnly the test images, for any other split the held-out images
// (the val images, or the test images when there are no val images).
func (f *Folder) splitByColumn(split string) error {
	column, value, _ := ParseSplitColumn(f.labelsFrom.SplitColumn)
	held := split != SplitTrain && split != ""
	var count [3]int
	for _, p := range f.parts {
		count[p]++
	}
	out := partVal
	if count[partVal] == 0 || split == splitTestOnly {
		out = partTest
	}
	values := strings.Join(f.splitSeen, ", ")
	if len(f.splitSeen) == maxSplitValues {
		values += ", ..."
	}
	switch {
	case split == splitTestOnly && value != "":
		return usageErr(f.table, fmt.Errorf("-test-split test reads the images that the split column assigns to test, and -split-column %s assigns none: its held-out images are those whose %s is %q", f.labelsFrom.SplitColumn, column, value),
			"leave -test-split out, or name the column alone, its values train, val and test")
	case count[out] == 0 && split == splitTestOnly:
		return usageErr(f.table, fmt.Errorf("-test-split test: none of the %d images is in the split column's test split: their %s values are %s", len(f.files), column, values),
			"leave -test-split out to evaluate on the held-out images, or mark the test images test")
	case count[out] == 0 && value != "":
		return usageErr(f.table, fmt.Errorf("-split-column %s: no image's %s is %q (its values: %s)", f.labelsFrom.SplitColumn, column, value, values),
			"name a value of the column: the held-out images' (a fold number)")
	case count[out] == 0:
		return usageErr(f.table, fmt.Errorf("-split-column %s: none of the %d images is held out: their %s values are %s", column, len(f.files), column, values),
			fmt.Sprintf("mark the held-out images val, test or true, or name their value: -split-column %s=VALUE", column))
	case count[partTrain] == 0:
		return usageErr(f.table, fmt.Errorf("-split-column %s: every one of the %d images is held out: none is left to train on", f.labelsFrom.SplitColumn, len(f.files)),
			"mark the training images train (or false), or name the held-out images' value: -split-column COLUMN=VALUE")
	}
	if out == partVal {
		f.testLeft = count[partTest]
	}
	want := partTrain
	if held {
		want = out
	}
	parts := f.parts
	f.keep(func(i int) bool { return parts[i] == want })
	f.heldOut = held
	return nil
}

// relSlash is file's path relative to dir (a folder that walkImages joined to it), with "/".
func relSlash(dir, file string) string {
	rel, ok := strings.CutPrefix(file, filepath.Clean(dir)+string(filepath.Separator))
	if !ok { // dir is "."
		rel, _ = filepath.Rel(dir, file)
	}
	return filepath.ToSlash(rel)
}
