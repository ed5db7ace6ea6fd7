package datasets

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// Resource is one downloadable file and its published checksum (MD5 or SHA-256, hex).
type Resource struct {
	// URL is the canonical download address.
	URL string
	// File is the local file name (defaults to the last element of URL).
	File string
	// MD5 and SHA256 are the published checksums; at least one should be set.
	MD5, SHA256 string
}

func (r Resource) fileName() string {
	if r.File != "" {
		return r.File
	}
	return r.URL[strings.LastIndex(r.URL, "/")+1:]
}

// url returns the download address, with BaseURL replacing everything before the file name.
func (r Resource) url(baseURL string) string {
	if baseURL == "" {
		return r.URL
	}
	return strings.TrimSuffix(baseURL, "/") + "/" + r.URL[strings.LastIndex(r.URL, "/")+1:]
}

// VerifyFile checks the checksum of the file at path against r; it returns an error naming the
// file, the expected and the actual checksum when they differ.
func (r Resource) VerifyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verifying %s: %w", path, err)
	}
	defer f.Close()
	h, want, kind := r.hasher()
	if h == nil {
		return nil
	}
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("verifying %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("checksum mismatch for %s: %s is %s, want %s (corrupt or partial file: delete it to download again)", path, kind, got, want)
	}
	return nil
}

func (r Resource) hasher() (hash.Hash, string, string) {
	switch {
	case r.SHA256 != "":
		return sha256.New(), strings.ToLower(r.SHA256), "sha256"
	case r.MD5 != "":
		return md5.New(), strings.ToLower(r.MD5), "md5"
	}
	return nil, "", ""
}

// Fetch makes sure dir holds a valid copy of r and returns its path. A present file with the right
// checksum is used as is (never downloaded again); a missing one is downloaded from r.URL (or from
// baseURL + file name when baseURL is set), verified while it is written to a temporary file, and
// renamed into place only when valid. With noDownload, a missing or invalid file is an error that
// says where to put it. Progress lines go to progress (nil: none).
func Fetch(r Resource, dir, baseURL string, noDownload bool, progress io.Writer) (string, error) {
	path := filepath.Join(dir, r.fileName())
	if _, err := os.Stat(path); err == nil {
		verr := r.VerifyFile(path)
		if verr == nil {
			return path, nil
		}
		if noDownload {
			return "", verr
		}
		if progress != nil {
			fmt.Fprintf(progress, "%v; downloading again\n", verr)
		}
	} else if noDownload {
		return "", fmt.Errorf("%s is missing and downloads are disabled: download %s into %s", path, r.URL, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating data folder %s: %w", dir, err)
	}
	url := r.url(baseURL)
	if err := download(url, path, r, progress); err != nil {
		return "", fmt.Errorf("downloading %s to %s: %w (download it by hand into %s, or pass another data folder)", url, path, err, dir)
	}
	return path, nil
}

// download writes url to path atomically (internal/atomicfile), checking the size and the
// checksum before the file takes its name. A connection that breaks off is resumed where it
// stopped (remote.Open).
func download(url, path string, r Resource, progress io.Writer) error {
	body, err := remote.Open(context.Background(), url)
	if err != nil {
		return err
	}
	defer body.Close()
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		h, want, kind := r.hasher()
		if h != nil {
			w = io.MultiWriter(w, h)
		}
		pw := &progressWriter{out: progress, name: filepath.Base(path), total: body.Size(), start: time.Now()}
		n, err := io.Copy(w, io.TeeReader(body, pw))
		pw.finish()
		if err != nil {
			return err
		}
		if body.Size() > 0 && n != body.Size() {
			return fmt.Errorf("truncated download: %d of %d bytes", n, body.Size())
		}
		if h != nil {
			if got := hex.EncodeToString(h.Sum(nil)); got != want {
				return fmt.Errorf("checksum mismatch for %s: %s is %s, want %s", url, kind, got, want)
			}
		}
		return nil
	})
}

