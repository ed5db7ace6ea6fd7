package datasets

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/log"
	"github.com/dustin/go-humanize"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// DefaultReadAhead is the number of remote shards downloaded at once by default, ahead of and
// with the one being read (Options.ShardReadAhead).
const DefaultReadAhead = 4

// readAhead downloads remote shards, in the order an epoch reads them, up to ahead of them at
// once: one connection seldom carries what training reads (an object store gives some 100 MB/s
// to each), several do. Without a cache the files are in a temporary folder, each removed once
// read (the folder holds at most ahead shards); with one (Options.ShardCache) they are written
// atomically into the cache folder and kept, under its size limit (shardcache.go), and a shard
// found there is not downloaded again.
type readAhead struct {
	cache  string   // the shard cache folder ("": none)
	limit  int64    // its size limit (0: none), read on first use
	tmp    string   // the temporary folder of the shards not kept, made on first use
	locs   []string // the shards to read, in order
	sizes  []int64  // their sizes from an index (0: unknown), to tell a stale cached copy
	md5s   []string // their MD5 digests from an index ("": unknown), checked as downloaded
	ahead  int
	mu     sync.Mutex
	jobs   []*fetch // started, by index in locs
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// fetch is the download of one shard.
type fetch struct {
	loc  string
	file string   // its copy; "" when it is read from loc as a stream (the disk was full)
	keep bool     // file is in the cache: it stays once read
	hit  *os.File // the cached copy, opened when found (another process may evict it)
	done chan struct{}
	err  error
}

// CacheName is the file name of the shard at loc in a shard cache: a digest of the location (its
// URL without the query, which a signed URL changes from run to run; or its command), so that two
// locations never share a file, and the shard's file name (of a command, that of its last word
// naming a .tar file).
func CacheName(loc string) string {
	key := loc
	if remote.IsURL(loc) {
		key, _, _ = strings.Cut(loc, "?")
	}
	sum := sha256.Sum256([]byte(key))
	words := strings.Fields(loc)
	base := words[len(words)-1]
	for _, w := range words {
		if strings.Contains(strings.ToLower(w), ".tar") {
			base = w
		}
	}
	if u, _, ok := strings.Cut(base, "?"); ok {
		base = u // a signed URL's query
	}
	base = base[strings.LastIndexByte(base, '/')+1:]
	base = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, base)
	if len(base) > 80 {
		base = base[len(base)-80:]
	}
	return hex.EncodeToString(sum[:8]) + "-" + strings.TrimPrefix(base, ".")
}

// get opens shard i once it is downloaded, having started the downloads of the shards up to
// i+ahead-1 (as openLocation: the reader, its size, a seeker for a file); it gives up when cancel
// closes (a Loader closed while it waits).
func (ra *readAhead) get(i int, cancel <-chan struct{}) (io.ReadCloser, int64, io.Seeker, error) {
	ra.mu.Lock()
	if ra.closed {
		ra.mu.Unlock()
		return nil, 0, nil, errReadAheadStopped
	}
	if ra.ctx == nil {
		if ra.cache != "" {
			err := makeCacheDir(ra.cache)
			if err == nil {
				ra.limit, err = ShardCacheLimit(ra.cache)
			}
			if err != nil {
				ra.mu.Unlock()
				return nil, 0, nil, err
			}
		}
		ra.ctx, ra.cancel = context.WithCancel(context.Background())
	}
	for len(ra.jobs) < min(i+ra.ahead, len(ra.locs)) {
		k := len(ra.jobs)
		f := &fetch{loc: ra.locs[k], done: make(chan struct{})}
		ra.jobs = append(ra.jobs, f)
		if ra.cache != "" {
			f.file, f.keep = filepath.Join(ra.cache, CacheName(f.loc)), true
			if f.hit = openCached(f.file, ra.sizes[k]); f.hit != nil {
				close(f.done)
				continue
			}
		}
		ra.wg.Add(1)
		go ra.download(k, f)
	}
	f := ra.jobs[i]
	ra.mu.Unlock()
	select {
	case <-f.done:
	case <-cancel:
		return nil, 0, nil, errReadAheadStopped
	}
	if f.err != nil {
		return nil, 0, nil, f.err
	}
	ra.mu.Lock()
	hit := f.hit
	f.hit = nil
	ra.mu.Unlock()
	if hit != nil {
		return fileLocation(hit)
	}
	if f.file == "" {
		return openLocation(context.Background(), f.loc)
	}
	file, err := os.Open(f.file)
	if err != nil {
		return nil, 0, nil, err
	}
	return fileLocation(file)
}

