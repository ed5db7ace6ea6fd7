// Package remote reads and writes what does not lie on this machine's disks: http:// and
// https:// URLs, objects of Amazon S3 (s3://BUCKET/KEY, or of a store that speaks its API) and of
// Google Cloud Storage (gs://BUCKET/OBJECT).
//
// Reading (Open) resumes a body that breaks off with Range requests and retries what may pass;
// buckets are listed (List), written (Put) and cleaned (Delete) with the credentials of the
// user's environment, found as the clouds' own tools find them (objectstore.go).
package remote

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// IsURL reports whether loc is read over HTTP: an http:// or https:// URL, or an object location.
func IsURL(loc string) bool {
	l := strings.ToLower(loc)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || IsObject(loc)
}

// The retry policy: a request that fails, or a body that breaks off, is tried again (a body from
// the byte where it stopped, with a Range request) up to RetryAttempts times in a row without
// progress, waiting RetryWait, then twice as long each time. A body that delivers nothing for
// IdleTimeout is broken off. Variables for the tests.
var (
	RetryAttempts = 6
	RetryWait     = time.Second
	IdleTimeout   = 2 * time.Minute
	httpClient    = &http.Client{Transport: httpTransport()}
)

func httpTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return t
}

// StatusError is a response that trying again will not change (404, 403, ...).
type StatusError struct {
	Method string
	URL    string // the location, as messages name it
	Status string
	Code   int
	Detail string // the server's own words, when it gave some (S3's and GCS's error bodies)
	// HubToken says where the Hugging Face token sent with a request to the Hub came from ("":
	// none was sent, or the request was not to the Hub).
	HubToken string
}

func (e *StatusError) Error() string {
	hint := ""
	refused := e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden
	missing := e.Code == http.StatusNotFound && e.Method == http.MethodGet
	switch {
	case (refused || missing) && e.hub():
		hint = ": " + hubHint(e.Code, e.HubToken)
	case missing && IsObject(e.URL) && !strings.Contains(path.Base(e.URL), "."):
		hint = ": no such object; to list a folder of shards, end it with /"
	case missing:
		hint = ": check the URL (and the pattern's range)"
	case refused && IsObject(e.URL):
		hint = ": " + authHint(e.URL, e.Method != http.MethodGet)
	case refused:
		hint = ": the server refuses it; for a private bucket give an s3:// or gs:// location, a signed URL, or a pipe: command"
	}
	detail := ""
	if e.Detail != "" {
		detail = " (" + e.Detail + ")"
	}
	return fmt.Sprintf("%s %s: HTTP status %s%s%s", e.Method, e.URL, e.Status, detail, hint)
}

// hub reports whether e is an answer of the Hugging Face Hub (isHub).
func (e *StatusError) hub() bool {
	u, err := url.Parse(e.URL)
	return err == nil && !IsObject(e.URL) && isHub(u.Host)
}

// NotFound reports whether err is a refusal that says the resource is not there to be read: HTTP
// 404, or 403 (S3 answers 403 for a missing key to whoever may not list the bucket).
func NotFound(err error) bool {
	var st *StatusError
	return errors.As(err, &st) && (st.Code == http.StatusNotFound || st.Code == http.StatusForbidden)
}

// statusError is the error of resp, a response that is not a success, reading its body.
func statusError(method, name string, resp *http.Response) *StatusError {
	return &StatusError{Method: method, URL: name, Status: resp.Status, Code: resp.StatusCode, Detail: errorDetail(resp.Body)}
}

// errorDetail is the message of an S3 (XML) or GCS (JSON) error body, or "".
func errorDetail(body io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(body, 8<<10))
	var x struct{ Code, Message string }
	if xml.Unmarshal(data, &x) == nil && x.Code != "" {
		return strings.TrimSpace(x.Code + ": " + x.Message)
	}
	var j struct {
		Error struct{ Message string } `json:"error"`
	}
	if json.Unmarshal(data, &j) == nil && j.Error.Message != "" {
		return j.Error.Message
	}
	return ""
}

// errRequest is a request that could not be made (credentials, configuration): not tried again.
type errRequest struct {
	method, url string
	err         error
}

func (e *errRequest) Error() string { return fmt.Sprintf("%s %s: %v", e.method, e.url, e.err) }
func (e *errRequest) Unwrap() error { return e.err }

// retryable reports whether trying again may change the outcome of a request that failed with
// err: a network error, a server error, 429 or 408; not a refusal, nor a request that could not be
// made.
func retryable(err error) bool {
	var st *StatusError
	var rq *errRequest
	if errors.As(err, &rq) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return !errors.As(err, &st) || st.Code >= 500 || st.Code == http.StatusTooManyRequests || st.Code == http.StatusRequestTimeout
}

