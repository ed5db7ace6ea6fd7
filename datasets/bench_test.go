package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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
// LZW TIFF and a JPEG one, quality 90, written by PIL; and as HEIC and AVIF, written by libheif) to
// RGB, with the C library (libwebp, libpng, libtiff, libheif) and with Go's
// decoder, each reporting beside its own time PIL's on the same file (pil-ms, measured by testdata/pil/decode_time.py with Debian's
// /usr/bin/python3 when it runs; PIL decodes WebP with libwebp, PNG with zlib and its own code,
// compressed TIFF with libtiff; HEIC and AVIF need pillow-heif and Pillow 11.2 or later, which
// Debian's PIL is not: see VICREG_HEIF_PYTHON below).
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
	// HEIC and AVIF, quality 90, written by libheif's encoders; their reference is pillow-heif
	// (HEIC) and Pillow's AVIF plugin, timed in the Python that VICREG_HEIF_PYTHON names (else
	// python3) when it imports pillow_heif.
	heifPython := os.Getenv("VICREG_HEIF_PYTHON")
	if heifPython == "" {
		heifPython = "python3"
	}
	for _, format := range []string{"heic", "avif"} {
		if data, err := encodeHEIF(photo, format == "avif", 90); err != nil {
			b.Logf("no %s (libheif writes it): %v", format, err)
		} else {
			files = append(files, file{format, data, libheif, true})
		}
	}
	for _, f := range files {
		path := filepath.Join(b.TempDir(), "photo."+f.format)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			b.Fatal(err)
		}
		pil, python := -1.0, "/usr/bin/python3"
		if f.lib == libheif {
			python = heifPython
		}
		if out, err := exec.Command(python, filepath.Join("testdata", "pil", "decode_time.py"), path).Output(); err != nil {
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

// BenchmarkShardStream reads every sample of 4 shards (1,024 samples of 64 KiB, not decoded) in
// file order, as an epoch reads them, from files, over HTTP on the loopback (a server in the
// benchmark's process) and through pipe:cat (and from files compressed with gzip, whose random
// bytes, like a JPEG's, do not compress), read ahead into TMPDIR (the default) or streamed
// ("-streamed"); MB/s counts the samples' bytes. Beside it, when
// webdataset imports in a python3 (not Debian's: pip install webdataset; VICREG_WDS_PYTHON names
// the interpreter), webdataset's time for the same files, URLs and pipe: commands: wds-MB/s.
func BenchmarkShardStream(b *testing.B) {
	dir, pattern := benchShards(b)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	// An object store's connections each carry some 100 MB/s at most: simulated at 25 MB/s.
	files := http.FileServer(http.Dir(dir))
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		files.ServeHTTP(&paced{ResponseWriter: w, start: time.Now(), rate: 25e6}, r)
	}))
	defer limited.Close()
	locs := []struct {
		name, loc string
		ahead     int
	}{
		{"file", filepath.Join(dir, pattern), DefaultReadAhead},
		{"file-gzip", filepath.Join(dir, pattern+".gz"), DefaultReadAhead},
		{"http", srv.URL + "/" + pattern, DefaultReadAhead},
		{"pipe", "pipe:cat " + filepath.Join(dir, pattern), DefaultReadAhead},
		{"http-index-md5-checked", srv.URL + "/index.json", DefaultReadAhead},
		{"http-streamed", srv.URL + "/" + pattern, 0},
		{"pipe-streamed", "pipe:cat " + filepath.Join(dir, pattern), 0},
		{"http-25MBps-per-connection", limited.URL + "/" + pattern, DefaultReadAhead},
		{"http-25MBps-per-connection-streamed", limited.URL + "/" + pattern, 0},
	}
	python := os.Getenv("VICREG_WDS_PYTHON")
	if python == "" {
		python = "python3"
	}
	wdsMBs := map[string]float64{} // of the first four sources
	args := []string{filepath.Join("testdata", "wds", "read_time.py")}
	for _, l := range locs[:4] {
		args = append(args, l.loc)
	}
	if err := exec.Command(python, "-c", "import webdataset").Run(); err != nil {
		b.Logf("webdataset's time not measured (%s does not import it: pip install webdataset): %v", python, err)
	} else if out, err := exec.Command(python, args...).Output(); err != nil {
		b.Logf("webdataset's time not measured: %v", err)
	} else {
		for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var seconds float64
			var n int64
			if _, err := fmt.Sscan(line, &seconds, &n); err != nil || n < benchShardBytes {
				b.Fatalf("read_time.py printed %q", out)
			}
			wdsMBs[locs[i].name] = float64(n) / seconds / 1e6
		}
	}
	b.Logf("%s", cpuinfo.Describe())
	for _, l := range locs {
		b.Run(l.name, func(b *testing.B) {
			benchStream(b, l.loc, l.ahead)
			if v, ok := wdsMBs[strings.TrimSuffix(l.name, "-streamed")]; ok { // not for the paced server
				b.ReportMetric(v, "wds-MB/s")
			}
		})
	}
}

