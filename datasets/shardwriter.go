package datasets

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// ShardOptions configure WriteShards.
type ShardOptions struct {
	// PerShard is the number of samples per shard (the last one may hold fewer); 0 means 1000.
	PerShard int
	// Prefix names the shards: Prefix-000000.tar, ...; empty means "shard".
	Prefix string
	// Seed shuffles the samples across the shards (so that each shard mixes the classes, as
	// WebDataset advises); NoShuffle keeps the folder's order.
	Seed      uint64
	NoShuffle bool
	// SkipBadImages leaves out files whose header does not parse as an image, and those
	// in Bad (each is reported through Skipped), instead of stopping with an error naming it.
	SkipBadImages bool
	// Bad holds images found not to decode beforehand (Folder.Verify), by index: each is a bad
	// image as one whose header does not parse.
	Bad map[int]error
	// Skipped, when set, is called for each file left out.
	Skipped func(path string, err error)
	// Progress, when set, is called after each sample written, with the count so far.
	Progress func(done int)
	// Stop, when set, is checked before each image: once it is true, WriteShards stops with
	// ErrShardsStopped, the shard being written is not kept, and the paths of those finished
	// before are returned (a command sets it on SIGINT, then removes them).
	Stop *atomic.Bool
}

// ErrShardsStopped is WriteShards' error when ShardOptions.Stop became true.
var ErrShardsStopped = errors.New("writing the shards was stopped")

// ShardKey is the WebDataset key of an image file: its path relative to root without the
// extension, with the dots of its last element replaced by "_" (a key ends at the first dot).
func ShardKey(root, file string) string {
	rel, err := filepath.Rel(root, file)
	if err != nil {
		rel = filepath.Base(file)
	}
	rel = filepath.ToSlash(strings.TrimSuffix(rel, filepath.Ext(rel)))
	dir, base := filepath.Split(rel)
	return dir + strings.ReplaceAll(base, ".", "_")
}

