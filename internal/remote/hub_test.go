package remote

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestIsHub(t *testing.T) {
	t.Setenv("HF_ENDPOINT", "https://hf-mirror.example:8443")
	for host, want := range map[string]bool{
		"huggingface.co": true, "HuggingFace.co:443": true, "cdn-lfs.huggingface.co": true, "hf.co": true, "cas-bridge.xethub.hf.co": true,
		"hf-mirror.example:8443": true, "hf-mirror.example": false,
		"evilhuggingface.co": false, "huggingface.co.example.com": false, "example.com": false, "[::1]:80": false,
	} {
		if got := isHub(host); got != want {
			t.Errorf("isHub(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestHubToken: a request to the Hub (here a server that HF_ENDPOINT names) carries the token of
// HF_TOKEN, else of the file huggingface-cli login writes ($HF_TOKEN_PATH, else $HF_HOME/token),
// as "Authorization: Bearer TOKEN"; a request to another host carries none, nor does a redirect
// from the Hub to another host (the Hub's signed storage URLs). A refusal says what to do, and
// where the token sent came from.
func TestHubToken(t *testing.T) {
	var mu sync.Mutex // guards seen, which the servers' goroutines append to
	var seen []string
	saw := func(who string, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, who+":"+r.Header.Get("Authorization"))
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw("other", r)
		io.WriteString(w, "shard")
	}))
	defer other.Close()
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw("hub", r)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, other.URL+"/signed", http.StatusFound)
		case "/gated":
			http.Error(w, "Access to dataset is restricted", http.StatusUnauthorized)
		default:
			io.WriteString(w, "shard")
		}
	}))
	defer hub.Close()
	// The Hub by another host name than the other server's (127.0.0.1): Go's client keeps the
	// header across a redirect to the same host name only.
	hubURL := strings.Replace(hub.URL, "127.0.0.1", "localhost", 1)
	t.Setenv("HF_ENDPOINT", hubURL)
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	get := func(loc string) error {
		t.Helper()
		mu.Lock()
		seen = nil
		mu.Unlock()
		r, err := Open(context.Background(), loc)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.ReadAll(r)
		mu.Lock() // the requests are answered: what the servers saw is read after this
		defer mu.Unlock()
		return err
	}
	for _, tc := range []struct {
		name, env, file, path, want string
	}{
		{"HF_TOKEN", "hf_env", "", "", "hub:Bearer hf_env"},
		{"HF_HOME/token", "", "hf_file\n", "", "hub:Bearer hf_file"},
		{"HF_TOKEN_PATH", "", "", "hf_path\n", "hub:Bearer hf_path"},
		{"none", "", "", "", "hub:"},
	} {
		t.Setenv("HF_TOKEN", tc.env)
		os.Remove(filepath.Join(home, "token"))
		if tc.file != "" {
			os.WriteFile(filepath.Join(home, "token"), []byte(tc.file), 0o600)
		}
		t.Setenv("HF_TOKEN_PATH", "")
		if tc.path != "" {
			p := filepath.Join(t.TempDir(), "elsewhere")
			os.WriteFile(p, []byte(tc.path), 0o600)
			os.WriteFile(filepath.Join(home, "token"), []byte("hf_not_this_one"), 0o600)
			t.Setenv("HF_TOKEN_PATH", p)
		}
		if err := get(hubURL + "/shard.tar"); err != nil || len(seen) != 1 || seen[0] != tc.want {
			t.Errorf("%s: %v, the Hub saw %q; want %q", tc.name, err, seen, tc.want)
		}
	}
	t.Setenv("HF_TOKEN", "hf_env")
	if err := get(other.URL + "/shard.tar"); err != nil || len(seen) != 1 || seen[0] != "other:" {
		t.Errorf("another host: %v, it saw %q; want no token", err, seen)
	}
	if err := get(hubURL + "/redirect"); err != nil || len(seen) != 2 || seen[0] != "hub:Bearer hf_env" || seen[1] != "other:" {
		t.Errorf("a redirect from the Hub to another host: %v, seen %q; want the token sent to the Hub only", err, seen)
	}
	// Refusals say what to do, and which token was refused.
	err := get(hubURL + "/gated")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "the Hub refused the token from HF_TOKEN") {
		t.Errorf("a refused token: %v", err)
	}
	t.Setenv("HF_TOKEN", "")
	os.Remove(filepath.Join(home, "token"))
	err = get(hubURL + "/gated")
	if err == nil || !strings.Contains(err.Error(), "needs your access token") || !strings.Contains(err.Error(), "HF_TOKEN=hf_") {
		t.Errorf("a gated data set without a token: %v", err)
	}
}

