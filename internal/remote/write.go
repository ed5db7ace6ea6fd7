package remote

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
)

// upload is the body of a PUT: a local file, with the digests the stores check it against.
type upload struct {
	path   string
	size   int64
	sha256 string // hex: S3's payload hash, which the signature covers
	md5    []byte // S3's Content-MD5, GCS's X-Goog-Hash
}

// newUpload takes the digests of the file at path, both at once (two readers of the file: a
// checkpoint of a gigabyte takes half the time of one reader feeding both).
func newUpload(path string) (*upload, error) {
	hashes := []hash.Hash{sha256.New(), md5.New()}
	sizes, errs := make([]int64, 2), make([]error, 2)
	var wg sync.WaitGroup
	for i, h := range hashes {
		wg.Go(func() {
			f, err := os.Open(path)
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			sizes[i], errs[i] = io.Copy(h, f)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if sizes[0] != sizes[1] {
		return nil, fmt.Errorf("%s changed while it was being read", path)
	}
	return &upload{path: path, size: sizes[0], sha256: hex.EncodeToString(hashes[0].Sum(nil)), md5: hashes[1].Sum(nil)}, nil
}

// open opens the file again for a try; a file whose length changed since its digests were taken
// is refused (the store would refuse it too, less clearly).
func (u *upload) open() (io.ReadCloser, error) {
	f, err := os.Open(u.path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.Size() != u.size {
		f.Close()
		return nil, fmt.Errorf("%s changed while it was being uploaded", u.path)
	}
	return f, nil
}

// Put uploads the local file at path to the object loc (s3://BUCKET/KEY, gs://BUCKET/OBJECT),
// replacing it, and returns the MD5 of what was stored (hex). The store checks the body against
// the file's MD5 (S3's Content-MD5, GCS's X-Goog-Hash) and refuses a damaged one; a failure that
// may pass is tried again, the whole file each time.
func Put(ctx context.Context, loc, path string) (md5Hex string, err error) {
	up, err := newUpload(path)
	if err != nil {
		return "", err
	}
	resp, err := do(ctx, http.MethodPut, loc, func(ctx context.Context) (*http.Request, error) {
		return objectRequest(ctx, http.MethodPut, loc, http.Header{}, up)
	})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	want := hex.EncodeToString(up.md5)
	if got := uploadedMD5(loc, resp); got != "" && got != want {
		return "", fmt.Errorf("PUT %s: the store holds MD5 %s, but %s has %s: upload it again", loc, got, path, want)
	}
	return want, nil
}

// uploadedMD5 is the MD5 (hex) that the store's answer to an upload gives, or "": S3's ETag,
// GCS's md5Hash.
func uploadedMD5(loc string, resp *http.Response) string {
	if strings.HasPrefix(loc, "gs://") {
		var o struct{ MD5Hash string }
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&o) != nil {
			return ""
		}
		return gcsMD5(o.MD5Hash)
	}
	return s3MD5(resp.Header.Get("ETag"))
}

// Delete removes the object loc; one that is not there is no error.
func Delete(ctx context.Context, loc string) error {
	resp, err := do(ctx, http.MethodDelete, loc, func(ctx context.Context) (*http.Request, error) {
		return objectRequest(ctx, http.MethodDelete, loc, http.Header{}, nil)
	})
	if err != nil {
		if st := (*StatusError)(nil); errors.As(err, &st) && st.Code == http.StatusNotFound {
			return nil
		}
		return err
	}
	resp.Body.Close()
	return nil
}

// do sends the request that build makes until it succeeds (2xx), fails in a way trying again will
// not change, or has failed RetryAttempts times (waiting between tries as the policy says).
func do(ctx context.Context, method, loc string, build func(context.Context) (*http.Request, error)) (*http.Response, error) {
	for fails := 0; ; {
		req, err := build(ctx)
		if err != nil {
			return nil, &errRequest{method: method, url: loc, err: err}
		}
		resp, err := httpClient.Do(req)
		if err == nil && resp.StatusCode/100 == 2 {
			return resp, nil
		}
		if err == nil {
			err = statusError(method, loc, resp)
			resp.Body.Close()
		} else {
			err = fmt.Errorf("%s %s: %w", method, loc, err)
		}
		if !retryable(err) {
			return nil, err
		}
		if fails++; fails >= RetryAttempts {
			return nil, fmt.Errorf("%w (tried %d times)", err, fails)
		}
		if err := backoff(ctx, fails); err != nil {
			return nil, err
		}
	}
}
