package datasets

// ImageNet's ILSVRC2012 archives as image-net.org distributes them, read without extracting them:
// the training images (ILSVRC2012_img_train.tar, a tar of one tar per class, WNID.tar), the
// validation images (ILSVRC2012_img_val.tar, one flat tar) and the development kit
// (ILSVRC2012_devkit_t12.tar.gz, whose data/meta.mat names the classes and whose
// data/ILSVRC2012_validation_ground_truth.txt labels the validation images). The folder that holds
// them is the root that torchvision's datasets.ImageNet takes, and the splits read here are its
// splits: the same images, numbered as it numbers them (the classes are the WNIDs of the training
// archive's tars, sorted), the validation images labelled as its parse_val_archive labels them.
//
// An archive is read in place: its tar headers once, to list the images (a 138 GB training archive
// is not read whole for that; the listing is kept for the next run, ilsvrclisting.go), then each
// image where it lies, in any order. Open("folder") trains
// on a folder of them directly (a random-access Source), and mkshards writes them as shards
// (Samples), shuffled across the whole split rather than through a buffer.

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/matfile"
	"github.com/gomlx-ssl/vicreg/internal/progress"
)

// The archives' names, as image-net.org gives them (and torchvision looks for them).
const (
	ILSVRCTrainArchive  = "ILSVRC2012_img_train.tar"
	ILSVRCValArchive    = "ILSVRC2012_img_val.tar"
	ILSVRCDevkitArchive = "ILSVRC2012_devkit_t12.tar.gz"
	// ILSVRCDevkitFolder is the development kit extracted: a folder that holds data/meta.mat.
	ILSVRCDevkitFolder = "ILSVRC2012_devkit_t12"
)

// ILSVRCArchives are the archives found in a folder; "" for each that is not there.
type ILSVRCArchives struct {
	Train, Val string
	// Devkit is the development kit's archive, or the folder it was extracted to.
	Devkit string
}

// FindILSVRC looks for the archives in dir. ok is false when dir holds neither image archive: it is
// then not an ILSVRC2012 folder.
func FindILSVRC(dir string) (a ILSVRCArchives, ok bool) {
	at := func(name string, folder bool) string {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.IsDir() == folder {
			return p
		}
		return ""
	}
	a = ILSVRCArchives{Train: at(ILSVRCTrainArchive, false), Val: at(ILSVRCValArchive, false), Devkit: at(ILSVRCDevkitArchive, false)}
	if a.Devkit == "" {
		a.Devkit = at(ILSVRCDevkitFolder, true)
	}
	return a, a.Train != "" || a.Val != ""
}

// ILSVRCDevkit is what the development kit says of the classes and of the validation images.
type ILSVRCDevkit struct {
	// Path is the archive or folder it was read from.
	Path string
	// WNIDs are the classes' WordNet IDs by their ILSVRC2012_ID (the leaf synsets of meta.mat).
	WNIDs map[int]string
	// Words are each class's words (meta.mat's words: "tench, Tinca tinca"), by WNID.
	Words map[string]string
	// ValIDs are the ILSVRC2012_IDs of the validation images, in the order of their file names.
	ValIDs []int
}

// The devkit's files, under its top folder.
const (
	ilsvrcMetaFile        = "data/meta.mat"
	ilsvrcGroundTruthFile = "data/ILSVRC2012_validation_ground_truth.txt"
)

