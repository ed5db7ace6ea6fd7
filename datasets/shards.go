package datasets

import (
	"archive/tar"
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/progress"
	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// Shards is a data set stored as tar files in the WebDataset layout: each sample is a run of
// consecutive members with the same key (the member name up to the first dot of its last element),
// one image (KEY.jpg, KEY.png, KEY.webp, ...: an extension of imageExtensions), and optionally its class KEY.cls (the label as decimal
// text). Other members are ignored. Shards are read sequentially, never by seeking to a sample:
// a Loader shuffles them by shard order plus a bounded shuffle buffer.
//
// OpenShards scans the tar headers once (and reads the small .cls members) to count the samples
// and the classes, or reads these counts from an index (ShardIndex); nothing else is kept in
// memory. The labels are read with the images.
type Shards struct {
	paths   []string
	counts  []int
	starts  []int    // global index of each shard's first sample
	classes []string // nil: unlabeled
	split   string
	index   string // the index the counts come from, if any
	// readAhead is the number of remote shards downloaded at once (Options.ShardReadAhead).
	readAhead int
	// cache is the folder that keeps remote shards once downloaded (Options.ShardCache), if any.
	cache string
	// sizes are the shards' sizes that an index gives (0: unknown); nil without an index.
	sizes []int64
	// md5s are the shards' MD5 digests in hexadecimal ("": unknown), from an index or a scan
	// with digests (ScanShards); nil without either.
	md5s []string
	// orient turns images by their EXIF orientation (Options.ExifOrientation).
	orient bool
	// labelCounts are the samples of each class, counted by a scan or written in the index; nil
	// where neither counted them, and for unlabelled shards.
	labelCounts []int
	// label is the member that holds each sample's class (Options.LabelColumn).
	label ShardLabel
	// names are the samples of each class name, counted by a scan, where the label member names
	// the classes; classIndex numbers the names (their positions in classes).
	names      map[string]int
	classIndex map[string]int32
	// namedBy says which list numbers the names ("": their own sorted list).
	namedBy string
}

// LabelCounts returns the number of samples of each class (of Info().NumClasses), counted when
// the shards were scanned, or by their index (ShardIndex.ClassCounts); nil for shards opened by
// an index that does not count them (or by a part of one: -val-percent), and for unlabelled
// shards.
func (s *Shards) LabelCounts() []int { return s.labelCounts }

func (s *Shards) exifOriented() bool { return s.orient }

// Images decodes the samples at indices (positions in the split's order, the order evaluation
// reads it in: the shards in turn, each in its members' order), at their original size and turned
// by their EXIF orientation as the set turns its images, and returns them by index. It reads only
// the shards that hold them, each from its start to the last of them (a shard is a stream), from
// the shard cache where it holds them. An index outside the split is an error, as is a shard with
// fewer samples than counted.
func (s *Shards) Images(indices []int) (map[int]Image, error) {
	want := map[int]bool{}
	for _, i := range indices {
		if i < 0 || i >= s.Len() {
			return nil, fmt.Errorf("shards: sample %d of %d", i, s.Len())
		}
		want[i] = true
	}
	out := make(map[int]Image, len(want))
	for sh, p := range s.paths {
		first, last := s.starts[sh], -1
		for i := range want {
			if i >= first && i < first+s.counts[sh] {
				last = max(last, i)
			}
		}
		if last < 0 {
			continue
		}
		r, err := s.openForImages(sh)
		if err != nil {
			return nil, err
		}
		r.label = s.label
		for g := first; g <= last; g++ {
			smp, err := r.next(want[g])
			if err == io.EOF {
				err = damagedErr(p, "", -1, fmt.Errorf("%d samples, fewer than the %d counted", g-first, s.counts[sh]))
			}
			if err != nil {
				r.close()
				return nil, err
			}
			if want[g] {
				img, err := decodeImage(smp.data, 1)
				if err != nil {
					r.close()
					return nil, badImageErr(p, smp.member, g, err)
				}
				out[g] = orientImage(img, orientation(smp.data, s.orient))
			}
		}
		r.close()
	}
	return out, nil
}

// openForImages opens shard sh for Images: its copy in the shard cache when it has one (of the
// index's size, where the index gives it), else the shard itself.
func (s *Shards) openForImages(sh int) (*shardReader, error) {
	p := s.paths[sh]
	if s.cache != "" && isRemote(p) {
		var size int64
		if sh < len(s.sizes) {
			size = s.sizes[sh]
		}
		if f := openCached(filepath.Join(s.cache, CacheName(p)), size); f != nil {
			st, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, damagedErr(p, "", -1, err)
			}
			return newShardReader(p, f, st.Size(), f, nil)
		}
	}
	return openShard(p)
}

// ExpandPattern expands a WebDataset shard pattern: numeric ranges {000000..000146} (zero-padded to
// the width of the bounds when they have equal widths or the first has a leading zero) and lists
// {a,b,c}, any number of them. A name without braces is returned as it is.
func ExpandPattern(p string) ([]string, error) {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		if strings.IndexByte(p, '}') >= 0 {
			return nil, fmt.Errorf("pattern %q: '}' without '{'", p)
		}
		return []string{p}, nil
	}
	end := strings.IndexByte(p[open:], '}')
	if end < 0 {
		return nil, fmt.Errorf("pattern %q: '{' without '}'", p)
	}
	end += open
	body := p[open+1 : end]
	if strings.IndexByte(body, '{') >= 0 {
		return nil, fmt.Errorf("pattern %q: nested braces are not supported", p)
	}
	var alts []string
	if lo, hi, ok := strings.Cut(body, ".."); ok {
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("pattern %q: range {%s} must be {FIRST..LAST} with 0 <= FIRST <= LAST", p, body)
		}
		if b-a >= 10_000_000 {
			return nil, fmt.Errorf("pattern %q: range {%s} has more than 10,000,000 names", p, body)
		}
		width := 0
		if len(lo) == len(hi) || (len(lo) > 1 && lo[0] == '0') {
			width = len(lo)
		}
		for i := a; i <= b; i++ {
			alts = append(alts, fmt.Sprintf("%0*d", width, i))
		}
	} else {
		alts = strings.Split(body, ",")
	}
	rest, err := ExpandPattern(p[end+1:])
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(alts)*len(rest))
	for _, a := range alts {
		for _, r := range rest {
			out = append(out, p[:open]+a+r)
		}
	}
	return out, nil
}

