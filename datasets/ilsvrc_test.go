package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var ilsvrcFixture = filepath.Join("testdata", "ilsvrc", "archives")

// ilsvrcReference is testdata/ilsvrc/expected.json (gen.py): what torchvision's datasets.ImageNet reads from
// the miniature archives.
type ilsvrcReference struct {
	Classes, Words []string
	Train, Val     [][2]any // [SHA-256 of the image file, target]
}

func readILSVRCReference(t *testing.T) ilsvrcReference {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "ilsvrc", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r ilsvrcReference
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// archiveSamples reads every sample of s, as "SHA-256 label" sorted, with the samples in their order.
func archiveSamples(t *testing.T, s *ILSVRC, seed uint64, noShuffle bool) (sorted []string, order []ShardSample) {
	t.Helper()
	for x := range s.Samples(seed, noShuffle, 0) {
		if x.Err != nil || x.Bad != nil {
			t.Fatalf("%s: %v %v", x.Member, x.Err, x.Bad)
		}
		sum := sha256.Sum256(x.Data)
		sorted = append(sorted, hex.EncodeToString(sum[:])+" "+string(rune('0'+x.Label)))
		order = append(order, x)
	}
	slices.Sort(sorted)
	return sorted, order
}

func wantPairs(pairs [][2]any) []string {
	var out []string
	for _, p := range pairs {
		out = append(out, p[0].(string)+" "+string(rune('0'+int(p[1].(float64)))))
	}
	slices.Sort(out)
	return out
}

// openBothILSVRC opens both splits of the archives in dir, with their devkit.
func openBothILSVRC(t *testing.T, dir string) (train, val *ILSVRC, dk *ILSVRCDevkit) {
	t.Helper()
	a, ok := FindILSVRC(dir)
	if !ok {
		t.Fatalf("FindILSVRC(%s) found no archives", dir)
	}
	dk, err := ReadILSVRCDevkit(a.Devkit)
	if err != nil {
		t.Fatal(err)
	}
	if train, err = OpenILSVRCTrain(a.Train, dk, nil); err != nil {
		t.Fatal(err)
	}
	if val, err = OpenILSVRCVal(a.Val, dk, train.Classes()); err != nil {
		t.Fatal(err)
	}
	return train, val, dk
}

// TestILSVRCMatchesTorchvision reads the miniature archives and compares each split's images and labels,
// and the classes, with what torchvision's ImageNet reads from them (it extracts them first).
func TestILSVRCMatchesTorchvision(t *testing.T) {
	isolateListings(t)
	ref := readILSVRCReference(t)
	train, val, dk := openBothILSVRC(t, ilsvrcFixture)
	if !slices.Equal(train.Classes(), ref.Classes) || !slices.Equal(val.Classes(), ref.Classes) {
		t.Errorf("classes %q and %q, torchvision's %q", train.Classes(), val.Classes(), ref.Classes)
	}
	for k, c := range ref.Classes {
		if dk.Words[c] != ref.Words[k] {
			t.Errorf("words of %s: %q, torchvision's %q", c, dk.Words[c], ref.Words[k])
		}
	}
	for _, c := range []struct {
		name string
		set  *ILSVRC
		want [][2]any
	}{{"train", train, ref.Train}, {"val", val, ref.Val}} {
		got, shuffled := archiveSamples(t, c.set, 1, false)
		if !slices.Equal(got, wantPairs(c.want)) {
			t.Errorf("%s: images and labels\n%q\ntorchvision's\n%q", c.name, got, wantPairs(c.want))
		}
		// Shuffling changes the order, not the samples; -no-shuffle keeps the archive's.
		_, kept := archiveSamples(t, c.set, 1, true)
		keys := func(xs []ShardSample) (k []string) {
			for _, x := range xs {
				k = append(k, x.Key)
			}
			return k
		}
		if slices.Equal(keys(shuffled), keys(kept)) {
			t.Errorf("%s: the shuffled order is the archive's: %q", c.name, keys(kept))
		}
		if _, again := archiveSamples(t, c.set, 1, false); !slices.Equal(keys(again), keys(shuffled)) {
			t.Errorf("%s: one seed gave two orders", c.name)
		}
		seen := map[string]bool{}
		for _, x := range kept {
			if seen[x.Key] || strings.Contains(x.Key, ".") {
				t.Errorf("%s: key %q twice, or with a dot", c.name, x.Key)
			}
			seen[x.Key] = true
		}
	}
	// The PNG named .JPEG (as one is in ImageNet's training set) is written as what it is.
	_, order := archiveSamples(t, train, 0, true)
	for _, x := range order {
		wantExt := ".jpg"
		if x.Key == "n01440764_1001" {
			wantExt = ".png"
		}
		if x.Ext != wantExt {
			t.Errorf("%s: extension %q, want %q", x.Member, x.Ext, wantExt)
		}
	}
	// Validation images are labelled in the order of their file names, which the archive's is not
	// (else the fixture would not test the sort).
	f, err := os.Open(filepath.Join(ilsvrcFixture, ILSVRCValArchive))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	for tr := tar.NewReader(f); ; {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if len(names) != len(ref.Val) || slices.IsSorted(names) {
		t.Errorf("the validation archive holds %q: want %d images out of name order", names, len(ref.Val))
	}
}

// TestILSVRCDevkitFolder reads the development kit extracted, as the archive.
func TestILSVRCDevkitFolder(t *testing.T) {
	isolateListings(t)
	dir := t.TempDir()
	for _, name := range []string{ILSVRCTrainArchive, ILSVRCValArchive} {
		data, err := os.ReadFile(filepath.Join(ilsvrcFixture, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	for name, data := range ilsvrcDevkitFiles(t) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
	}
	ref := readILSVRCReference(t)
	train, val, _ := openBothILSVRC(t, dir)
	if got, _ := archiveSamples(t, train, 0, false); !slices.Equal(got, wantPairs(ref.Train)) {
		t.Errorf("train: %q, torchvision's %q", got, wantPairs(ref.Train))
	}
	if got, _ := archiveSamples(t, val, 0, false); !slices.Equal(got, wantPairs(ref.Val)) {
		t.Errorf("val: %q, torchvision's %q", got, wantPairs(ref.Val))
	}
}

// ilsvrcDevkitFiles are the files of the fixture's development kit, by their names in it.
func ilsvrcDevkitFiles(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(ilsvrcFixture, ILSVRCDevkitArchive))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(z)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			files[h.Name], _ = io.ReadAll(tr)
		}
	}
}

// writeTestTar writes a tar (gzipped when the name ends in .gz) of files, in the order of names.
func writeTestTar(t *testing.T, path string, names []string, files map[string][]byte) {
	t.Helper()
	var b bytes.Buffer
	var w io.Writer = &b
	var z *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		z = gzip.NewWriter(&b)
		w = z
	}
	tw := tar.NewWriter(w)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write(files[n])
	}
	tw.Close()
	if z != nil {
		z.Close()
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestILSVRCRefusals gives archives that do not fit each other, or are not ImageNet's, and checks each
// error says what is wrong.
func TestILSVRCRefusals(t *testing.T) {
	isolateListings(t)
	ref := readILSVRCReference(t)
	truthName := ILSVRCDevkitFolder + "/" + ilsvrcGroundTruthFile
	devkitWith := func(t *testing.T, truth string) string {
		files := ilsvrcDevkitFiles(t)
		files[truthName] = []byte(truth)
		p := filepath.Join(t.TempDir(), ILSVRCDevkitArchive)
		writeTestTar(t, p, slices.Sorted(func(yield func(string) bool) {
			for n := range files {
				if !yield(n) {
					return
				}
			}
		}), files)
		return p
	}
	val := filepath.Join(ilsvrcFixture, ILSVRCValArchive)
	t.Run("ground truth of another count", func(t *testing.T) {
		dk, err := ReadILSVRCDevkit(devkitWith(t, "1\n2\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = OpenILSVRCVal(val, dk, nil)
		checkArchiveErr(t, err, ErrUsage, "holds 7 images, but the development kit's ground truth labels 2")
	})
	t.Run("ground truth of no class", func(t *testing.T) {
		_, err := ReadILSVRCDevkit(devkitWith(t, "1\n4\n"))
		checkArchiveErr(t, err, ErrDamaged, "line 2: 4 is not the ILSVRC2012_ID of a class")
	})
	t.Run("val class that train lacks", func(t *testing.T) {
		dk, err := ReadILSVRCDevkit(filepath.Join(ilsvrcFixture, ILSVRCDevkitArchive))
		if err != nil {
			t.Fatal(err)
		}
		_, err = OpenILSVRCVal(val, dk, ref.Classes[:2])
		checkArchiveErr(t, err, ErrUsage, "of class n02119789, which the training archive lacks")
	})
	t.Run("devkit without meta.mat", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), ILSVRCDevkitArchive)
		writeTestTar(t, p, []string{"x/data/other.txt"}, map[string][]byte{"x/data/other.txt": []byte("1")})
		_, err := ReadILSVRCDevkit(p)
		checkArchiveErr(t, err, ErrUsage, "holds no ILSVRC2012_devkit_t12/data/meta.mat")
	})
	trainData, err := os.ReadFile(filepath.Join(ilsvrcFixture, ILSVRCTrainArchive))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("train archive of images", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), ILSVRCTrainArchive)
		writeTestTar(t, p, []string{"a.JPEG"}, map[string][]byte{"a.JPEG": []byte("x")})
		_, err := OpenILSVRCTrain(p, nil, nil)
		checkArchiveErr(t, err, ErrUsage, "member a.JPEG is not a class's tar (WNID.tar)")
	})
	t.Run("train class not the devkit's", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), ILSVRCTrainArchive)
		writeTestTar(t, p, []string{"n09999999.tar"}, map[string][]byte{"n09999999.tar": make([]byte, 1024)})
		dk, _ := ReadILSVRCDevkit(filepath.Join(ilsvrcFixture, ILSVRCDevkitArchive))
		_, err := OpenILSVRCTrain(p, dk, nil)
		checkArchiveErr(t, err, ErrUsage, "class n09999999 is not a class of the development kit")
	})
	t.Run("truncated train archive", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), ILSVRCTrainArchive)
		os.WriteFile(p, trainData[:len(trainData)/2+100], 0o644)
		_, err := OpenILSVRCTrain(p, nil, nil)
		checkArchiveErr(t, err, ErrDamaged, "reading its tar headers")
	})
	t.Run("no archives", func(t *testing.T) {
		if _, ok := FindILSVRC(t.TempDir()); ok {
			t.Error("an empty folder is an ILSVRC2012 folder")
		}
	})
}

