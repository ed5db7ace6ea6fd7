package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// sizesFile is open_clip's list of the samples in each shard of a folder (a shard's file name,
// and its number of samples), which open_clip's get_dataset_size reads beside the first shard.
const sizesFile = "sizes.json"

// statsSuffix ends the file in which img2dataset counts what it wrote into the shard NNNNN.tar:
// NNNNN_stats.json, whose "successes" are the samples in the shard.
const statsSuffix = "_stats.json"

// sidecarFetches is the number of img2dataset's files requested at once.
const sidecarFetches = 16

// sidecarCounts returns an index of the remote shards at paths with the sample counts that files
// written beside them by the tools that made them give, so that opening them downloads none
// (their scan would download each), with the location of the (first) file and what it is, for
// messages. Where there are no such files, or not for every shard, or they cannot be read, it
// returns nil, and the shards are scanned; a file that exists but cannot be understood is said
// in a warning. The files, in the order they are looked for: open_clip's sizes.json beside the
// first shard, naming every shard; img2dataset's NNNNN_stats.json beside each NNNNN.tar. Shards
// of no samples (img2dataset writes them where every download failed) are left out.
func sidecarCounts(paths []string) (idx *ShardIndex, loc, what string) {
	if len(paths) == 0 || isPipe(paths[0]) {
		return nil, "", ""
	}
	if sizes := beside(paths[0], sizesFile); sizes != "" {
		data, err := readLocation(sizes, 1<<30)
		if err == nil {
			idx, err = countsBySize(paths, data)
		}
		switch {
		case err == nil:
			return idx, sizes, "open_clip's " + sizesFile
		case !notFound(err):
			log.Warn("the shards are scanned to count their samples: "+sizesFile+" beside them does not count them", "file", sizes, "err", err)
			return nil, "", ""
		}
	}
	stats := make([]string, len(paths))
	for i, p := range paths {
		if stats[i] = statsOf(p); stats[i] == "" {
			return nil, "", ""
		}
	}
	// The first says whether there are any: one request where there are none.
	counts := make([]int, len(paths))
	errs := make([]error, len(paths))
	if counts[0], errs[0] = readStats(stats[0]); notFound(errs[0]) {
		return nil, "", ""
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(sidecarFetches, len(paths)-1) {
		wg.Go(func() {
			for i := range next {
				counts[i], errs[i] = readStats(stats[i])
			}
		})
	}
	for i := 1; i < len(paths); i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			log.Warn("the shards are scanned to count their samples: img2dataset's counts beside them are incomplete", "file", stats[i], "err", err)
			return nil, "", ""
		}
	}
	idx = &ShardIndex{}
	for i, p := range paths {
		if counts[i] > 0 {
			idx.Shards = append(idx.Shards, IndexedShard{URL: p, Samples: counts[i]})
		}
	}
	if len(idx.Shards) == 0 {
		log.Warn("the shards are scanned to count their samples: img2dataset's counts beside them count none", "file", stats[0])
		return nil, "", ""
	}
	return idx, stats[0], "img2dataset's statistics (" + statsSuffix + ")"
}

// statsOf is the location of img2dataset's statistics of the shard at p (NNNNN_stats.json beside
// NNNNN.tar), or "" for a shard of another name.
func statsOf(p string) string {
	name := locationBase(p)
	if !strings.HasSuffix(name, ".tar") {
		return ""
	}
	return beside(p, strings.TrimSuffix(name, ".tar")+statsSuffix)
}

// countsBySize is the index of the shards at paths with the counts of open_clip's sizes.json
// (data): an error where it is not an object of counts, or lacks a shard.
func countsBySize(paths []string, data []byte) (*ShardIndex, error) {
	var sizes map[string]json.RawMessage
	if err := json.Unmarshal(data, &sizes); err != nil {
		return nil, fmt.Errorf("not an object of sample counts by shard name: %w", err)
	}
	idx := &ShardIndex{}
	for _, p := range paths {
		raw, ok := sizes[locationBase(p)]
		if !ok {
			return nil, fmt.Errorf("it does not count %s", locationBase(p))
		}
		// A number, or one as text: open_clip takes int() of either.
		n, err := strconv.Atoi(strings.Trim(string(raw), `"`))
		switch {
		case err != nil || n < 0:
			return nil, fmt.Errorf("%s: %s samples, want a whole number >= 0", locationBase(p), raw)
		case n > 0:
			idx.Shards = append(idx.Shards, IndexedShard{URL: p, Samples: n})
		}
	}
	if len(idx.Shards) == 0 {
		return nil, errors.New("it counts no samples in the shards")
	}
	return idx, nil
}

// readStats reads the number of samples that img2dataset's NNNNN_stats.json at loc counts in its
// shard ("successes").
func readStats(loc string) (int, error) {
	data, err := readLocation(loc, 1<<20)
	if err != nil {
		return 0, err
	}
	var stats struct {
		Successes *int `json:"successes"`
	}
	if err := json.Unmarshal(data, &stats); err != nil {
		return 0, fmt.Errorf("not img2dataset's statistics: %w", err)
	}
	if stats.Successes == nil || *stats.Successes < 0 {
		return 0, errors.New(`no count of successes ("successes") >= 0`)
	}
	return *stats.Successes, nil
}

// locationBase is the file name of the location loc: a file, a URL (without its query) or an
// object in a bucket.
func locationBase(loc string) string {
	if remote.IsURL(loc) && !remote.IsObject(loc) {
		if u, err := url.Parse(loc); err == nil {
			return path.Base(u.Path)
		}
	}
	return path.Base(filepath.ToSlash(loc))
}
