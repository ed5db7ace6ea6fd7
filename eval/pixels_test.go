package eval

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/datasets/datasetstest"
)

func TestPixelsAreNormalisedInOrder(t *testing.T) {
	ds := &datasets.Dataset{Name: "t", Split: "train", N: 3, Height: 1, Width: 2, Channels: 1,
		Images: []uint8{0, 255, 51, 102, 204, 153}, Labels: []int32{1, 0, 1}, NumClasses: 2,
		Mean: []float32{0.5}, Std: []float32{0.25}}
	f, err := Pixels(ds, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if f.N != 3 || f.D != 2 || len(f.X) != 6 || len(f.Labels) != 3 || f.Labels[0] != 1 || f.Labels[1] != 0 {
		t.Fatalf("got %+v", f)
	}
	for i, p := range ds.Images {
		want := (float64(p)/255 - 0.5) / 0.25
		if math.Abs(float64(f.X[i])-want) > 1e-5 {
			t.Errorf("pixel %d: %v, want %v", i, f.X[i], want)
		}
	}
}

// TestPixelsSkipBadImages: with skipBad, an image that does not decode has no row and Index
// names the image of each row (as the encoder's embeddings, with which the raw-pixel baseline is
// compared); without it, it is an error naming the file.
func TestPixelsSkipBadImages(t *testing.T) {
	root := t.TempDir()
	datasetstest.WriteImageFolder(t, root, []string{"a", "b"}, 2) // a/ holds images 0 and 1
	bad := filepath.Join(root, "a", "zz-broken.png")              // image 2 in the sorted order
	if err := os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\n not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := datasets.OpenFolder(root, datasets.SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Pixels(d, 8, false); err == nil || !strings.Contains(err.Error(), "zz-broken.png") {
		t.Errorf("a bad image without skipBad: %v, want an error naming it", err)
	}
	f, err := Pixels(d, 8, true)
	if err != nil {
		t.Fatal(err)
	}
	if f.N != 4 || fmt.Sprint(f.Index) != "[0 1 3 4]" || fmt.Sprint(f.Labels) != "[0 0 1 1]" || len(f.X) != 4*8*8*3 {
		t.Errorf("skipBad: %d rows, index %v, labels %v, %d values; want 4 rows, [0 1 3 4], [0 0 1 1], %d", f.N, f.Index, f.Labels, len(f.X), 4*8*8*3)
	}
}