// ReadILSVRCDevkit reads the development kit at p: its archive (.tar.gz) or the folder it was extracted
// to. The classes are meta.mat's synsets without children (num_children 0), as torchvision
// reads them.
func ReadILSVRCDevkit(p string) (*ILSVRCDevkit, error) {
	files := map[string][]byte{}
	want := func(name string) string { // the devkit file that name is, or ""
		for _, f := range []string{ilsvrcMetaFile, ilsvrcGroundTruthFile} {
			if name == f || strings.HasSuffix(name, "/"+f) {
				return f
			}
		}
		return ""
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		for _, f := range []string{ilsvrcMetaFile, ilsvrcGroundTruthFile} {
			data, err := os.ReadFile(filepath.Join(p, filepath.FromSlash(f)))
			if err != nil {
				return nil, usageErr(p, err, "give the development kit ILSVRC2012_devkit_t12.tar.gz as image-net.org has it, or the folder it extracts to")
			}
			files[f] = data
		}
	} else {
		file, err := os.Open(p)
		if err != nil {
			return nil, usageErr(p, err, "give a readable ILSVRC2012_devkit_t12.tar.gz")
		}
		defer file.Close()
		z, err := gzip.NewReader(bufio.NewReader(file))
		if err != nil {
			return nil, archiveDamagedErr(p, "", fmt.Errorf("not a gzip file: %w", err), "download the development kit again")
		}
		tr := tar.NewReader(z)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, archiveDamagedErr(p, "", err, "download the development kit again")
			}
			if f := want(path.Clean(h.Name)); f != "" && h.Typeflag == tar.TypeReg {
				if files[f], err = io.ReadAll(tr); err != nil {
					return nil, archiveDamagedErr(p, h.Name, err, "download the development kit again")
				}
			}
		}
		for _, f := range []string{ilsvrcMetaFile, ilsvrcGroundTruthFile} {
			if files[f] == nil {
				return nil, usageErr(p, fmt.Errorf("holds no %s/%s", ILSVRCDevkitFolder, f), "give the development kit of ILSVRC2012 (ILSVRC2012_devkit_t12.tar.gz), which has it")
			}
		}
	}
	d := &ILSVRCDevkit{Path: p, WNIDs: map[int]string{}, Words: map[string]string{}}
	if err := d.readMeta(files[ilsvrcMetaFile]); err != nil {
		return nil, archiveDamagedErr(p, ilsvrcMetaFile, err, "download the development kit again")
	}
	for i, line := range strings.Split(strings.TrimRight(string(files[ilsvrcGroundTruthFile]), "\r\n"), "\n") {
		id, err := strconv.Atoi(strings.TrimSpace(line))
		if err == nil && d.WNIDs[id] == "" {
			err = fmt.Errorf("%d is not the ILSVRC2012_ID of a class of %s", id, ilsvrcMetaFile)
		}
		if err != nil {
			return nil, archiveDamagedErr(p, ilsvrcGroundTruthFile, fmt.Errorf("line %d: %w", i+1, err), "download the development kit again")
		}
		d.ValIDs = append(d.ValIDs, id)
	}
	return d, nil
}

// readMeta reads the classes from meta.mat's synsets.
func (d *ILSVRCDevkit) readMeta(data []byte) error {
	vars, err := matfile.Decode(data)
	if err != nil {
		return err
	}
	s := matfile.Variable(vars, "synsets")
	if s == nil || s.Class != matfile.Struct {
		return errors.New("no structure array synsets")
	}
	number := func(i int, field string) (int, error) {
		v := s.Field(i, field)
		if v == nil || len(v.Numbers) != 1 {
			return 0, fmt.Errorf("synset %d: %s is not a number", i+1, field)
		}
		return int(v.Numbers[0]), nil
	}
	for i := range s.Elems {
		children, err := number(i, "num_children")
		if err != nil {
			return err
		}
		if children != 0 {
			continue
		}
		id, err := number(i, "ILSVRC2012_ID")
		if err != nil {
			return err
		}
		wnid, words := s.Field(i, "WNID"), s.Field(i, "words")
		if wnid == nil || wnid.Class != matfile.Char || words == nil || words.Class != matfile.Char {
			return fmt.Errorf("synset %d: no WNID or words", i+1)
		}
		if d.WNIDs[id] != "" {
			return fmt.Errorf("synset %d: ILSVRC2012_ID %d is another's too", i+1, id)
		}
		d.WNIDs[id] = wnid.String()
		d.Words[wnid.String()] = words.String()
	}
	if len(d.WNIDs) == 0 {
		return errors.New("synsets holds no class (no synset of num_children 0)")
	}
	return nil
}

