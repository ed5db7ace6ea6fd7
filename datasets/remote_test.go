package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// fileServer serves dir over HTTP, counting the requests by path; a .tar request's Range header
// is recorded too. broken, when set, decides for each request of a .tar whether to answer with
// only half of the file, then break the connection off.
type fileServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string]int
	ranges   []string
	broken   func(path, rangeHeader string) bool
	noRange  bool // answer every request with the whole file, as a server without Range support
	// short, when set, decides for each Range request of a .tar whether to end the answer
	// cleanly after 1000 bytes (without a Content-Length, so that only the first answer's
	// length says it is short).
	short func(path string) bool
	// delay, when set, holds each answer for a .tar that long before it starts.
	delay time.Duration
}

func serveDir(t *testing.T, dir string) *fileServer {
	t.Helper()
	fs := &fileServer{requests: map[string]int{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.requests[r.URL.Path]++
		rng := r.Header.Get("Range")
		if rng != "" {
			fs.ranges = append(fs.ranges, r.URL.Path+" "+rng)
		}
		broken := fs.broken != nil && strings.HasSuffix(r.URL.Path, ".tar") && fs.broken(r.URL.Path, rng)
		short := fs.short != nil && rng != "" && strings.HasSuffix(r.URL.Path, ".tar") && fs.short(r.URL.Path)
		delay := fs.delay
		fs.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, ".tar") {
			time.Sleep(delay)
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		switch {
		case broken:
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.WriteHeader(http.StatusOK)
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // the connection breaks off
		case short:
			var first int
			fmt.Sscanf(rng, "bytes=%d-", &first)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, len(data)-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[first:min(first+1000, len(data))])
		case fs.noRange:
			w.Write(data)
		default:
			http.ServeContent(w, r, r.URL.Path, time.Time{}, strings.NewReader(string(data)))
		}
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fileServer) count(suffix string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := 0
	for p, c := range fs.requests {
		if strings.HasSuffix(p, suffix) {
			n += c
		}
	}
	return n
}

// fastRetries makes HTTP retries immediate for the test.
func fastRetries(t *testing.T, attempts int) {
	wait, n := remote.RetryWait, remote.RetryAttempts
	remote.RetryWait, remote.RetryAttempts = time.Microsecond, attempts
	t.Cleanup(func() { remote.RetryWait, remote.RetryAttempts = wait, n })
}

// samplesOf reads every sample of s in file order: key, label and bytes.
func samplesOf(t *testing.T, s *Shards) []string {
	t.Helper()
	st := newShardStream(s, nil, nil, 0, s.Len())
	defer st.close()
	var out []string
	for {
		smp, _, err := st.read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %x", smp.key, smp.label, smp.data))
	}
}

// readToError reads the samples of s in file order up to the first error, and returns it
// (io.EOF when every sample was read).
func readToError(s *Shards) error {
	st := newShardStream(s, nil, nil, 0, s.Len())
	defer st.close()
	for {
		if _, _, err := st.read(); err != nil {
			return err
		}
	}
}

// remoteFixture writes 3 classes of 5 images into 4 shards (4, 4, 4, 3 samples) with their
// index.json, and serves them.
func remoteFixture(t *testing.T) (dir string, local *Shards, want []string, srv *fileServer) {
	t.Helper()
	root := t.TempDir()
	makeFolder(t, root, []string{"a", "b", "c"}, 5)
	_, local, paths := shardsOf(t, root, 4)
	dir = filepath.Dir(paths[0])
	return dir, local, samplesOf(t, local), serveDir(t, dir)
}

// Shards over HTTP, named by their index or by a pattern of URLs, and through pipe: commands,
// give the samples, labels and class names of the same shards on disk, and the same batches,
// resumed too. Opening by the index reads the index and nothing else.
func TestShardsOverHTTPAndPipes(t *testing.T) {
	dir, local, want, srv := remoteFixture(t)
	idx, err := OpenShards(srv.URL+"/index.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.count(".tar"); n != 0 {
		t.Fatalf("opening by the index requested %d shards, want none", n)
	}
	if n := srv.count("index.json"); n != 1 {
		t.Fatalf("the index was requested %d times", n)
	}
	pattern, err := OpenShards(srv.URL+"/shard-{000000..000003}.tar", "")
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := OpenShards("pipe:cat "+filepath.Join(dir, "shard-{000000..000003}.tar"), "")
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Shards{"index over HTTP": idx, "URL pattern": pattern, "pipe": pipe} {
		classes := []string{"a", "b", "c"}
		if name == "pipe" {
			classes = []string{"0", "1", "2"} // a command has no folder to find classes.txt in
		}
		if s.Len() != 15 || !slices.Equal(s.counts, local.counts) || !slices.Equal(s.Info().ClassNames, classes) {
			t.Fatalf("%s: %d samples %v, classes %v; want 15 %v, %v", name, s.Len(), s.counts, s.Info().ClassNames, local.counts, classes)
		}
		if got := samplesOf(t, s); !slices.Equal(got, want) {
			t.Fatalf("%s: samples differ from those of the files", name)
		}
	}
	aug, _ := Preset("solo-cifar", local)
	cfg := LoaderConfig{BatchSize: 4, Seed: 3, Augmentation: aug.WithSize(8), ShuffleBuffer: 5, Workers: 2}
	ref := collectN(t, local, cfg, Position{}, 6)
	sameBatches(t, "loader over HTTP", ref, collectN(t, idx, cfg, Position{}, 6))
	sameBatches(t, "loader over HTTP, resumed", ref[4:], collectN(t, idx, cfg, Position{Epoch: 1, Batch: 1}, 2))
}

// A connection that breaks off in a shard is resumed where it stopped (a Range request), or, from
// a server without Range support, read again and skipped to there; the samples are those of the
// files. Without retries the break is an error naming the URL (the negative control).
func TestHTTPResumesABrokenConnection(t *testing.T) {
	_, _, want, srv := remoteFixture(t)
	fastRetries(t, 3)
	srv.broken = func(_, rng string) bool { return rng == "" } // every first request of a shard
	s, err := OpenShards(srv.URL+"/index.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := samplesOf(t, s); !slices.Equal(got, want) {
		t.Fatal("samples read through broken connections differ from those of the files")
	}
	if len(srv.ranges) != 4 || !strings.HasPrefix(srv.ranges[0], "/shard-0000") || !strings.Contains(srv.ranges[0], "bytes=") {
		t.Fatalf("Range requests %q, want one per shard", srv.ranges)
	}
	// Answers to Range requests that end early, but cleanly: asked again for the rest. (The
	// shards are read ahead, several at once: what fails is decided shard by shard.)
	shortened := map[string]int{}
	srv.short = func(path string) bool { shortened[path]++; return shortened[path]%2 == 1 }
	if got := samplesOf(t, s); !slices.Equal(got, want) {
		t.Fatal("samples read through answers that end early differ from those of the files")
	}
	srv.short = nil
	// A server that ignores Range: the whole file again, of which the part read is skipped.
	srv.noRange = true
	requests := map[string]int{}
	srv.broken = func(path, _ string) bool { requests[path]++; return requests[path]%2 == 1 }
	if got := samplesOf(t, s); !slices.Equal(got, want) {
		t.Fatal("samples read again from a server without Range support differ from those of the files")
	}
	fastRetries(t, 1)
	srv.broken = func(_, _ string) bool { return true }
	st := newShardStream(s, nil, nil, 0, s.Len())
	defer st.close()
	for {
		_, _, err = st.read()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "reading "+srv.URL+"/shard-000000.tar") || !strings.Contains(err.Error(), "tried 1 times") {
		t.Fatalf("without retries: %v, want a damaged-data error naming the shard's URL", err)
	}
}

// What fails over HTTP or in a pipe says what and where: a missing index or shard (404), a refused
// one (403, with the hint for private buckets), a server error that passes (retried), a shard cut
// short, a command that fails.
func TestRemoteErrors(t *testing.T) {
	dir, _, want, srv := remoteFixture(t)
	fastRetries(t, 3)
	whole, _ := os.ReadFile(filepath.Join(dir, "shard-000001.tar"))
	writeFile(t, filepath.Join(dir, "cut.tar"), whole[:len(whole)/2+100])
	writeFile(t, filepath.Join(dir, "noend.tar"), whole[:len(whole)-1024]) // without the 2 end-of-archive blocks
	for _, tc := range []struct {
		name, loc, want string
		kind            error
	}{
		{"no index", srv.URL + "/nope/index.json", "GET " + srv.URL + "/nope/index.json: HTTP status 404 Not Found: check the URL", ErrUsage},
		{"missing shard", srv.URL + "/shard-{000003..000004}.tar", srv.URL + "/shard-000004.tar: GET " + srv.URL + "/shard-000004.tar: HTTP status 404", ErrDamaged},
		{"cut short", srv.URL + "/cut.tar", srv.URL + "/cut.tar", ErrDamaged},
		{"cut short in a pipe", "pipe:cat " + filepath.Join(dir, "cut.tar"), "truncated", ErrDamaged},
		{"cut after a member", srv.URL + "/noend.tar", "without the tar end-of-archive blocks (truncated: " + fmt.Sprint(len(whole)-1024) + " bytes)", ErrDamaged},
		{"cut after a member, in a pipe", "pipe:cat " + filepath.Join(dir, "noend.tar"), "without the tar end-of-archive blocks (truncated: size unknown)", ErrDamaged},
		{"failing command", "pipe:cat " + filepath.Join(dir, "nope.tar"), `command "cat ` + filepath.Join(dir, "nope.tar") + `": exit status 1: cat: ` + filepath.Join(dir, "nope.tar") + ": No such file or directory", ErrDamaged},
		{"folder URL", srv.URL + "/", "a URL of a folder, whose files HTTP cannot list (give the index.json", ErrUsage},
	} {
		_, err := OpenShards(tc.loc, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.kind) {
			t.Errorf("%s: got %v, want an error (%v) containing %q", tc.name, err, tc.kind, tc.want)
		}
	}
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer forbidden.Close()
	_, err := OpenShards(forbidden.URL+"/a.tar", "")
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden: the server refuses it; for a private bucket give an s3:// or gs:// location, a signed URL, or a pipe: command") {
		t.Errorf("403: %v", err)
	}
	// Two 503s, then the shards: retried, read.
	fails := 0
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fails < 2 {
			fails++
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		http.ServeFile(w, r, filepath.Join(dir, filepath.FromSlash(r.URL.Path)))
	}))
	defer flaky.Close()
	s, err := OpenShards(flaky.URL+"/index.json", "")
	if err != nil || fails != 2 || !slices.Equal(samplesOf(t, s), want) {
		t.Fatalf("after two 503s: %v (%d failures)", err, fails)
	}
}