// progressWriter prints a progress line (bytes, percentage, rate) at most twice a second.
type progressWriter struct {
	out         io.Writer
	name        string
	total, done int64
	start, last time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.out != nil && time.Since(p.last) > 500*time.Millisecond {
		p.last = time.Now()
		p.print("\r")
	}
	return len(b), nil
}

func (p *progressWriter) print(prefix string) {
	rate := float64(p.done) / max(time.Since(p.start).Seconds(), 1e-9) / 1e6
	if p.total > 0 {
		fmt.Fprintf(p.out, "%s%s: %.1f/%.1f MB (%.0f%%) %.1f MB/s", prefix, p.name, float64(p.done)/1e6, float64(p.total)/1e6, 100*float64(p.done)/float64(p.total), rate)
	} else {
		fmt.Fprintf(p.out, "%s%s: %.1f MB %.1f MB/s", prefix, p.name, float64(p.done)/1e6, rate)
	}
}

func (p *progressWriter) finish() {
	if p.out != nil {
		p.print("\r")
		fmt.Fprintln(p.out)
	}
}

// ExtractTarGz extracts the regular files and folders of a .tar.gz archive into dir. Entries that
// would land outside dir are rejected. Files are written atomically (internal/atomicfile), so an
// interrupted extraction never leaves a truncated file under its final name.
func ExtractTarGz(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", archive, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", archive, err)
	}
	tr := tar.NewReader(gz)
	root := filepath.Clean(dir)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extracting %s: %w", archive, err)
		}
		target := filepath.Join(root, hdr.Name)
		if target != root && !strings.HasPrefix(target, root+string(filepath.Separator)) {
			return fmt.Errorf("extracting %s: entry %q escapes %s", archive, hdr.Name, dir)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("extracting %s: %w", archive, err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return fmt.Errorf("extracting %s: %w", archive, err)
			}
			if err := atomicfile.Copy(target, 0o644, tr); err != nil {
				return fmt.Errorf("extracting %s: %w", archive, err)
			}
		}
	}
}

// ensureExtracted makes sure every file of want exists under dir (with the given size when the size
// is > 0), fetching and extracting the archive r when one is missing.
func ensureExtracted(r Resource, dir string, want map[string]int64, opt Options) error {
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	// missing lists what is wrong with the local files, in name order.
	missing := func() string {
		var bad []string
		for _, name := range names {
			p := filepath.Join(dir, name)
			st, err := os.Stat(p)
			if err != nil {
				bad = append(bad, p+" is missing")
			} else if size := want[name]; size > 0 && st.Size() != size {
				bad = append(bad, fmt.Sprintf("%s has %d bytes, want %d", p, st.Size(), size))
			}
		}
		return strings.Join(bad, "; ")
	}
	m := missing()
	if m == "" {
		return nil
	}
	// Whatever happens next, say first what is wrong with the local files.
	var progress io.Writer = os.Stderr
	if opt.Progress != nil {
		progress = opt.Progress
	}
	archive := filepath.Join(dir, r.fileName())
	if opt.NoDownload {
		if _, err := os.Stat(archive); err != nil {
			return fmt.Errorf("%s; %s is missing too and downloads are disabled: download %s and extract it into %s", m, archive, r.URL, dir)
		}
	} else if _, err := os.Stat(archive); err != nil {
		fmt.Fprintf(progress, "%s: downloading %s\n", m, r.url(opt.BaseURL))
	} else {
		fmt.Fprintf(progress, "%s: extracting %s again\n", m, archive)
	}
	archive, err := Fetch(r, dir, opt.BaseURL, opt.NoDownload, progress)
	if err != nil {
		return fmt.Errorf("%s; %w", m, err)
	}
	if err := ExtractTarGz(archive, dir); err != nil {
		return fmt.Errorf("%s; %w", m, err)
	}
	if m2 := missing(); m2 != "" {
		return fmt.Errorf("after extracting %s: %s (the archive does not hold the expected files: delete it to download it again)", archive, m2)
	}
	return nil
}
