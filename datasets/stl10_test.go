package datasets

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// stlImages writes n images of STL-10's binary format from its description: per image the red, green
// and blue 96x96 planes, each stored column by column.
func stlImages(n, first int) []byte {
	var out []byte
	for i := first; i < first+n; i++ {
		for c := range 3 {
			for x := range 96 {
				for y := range 96 {
					out = append(out, pixel(i, y, x, c))
				}
			}
		}
	}
	return out
}

func smallSTL(t *testing.T) map[string][]byte {
	saved := stl10Counts
	t.Cleanup(func() { stl10Counts = saved })
	stl10Counts = map[string]int{SplitTrain: 3, SplitTest: 2, SplitUnlabeled: 4}
	return map[string][]byte{
		"stl10_binary/train_X.bin":     stlImages(3, 0),
		"stl10_binary/train_y.bin":     {1, 10, 4},
		"stl10_binary/test_X.bin":      stlImages(2, 100),
		"stl10_binary/test_y.bin":      {2, 3},
		"stl10_binary/unlabeled_X.bin": stlImages(4, 200),
	}
}

func TestSTL10(t *testing.T) {
	files := smallSTL(t)
	archive := tarGz(t, files)
	srv := newServer(t, map[string][]byte{"stl10_binary.tar.gz": archive})
	saved := stl10Archive
	t.Cleanup(func() { stl10Archive = saved })
	stl10Archive.MD5 = md5Hex(archive)
	opt := Options{DataDir: t.TempDir(), BaseURL: srv.URL, Progress: io.Discard}
	tests := []struct {
		split  string
		first  []int // first pixel index of each image
		labels []int32
	}{
		{SplitTrain, []int{0, 1, 2}, []int32{0, 9, 3}},
		{SplitTest, []int{100, 101}, []int32{1, 2}},
		{SplitUnlabeled, []int{200, 201, 202, 203}, nil},
		{SplitTrainUnlabeled, []int{0, 1, 2, 200, 201, 202, 203}, []int32{0, 9, 3, -1, -1, -1, -1}},
	}
	for _, tc := range tests {
		t.Run(tc.split, func(t *testing.T) {
			ds, err := LoadWith("stl10", tc.split, opt)
			if err != nil {
				t.Fatal(err)
			}
			if m, s, _ := Normalisation("stl10"); fmt.Sprint(m, s) != fmt.Sprint(ds.Mean, ds.Std) {
				t.Errorf("Normalisation %v %v, the loaded set's %v %v", m, s, ds.Mean, ds.Std)
			}
			if ds.N != len(tc.first) || ds.Height != 96 || ds.Width != 96 || ImageSide("stl10") != 96 || ds.Channels != 3 || Channels("stl10") != 3 {
				t.Fatalf("got N=%d %dx%dx%d", ds.N, ds.Width, ds.Height, ds.Channels)
			}
			if (ds.Labels == nil) != (tc.labels == nil) {
				t.Fatalf("labels %v, want %v", ds.Labels, tc.labels)
			}
			// An unlabeled split is an unlabeled set (Info: 0 classes), so that nothing takes its
			// labels; the mixed split keeps STL-10's 10 classes.
			if want := map[bool]int{true: 0, false: 10}[tc.labels == nil]; ds.NumClasses != want || len(ds.ClassNames) != want {
				t.Fatalf("%d classes %v, want %d", ds.NumClasses, ds.ClassNames, want)
			}
			for i, src := range tc.first {
				if tc.labels != nil && ds.Labels[i] != tc.labels[i] {
					t.Fatalf("label %d = %d, want %d", i, ds.Labels[i], tc.labels[i])
				}
				img := ds.Image(i)
				for _, p := range [][3]int{{0, 1, 0}, {1, 0, 0}, {95, 3, 2}, {40, 77, 1}} {
					if got, want := img[(p[0]*96+p[1])*3+p[2]], pixel(src, p[0], p[1], p[2]); got != want {
						t.Fatalf("image %d pixel (y, x, c) %v = %d, want %d", i, p, got, want)
					}
				}
			}
		})
	}
	if srv.requests.Load() != 1 {
		t.Fatalf("%d requests, want 1", srv.requests.Load())
	}
}

func TestSTL10BadLabel(t *testing.T) {
	files := smallSTL(t)
	files["stl10_binary/test_y.bin"] = []byte{2, 11}
	dir := t.TempDir()
	for name, data := range files {
		writeFile(t, filepath.Join(dir, "stl10", name), data)
	}
	path := filepath.Join(dir, "stl10", "stl10_binary", "test_y.bin")
	_, err := LoadWith("stl10", SplitTest, Options{DataDir: dir, NoDownload: true})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "label 11 of image 1") {
		t.Fatalf("got %v, want an error naming %s", err, path)
	}
}
