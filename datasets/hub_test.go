package datasets

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeHub serves the files under root as the Hugging Face Hub serves a repository's
// (/datasets/OWNER/NAME/resolve/main/PATH) and lists them as its API does
// (/api/datasets/OWNER/NAME/tree/main[/PATH], the path escaped whole, one level, pages of at
// most 2 entries linked by a Link header), counting the requests by path.
type fakeHub struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string]int
}

func newFakeHub(t *testing.T, root string) *fakeHub {
	t.Helper()
	h := &fakeHub{requests: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.requests[r.URL.Path]++
		h.mu.Unlock()
		if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/datasets/"); ok {
			parts := strings.SplitN(rest, "/", 5) // OWNER NAME tree main [PATH]
			if len(parts) < 4 || parts[2] != "tree" || parts[3] != "main" || strings.Contains(r.URL.RawQuery, "cursor=x") {
				http.NotFound(w, r)
				return
			}
			folder := ""
			if len(parts) == 5 {
				if strings.Contains(parts[4], "/") {
					http.Error(w, "the path must be escaped whole", http.StatusBadRequest)
					return
				}
				folder = strings.ReplaceAll(parts[4], "%2F", "/")
			}
			entries, err := os.ReadDir(filepath.Join(root, "datasets", parts[0], parts[1], "resolve", "main", filepath.FromSlash(folder)))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			type entry struct {
				Type string `json:"type"`
				Path string `json:"path"`
				Size int64  `json:"size"`
			}
			var list []entry
			for _, e := range entries {
				info, _ := e.Info()
				kind := "file"
				if e.IsDir() {
					kind = "directory"
				}
				list = append(list, entry{kind, path.Join(folder, e.Name()), info.Size()})
			}
			page := 0
			fmt.Sscanf(r.URL.Query().Get("cursor"), "%d", &page)
			end := min(len(list), 2*page+2)
			if end < len(list) {
				w.Header().Set("Link", fmt.Sprintf(`<%s%s?cursor=%d>; rel="next"`, h.URL, r.URL.Path, page+1))
			}
			json.NewEncoder(w).Encode(list[min(2*page, len(list)):end])
			return
		}
		http.ServeFile(w, r, filepath.Join(root, filepath.FromSlash(r.URL.Path)))
	}))
	t.Cleanup(h.Close)
	t.Setenv("HF_ENDPOINT", h.URL)
	return h
}

// TestHubFolder: a folder of a Hub repository without an information file is listed through the
// Hub's API, page by page, its shards split by their names or by its split folders, as a bucket's
// folder is; they are then scanned, and give the samples that timm reads from the same shards.
func TestHubFolder(t *testing.T) {
	fixture, want := timmFixture(t)
	root := t.TempDir()
	named := filepath.Join(root, "datasets", "fish", "named", "resolve", "main")
	split := filepath.Join(root, "datasets", "fish", "split", "resolve", "main")
	for _, dir := range []string{named, filepath.Join(split, "train"), filepath.Join(split, "validation")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(fixture)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tar") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(fixture, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(named, e.Name()), data)
		sub := "train"
		if strings.Contains(e.Name(), "validation") {
			sub = "validation"
		}
		writeFile(t, filepath.Join(split, sub, e.Name()), data)
	}
	for _, dir := range []string{named, split} {
		writeFile(t, filepath.Join(dir, "notes #1.txt"), []byte("not a shard\n"))
		writeFile(t, filepath.Join(dir, "README.md"), []byte("# a data set\n"))
		writeFile(t, filepath.Join(dir, "classes.txt"), []byte("tench\ngoldfish\nshark\n"))
	}
	hub := newFakeHub(t, root)
	for _, repo := range []string{"named", "split"} {
		for _, sp := range []struct{ ours, timms string }{{SplitTrain, "train"}, {SplitTest, "validation"}} {
			d, err := Open("shards", sp.ours, Options{DataDir: "hf://datasets/fish/" + repo + "/"})
			if err != nil {
				t.Fatalf("%s, %s: %v", repo, sp.ours, err)
			}
			keys, labels := keysAndLabels(t, d.(*Shards))
			if w := want[sp.timms]; !slices.Equal(keys, w.Names) || !slices.Equal(labels, w.Cls) {
				t.Errorf("%s, %s split: samples %q, labels %v; want %q, %v", repo, sp.ours, keys, labels, w.Names, w.Cls)
			}
		}
	}
	// The named repository's root was listed in four pages each time (7 entries, 2 a page).
	if n := hub.requests["/api/datasets/fish/named/tree/main"]; n < 4 || n%4 != 0 {
		t.Errorf("%d requests of the named repository's listing, want 4 pages a listing", n)
	}
	if n := hub.requests["/api/datasets/fish/split/tree/main/train"]; n == 0 {
		t.Errorf("the split folder train/ was not listed: %v", hub.requests)
	}
}