// shardPaths resolves what the user gave: a brace pattern, a glob, one .tar file, or a folder of
// .tar files (with train/, val/ or test/ subfolders as splits, like image folders, or else shards
// named for their splits: shardsOfSplit).
func shardPaths(pattern, split string) ([]string, error) {
	if pattern == "" {
		return nil, usageErr("", errors.New("no shards given"), "set the data directory to a folder of .tar shards or a pattern such as train-{000000..000146}.tar")
	}
	var paths []string
	switch {
	case remote.IsObject(pattern) && (strings.HasSuffix(pattern, "/") || strings.Count(pattern, "/") == 2): // a folder, or a bucket
		return objectShards(strings.TrimSuffix(pattern, "/")+"/", split)
	case remote.IsHubFolder(pattern): // listed by the Hub's API
		return listedShards(pattern, split, remote.HubList)
	case isRemote(pattern):
		var err error
		if paths, err = ExpandPattern(pattern); err != nil {
			return nil, usageErr(pattern, err, "")
		}
		if remote.IsURL(pattern) && strings.HasSuffix(pattern, "/") {
			return nil, usageErr(pattern, errors.New("a URL of a folder, whose files HTTP cannot list"),
				"give the index.json that mkshards writes beside the shards, timm's _info.json where the shards have one (as the Hugging Face Hub's timm/*-wds data sets do: "+strings.TrimSuffix(pattern, "/")+"/_info.json), or a pattern of the shards' URLs such as https://host/train-{000000..000146}.tar (an s3:// or gs:// folder is listed)")
		}
		if err := mixedPattern(pattern, paths); err != nil {
			return nil, err
		}
		return paths, nil // not looked for here: a missing one fails its scan
	case strings.ContainsAny(pattern, "{}"):
		var err error
		if paths, err = ExpandPattern(pattern); err != nil {
			return nil, usageErr(pattern, err, "")
		}
	case strings.ContainsAny(pattern, "*?["):
		var err error
		if paths, err = filepath.Glob(pattern); err != nil {
			return nil, usageErr(pattern, err, "")
		}
		if !hidden(filepath.Base(pattern)) {
			// As the shell's glob: "*" does not match a leading dot (macOS's "._NAME.tar" files).
			paths = slices.DeleteFunc(paths, func(p string) bool { return hidden(filepath.Base(p)) })
		}
		sort.Strings(paths)
	default:
		st, err := os.Stat(pattern)
		if err != nil {
			return nil, usageErr(pattern, err, "give a folder of .tar shards or a pattern such as train-{000000..000146}.tar")
		}
		if !st.IsDir() {
			if isILSVRCArchive(pattern) {
				what, do := convertible(filepath.Dir(pattern), []os.DirEntry{fs.FileInfoToDirEntry(st)})
				return nil, usageErr(pattern, errors.New("one of "+what), do)
			}
			return []string{pattern}, nil
		}
		dir, err := resolveSplit(pattern, split)
		var testOnly error // -test-split test of a folder without split folders: its test-named shards
		if err != nil {
			if split != splitTestOnly || !errors.Is(err, ErrNoSplit) || hasSplitFolders(folderIn(pattern)) {
				return nil, err
			}
			dir, testOnly = pattern, err
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, usageErr(dir, err, "")
		}
		if slices.ContainsFunc(entries, func(e os.DirEntry) bool { return isILSVRCArchive(e.Name()) }) {
			what, do := convertible(dir, entries)
			return nil, usageErr(dir, errors.New("holds "+what), do)
		}
		for _, e := range entries {
			if !hidden(e.Name()) && isShardName(e.Name()) && !entryIsDir(dir, e) {
				paths = append(paths, filepath.Join(dir, e.Name()))
			}
		}
		sort.Strings(paths)
		if dir == pattern {
			if paths, err = shardsOfSplit(dir, paths, split, testOnly); err != nil {
				return nil, err
			}
		}
		if len(paths) == 0 {
			hint := "give a folder of .tar shards or a pattern such as train-{000000..000146}.tar (go run ./datasets/mkshards writes them)"
			msg := "no .tar shards"
			if what, do := convertible(dir, entries); what != "" {
				msg, hint = msg+": it holds "+what, do
			} else if slices.ContainsFunc(entries, func(e os.DirEntry) bool { return !hidden(e.Name()) && (isImageFile(e.Name()) || entryIsDir(dir, e)) }) {
				hint = "it holds images or folders, not shards: read it as an image folder (-dataset folder), or write shards from it with go run ./datasets/mkshards"
			}
			return nil, usageErr(dir, errors.New(msg), hint)
		}
		return paths, nil
	}
	if len(paths) == 0 {
		return nil, usageErr(pattern, errors.New("matches no file"), "")
	}
	if err := mixedPattern(pattern, paths); err != nil {
		return nil, err
	}
	var missing []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return nil, usageErr(pattern, fmt.Errorf("%d of its %d shards are missing, first %s", len(missing), len(paths), missing[0]), "check the pattern's range against the files")
	}
	return paths, nil
}

// OpenShards opens the shards that pattern names for split, and scans them once. pattern is a
// brace pattern ("shards/train-{000000..000146}.tar"), a glob (whose "*" skips hidden names, as the
// shell's), one .tar file, or a folder of .tar files, whose train/, val/ or test/ subfolders are its
// splits (as an image folder's). A pattern may name URLs (https://host/train-{000000..000146}.tar),
// objects in buckets (s3://bucket/train-{000000..000146}.tar, gs://...; a bucket's folder,
// s3://bucket/shards/, is listed) or commands that write each shard ("pipe:curl -s
// https://host/train-{000000..000146}.tar"), which the scan downloads once.
//
// pattern may also be an index, a .json file or URL (ShardIndex, as mkshards writes), which gives
// the shards' locations and sample counts: nothing is scanned. An index in a folder train/ has
// for its held-out split the index of the same name in val/ or test/ beside it.
//
// A missing shard is an ErrUsage error; a truncated or malformed one, or a sample without its
// image, an ErrDamaged error naming the shard and member. If the shards' folder holds a file
// classes.txt (one class name per line, as mkshards writes) it names the classes; else a
// classnames.txt beside the shards or above their split folder (classNameFiles).
func OpenShards(pattern, split string) (*Shards, error) {
	return openShards(pattern, split, shardOptions{})
}