func checkArchiveErr(t *testing.T, err, kind error, msg string) {
	t.Helper()
	if err == nil || !errors.Is(err, kind) || !strings.Contains(err.Error(), msg) {
		t.Errorf("error %v, want a %v saying %q", err, kind, msg)
	}
}

// TestILSVRCSamplesStop stops reading after two images: the readers under way end, the file closes.
func TestILSVRCSamplesStop(t *testing.T) {
	isolateListings(t)
	train, _, _ := openBothILSVRC(t, ilsvrcFixture)
	n := 0
	for range train.Samples(0, false, 0) {
		if n++; n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("read %d samples, want 2", n)
	}
}

// TestILSVRCFolderSource opens the archives as an image folder (Open "folder"), as training and
// evaluation read them: each image of both splits decodes to the pixels of the same file
// extracted into an image folder, with its label; the loader reads them (EvalIterator); the
// held-out split is there only with the validation archive and its devkit, or with -val-percent,
// which holds out the images it holds out of the extracted folder; the options of image folders
// that do not apply are refused.
func TestILSVRCFolderSource(t *testing.T) {
	isolateListings(t)
	extracted := t.TempDir() // the archives extracted as torchvision's ImageNet lays them out
	train, val, _ := openBothILSVRC(t, ilsvrcFixture)
	for _, s := range []*ILSVRC{train, val} {
		for x := range s.Samples(0, true, 0) {
			wnid := s.Classes()[x.Label]
			split := "train"
			if s == val {
				split = "val"
			}
			writeFile(t, filepath.Join(extracted, split, wnid, path.Base(strings.ReplaceAll(x.Member, ":", "/"))), x.Data)
		}
	}
	if !HasHeldOut("folder", Options{DataDir: ilsvrcFixture}) {
		t.Error("HasHeldOut: the archives' validation split is not seen")
	}
	for _, split := range []string{SplitTrain, SplitTest} {
		d, err := Open("folder", split, Options{DataDir: ilsvrcFixture})
		if err != nil {
			t.Fatal(err)
		}
		a, ok := d.(*RecordSet)
		if _, archive := a.recs.(*ILSVRC); !ok || !archive {
			t.Fatalf("%s: Open gave a %T", split, d)
		}
		folder, err := Open("folder", split, Options{DataDir: extracted})
		if err != nil {
			t.Fatal(err)
		}
		f := folder.(*Folder)
		if a.Info().Len != f.Info().Len || !slices.Equal(a.Info().ClassNames, f.Info().ClassNames) {
			t.Fatalf("%s: %d images of %q; extracted, %d of %q", split, a.Info().Len, a.Info().ClassNames, f.Info().Len, f.Info().ClassNames)
		}
		byName := map[string]int{}
		for j := range f.Info().Len {
			byName[filepath.Base(f.Path(j))] = j
		}
		for i := range a.Info().Len {
			j, ok := byName[path.Base(strings.ReplaceAll(a.Path(i), ":", "/"))]
			if !ok {
				t.Fatalf("%s: %s not extracted", split, a.Path(i))
			}
			got, err := a.Decode(i)
			if err != nil {
				t.Fatal(err)
			}
			want, err := f.Decode(j)
			if err != nil {
				t.Fatal(err)
			}
			if a.Label(i) != f.Label(j) || got.H != want.H || got.W != want.W || !slices.Equal(got.Pix, want.Pix) {
				t.Errorf("%s: %s: label %d, %dx%d; extracted, label %d, %dx%d (pixels equal: %v)", split, a.Path(i), a.Label(i), got.H, got.W,
					f.Label(j), want.H, want.W, slices.Equal(got.Pix, want.Pix))
			}
		}
		it, err := NewEvalIterator(a, EvalConfig{BatchSize: 4, Size: 8, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		var labels []int32
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			labels = append(labels, b.Labels...)
		}
		it.Close()
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		for i := range a.Info().Len {
			if labels[i] != a.Label(i) {
				t.Errorf("%s: the loader's label of image %d is %d, want %d", split, i, labels[i], a.Label(i))
			}
		}
	}
	// -val-percent holds out of the training archive the images it holds out of the training
	// folder extracted.
	for _, split := range []string{SplitTrain, SplitTest} {
		names := func(d Data, err error) []string {
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for i := range d.Info().Len {
				p := d.(interface{ Path(int) string }).Path(i)
				out = append(out, path.Base(strings.ReplaceAll(p, ":", "/"))+fmt.Sprint(d.(Source).Label(i)))
			}
			slices.Sort(out)
			return out
		}
		got := names(Open("folder", split, Options{DataDir: ilsvrcFixture, ValPercent: 34}))
		want := names(Open("folder", split, Options{DataDir: extracted, ValPercent: 34}))
		if !slices.Equal(got, want) || len(got) == 0 || (split == SplitTest) != (len(got) == 3) {
			t.Errorf("-val-percent 34, %s: %q; of the extracted folder, %q", split, got, want)
		}
	}
	// Without the validation archive (or its devkit) there is no held-out split.
	trainOnly := t.TempDir()
	data, err := os.ReadFile(filepath.Join(ilsvrcFixture, ILSVRCTrainArchive))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(trainOnly, ILSVRCTrainArchive), data)
	if HasHeldOut("folder", Options{DataDir: trainOnly}) {
		t.Error("HasHeldOut: a folder of the training archive alone has a held-out split")
	}
	if d, err := Open("folder", SplitTest, Options{DataDir: trainOnly}); !errors.Is(err, ErrNoSplit) || d != nil {
		t.Errorf("the held-out split of the training archive alone: %v (data %v), want ErrNoSplit and no data", err, d)
	}
	// Beside the extracted train/ folder (torchvision's root, once prepared), the folders are read.
	writeFile(t, filepath.Join(extracted, ILSVRCTrainArchive), data)
	if d, err := Open("folder", SplitTrain, Options{DataDir: extracted}); err != nil {
		t.Error(err)
	} else if _, ok := d.(*Folder); !ok {
		t.Errorf("the extracted folders beside the archive: Open gave a %T", d)
	}
	for _, opt := range []Options{
		{DataDir: ilsvrcFixture, LabelColumn: "label"},
		{DataDir: ilsvrcFixture, TestSplit: "test"},
	} {
		if _, err := Open("folder", SplitTrain, opt); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "ImageNet") {
			t.Errorf("%+v: %v, want a usage error about ImageNet's archives", opt, err)
		}
	}
}

