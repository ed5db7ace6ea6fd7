package datasets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/dustin/go-humanize"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/internal/filelock"
)

// A shard cache (Options.ShardCache) keeps remote shards once downloaded, each in a file named by
// CacheName. Its size limit is a setting of the folder, as ccache keeps its own (SetShardCacheLimit
// writes it to the folder's ShardCacheSettings file), so that every command that reads through
// the folder respects it: training, evaluation, fine-tuning, the analysis, other runs.
//
// Under a limit, a shard that does not fit makes room by removing the cached shards that no
// process has read since this one started, least recently read first (a file's modification
// time is its last read: a hit sets it). Shards read since this process started are never
// removed by it, so when one epoch's shards exceed the limit the cache keeps those that fit and
// the others are downloaded each time they are read, rather than each evicting another (which,
// with the order shuffled each epoch, would keep few hits).
//
// Processes sharing a folder (runs of a sweep on one machine, an evaluation beside its training)
// download each shard once: a download holds the lock of the shard's file in the folder's
// ShardCacheLocks folder (internal/filelock), which holds the shard's size, while it lasts. A
// process that needs the shard meanwhile waits for that download and reads its copy; one that
// makes room counts the sizes of the others' downloads under way against the limit.
//
// A disk that is full never stops a run: a shard that cannot be written (to the cache or to the
// temporary folder of the read-ahead) is read from its location as a stream instead, with one
// warning.

// ShardCacheSettings is the file in a shard cache folder that holds its settings (its size limit).
const ShardCacheSettings = "cache.json"

// cacheDirTag marks the folder as a cache for backup tools (https://bford.info/cachedir/).
const cacheDirTag = "CACHEDIR.TAG"

const cacheDirTagText = "Signature: 8a477f597d28d172789f06886806bc55\n" +
	"# This file is a cache directory tag created by the VICReg toolkit (its shard cache).\n" +
	"# For information about cache directory tags, see https://bford.info/cachedir/\n"

// cacheSettings is the content of ShardCacheSettings.
type cacheSettings struct {
	// MaxBytes is the limit on the size of the cached shards (0: none).
	MaxBytes int64 `json:"max_bytes"`
}

// ShardCacheLocks is the folder, in a shard cache folder, of the lock files of the downloads
// under way into it, one per shard, named as its cached file; each holds the shard's size in
// bytes (0: unknown), in decimal.
const ShardCacheLocks = ".locks"

// staleTemp is the age past which a temporary file in the cache (atomicfile's) whose download no
// process holds the lock of is removed when the cache makes room: its writer stopped in a crash
// (a download writes to it as it goes, and one silent for minutes is broken off).
const staleTemp = time.Hour

// processStart is when this process started using shard caches: a cached shard read (or
// written) since then is this process's and is not evicted by it.
var processStart = time.Now()

// ParseSize parses a size in bytes as a user writes it: "200GB", "1.5 TiB", "500M", "123";
// "" and "0" mean 0.
func ParseSize(s string) (int64, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n > 1<<62 {
		return 0, fmt.Errorf("size %q: not a size (write one such as 200GB, 1.5TiB or 500MiB)", s)
	}
	return int64(n), nil
}

// SetShardCacheLimit sets the size limit of the shard cache folder dir (0: none), creating the
// folder if needed: every later use of the folder, by any command, keeps the cached shards under
// it. Shards over the limit now are removed when a shard is next downloaded into the folder.
func SetShardCacheLimit(dir string, maxBytes int64) error {
	if maxBytes < 0 {
		return fmt.Errorf("the shard cache %s: a size limit of %d bytes (give a positive size, or 0 for none)", dir, maxBytes)
	}
	if err := makeCacheDir(dir); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(cacheSettings{MaxBytes: maxBytes}, "", "  ")
	return atomicfile.WriteFile(filepath.Join(dir, ShardCacheSettings), append(data, '\n'), 0o644)
}

// LimitShardCache is -shard-cache-size: it sets the size limit of the shard cache folder dir to
// size as ParseSize reads it ("0": none) when size is given, and leaves the folder's limit as it
// is when size is "". Errors in the arguments are ErrUsage.
func LimitShardCache(dir, size string) error {
	if size == "" {
		return nil
	}
	n, err := ParseSize(size)
	if err != nil {
		return usageErr("", err, "")
	}
	if dir == "" {
		return usageErr("", errors.New("a size limit for a shard cache, but no shard cache"), "give its folder with -shard-cache")
	}
	return SetShardCacheLimit(dir, n)
}

