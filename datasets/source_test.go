package datasets

import (
	"slices"
	"testing"
)

// TestInfoNames: the classes' names, their numbers where ClassNames ends, and none for none.
func TestInfoNames(t *testing.T) {
	info := Info{ClassNames: []string{"cat", "dog"}}
	if got := info.Names(3); !slices.Equal(got, []string{"cat", "dog", "2"}) {
		t.Errorf("Names(3) = %q, want cat, dog, 2", got)
	}
	if got := info.Names(0); len(got) != 0 {
		t.Errorf("Names(0) = %q", got)
	}
}
