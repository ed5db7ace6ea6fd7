package datasets

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"
	"time"
)

// A shard's location is a file path, an http:// or https:// URL, an object of a cloud store
// (s3://BUCKET/KEY, gs://BUCKET/OBJECT: objectstore.go), or "pipe:COMMAND": a shell command that
// writes the shard to its standard output, as WebDataset reads ("pipe:aws s3 cp
// s3://bucket/train-000000.tar -"). Brace patterns expand over the whole location, the command
// included.

// isURL reports whether loc is read over HTTP: an http:// or https:// URL, or an object location.
func isURL(loc string) bool {
	l := strings.ToLower(loc)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || isObject(loc)
}

// isPipe reports whether loc is a "pipe:" command.
func isPipe(loc string) bool { return strings.HasPrefix(loc, "pipe:") }

// isRemote reports whether loc is read as a stream (a URL or a pipe), not as a local file.
func isRemote(loc string) bool { return isURL(loc) || isPipe(loc) }

// HTTP reading's retry policy: a request that fails, or a body that breaks off, is tried again
// (from the byte where it stopped, with a Range request) up to httpAttempts times in a row without
// progress, waiting httpRetryWait, then twice as long each time. A body that delivers nothing for
// httpIdle is broken off. Variables for the tests.
var (
	httpAttempts  = 6
	httpRetryWait = time.Second
	httpIdle      = 2 * time.Minute
	httpClient    = &http.Client{Transport: httpTransport()}
)

func httpTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return t
}

// httpReader reads a URL from start to end, resuming with Range requests after a failure.
type httpReader struct {
	ctx    context.Context // ends the requests and the waits between them
	url    string          // the location, as messages name it
	build  requestBuilder
	off    int64 // bytes delivered so far
	size   int64 // from the first response; -1 when the server does not say
	body   io.ReadCloser
	cancel context.CancelFunc
	idle   *time.Timer
	fails  int // failures in a row, without a byte between them
	closed bool
}

// errHTTPStatus is a response that trying again will not change (404, 403, ...).
type errHTTPStatus struct {
	url    string
	status string
	code   int
	detail string // the server's own words, when it gave some (S3's and GCS's error bodies)
}

func (e *errHTTPStatus) Error() string {
	hint := ""
	switch e.code {
	case http.StatusNotFound:
		hint = ": check the URL (and the pattern's range)"
		if isObject(e.url) && !strings.Contains(path.Base(e.url), ".") {
			hint = ": no such object; to list a folder of shards, end it with /"
		}
	case http.StatusUnauthorized, http.StatusForbidden:
		if isObject(e.url) {
			hint = ": " + objectAuthHint(e.url)
		} else {
			hint = ": the server refuses it; for a private bucket give an s3:// or gs:// location, a signed URL, or a pipe: command"
		}
	}
	detail := ""
	if e.detail != "" {
		detail = " (" + e.detail + ")"
	}
	return fmt.Sprintf("GET %s: HTTP status %s%s%s", e.url, e.status, detail, hint)
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
	url string
	err error
}

func (e *errRequest) Error() string { return fmt.Sprintf("GET %s: %v", e.url, e.err) }
func (e *errRequest) Unwrap() error { return e.err }

// requestBuilder makes the GET request of a resource, with header (a Range when resuming).
type requestBuilder func(ctx context.Context, header http.Header) (*http.Request, error)