// TestHubURL: hf:// URIs give the URLs that huggingface_hub 2.5.0 gives for them
// (hf_hub_url of what parse_hf_uri reads), but for the path, which it percent-encodes and
// HubURL leaves as it is, so that a brace pattern stays one; HF_ENDPOINT replaces the host;
// other locations and malformed URIs are left as they are.
func TestHubURL(t *testing.T) {
	t.Setenv("HF_ENDPOINT", "")
	for _, c := range []struct{ uri, want string }{
		{"hf://datasets/timm/imagenet-1k-wds/_info.json", "https://huggingface.co/datasets/timm/imagenet-1k-wds/resolve/main/_info.json"},
		{"hf://datasets/timm/imagenet-1k-wds/imagenet1k-train-{0000..1023}.tar", "https://huggingface.co/datasets/timm/imagenet-1k-wds/resolve/main/imagenet1k-train-{0000..1023}.tar"},
		{"hf://datasets/my-org/my-ds@v1.0/data/train.tar", "https://huggingface.co/datasets/my-org/my-ds/resolve/v1.0/data/train.tar"},
		{"hf://datasets/my-org/my-ds@refs/convert/parquet/default/train/0000.parquet", "https://huggingface.co/datasets/my-org/my-ds/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet"},
		{"hf://datasets/my-org/my-ds@refs%2Fpr%2F3/x.tar", "https://huggingface.co/datasets/my-org/my-ds/resolve/refs%2Fpr%2F3/x.tar"},
		{"hf://datasets/my-org/my-ds@refs/pr/3/x.tar", "https://huggingface.co/datasets/my-org/my-ds/resolve/refs%2Fpr%2F3/x.tar"},
		{"hf://my-org/my-model/config.json", "https://huggingface.co/my-org/my-model/resolve/main/config.json"},
		{"hf://spaces/my-org/app/file.txt", "https://huggingface.co/spaces/my-org/app/resolve/main/file.txt"},
		{"hf://datasets/my-org/my-ds/dir/file@1.tar", "https://huggingface.co/datasets/my-org/my-ds/resolve/main/dir/file@1.tar"},
		{"hf://datasets/my-org/my-ds/", "https://huggingface.co/datasets/my-org/my-ds/resolve/main/"},
		{"hf://datasets/my-org/my-ds/shards/", "https://huggingface.co/datasets/my-org/my-ds/resolve/main/shards/"},
		{"hf://datasets/o/n@/x", "hf://datasets/o/n@/x"}, // an empty revision: refused by parse_hf_uri
		{"hf://datasets", "hf://datasets"},
		{"/data/shards", "/data/shards"},
		{"https://host/x.tar", "https://host/x.tar"},
	} {
		if got := HubURL(c.uri); got != c.want {
			t.Errorf("HubURL(%q) = %q, want %q", c.uri, got, c.want)
		}
	}
	t.Setenv("HF_ENDPOINT", "https://hf-mirror.example/")
	if got, want := HubURL("hf://datasets/timm/x/_info.json"), "https://hf-mirror.example/datasets/timm/x/resolve/main/_info.json"; got != want {
		t.Errorf("with HF_ENDPOINT: %q, want %q", got, want)
	}
}

// TestHubFolder: the URL of a folder of a Hub repository gives the URL of the Hub's API that
// lists it (its path escaped whole, as huggingface_hub's list_repo_tree quotes it) and the URL
// its files resolve against; other URLs are not a Hub folder. A Link header's next page is found.
func TestHubFolder(t *testing.T) {
	t.Setenv("HF_ENDPOINT", "")
	for _, c := range []struct{ loc, tree, resolve string }{
		{"https://huggingface.co/datasets/o/n/resolve/main/", "https://huggingface.co/api/datasets/o/n/tree/main", "https://huggingface.co/datasets/o/n/resolve/main/"},
		{"https://huggingface.co/datasets/o/n/resolve/main/data/train/", "https://huggingface.co/api/datasets/o/n/tree/main/data%2Ftrain", "https://huggingface.co/datasets/o/n/resolve/main/"},
		{"https://huggingface.co/datasets/o/n/resolve/refs%2Fconvert%2Fparquet/default/", "https://huggingface.co/api/datasets/o/n/tree/refs%2Fconvert%2Fparquet/default", "https://huggingface.co/datasets/o/n/resolve/refs%2Fconvert%2Fparquet/"},
		{"https://hf.co/o/model/resolve/v1/", "https://hf.co/api/models/o/model/tree/v1", "https://hf.co/o/model/resolve/v1/"},
		{"https://huggingface.co/datasets/o/n/resolve/main/train-0000.tar", "", ""}, // a file
		{"https://example.com/datasets/o/n/resolve/main/", "", ""},                  // not the Hub
		{"https://huggingface.co/datasets/o/n/blob/main/", "", ""},                  // not resolve
		{"s3://bucket/datasets/o/n/resolve/main/", "", ""},
	} {
		tree, resolve, ok := hubFolder(c.loc)
		if tree != c.tree || resolve != c.resolve || ok != (c.tree != "") {
			t.Errorf("hubFolder(%q) = %q, %q, %v; want %q, %q", c.loc, tree, resolve, ok, c.tree, c.resolve)
		}
	}
	for header, want := range map[string]string{
		`<https://huggingface.co/api/datasets/o/n/tree/main?cursor=abc>; rel="next"`: "https://huggingface.co/api/datasets/o/n/tree/main?cursor=abc",
		`<https://h/a?p=1>; rel="prev", <https://h/a?p=3>; rel="next"`:               "https://h/a?p=3",
		`<https://h/a?p=1>; rel="prev"`:                                              "",
		``:                                                                           "",
	} {
		if got := nextLink(header); got != want {
			t.Errorf("nextLink(%q) = %q, want %q", header, got, want)
		}
	}
}

// TestHubListLoop: a listing whose next page is one already read is an error, not a loop.
func TestHubListLoop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "<http://"+r.Host+r.URL.Path+">; rel=\"next\"")
		w.Write([]byte(`[{"type": "file", "path": "a b#1.tar", "size": 3}]`))
	}))
	defer srv.Close()
	t.Setenv("HF_ENDPOINT", srv.URL)
	_, _, err := HubList(context.Background(), srv.URL+"/datasets/o/n/resolve/main/")
	if err == nil || !strings.Contains(err.Error(), "(listing, page 2): the Hub links back to page "+srv.URL+"/api/datasets/o/n/tree/main") {
		t.Errorf("a listing that links to itself: %v", err)
	}
}