// backoff waits before try number fails+1: RetryWait, doubled with each failure in a row.
func backoff(ctx context.Context, fails int) error {
	t := time.NewTimer(RetryWait << (fails - 1))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestBuilder makes the request of a resource, with header (a Range when resuming).
type requestBuilder func(ctx context.Context, header http.Header) (*http.Request, error)

// Reader reads a URL or an object from start to end, resuming with Range requests after a
// failure.
type Reader struct {
	ctx    context.Context // ends the requests and the waits between them
	url    string          // the location, as messages name it
	build  requestBuilder
	off    int64       // bytes delivered so far
	size   int64       // from the first response; -1 when the server does not say
	header http.Header // the first response's headers
	body   io.ReadCloser
	cancel context.CancelFunc
	idle   *time.Timer
	fails  int // failures in a row, without a byte between them
	closed bool
}

// Open starts reading the URL or object loc, until ctx ends. The first request's failure is
// returned as it is (after the retries, for failures that may pass); later ones surface from Read.
func Open(ctx context.Context, loc string) (*Reader, error) {
	return openRequest(ctx, loc, func(ctx context.Context, header http.Header) (*http.Request, error) {
		if IsObject(loc) {
			return objectRequest(ctx, http.MethodGet, loc, header, nil)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
		if err == nil {
			maps.Copy(req.Header, header)
			if isHub(req.URL.Host) {
				if token, _ := hubToken(); token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
			}
		}
		return req, err
	})
}

// openRequest starts reading the resource that build requests, named name in messages.
func openRequest(ctx context.Context, name string, build requestBuilder) (*Reader, error) {
	r := &Reader{ctx: ctx, url: name, build: build, size: -1}
	if err := r.connect(); err != nil {
		return nil, err
	}
	return r, nil
}

// Size is the length of the body in bytes, as the server gave it, or -1.
func (r *Reader) Size() int64 { return r.size }

// connect requests the rest of the body from r.off, retrying what may pass.
func (r *Reader) connect() error {
	for {
		err := r.request()
		if err == nil {
			return nil
		}
		if !retryable(err) {
			return err
		}
		r.fails++
		if r.fails >= RetryAttempts {
			return fmt.Errorf("%w (tried %d times)", err, r.fails)
		}
		if err := backoff(r.ctx, r.fails); err != nil {
			return err
		}
	}
}

func (r *Reader) request() error {
	ctx, cancel := context.WithCancel(r.ctx)
	header := http.Header{}
	if r.off > 0 {
		header.Set("Range", fmt.Sprintf("bytes=%d-", r.off))
	}
	req, err := r.build(ctx, header)
	if err != nil {
		cancel()
		return &errRequest{method: http.MethodGet, url: r.url, err: err}
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		cancel()
		return err
	}
	fail := func(err error) error {
		resp.Body.Close()
		cancel()
		return err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && r.off > 0:
		var first int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &first); err != nil || first != r.off {
			return fail(fmt.Errorf("GET %s from byte %d: the server answered with Content-Range %q", r.url, r.off, resp.Header.Get("Content-Range")))
		}
	case resp.StatusCode == http.StatusOK:
		if r.off == 0 {
			r.size, r.header = resp.ContentLength, resp.Header
		} else if _, err := io.CopyN(io.Discard, resp.Body, r.off); err != nil { // no Range support: skip what was read
			return fail(fmt.Errorf("GET %s: skipping the %d bytes read before: %w", r.url, r.off, err))
		}
	default:
		st := statusError(http.MethodGet, r.url, resp)
		if req.Header.Get("Authorization") != "" && isHub(req.URL.Host) {
			_, st.HubToken = hubToken()
		}
		return fail(st)
	}
	r.body, r.cancel = resp.Body, cancel
	r.idle = time.AfterFunc(IdleTimeout, cancel)
	return nil
}

func (r *Reader) drop() {
	if r.body != nil {
		r.idle.Stop()
		r.body.Close()
		r.cancel()
		r.body = nil
	}
}

// Read reads the body; a connection that breaks off is opened again where it stopped.
func (r *Reader) Read(p []byte) (int, error) {
	for {
		if r.closed {
			return 0, errors.New("read after close")
		}
		if r.body == nil {
			if err := r.connect(); err != nil {
				return 0, fmt.Errorf("%w, after %d bytes", err, r.off)
			}
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if n > 0 {
			r.fails = 0
			r.idle.Reset(IdleTimeout)
		}
		if err == io.EOF && (r.size < 0 || r.off == r.size) {
			return n, io.EOF
		}
		if err == nil || n > 0 && err == io.EOF {
			if err != nil {
				r.drop() // short of the length the server gave: ask for the rest
			}
			return n, nil
		}
		r.drop()
		r.fails++
		if r.fails >= RetryAttempts || r.ctx.Err() != nil {
			return n, fmt.Errorf("reading %s: %w (after %d bytes; tried %d times)", r.url, err, r.off, r.fails)
		}
		if err := backoff(r.ctx, r.fails); err != nil {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Close ends the request.
func (r *Reader) Close() error {
	r.drop()
	r.closed = true
	return nil
}