// TestILSVRCArchiveCut: an archive cut short after it was listed (a copy in progress, a disk
// error) fails the read of an image past the cut with an ErrDamaged naming the archive and member.
func TestILSVRCArchiveCut(t *testing.T) {
	isolateListings(t)
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(ilsvrcFixture, ILSVRCTrainArchive))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, ILSVRCTrainArchive)
	writeFile(t, p, data)
	d, err := Open("folder", SplitTrain, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rs := d.(*RecordSet)
	s := rs.recs.(*ILSVRC)
	first, last := 0, 0
	for i := range s.images {
		if s.images[i].offset > s.images[last].offset {
			last = i
		}
		if s.images[i].offset < s.images[first].offset {
			first = i
		}
	}
	if err := os.Truncate(p, s.images[last].offset+1); err != nil {
		t.Fatal(err)
	}
	_, err = rs.Decode(last)
	var de *DataError
	if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) || de.Path != p || de.Member != s.images[last].member || !strings.Contains(err.Error(), "the archive changed since it was listed") {
		t.Errorf("reading past the cut: %v", err)
	}
	if _, err := rs.Decode(first); err != nil {
		t.Errorf("the first image, before the cut: %v", err)
	}
}

// isolateListings keeps the listings of the archives that the test opens in a cache folder of its
// own, not the user's.
func isolateListings(t *testing.T) { t.Setenv("XDG_CACHE_HOME", t.TempDir()) }

