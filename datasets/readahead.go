package datasets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// DefaultReadAhead is the number of remote shards downloaded at once by default, ahead of and
// with the one being read (Options.ShardReadAhead).
const DefaultReadAhead = 4

// readAhead downloads remote shards, in the order an epoch reads them, up to ahead of them at
// once: one connection seldom carries what training reads (an object store gives some 100 MB/s
// to each), several do. Without a cache the files are in a temporary folder, each removed once
// read (the folder holds at most ahead shards); with one (Options.ShardCache) they are written
// atomically into the cache folder and kept, and a shard found there is not downloaded again.
type readAhead struct {
	dir    string   // the temporary folder, or the cache
	cache  bool     // dir is a cache: files are kept
	locs   []string // the shards to read, in order
	sizes  []int64  // their sizes from an index (0: unknown), to tell a stale cached copy
	ahead  int
	mu     sync.Mutex
	jobs   []*fetch // started, by index in locs
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

type fetch struct {
	file string
	done chan struct{}
	err  error
}

// CacheName is the file name of the shard at loc in a shard cache: a digest of the location (its
// URL without the query, which a signed URL changes from run to run; or its command), so that two
// locations never share a file, and the shard's file name (of a command, that of its last word
// naming a .tar file).
func CacheName(loc string) string {
	key := loc
	if isURL(loc) {
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

// get returns the file of shard i once it is downloaded, having started the downloads of the
// shards up to i+ahead-1; it gives up when cancel closes (a Loader closed while it waits).
func (ra *readAhead) get(i int, cancel <-chan struct{}) (string, error) {
	ra.mu.Lock()
	if ra.closed {
		ra.mu.Unlock()
		return "", errReadAheadStopped
	}
	if ra.ctx == nil {
		if err := ra.makeDir(); err != nil {
			ra.mu.Unlock()
			return "", err
		}
		ra.ctx, ra.cancel = context.WithCancel(context.Background())
	}
	for len(ra.jobs) < min(i+ra.ahead, len(ra.locs)) {
		k := len(ra.jobs)
		f := &fetch{file: filepath.Join(ra.dir, fmt.Sprintf("%06d.tar", k)), done: make(chan struct{})}
		ra.jobs = append(ra.jobs, f)
		if ra.cache {
			f.file = filepath.Join(ra.dir, CacheName(ra.locs[k]))
			if st, err := os.Stat(f.file); err == nil && (ra.sizes[k] <= 0 || st.Size() == ra.sizes[k]) {
				close(f.done) // cached
				continue
			}
		}
		ra.wg.Add(1)
		go ra.download(ra.locs[k], f)
	}
	f := ra.jobs[i]
	ra.mu.Unlock()
	select {
	case <-f.done:
		return f.file, f.err
	case <-cancel:
		return "", errReadAheadStopped
	}
}

func (ra *readAhead) makeDir() error {
	if ra.cache {
		if err := os.MkdirAll(ra.dir, 0o755); err != nil {
			return fmt.Errorf("the shard cache: %w (give -shard-cache a folder that can be created)", err)
		}
		return nil
	}
	dir, err := os.MkdirTemp("", "vicreg-shards-")
	if err != nil {
		return fmt.Errorf("a temporary folder for the shards read ahead: %w (set TMPDIR to a folder with room for %d shards)", err, ra.ahead)
	}
	ra.dir = dir
	return nil
}

// done removes the file of shard i, read, unless it is cached.
func (ra *readAhead) done(i int) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if i < len(ra.jobs) && !ra.cache {
		os.Remove(ra.jobs[i].file)
	}
}

func (ra *readAhead) download(loc string, f *fetch) {
	defer ra.wg.Done()
	defer close(f.done)
	rc, _, _, err := openLocation(ra.ctx, loc)
	if err != nil {
		f.err = err
		return
	}
	defer rc.Close()
	if ra.cache {
		// Atomically: a crash or a cancel never leaves part of a shard in the cache.
		f.err = atomicfile.Write(f.file, 0o644, func(w io.Writer) error { return ra.copy(w, rc, f.file) })
		return
	}
	out, err := os.Create(f.file) // a temporary copy, removed once read: not written atomically
	if err != nil {
		f.err = fmt.Errorf("reading ahead into %s: %w", f.file, err)
		return
	}
	f.err = ra.copy(out, rc, f.file)
	if cerr := out.Close(); f.err == nil && cerr != nil {
		f.err = fmt.Errorf("reading ahead into %s: %w", f.file, cerr)
	}
	if f.err != nil {
		os.Remove(f.file)
	}
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
			if ra.cache {
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

// close stops the downloads under way, waits for them to end, and removes the temporary folder.
func (ra *readAhead) close() {
	ra.mu.Lock()
	started := !ra.closed && ra.ctx != nil
	ra.closed = true
	ra.mu.Unlock()
	if started {
		ra.cancel()
		ra.wg.Wait()
		if !ra.cache {
			os.RemoveAll(ra.dir)
		}
	}
}
