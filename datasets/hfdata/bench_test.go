package hfdata

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/internal/pagecache"
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

// recordsTimed says that BenchmarkArrowRecords has run the datasets library's reading once.
var recordsTimed bool

// BenchmarkArrowRecords times what training on Arrow files as they are does: opening the data set
// that VICREG_ARROW_RECORDS names (made by testdata/records_time.py make: save_to_disk's folder)
// for reading one row at a time (OpenRecords: its record batches listed, its labels read), then a
// pass over every row's image bytes in a shuffled order (EpochOrder), with 1 and 8 reads at once;
// and beside it, once, the datasets library's reading of the same rows one at a time in a shuffled
// order (records_time.py time) where VICREG_ARROW_PYTHON names a Python with it. With
// VICREG_ARROW_COLD=1 (as root) the page cache is dropped before each pass. Run:
// VICREG_ARROW_RECORDS=/tmp/hfrec VICREG_ARROW_PYTHON=/tmp/hfv/bin/python go test -run '^$' -bench
// ArrowRecords -benchtime 5x ./datasets/hfdata/
func BenchmarkArrowRecords(b *testing.B) {
	dir := os.Getenv("VICREG_ARROW_RECORDS")
	if dir == "" {
		b.Skip("VICREG_ARROW_RECORDS names no folder: make one with python datasets/hfdata/testdata/records_time.py make /tmp/hfrec")
	}
	cold := os.Getenv("VICREG_ARROW_COLD") == "1"
	splits, err := FindSplits(dir)
	if err != nil || len(splits) == 0 {
		b.Fatalf("%s: %v, %d splits", dir, err, len(splits))
	}
	for _, readers := range []int{1, 8} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			var opening float64
			var rows int
			var bytes int64
			b.ResetTimer()
			for i := range b.N {
				if cold {
					b.StopTimer()
					if err := pagecache.Drop(); err != nil {
						b.Fatalf("VICREG_ARROW_COLD=1: %v", err)
					}
					b.StartTimer()
				}
				start := b.Elapsed()
				r, err := OpenRecords(splits[0], nil, "")
				if err != nil {
					b.Fatal(err)
				}
				opening += (b.Elapsed() - start).Seconds()
				rows, bytes = r.Len(), readShuffled(b, r, uint64(i), readers)
			}
			perPass := b.Elapsed().Seconds() / float64(b.N)
			cache := "in the page cache"
			if cold {
				cache = "the page cache dropped"
			}
			b.ReportMetric(perPass*1e3, "ms/pass")
			b.ReportMetric(float64(rows)/perPass, "rows/s")
			b.Logf("%s: %d rows (%d MB of images) in %d Arrow files, %s, %d reads at once: %.1f ms a pass (opening %.1f ms), %.0f rows/s",
				cpuinfo.Describe(), rows, bytes>>20, len(splits[0].Files), cache, readers, perPass*1e3, opening/float64(b.N)*1e3, float64(rows)/perPass)
		})
	}
	if py := os.Getenv("VICREG_ARROW_PYTHON"); py != "" {
		b.Run("datasets-library", func(b *testing.B) { // its own timing, once: ns/op counts Python's start too
			if recordsTimed {
				return
			}
			recordsTimed = true
			if cold {
				if err := pagecache.Drop(); err != nil {
					b.Fatalf("VICREG_ARROW_COLD=1: %v", err)
				}
			}
			out, err := exec.Command(py, filepath.Join("testdata", "records_time.py"), "time", dir).CombinedOutput()
			if err != nil {
				b.Fatalf("%s records_time.py: %v\n%s", py, err, out)
			}
			b.Logf("%s", strings.TrimSpace(string(out)))
		})
	}
}

// readShuffled reads the image bytes of every row of r in the order of seed's first epoch, with
// readers reads at once, and returns their bytes.
func readShuffled(b *testing.B, r *Records, seed uint64, readers int) int64 {
	order := datasets.EpochOrder(r.Len(), seed, 0)
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range readers {
		wg.Go(func() {
			var n int64
			for k := w; k < len(order); k += readers {
				data, err := r.Encoded(order[k])
				if err != nil {
					b.Error(err)
					return
				}
				n += int64(len(data))
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

// BenchmarkArrowLoader times the loader (two 224 px vicreg views a sample, 2 workers, batches of
// 64) over an epoch of the Arrow files that VICREG_ARROW_RECORDS names, read as they are, and over
// the same JPEGs as an image folder (VICREG_ARROW_FOLDER, made by testdata/records_time.py
// folder): what training on the files as they are costs beside the folder. Run:
// VICREG_ARROW_RECORDS=/tmp/hfrec VICREG_ARROW_FOLDER=/tmp/hfrec-folder go test -run '^$' -bench
// ArrowLoader -benchtime 2x -count 3 ./datasets/hfdata/
func BenchmarkArrowLoader(b *testing.B) {
	arrow, folder := os.Getenv("VICREG_ARROW_RECORDS"), os.Getenv("VICREG_ARROW_FOLDER")
	if arrow == "" || folder == "" {
		b.Skip("VICREG_ARROW_RECORDS and VICREG_ARROW_FOLDER name no folders: make them with datasets/hfdata/testdata/records_time.py make and folder")
	}
	for _, c := range []struct{ name, dir string }{{"arrow", arrow}, {"folder", folder}} {
		b.Run(c.name, func(b *testing.B) {
			d, err := datasets.Open("folder", datasets.SplitTrain, datasets.Options{DataDir: c.dir})
			if err != nil {
				b.Fatal(err)
			}
			aug, err := datasets.Preset("vicreg", d)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 64
			l, err := datasets.NewLoader(d, datasets.LoaderConfig{BatchSize: batch, Seed: 1, Workers: 2, Augmentation: aug.WithSize(224)}, datasets.Position{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			perEpoch := d.Info().Len / batch
			b.ResetTimer()
			for range b.N {
				for range perEpoch {
					if _, err := l.Next(); err != nil {
						b.Fatal(err)
					}
				}
			}
			perPass := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(perEpoch*batch)/perPass, "images/s")
			b.Logf("%s: %s (%T), %d images an epoch: %.2f s, %.0f images/s", cpuinfo.Describe(), c.dir, d, perEpoch*batch, perPass, float64(perEpoch*batch)/perPass)
		})
	}
}