// Classes are the devkit's classes' WNIDs, sorted.
func (d *ILSVRCDevkit) Classes() []string {
	var c []string
	for _, w := range d.WNIDs {
		c = append(c, w)
	}
	slices.Sort(c)
	return c
}

// ILSVRC is a split: the images of one archive, listed. It is the Records of a RecordSet, which
// Open returns for a folder of the archives: the loader reads each image where it lies in the
// archive.
type ILSVRC struct {
	path    string
	classes []string
	images  []archiveImage // in the archive's order (the validation archive's: by name)
}

// archiveImage is one image of an archive: where its bytes lie.
type archiveImage struct {
	member string // its name in messages: "n01440764.tar:n01440764_10026.JPEG", or the file name
	key    string
	label  int32
	offset int64
	size   int64
}

// Len is the number of images.
func (s *ILSVRC) Len() int { return len(s.images) }

// Classes are the class names (WNIDs), in the order of the labels.
func (s *ILSVRC) Classes() []string { return s.classes }

// Label is the class of image i.
func (s *ILSVRC) Label(i int) int32 { return s.images[i].label }

// Name names image i: the archive and its member ("…/ILSVRC2012_img_train.tar:n01440764.tar:
// n01440764_10026.JPEG").
func (s *ILSVRC) Name(i int) string { return s.path + ":" + s.images[i].member }

// Encoded reads the bytes of image i from the archive.
func (s *ILSVRC) Encoded(i int) ([]byte, error) {
	im := s.images[i]
	f, err := os.Open(s.path)
	if err != nil {
		return nil, damagedErr(s.path, im.member, i, err)
	}
	defer f.Close()
	data := make([]byte, im.size)
	if _, err := f.ReadAt(data, im.offset); err != nil {
		return nil, damagedErr(s.path, im.member, i, fmt.Errorf("reading the image: %w (the archive changed since it was listed?)", err))
	}
	return data, nil
}

// openILSVRC opens split of the archives a for training or evaluation (Open's "folder" of
// ImageNet's archives): the training archive for SplitTrain, the validation archive (labelled by
// the devkit, numbered by the training archive's classes) for SplitTest, or with opt.ValPercent
// both from the training archive (holdOut). A split whose archive is not there is ErrNoSplit; the
// options that label images of an image folder are refused.
func openILSVRC(a ILSVRCArchives, dir, split string, opt Options) (*RecordSet, error) {
	switch {
	case opt.LabelTable != "" || opt.LabelColumn != "" || opt.SplitColumn != "":
		return nil, usageErr(dir, errors.New("holds ImageNet's ILSVRC2012 archives, labelled by their class tars and the development kit"),
			"leave -label-table, -label-column and -split-column out")
	case opt.TestSplit == "test":
		return nil, usageErr(dir, fmt.Errorf("-test-split test: ImageNet's archives hold no test split with labels (%s is the held-out split)", ILSVRCValArchive),
			"leave -test-split out")
	}
	var devkit *ILSVRCDevkit
	if a.Devkit != "" {
		var err error
		if devkit, err = ReadILSVRCDevkit(a.Devkit); err != nil {
			return nil, err
		}
	}
	if split != SplitTest || opt.ValPercent > 0 {
		if a.Train == "" {
			return nil, usageErr(dir, fmt.Errorf("holds no %s to train on: %w", ILSVRCTrainArchive, ErrNoSplit), "put the training archive beside the others")
		}
		s, err := OpenILSVRCTrain(a.Train, devkit, log.Default())
		if err == nil && opt.ValPercent > 0 {
			err = s.HoldOut(opt.ValPercent, split != SplitTrain && split != "")
		}
		if err != nil {
			return nil, err
		}
		return &RecordSet{recs: s, dir: dir, split: split, orient: opt.ExifOrientation}, nil
	}
	if a.Val == "" || devkit == nil {
		missing := ILSVRCValArchive
		if a.Val != "" {
			missing = "development kit (" + ILSVRCDevkitArchive + ") that labels " + ILSVRCValArchive
		}
		return nil, usageErr(dir, fmt.Errorf("holds no %s: %w", missing, ErrNoSplit), "put it beside the training archive (from image-net.org), or go without the held-out split")
	}
	var classes []string
	if a.Train != "" {
		var err error
		if classes, err = ilsvrcClasses(a.Train); err != nil {
			return nil, err
		}
	}
	s, err := OpenILSVRCVal(a.Val, devkit, classes)
	if err != nil {
		return nil, err
	}
	return &RecordSet{recs: s, dir: dir, split: split, orient: opt.ExifOrientation}, nil
}

