package datasets

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// cacheFiles lists the files of a shard cache folder, without its tag and settings; its folder of
// download locks must be empty (missing where the cache is read only), as no download is under way.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if locks, err := os.ReadDir(filepath.Join(dir, ShardCacheLocks)); len(locks) > 0 || err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the shard cache's download locks: %v, %v; want none left", locks, err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); n != cacheDirTag && n != ShardCacheSettings && n != ShardCacheLocks {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// readRange reads the samples [from, to) of s in file order.
func readRange(t *testing.T, s *Shards, from, to int) {
	t.Helper()
	st := newShardStream(s, nil, nil, from, to)
	defer st.close()
	for {
		if _, _, err := st.read(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// asNewProcess makes this process's start, for the shard cache, now (as it was after the test):
// the cached shards written before it are another process's.
func asNewProcess(t *testing.T) {
	start := processStart
	t.Cleanup(func() { processStart = start })
	processStart = time.Now()
}

// setMtime sets a file's modification time to now+d.
func setMtime(t *testing.T, path string, d time.Duration) {
	t.Helper()
	when := time.Now().Add(d)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// A shard cache under a size limit removes the shards that this process has not read, least
// recently read first, to make room; it never removes what this process read, so that when an
// epoch exceeds the limit the shards that fit stay and the others are downloaded each time; only
// files named as cached shards (and temporary files left by a crash) are ever removed. The same
// holds when the shards' sizes are unknown (no index).
func TestShardCacheLimit(t *testing.T) {
	_, local, want, srv := remoteFixture(t)
	t.Setenv("TMPDIR", t.TempDir())
	asNewProcess(t)

	var sizes []int64
	for _, p := range local.paths {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, st.Size())
	}
	limit := sizes[0] + sizes[1] + min(sizes[2], sizes[3])/2 // room for two shards, not three
	name := func(k int) string { return CacheName(srv.URL + "/" + filepath.Base(local.paths[k])) }

	cache := filepath.Join(t.TempDir(), "cache")
	if err := SetShardCacheLimit(cache, limit); err != nil {
		t.Fatal(err)
	}
	old1, old2 := CacheName("https://elsewhere/old-1.tar"), CacheName("https://elsewhere/old-2.tar")
	staleTmp, freshTmp := "."+old1+atomicfile.TempInfix+"1", "."+old2+atomicfile.TempInfix+"2"
	for _, f := range []struct {
		name string
		age  time.Duration
	}{{old1, 48 * time.Hour}, {old2, 47 * time.Hour}, {"notes.txt", 100 * time.Hour}, {staleTmp, 2 * time.Hour}, {freshTmp, 10 * time.Minute}} {
		writeFile(t, filepath.Join(cache, f.name), make([]byte, sizes[0]))
		setMtime(t, filepath.Join(cache, f.name), -f.age)
	}
	open := func(loc, cache string) *Shards {
		d, err := Open("shards", "", Options{DataDir: loc, ShardCache: cache, ShardReadAhead: 1})
		if err != nil {
			t.Fatal(err)
		}
		return d.(*Shards)
	}
	s := open(srv.URL+"/index.json", cache)

	// The first shard makes room by removing the oldest shard of another data set, and the
	// temporary file of a crash; the user's file is left alone.
	readRange(t, s, 0, 4)
	if got, want := cacheFiles(t, cache), sorted(freshTmp, name(0), old2, "notes.txt"); !slices.Equal(got, want) {
		t.Fatalf("after the first shard the cache holds %q, want %q", got, want)
	}
	// An epoch: the second shard removes the other old one; the last two do not fit, and are
	// read from temporary copies; a second epoch downloads those two again, and only those.
	for epoch, wantRequests := range []int{4, 6} {
		if got := samplesOf(t, s); !slices.Equal(got, want) {
			t.Fatalf("epoch %d: samples differ from those of the files", epoch)
		}
		if got, want := cacheFiles(t, cache), sorted(freshTmp, name(0), name(1), "notes.txt"); !slices.Equal(got, want) {
			t.Fatalf("epoch %d: the cache holds %q, want %q", epoch, got, want)
		}
		if n := srv.count(".tar"); n != wantRequests {
			t.Fatalf("epoch %d: %d shard requests in all, want %d", epoch, n, wantRequests)
		}
	}
	// Another process (one that started later), reading the third shard only: the least recently
	// read shard makes room for it.
	setMtime(t, filepath.Join(cache, name(0)), -2*time.Hour)
	setMtime(t, filepath.Join(cache, name(1)), -time.Hour)
	processStart = time.Now()
	readRange(t, open(srv.URL+"/index.json", cache), 8, 12)
	if got, want := cacheFiles(t, cache), sorted(freshTmp, name(1), name(2), "notes.txt"); !slices.Equal(got, want) {
		t.Fatalf("another process: the cache holds %q, want %q", got, want)
	}

	// Without an index the sizes are known once downloaded: a shard that does not fit is
	// removed once read.
	unsized := filepath.Join(t.TempDir(), "cache")
	if err := SetShardCacheLimit(unsized, limit); err != nil {
		t.Fatal(err)
	}
	if got := samplesOf(t, open(srv.URL+"/shard-{000000..000003}.tar", unsized)); !slices.Equal(got, want) {
		t.Fatal("without an index: samples differ from those of the files")
	}
	if got, want := cacheFiles(t, unsized), sorted(name(0), name(1)); !slices.Equal(got, want) {
		t.Fatalf("without an index: the cache holds %q, want %q", got, want)
	}
}

func sorted(names ...string) []string {
	slices.Sort(names)
	return names
}

// fullDisk is a temporary file on a disk that is full.
type fullDisk struct{ *os.File }

func (f fullDisk) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

// A disk that is full stops no run: a shard that cannot be written into the cache, or into the
// temporary folder, is read from its location as a stream, with one warning.
func TestShardCacheDiskFull(t *testing.T) {
	_, _, want, srv := remoteFixture(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var logged bytes.Buffer
	log.SetOutput(&logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })

	create := atomicfile.Create
	t.Cleanup(func() { atomicfile.Create = create })
	atomicfile.Create = func(dir, pattern string) (atomicfile.File, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		return fullDisk{f}, nil
	}
	cache := filepath.Join(t.TempDir(), "cache")
	d, err := Open("shards", "", Options{DataDir: srv.URL + "/index.json", ShardCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if got := samplesOf(t, d.(*Shards)); !slices.Equal(got, want) {
		t.Fatal("cache on a full disk: samples differ from those of the files")
	}
	if got := cacheFiles(t, cache); len(got) != 0 {
		t.Fatalf("cache on a full disk: it holds %q", got)
	}
	if n := strings.Count(logged.String(), "the shard cache's disk is full"); n != 1 {
		t.Fatalf("cache on a full disk: warned %d times, want once:\n%s", n, logged.String())
	}

	ra := createReadAheadFile
	t.Cleanup(func() { createReadAheadFile = ra })
	tempFullWarned.Store(false) // once a process
	createReadAheadFile = func(name string) (io.WriteCloser, error) {
		f, err := os.Create(name)
		return fullDisk{f}, err
	}
	d, err = Open("shards", "", Options{DataDir: srv.URL + "/index.json"})
	if err != nil {
		t.Fatal(err)
	}
	if got := samplesOf(t, d.(*Shards)); !slices.Equal(got, want) {
		t.Fatal("read-ahead on a full disk: samples differ from those of the files")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 || strings.Count(logged.String(), "the temporary folder's disk is full") != 1 {
		t.Fatalf("read-ahead on a full disk: %d files left in TMPDIR, or no warning:\n%s", len(left), logged.String())
	}
}

// Sizes are read as users write them; a cache's limit is kept in the folder, and a damaged
// settings file says how to mend it.
func TestShardCacheSettings(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "0": 0, "123": 123, "200GB": 200e9, "1.5 TiB": 3 << 39, "500MiB": 500 << 20, "2k": 2000} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"12X", "-5GB", "lots"} {
		if _, err := ParseSize(in); err == nil || !strings.Contains(err.Error(), "200GB") {
			t.Errorf("ParseSize(%q): %v, want an error with an example", in, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "a", "cache")
	if n, err := ShardCacheLimit(dir); n != 0 || err != nil {
		t.Fatalf("a missing cache: limit %d, %v", n, err)
	}
	if err := SetShardCacheLimit(dir, 5<<30); err != nil {
		t.Fatal(err)
	}
	if n, err := ShardCacheLimit(dir); n != 5<<30 || err != nil {
		t.Fatalf("limit %d, %v; want %d", n, err, 5<<30)
	}
	if tag, _ := os.ReadFile(filepath.Join(dir, cacheDirTag)); !strings.HasPrefix(string(tag), "Signature: 8a477f597d28d172789f06886806bc55") {
		t.Fatalf("the cache directory tag: %q", tag)
	}
	writeFile(t, filepath.Join(dir, ShardCacheSettings), []byte("{max_bytes: 5}"))
	if _, err := ShardCacheLimit(dir); err == nil || !strings.Contains(err.Error(), "-shard-cache-size") {
		t.Fatalf("damaged settings: %v", err)
	}
	if err := SetShardCacheLimit(dir, -1); err == nil {
		t.Fatal("a negative limit was taken")
	}
}

// The index records each shard's size and MD5 digest (mkshards, and mkshards -index over HTTP:
// those of the bytes, as md5sum gives them), and a shard downloaded whose size or digest differs
// from its index's is damaged, named, and not kept in the cache; a digest that is not one is
// refused with the index.
func TestShardDigests(t *testing.T) {
	dir, local, want, srv := remoteFixture(t)
	t.Setenv("TMPDIR", t.TempDir())
	var idx ShardIndex
	data, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	for i, p := range local.paths {
		whole, _ := os.ReadFile(p)
		sum := md5.Sum(whole)
		if sh := idx.Shards[i]; sh.MD5 != hex.EncodeToString(sum[:]) || sh.Size != int64(len(whole)) {
			t.Fatalf("shard %d: the index says md5 %s, %d bytes; the file's are %x, %d", i, sh.MD5, sh.Size, sum, len(whole))
		}
	}
	scanned, err := ScanShards(srv.URL+"/shard-{000000..000003}.tar", ShardLabel{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, sh := range scanned.Index("").Shards {
		if sh.MD5 != idx.Shards[i].MD5 || sh.Size != idx.Shards[i].Size {
			t.Fatalf("shard %d scanned over HTTP: md5 %s, %d bytes; want %s, %d", i, sh.MD5, sh.Size, idx.Shards[i].MD5, idx.Shards[i].Size)
		}
	}

	read := func(index string, cache string) error {
		d, err := Open("shards", "", Options{DataDir: srv.URL + "/" + index, ShardCache: cache})
		if err != nil {
			return err
		}
		st := newShardStream(d.(*Shards), nil, nil, 0, d.Info().Len)
		defer st.close()
		var got []string
		for {
			smp, _, err := st.read()
			if err == io.EOF {
				if !slices.Equal(got, want) {
					t.Fatalf("%s: samples differ from those of the files", index)
				}
				return nil
			}
			if err != nil {
				return err
			}
			got = append(got, fmt.Sprintf("%s %d %x", smp.key, smp.label, smp.data))
		}
	}
	if err := read("index.json", ""); err != nil {
		t.Fatalf("the index as written: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*IndexedShard)
		want   string
	}{
		{"digest", func(sh *IndexedShard) { sh.MD5 = strings.Repeat("0", 32) }, "its MD5 digest is " + idx.Shards[1].MD5 + ", the index says 00000000000000000000000000000000"},
		{"size", func(sh *IndexedShard) { sh.Size += 512 }, fmt.Sprintf("downloaded %d bytes, the index says %d", idx.Shards[1].Size, idx.Shards[1].Size+512)},
	} {
		changed := idx
		changed.Shards = slices.Clone(idx.Shards)
		tc.change(&changed.Shards[1])
		data, _ := json.Marshal(changed)
		writeFile(t, filepath.Join(dir, tc.name+".json"), data)
		cache := filepath.Join(t.TempDir(), "cache")
		err := read(tc.name+".json", cache)
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), srv.URL+"/shard-000001.tar: "+tc.want) || !strings.Contains(err.Error(), "mkshards -index") {
			t.Errorf("a shard whose %s differs from the index's: %v", tc.name, err)
		}
		if _, err := os.Stat(filepath.Join(cache, CacheName(srv.URL+"/shard-000001.tar"))); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a shard whose %s differs from the index's was cached (%v)", tc.name, err)
		}
	}
	bad := idx
	bad.Shards = slices.Clone(idx.Shards)
	bad.Shards[2].MD5 = "xyz"
	data, _ = json.Marshal(bad)
	writeFile(t, filepath.Join(dir, "bad.json"), data)
	if _, err := OpenShards(filepath.Join(dir, "bad.json"), ""); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), `shard 2 of the index: md5sum "xyz", want 32 hexadecimal digits`) {
		t.Errorf("an md5sum that is not one: %v", err)
	}
}

// TestShardImagesFromCache: Shards.Images reads remote shards from the shard cache where it holds
// them (no request), and downloads them where it does not; the images are those of the shards on
// disk.
func TestShardImagesFromCache(t *testing.T) {
	_, local, _, srv := remoteFixture(t)
	t.Setenv("TMPDIR", t.TempDir())
	asNewProcess(t)
	cache := filepath.Join(t.TempDir(), "cache")
	d, err := Open("shards", "", Options{DataDir: srv.URL + "/index.json", ShardCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	s := d.(*Shards)
	indices := []int{0, s.Len() - 1}
	want, err := local.Images(indices)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got map[int]Image) {
		t.Helper()
		for _, i := range indices {
			if !bytes.Equal(got[i].Pix, want[i].Pix) || got[i].H != want[i].H || got[i].W != want[i].W {
				t.Errorf("%s: sample %d differs from the shard's on disk", what, i)
			}
		}
	}
	before := srv.count(".tar")
	got, err := s.Images(indices) // nothing cached yet: the first and last shards downloaded
	if err != nil {
		t.Fatal(err)
	}
	check("downloaded", got)
	if n := srv.count(".tar") - before; n != 2 {
		t.Errorf("%d shard requests without the cache, want 2 (the first and the last shard)", n)
	}
	readRange(t, s, 0, s.Len()) // fills the cache
	if files := cacheFiles(t, cache); len(files) != len(s.Paths()) {
		t.Fatalf("cached %v, want the %d shards", files, len(s.Paths()))
	}
	before = srv.count(".tar")
	if got, err = s.Images(indices); err != nil {
		t.Fatal(err)
	}
	check("cached", got)
	if n := srv.count(".tar") - before; n != 0 {
		t.Errorf("%d shard requests with the shards cached, want none", n)
	}
}

// TestLockShardCancelled: a download lock taken as the read-ahead is stopped (its context ended)
// is released, its file removed: none is left to pass for a download under way. Found by
// TestShardCache under the race detector, where the stop came between the two.
func TestLockShardCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l, err := cacheStateOf(dir).lockShard(ctx, dir, CacheName("https://host/shard-000000.tar"), 10)
	if l != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("lock %v, error %v; want none, and the context's error", l, err)
	}
	cacheFiles(t, dir) // fails on a lock left behind
}