// openShards is OpenShards, but with percent > 0 it divides the training split's shards
// (holdOutShards): the train split (and "") is the shards not held out, any other split the
// held-out ones; a val/ or test/ folder, or index, is not read. label names the member that
// holds each sample's class. Where it names the classes and no class list lies beside the
// shards, a held-out split's names (or a part of the training split's) are numbered by the
// sorted names of the whole training split, which is scanned for them.
func openShards(pattern, split string, o shardOptions) (*Shards, error) {
	percent, label := o.percent, o.label
	read := split
	if percent > 0 {
		read = SplitTrain
	}
	held := split != SplitTrain && split != ""
	if info := folderInfo(pattern); info != "" {
		pattern = info
	}
	if isIndex(pattern) {
		return openIndex(pattern, split, read, held, o)
	}
	paths, err := shardPaths(pattern, read)
	if err != nil {
		return nil, err
	}
	if percent > 0 {
		if paths, err = keepHeldOut(pattern, paths, func(p string) string { return p }, percent, held); err != nil {
			return nil, err
		}
	}
	if isRemote(paths[0]) {
		if idx, loc, what := sidecarCounts(paths); idx != nil {
			s, err := indexedShards(loc, what, idx, split, o)
			if !errors.Is(err, errUnnamedClasses) {
				if err == nil {
					log.Info("the shards' samples are counted by the files beside them: nothing is scanned", "counts", what, "shards", len(idx.Shards), "samples", s.Len())
				}
				return s, err
			}
			log.Info("the shards are scanned for their classes: "+what+" counts their samples, but nothing beside them names their classes", "first", paths[0])
		}
		// Counting streamed shards downloads them: said, with the way around it.
		log.Warn("scanning remote shards to count their samples downloads each of them once; an index does not (go run ./datasets/mkshards -index PATTERN -out index.json)", "shards", len(paths))
	}
	report, finish := remoteScanBar("scanning shards", paths)
	s, err := scanShards(paths, split, label, report, false)
	finish()
	if err != nil {
		return nil, err
	}
	if list, err := o.classList(); err != nil {
		return nil, err
	} else if list != nil {
		if err := s.useClassList(list, "the class list "+o.classes); err != nil {
			return nil, err
		}
	}
	if s.names != nil && s.namedBy == "" && (held || percent > 0) {
		train, err := shardPaths(pattern, SplitTrain)
		if err != nil {
			return nil, err
		}
		if isRemote(train[0]) {
			log.Info("scanning the training shards for their class names, which number the held-out ones (a classes.txt beside the shards, or an index, spares this)", "shards", len(train))
		}
		report, finish := remoteScanBar("scanning the training shards", train)
		t, err := scanShards(train, SplitTrain, label, report, false)
		finish()
		if err != nil {
			return nil, err
		}
		if t.names == nil {
			return nil, usageErr(train[0], fmt.Errorf("the training shards' labels (%s) are not class names, while %s's are (%q)", label, paths[0], firstName(s.names)),
				"give every split its classes the same way")
		}
		if err := s.numberNames(t.classes, "the training shards"); err != nil {
			return nil, err
		}
	}
	if s.classes != nil && !isRemote(paths[0]) {
		if err := checkShardClasses(filepath.Dir(paths[0]), split); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// folderInfo is, for loc the URL of a folder (ending in "/"; not a bucket's, which is listed),
// the URL of timm's information file in it, the first of _info.json and info.json (the names
// timm looks for) that the server has; "" for any other loc, or where it has neither.
func folderInfo(loc string) string {
	if !remote.IsURL(loc) || remote.IsObject(loc) || !strings.HasSuffix(loc, "/") || strings.ContainsAny(loc, "{}") {
		return ""
	}
	for _, name := range []string{"_info.json", "info.json"} {
		if rc, _, _, err := openLocation(context.Background(), loc+name); err == nil {
			rc.Close()
			return loc + name
		}
	}
	return ""
}

// remoteScanBar shows the progress of a scan of the remote shards at paths (which downloads
// them) on a bar named what: report is scanShards' progress, finish ends the bar. For local
// shards, whose scan seeks past the images, there is no bar: report is nil.
func remoteScanBar(what string, paths []string) (report func(done int), finish func()) {
	if !isRemote(paths[0]) {
		return nil, func() {}
	}
	bar := progress.New(what, int64(len(paths)), 0, progress.Options{Unit: "shards"})
	return func(done int) { bar.Set(int64(done), "") }, bar.Finish
}

// ScanShards is OpenShards(pattern, "") for shards named by pattern (not an index), their labels
// read from the member label names, reading every byte of each for its size and MD5 digest
// (Shards.Index has them), calling
// progress, when set, after each shard scanned (one call at a time): mkshards -index writes their
// index from it.
func ScanShards(pattern string, label ShardLabel, progress func(done, total int)) (*Shards, error) {
	paths, err := shardPaths(pattern, "")
	if err != nil {
		return nil, err
	}
	var report func(int)
	if progress != nil {
		report = func(done int) { progress(done, len(paths)) }
	}
	return scanShards(paths, "", label, report, true)
}

// scanShards reads the tar headers and labels of the shards at paths (in parallel), calling
// progress, when set, with the number of shards scanned so far (one call at a time). With digests,
// it reads every byte of each shard, for its size and MD5 digest (the index's filesize and
// md5sum); without, a file's members are skipped by seeking.
func scanShards(paths []string, split string, label ShardLabel, progress func(done int), digests bool) (*Shards, error) {
	s := &Shards{paths: paths, counts: make([]int, len(paths)), starts: make([]int, len(paths)), split: split, readAhead: DefaultReadAhead, label: label}
	type scan struct {
		count    int
		maxLabel int32
		noLabel  string         // first sample without a label
		labels   map[int32]int  // samples of each class index
		names    map[string]int // samples of each class name
		exts     []string       // the members of the first sample
		sum      *shardSum
		err      error
	}
	scans := make([]scan, len(paths))
	var scanned int
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if progress != nil {
				defer func() {
					mu.Lock()
					defer mu.Unlock()
					scanned++
					progress(scanned)
				}()
			}
			sc := &scans[i]
			sc.maxLabel, sc.labels, sc.names = -1, map[int32]int{}, map[string]int{}
			var r *shardReader
			var err error
			if digests {
				r, sc.sum, err = openShardSummed(p)
			} else {
				r, err = openShard(p)
			}
			if err != nil {
				sc.err = err
				return
			}
			defer r.close()
			r.label = label
			for {
				smp, err := r.next(false)
				if err == io.EOF {
					if sc.sum != nil {
						sc.err = sc.sum.finish(p)
					}
					return
				}
				if err != nil {
					sc.err = err
					return
				}
				if sc.count == 0 {
					sc.exts = smp.exts
				}
				switch {
				case smp.name != "":
					sc.names[smp.name]++
				case smp.label >= 0:
					sc.labels[smp.label]++
				case sc.noLabel == "":
					sc.noLabel = smp.key
				}
				sc.maxLabel = max(sc.maxLabel, smp.label)
				sc.count++
			}
		}()
	}
	wg.Wait()
	labeled, unlabeled, indexed, named := -1, -1, -1, -1
	total, maxLabel := 0, int32(-1)
	names := map[string]int{}
	for i, sc := range scans {
		if sc.err != nil {
			return nil, sc.err
		}
		if sc.count == 0 {
			return nil, damagedErr(paths[i], "", -1, errors.New("shard holds no samples"))
		}
		s.counts[i], s.starts[i] = sc.count, total
		total += sc.count
		if sc.sum != nil {
			s.sizes = append(s.sizes, sc.sum.n)
			s.md5s = append(s.md5s, sc.sum.hex())
		}
		if len(sc.labels) > 0 && indexed < 0 {
			indexed = i
		}
		if len(sc.names) > 0 && named < 0 {
			named = i
		}
		if sc.noLabel != "" && unlabeled < 0 {
			unlabeled = i
		}
		maxLabel = max(maxLabel, sc.maxLabel)
		for n, c := range sc.names {
			names[n] += c
		}
	}
	if indexed >= 0 && named >= 0 {
		return nil, usageErr(paths[named], fmt.Errorf("the labels (%s) mix class indices (%s) and class names (%s has %q)",
			label, paths[indexed], paths[named], firstName(scans[named].names)), "give every sample its class the same way, as an index or as a name")
	}
	if labeled = max(indexed, named); labeled < 0 {
		if label.None {
			return s, nil
		}
		if label != (ShardLabel{}) {
			return nil, usageErr(paths[0], fmt.Errorf("no sample has %s: the first sample's members are %s", label, strings.Join(scans[0].exts, ", ")),
				"give the member that holds the classes to -label-column: an extension (cls, label) or EXT:FIELD for a field of a JSON member (json:label); or leave it out for unlabelled shards")
		}
		if others := slices.DeleteFunc(slices.Clone(scans[0].exts), func(e string) bool { return slices.Contains(imageExtensions, e) }); len(others) > 0 {
			log.Info("the shards have no .cls labels; if another member holds the classes, give it with -label-column (json:FIELD for a field of a JSON member)",
				"members", strings.Join(others, ", "), "first", paths[0])
		}
		return s, nil
	}
	if unlabeled >= 0 {
		return nil, damagedErr(paths[unlabeled], scans[unlabeled].noLabel, -1,
			fmt.Errorf("sample without %s, while %s has labels", label, paths[labeled]))
	}
	if named >= 0 {
		if len(names) > maxLoneClasses && 2*len(names) > total {
			return nil, usageErr(paths[named], fmt.Errorf("%d distinct class names among %d samples (%s, such as %q): most samples would be a class of their own, as with captions or ids", len(names), total, label, firstName(names)),
				"give -label-column the member or field that holds the classes")
		}
		s.names = names
		list, err := shardClassNames(paths[0])
		if err != nil {
			return s, s.numberNames(slices.Sorted(maps.Keys(names)), "")
		}
		return s, s.numberNames(list, "the class list beside the shards")
	}
	s.classes = make([]string, maxLabel+1)
	for i := range s.classes {
		s.classes[i] = strconv.Itoa(i)
	}
	s.labelCounts = make([]int, maxLabel+1)
	for _, sc := range scans {
		for l, n := range sc.labels {
			s.labelCounts[l] += n
		}
	}
	if names, err := shardClassNames(paths[0]); err == nil && len(names) >= len(s.classes) {
		s.classes = names
		s.labelCounts = append(s.labelCounts, make([]int, len(names)-len(s.labelCounts))...)
	}
	return s, nil
}