// HoldOut keeps the training images that -val-percent holds out (held) or those it does not: the
// images that it holds out of the archive extracted as torchvision extracts it (train/WNID/NAME;
// Folder.holdOut), chosen by those paths.
func (s *ILSVRC) HoldOut(percent float64, held bool) error {
	names := make([]string, len(s.images))
	labels := make([]int32, len(s.images))
	for i, im := range s.images {
		names[i] = strings.Replace(im.member, ".tar:", "/", 1) // WNID.tar:NAME → WNID/NAME
		labels[i] = im.label
	}
	out, err := heldOutMask(s.path, names, labels, len(s.classes), percent)
	if err != nil {
		return err
	}
	kept := s.images[:0:0]
	for i, im := range s.images {
		if out[i] == held {
			kept = append(kept, im)
		}
	}
	s.images = kept
	return nil
}

// ilsvrcClasses are the classes of the training archive at p (its class tars' WNIDs, sorted),
// from its outer headers alone (a thousand small reads for ImageNet: less than decoding its
// whole kept listing).
func ilsvrcClasses(p string) ([]string, error) {
	tars, err := ilsvrcClassTars(p)
	if err != nil {
		return nil, err
	}
	classes := make([]string, len(tars))
	for k, c := range tars {
		classes[k] = c.wnid
	}
	return classes, nil
}

// classTar is a class's tar in the training archive: its WNID and where its bytes lie.
type classTar struct {
	wnid         string
	offset, size int64
}

// ilsvrcClassTars lists the class tars of the training archive at p by its headers (their contents
// skipped), sorted by WNID: each member must be one (WNID.tar), once.
func ilsvrcClassTars(p string) ([]classTar, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, usageErr(p, err, "give a readable "+ILSVRCTrainArchive)
	}
	defer f.Close()
	var classes []classTar
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, archiveDamagedErr(p, "", fmt.Errorf("reading its tar headers: %w", err), "download it again")
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		name := path.Base(h.Name)
		wnid, ok := strings.CutSuffix(name, ".tar")
		if h.Typeflag != tar.TypeReg || !ok || wnid == "" {
			return nil, usageErr(p, fmt.Errorf("member %s is not a class's tar (WNID.tar)", h.Name), "give ImageNet's "+ILSVRCTrainArchive+", whose members are one tar per class")
		}
		offset, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, archiveDamagedErr(p, h.Name, err, "")
		}
		classes = append(classes, classTar{wnid, offset, h.Size})
	}
	if len(classes) == 0 {
		return nil, usageErr(p, errors.New("holds no class tar"), "give ImageNet's "+ILSVRCTrainArchive)
	}
	slices.SortFunc(classes, func(a, b classTar) int { return strings.Compare(a.wnid, b.wnid) })
	for i := 1; i < len(classes); i++ {
		if classes[i].wnid == classes[i-1].wnid {
			return nil, usageErr(p, fmt.Errorf("holds %s.tar twice", classes[i].wnid), "download it again")
		}
	}
	return classes, nil
}