// ShardCacheLimit returns the size limit of the shard cache folder dir (0: none, also when the
// folder or its settings do not exist).
func ShardCacheLimit(dir string) (int64, error) {
	data, err := os.ReadFile(filepath.Join(dir, ShardCacheSettings))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("the shard cache's settings: %w", err)
	}
	var s cacheSettings
	if err := json.Unmarshal(data, &s); err != nil || s.MaxBytes < 0 {
		return 0, fmt.Errorf("the shard cache's settings %s: not valid (%v); set them again with -shard-cache-size, or remove the file for no limit",
			filepath.Join(dir, ShardCacheSettings), err)
	}
	return s.MaxBytes, nil
}

// makeCacheDir creates the cache folder, with its cache directory tag, if needed.
func makeCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("the shard cache: %w (give -shard-cache a folder that can be created)", err)
	}
	tag := filepath.Join(dir, cacheDirTag)
	if _, err := os.Stat(tag); errors.Is(err, fs.ErrNotExist) {
		_ = atomicfile.WriteFile(tag, []byte(cacheDirTagText), 0o644) // a courtesy to backup tools
	}
	return nil
}

// cacheState is what this process's readers of one cache folder share.
type cacheState struct {
	mu       sync.Mutex
	reserved int64           // bytes of the downloads into the folder under way in this process
	locked   map[string]bool // the cached shards whose download lock this process holds
	warned   bool            // the "cache full" warning was given
	waited   bool            // the "waiting for another process" message was given
}

var (
	cacheStatesMu sync.Mutex
	cacheStates   = map[string]*cacheState{}
)

func cacheStateOf(dir string) *cacheState {
	cacheStatesMu.Lock()
	defer cacheStatesMu.Unlock()
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if cacheStates[dir] == nil {
		cacheStates[dir] = &cacheState{locked: map[string]bool{}}
	}
	return cacheStates[dir]
}

// isCacheName reports whether name (a base name) is that of a cached shard (CacheName's form).
func isCacheName(name string) bool {
	if len(name) < 18 || name[16] != '-' {
		return false
	}
	for _, c := range name[:16] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

type cachedFile struct {
	path  string
	size  int64
	mtime time.Time
}

// makeRoom makes room for size more bytes in the cache folder dir under its limit (0: none):
// it removes the cached shards not read since this process started, least recently read first,
// until the shards (those being downloaded, by this process and others, included) fit. It
// reports whether they do; keep, when set, is a cached file never removed (the one just
// written). Only files named as cached shards, and the temporary files of downloads that ended
// in a crash, are ever removed.
func makeRoom(dir string, limit, size int64, keep string) (bool, error) {
	st := cacheStateOf(dir)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.makeRoomLocked(dir, limit, size, keep)
}

func (st *cacheState) makeRoomLocked(dir string, limit, size int64, keep string) (bool, error) {
	if limit <= 0 {
		return true, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("the shard cache: %w", err)
	}
	others := st.othersDownloads(dir)
	used := st.reserved + size
	for name, n := range others {
		if info, err := os.Stat(filepath.Join(dir, name)); err != nil || info.Size() != n {
			used += n // not yet in place (when it is, it is counted below)
		}
	}
	var old []cachedFile
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !isCacheName(name) && !atomicfile.IsTemp(name, "") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		p := filepath.Join(dir, name)
		if atomicfile.IsTemp(name, "") {
			// A download under way: counted by its writer's reservation (in this process) or
			// lock (others). Whose lock no process holds, it is a crash's once it is old.
			base := strings.TrimPrefix(name[:strings.LastIndex(name, atomicfile.TempInfix)], ".")
			if _, busy := others[base]; !busy && !st.locked[base] && time.Since(info.ModTime()) > staleTemp {
				os.Remove(p)
			}
			continue
		}
		used += info.Size()
		if p != keep && info.ModTime().Before(processStart) {
			old = append(old, cachedFile{p, info.Size(), info.ModTime()})
		}
	}
	slices.SortFunc(old, func(a, b cachedFile) int { return a.mtime.Compare(b.mtime) })
	for _, f := range old {
		if used <= limit {
			break
		}
		if err := os.Remove(f.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			used -= f.size
		}
	}
	return used <= limit, nil
}