// benchShardBytes is what the shards of benchShards hold in images: 4 shards of 256 images of
// 64 KiB.
const benchShardBytes = 4 * 256 * 64 << 10

// benchShards writes 4 shards of 256 random "images" of 64 KiB (incompressible), plain and gzipped,
// and their index.json, into a temporary folder; pattern names the plain ones.
func benchShards(b *testing.B) (dir, pattern string) {
	dir = b.TempDir()
	const shards, perShard, size = 4, 256, 64 << 10
	rng := rand.New(rand.NewPCG(1, 2))
	var paths []string
	for s := range shards {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for i := range perShard {
			data := make([]byte, size)
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			key := fmt.Sprintf("s%d/%06d", s, i)
			for _, m := range []struct {
				name string
				data []byte
			}{{key + ".jpg", data}, {key + ".cls", []byte(strconv.Itoa(i % 10))}} {
				tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg})
				tw.Write(m.data)
			}
		}
		tw.Close()
		p := filepath.Join(dir, fmt.Sprintf("b-%06d.tar", s))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(buf.Bytes())
		zw.Close()
		if err := os.WriteFile(p+".gz", gz.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// Their index, with each shard's size and MD5 digest, which a download is checked against.
	indexed, err := ScanShards(filepath.Join(dir, fmt.Sprintf("b-{000000..%06d}.tar", shards-1)), ShardLabel{}, nil)
	if err == nil {
		err = indexed.WriteIndex(filepath.Join(dir, "index.json"))
	}
	if err != nil {
		b.Fatal(err)
	}
	return dir, fmt.Sprintf("b-{000000..%06d}.tar", shards-1)
}

// benchStream reads every sample of the shards at loc, with ahead shards read ahead, in each
// iteration, and reports MB/s of image bytes; the scan that opens them is not timed.
func benchStream(b *testing.B, loc string, ahead int) {
	s, err := OpenShards(loc, "")
	if err != nil {
		b.Fatal(err)
	}
	s.readAhead = ahead
	var n int64
	for b.Loop() {
		st := newShardStream(s, nil, nil, 0, s.Len())
		for {
			smp, _, err := st.read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += int64(len(smp.data))
		}
		st.close()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// paced is a ResponseWriter that writes at most rate bytes a second.
type paced struct {
	http.ResponseWriter
	start time.Time
	rate  float64
	sent  int
}

func (p *paced) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), 32<<10)
		m, err := p.ResponseWriter.Write(b[:k])
		n, p.sent, b = n+m, p.sent+m, b[k:]
		if err != nil {
			return n, err
		}
		time.Sleep(time.Until(p.start.Add(time.Duration(float64(p.sent) / p.rate * float64(time.Second)))))
	}
	return n, nil
}

// BenchmarkOpenFolder measures the listing of an image folder of 20,000 (empty) files in 100
// classes: as class folders, and flat in one subfolder with a metadata.csv giving the labels (a
// table of 20,000 rows read, and each file looked up in it). Nothing is decoded.
func BenchmarkOpenFolder(b *testing.B) {
	b.Logf("%s", cpuinfo.Describe())
	const n, classes = 20000, 100
	byClass, byTable := b.TempDir(), b.TempDir()
	var table, kaggle strings.Builder
	table.WriteString("file_name,label\n")
	kaggle.WriteString("id,label\n") // an outside table, Kaggle's: ids without the extension
	for i := range n {
		name := fmt.Sprintf("%06d.jpg", i)
		class := fmt.Sprintf("c%03d", i%classes)
		for _, p := range []string{filepath.Join(byClass, class, name), filepath.Join(byTable, "images", name)} {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		fmt.Fprintf(&table, "images/%s,%s\n", name, class)
		fmt.Fprintf(&kaggle, "images/%06d,%s\n", i, class)
	}
	if err := os.WriteFile(filepath.Join(byTable, "metadata.csv"), []byte(table.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	outside := filepath.Join(b.TempDir(), "train.csv")
	if err := os.WriteFile(outside, []byte(kaggle.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, dir string
		opt       Options
		want      int
	}{
		{"class-folders", byClass, Options{}, n},
		{"metadata-table", byTable, Options{}, n},
		{"label-table", byTable, Options{LabelTable: outside}, n},
		{"val-percent-10", byClass, Options{ValPercent: 10}, n * 9 / 10}, // the training split
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.opt.DataDir = bc.dir
			for b.Loop() {
				f, err := Open("folder", SplitTrain, bc.opt)
				if err != nil || f.Info().Len != bc.want || f.Info().NumClasses != classes {
					b.Fatalf("%v, %d images", err, f.Info().Len)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}
