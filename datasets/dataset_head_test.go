package datasets

import "testing"

func TestHead(t *testing.T) {
	d := &Dataset{Name: "t", N: 3, Height: 1, Width: 1, Channels: 2, Images: []uint8{1, 2, 3, 4, 5, 6}, Labels: []int32{0, 1, 2}, NumClasses: 3}
	h := d.Head(2)
	if h.N != 2 || len(h.Images) != 4 || h.Images[3] != 4 || len(h.Labels) != 2 || h.Labels[1] != 1 {
		t.Errorf("Head(2) = %+v", h)
	}
	for _, n := range []int{0, -1, 3, 10} {
		if d.Head(n) != d {
			t.Errorf("Head(%d) should return the data set itself", n)
		}
	}
}