// maxLoneClasses is the most class names that shards may give where most of their samples would
// be a class of their own (as a caption or an id would make them): above it, such labels are
// refused.
const maxLoneClasses = 100

// firstName is the first of the names in sorted order, for messages.
func firstName(names map[string]int) string { return slices.Min(slices.Collect(maps.Keys(names))) }

// positions maps each class name to its first position in classes.
func positions(classes []string) map[string]int32 {
	pos := make(map[string]int32, len(classes))
	for i, c := range classes {
		if _, dup := pos[c]; !dup {
			pos[c] = int32(i)
		}
	}
	return pos
}

// numberNames numbers the class names that s's samples give (s.names, as counted by a scan) by
// their positions in classes, the list that from names ("": classes is their own sorted list;
// s.namedBy records it), and counts each class's samples. A name that the list lacks is an
// error that names it.
func (s *Shards) numberNames(classes []string, from string) error {
	pos := positions(classes)
	counts := make([]int, len(classes))
	for _, n := range slices.Sorted(maps.Keys(s.names)) {
		i, ok := pos[n]
		if !ok {
			return usageErr(s.paths[0], fmt.Errorf("class %q (%s) is not among the %d classes of %s (%s)", n, s.label, len(classes), from, summarize(classes)),
				"give every class a place in that list, or label the samples with the classes it names")
		}
		counts[i] += s.names[n]
	}
	s.classes, s.classIndex, s.labelCounts, s.namedBy = classes, pos, counts, from
	return nil
}

// checkShardClasses returns a usage error when dir, the folder of a held-out split's shards
// (.../val or .../test), has a classes.txt other than that of the train/ folder beside it: the
// labels are positions in each list, so they would name other classes than the training labels.
// Shards written by an older mkshards, which numbered each split's class folders on its own, are
// refused here rather than scored against the wrong classes.
func checkShardClasses(dir, split string) error {
	if split == SplitTrain || (filepath.Base(dir) != "val" && filepath.Base(dir) != "test") {
		return nil
	}
	trainFile := filepath.Join(filepath.Dir(dir), "train", "classes.txt")
	train, err1 := readClassNames(trainFile)
	held, err2 := readClassNames(filepath.Join(dir, "classes.txt"))
	if err1 != nil || err2 != nil || slices.Equal(train, held) {
		return nil
	}
	return usageErr(dir, fmt.Errorf("classes %s (classes.txt) differ from those of %s (%s): the labels would not match",
		summarize(held), trainFile, summarize(train)), "write the shards again with mkshards from a folder whose splits have the same class folders")
}

// classNameFiles are the files, relative to a shard, that name the classes of its labels, one a
// line, looked for in this order: mkshards' classes.txt beside the shards, and CLIP_benchmark's
// classnames.txt (its WebDataset copies of torchvision's data sets on the Hugging Face Hub)
// beside them or above their split folder.
var classNameFiles = []string{"classes.txt", "classnames.txt", "../classnames.txt"}

// shardClassNames reads the class names of the shards beside loc (a shard, or their index): the
// first of classNameFiles that exists.
func shardClassNames(loc string) ([]string, error) {
	err := error(os.ErrNotExist)
	for _, name := range classNameFiles {
		var names []string
		if names, err = readClassNames(beside(loc, name)); err == nil {
			return names, nil
		}
	}
	return nil, err
}

