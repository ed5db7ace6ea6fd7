package remote

import (
	"net/url"
	"os"
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
