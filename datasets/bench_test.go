package datasets

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"golang.org/x/image/tiff"
)

// BenchmarkTwoView measures two-view augmentation throughput (solo-cifar preset) through the Loader,
// in images per second (each image gives two views), at 32x32 and 96x96 with 1 and 2 workers.
func BenchmarkTwoView(b *testing.B) {
	for _, side := range []int{32, 96} {
		ds, err := Synthetic(SyntheticConfig{N: 1024, Components: 10, Height: side, Width: side, Channels: 3, Sigma: 30, Seed: 1}, "train")
		if err != nil {
			b.Fatal(err)
		}
		aug, _ := Preset("solo-cifar", ds)
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%d/workers=%d", side, side, workers), func(b *testing.B) {
				const batch = 64
				l, err := NewLoader(ds, LoaderConfig{BatchSize: batch, Seed: 1, Workers: workers, Augmentation: aug}, Position{})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				if _, err := l.Next(); err != nil { // warm up the pool
					b.Fatal(err)
				}
				start, cpu0 := time.Now(), cpuTime()
				b.ResetTimer()
				for b.Loop() {
					if _, err := l.Next(); err != nil {
						b.Fatal(err)
					}
				}
				rate := float64(b.N*batch) / time.Since(start).Seconds()
				b.ReportMetric(rate, "images/s")
				// Images per CPU-second: the cost per core, unaffected by other processes on the machine.
				if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
					b.ReportMetric(float64(b.N*batch)/cpu, "images/cpu-s")
				}
				b.Logf("%dx%d, %d workers: %.0f images/s (two views each)", side, side, workers, rate)
			})
		}
	}
}

// BenchmarkImageSizeJPEG reads the size of a 500x375 JPEG (ImageNet's typical size) from its
// header, as the loader does before each decode.
func BenchmarkImageSizeJPEG(b *testing.B) {
	m := image.NewRGBA(image.Rect(0, 0, 500, 375))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	b.Logf("JPEG decoder: %s", JPEGDecoder())
	for b.Loop() {
		if _, _, err := ImageSize(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode decodes a 500x375 photo-like image (testdata/pil/bench/photo.webp, written by
// gen.py: lossy WebP; and the same pixels as a PNG and as an RGBA TIFF, uncompressed and Deflate
// with the horizontal predictor, written by Go's encoders into a temporary folder, and as an RGB
// LZW TIFF and a JPEG one, quality 90, written by PIL) to RGB, with the C library (libwebp, libpng, libtiff) and with Go's
// decoder, each reporting beside its own time PIL's on the same file (pil-ms, measured by testdata/pil/decode_time.py with Debian's
// /usr/bin/python3 when it runs; PIL decodes WebP with libwebp, PNG with zlib and its own code,
// compressed TIFF with libtiff).
//
//	go test ./datasets -run XXX -bench Decode -cpu 1
func BenchmarkDecode(b *testing.B) {
	webpData, err := os.ReadFile(filepath.Join("testdata", "pil", "bench", "photo.webp"))
	if err != nil {
		b.Fatal(err)
	}
	photo, err := DecodeImage(webpData)
	if err != nil {
		b.Fatal(err)
	}
	m := image.NewNRGBA(image.Rect(0, 0, photo.W, photo.H))
	for i := range photo.W * photo.H {
		copy(m.Pix[4*i:4*i+3], photo.Pix[3*i:3*i+3])
		m.Pix[4*i+3] = 255
	}
	var pngData, tiffData, deflateData bytes.Buffer
	if err := png.Encode(&pngData, m); err != nil {
		b.Fatal(err)
	}
	if err := tiff.Encode(&tiffData, m, nil); err != nil {
		b.Fatal(err)
	}
	if err := tiff.Encode(&deflateData, m, &tiff.Options{Compression: tiff.Deflate, Predictor: true}); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s; WebP decoder: %s; PNG decoder: %s; TIFF decoder: %s", cpuinfo.Describe(), WebPDecoder(), PNGDecoder(), TIFFDecoder())
	type file struct {
		format  string
		data    []byte
		lib     *nativeDecoder
		libOnly bool // a layout Go's decoder does not read
	}
	files := []file{{"webp", webpData, libwebp, false}, {"png", pngData.Bytes(), libpng, false},
		{"tiff", tiffData.Bytes(), libtiff, false}, {"tiff-deflate", deflateData.Bytes(), libtiff, false}}
	// Go's encoder writes neither LZW nor JPEG: PIL writes an RGB image saved with
	// compression="tiff_lzw" (the RGB TIFF PIL users have most) and with "jpeg" (quality 90), when
	// it runs.
	dir := b.TempDir()
	src := filepath.Join(dir, "photo.png")
	if err := os.WriteFile(src, pngData.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, options string }{{"tiff-lzw", `compression="tiff_lzw"`}, {"tiff-jpeg", `compression="jpeg", quality=90`}} {
		dst := filepath.Join(dir, c.name+".tif")
		save := `import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").save(sys.argv[2], ` + c.options + ")"
		if out, err := exec.Command("/usr/bin/python3", "-c", save, src, dst).CombinedOutput(); err != nil {
			b.Logf("no %s (PIL writes it): %v %s", c.name, err, out)
		} else if data, err := os.ReadFile(dst); err == nil {
			files = append(files, file{c.name, data, libtiff, c.name == "tiff-jpeg"})
		}
	}
	for _, f := range files {
		path := filepath.Join(b.TempDir(), "photo."+f.format)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			b.Fatal(err)
		}
		pil := -1.0
		if out, err := exec.Command("/usr/bin/python3", filepath.Join("testdata", "pil", "decode_time.py"), path).Output(); err != nil {
			b.Logf("PIL's time not measured: %v", err)
		} else if pil, err = strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil {
			b.Fatalf("decode_time.py printed %q", out)
		}
		for _, decoder := range []string{"lib", "go"} {
			b.Run(f.format+"/"+decoder, func(b *testing.B) {
				if decoder == "go" && f.libOnly {
					b.Skip("Go's decoder does not read it")
				} else if decoder == "go" {
					forceGoDecoder(b, f.lib)
				} else if err := f.lib.unavailable(); err != nil {
					b.Skipf("the library is not loaded: %v", err)
				}
				for b.Loop() {
					if _, err := DecodeImage(f.data); err != nil {
						b.Fatal(err)
					}
				}
				if pil > 0 {
					b.ReportMetric(pil, "pil-ms")
				}
			})
		}
	}
}