func readClassNames(loc string) ([]string, error) {
	if loc == "" {
		return nil, os.ErrNotExist
	}
	data, err := readLocation(loc, 64<<20)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		names = append(names, strings.TrimRight(line, "\r"))
	}
	return names, nil
}

// Info describes the shards: 3 channels, sizes 0 (they may differ), ImageNet's normalisation.
func (s *Shards) Info() Info {
	return Info{Name: "shards", Split: s.split, Len: s.Len(), Channels: 3, NumClasses: len(s.classes),
		ClassNames: s.classes, Mean: ImageNetMean, Std: ImageNetStd}
}

// Len is the number of samples of all shards.
func (s *Shards) Len() int {
	n := len(s.counts)
	return s.starts[n-1] + s.counts[n-1]
}

// Paths are the shards' locations (files, URLs or pipe: commands), in the order that defines the
// sample indices.
func (s *Shards) Paths() []string { return s.paths }

// epochOrder is the order in which an epoch reads the samples (global indices): the shards in a
// random order, their samples in file order, through a shuffle buffer of the given size (a
// sample enters the buffer; once it is full, each new sample replaces one drawn at random, which
// is emitted; the rest is emitted in random order at the end). It depends only on (seed, epoch,
// buffer) and the shards' sample counts. shardOrder is the reading order of the shards.
func (s *Shards) epochOrder(seed uint64, epoch, buffer int) (shardOrder []int, order []int32) {
	rng := rand.New(rand.NewPCG(SplitMix64(seed^0x5aa7d5), SplitMix64(uint64(epoch)+0x0e90c4)))
	shardOrder = rng.Perm(len(s.paths))
	buffer = max(buffer, 1)
	order = make([]int32, 0, s.Len())
	buf := make([]int32, 0, min(buffer, s.Len()))
	for _, sh := range shardOrder {
		for g := s.starts[sh]; g < s.starts[sh]+s.counts[sh]; g++ {
			if len(buf) < buffer {
				buf = append(buf, int32(g))
				continue
			}
			j := rng.IntN(buffer)
			order = append(order, buf[j])
			buf[j] = int32(g)
		}
	}
	rng.Shuffle(len(buf), func(i, j int) { buf[i], buf[j] = buf[j], buf[i] })
	return shardOrder, append(order, buf...)
}

// shardSample is one sample read from a shard.
type shardSample struct {
	shard       string   // the shard's path
	key, member string   // the sample's key and its image member
	data        []byte   // the image's bytes (nil when not asked for)
	label       int32    // the class index; -1 for none, or where name gives the class
	name        string   // the class name, where the label member names it (ShardLabel)
	exts        []string // the extensions of the members of the shard's first sample (for messages)
}

// shardReader walks the samples of one shard in order.
type shardReader struct {
	path   string
	rc     io.ReadCloser
	seeker io.Seeker // the file, for a local shard; nil for a stream (pos counts the bytes read)
	pos    int64
	size   int64 // of the file; -1 when unknown
	end    int64 // offset of the end of the last member's data (padded to 512 bytes)
	tr     *tar.Reader
	peek   *tar.Header // first member of the next sample, already read
	n      int         // samples returned so far
	label  ShardLabel  // the member that holds each sample's class
}

// shardsOfSplit returns, of the shards paths listed in a folder without split folders, those of
// split when the shards are named for two or more splits, as timm's WebDataset copies of ImageNet
// on the Hugging Face Hub are (imagenet1k-train-0000.tar beside imagenet1k-validation-00.tar;
// shardSplit): the training split's, and the held-out split's as for split folders (val, else
// test). Otherwise (shards named for no split, or all for the same one, as in the train/ folder
// mkshards writes) every split is all of them, unless noTest is set (the error of -test-split
// test, which needs test shards), which is then returned. A folder that mixes shards named for
// splits with shards named for none, or lacks the split asked for, or named shards for no split in
// particular (split "": mkshards -index), is a usage error (ErrNoSplit for a missing split), not a
// split silently read as another.
func shardsOfSplit(folder string, paths []string, split string, noTest error) ([]string, error) {
	bySplit, none, have := namedSplits(paths)
	if len(bySplit) < 2 { // mkshards' train/ folder (train-000000.tar, ...) is one split's shards, all of them
		if noTest != nil {
			return nil, noTest
		}
		return paths, nil
	}
	if len(none) > 0 {
		return nil, usageErr(folder, fmt.Errorf("holds shards named for their splits (%s) and %d named for none (%s): which split would they be?",
			have, len(none), path.Base(filepath.ToSlash(none[0]))),
			"move each split's shards into a train/ and a val/ folder, or rename the others")
	}
	if split == "" {
		base := path.Base(filepath.ToSlash(paths[0])) // named for a split, as every one here
		glob := strings.TrimSuffix(paths[0], base) + shardNumber.ReplaceAllString(base, "*$1")
		return nil, usageErr(folder, fmt.Errorf("names its shards for their splits (%s): all of them would mix the splits", have),
			"give one split's shards by a pattern, such as "+glob)
	}
	for _, s := range splitDirs(split) {
		if len(bySplit[s]) > 0 {
			return bySplit[s], nil
		}
	}
	want := strings.Join(splitDirs(split), " or ")
	if split == SplitTest {
		want = "val, validation or test"
	}
	return nil, usageErr(folder, fmt.Errorf("names its shards for their splits (%s), and none for the %s split (want %s in a name, as in NAME-%s-0000.tar): %w",
		have, split, want, splitDirs(split)[0], ErrNoSplit), "")
}

// namedSplits sorts the shards paths by the split their names name (shardSplit; none for those
// that name none), and says which splits they name, how many shards each and the first's name,
// as "2 train (in1k-train-0000.tar), 1 val (in1k-validation-00.tar)".
func namedSplits(paths []string) (bySplit map[string][]string, none []string, have string) {
	bySplit = map[string][]string{}
	for _, p := range paths {
		if s := shardSplit(path.Base(filepath.ToSlash(p))); s != "" {
			bySplit[s] = append(bySplit[s], p)
		} else {
			none = append(none, p)
		}
	}
	var parts []string
	for _, s := range []string{"train", "val", "test"} {
		if len(bySplit[s]) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (%s)", len(bySplit[s]), s, path.Base(filepath.ToSlash(bySplit[s][0]))))
		}
	}
	return bySplit, none, strings.Join(parts, ", ")
}

// mixedPattern is the usage error of a pattern that names shards named for two or more splits
// (namedSplits), which a run would train on together, held-out shards included; nil otherwise.
func mixedPattern(pattern string, paths []string) error {
	if bySplit, _, have := namedSplits(paths); len(bySplit) >= 2 {
		return usageErr(pattern, fmt.Errorf("names the shards of different splits (%s): training on them would train on the held-out ones", have),
			"give one split's shards by their pattern, or the folder that holds them (shards named for their splits are each read for theirs)")
	}
	return nil
}