// openURL starts reading the URL or object loc, until ctx ends. The first request's failure is
// returned as it is (after the retries, for failures that may pass); later ones surface from Read.
func openURL(ctx context.Context, loc string) (*httpReader, error) {
	return openRequest(ctx, loc, func(ctx context.Context, header http.Header) (*http.Request, error) {
		if isObject(loc) {
			return objectRequest(ctx, loc, header)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
		if err == nil {
			maps.Copy(req.Header, header)
		}
		return req, err
	})
}

// openRequest starts reading the resource that build requests, named name in messages.
func openRequest(ctx context.Context, name string, build requestBuilder) (*httpReader, error) {
	r := &httpReader{ctx: ctx, url: name, build: build, size: -1}
	if err := r.connect(); err != nil {
		return nil, err
	}
	return r, nil
}

// connect requests the rest of the body from r.off, retrying what may pass.
func (r *httpReader) connect() error {
	for {
		err := r.request()
		if err == nil {
			return nil
		}
		var st *errHTTPStatus
		var rq *errRequest
		if errors.As(err, &rq) || errors.As(err, &st) && st.code < 500 && st.code != http.StatusTooManyRequests && st.code != http.StatusRequestTimeout {
			return err
		}
		r.fails++
		if r.fails >= httpAttempts {
			return fmt.Errorf("%w (tried %d times)", err, r.fails)
		}
		if err := r.wait(); err != nil {
			return err
		}
	}
}

// wait waits before the next try: httpRetryWait, doubled with each failure in a row.
func (r *httpReader) wait() error {
	t := time.NewTimer(httpRetryWait << (r.fails - 1))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

func (r *httpReader) request() error {
	ctx, cancel := context.WithCancel(r.ctx)
	header := http.Header{}
	if r.off > 0 {
		header.Set("Range", fmt.Sprintf("bytes=%d-", r.off))
	}
	req, err := r.build(ctx, header)
	if err != nil {
		cancel()
		return &errRequest{url: r.url, err: err}
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
			r.size = resp.ContentLength
		} else if _, err := io.CopyN(io.Discard, resp.Body, r.off); err != nil { // no Range support: skip what was read
			return fail(fmt.Errorf("GET %s: skipping the %d bytes read before: %w", r.url, r.off, err))
		}
	default:
		return fail(&errHTTPStatus{url: r.url, status: resp.Status, code: resp.StatusCode, detail: errorDetail(resp.Body)})
	}
	r.body, r.cancel = resp.Body, cancel
	r.idle = time.AfterFunc(httpIdle, cancel)
	return nil
}

func (r *httpReader) drop() {
	if r.body != nil {
		r.idle.Stop()
		r.body.Close()
		r.cancel()
		r.body = nil
	}
}

// Read reads the body; a connection that breaks off is opened again where it stopped.
func (r *httpReader) Read(p []byte) (int, error) {
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
			r.idle.Reset(httpIdle)
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
		if r.fails >= httpAttempts || r.ctx.Err() != nil {
			return n, fmt.Errorf("reading %s: %w (after %d bytes; tried %d times)", r.url, err, r.off, r.fails)
		}
		if err := r.wait(); err != nil {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Close ends the request.
func (r *httpReader) Close() error {
	r.drop()
	r.closed = true
	return nil
}

// pipeReader reads the standard output of a "pipe:" command.
type pipeReader struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *tailBuffer
	done   bool
	err    error // once done: io.EOF, or how the command failed
}

func openPipe(ctx context.Context, loc string) (*pipeReader, error) {
	command := strings.TrimSpace(strings.TrimPrefix(loc, "pipe:"))
	if command == "" {
		return nil, errors.New("pipe: without a command")
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	stderr := &tailBuffer{max: 2000}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second // a child left running with the output open does not hang Wait
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %q: %w", command, err)
	}
	return &pipeReader{cmd: cmd, out: out, stderr: stderr}, nil
}

// Read reads the command's output; at its end, a command that failed is an error with what it
// wrote to its standard error.
func (p *pipeReader) Read(b []byte) (int, error) {
	if p.done {
		return 0, p.err
	}
	n, err := p.out.Read(b)
	if err == io.EOF {
		p.done, p.err = true, io.EOF
		if werr := p.cmd.Wait(); werr != nil {
			msg := strings.TrimSpace(p.stderr.String())
			if msg != "" {
				msg = ": " + msg
			}
			p.err = fmt.Errorf("command %q: %w%s", p.cmd.Args[2], werr, msg)
		}
		return n, p.err
	}
	return n, err
}

// Close stops the command if it still runs.
func (p *pipeReader) Close() error {
	if !p.done {
		p.done = true
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.buf, []byte("?")))
}

// openLocation opens a shard or index at loc for reading from its start; size is its length in
// bytes, or -1 when unknown. seeker is the file when loc is one (tar skips members by seeking).
// A download or command stops when ctx ends.
func openLocation(ctx context.Context, loc string) (rc io.ReadCloser, size int64, seeker io.Seeker, err error) {
	switch {
	case isURL(loc):
		r, err := openURL(ctx, loc)
		if err != nil {
			return nil, 0, nil, err
		}
		return r, r.size, nil, nil
	case isPipe(loc):
		p, err := openPipe(ctx, loc)
		return p, -1, nil, err
	}
	f, err := os.Open(loc)
	if err != nil {
		return nil, 0, nil, err
	}
	return fileLocation(f)
}

// fileLocation is openLocation's result for the open file f.
func fileLocation(f *os.File) (rc io.ReadCloser, size int64, seeker io.Seeker, err error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return f, st.Size(), f, nil
}

// readLocation reads the small file at loc (an index, classes.txt), at most limit bytes.
func readLocation(loc string, limit int64) ([]byte, error) {
	rc, _, _, err := openLocation(context.Background(), loc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// notFound reports whether err says that a location does not exist (a missing file, HTTP 404).
func notFound(err error) bool {
	var st *errHTTPStatus
	return errors.Is(err, os.ErrNotExist) || errors.As(err, &st) && (st.code == http.StatusNotFound || st.code == http.StatusForbidden)
}
