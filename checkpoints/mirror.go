package checkpoints

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/internal/filelock"
	"github.com/gomlx-ssl/vicreg/internal/progress"
	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// Mirror keeps a copy of a checkpoint folder in a bucket folder (s3://BUCKET/PREFIX/ or
// gs://BUCKET/PREFIX/), so that a run on a machine that may vanish (a spot or preemptible
// instance) goes on from another machine: Restore copies the bucket's newer checkpoints into an
// empty or older folder, and Sync copies the folder's new and changed files up.
//
// The folder's files are mirrored (the checkpoints, config.json, metrics.jsonl, figures,
// result.json), not its lock, temporary files, hidden files, files kept aside (NAME.corrupt,
// NAME.before-restore) or subfolders. A checkpoint is deleted from the bucket only once this
// Mirror has seen it in the folder and the Manager's retention has removed it there; what the
// bucket holds from elsewhere is never deleted, and a file that differs is replaced only by a
// checkpoint that verifies. Uploads check the MD5 of what was stored.
//
// One process may write to a bucket folder at a time, as to a checkpoint folder; the bucket has no
// lock: give each run its own folder.
type Mirror struct {
	// Dir is the local checkpoint folder; Remote is the bucket folder, ending in "/".
	Dir, Remote string
	// Logger receives a line for each file copied and the failures; log.Default() when nil.
	Logger *log.Logger

	mu      sync.Mutex
	objects map[string]string   // name → MD5 (hex) of the bucket's object, as listed or uploaded
	sizes   map[string]int64    // name → size of the bucket's object, as listed
	hashes  map[string]fileHash // name → MD5 of the local file, while its size and time stay
	seen    map[string]bool     // checkpoints seen in the folder
	wanted  bool                // a sync was asked for since the last one started
	running bool
	idle    *sync.Cond // signalled when a sync ends
	err     error      // the last sync's failure
}

// fileHash is the MD5 of a local file as it was when hashed.
type fileHash struct {
	size int64
	mod  time.Time
	md5  string
}

// NewMirror returns the mirror of the folder dir in the bucket folder loc, listing it (which
// checks the location and the credentials before any training).
func NewMirror(ctx context.Context, dir, loc string, logger *log.Logger) (*Mirror, error) {
	if !remote.IsObject(loc) {
		return nil, fmt.Errorf("%q is not a bucket folder: give s3://BUCKET/PREFIX/ or gs://BUCKET/PREFIX/", loc)
	}
	if _, _, _, err := remote.Split(loc); err != nil {
		return nil, err
	}
	if !strings.HasSuffix(loc, "/") {
		loc += "/"
	}
	m := &Mirror{Dir: dir, Remote: loc, Logger: logger, objects: map[string]string{}, sizes: map[string]int64{},
		hashes: map[string]fileHash{}, seen: map[string]bool{}}
	m.idle = sync.NewCond(&m.mu)
	objects, _, err := remote.List(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("listing the bucket folder %s: %w", loc, err)
	}
	for _, o := range objects {
		if name := path.Base(o.Loc); Mirrored(name) {
			m.objects[name], m.sizes[name] = o.MD5, o.Size
		}
	}
	for _, name := range m.localCheckpoints() {
		m.seen[name] = true
	}
	return m, nil
}

func (m *Mirror) logger() *log.Logger {
	if m.Logger == nil {
		return log.Default()
	}
	return m.Logger
}

// Mirrored reports whether the file name of a checkpoint folder is one that a Mirror copies to
// the bucket: not the lock, hidden or temporary files, or files kept aside (a corrupt checkpoint,
// a file a restore replaced, one of the old format).
func Mirrored(name string) bool {
	return name != "" && name != LockFile && !strings.HasPrefix(name, ".") &&
		!strings.Contains(name, ".corrupt") && !strings.HasSuffix(name, beforeRestore) && !strings.HasSuffix(name, OldExt)
}

// beforeRestore ends the name of a local file that Restore replaced, kept beside it.
const beforeRestore = ".before-restore"

// isCheckpoint reports whether name is a checkpoint's file name.
func isCheckpoint(name string) bool {
	_, ok := stepOf(name, Ext)
	return ok
}

// byStep sorts checkpoint names newest first.
func byStep(names []string) {
	slices.SortFunc(names, func(a, b string) int {
		sa, _ := stepOf(a, Ext)
		sb, _ := stepOf(b, Ext)
		return int(min(max(sb-sa, -1), 1))
	})
}