// mkshards' index.json opens without a scan and gives the scan's shards; a hand-written index in
// wids' format (as webdataset's widsindex writes) is read; a stale index (a shard rewritten), an
// index whose counts or classes disagree with the shards, are errors that say so.
func TestShardIndex(t *testing.T) {
	dir, local, want, _ := remoteFixture(t)
	s, err := OpenShards(filepath.Join(dir, "index.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.paths, local.paths) || !slices.Equal(s.counts, local.counts) || !slices.Equal(s.classes, local.classes) {
		t.Fatalf("index: %v %v %v, scan: %v %v %v", s.paths, s.counts, s.classes, local.paths, local.counts, local.classes)
	}
	sizes := make([]int64, 4)
	for i, p := range local.paths {
		st, _ := os.Stat(p)
		sizes[i] = st.Size()
	}
	wids := func(counts []int, sizes []int64) string {
		var list []string
		for i, n := range counts {
			list = append(list, fmt.Sprintf(`{"url": "shard-%06d.tar", "nsamples": %d, "filesize": %d}`, i, n, sizes[i]))
		}
		return `{"__kind__": "wids-shard-index-v1", "wids_version": 1, "name": "t", "shardlist": [` + strings.Join(list, ", ") + "]}"
	}
	writeFile(t, filepath.Join(dir, "wids.json"), []byte(wids([]int{4, 4, 4, 3}, sizes)))
	s, err = OpenShards(filepath.Join(dir, "wids.json"), "")
	if err != nil || !slices.Equal(samplesOf(t, s), want) || !slices.Equal(s.classes, []string{"a", "b", "c"}) {
		t.Fatalf("wids index (classes from classes.txt): %v", err)
	}
	// Counts that are not the shards': found when the shard is read.
	writeFile(t, filepath.Join(dir, "more.json"), []byte(wids([]int{5, 4, 4, 3}, []int64{0, 0, 0, 0})))
	s, err = OpenShards(filepath.Join(dir, "more.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	err = readToError(s)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "holds 4 samples, but "+filepath.Join(dir, "more.json")+" counts 5") {
		t.Fatalf("wrong counts: %v", err)
	}
	// Fewer classes than the labels: found when the sample is read.
	var few ShardIndex
	data, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	json.Unmarshal(data, &few)
	few.Classes = few.Classes[:2]
	data, _ = json.Marshal(few)
	writeFile(t, filepath.Join(dir, "few.json"), data)
	s, _ = OpenShards(filepath.Join(dir, "few.json"), "")
	err = readToError(s)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "class 2, but there are 2 classes (from the index "+filepath.Join(dir, "few.json")) {
		t.Fatalf("too few classes: %v", err)
	}
	// A shard rewritten since the index: stale.
	whole, _ := os.ReadFile(local.paths[2])
	writeFile(t, local.paths[2], append(whole, make([]byte, 512)...))
	_, err = OpenShards(filepath.Join(dir, "index.json"), "")
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "stale: "+local.paths[2]+" is") || !strings.Contains(err.Error(), "mkshards -index") {
		t.Fatalf("stale index: %v", err)
	}
	writeFile(t, local.paths[2], whole)
	// Labeled shards under an index without classes, and no classes.txt.
	os.Remove(filepath.Join(dir, "classes.txt"))
	_, err = OpenShards(filepath.Join(dir, "wids.json"), "")
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "the index names no classes, but the shards have labels (a .cls member)") {
		t.Fatalf("labels without classes: %v", err)
	}
}

