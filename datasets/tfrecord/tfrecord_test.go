package tfrecord

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/datasets"
)

var (
	tfdsDir     = filepath.Join("testdata", "tfds", "tinyshapes", "1.0.0")
	imagenetDir = filepath.Join("testdata", "imagenet")
)

// expected is testdata/expected.json (gen.py): for each file, each record's label and the MD5
// of its image bytes, as TensorFlow reads them back.
func expected(t *testing.T) map[string][]struct {
	Label int
	MD5   string
} {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string][]struct {
		Label int
		MD5   string
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFindSplits(t *testing.T) {
	for dir, want := range map[string]string{
		tfdsDir:     "train:[tinyshapes-train.tfrecord-00000-of-00001] test:[tinyshapes-test.tfrecord-00000-of-00001]",
		imagenetDir: "train:[train-00000-of-00002 train-00001-of-00002] val:[validation-00000-of-00001]",
		"testdata":  "",
	} {
		splits, err := FindSplits(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range splits {
			var names []string
			for _, f := range s.Files {
				names = append(names, filepath.Base(f))
			}
			got = append(got, fmt.Sprintf("%s:%v", s.Name, names))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: %q, want %q", dir, strings.Join(got, " "), want)
		}
	}
}

// openAll opens every split of dir by labelColumn, the held-out ones numbered by train's classes.
func openAll(t *testing.T, dir, labelColumn string) []*Set {
	t.Helper()
	splits, err := FindSplits(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sets []*Set
	for _, sp := range splits {
		s, err := Open(sp, labelColumn)
		if err != nil {
			t.Fatal(err)
		}
		if len(sets) > 0 {
			if err := s.UseClassesOf(sets[0]); err != nil {
				t.Fatal(err)
			}
		}
		sets = append(sets, s)
	}
	return sets
}

// TestMatchesTensorFlow: every record of the files that TensorFlow Datasets and TensorFlow's
// TFRecordWriter wrote (gen.py), plain or compressed with GZIP or ZLIB, gives the image bytes and
// the label that TensorFlow reads back, in file order; TensorFlow Datasets' classes are its
// label.labels.txt, the ImageNet scripts' 1-based labels are numbered 0 to the largest (class 0
// without images), in every split; the compressed files, without label.labels.txt beside them,
// are numbered 0 to 2.
func TestMatchesTensorFlow(t *testing.T) {
	want := expected(t)
	compressed := filepath.Join("testdata", "compressed")
	for dir, classes := range map[string]string{tfdsDir: "[circle square triangle]", imagenetDir: "[0 1 2 3]", compressed: "[0 1 2]"} {
		for _, s := range openAll(t, dir, "") {
			if fmt.Sprint(s.Classes()) != classes {
				t.Errorf("%s %s: classes %v, want %s", dir, s.Name, s.Classes(), classes)
			}
			n := 0
			for x := range s.Samples(0, true, 0) {
				if x.Err != nil || x.Bad != nil {
					t.Fatalf("%s: %v %v", x.Path, x.Err, x.Bad)
				}
				rel, _ := filepath.Rel("testdata", x.Path)
				rows := want[filepath.ToSlash(rel)]
				if x.Index >= len(rows) {
					t.Fatalf("%s record %d: TensorFlow reads %d records", x.Path, x.Index, len(rows))
				}
				sum := md5.Sum(x.Data)
				if w := rows[x.Index]; int(x.Label) != w.Label || hex.EncodeToString(sum[:]) != w.MD5 {
					t.Errorf("%s record %d: label %d, image MD5 %x; TensorFlow reads %d, %s", x.Path, x.Index, x.Label, sum, w.Label, w.MD5)
				}
				if x.Ext != ".png" && x.Ext != ".jpg" {
					t.Errorf("%s record %d: extension %q", x.Path, x.Index, x.Ext)
				}
				n++
			}
			if n != s.Len() {
				t.Errorf("%s %s: %d samples, Len %d", dir, s.Name, n, s.Len())
			}
		}
	}
}

// TestLabelNames: a bytes feature of class names (-label-column image/class/text) numbers them
// in sorted order, the held-out split's by the training split's; a feature that the examples lack
// is refused, naming their features.
func TestLabelNames(t *testing.T) {
	want := expected(t)
	names := map[int]string{1: "tench", 2: "goldfish", 3: "great white shark"} // gen.py's
	sorted := []string{"goldfish", "great white shark", "tench"}
	for _, s := range openAll(t, imagenetDir, "image/class/text") {
		if !slices.Equal(s.Classes(), sorted) {
			t.Errorf("%s: classes %q, want %q", s.Name, s.Classes(), sorted)
		}
		for x := range s.Samples(0, true, 0) {
			rel, _ := filepath.Rel("testdata", x.Path)
			if w := names[want[filepath.ToSlash(rel)][x.Index].Label]; x.Label != int32(slices.Index(sorted, w)) {
				t.Errorf("%s record %d: label %d, want %q's %d", x.Path, x.Index, x.Label, w, slices.Index(sorted, w))
			}
		}
	}
	splits, _ := FindSplits(imagenetDir)
	if _, err := Open(splits[0], "image/class/name"); !errors.Is(err, datasets.ErrUsage) || !strings.Contains(err.Error(), `no "image/class/name" feature (its features: image/class/label (int64), image/class/text (bytes), image/encoded (bytes)`) {
		t.Errorf("a label feature the examples lack: %v", err)
	}
}

// TestShuffled: with shuffling, the samples are those of the split, in an order that the seed
// fixes, and that another seed changes.
func TestShuffled(t *testing.T) {
	s := openAll(t, imagenetDir, "")[0]
	keys := func(seed uint64, noShuffle bool) []string {
		var out []string
		for x := range s.Samples(seed, noShuffle, 2) {
			out = append(out, x.Key)
		}
		return out
	}
	plain, a, b, c := keys(0, true), keys(1, false), keys(1, false), keys(2, false)
	if !slices.Equal(a, b) || slices.Equal(a, plain) && slices.Equal(c, plain) {
		t.Errorf("in order %v; seed 1 %v and %v; seed 2 %v", plain, a, b, c)
	}
	if slices.Sort(a); !slices.Equal(a, slices.Sorted(slices.Values(plain))) {
		t.Errorf("shuffled %v, want the samples of %v", a, plain)
	}
}

// writeRecords writes records as a TFRecord file (the framing of record.go, checked against
// TensorFlow's files in TestMatchesTensorFlow).
func writeRecords(t testing.TB, path string, records ...[]byte) {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range records {
		head := binary.LittleEndian.AppendUint64(nil, uint64(len(r)))
		buf.Write(binary.LittleEndian.AppendUint32(head, maskedCRC(head)))
		buf.Write(binary.LittleEndian.AppendUint32(r, maskedCRC(r)))
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exampleBytes is a tf.train.Example of an image (bytes) and, unless label is nil, a label: an
// int64 (an *int64) or bytes (a string).
func exampleBytes(image []byte, label any) []byte {
	field := func(num int, v []byte) []byte {
		return append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(num<<3|wireBytes)), uint64(len(v))), v...)
	}
	entry := func(key string, f []byte) []byte { return field(1, append(field(1, []byte(key)), field(2, f)...)) }
	features := entry("image", field(kindBytes, field(1, image)))
	switch l := label.(type) {
	case *int64:
		features = append(features, entry("label", field(kindInt64, field(1, binary.AppendUvarint(nil, uint64(*l)))))...)
	case string:
		features = append(features, entry("label", field(kindBytes, field(1, []byte(l))))...)
	}
	return field(1, features)
}

// TestDamagedAndUnlabelled: a record whose checksum does not match, a file cut short, and a file
// that is no TFRecord file are errors that name the file and the record; labels of -1 are none:
// all of them an unlabeled split, some of them a usage error, as are names mixed with indices.
func TestDamagedAndUnlabelled(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(tfdsDir, "tinyshapes-train.tfrecord-00000-of-00001"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(src)
	flipped[len(flipped)-10] ^= 1
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"flipped":   {flipped, "record 5 (at byte "},
		"truncated": {src[:len(src)-3], "cut short in its"},
		"not":       {[]byte("this is not a TFRecord file at all"), "record 0 (at byte 0): its length's checksum does not match (not a TFRecord file, uncompressed or compressed with GZIP or ZLIB)"},
	} {
		path := filepath.Join(dir, name+"-train.tfrecord")
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(Split{Name: "train", Files: []string{path}}, "")
		if !errors.Is(err, datasets.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a damaged-data error naming the file and containing %q", name, err, tc.want)
		}
	}
	img, err := os.ReadFile(filepath.Join("..", "..", "datasets", "testdata", "pil", "exif", "orient-1.png"))
	if err != nil {
		t.Fatal(err)
	}
	none, two := int64(-1), int64(2)
	unlabeled := filepath.Join(dir, "u-test.tfrecord")
	writeRecords(t, unlabeled, exampleBytes(img, &none), exampleBytes(img, nil))
	if s, err := Open(Split{Name: "test", Files: []string{unlabeled}}, ""); err != nil || s.Classes() != nil || s.Len() != 2 {
		t.Errorf("labels of -1: %v, classes %v; want an unlabeled split of 2", err, s.Classes())
	}
	part := filepath.Join(dir, "p-test.tfrecord")
	writeRecords(t, part, exampleBytes(img, &two), exampleBytes(img, &none))
	if _, err := Open(Split{Name: "test", Files: []string{part}}, ""); !errors.Is(err, datasets.ErrUsage) || !strings.Contains(err.Error(), "1 of the 2 examples") {
		t.Errorf("labels in part: %v", err)
	}
	mixed := filepath.Join(dir, "m-test.tfrecord")
	writeRecords(t, mixed, exampleBytes(img, "circle"), exampleBytes(img, &two))
	if _, err := Open(Split{Name: "test", Files: []string{mixed}}, ""); !errors.Is(err, datasets.ErrUsage) || !strings.Contains(err.Error(), "holds class names (bytes) and class indices (int64, the first: "+mixed+" record 1)") {
		t.Errorf("names and indices mixed: %v", err)
	}
}

// FuzzParseExample: whatever a record holds, parsing it does not panic.
func FuzzParseExample(f *testing.F) {
	for _, dir := range []string{tfdsDir, imagenetDir} {
		splits, _ := FindSplits(dir)
		for _, sp := range splits {
			eachRecord(sp.Files[0], func(_ int, data []byte) error {
				f.Add(data)
				return nil
			})
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parseExample(data)
	})
}