// localCheckpoints are the names of the folder's checkpoints, newest first (as Manager.List
// finds them; none when it cannot).
func (m *Mirror) localCheckpoints() []string {
	paths, _ := (&Manager{Dir: m.Dir}).List()
	names := make([]string, len(paths))
	for i, p := range paths {
		names[len(paths)-1-i] = filepath.Base(p)
	}
	return names
}

// RemoteCheckpoints are the names of the bucket folder's checkpoints, as listed by NewMirror or
// since uploaded, newest first.
func (m *Mirror) RemoteCheckpoints() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for name := range m.objects {
		if isCheckpoint(name) {
			names = append(names, name)
		}
	}
	byStep(names)
	return names
}

// Restore copies into the folder the bucket's checkpoints newer than the folder's newest (all of
// them into a folder without any), and, when it copies one, the bucket's other files too (the
// run's config.json and metrics.jsonl, ...): a local file that differs is kept beside as
// NAME.before-restore. Each download is checked against the MD5 the bucket lists and written
// atomically. It returns the names of the checkpoints copied, newest first.
func (m *Mirror) Restore(ctx context.Context) ([]string, error) {
	local := m.localCheckpoints()
	newest := int64(-1)
	if len(local) > 0 {
		newest, _ = stepOf(local[0], Ext)
	}
	var restored []string
	for _, name := range m.RemoteCheckpoints() {
		if step, _ := stepOf(name, Ext); step > newest {
			restored = append(restored, name)
		}
	}
	if len(restored) == 0 {
		return nil, nil
	}
	m.mu.Lock()
	var others []string
	for name := range m.objects {
		if !isCheckpoint(name) {
			others = append(others, name)
		}
	}
	m.mu.Unlock()
	slices.Sort(others)
	// The other files first, then the checkpoints oldest first: a restore that fails part way
	// leaves the folder's newest checkpoint older than the bucket's, so that the next one
	// copies the rest.
	for i := len(restored) - 1; i >= 0; i-- {
		others = append(others, restored[i])
	}
	if err := m.downloadAll(ctx, others); err != nil {
		return nil, err
	}
	return restored, nil
}

// downloadAll downloads the bucket's objects names into the folder, in that order, with a
// progress bar (in MB) over all of them.
func (m *Mirror) downloadAll(ctx context.Context, names []string) error {
	var total int64
	m.mu.Lock()
	for _, name := range names {
		total += m.sizes[name]
	}
	m.mu.Unlock()
	bar := progress.New("copying from the bucket", max(1, (total+999_999)/1_000_000), 0, progress.Options{Logger: m.logger(), Unit: "MB"})
	defer bar.Finish()
	var done int64
	for _, name := range names {
		if err := m.download(ctx, name, func(n int) {
			done += int64(n)
			bar.Set(min(done/1_000_000, (total+999_999)/1_000_000), "")
		}); err != nil {
			return err
		}
	}
	bar.Set(max(1, (total+999_999)/1_000_000), "")
	return nil
}

// download copies the bucket's object name into the folder, keeping a local file that differs
// as NAME.before-restore; read is told of each chunk read.
func (m *Mirror) download(ctx context.Context, name string, read func(n int)) error {
	m.mu.Lock()
	want := m.objects[name]
	m.mu.Unlock()
	dst := filepath.Join(m.Dir, name)
	aside := "" // the local file's second name, while the download replaces it
	if _, err := os.Stat(dst); err == nil {
		if sum, err := m.localMD5(name); err == nil && sum == want {
			return nil
		}
		aside = dst + beforeRestore
		for i := 1; fileExists(aside); i++ {
			aside = fmt.Sprintf("%s%s.%d", dst, beforeRestore, i)
		}
		if err := keepAs(dst, aside); err != nil {
			return fmt.Errorf("restoring %s: keeping the local copy as %s: %w", dst, aside, err)
		}
	}
	sum, err := m.fetch(ctx, name, want, dst, read)
	if err != nil {
		if aside != "" {
			os.Remove(aside) // the local file is still in place
		}
		return err
	}
	if st, err := os.Stat(dst); err == nil {
		m.remember(name, st, sum)
	}
	if aside != "" {
		m.logger().Warn("restored from the bucket a file that differed here: the local one is kept beside", "path", aside)
	}
	if isCheckpoint(name) {
		m.mu.Lock()
		m.seen[name] = true
		m.mu.Unlock()
	}
	return nil
}