// holdOutShards chooses which of the shards named names (their file names) are held out as the
// test split (-val-percent for shards): round(percent% of them), at most all but one, those whose
// names hash lowest (nameKey, then the names). Shards are held out whole, not images: a shard's
// samples are read in a stream, and a held-out split that took some of each shard's would read
// every shard to evaluate. The choice depends on the names alone, as Folder.holdOut's on the
// paths: every run and command holds out the same shards, and a larger percentage a superset.
func holdOutShards(where string, names []string, percent float64) ([]bool, error) {
	n := len(names)
	if !(percent > 0 && percent < 100) {
		return nil, usageErr(where, fmt.Errorf("hold out %g%% of the shards: want a percentage in (0, 100)", percent), "")
	}
	k := min(int(math.Round(percent/100*float64(n))), n-1)
	if k <= 0 {
		return nil, usageErr(where, fmt.Errorf("-val-percent %g holds out whole shards, and %g%% of the %d shards is none of them", percent, percent, n),
			"raise the percentage, write more and smaller shards (mkshards -per-shard), or give the shards a val/ folder")
	}
	order := make([]int, n)
	keys := make([]uint64, n)
	for i := range order {
		order[i], keys[i] = i, nameKey(names[i])
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Or(cmp.Compare(keys[a], keys[b]), strings.Compare(names[a], names[b])) })
	out := make([]bool, n)
	for _, i := range order[:k] {
		out[i] = true
	}
	return out, nil
}

// keepHeldOut keeps, of the shards items (each located by loc), the held-out ones
// (holdOutShards, by their file names) when held is set, the others when not, in their order.
func keepHeldOut[T any](where string, items []T, loc func(T) string, percent float64, held bool) ([]T, error) {
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = path.Base(filepath.ToSlash(loc(it)))
	}
	out, err := holdOutShards(where, names, percent)
	if err != nil {
		return nil, err
	}
	kept := items[:0:0]
	for i, it := range items {
		if out[i] == held {
			kept = append(kept, it)
		}
	}
	return kept, nil
}

// shardNumber is the number at the end of a shard's name, before its extension.
var shardNumber = regexp.MustCompile(`[0-9]+(\.tar|\.tar\.gz|\.tgz)$`)

// shardSplit is the split a shard's file name names, "train", "val" or "test", or "" for none: a
// part of the name between dashes, underscores or dots that is train or training; val, valid or
// validation; test or testing (in any case). A name with parts for two splits names none.
func shardSplit(name string) string {
	split := ""
	for _, part := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		s := ""
		switch part {
		case "train", "training":
			s = "train"
		case "val", "valid", "validation":
			s = "val"
		case "test", "testing":
			s = "test"
		default:
			continue
		}
		if split != "" && split != s {
			return ""
		}
		split = s
	}
	return split
}

// isShardName reports whether a file name is a shard's: .tar, or gzip-compressed .tar.gz or .tgz.
func isShardName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".tar") || strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".tgz")
}

// shardSum is the size and MD5 digest of the bytes written through it (a shard's); with h nil,
// the size only.
type shardSum struct {
	h   hash.Hash
	n   int64
	src io.Reader // what the shard is read from (openShardSummed), to read to its end
}

func newShardSum() *shardSum { return &shardSum{h: md5.New()} }

func (s *shardSum) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if s.h == nil {
		return len(p), nil // counting only
	}
	return s.h.Write(p)
}

func (s *shardSum) hex() string { return hex.EncodeToString(s.h.Sum(nil)) }

// finish reads the rest of the shard p (what follows the end of its tar archive) into the sum.
func (s *shardSum) finish(p string) error {
	if _, err := io.Copy(io.Discard, s.src); err != nil {
		return damagedErr(p, "", -1, err)
	}
	return nil
}

// openShardSummed opens the shard at p as a stream whose bytes are all summed: its digest is
// complete once its samples are read and the sum finished.
func openShardSummed(p string) (*shardReader, *shardSum, error) {
	rc, size, _, err := openLocation(context.Background(), p)
	if err != nil {
		return nil, nil, damagedErr(p, "", -1, err)
	}
	sum := newShardSum()
	sum.src = io.TeeReader(rc, sum)
	r, err := newShardReader(p, readCloser{sum.src, rc}, size, nil, nil)
	return r, sum, err
}

// readCloser reads from Reader and closes Closer.
type readCloser struct {
	io.Reader
	io.Closer
}

// openShard opens the shard at p (a file, a URL, a pipe: command).
func openShard(p string) (*shardReader, error) {
	rc, size, seeker, err := openLocation(context.Background(), p)
	return newShardReader(p, rc, size, seeker, err)
}

// newShardReader reads the shard p from rc, as openLocation opened it (p itself, or a copy of it
// read ahead), or fails with err. A shard compressed with gzip (.tar.gz, .tgz: recognised from
// its first bytes, as Python's tarfile does for WebDataset) is decompressed as it is read.
func newShardReader(p string, rc io.ReadCloser, size int64, seeker io.Seeker, err error) (*shardReader, error) {
	var de *DataError
	if errors.As(err, &de) {
		return nil, err // it names the shard
	}
	if err != nil {
		return nil, damagedErr(p, "", -1, err)
	}
	r := &shardReader{path: p, rc: rc, seeker: seeker, size: size}
	var stream io.Reader = rc
	if seeker != nil {
		var magic [2]byte
		n, _ := io.ReadFull(rc, magic[:])
		if _, err := seeker.Seek(0, io.SeekStart); err != nil {
			rc.Close()
			return nil, damagedErr(p, "", -1, err)
		}
		if n < 2 || magic != [2]byte{0x1f, 0x8b} {
			r.tr = tar.NewReader(rc) // a file: tar skips members by seeking
			return r, nil
		}
		r.seeker = nil
	}
	br := bufio.NewReaderSize(stream, 1<<16)
	stream = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, damagedErr(p, "", -1, fmt.Errorf("reading the gzip header: %w", err))
		}
		stream, r.size = zr, -1 // the size is the compressed one
	}
	r.tr = tar.NewReader(countingReader{stream, &r.pos}) // counts what tar consumed
	return r, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// offset is where the tar reader stands in the shard.
func (r *shardReader) offset() (int64, error) {
	if r.seeker != nil {
		return r.seeker.Seek(0, io.SeekCurrent)
	}
	return r.pos, nil
}

