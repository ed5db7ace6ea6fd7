package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// DefaultReadAhead is the number of remote shards downloaded at once by default, ahead of and
// with the one being read (Options.ShardReadAhead).
const DefaultReadAhead = 4

// readAhead downloads remote shards, in the order an epoch reads them, into files of a temporary
// folder, up to ahead of them at once: one connection seldom carries what training reads (an
// object store gives some 100 MB/s to each), several do. A shard's file is removed once it is
// read; the folder holds at most ahead shards.
type readAhead struct {
	dir    string
	locs   []string // the shards to read, in order
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

// get returns the file of shard i once it is downloaded, having started the downloads of the
// shards up to i+ahead-1; it gives up when cancel closes (a Loader closed while it waits).
func (ra *readAhead) get(i int, cancel <-chan struct{}) (string, error) {
	ra.mu.Lock()
	if ra.closed {
		ra.mu.Unlock()
		return "", errReadAheadStopped
	}
	if ra.dir == "" {
		dir, err := os.MkdirTemp("", "vicreg-shards-")
		if err != nil {
			ra.mu.Unlock()
			return "", fmt.Errorf("a temporary folder for the shards read ahead: %w (set TMPDIR to a folder with room for %d shards)", err, ra.ahead)
		}
		ra.dir = dir
		ra.ctx, ra.cancel = context.WithCancel(context.Background())
	}
	for len(ra.jobs) < min(i+ra.ahead, len(ra.locs)) {
		k := len(ra.jobs)
		f := &fetch{file: filepath.Join(ra.dir, fmt.Sprintf("%06d.tar", k)), done: make(chan struct{})}
		ra.jobs = append(ra.jobs, f)
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

// done removes the file of shard i, read.
func (ra *readAhead) done(i int) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if i < len(ra.jobs) {
		os.Remove(ra.jobs[i].file)
	}
}

func (ra *readAhead) download(loc string, f *fetch) {
	defer ra.wg.Done()
	defer close(f.done)
	f.err = ra.copy(loc, f.file)
	if f.err != nil {
		os.Remove(f.file)
	}
}

func (ra *readAhead) copy(loc, file string) error {
	rc, _, _, err := openLocation(ra.ctx, loc)
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("reading ahead into %s: %w", file, err)
	}
	defer out.Close()
	buf := make([]byte, 1<<20)
	for {
		if ra.ctx.Err() != nil {
			return errReadAheadStopped
		}
		n, err := rc.Read(buf)
		if _, werr := out.Write(buf[:n]); werr != nil {
			return fmt.Errorf("reading ahead into %s: %w (set TMPDIR to a folder with room for %d shards)", file, werr, ra.ahead)
		}
		if err == io.EOF {
			return out.Close()
		}
		if err != nil {
			return err
		}
	}
}

var errReadAheadStopped = errors.New("reading ahead stopped")

// close stops the downloads under way, waits for them to end, and removes the folder.
func (ra *readAhead) close() {
	ra.mu.Lock()
	started := !ra.closed && ra.dir != ""
	ra.closed = true
	ra.mu.Unlock()
	if started {
		ra.cancel()
		ra.wg.Wait()
		os.RemoveAll(ra.dir)
	}
}
