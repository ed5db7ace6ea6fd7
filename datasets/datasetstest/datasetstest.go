// Package datasetstest writes small image folders for tests of the packages that read them
// (training, evaluation, the analysis): real PNG and JPEG files of mixed sizes, laid out as
// torchvision's ImageFolder expects; and serves them as shards over HTTP.
package datasetstest

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// WriteImageFolder writes n images per class into root/class/, of sizes 24..71 x 20..55 pixels,
// alternately PNG and JPEG, each class with its own colours, and returns their paths in order.
func WriteImageFolder(t testing.TB, root string, classes []string, n int) []string {
	t.Helper()
	var paths []string
	for k, class := range classes {
		for i := range n {
			w, h := 24+(7*i+5*k)%48, 20+(11*i+3*k)%36
			img := image.NewRGBA(image.Rect(0, 0, w, h))
			for y := range h {
				for x := range w {
					img.SetRGBA(x, y, color.RGBA{uint8(60*k + 3*x), uint8(4*y + i), uint8(x ^ y), 255})
				}
			}
			ext := ".png"
			if i%2 == 1 {
				ext = ".jpg"
			}
			p := filepath.Join(root, class, fmt.Sprintf("%03d%s", i, ext))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if ext == ".png" {
				err = png.Encode(f, img)
			} else {
				err = jpeg.Encode(f, img, &jpeg.Options{Quality: 90})
			}
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	return paths
}

// Flatten copies the images at paths, each in its class folder (as WriteImageFolder lays them
// out), into the flat folder dir as CLASS_FILE (a/003.jpg as a_003.jpg), the layout of a Kaggle
// download whose labels are in a table; it returns each copy's name and its class, in order.
func Flatten(t testing.TB, dir string, paths []string) (names, classes []string) {
	t.Helper()
	for _, p := range paths {
		class := filepath.Base(filepath.Dir(p))
		name := class + "_" + filepath.Base(p)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		names, classes = append(names, name), append(classes, class)
	}
	return names, classes
}

// ServeShards writes a train/ and a val/ image folder of n images per class as shards (two
// images each, with mkshards' index.json) and serves them over HTTP until the test ends. It
// returns the URL of the train/ index, and a function that counts the shard requests so far.
func ServeShards(t testing.TB, classes []string, n int) (trainIndex string, shardRequests func() int) {
	t.Helper()
	images, shards := t.TempDir(), t.TempDir()
	for _, split := range []string{"train", "val"} {
		WriteImageFolder(t, filepath.Join(images, split), classes, n)
		f, err := datasets.OpenFolder(filepath.Join(images, split), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := datasets.WriteShards(f, filepath.Join(shards, split), datasets.ShardOptions{PerShard: 2, Prefix: split}); err != nil {
			t.Fatal(err)
		}
	}
	var requests atomic.Int64
	files := http.FileServer(http.Dir(shards))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".tar") {
			requests.Add(1)
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/train/index.json", func() int { return int(requests.Load()) }
}