// An index in train/ has the index of val/ beside it for its held-out split, on disk and over
// HTTP; without one, OpenTest says there are no held-out images.
func TestShardIndexSplits(t *testing.T) {
	images, out := t.TempDir(), t.TempDir()
	for _, split := range []string{"train", "val"} {
		makeFolder(t, filepath.Join(images, split), []string{"a", "b"}, 3)
		f, err := OpenFolder(filepath.Join(images, split), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := WriteShards(f, filepath.Join(out, split), ShardOptions{PerShard: 4, Prefix: split}); err != nil {
			t.Fatal(err)
		}
	}
	srv := serveDir(t, out)
	for _, loc := range []string{filepath.Join(out, "train", "index.json"), srv.URL + "/train/index.json"} {
		test, err := OpenTest("shards", Options{DataDir: loc})
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		if p := test.(*Shards).paths[0]; !strings.HasSuffix(filepath.ToSlash(p), "/val/val-000000.tar") {
			t.Fatalf("%s: the test split reads %s", loc, p)
		}
	}
	os.Remove(filepath.Join(out, "val", "index.json"))
	for _, loc := range []string{filepath.Join(out, "train", "index.json"), srv.URL + "/train/index.json"} {
		if _, err := OpenTest("shards", Options{DataDir: loc}); !errors.Is(err, ErrNoSplit) {
			t.Fatalf("%s without val/index.json: %v, want ErrNoSplit", loc, err)
		}
	}
}

// Remote shards are downloaded several at once ahead of the one read (Options.ShardReadAhead),
// into TMPDIR, whose files are removed once read; the samples are those of the files, read ahead
// or streamed (-1). A stream that starts past the first samples (a resumed epoch) does not
// download the shards that hold none of its samples.
func TestReadAhead(t *testing.T) {
	dir, _, want, _ := remoteFixture(t)
	var mu sync.Mutex
	inflight, most, tars := 0, 0, 0
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		if strings.HasSuffix(r.URL.Path, ".tar") {
			tars++
		}
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		http.ServeFile(w, r, filepath.Join(dir, filepath.FromSlash(r.URL.Path)))
		mu.Lock()
		inflight--
		mu.Unlock()
	}))
	defer slow.Close()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, tc := range []struct {
		ahead, most int
	}{{0, DefaultReadAhead}, {2, 2}, {-1, 1}} {
		d, err := Open("shards", "", Options{DataDir: slow.URL + "/index.json", ShardReadAhead: tc.ahead})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		most, tars = 0, 0
		mu.Unlock()
		if got := samplesOf(t, d.(*Shards)); !slices.Equal(got, want) {
			t.Fatalf("read ahead %d: samples differ from those of the files", tc.ahead)
		}
		if most != tc.most || tars != 4 {
			t.Errorf("read ahead %d: %d requests at once, %d shards requested; want %d, 4", tc.ahead, most, tars, tc.most)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("read ahead %d: %d files left in TMPDIR", tc.ahead, len(left))
		}
	}
	// From the 13th sample on (of 15; the shards hold 4, 4, 4 and 3): only the last shard.
	s, _ := OpenShards(slow.URL+"/index.json", "")
	mu.Lock()
	tars = 0
	mu.Unlock()
	readRange(t, s, 12, s.Len())
	if tars != 1 {
		t.Errorf("from sample 12: %d shards requested, want 1", tars)
	}
}