// listClassTars lists the training archive at p (ilsvrcClassTars), then each class's tar by its
// headers alone, in parallel, under a progress bar logged to logger (nil: none).
func listClassTars(p string, logger *log.Logger) ([]tarSection, error) {
	classes, err := ilsvrcClassTars(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, usageErr(p, err, "give a readable "+ILSVRCTrainArchive)
	}
	defer f.Close()
	var bar *progress.Bar
	if logger != nil {
		bar = progress.New("listing "+filepath.Base(p), int64(len(classes)), 0, progress.Options{Logger: logger, Unit: "class tars"})
		defer bar.Finish()
	}
	sections := make([]tarSection, len(classes))
	errs := make([]error, len(classes))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done, next := 0, 0
	for range min(runtime.GOMAXPROCS(0)*2, 16) {
		wg.Go(func() {
			for {
				mu.Lock()
				k := next
				next++
				mu.Unlock()
				if k >= len(classes) {
					return
				}
				c := classes[k]
				sections[k], errs[k] = listTarSection(f, c.offset, c.size, c.wnid)
				mu.Lock()
				done++
				if bar != nil {
					bar.Set(int64(done), "")
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			return nil, archiveDamagedErr(p, classes[k].wnid+".tar", err, "download it again")
		}
	}
	return sections, nil
}

// OpenILSVRCTrain lists the training archive at p: each class's tar (WNID.tar) and the images in it.
// The classes are the WNIDs, sorted; with a devkit (nil: none), each must be one of its classes.
// The class tars are listed in parallel, under a progress bar logged to logger (nil: none), and
// the listing kept in the cache for the next run (loadListing).
func OpenILSVRCTrain(p string, devkit *ILSVRCDevkit, logger *log.Logger) (*ILSVRC, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, usageErr(p, err, "give a readable "+ILSVRCTrainArchive)
	}
	sections := loadListing(p, st)
	if sections != nil && logger != nil {
		logger.Info("listed from the cache", "archive", p, "cache", listingFile(p))
	}
	if sections == nil {
		if sections, err = listClassTars(p, logger); err != nil {
			return nil, err
		}
		if err := saveListing(p, st, sections); err != nil && logger != nil {
			logger.Warn("could not keep the archive's listing for the next run: it will be listed again", "err", err)
		}
	}
	s := &ILSVRC{path: p}
	for k, t := range sections {
		if devkit != nil && devkit.Words[t.WNID] == "" {
			return nil, usageErr(p, fmt.Errorf("class %s is not a class of the development kit %s", t.WNID, devkit.Path), "give the archives of one release (ILSVRC2012)")
		}
		s.classes = append(s.classes, t.WNID)
		s.images = append(s.images, t.images(t.WNID+".tar", int32(k))...)
	}
	// Keys name samples in the shards: one key twice would merge two images into one sample.
	keys := make([]string, len(s.images))
	for i, im := range s.images {
		keys[i] = im.key
	}
	slices.Sort(keys)
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			return nil, usageErr(p, fmt.Errorf("holds two images of key %s (one file name twice in a class tar?)", keys[i]), "download it again")
		}
	}
	return s, nil
}

// OpenILSVRCVal lists the validation archive at p and labels its images by devkit's ground truth: the
// images sorted by name, the first labelled by the ground truth's first line, and so on
// (torchvision's parse_val_archive). The labels number classes (the training split's, so that a
// label means one class in both; nil: the devkit's classes); a validation image of a class
// that classes lacks is refused, as are a count of images other than the ground truth's and a
// file name twice.
func OpenILSVRCVal(p string, devkit *ILSVRCDevkit, classes []string) (*ILSVRC, error) {
	if classes == nil {
		classes = devkit.Classes()
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, usageErr(p, err, "give a readable "+ILSVRCValArchive)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, usageErr(p, err, "")
	}
	var images []archiveImage
	if sections := loadListing(p, st); len(sections) == 1 {
		images = sections[0].images("", -1)
	} else {
		t, err := listTarSection(f, 0, st.Size(), "")
		if err != nil {
			return nil, archiveDamagedErr(p, "", err, "download it again")
		}
		if err := saveListing(p, st, []tarSection{t}); err != nil {
			log.Warn("could not keep the archive's listing for the next run: it will be listed again", "archive", p, "err", err)
		}
		images = t.images("", -1)
	}
	slices.SortFunc(images, func(a, b archiveImage) int { return strings.Compare(a.member, b.member) })
	for i := 1; i < len(images); i++ {
		if images[i].member == images[i-1].member {
			return nil, usageErr(p, fmt.Errorf("holds %s twice", images[i].member), "download it again")
		}
	}
	if len(images) != len(devkit.ValIDs) {
		return nil, usageErr(p, fmt.Errorf("holds %d images, but the development kit's ground truth labels %d", len(images), len(devkit.ValIDs)),
			"give the validation archive and the development kit of one release (ILSVRC2012)")
	}
	number := map[string]int32{}
	for k, c := range classes {
		number[c] = int32(k)
	}
	for i := range images {
		wnid := devkit.WNIDs[devkit.ValIDs[i]]
		k, ok := number[wnid]
		if !ok {
			return nil, usageErr(p, fmt.Errorf("%s is of class %s, which the training archive lacks", images[i].member, wnid),
				"give the training archive of the same classes")
		}
		images[i].label = k
	}
	return &ILSVRC{path: p, classes: classes, images: images}, nil
}