// openCached opens the cached copy file of a shard, unless it is missing or its size differs
// from the index's (size > 0), and marks it as read now (its modification time: the cache's
// order of eviction).
func openCached(file string, size int64) *os.File {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	if st, err := f.Stat(); err != nil || size > 0 && st.Size() != size {
		f.Close()
		return nil
	}
	now := time.Now()
	_ = os.Chtimes(file, now, now) // a read-only cache is still read
	return f
}

// tempDir is the temporary folder of the shards not kept, made on first use.
func (ra *readAhead) tempDir() (string, error) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.tmp == "" {
		dir, err := os.MkdirTemp("", "vicreg-shards-")
		if err != nil {
			return "", fmt.Errorf("a temporary folder for the shards read ahead: %w (set TMPDIR to a folder with room for %d shards)", err, ra.ahead)
		}
		ra.tmp = dir
	}
	return ra.tmp, nil
}

// done removes the file of shard i, read, unless it is cached.
func (ra *readAhead) done(i int) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if i < len(ra.jobs) && !ra.jobs[i].keep && ra.jobs[i].file != "" {
		os.Remove(ra.jobs[i].file)
	}
}

// download downloads shard k into the cache when it has room for it, else into the temporary
// folder; when the disk is full, the shard is left to be read from its location as a stream.
// Into the cache, it first takes the shard's download lock, so that processes sharing the cache
// download each shard once: when another process held it, the shard may be there now.
func (ra *readAhead) download(k int, f *fetch) {
	defer ra.wg.Done()
	defer close(f.done)
	if ra.cache != "" {
		st := cacheStateOf(ra.cache)
		name := filepath.Base(f.file)
		lock, err := st.lockShard(ra.ctx, ra.cache, name, ra.sizes[k])
		if err != nil {
			f.err = errReadAheadStopped
			return
		}
		defer st.unlockShard(lock, name)
		// Another process may have put it there while this one waited for its lock.
		if f.hit = openCached(f.file, ra.sizes[k]); f.hit != nil {
			return
		}
		ok, err := st.admit(ra.cache, ra.limit, ra.sizes[k])
		if err != nil {
			f.err = err
			return
		}
		if ok {
			// Atomically: a crash or a cancel never leaves part of a shard in the cache.
			err = ra.fetchInto(k, f.file, true)
			st.reserve(-ra.sizes[k])
			if err == nil && ra.sizes[k] <= 0 && ra.limit > 0 {
				// Its size was not known before: it stays if there is room for it now.
				f.keep, err = makeRoom(ra.cache, ra.limit, 0, f.file)
			}
			if diskFull(err) {
				st.warnOnce("the shard cache's disk is full: shards that do not fit are read without being kept (set -shard-cache-size below the disk's free space)", "cache", ra.cache, "err", err)
				f.file, f.keep = "", false
				return
			}
			f.err = err
			return
		}
		st.warnOnce("the shard cache is full: the shards that do not fit are downloaded each time they are read (raise its -shard-cache-size)",
			"cache", ra.cache, "limit", humanize.Bytes(uint64(ra.limit)))
	}
	f.keep = false
	dir, err := ra.tempDir()
	if err == nil {
		f.file = filepath.Join(dir, fmt.Sprintf("%06d.tar", k))
		err = ra.fetchInto(k, f.file, false)
	}
	if diskFull(err) {
		if !tempFullWarned.Swap(true) {
			log.Warn("the temporary folder's disk is full: shards that cannot be read ahead are read as streams instead (set TMPDIR to a folder with room for the shards read ahead)", "shard", f.loc, "err", err)
		}
		f.file = ""
		return
	}
	f.err = err
}

