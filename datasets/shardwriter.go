package datasets

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
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
// MD5 digests). Every
// file is written atomically (internal/atomicfile), with fixed times and owners, so the same
// folder and options give the same bytes. It returns the shard paths. Each image's header is
// checked; the pixels are not decoded (Folder.Verify decodes them, for opt.Bad). A class name
// with a line break is a usage error, before anything is written.
func WriteShards(f *Folder, outDir string, opt ShardOptions) ([]string, error) {
	if opt.PerShard <= 0 {
		opt.PerShard = 1000
	}
	if opt.Prefix == "" {
		opt.Prefix = "shard"
	}
	for _, class := range f.Info().ClassNames {
		if strings.ContainsAny(class, "\r\n") {
			return nil, usageErr(filepath.Join(f.Dir(), class), errors.New("class folder whose name holds a line break, which classes.txt (one class name per line) cannot hold"),
				"rename the folder")
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, usageErr(outDir, err, "give a folder that can be created")
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
	keys := map[string]bool{}
	var paths []string
	var counts []int // samples written in each shard
	var sizes []int64
	var md5s []string
	done := 0
	for first := 0; first < n; first += opt.PerShard {
		path := filepath.Join(outDir, fmt.Sprintf("%s-%06d.tar", opt.Prefix, len(paths)))
		count := 0
		sum := newShardSum()
		err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
			tw := tar.NewWriter(io.MultiWriter(w, sum))
			for _, i := range order[first:min(first+opt.PerShard, n)] {
				if opt.Stop != nil && opt.Stop.Load() {
					return ErrShardsStopped
				}
				file := f.Path(i)
				data, err := os.ReadFile(file)
				if err != nil {
					return damagedErr(file, "", i, err)
				}
				err = opt.Bad[i]
				if _, _, herr := ImageSize(data); herr != nil {
					err = badImageErr(file, "", i, herr)
				}
				if err != nil {
					if !opt.SkipBadImages {
						return err
					}
					if opt.Skipped != nil {
						opt.Skipped(file, err)
					}
					continue
				}
				key := ShardKey(f.Dir(), file)
				for k := 1; keys[key]; k++ {
					key = fmt.Sprintf("%s_%d", ShardKey(f.Dir(), file), k)
				}
				keys[key] = true
				ext := strings.ToLower(filepath.Ext(file))
				if err := writeMember(tw, key+ext, data); err != nil {
					return err
				}
				if l := f.Label(i); l >= 0 {
					if err := writeMember(tw, key+".cls", []byte(strconv.Itoa(int(l)))); err != nil {
						return err
					}
				}
				done++
				count++
				if opt.Progress != nil {
					opt.Progress(done)
				}
			}
			return tw.Close()
		})
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
		paths = append(paths, path)
		counts = append(counts, count)
		sizes = append(sizes, sum.n)
		md5s = append(md5s, sum.hex())
	}
	if classes := f.Info().ClassNames; classes != nil {
		if err := atomicfile.WriteFile(filepath.Join(outDir, "classes.txt"), []byte(strings.Join(classes, "\n")+"\n"), 0o644); err != nil {
			return paths, err
		}
	}
	s := &Shards{paths: paths, counts: counts, classes: f.Info().ClassNames, sizes: sizes, md5s: md5s}
	return paths, s.WriteIndex(filepath.Join(outDir, "index.json"))
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
