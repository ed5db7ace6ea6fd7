package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMNIST(t *testing.T) {
	dir := t.TempDir() // empty: the files must come from the GoMNIST module, without network
	tests := []struct {
		split  string
		n      int
		counts []int
	}{
		{SplitTrain, 60000, []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
		{SplitTest, 10000, []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	}
	for _, tc := range tests {
		t.Run(tc.split, func(t *testing.T) {
			ds, err := LoadWith("mnist", tc.split, Options{DataDir: dir, NoDownload: true})
			if err != nil {
				t.Fatal(err)
			}
			if m, s, _ := Normalisation("mnist"); fmt.Sprint(m, s) != fmt.Sprint(ds.Mean, ds.Std) {
				t.Errorf("Normalisation %v %v, the loaded set's %v %v", m, s, ds.Mean, ds.Std)
			}
			if ds.N != tc.n || ds.Height != 28 || ds.Width != 28 || ImageSide("mnist") != 28 || ds.Channels != 1 || Channels("mnist") != 1 {
				t.Fatalf("got N=%d %dx%dx%d, want %d 28x28x1", ds.N, ds.Width, ds.Height, ds.Channels, tc.n)
			}
			counts := make([]int, 10)
			for _, l := range ds.Labels {
				counts[l]++
			}
			for k := range counts {
				if counts[k] != tc.counts[k] {
					t.Errorf("class %d: %d images, want %d", k, counts[k], tc.counts[k])
				}
			}
		})
	}
}

func TestMNISTNoFilesNoNetwork(t *testing.T) {
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOPATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("PATH", "") // no go tool: the module cache cannot be found
	dir := t.TempDir()
	_, err := LoadWith("mnist", SplitTest, Options{DataDir: dir, NoDownload: true})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "mnist", "t10k-images-idx3-ubyte.gz")) {
		t.Fatalf("got %v, want an error naming the missing file", err)
	}
}

// idxBytes writes an unsigned-byte IDX file from the format description.
func idxBytes(dims []int, values []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(values)
	return b.Bytes()
}

func TestParseIDX(t *testing.T) {
	good := idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	dims, vals, err := ParseIDX(good)
	if err != nil || len(dims) != 2 || dims[0] != 2 || dims[1] != 3 || !bytes.Equal(vals, []byte{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("ParseIDX = %v %v %v", dims, vals, err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "want at least 4"},
		{"bad magic", []byte{1, 0, 8, 1, 0, 0, 0, 0}, "first two bytes"},
		{"float type", []byte{0, 0, 0x0d, 1, 0, 0, 0, 0}, "only unsigned bytes"},
		{"truncated header", []byte{0, 0, 8, 3, 0, 0, 0, 1}, "want 16"},
		{"truncated data", good[:len(good)-1], "need 6 data bytes, file has 5"},
		{"extra data", append(append([]byte{}, good...), 7), "need 6 data bytes, file has 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseIDX(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestMNISTBadFiles(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	images := idxBytes([]int{2, 28, 28}, make([]byte, 2*784))
	t.Run("truncated gzip", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "x-idx3-ubyte.gz")
		z := gz(images)
		writeFile(t, path, z[:len(z)/2])
		_, _, err := ReadIDXFile(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("got %v, want an error naming %s", err, path)
		}
	})
	t.Run("label out of range", func(t *testing.T) {
		dir := t.TempDir()
		// Files without checksums (the table of SHA-256 sums emptied for this case): the
		// uncompressed names are accepted and checked by content.
		saved := mnistRawSHA256
		mnistRawSHA256 = map[string]string{}
		t.Cleanup(func() { mnistRawSHA256 = saved })
		writeFile(t, filepath.Join(dir, "mnist", "t10k-images-idx3-ubyte"), images)
		lbl := filepath.Join(dir, "mnist", "t10k-labels-idx1-ubyte")
		writeFile(t, lbl, idxBytes([]int{2}, []byte{3, 12}))
		_, err := LoadWith("mnist", SplitTest, Options{DataDir: dir, NoDownload: true})
		if err == nil || !strings.Contains(err.Error(), lbl) || !strings.Contains(err.Error(), "label 12") {
			t.Fatalf("got %v, want an error naming %s and label 12", err, lbl)
		}
	})
	t.Run("checksum mismatch", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "mnist", "t10k-images-idx3-ubyte.gz")
		writeFile(t, path, gz(images))
		_, err := LoadWith("mnist", SplitTest, Options{DataDir: dir, NoDownload: true})
		if err == nil || !strings.Contains(err.Error(), "checksum mismatch for "+path) {
			t.Fatalf("got %v, want a checksum mismatch naming %s", err, path)
		}
	})
	t.Run("flipped byte in a decompressed file", func(t *testing.T) {
		// The real test labels, decompressed, with one label byte changed to another valid label:
		// only the checksum can tell.
		var src string
		for _, d := range MNISTDirs(t.TempDir()) {
			if p := filepath.Join(d, "t10k-labels-idx1-ubyte.gz"); isFile(p) {
				src = p
				break
			}
		}
		if src == "" {
			t.Skip("the GoMNIST module is not in the module cache")
		}
		_, labels, err := ReadIDXFile(src)
		if err != nil {
			t.Fatal(err)
		}
		labels[77] = (labels[77] + 1) % 10
		dir := t.TempDir()
		path := filepath.Join(dir, "mnist", "t10k-labels-idx1-ubyte")
		writeFile(t, path, idxBytes([]int{len(labels)}, labels))
		_, err = LoadWith("mnist", SplitTest, Options{DataDir: dir, NoDownload: true})
		if err == nil || !strings.Contains(err.Error(), "checksum mismatch for "+path) || !strings.Contains(err.Error(), "delete it") {
			t.Fatalf("got %v, want a checksum mismatch naming %s and saying how to fix it", err, path)
		}
	})

}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