// A Loader closed while it waits for a shard's download returns at once: the downloads are
// cancelled, not waited for (the negative control: without the cancel, Close waits for them).
func TestLoaderCloseDoesNotWaitForADownload(t *testing.T) {
	dir, local, _, _ := remoteFixture(t)
	release, requested := make(chan struct{}), make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".tar") {
			requested <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		http.ServeFile(w, r, filepath.Join(dir, filepath.FromSlash(r.URL.Path)))
	}))
	defer srv.Close()
	defer close(release)
	s, err := OpenShards(srv.URL+"/index.json", "")
	if err != nil {
		t.Fatal(err)
	}
	aug, _ := Preset("solo-cifar", local)
	l, err := NewLoader(s, LoaderConfig{BatchSize: 4, Seed: 1, Augmentation: aug.WithSize(8), Workers: 1}, Position{})
	if err != nil {
		t.Fatal(err)
	}
	<-requested // the first shard's download has begun, and hangs
	closed := make(chan struct{})
	go func() { l.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a download")
	}
}

// A shard cache (Options.ShardCache) keeps remote shards once read: a second epoch requests none,
// a cached copy whose size differs from the index's is downloaded again, a download that fails
// leaves nothing in the cache (it is written atomically), and a signed URL's query does not change
// the cached name.
func TestShardCache(t *testing.T) {
	_, local, want, srv := remoteFixture(t)
	cache := filepath.Join(t.TempDir(), "cache")
	t.Setenv("TMPDIR", t.TempDir())
	open := func() *Shards {
		d, err := Open("shards", "", Options{DataDir: srv.URL + "/index.json", ShardCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		return d.(*Shards)
	}
	s := open()
	for round, wantRequests := range []int{4, 4, 5} { // the first epoch downloads, the second not
		if round == 2 {
			writeFile(t, filepath.Join(cache, CacheName(s.paths[1])), []byte("stale"))
		}
		if got := samplesOf(t, open()); !slices.Equal(got, want) {
			t.Fatalf("round %d: samples differ from those of the files", round)
		}
		if n := srv.count(".tar"); n != wantRequests {
			t.Fatalf("round %d: %d shard requests in all, want %d", round, n, wantRequests)
		}
	}
	for _, p := range local.paths {
		cached, _ := os.ReadFile(filepath.Join(cache, CacheName(srv.URL+"/"+filepath.Base(p))))
		orig, _ := os.ReadFile(p)
		if !slices.Equal(cached, orig) {
			t.Fatalf("the cached copy of %s differs from it", p)
		}
	}
	if CacheName(srv.URL+"/a/x.tar?X-Amz-Signature=1") != CacheName(srv.URL+"/a/x.tar?X-Amz-Signature=2") ||
		CacheName(srv.URL+"/a/x.tar") == CacheName(srv.URL+"/b/x.tar") || !strings.HasSuffix(CacheName("pipe:aws s3 cp s3://b/t-000001.tar -"), "-t-000001.tar") {
		t.Fatal("CacheName: a query changes the name, or two folders share it, or a command's shard is not named")
	}
	// A download that breaks off for good: an error, and nothing in the cache.
	fastRetries(t, 1)
	srv.broken = func(_, _ string) bool { return true }
	empty := filepath.Join(t.TempDir(), "cache")
	d, _ := Open("shards", "", Options{DataDir: srv.URL + "/index.json", ShardCache: empty})
	err := readToError(d.(*Shards))
	if left := cacheFiles(t, empty); !errors.Is(err, ErrDamaged) || len(left) != 0 {
		t.Fatalf("a failed download: %v, %q left in the cache", err, left)
	}
}

// Shards compressed with gzip (.tar.gz, .tgz), as WebDataset reads them: recognised from their
// first bytes, in a folder, by a glob, over HTTP, read ahead or streamed; one cut short is
// damaged, and says so.
func TestGzipShards(t *testing.T) {
	_, local, want, _ := remoteFixture(t)
	dir := t.TempDir()
	var whole []byte
	for i, p := range local.paths {
		data, _ := os.ReadFile(p)
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		ext := map[bool]string{true: ".tgz", false: ".tar.gz"}[i == 3]
		writeFile(t, filepath.Join(dir, fmt.Sprintf("shard-%06d%s", i, ext)), buf.Bytes())
		whole = buf.Bytes()
	}
	writeFile(t, filepath.Join(dir, "classes.txt"), []byte("a\nb\nc\n"))
	for _, loc := range []string{dir, filepath.Join(dir, "shard-*")} {
		s, err := OpenShards(loc, "")
		if err != nil || !slices.Equal(samplesOf(t, s), want) || !slices.Equal(s.classes, []string{"a", "b", "c"}) {
			t.Fatalf("%s: %v, or the samples or classes differ from those of the files", loc, err)
		}
	}
	srv := serveDir(t, dir)
	for _, ahead := range []int{-1, 2} {
		d, err := Open("shards", "", Options{DataDir: srv.URL + "/shard-{000000..000002}.tar.gz", ShardReadAhead: ahead})
		if err != nil {
			t.Fatalf("gzipped shards over HTTP (read ahead %d): %v", ahead, err)
		}
		if got := samplesOf(t, d.(*Shards)); !slices.Equal(got, want[:12]) {
			t.Fatalf("gzipped shards over HTTP (read ahead %d): samples differ", ahead)
		}
	}
	writeFile(t, filepath.Join(dir, "cut.tgz"), whole[:len(whole)/2])
	if _, err := OpenShards(filepath.Join(dir, "cut.tgz"), ""); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("a gzipped shard cut short: %v", err)
	}
}
