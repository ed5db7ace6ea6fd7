//go:build unix

package datasets

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/internal/filelock"
)

// holdShardLock takes the download lock of the cached shard name in the cache folder as another
// process would (flock is per open file, so this process's own downloads are excluded by it as
// by another's), with size written in it.
func holdShardLock(t *testing.T, cache, name string, size int64) *filelock.Lock {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(cache, ShardCacheLocks), 0o755); err != nil {
		t.Fatal(err)
	}
	l, held, err := filelock.TryAcquire(filepath.Join(cache, ShardCacheLocks, name))
	if err != nil || !held {
		t.Fatalf("holding the lock of %s: held %v, %v", name, held, err)
	}
	fmt.Fprintf(l.File(), "%d\n", size)
	return l
}

// A shard that another process is downloading into the cache is not downloaded again: the reader
// waits for that download and reads its copy. When that process dies without its copy, the
// reader downloads the shard itself.
func TestShardCacheWaitsForAnotherProcessesDownload(t *testing.T) {
	_, local, _, srv := remoteFixture(t)
	cache := filepath.Join(t.TempDir(), "cache")
	name := func(k int) string { return CacheName(srv.URL + "/" + filepath.Base(local.paths[k])) }
	open := func() *Shards {
		d, err := Open("shards", "", Options{DataDir: srv.URL + "/index.json", ShardCache: cache, ShardReadAhead: 1})
		if err != nil {
			t.Fatal(err)
		}
		return d.(*Shards)
	}
	for k, dies := range []bool{false, true} {
		other := holdShardLock(t, cache, name(k), 0)
		from, to := local.starts[k], local.starts[k]+local.counts[k]
		read := make(chan struct{})
		go func() {
			defer close(read)
			readRange(t, open(), from, to)
		}()
		select {
		case <-read:
			t.Fatalf("shard %d was read while another process held its download", k)
		case <-time.After(100 * time.Millisecond):
		}
		if n := srv.count(".tar"); n != 0 {
			t.Fatalf("shard %d: %d shard requests while another process downloads it, want none", k, n)
		}
		if !dies {
			data, err := os.ReadFile(local.paths[k])
			if err != nil {
				t.Fatal(err)
			}
			if err := atomicfile.WriteFile(filepath.Join(cache, name(k)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		other.Unlock()
		<-read
		if n, want := srv.count(".tar"), map[bool]int{false: 0, true: 1}[dies]; n != want {
			t.Fatalf("shard %d (the other process died: %v): %d shard requests in all, want %d", k, dies, n, want)
		}
	}
	if got, want := cacheFiles(t, cache), sorted(name(0), name(1)); !slices.Equal(got, want) {
		t.Fatalf("the cache holds %q, want %q", got, want)
	}
}

// Making room counts the downloads under way in other processes, as the sizes written in their
// locks, against the limit; a lock that no process holds (its holder was killed) is removed and
// not counted, as is the temporary file of its download once old; a temporary file whose lock is
// held is another process's download, however old, and stays.
func TestShardCacheCountsOtherProcessesDownloads(t *testing.T) {
	_, local, _, srv := remoteFixture(t)
	t.Setenv("TMPDIR", t.TempDir())
	asNewProcess(t)
	size := func(k int) int64 {
		st, err := os.Stat(local.paths[k])
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	name := func(k int) string { return CacheName(srv.URL + "/" + filepath.Base(local.paths[k])) }
	old := CacheName("https://elsewhere/old.tar")
	dead, busy := CacheName("https://elsewhere/dead.tar"), CacheName("https://elsewhere/busy.tar")
	deadTmp, busyTmp := "."+dead+atomicfile.TempInfix+"1", "."+busy+atomicfile.TempInfix+"2"

	for _, others := range []bool{false, true} {
		cache := filepath.Join(t.TempDir(), "cache")
		// Room for shard 0 and the old shard, not for the other's download of 100 bytes beside them.
		if err := SetShardCacheLimit(cache, size(0)+size(1)+50); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(cache, old), make([]byte, size(1)))
		setMtime(t, filepath.Join(cache, old), -48*time.Hour)
		writeFile(t, filepath.Join(cache, ShardCacheLocks, dead), []byte(fmt.Sprintln(size(1))))
		for _, f := range []string{deadTmp, busyTmp} {
			writeFile(t, filepath.Join(cache, f), make([]byte, 10))
			setMtime(t, filepath.Join(cache, f), -2*time.Hour)
		}
		var lock *filelock.Lock
		if others {
			lock = holdShardLock(t, cache, busy, 100)
		}
		d, err := Open("shards", "", Options{DataDir: srv.URL + "/index.json", ShardCache: cache, ShardReadAhead: 1})
		if err != nil {
			t.Fatal(err)
		}
		readRange(t, d.(*Shards), 0, local.counts[0])
		lock.Unlock()
		want := sorted(name(0), old)
		if others {
			want = sorted(name(0), busyTmp) // the old shard made room for the other's download
		}
		if got := cacheFiles(t, cache); !slices.Equal(got, want) {
			t.Fatalf("another process downloading: %v; the cache holds %q, want %q", others, got, want)
		}
	}
}

// shardCacheHelperEnv makes the test binary, run as a child process, read every shard of the
// index it names through the cache folder it names ("INDEX_URL CACHE"), and print a digest of the
// samples.
const shardCacheHelperEnv = "VICREG_SHARD_CACHE_HELPER"

// TestShardCacheHelper is not a test: run by TestShardCacheSharedByProcesses in child processes.
func TestShardCacheHelper(t *testing.T) {
	args := strings.Fields(os.Getenv(shardCacheHelperEnv))
	if len(args) != 2 {
		t.Skip("helper process of TestShardCacheSharedByProcesses")
	}
	d, err := Open("shards", "", Options{DataDir: args[0], ShardCache: args[1]})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("samples %x\n", sha256.Sum256([]byte(strings.Join(samplesOf(t, d.(*Shards)), "\n"))))
}

// Processes started together, reading the same shards through one cache, download each shard
// once, and read the same samples as from the files. The server holds each shard's answer, so
// that without the download locks every process would request every shard.
func TestShardCacheSharedByProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	_, local, want, srv := remoteFixture(t)
	srv.mu.Lock()
	srv.delay = 500 * time.Millisecond
	srv.mu.Unlock()
	cache := filepath.Join(t.TempDir(), "cache")
	wantLine := fmt.Sprintf("samples %x", sha256.Sum256([]byte(strings.Join(want, "\n"))))
	const processes = 3
	var wg sync.WaitGroup
	outs := make([]string, processes)
	errs := make([]error, processes)
	for i := range processes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestShardCacheHelper$", "-test.v")
			cmd.Env = append(os.Environ(), shardCacheHelperEnv+"="+srv.URL+"/index.json "+cache)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i := range processes {
		if errs[i] != nil || !strings.Contains(outs[i], wantLine) {
			t.Fatalf("process %d: %v; want %q in its output:\n%s", i, errs[i], wantLine, outs[i])
		}
	}
	if n := srv.count(".tar"); n != len(local.paths) {
		t.Fatalf("%d processes requested %d shards in all; want each of the %d once", processes, n, len(local.paths))
	}
	if got := cacheFiles(t, cache); len(got) != len(local.paths) {
		t.Fatalf("the cache holds %q; want the %d shards", got, len(local.paths))
	}
}

// A process killed while it downloads a shard into the cache leaves its temporary file and its
// lock file; the kernel releases the lock. The next process to need the shard takes the lock
// over, removes that temporary file and downloads the shard itself; the others are read from the
// cache.
func TestShardCacheAfterADownloaderIsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir, local, want, _ := remoteFixture(t)
	stalled := filepath.Base(local.paths[0])
	var mu sync.Mutex
	requests := map[string]int{}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests[r.URL.Path]++
		first := requests[r.URL.Path] == 1
		mu.Unlock()
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if first && r.URL.Path == "/"+stalled { // half of it, then nothing until the test ends
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			<-release
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before the server closes: it waits for its handlers
	cache := filepath.Join(t.TempDir(), "cache")
	name := CacheName(srv.URL + "/" + stalled)

	cmd := exec.Command(os.Args[0], "-test.run=^TestShardCacheHelper$")
	cmd.Env = append(os.Environ(), shardCacheHelperEnv+"="+srv.URL+"/index.json "+cache)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	temps := func() []string {
		m, _ := filepath.Glob(filepath.Join(cache, "."+name+atomicfile.TempInfix+"*"))
		return m
	}
	// The child reads ahead: the other shards are downloaded meanwhile. Each download ends when
	// its lock file is removed, after its shard is in place: killed between the two, the child
	// would leave a lock file that this process, whose reads of that shard are hits, never sees.
	othersCached := func() bool {
		for _, p := range local.paths[1:] {
			n := CacheName(srv.URL + "/" + filepath.Base(p))
			if _, err := os.Stat(filepath.Join(cache, n)); err != nil {
				return false
			}
			if _, err := os.Stat(filepath.Join(cache, ShardCacheLocks, n)); err == nil {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(30 * time.Second); len(temps()) == 0 || !othersCached(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child never started writing the stalled shard into the cache, or never cached the others")
		}
	}
	cmd.Process.Kill() // kill -9
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(cache, ShardCacheLocks, name)); err != nil || len(temps()) != 1 {
		t.Fatalf("the killed process left its lock file (%v) and %d temporary files; want both", err, len(temps()))
	}

	d, err := Open("shards", "", Options{DataDir: srv.URL + "/index.json", ShardCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if got := samplesOf(t, d.(*Shards)); !slices.Equal(got, want) {
		t.Fatal("the samples differ from those of the files")
	}
	if got := cacheFiles(t, cache); len(got) != len(local.paths) || slices.ContainsFunc(got, func(n string) bool { return strings.HasPrefix(n, ".") }) {
		t.Fatalf("the cache holds %q; want the %d shards and nothing else", got, len(local.paths))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range local.paths {
		if n, want := requests["/"+filepath.Base(p)], map[bool]int{true: 2, false: 1}[filepath.Base(p) == stalled]; n != want {
			t.Errorf("%s requested %d times, want %d (the killed process's, then this one's, for the stalled shard)", filepath.Base(p), n, want)
		}
	}
}

// Taking over the lock file of a killed download (it holds that download's size), a process
// writes its own size in place of it, whole: what others count against the limit.
func TestShardLockTakeoverRewritesTheSize(t *testing.T) {
	cache := t.TempDir()
	name := CacheName("https://elsewhere/s.tar")
	writeFile(t, filepath.Join(cache, ShardCacheLocks, name), []byte("123456789\n"))
	st := &cacheState{locked: map[string]bool{}}
	l, err := st.lockShard(t.Context(), cache, name, 42)
	if err != nil || l == nil {
		t.Fatalf("lockShard: %v, %v", l, err)
	}
	defer st.unlockShard(l, name)
	if data, _ := os.ReadFile(filepath.Join(cache, ShardCacheLocks, name)); string(data) != "42\n" {
		t.Errorf("the lock file holds %q, want %q", data, "42\n")
	}
}
