package datasets

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cifarRecords writes n records of the CIFAR binary format from its published description: label
// byte(s), then the red, green and blue 32x32 planes, each row by row. Image i has label label(i).
func cifarRecords(n, first, labelBytes int, label func(i int) int) []byte {
	var out []byte
	for i := first; i < first+n; i++ {
		if labelBytes == 2 {
			out = append(out, byte(label(i)/5)) // coarse label
		}
		out = append(out, byte(label(i)))
		for c := range 3 {
			for y := range 32 {
				for x := range 32 {
					out = append(out, pixel(i, y, x, c))
				}
			}
		}
	}
	return out
}

// smallCIFAR shrinks the record counts of a spec for the test and returns the archive files.
func smallCIFAR(t *testing.T, spec *cifarSpec) map[string][]byte {
	t.Helper()
	saved := *spec
	t.Cleanup(func() { *spec = saved })
	spec.recsTrain, spec.recsTest = 3, 2
	label := func(i int) int { return (i * 37) % spec.numClasses }
	files := map[string][]byte{}
	first := 0
	for _, f := range spec.train {
		files[spec.folder+"/"+f] = cifarRecords(spec.recsTrain, first, spec.labelBytes, label)
		first += spec.recsTrain
	}
	files[spec.folder+"/"+spec.test] = cifarRecords(spec.recsTest, 1000, spec.labelBytes, label)
	return files
}

func TestCIFARDownloadAndRead(t *testing.T) {
	for _, spec := range []*cifarSpec{&cifar10Spec, &cifar100Spec} {
		t.Run(spec.name, func(t *testing.T) {
			files := smallCIFAR(t, spec)
			archive := tarGz(t, files)
			name := filepath.Base(spec.archive.URL)
			srv := newServer(t, map[string][]byte{name: archive})
			spec.archive.MD5 = md5Hex(archive)
			dir := t.TempDir()
			opt := Options{DataDir: dir, BaseURL: srv.URL, Progress: io.Discard}
			ds, err := LoadWith(spec.name, SplitTrain, opt)
			if err != nil {
				t.Fatal(err)
			}
			if srv.requests.Load() != 1 {
				t.Fatalf("%d requests, want 1", srv.requests.Load())
			}
			wantN := spec.recsTrain * len(spec.train)
			if m, s, _ := Normalisation(spec.name); fmt.Sprint(m, s) != fmt.Sprint(ds.Mean, ds.Std) {
				t.Errorf("%s: Normalisation %v %v, the loaded set's %v %v", spec.name, m, s, ds.Mean, ds.Std)
			}
			if ds.N != wantN || ds.Height != 32 || ds.Width != 32 || ImageSide(spec.name) != 32 || ds.Channels != 3 || Channels(spec.name) != 3 || ds.NumClasses != spec.numClasses {
				t.Fatalf("got N=%d %dx%dx%d classes %d", ds.N, ds.Width, ds.Height, ds.Channels, ds.NumClasses)
			}
			for i := range ds.N {
				if want := int32((i * 37) % spec.numClasses); ds.Labels[i] != want {
					t.Fatalf("label %d = %d, want %d", i, ds.Labels[i], want)
				}
				img := ds.Image(i)
				for _, p := range [][3]int{{0, 0, 0}, {0, 31, 2}, {17, 5, 1}, {31, 31, 0}} {
					if got, want := img[(p[0]*32+p[1])*3+p[2]], pixel(i, p[0], p[1], p[2]); got != want {
						t.Fatalf("image %d pixel %v = %d, want %d", i, p, got, want)
					}
				}
			}
			test, err := LoadWith(spec.name, SplitTest, opt)
			if err != nil {
				t.Fatal(err)
			}
			if test.N != 2 || test.Image(1)[3*33+1] != pixel(1001, 1, 1, 1) {
				t.Fatalf("test split: N=%d, wrong pixels", test.N)
			}
			// Present and valid: no second download, even when the extracted files are gone.
			if err := os.RemoveAll(filepath.Join(dir, spec.name, spec.folder)); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadWith(spec.name, SplitTest, opt); err != nil {
				t.Fatal(err)
			}
			if srv.requests.Load() != 1 {
				t.Fatalf("%d requests after reloading, want 1 (no re-download)", srv.requests.Load())
			}
		})
	}
}