// WriteShards writes the images of f into tar shards in outDir, in the WebDataset layout: for
// each image KEY.ext (the file's bytes, unchanged) and, for a labeled folder, KEY.cls (its class
// index as text); plus classes.txt (the class names, one per line) for a labeled folder, and
// index.json (ShardIndex: the shards' sample counts, which opening it need not scan, sizes and
// MD5 digests). Every file is written atomically (internal/atomicfile), with fixed times and
// owners, so the same folder and options give the same bytes. It returns the shard paths. Each
// image's header is checked; the pixels are not decoded (Folder.Verify decodes them, for
// opt.Bad). A class name with a line break is a usage error, before anything is written.
func WriteShards(f *Folder, outDir string, opt ShardOptions) ([]string, error) {
	for _, class := range f.Info().ClassNames {
		if strings.ContainsAny(class, "\r\n") {
			return nil, usageErr(filepath.Join(f.Dir(), class), errors.New("class folder whose name holds a line break, which classes.txt (one class name per line) cannot hold"),
				"rename the folder")
		}
	}
	n := f.Info().Len
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if !opt.NoShuffle {
		rng := rand.New(rand.NewPCG(SplitMix64(opt.Seed^0x5a4d), 0x5a4d))
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	samples := func(yield func(ShardSample) bool) {
		for _, i := range order {
			file := f.Path(i)
			s := ShardSample{Path: file, Index: i, Key: ShardKey(f.Dir(), file), Ext: strings.ToLower(filepath.Ext(file)),
				Label: f.Label(i), Bad: opt.Bad[i]}
			var err error
			if s.Data, err = os.ReadFile(file); err != nil {
				s.Err = damagedErr(file, "", i, err)
			}
			if !yield(s) {
				return
			}
		}
	}
	return WriteSampleShards(samples, f.Info().ClassNames, outDir, opt)
}

// ShardSample is one sample for WriteSampleShards: an encoded image and its label.
type ShardSample struct {
	// Path and Member name it in messages: a file, or a file and the place in it ("row 12").
	Path, Member string
	// Index is its index in its data set (for messages).
	Index int
	// Key is its WebDataset key: unique among the samples, without a dot.
	Key string
	// Ext is the extension of its image member, lower case with the dot (".jpg").
	Ext string
	// Data are the image's bytes, written unchanged.
	Data []byte
	// Label is its class index, or -1 for none (no .cls member).
	Label int32
	// Bad is an error found beforehand that makes it a bad image (skipped with SkipBadImages).
	Bad error
	// Err is an error reading it, which stops the writing.
	Err error
}

// BadImage is the error of x, whose image cannot be read or decoded for the reason err (its Bad).
func (x ShardSample) BadImage(err error) error {
	return &DataError{Kind: ErrBadImage, Path: x.Path, Member: x.Member, Index: x.Index, Err: err,
		Hint: "rerun with -skip-bad-images to leave it out"}
}

// Decoded decodes the image of each sample of samples, marking as Bad those that do not decode
// (mkshards -verify).
func Decoded(samples iter.Seq[ShardSample]) iter.Seq[ShardSample] {
	return func(yield func(ShardSample) bool) {
		for x := range samples {
			if x.Err == nil && x.Bad == nil {
				if _, err := DecodeImage(x.Data); err != nil {
					x.Bad = x.BadImage(err)
				}
			}
			if !yield(x) {
				return
			}
		}
	}
}

// Shuffled passes samples through a shuffle buffer of buffer samples, drawing from rng, as
// WebDataset's shuffle does (memory for buffer samples, not the set): once the buffer is full,
// each sample takes the place of one drawn at random, which is yielded; at the end, those left, in
// a random order. A sample with Err is yielded at once and ends the sequence. With buffer <= 1 the
// samples pass in their order.
func Shuffled(samples iter.Seq[ShardSample], rng *rand.Rand, buffer int) iter.Seq[ShardSample] {
	return func(yield func(ShardSample) bool) {
		var held []ShardSample
		for x := range samples {
			switch {
			case x.Err != nil:
				yield(x)
				return
			case buffer <= 1:
				if !yield(x) {
					return
				}
			case len(held) < buffer:
				held = append(held, x)
			default:
				j := rng.IntN(len(held))
				out := held[j]
				held[j] = x
				if !yield(out) {
					return
				}
			}
		}
		rng.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
		for _, x := range held {
			if !yield(x) {
				return
			}
		}
	}
}

// WriteSampleShards writes samples, in their order, into tar shards in outDir as WriteShards does
// (opt.PerShard to a shard, the last one fewer; opt.Seed and opt.NoShuffle are the caller's to
// apply), with classes.txt listing classes (nil for unlabeled samples) and index.json. A sample
// whose header does not parse as an image, or with Bad set, is a bad image: skipped with
// opt.SkipBadImages (reported through opt.Skipped), otherwise the error. It returns the paths of
// the shards written, those finished before an error or a stop included.
func WriteSampleShards(samples iter.Seq[ShardSample], classes []string, outDir string, opt ShardOptions) ([]string, error) {
	if opt.PerShard <= 0 {
		opt.PerShard = 1000
	}
	if opt.Prefix == "" {
		opt.Prefix = "shard"
	}
	for _, class := range classes {
		if strings.ContainsAny(class, "\r\n") {
			return nil, usageErr(outDir, fmt.Errorf("class name %q holds a line break, which classes.txt (one class name per line) cannot hold", class), "rename the class")
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, usageErr(outDir, err, "give a folder that can be created")
	}
	next, stop := iter.Pull(samples)
	defer stop()
	// pull returns the next sample to write (ok false after the last), skipping bad images when
	// opt.SkipBadImages is set.
	pull := func() (s ShardSample, ok bool, err error) {
		for {
			if opt.Stop != nil && opt.Stop.Load() {
				return s, false, ErrShardsStopped
			}
			if s, ok = next(); !ok {
				return s, false, nil
			}
			if s.Err != nil {
				return s, false, s.Err
			}
			err := s.Bad
			if _, _, herr := ImageSize(s.Data); herr != nil && err == nil {
				err = badImageErr(s.Path, s.Member, s.Index, herr)
			}
			if err == nil {
				return s, true, nil
			}
			if !opt.SkipBadImages {
				return s, false, err
			}
			if opt.Skipped != nil {
				name := s.Path
				if s.Member != "" {
					name += ":" + s.Member
				}
				opt.Skipped(name, err)
			}
		}
	}
	keys := map[string]bool{}
	var labelCounts []int // the samples written of each class
	if classes != nil {
		labelCounts = make([]int, len(classes))
	}
	var paths []string
	var counts []int // samples written in each shard
	var sizes []int64
	var md5s []string
	done := 0
	s, ok, err := pull()
	for ok && err == nil {
		path := filepath.Join(outDir, fmt.Sprintf("%s-%06d.tar", opt.Prefix, len(paths)))
		count := 0
		sum := newShardSum()
		err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
			tw := tar.NewWriter(io.MultiWriter(w, sum))
			for {
				key := s.Key
				for k := 1; keys[key]; k++ {
					key = fmt.Sprintf("%s_%d", s.Key, k)
				}
				keys[key] = true
				if err := writeMember(tw, key+s.Ext, s.Data); err != nil {
					return err
				}
				if s.Label >= 0 {
					if err := writeMember(tw, key+".cls", []byte(strconv.Itoa(int(s.Label)))); err != nil {
						return err
					}
					if int(s.Label) < len(labelCounts) {
						labelCounts[s.Label]++
					}
				}
				done++
				count++
				if opt.Progress != nil {
					opt.Progress(done)
				}
				if count == opt.PerShard {
					break
				}
				var err error
				if s, ok, err = pull(); err != nil {
					return err
				} else if !ok {
					break
				}
			}
			return tw.Close()
		})
		if err != nil {
			break
		}
		paths = append(paths, path)
		counts = append(counts, count)
		sizes = append(sizes, sum.n)
		md5s = append(md5s, sum.hex())
		if ok { // the shard is full: the next one starts with the next sample, if any
			s, ok, err = pull()
		}
	}
	if err != nil {
		var de *DataError
		if errors.As(err, &de) {
			return paths, de
		}
		if errors.Is(err, ErrShardsStopped) {
			return paths, ErrShardsStopped
		}
		return paths, err
	}
	if classes != nil {
		if err := atomicfile.WriteFile(filepath.Join(outDir, "classes.txt"), []byte(strings.Join(classes, "\n")+"\n"), 0o644); err != nil {
			return paths, err
		}
	}
	sh := &Shards{paths: paths, counts: counts, classes: classes, sizes: sizes, md5s: md5s, labelCounts: labelCounts}
	return paths, sh.WriteIndex(filepath.Join(outDir, "index.json"))
}

func writeMember(tw *tar.Writer, name string, data []byte) error {
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg,
		ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// ShardPattern is the brace pattern that names paths written by WriteShards (for messages).
func ShardPattern(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	if len(paths) == 1 {
		return paths[0]
	}
	first, last := paths[0], paths[len(paths)-1]
	dir, base := filepath.Split(first)
	i := strings.LastIndex(base, "-")
	j := strings.LastIndex(filepath.Base(last), "-")
	if i < 0 || j < 0 {
		return first + " ... " + last
	}
	return dir + base[:i+1] + "{" + strings.TrimSuffix(base[i+1:], ".tar") + ".." +
		strings.TrimSuffix(filepath.Base(last)[j+1:], ".tar") + "}.tar"
}