// TestILSVRCListingCache: an archive's listing is kept, and the next opening reads it instead of
// the headers while the archive keeps its size and modification time; a changed time, or a
// damaged cache file, lists the archive again; a cache folder that cannot be written is no error.
func TestILSVRCListingCache(t *testing.T) {
	isolateListings(t)
	dir := t.TempDir()
	for _, name := range []string{ILSVRCTrainArchive, ILSVRCValArchive, ILSVRCDevkitArchive} {
		data, err := os.ReadFile(filepath.Join(ilsvrcFixture, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), data)
	}
	train, val := filepath.Join(dir, ILSVRCTrainArchive), filepath.Join(dir, ILSVRCValArchive)
	dk, err := ReadILSVRCDevkit(filepath.Join(dir, ILSVRCDevkitArchive))
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*ILSVRC, *ILSVRC, error) {
		tr, err := OpenILSVRCTrain(train, dk, nil)
		if err != nil {
			return nil, nil, err
		}
		v, err := OpenILSVRCVal(val, dk, tr.Classes())
		return tr, v, err
	}
	tr0, v0, err := open()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{train, val} {
		if _, err := os.Stat(listingFile(p)); err != nil {
			t.Fatalf("no listing kept for %s: %v", p, err)
		}
	}
	// A member renamed in each archive's bytes, its header's checksum left wrong: a tar reader
	// refuses it, so an opening that succeeds read the cache.
	damage := func(p, from, to string) (restore func()) {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte(from)) {
			t.Fatalf("%s holds no %s (%v)", p, from, err)
		}
		writeFile(t, p, bytes.Replace(data, []byte(from), []byte(to), 1))
		if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
			t.Fatal(err)
		}
		return func() {
			writeFile(t, p, data)
			os.Chtimes(p, st.ModTime(), st.ModTime())
		}
	}
	restoreTrain := damage(train, "n01440764_1000.JPEG", "n01440764_9000.JPEG")
	restoreVal := damage(val, "ILSVRC2012_val_00000004.JPEG", "ILSVRC2012_val_00000009.JPEG")
	tr1, v1, err := open()
	if err != nil {
		t.Fatalf("opening with the listings kept: %v", err)
	}
	if !slices.Equal(keysOf(tr1), keysOf(tr0)) || !slices.Equal(keysOf(v1), keysOf(v0)) || !slices.Equal(tr1.Classes(), tr0.Classes()) {
		t.Errorf("the kept listings differ from the archives' own")
	}
	// A newer modification time: the archive is listed again (and its damage found).
	later := time.Now().Add(time.Hour)
	os.Chtimes(train, later, later)
	if _, _, err := open(); err == nil || !errors.Is(err, ErrDamaged) {
		t.Errorf("a changed archive read from its old listing: %v", err)
	}
	restoreTrain()
	restoreVal()
	// A damaged cache file: listed again, and the file replaced.
	writeFile(t, listingFile(train), []byte("not a listing"))
	if tr2, _, err := open(); err != nil || !slices.Equal(keysOf(tr2), keysOf(tr0)) {
		t.Errorf("a damaged listing: %v", err)
	}
	st, _ := os.Stat(train)
	if loadListing(train, st) == nil {
		t.Error("the damaged listing was not replaced")
	}
	// A cache folder that cannot be made: no listing kept, no error.
	blocked := filepath.Join(t.TempDir(), "file")
	writeFile(t, blocked, []byte("x"))
	t.Setenv("XDG_CACHE_HOME", blocked)
	if _, _, err := open(); err != nil {
		t.Errorf("an unwritable cache folder: %v", err)
	}
}

func keysOf(s *ILSVRC) []string {
	var keys []string
	for _, im := range s.images {
		keys = append(keys, im.key+fmt.Sprint(im.offset, im.size, im.label))
	}
	return keys
}
