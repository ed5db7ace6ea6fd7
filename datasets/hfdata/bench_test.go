package hfdata

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
)

// benchRow is a row of a Hugging Face image data set: the Image feature's struct and a label.
type benchRow struct {
	Image struct {
		Bytes []byte `parquet:"bytes"`
		Path  string `parquet:"path,optional"`
	} `parquet:"image"`
	Label int64 `parquet:"label"`
}

// writeManyGroups writes a Parquet file of rows rows of small images (an 8 x 8 PNG and 2 KB after
// it), in row groups of 100 rows as the datasets library writes image data sets.
func writeManyGroups(b *testing.B, path string, n int) {
	img := fixturePNG(b)
	rows := make([]benchRow, n)
	for i := range rows {
		rows[i].Image.Bytes = append(slices.Clip(img), bytes.Repeat([]byte{byte(i)}, 2048)...)
		rows[i].Label = int64(i % 10)
	}
	writeParquet(b, path, rows, parquet.MaxRowsPerRowGroup(100))
}

// BenchmarkSamples times a shuffled pass (Samples, row groups in random order, no shuffle buffer)
// over one file of 30,000 small images in 300 row groups: the reading, not the decoding, of a
// CIFAR-sized Hugging Face data set. Run: go test -run '^$' -bench Samples -benchtime 5x
// ./datasets/hfdata/
func BenchmarkSamples(b *testing.B) {
	const rows = 30000
	path := filepath.Join(b.TempDir(), "train-00000-of-00001.parquet")
	writeManyGroups(b, path, rows)
	s, err := Open(Split{Name: "train", Files: []string{path}}, "")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		pass(b, s, uint64(i))
	}
	perPass := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perPass*1e3, "ms/pass")
	b.ReportMetric(rows/perPass, "rows/s")
	b.Logf("%s: %d rows in 300 row groups, %.0f ms a pass, %.0f rows/s", cpuinfo.Describe(), rows, perPass*1e3, rows/perPass)
}

// pyarrowTimed says that BenchmarkArrowSamples has run pyarrow's reading once.
var pyarrowTimed bool

// BenchmarkArrowSamples times a shuffled pass (Samples: record batches in random order, no
// shuffle buffer) over the Arrow files that VICREG_ARROW_BENCH names (a folder made by
// testdata/shards_time.py make-arrow: 3,000 JPEGs of 320x240 in save_to_disk's layout), and
// beside it, once, pyarrow's reading of the same files (testdata/arrow_time.py) where
// VICREG_ARROW_PYTHON names a python3 with pyarrow. Run: VICREG_ARROW_BENCH=/tmp/arbench go test
// -run '^$' -bench ArrowSamples -benchtime 5x ./datasets/hfdata/
func BenchmarkArrowSamples(b *testing.B) {
	dir := os.Getenv("VICREG_ARROW_BENCH")
	if dir == "" {
		b.Skip("VICREG_ARROW_BENCH names no folder: make one with python3 datasets/hfdata/testdata/shards_time.py make-arrow /tmp/arbench")
	}
	splits, err := FindSplits(dir)
	if err != nil || len(splits) == 0 {
		b.Fatalf("%s: %v, %d splits", dir, err, len(splits))
	}
	s, err := Open(splits[0], "")
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	b.ResetTimer()
	for i := range b.N {
		bytes += pass(b, s, uint64(i))
	}
	perPass := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perPass*1e3, "ms/pass")
	b.ReportMetric(float64(s.Len())/perPass, "rows/s")
	b.Logf("%s: %d rows (%d MB of images) in %d Arrow files, %.1f ms a pass, %.0f rows/s", cpuinfo.Describe(), s.Len(), bytes/int64(b.N)>>20,
		len(s.Files), perPass*1e3, float64(s.Len())/perPass)
	if py := os.Getenv("VICREG_ARROW_PYTHON"); py != "" && !pyarrowTimed {
		pyarrowTimed = true
		out, err := exec.Command(py, filepath.Join("testdata", "arrow_time.py"), dir).CombinedOutput()
		if err != nil {
			b.Fatalf("%s arrow_time.py: %v\n%s", py, err, out)
		}
		b.Logf("%s", strings.TrimSpace(string(out)))
	}
}

// pass reads every row of s once, shuffled by seed (the row groups or record batches, without a
// shuffle buffer), checking that they are s.Len(), and returns the bytes of their images.
func pass(b *testing.B, s *Set, seed uint64) (bytes int64) {
	n := 0
	for x := range s.Samples(seed, false, 0) {
		if x.Err != nil {
			b.Fatal(x.Err)
		}
		n++
		bytes += int64(len(x.Data))
	}
	if n != s.Len() {
		b.Fatalf("%d rows read, want %d", n, s.Len())
	}
	return bytes
}