// keepAs gives the file at p the second name aside: a hard link, or a copy where links are not
// allowed.
func keepAs(p, aside string) error {
	if os.Link(p, aside) == nil {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return atomicfile.Copy(aside, 0, f)
}

// fetch downloads the bucket's object name to dst (atomically), checking it against the MD5 want
// (hex; "" checks nothing), and returns the download's MD5; read is told of each chunk read.
func (m *Mirror) fetch(ctx context.Context, name, want, dst string, read func(n int)) (string, error) {
	start := time.Now()
	r, err := remote.Open(ctx, m.Remote+name)
	if err != nil {
		return "", fmt.Errorf("restoring %s from the bucket: %w", name, err)
	}
	defer r.Close()
	h := md5.New()
	n := int64(0)
	err = atomicfile.Copy(dst, 0, &checkedReader{r: io.TeeReader(r, h), read: func(k int) { n += int64(k); read(k) }, done: func() error {
		if got := hex.EncodeToString(h.Sum(nil)); want != "" && got != want {
			return fmt.Errorf("the download has MD5 %s, the bucket lists %s", got, want)
		}
		return nil
	}})
	if err != nil {
		return "", fmt.Errorf("restoring %s from %s: %w", name, m.Remote, err)
	}
	m.logger().Debug("copied from the bucket", "file", name, "MB", fmt.Sprintf("%.1f", float64(n)/1e6), "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkedReader reads r, telling read of each chunk, and calls done at its end: an error from
// done is the reader's error instead of io.EOF.
type checkedReader struct {
	r    io.Reader
	read func(n int)
	done func() error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.read(k)
	if err == io.EOF {
		if derr := c.done(); derr != nil {
			return k, derr
		}
	}
	return k, err
}

// localMD5 is the MD5 of the folder's file name, hashed again only when its size or time changed.
func (m *Mirror) localMD5(name string) (string, error) {
	p := filepath.Join(m.Dir, name)
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	h, ok := m.hashes[name]
	m.mu.Unlock()
	if ok && h.size == st.Size() && h.mod.Equal(st.ModTime()) {
		return h.md5, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sum := md5.New()
	if _, err := io.Copy(sum, f); err != nil {
		return "", err
	}
	return m.remember(name, st, hex.EncodeToString(sum.Sum(nil))), nil
}

// remember records that the folder's file name, as st describes it, has the MD5 sum (hex), and
// returns sum.
func (m *Mirror) remember(name string, st os.FileInfo, sum string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hashes[name] = fileHash{size: st.Size(), mod: st.ModTime(), md5: sum}
	return sum
}

// Sync starts copying the folder's new and changed files to the bucket, in the background, and
// returns at once; a sync asked for while one runs follows it. Wait waits for them.
func (m *Mirror) Sync() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wanted = true
	if m.running {
		return
	}
	m.running = true
	go m.loop()
}

func (m *Mirror) loop() {
	m.mu.Lock()
	for m.wanted {
		m.wanted = false
		m.mu.Unlock()
		err := m.SyncNow(context.Background())
		m.mu.Lock()
		m.err = err
	}
	m.running = false
	m.idle.Broadcast()
	m.mu.Unlock()
}

// Wait waits until the syncs asked for are done and returns the last one's failure, if any.
func (m *Mirror) Wait() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.running {
		m.idle.Wait()
	}
	return m.err
}

// SyncNow copies the folder's new and changed files to the bucket, newest checkpoint first, then
// deletes from the bucket the checkpoints that retention removed from the folder (only when every
// copy succeeded). A file that fails is logged and tried again at the next sync; the error joins
// the failures. Call it from one goroutine at a time (Sync does).
func (m *Mirror) SyncNow(ctx context.Context) error {
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		return fmt.Errorf("mirroring %s: %w", m.Dir, err)
	}
	var ckpts, others []string
	for _, e := range entries {
		switch name := e.Name(); {
		case !e.Type().IsRegular() || !Mirrored(name):
		case isCheckpoint(name):
			ckpts = append(ckpts, name)
		default:
			others = append(others, name)
		}
	}
	byStep(ckpts)
	var errs []error
	for _, name := range append(slices.Clone(ckpts), others...) {
		if err := m.push(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) { // removed meanwhile: nothing to copy
			m.logger().Warn("could not copy a file to the bucket (it is safe in the folder; tried again after the next checkpoint)", "file", name, "err", err)
			errs = append(errs, err)
		}
	}
	m.mu.Lock()
	var gone []string
	for name := range m.objects {
		if isCheckpoint(name) && m.seen[name] && !slices.Contains(ckpts, name) {
			gone = append(gone, name)
		}
	}
	for _, name := range ckpts {
		m.seen[name] = true
	}
	m.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("copying %s to %s: %w", m.Dir, m.Remote, errors.Join(errs...))
	}
	for _, name := range gone {
		if err := remote.Delete(ctx, m.Remote+name); err != nil {
			m.logger().Warn("could not delete an old checkpoint from the bucket", "object", m.Remote+name, "err", err)
			continue
		}
		m.mu.Lock()
		delete(m.objects, name)
		m.mu.Unlock()
	}
	return nil
}

