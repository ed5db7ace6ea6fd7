package remote

import (
	"net/url"
	"os"
	"path/filepath"
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
