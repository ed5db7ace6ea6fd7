package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// The Hugging Face Hub serves gated and private data sets (timm's WebDataset copies of ImageNet
// among them) only to requests that carry a user's access token. Requests to the Hub (a host
// huggingface.co or hf.co, or of their subdomains, or the host of HF_ENDPOINT, a mirror) carry it
// as huggingface_hub sends it, "Authorization: Bearer TOKEN", found where huggingface_hub finds it:
// HF_TOKEN, else the file that huggingface-cli login writes ($HF_TOKEN_PATH, else
// $HF_HOME/token, HF_HOME being $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface unless set).
// No other host is sent it; Go's client keeps it across a redirect only to the same host or a
// subdomain of it (the Hub's own CDN), not to the signed storage URLs the Hub also redirects to.

// isHub reports whether host (with or without a port) is the Hugging Face Hub's.
func isHub(host string) bool {
	h := strings.ToLower(host)
	if endpoint := os.Getenv("HF_ENDPOINT"); endpoint != "" {
		if u, err := url.Parse(endpoint); err == nil && u.Host != "" && strings.EqualFold(u.Host, h) {
			return true
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	for _, d := range []string{"huggingface.co", "hf.co"} {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}

// hubToken returns the user's Hugging Face token and where it was found ("" and "" when there
// is none).
func hubToken() (token, from string) {
	for _, name := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(name)); t != "" {
			return t, name
		}
	}
	file := os.Getenv("HF_TOKEN_PATH")
	if file == "" {
		home := os.Getenv("HF_HOME")
		if home == "" {
			cache := os.Getenv("XDG_CACHE_HOME")
			if cache == "" {
				dir, err := os.UserHomeDir()
				if err != nil {
					return "", ""
				}
				cache = filepath.Join(dir, ".cache")
			}
			home = filepath.Join(cache, "huggingface")
		}
		file = filepath.Join(home, "token")
	}
	data, err := os.ReadFile(file)
	if err != nil || strings.TrimSpace(string(data)) == "" {
		return "", ""
	}
	return strings.TrimSpace(string(data)), file
}

// hubHint says what to do about a refusal (status code) of the Hub to a request that carried the
// token from tokenFrom ("": none).
func hubHint(code int, tokenFrom string) string {
	give := "give a token with read access (HF_TOKEN=hf_..., or huggingface-cli login)"
	switch {
	case code == 404 && tokenFrom == "":
		return "check the URL; the Hugging Face Hub also answers 404 for a private data set without your access token: " + give
	case code == 404:
		return "check the URL; the Hub also answers 404 for a private data set that the token from " + tokenFrom + " may not read"
	case tokenFrom == "":
		return "a gated or private data set of the Hugging Face Hub needs your access token: accept its terms on its page, then " + give
	}
	return "the Hub refused the token from " + tokenFrom + ": accept the data set's terms on its page with that account, or " + give
}

// HubURL returns the URL of a location of the Hugging Face Hub written as an hf:// URI (as
// huggingface_hub's parse_hf_uri reads it: hf://[datasets/|spaces/]OWNER/NAME[@REVISION][/PATH],
// no prefix for a model): ENDPOINT/[datasets/|spaces/]OWNER/NAME/resolve/REVISION/PATH, as its
// hf_hub_url builds it, but for PATH, left as it is (a brace pattern stays one). The endpoint is
// HF_ENDPOINT's or https://huggingface.co; the revision "main" unless given, escaped
// (refs/convert/parquet becomes refs%2Fconvert%2Fparquet). An "@" names the revision only right
// after OWNER/NAME; refs/convert/WORD and refs/pr/N are revisions whole. A trailing "/" (a
// folder) is kept. Any other location, and an hf:// URI without OWNER/NAME or with an empty
// revision, is returned as it is.
func HubURL(loc string) string {
	rest, ok := strings.CutPrefix(loc, "hf://")
	if !ok {
		return loc
	}
	kind := ""
	for _, k := range []string{"datasets/", "spaces/"} {
		if r, ok := strings.CutPrefix(rest, k); ok {
			kind, rest = k, r
		}
	}
	folder := strings.HasSuffix(rest, "/")
	rest = strings.Trim(rest, "/")
	var repo, rev, path string
	if at := strings.IndexByte(rest, '@'); at >= 0 && strings.Count(rest[:at], "/") <= 1 {
		repo, rev = rest[:at], rest[at+1:]
		if m := specialRef.FindString(rev); m != "" {
			rev, path = m, strings.TrimPrefix(rev[len(m):], "/")
		} else {
			rev, path, _ = strings.Cut(rev, "/")
		}
		if r, err := url.PathUnescape(rev); err == nil {
			rev = r
		}
	} else {
		owner, r, _ := strings.Cut(rest, "/")
		name, p, _ := strings.Cut(r, "/")
		repo, rev, path = owner+"/"+name, "main", p
	}
	if owner, name, _ := strings.Cut(repo, "/"); owner == "" || name == "" || strings.Contains(name, "/") || rev == "" {
		return loc
	}
	if folder && path != "" {
		path += "/"
	}
	endpoint := strings.TrimSuffix(os.Getenv("HF_ENDPOINT"), "/")
	if endpoint == "" {
		endpoint = "https://huggingface.co"
	}
	return endpoint + "/" + kind + repo + "/resolve/" + url.PathEscape(rev) + "/" + path
}

// specialRef matches the revisions whose name holds "/" (huggingface_hub's
// SPECIAL_REFS_REVISION_REGEX): refs/convert/WORD, refs/pr/N.
var specialRef = regexp.MustCompile(`^(refs/convert/\w+|refs/pr/\d+)`)

// hubFolder parses the URL of a folder of a Hub repository,
// SCHEME://HOST/[datasets/|spaces/]OWNER/NAME/resolve/REVISION/[PATH/] (ending in "/", on the
// Hub's host): the URL of the Hub's API that lists its tree, and the URL its files' paths in the
// repository are resolved against. ok is false for any other location.
func hubFolder(loc string) (tree, resolve string, ok bool) {
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || !isHub(u.Host) || !strings.HasSuffix(u.Path, "/") || u.RawQuery != "" {
		return "", "", false
	}
	parts := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	kind := "models"
	if len(parts) > 0 && (parts[0] == "datasets" || parts[0] == "spaces") {
		kind, parts = parts[0], parts[1:]
	}
	if len(parts) < 4 || parts[2] != "resolve" || parts[0] == "" || parts[1] == "" || parts[3] == "" {
		return "", "", false
	}
	base := u.Scheme + "://" + u.Host
	repo := parts[0] + "/" + parts[1]
	tree = base + "/api/" + kind + "/" + repo + "/tree/" + parts[3]
	if path := strings.Join(parts[4:], "/"); path != "" {
		unescaped, err := url.PathUnescape(path)
		if err != nil {
			return "", "", false
		}
		tree += "/" + url.PathEscape(unescaped) // as huggingface_hub quotes it: "/" too
	}
	prefix := "/" + repo + "/resolve/" + parts[3] + "/"
	if kind != "models" {
		prefix = "/" + kind + prefix
	}
	return tree, base + prefix, true
}

// IsHubFolder reports whether loc is the URL of a folder of a repository of the Hugging Face Hub
// (ENDPOINT/datasets/OWNER/NAME/resolve/REVISION/[PATH/], ending in "/"), which HubList lists.
func IsHubFolder(loc string) bool {
	_, _, ok := hubFolder(loc)
	return ok
}

// HubList lists the folder of a Hub repository at loc (IsHubFolder) through the Hub's API, as
// huggingface_hub's list_repo_tree does (GET ENDPOINT/api/datasets/OWNER/NAME/tree/REVISION/PATH,
// its pages followed by their Link header): its files, each by its URL (resolve/REVISION/...)
// and size, and the names of its folders. The Hub gives no MD5 digests.
func HubList(ctx context.Context, loc string) (objects []Object, folders []string, err error) {
	tree, resolve, ok := hubFolder(loc)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not the URL of a folder of a Hugging Face Hub repository", loc)
	}
	next, seen := tree, map[string]bool{}
	for page := 1; next != ""; page++ {
		if seen[next] {
			return nil, nil, fmt.Errorf("%s (listing, page %d): the Hub links back to page %s", loc, page, next)
		}
		seen[next] = true
		r, err := Open(ctx, next)
		if err != nil {
			return nil, nil, err
		}
		data, err := io.ReadAll(io.LimitReader(r, 256<<20))
		link := ""
		if r.header != nil {
			link = r.header.Get("Link")
		}
		r.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s (listing, page %d): %w", loc, page, err)
		}
		var entries []struct {
			Type string `json:"type"`
			Path string `json:"path"`
			Size int64  `json:"size"`
		}
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, nil, fmt.Errorf("%s (listing, page %d): not the Hub's list of files: %w", loc, page, err)
		}
		for _, e := range entries {
			switch e.Type {
			case "file":
				segments := strings.Split(e.Path, "/")
				for i, seg := range segments {
					segments[i] = url.PathEscape(seg) // a name with "?", "#" or " " stays a name
				}
				objects = append(objects, Object{Loc: resolve + strings.Join(segments, "/"), Size: e.Size})
			case "directory":
				folders = append(folders, path.Base(e.Path))
			}
		}
		next = nextLink(link)
	}
	return objects, folders, nil
}

// nextLink is the URL of the link of relation "next" in a Link header ("" for none).
func nextLink(header string) string {
	for _, link := range strings.Split(header, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); k == "rel" && strings.Trim(v, `"`) == "next" {
				return target[1 : len(target)-1]
			}
		}
	}
	return ""
}