// archiveReaders are the images read at once, archiveWindow those read ahead of the one written
// (a variable for the benchmark).
var archiveReaders = 8

const archiveWindow = 64

// Samples yields the images as shard samples: their bytes (those whose header is not an image's
// are bad images), an extension from their format, and their class numbers. Unless noShuffle, in
// an order drawn from seed over the whole split (buffer, the shuffle buffer of data sets read
// only in order, is not needed). A read that fails yields a sample whose Err says so, and nothing
// after it.
func (s *ILSVRC) Samples(seed uint64, noShuffle bool, buffer int) iter.Seq[ShardSample] {
	return func(yield func(ShardSample) bool) {
		order := make([]int, len(s.images))
		for i := range order {
			order[i] = i
		}
		if !noShuffle {
			rng := rand.New(rand.NewPCG(SplitMix64(seed^0x11f5), 0x11f5))
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		f, err := os.Open(s.path)
		if err != nil {
			yield(ShardSample{Path: s.path, Index: -1, Err: archiveDamagedErr(s.path, "", err, "")})
			return
		}
		type result struct {
			data []byte
			err  error
		}
		// Images are read by several readers at once (an archive on a network file system or a
		// disk array serves several reads better than one), archiveWindow of them ahead, and yielded in
		// order.
		pending := make(chan chan result, archiveWindow)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			defer close(pending)
			sem := make(chan struct{}, archiveReaders)
			for _, i := range order {
				select {
				case <-stop:
					return
				default:
				}
				c := make(chan result, 1)
				select {
				case pending <- c:
				case <-stop:
					return
				}
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					im := s.images[i]
					data := make([]byte, im.size)
					_, err := f.ReadAt(data, im.offset)
					c <- result{data, err}
				})
			}
		})
		defer func() {
			close(stop)
			for range pending { // lets the producer see stop
			}
			wg.Wait()
			f.Close()
		}()
		for _, i := range order {
			r := <-<-pending
			im := s.images[i]
			x := ShardSample{Path: s.path, Member: im.member, Index: i, Key: im.key, Data: r.data, Label: im.label}
			if r.err != nil {
				x.Err = archiveDamagedErr(s.path, im.member, fmt.Errorf("reading the image: %w", r.err), "")
				yield(x)
				return
			}
			x.Ext = FormatExt(x.Data)
			if _, _, err := ImageSize(x.Data); err != nil {
				x.Bad = x.BadImage(err)
			}
			if !yield(x) {
				return
			}
		}
	}
}

func archiveDamagedErr(p, member string, err error, hint string) error {
	return &DataError{Kind: ErrDamaged, Path: p, Member: member, Index: -1, Err: err, Hint: hint}
}

// ilsvrcFolder finds ImageNet's archives in dir when dir is read as an image folder of them: it
// holds an archive and no train/ folder (torchvision's root after extraction holds both: its
// folders are read).
func ilsvrcFolder(dir string) (ILSVRCArchives, bool) {
	a, ok := FindILSVRC(dir)
	return a, ok && !isDir(filepath.Join(dir, "train"))
}