// fetchInto downloads shard k into file: atomically into the cache, or as a temporary copy,
// removed once read (and on failure) and so not written atomically. A shard whose size or MD5
// digest differs from its index's is refused, and not kept.
func (ra *readAhead) fetchInto(k int, file string, cached bool) error {
	rc, _, _, err := openLocation(ra.ctx, ra.locs[k])
	if err != nil {
		return err
	}
	defer rc.Close()
	fetch := func(w io.Writer) error {
		sum := &shardSum{}
		if ra.md5s[k] != "" {
			sum.h = md5.New()
		}
		if err := ra.copy(io.MultiWriter(w, sum), rc, file); err != nil {
			return err
		}
		return ra.check(k, sum)
	}
	if cached {
		return atomicfile.Write(file, 0o644, fetch)
	}
	out, err := createReadAheadFile(file)
	if err != nil {
		return fmt.Errorf("reading ahead into %s: %w", file, err)
	}
	err = fetch(out)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("reading ahead into %s: %w", file, cerr)
	}
	if err != nil {
		os.Remove(file)
	}
	return err
}

// check compares the size and digest of shard k, downloaded, with its index's.
func (ra *readAhead) check(k int, sum *shardSum) error {
	var err error
	if want := ra.sizes[k]; want > 0 && sum.n != want {
		err = fmt.Errorf("downloaded %d bytes, the index says %d", sum.n, want)
	} else if want := ra.md5s[k]; want != "" && sum.hex() != want {
		err = fmt.Errorf("its MD5 digest is %s, the index says %s", sum.hex(), want)
	}
	if err != nil {
		return &DataError{Kind: ErrDamaged, Path: ra.locs[k], Index: -1, Err: err,
			Hint: "the shard changed since its index was written, or was damaged on the way; write the index again: go run ./datasets/mkshards -index LOCATION_OF_THE_SHARDS"}
	}
	return nil
}

// copy copies the shard from rc to w (the file named file) until the end or a cancel.
func (ra *readAhead) copy(w io.Writer, rc io.Reader, file string) error {
	buf := make([]byte, 1<<20)
	for {
		if ra.ctx.Err() != nil {
			return errReadAheadStopped
		}
		n, err := rc.Read(buf)
		if _, werr := w.Write(buf[:n]); werr != nil {
			room := fmt.Sprintf("set TMPDIR to a folder with room for %d shards", ra.ahead)
			if ra.cache != "" {
				room = "give -shard-cache a folder with room for the shards"
			}
			return fmt.Errorf("writing %s: %w (%s)", file, werr, room)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

var errReadAheadStopped = errors.New("reading ahead stopped")

// tempFullWarned is whether the warning that TMPDIR's disk is full was given (once a process).
var tempFullWarned atomic.Bool

// createReadAheadFile creates a temporary copy of a shard; tests replace it to fill the disk.
var createReadAheadFile = func(name string) (io.WriteCloser, error) { return os.Create(name) }

// close stops the downloads under way, waits for them to end, closes the cached copies opened
// and not read, and removes the temporary folder.
func (ra *readAhead) close() {
	ra.mu.Lock()
	started := !ra.closed && ra.ctx != nil
	ra.closed = true
	ra.mu.Unlock()
	if started {
		ra.cancel()
		ra.wg.Wait()
		ra.mu.Lock()
		for _, f := range ra.jobs {
			if f.hit != nil {
				f.hit.Close()
				f.hit = nil
			}
		}
		ra.mu.Unlock()
		if ra.tmp != "" {
			os.RemoveAll(ra.tmp)
		}
	}
}
