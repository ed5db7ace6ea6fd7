package datasets

import (
	"archive/tar"
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/internal/pagecache"
)

// writeILSVRCTrainArchive writes an ILSVRC2012_img_train.tar of classes class tars of perClass images
// of size bytes each (a small JPEG, then padding: the header is what is checked) into dir.
func writeILSVRCTrainArchive(b *testing.B, dir string, classes, perClass, size int) string {
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		b.Fatal(err)
	}
	img := append(jpg.Bytes(), make([]byte, size-jpg.Len())...)
	p := filepath.Join(dir, ILSVRCTrainArchive)
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	outer := tar.NewWriter(f)
	for c := range classes {
		wnid := fmt.Sprintf("n%08d", c)
		var inner bytes.Buffer
		tw := tar.NewWriter(&inner)
		for i := range perClass {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%s_%d.JPEG", wnid, i), Mode: 0o644, Size: int64(len(img))})
			tw.Write(img)
		}
		tw.Close()
		outer.WriteHeader(&tar.Header{Name: wnid + ".tar", Mode: 0o644, Size: int64(inner.Len())})
		outer.Write(inner.Bytes())
	}
	if err := outer.Close(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// ilsvrcTorchvisionTimed says that BenchmarkILSVRCTrainArchive has timed torchvision once.
var ilsvrcTorchvisionTimed bool

// BenchmarkILSVRCTrainArchive times what mkshards reads of a training archive of 50 class tars of 40
// images of 100 KB (200 MB, in the page cache): the listing of its tar headers (OpenILSVRCTrain), then
// every image, shuffled over the split (Samples), with 1 and with 8 reads at once. Beside it,
// once, where VICREG_ILSVRC_PYTHON names a python3 with torchvision, what torchvision does before
// it can read the same archive: parse_train_archive, which extracts it (testdata/ilsvrc/extract_time.py).
// With VICREG_ILSVRC_COLD=1 (as root) the archive is 100 class tars of 100 images, and the page
// cache is dropped before each pass: the reads are the disk's. Run:
// VICREG_ILSVRC_PYTHON=/usr/bin/python3 go test -run '^$' -bench ILSVRCTrainArchive -benchtime 5x ./datasets/
func BenchmarkILSVRCTrainArchive(b *testing.B) {
	classes, perClass, size := 50, 40, 100<<10
	cold := os.Getenv("VICREG_ILSVRC_COLD") == "1"
	if cold {
		classes, perClass = 100, 100
	}
	p := writeILSVRCTrainArchive(b, b.TempDir(), classes, perClass, size)
	b.Setenv("XDG_CACHE_HOME", b.TempDir()) // the listing kept here, removed before each pass
	for _, r := range []int{1, 8} {
		b.Run(fmt.Sprintf("readers=%d", r), func(b *testing.B) {
			defer func(old int) { archiveReaders = old }(archiveReaders)
			archiveReaders = r
			var listing float64
			b.ResetTimer()
			for i := range b.N {
				if cold {
					b.StopTimer()
					dropPageCache(b)
					b.StartTimer()
				}
				os.Remove(listingFile(p))
				start := b.Elapsed()
				s, err := OpenILSVRCTrain(p, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				listing += (b.Elapsed() - start).Seconds()
				n := 0
				for x := range s.Samples(uint64(i), false, 0) {
					if x.Err != nil || x.Bad != nil || len(x.Data) != size {
						b.Fatalf("%s: %v %v, %d bytes", x.Member, x.Err, x.Bad, len(x.Data))
					}
					n++
				}
				if n != classes*perClass {
					b.Fatalf("%d images, want %d", n, classes*perClass)
				}
			}
			perPass := b.Elapsed().Seconds() / float64(b.N)
			mb := float64(classes*perClass*size) / (1 << 20)
			b.ReportMetric(perPass*1e3, "ms/pass")
			b.ReportMetric(mb/perPass, "MB/s")
			cache := "in the page cache"
			if cold {
				cache = "the page cache dropped"
			}
			b.Logf("%s: %d images (%.0f MB) in %d class tars, %s, %d reads at once: %.0f ms a pass (listing %.1f ms), %.0f MB/s, %.0f images/s",
				cpuinfo.Describe(), classes*perClass, mb, classes, cache, r, perPass*1e3, listing/float64(b.N)*1e3, mb/perPass, float64(classes*perClass)/perPass)
		})
	}
	b.Run("listed-from-cache", func(b *testing.B) { // opening alone, with the listing kept
		if _, err := OpenILSVRCTrain(p, nil, nil); err != nil { // lists, and keeps the listing
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if cold {
				b.StopTimer()
				dropPageCache(b)
				b.StartTimer()
			}
			if _, err := OpenILSVRCTrain(p, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/open")
	})
	if py := os.Getenv("VICREG_ILSVRC_PYTHON"); py != "" {
		b.Run("torchvision", func(b *testing.B) { // its own timing, once: ns/op counts Python's start too
			if ilsvrcTorchvisionTimed {
				return
			}
			ilsvrcTorchvisionTimed = true
			if cold {
				dropPageCache(b)
			}
			out, err := exec.Command(py, filepath.Join("testdata", "ilsvrc", "extract_time.py"), p).CombinedOutput()
			if err != nil {
				b.Fatalf("%s extract_time.py: %v\n%s", py, err, out)
			}
			b.Logf("%s", strings.TrimSpace(string(out)))
		})
	}
}

// dropPageCache writes back and drops the page cache (root only).
func dropPageCache(b *testing.B) {
	if err := pagecache.Drop(); err != nil {
		b.Fatalf("VICREG_ILSVRC_COLD=1: %v", err)
	}
}