func TestCIFARChecksumMismatch(t *testing.T) {
	files := smallCIFAR(t, &cifar10Spec)
	archive := tarGz(t, files)
	srv := newServer(t, map[string][]byte{"cifar-10-binary.tar.gz": archive})
	cifar10Spec.archive.MD5 = "00000000000000000000000000000000"
	dir := t.TempDir()
	_, err := LoadWith("cifar10", SplitTrain, Options{DataDir: dir, BaseURL: srv.URL, Progress: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), md5Hex(archive)) {
		t.Fatalf("got %v, want a checksum mismatch", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cifar10", "cifar-10-binary.tar.gz")); !os.IsNotExist(err) {
		t.Fatalf("the invalid download was kept: %v", err)
	}
	// A corrupt archive already on disk is named when downloads are off.
	path := filepath.Join(dir, "cifar10", "cifar-10-binary.tar.gz")
	writeFile(t, path, archive[:len(archive)/2])
	_, err = LoadWith("cifar10", SplitTrain, Options{DataDir: dir, NoDownload: true})
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch for "+path) {
		t.Fatalf("got %v, want a checksum mismatch naming %s", err, path)
	}
}

func TestCIFARBadFiles(t *testing.T) {
	files := smallCIFAR(t, &cifar10Spec)
	write := func(t *testing.T, dir string, files map[string][]byte) {
		for name, data := range files {
			writeFile(t, filepath.Join(dir, "cifar10", name), data)
		}
	}
	t.Run("truncated", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, files)
		path := filepath.Join(dir, "cifar10", "cifar-10-batches-bin", "data_batch_3.bin")
		writeFile(t, path, files["cifar-10-batches-bin/data_batch_3.bin"][:5000])
		_, err := LoadWith("cifar10", SplitTrain, Options{DataDir: dir, NoDownload: true})
		if err == nil || !strings.Contains(err.Error(), path+" has 5000 bytes, want 9219") {
			t.Fatalf("got %v, want an error naming %s and its expected size", err, path)
		}
	})
	t.Run("label out of range", func(t *testing.T) {
		dir := t.TempDir()
		bad := map[string][]byte{}
		for k, v := range files {
			bad[k] = append([]byte{}, v...)
		}
		bad["cifar-10-batches-bin/test_batch.bin"][3073] = 10 // label of the second record
		write(t, dir, bad)
		path := filepath.Join(dir, "cifar10", "cifar-10-batches-bin", "test_batch.bin")
		_, err := LoadWith("cifar10", SplitTest, Options{DataDir: dir, NoDownload: true})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "record 1: label 10 out of range [0, 10)") {
			t.Fatalf("got %v, want an error naming %s and the label", err, path)
		}
	})
	t.Run("missing no network", func(t *testing.T) {
		dir := t.TempDir()
		_, err := LoadWith("cifar10", SplitTest, Options{DataDir: dir, NoDownload: true})
		if err == nil || !strings.Contains(err.Error(), "is missing") || !strings.Contains(err.Error(), "cifar-10-binary.tar.gz") {
			t.Fatalf("got %v, want an error naming the missing files", err)
		}
	})
}

func TestExtractRejectsEscapingEntries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "evil.tar.gz")
	writeFile(t, path, tarGz(t, map[string][]byte{"../evil.txt": []byte("x")}))
	if err := ExtractTarGz(path, filepath.Join(dir, "out")); err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Fatalf("got %v, want an escaping-entry error", err)
	}
}

// TestDownloadSaysWhatIsWrongLocallyFirst (DESIGN §7): with a partial local copy (one file of the
// wrong size, one missing), the message says so first, whether the download is attempted (in the
// progress output), fails (in the error), or is disabled.
func TestDownloadSaysWhatIsWrongLocallyFirst(t *testing.T) {
	spec := &cifar10Spec
	files := smallCIFAR(t, spec)
	dir := t.TempDir()
	folder := filepath.Join(dir, "cifar10", spec.folder)
	for name, data := range files {
		writeFile(t, filepath.Join(dir, "cifar10", name), data)
	}
	short := filepath.Join(folder, "data_batch_2.bin")
	writeFile(t, short, files[spec.folder+"/data_batch_2.bin"][:100])
	os.Remove(filepath.Join(folder, "test_batch.bin"))
	local := short + " has 100 bytes, want 9219; " + filepath.Join(folder, "test_batch.bin") + " is missing"
	// The download fails: nothing serves the archive.
	srv := newServer(t, map[string][]byte{})
	var progress strings.Builder
	_, err := LoadWith("cifar10", SplitTrain, Options{DataDir: dir, BaseURL: srv.URL, Progress: &progress})
	if err == nil || !strings.HasPrefix(err.Error(), local+"; downloading ") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("failed download: %v\nwant it to start with %q", err, local)
	}
	if !strings.HasPrefix(progress.String(), local+": downloading "+srv.URL) {
		t.Fatalf("progress output %q, want it to start with what is wrong locally", progress.String())
	}
	// Downloads disabled.
	_, err = LoadWith("cifar10", SplitTrain, Options{DataDir: dir, NoDownload: true, Progress: io.Discard})
	if err == nil || !strings.HasPrefix(err.Error(), local+"; ") || !strings.Contains(err.Error(), "downloads are disabled") {
		t.Fatalf("no download: %v", err)
	}
}