// push copies the folder's file name to the bucket unless the bucket holds it already. A
// checkpoint replaces a different object only if it verifies; other files (which grow while the
// run goes on) are copied as they are at one moment.
func (m *Mirror) push(ctx context.Context, name string) error {
	m.mu.Lock()
	held, ok := m.objects[name]
	m.mu.Unlock()
	src := filepath.Join(m.Dir, name)
	if ok {
		sum, err := m.localMD5(name)
		if err != nil {
			return err
		}
		if sum == held {
			return nil
		}
		if isCheckpoint(name) {
			s, err := Load(src)
			if err != nil {
				return fmt.Errorf("the bucket holds another %s and the folder's does not verify, so the bucket's is kept: %w", name, err)
			}
			s.Free()
		}
	}
	if !isCheckpoint(name) {
		snapshot, err := snapshotFile(src)
		if err != nil {
			return err
		}
		defer os.Remove(snapshot)
		src = snapshot
	}
	start := time.Now()
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	sum, err := remote.Put(ctx, m.Remote+name, src)
	if err != nil {
		return err
	}
	if isCheckpoint(name) { // a checkpoint is not rewritten in place: the next sync need not read it again
		m.remember(name, st, sum)
	}
	m.mu.Lock()
	m.objects[name] = sum
	m.mu.Unlock()
	if isCheckpoint(name) {
		m.logger().Info("checkpoint copied to the bucket", "object", m.Remote+name, "MB", fmt.Sprintf("%.1f", float64(st.Size())/1e6),
			"seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	}
	return nil
}

// snapshotFile copies the file at p, which may be growing, to a temporary file and returns its
// path: an upload's length and digests must hold from start to end.
func snapshotFile(p string) (string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "vicreg-mirror-*")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

// LocalCopy is where the checkpoint, exported encoder or run folder at loc can be read on this
// machine: loc itself when it is not in a bucket; otherwise its copy in the user's cache folder
// (~/.cache/vicreg-runs/s3/BUCKET/KEY), made or brought up to date first. A bucket folder (a run
// that -checkpoint-mirror copied) is restored as Restore does: its checkpoints newer than the
// copy's, with the run's other files. A file is downloaded unless the copy has its MD5. Processes
// copying one run at once take turns (the copy's lock file), so that each file is downloaded once.
func LocalCopy(ctx context.Context, loc string, logger *log.Logger) (string, error) {
	if !remote.IsObject(loc) {
		return loc, nil
	}
	scheme, bucket, key, err := remote.Split(loc)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("copying %s: no cache folder to copy it into: %w", loc, err)
	}
	local := filepath.Join(cache, "vicreg-runs", scheme, bucket, filepath.FromSlash(strings.TrimSuffix(key, "/")))
	folder, name := strings.HasSuffix(key, "/") || key == "" || path.Ext(key) == "", ""
	dir := local
	if !folder {
		dir, name = filepath.Dir(local), path.Base(key)
		loc = strings.TrimSuffix(loc, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("copying %s: %w", loc, err)
	}
	// Commands that read one run at once (evaluations side by side) copy it once: each holds the
	// copy's lock while it brings the copy up to date, and the others wait, then find it there.
	lock, err := filelock.Acquire(ctx, filepath.Join(dir, LockFile), func() {
		if logger == nil {
			logger = log.Default()
		}
		logger.Info("another process is copying this run from the bucket: waiting for it", "copy", dir)
	})
	if err != nil {
		return "", fmt.Errorf("copying %s: %w", loc, err)
	}
	defer lock.Unlock()
	m, err := NewMirror(ctx, dir, loc, logger)
	if err != nil {
		return "", err
	}
	if folder {
		if _, err := m.Restore(ctx); err != nil {
			return "", err
		}
		if len(m.localCheckpoints()) == 0 {
			return "", fmt.Errorf("%w in %s", ErrNoCheckpoint, m.Remote)
		}
		m.logger().Info("reading the run from its copy", "bucket", m.Remote, "copy", dir)
		return dir, nil
	}
	m.mu.Lock()
	_, ok := m.objects[name]
	m.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%s%s: no such object in the listing of %s (a folder's name ends in /)", m.Remote, name, m.Remote)
	}
	if err := m.downloadAll(ctx, []string{name}); err != nil {
		return "", err
	}
	return local, nil
}