// nextMember is tar.Reader.Next, which skips the data of the member before (by seeking in a file,
// by reading a stream): a shard cut inside a skipped member, or without the end-of-archive blocks,
// is reported as truncated rather than as a clean end.
func (r *shardReader) nextMember() (*tar.Header, error) {
	hdr, err := r.tr.Next()
	pos, serr := r.offset()
	if serr != nil {
		return nil, serr
	}
	if err == io.EOF {
		if r.size >= 0 && pos > r.size || pos <= r.end && r.end > 0 {
			size := "size unknown"
			if r.size >= 0 {
				size = fmt.Sprintf("%d bytes", r.size)
			}
			return nil, fmt.Errorf("the file ends inside a member or without the tar end-of-archive blocks (truncated: %s)", size)
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	r.end = pos + (hdr.Size+511)/512*512
	return hdr, nil
}

func (r *shardReader) close() { r.rc.Close() }

// splitKey splits a member name into WebDataset's key and extension (lower case): "a/b.c.jpg" is
// ("a/b", "c.jpg"). ok is false for names without an extension.
func splitKey(name string) (key, ext string, ok bool) {
	dir, base := path.Split(name)
	stem, ext, ok := strings.Cut(base, ".")
	if !ok || stem == "" {
		return "", "", false
	}
	return dir + stem, strings.ToLower(ext), true
}

const maxMember = 1 << 30

// next returns the next sample, with its image bytes when withData; io.EOF after the last one.
func (r *shardReader) next(withData bool) (shardSample, error) {
	s := shardSample{shard: r.path, label: -1}
	started := false
	for {
		hdr := r.peek
		r.peek = nil
		if hdr == nil {
			var err error
			hdr, err = r.nextMember()
			if err == io.EOF {
				if !started {
					return s, io.EOF
				}
				break
			}
			if err != nil {
				where := s.key
				if where == "" && r.n > 0 {
					where = fmt.Sprintf("after sample %d", r.n)
				}
				return s, damagedErr(r.path, where, -1, fmt.Errorf("reading the tar file: %w (truncated or not a tar file?)", err))
			}
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		key, ext, ok := splitKey(hdr.Name)
		if !ok {
			continue
		}
		if started && key != s.key {
			r.peek = hdr
			break
		}
		started, s.key = true, key
		switch {
		case slices.Contains(imageExtensions, "."+ext):
			if s.member != "" {
				continue // a second image of the sample: the first one is used
			}
			s.member = hdr.Name
			if withData {
				if hdr.Size > maxMember {
					return s, damagedErr(r.path, hdr.Name, -1, fmt.Errorf("member of %d bytes", hdr.Size))
				}
				data := make([]byte, hdr.Size)
				if _, err := io.ReadFull(r.tr, data); err != nil {
					return s, damagedErr(r.path, hdr.Name, -1, fmt.Errorf("reading the member: %w (truncated shard?)", err))
				}
				s.data = data
			}
		case ext == r.label.ext() && !r.label.None:
			if hdr.Size > r.label.maxMember() {
				want := "a class index or name"
				if r.label == (ShardLabel{}) {
					want = "a class index as text"
				}
				return s, damagedErr(r.path, hdr.Name, -1, fmt.Errorf("a .%s member of %d bytes, want %s", ext, hdr.Size, want))
			}
			b, err := io.ReadAll(bufio.NewReader(r.tr))
			if err != nil {
				return s, damagedErr(r.path, hdr.Name, -1, fmt.Errorf("reading the member: %w (truncated shard?)", err))
			}
			if s.label, s.name, _, err = r.label.value(b); err != nil {
				return s, damagedErr(r.path, hdr.Name, -1, err)
			}
		}
		if r.n == 0 {
			s.exts = append(s.exts, "."+ext)
		}
	}
	if s.member == "" {
		return s, damagedErr(r.path, s.key, -1, errors.New("sample without an image member ("+imageExtList+")"))
	}
	r.n++
	return s, nil
}

// shardStream yields the samples of one epoch in their emission order, reading the shards
// sequentially and keeping only the samples read ahead of their turn (at most the shuffle
// buffer's size). Samples outside [skip, limit) of the emission order are not read (only their
// tar headers are), which makes resuming at a position cheap.
type shardStream struct {
	s           *Shards
	shardOrder  []int
	order, pos  []int32 // the emission order and its inverse; nil: the identity
	skip, limit int
	next        int
	pending     map[int32]shardSample
	cur         *shardReader
	curShard    int // index into shardOrder of cur
	curSample   int // samples of cur read so far
	maxPending  int // the largest number of samples held at once (for the memory test)
	// need tells, for each shard of shardOrder, whether it holds a sample in [skip, limit): the
	// others are not opened (over HTTP: not downloaded) when resuming.
	need []bool
	// ahead downloads remote shards ahead of the one read (nil for files, or when
	// Shards.readAhead is 0); aheadIndex is each needed shard's index in its list.
	ahead      *readAhead
	aheadIndex []int
	// cancel, when set, ends a wait for a shard read ahead (the Loader's done channel).
	cancel <-chan struct{}
}

// newShardStream starts an epoch. With order nil the samples come in file order (shards in their
// given order): evaluation.
func newShardStream(s *Shards, shardOrder []int, order []int32, skip, limit int) *shardStream {
	st := &shardStream{s: s, shardOrder: shardOrder, order: order, skip: skip, limit: limit, next: skip, pending: map[int32]shardSample{}}
	if order != nil {
		st.pos = make([]int32, s.Len())
		for p, g := range order {
			st.pos[g] = int32(p)
		}
	} else {
		st.shardOrder = make([]int, len(s.paths))
		for i := range st.shardOrder {
			st.shardOrder[i] = i
		}
	}
	st.need = make([]bool, len(st.shardOrder))
	st.aheadIndex = make([]int, len(st.shardOrder))
	var locs, md5s []string
	var sizes []int64
	for k, sh := range st.shardOrder {
		for g := s.starts[sh]; g < s.starts[sh]+s.counts[sh] && !st.need[k]; g++ {
			p := g
			if st.pos != nil {
				p = int(st.pos[g])
			}
			st.need[k] = p >= skip && p < limit
		}
		st.aheadIndex[k] = len(locs)
		if st.need[k] {
			locs = append(locs, s.paths[sh])
			sizes, md5s = append(sizes, 0), append(md5s, "")
			if s.sizes != nil {
				sizes[len(sizes)-1] = s.sizes[sh]
			}
			if s.md5s != nil {
				md5s[len(md5s)-1] = s.md5s[sh]
			}
		}
	}
	if (s.readAhead > 0 || s.cache != "") && len(locs) > 0 && isRemote(locs[0]) {
		// Its folder is made on first use; a cache reads at least one shard ahead.
		st.ahead = &readAhead{locs: locs, sizes: sizes, md5s: md5s, ahead: max(s.readAhead, 1), cache: s.cache}
	}
	return st
}

// closeShard closes the shard being read (and removes its copy read ahead).
func (st *shardStream) closeShard() {
	if st.cur != nil {
		st.cur.close()
		st.cur = nil
		if st.ahead != nil {
			st.ahead.done(st.aheadIndex[st.curShard])
		}
	}
}

// close ends the stream: the shard being read, and the downloads ahead of it.
func (st *shardStream) close() {
	st.closeShard()
	if st.ahead != nil {
		st.ahead.close()
	}
}

// open opens shard k of shardOrder: its copy read ahead, or the shard itself.
func (st *shardStream) open(k int) (r *shardReader, err error) {
	p := st.s.paths[st.shardOrder[k]]
	if st.ahead == nil {
		r, err = openShard(p)
	} else {
		rc, size, seeker, gerr := st.ahead.get(st.aheadIndex[k], st.cancel)
		r, err = newShardReader(p, rc, size, seeker, gerr)
	}
	if r != nil {
		r.label = st.s.label
	}
	return r, err
}

// read returns the next sample in emission order (its global index in index); io.EOF at limit.
func (st *shardStream) read() (smp shardSample, index int, err error) {
	if st.next >= st.limit {
		return smp, 0, io.EOF
	}
	for {
		if s, ok := st.pending[int32(st.next)]; ok {
			delete(st.pending, int32(st.next))
			st.next++
			return s, st.globalOf(st.next - 1), nil
		}
		if st.cur == nil {
			for st.curShard < len(st.shardOrder) && !st.need[st.curShard] {
				st.curShard++
			}
			if st.curShard >= len(st.shardOrder) {
				return smp, 0, damagedErr(st.s.paths[st.shardOrder[len(st.shardOrder)-1]], "", -1,
					errors.New("the shards hold fewer samples than when they were opened (changed on disk?)"))
			}
			if st.cur, err = st.open(st.curShard); err != nil {
				return smp, 0, err
			}
			st.curSample = 0
		}
		sh := st.shardOrder[st.curShard]
		g := st.s.starts[sh] + st.curSample
		p := g
		if st.pos != nil && st.curSample < st.s.counts[sh] {
			p = int(st.pos[g])
		}
		want := p >= st.next && p < st.limit
		s, err := st.cur.next(want)
		if err == io.EOF {
			if st.curSample != st.s.counts[sh] {
				return smp, 0, damagedErr(st.cur.path, "", -1, fmt.Errorf("holds %d samples, %s", st.curSample, st.s.counted(sh, false)))
			}
			st.closeShard()
			st.curShard++
			continue
		}
		if err != nil {
			return smp, 0, err
		}
		if st.curSample >= st.s.counts[sh] {
			return smp, 0, damagedErr(st.cur.path, s.key, -1, fmt.Errorf("holds more than %s", st.s.counted(sh, true)))
		}
		st.curSample++
		if want {
			if err := st.s.checkLabel(&s); err != nil {
				return smp, 0, err
			}
			st.pending[int32(p)] = s
			st.maxPending = max(st.maxPending, len(st.pending))
		}
	}
}

// globalOf is the global index of the sample at emission position p.
func (st *shardStream) globalOf(p int) int {
	if st.order == nil {
		return p
	}
	return int(st.order[p])
}

// checkLabel checks the label read with smp against the classes s was opened with (from a scan, or
// from an index, which nothing checked against the shards); unlabeled shards' labels are -1.
func (s *Shards) checkLabel(smp *shardSample) error {
	if smp.name != "" && s.classes != nil {
		i, ok := s.classIndex[smp.name]
		if !ok {
			return damagedErr(smp.shard, smp.key, -1, fmt.Errorf("class %q, which is not among the %d classes (%s)", smp.name, len(s.classes), s.classesFrom()))
		}
		smp.label = i
	}
	switch {
	case s.classes == nil:
		smp.label = -1
	case smp.label < 0:
		return damagedErr(smp.shard, smp.key, -1, fmt.Errorf("sample without %s, in labeled shards (if another member holds the classes, give it with -label-column)", s.label))
	case int(smp.label) >= len(s.classes):
		return damagedErr(smp.shard, smp.key, -1, fmt.Errorf("class %d, but there are %d classes (%s)", smp.label, len(s.classes), s.classesFrom()))
	}
	return nil
}

// useClassList numbers the classes of s, as scanned, by names, the class list that from names
// (-class-names): class names by their places in it, class indices as its names, which must name
// every index the labels hold. Unlabelled shards are a usage error.
func (s *Shards) useClassList(names []string, from string) error {
	switch {
	case s.names != nil:
		return s.numberNames(names, from)
	case s.classes == nil:
		return usageErr(s.paths[0], fmt.Errorf("the shards have no labels (%s), which %s would name", s.label, from),
			"leave -class-names out, or give the member that holds the classes to -label-column")
	case len(names) < len(s.classes):
		return usageErr(s.paths[0], fmt.Errorf("class index %d among the labels, and %s names %d classes", len(s.classes)-1, from, len(names)),
			"give a name for every class index")
	}
	s.classes, s.namedBy = names, from
	s.labelCounts = append(s.labelCounts, make([]int, len(names)-len(s.labelCounts))...)
	return nil
}

// counted says how many samples shard sh held when s was opened, and what counted them, for the
// message of a shard that holds fewer ("5 when it was opened (changed on disk?)", "but LOC counts
// 5 (written before the shard changed?)") or, with more, more ("the 5 samples it had when it
// was opened (changed on disk?)", "the 5 samples that LOC counts (written before ...)").
func (s *Shards) counted(sh int, more bool) string {
	n := s.counts[sh]
	if s.index == "" {
		if more {
			return fmt.Sprintf("the %d samples it had when it was opened (changed on disk?)", n)
		}
		return fmt.Sprintf("%d when it was opened (changed on disk?)", n)
	}
	by := s.index
	if strings.HasSuffix(by, statsSuffix) {
		by = statsOf(s.paths[sh]) // img2dataset's: one for each shard
	}
	if more {
		return fmt.Sprintf("the %d samples that %s counts (written before the shard changed?)", n, by)
	}
	return fmt.Sprintf("but %s counts %d (written before the shard changed?)", by, n)
}

// classesFrom says where s's classes come from, for messages.
func (s *Shards) classesFrom() string {
	if s.namedBy != "" {
		return "from " + s.namedBy
	}
	if s.index != "" {
		return "from the index " + s.index
	}
	return "from the scan of the shards"
}
