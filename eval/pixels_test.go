package eval

import (
	"math"
	"testing"

	"github.com/gomlx-ssl/vicreg/datasets"
)

func TestPixelsAreNormalisedInOrder(t *testing.T) {
	ds := &datasets.Dataset{Name: "t", Split: "train", N: 3, Height: 1, Width: 2, Channels: 1,
		Images: []uint8{0, 255, 51, 102, 204, 153}, Labels: []int32{1, 0, 1}, NumClasses: 2,
		Mean: []float32{0.5}, Std: []float32{0.25}}
	f, err := Pixels(ds, 0)
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