// admit decides whether a shard of size bytes (0: unknown) is downloaded into the cache folder
// dir, making room for it (makeRoom); if so, its size is counted as under way until reserve
// takes it back.
func (st *cacheState) admit(dir string, limit, size int64) (bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	ok, err := st.makeRoomLocked(dir, limit, max(size, 0), "")
	if ok {
		st.reserved += max(size, 0)
	}
	return ok, err
}

// reserve counts size bytes as being downloaded into the folder (negative: no longer).
func (st *cacheState) reserve(size int64) {
	st.mu.Lock()
	st.reserved += size
	st.mu.Unlock()
}

// lockShard waits until this process holds the download lock of the cached shard name (a base
// name) in the cache folder dir, writes size (0: unknown) in it, and removes what a download of
// the shard that did not end left; waiting, it logs once that it waits for another process. It
// returns nil, with no error, where the lock cannot be taken (a folder this process cannot write
// to): the download goes on unlocked. ctx ending stops the wait with ctx's error.
func (st *cacheState) lockShard(ctx context.Context, dir, name string, size int64) (*filelock.Lock, error) {
	locks := filepath.Join(dir, ShardCacheLocks)
	if err := os.MkdirAll(locks, 0o755); err != nil {
		log.Debug("the shard cache: no download lock", "err", err)
		return nil, nil
	}
	l, err := filelock.Acquire(ctx, filepath.Join(locks, name), func() {
		st.mu.Lock()
		first := !st.waited
		st.waited = true
		st.mu.Unlock()
		if first {
			log.Info("another process is downloading a shard into the shard cache: waiting for its copy rather than downloading it twice", "cache", dir, "shard", name)
		}
	})
	if ctx.Err() != nil {
		// Acquire may have taken the lock as the context ended: released, or its file would stay
		// behind as a download under way that none is.
		_ = l.Unlock()
		return nil, ctx.Err()
	}
	if err != nil {
		log.Debug("the shard cache: no download lock", "err", err)
		return nil, nil
	}
	// A lock file that holds a size already is that of a download whose process ended without
	// finishing it (killed): its temporary file, if any, is removed (no other process can be
	// writing it while this lock is held), and the size replaced.
	f := l.File()
	info, err := f.Stat()
	killed := err == nil && info.Size() > 0
	if err = f.Truncate(0); err == nil {
		_, err = f.WriteAt(fmt.Appendf(nil, "%d\n", max(size, 0)), 0) // what others count against the limit
	}
	if err != nil {
		log.Debug("the shard cache: the download lock's size", "err", err)
	}
	st.mu.Lock()
	st.locked[name] = true
	st.mu.Unlock()
	if killed {
		dead, _ := filepath.Glob(filepath.Join(dir, "."+name+atomicfile.TempInfix+"*"))
		for _, p := range dead {
			os.Remove(p)
		}
		log.Debug("the shard cache: took over the download of a process that ended", "shard", name, "files", len(dead))
	}
	return l, nil
}

// unlockShard releases the download lock l (nil: none) of the cached shard name.
func (st *cacheState) unlockShard(l *filelock.Lock, name string) {
	if l == nil {
		return
	}
	st.mu.Lock()
	delete(st.locked, name)
	st.mu.Unlock()
	if err := l.Unlock(); err != nil {
		log.Debug("the shard cache", "err", err)
	}
}

// othersDownloads returns the downloads under way into the cache folder dir by other processes:
// the shards whose lock another process holds, with the sizes they wrote in them. A lock file
// that no process holds (its holder was killed) is removed.
func (st *cacheState) othersDownloads(dir string) map[string]int64 {
	entries, err := os.ReadDir(filepath.Join(dir, ShardCacheLocks))
	if err != nil {
		return nil
	}
	others := map[string]int64{}
	for _, e := range entries {
		name := e.Name()
		if st.locked[name] || !isCacheName(name) {
			continue
		}
		path := filepath.Join(dir, ShardCacheLocks, name)
		l, held, err := filelock.TryAcquire(path)
		if err != nil {
			continue
		}
		if held {
			_ = l.Unlock() // no process downloads it
			continue
		}
		data, _ := os.ReadFile(path)
		n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		others[name] = max(n, 0)
	}
	return others
}

// warnOnce logs msg once per process and cache folder.
func (st *cacheState) warnOnce(msg string, kv ...any) {
	st.mu.Lock()
	first := !st.warned
	st.warned = true
	st.mu.Unlock()
	if first {
		log.Warn(msg, kv...)
	}
}

// diskFull reports whether err says that the disk (or the user's quota) is full.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
