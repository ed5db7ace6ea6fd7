package datasets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// A shard's location is a file path, an http:// or https:// URL, an object of a cloud store
// (s3://BUCKET/KEY, gs://BUCKET/OBJECT: internal/remote), or "pipe:COMMAND": a shell command that
// writes the shard to its standard output, as WebDataset reads ("pipe:aws s3 cp
// s3://bucket/train-000000.tar -"). Brace patterns expand over the whole location, the command
// included.

// isPipe reports whether loc is a "pipe:" command.
func isPipe(loc string) bool { return strings.HasPrefix(loc, "pipe:") }

// isRemote reports whether loc is read as a stream (a URL or a pipe), not as a local file.
func isRemote(loc string) bool { return remote.IsURL(loc) || isPipe(loc) }

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
	case remote.IsURL(loc):
		r, err := remote.Open(ctx, loc)
		if err != nil {
			return nil, 0, nil, err
		}
		return r, r.Size(), nil, nil
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
	return errors.Is(err, os.ErrNotExist) || remote.NotFound(err)
}
