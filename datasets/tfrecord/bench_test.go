package tfrecord

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
)

// BenchmarkRead reads a TFRecord file of 1,024 examples of a 64 KiB image (a PNG's header, then
// random bytes) and a label: "open" as Open does (every record read and parsed, its checksums
// checked, the labels read), "samples" as mkshards then reads it (Samples in file order, each
// image's header read); MB/s counts the images' bytes. Beside it, when TensorFlow imports in a
// python3 (VICREG_TF_PYTHON names the interpreter: pip install tensorflow-cpu), TensorFlow's time
// to read and parse the same file (testdata/read_time.py): tf-MB/s.
func BenchmarkRead(b *testing.B) {
	png, err := os.ReadFile(filepath.Join("..", "testdata", "pil", "exif", "orient-1.png"))
	if err != nil {
		b.Fatal(err)
	}
	const records, size = 1024, 64 << 10
	rng := rand.New(rand.NewPCG(1, 2))
	var all [][]byte
	for i := range records {
		img := make([]byte, size)
		for j := range img {
			img[j] = byte(rng.Uint32())
		}
		copy(img, png)
		label := int64(i % 10)
		all = append(all, exampleBytes(img, &label))
	}
	path := filepath.Join(b.TempDir(), "bench-train.tfrecord")
	writeRecords(b, path, all...)
	b.Logf("%s", cpuinfo.Describe())
	python := os.Getenv("VICREG_TF_PYTHON")
	if python == "" {
		python = "python3"
	}
	tfMBs := 0.0
	if out, err := exec.Command(python, filepath.Join("testdata", "read_time.py"), path).Output(); err != nil {
		b.Logf("TensorFlow's time not measured (%s with read_time.py: %v; pip install tensorflow-cpu, VICREG_TF_PYTHON)", python, err)
	} else {
		var seconds float64
		var n int64
		if _, err := fmt.Sscan(string(out), &seconds, &n); err != nil || n != records*size {
			b.Fatalf("read_time.py printed %q", out)
		}
		tfMBs = float64(n) / seconds / 1e6
	}
	split := Split{Name: "train", Files: []string{path}}
	b.Run("open", func(b *testing.B) {
		b.SetBytes(records * size)
		for b.Loop() {
			if s, err := Open(split, ""); err != nil || s.Len() != records {
				b.Fatal(err)
			}
		}
		if tfMBs > 0 {
			b.ReportMetric(tfMBs, "tf-MB/s")
		}
	})
	s, err := Open(split, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("samples", func(b *testing.B) {
		b.SetBytes(records * size)
		for b.Loop() {
			n := 0
			for x := range s.Samples(0, true, 0) {
				if x.Err != nil || x.Bad != nil {
					b.Fatal(x.Err, x.Bad)
				}
				n++
			}
			if n != records {
				b.Fatalf("%d samples", n)
			}
		}
	})
}
