package datasets

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// tarSection is the images of one tar in an archive (a class tar of the training archive, or the
// validation archive whole) as its headers list them: what opening the archive reads, and what
// its listing cache keeps.
type tarSection struct {
	WNID    string   // the class, "" for the validation archive
	Names   []string // the members' base names
	Offsets []int64  // where each member's bytes begin in the archive
	Sizes   []int64
}

// listTarSection lists the regular files of the tar that lies in f at offset (size bytes), its
// directories left out and its contents skipped.
func listTarSection(f *os.File, offset, size int64, wnid string) (tarSection, error) {
	r := io.NewSectionReader(f, offset, size)
	tr := tar.NewReader(r)
	t := tarSection{WNID: wnid}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return tarSection{}, fmt.Errorf("reading its tar headers: %w", err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return tarSection{}, fmt.Errorf("member %s is not a regular file (tar type %q)", h.Name, h.Typeflag)
		}
		at, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return tarSection{}, err
		}
		t.Names = append(t.Names, path.Base(h.Name))
		t.Offsets = append(t.Offsets, offset+at)
		t.Sizes = append(t.Sizes, h.Size)
	}
}

// images are the section's images, labelled label, each named in messages under member (its class
// tar, "WNID.tar"; "" for none) and keyed by its name without the extension (dots made "_"),
// prefixed with the class where the name is not.
func (t tarSection) images(member string, label int32) []archiveImage {
	images := make([]archiveImage, len(t.Names))
	for i, name := range t.Names {
		stem := strings.ReplaceAll(strings.TrimSuffix(name, path.Ext(name)), ".", "_")
		if t.WNID != "" && !strings.HasPrefix(stem, t.WNID+"_") {
			stem = t.WNID + "_" + stem
		}
		if member != "" {
			name = member + ":" + name
		}
		images[i] = archiveImage{member: name, key: stem, label: label, offset: t.Offsets[i], size: t.Sizes[i]}
	}
	return images
}

// An archive's listing is kept in the user's cache folder (~/.cache/vicreg-listings), so that the
// next run opens the archive without reading its headers again: for ImageNet's training archive,
// a read of most of its 138 GB where a disk's read-ahead takes in the images between them. It is
// used while the archive has the path, size and modification time it had when listed; a listing
// that is not (or that does not decode) is listed again and replaced.
const listingVersion = 1

type archiveListing struct {
	Version  int
	Path     string
	Size     int64
	ModTime  int64 // nanoseconds since 1970
	Sections []tarSection
}

// listingFile is the cache file of the listing of the archive at p, "" without a cache folder.
func listingFile(p string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, "vicreg-listings", hex.EncodeToString(sum[:12])+".gob")
}

// loadListing is the cached listing of the archive at p (st its file's), nil when there is none
// that is still the archive's.
func loadListing(p string, st os.FileInfo) []tarSection {
	file := listingFile(p)
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var l archiveListing
	abs, _ := filepath.Abs(p)
	if gob.NewDecoder(bytes.NewReader(data)).Decode(&l) != nil || l.Version != listingVersion || l.Path != abs ||
		l.Size != st.Size() || l.ModTime != st.ModTime().UnixNano() {
		return nil
	}
	for _, t := range l.Sections {
		if len(t.Offsets) != len(t.Names) || len(t.Sizes) != len(t.Names) {
			return nil
		}
	}
	return l.Sections
}

// saveListing keeps the listing of the archive at p (st its file's) in the cache, atomically.
func saveListing(p string, st os.FileInfo, sections []tarSection) error {
	file := listingFile(p)
	if file == "" {
		return nil
	}
	abs, _ := filepath.Abs(p)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	l := archiveListing{Version: listingVersion, Path: abs, Size: st.Size(), ModTime: st.ModTime().UnixNano(), Sections: sections}
	return atomicfile.Write(file, 0o644, func(w io.Writer) error { return gob.NewEncoder(w).Encode(l) })
}
