package embedmap

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// TestDraw: Draw maps o.Points of the rows, writes the figure and the coordinates beside it,
// reads the images of o.Thumbnails of the mapped rows (each once, all in one call, in order), and
// records what it drew, with the map's trustworthiness where more than twice TrustNeighbours rows
// are mapped; thumbnails that cannot be read, or are not returned, are errors that say so.
func TestDraw(t *testing.T) {
	b := backendtest.Backend(t)
	x := clusters(3, 20, 5, 4, 8)
	x.Files = make([]string, x.N)
	for i := range x.Files {
		x.Files[i] = fmt.Sprintf("/data/img%02d.png", i)
	}
	dir := t.TempDir()
	var read []int
	calls := 0
	o := DrawOptions{Figures: []string{filepath.Join(dir, "m.svg"), filepath.Join(dir, "m.png")}, Method: MethodPCA, Points: 30, Seed: 2,
		Root: "/data", Classes: []string{"a", "b", "c"}, Split: "test", Thumbnails: 4,
		Images: func(rows []int) (map[int]image.Image, error) {
			calls++
			read = append(read, rows...)
			images := map[int]image.Image{}
			for _, r := range rows {
				images[r] = image.NewRGBA(image.Rect(0, 0, 8, 8))
			}
			return images, nil
		}}
	r, err := Draw(b, x, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Figure != o.Figures[0] || r.Coordinates != filepath.Join(dir, "m.csv") || r.Method != "PCA" || r.Images != 30 || r.Of != 60 || r.Thumbnails != 4 || len(r.Variance) != 2 {
		t.Errorf("record %+v", r)
	}
	mapped := Sample(60, 30, 2)
	pca, err := PCA(x.Rows(mapped))
	if err != nil {
		t.Fatal(err)
	}
	if want, err := Trustworthiness(b, x.Rows(mapped), pca, TrustNeighbours); err != nil || r.Trustworthiness == nil || *r.Trustworthiness != want || r.TrustNeighbours != TrustNeighbours {
		t.Errorf("trustworthiness %v at %d neighbours; want that of the rows mapped, %v at %d (%v)", r.Trustworthiness, r.TrustNeighbours, want, TrustNeighbours, err)
	}
	slices.Sort(read)
	if len(read) != 4 || len(slices.Compact(slices.Clone(read))) != 4 {
		t.Errorf("images read of rows %v, want 4 distinct rows", read)
	}
	csv, err := os.ReadFile(r.Coordinates)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range read {
		if !slices.Contains(mapped, row) || !strings.Contains(string(csv), fmt.Sprintf("img%02d.png,", row)) {
			t.Errorf("row %d's image was read, but the row is not mapped", row)
		}
	}
	for _, f := range o.Figures {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	few := o
	few.Points, few.Thumbnails, few.Figures = 2*TrustNeighbours, 0, []string{filepath.Join(dir, "few.svg")}
	if r, err := Draw(b, x, few); err != nil {
		t.Fatal(err)
	} else if r.Trustworthiness != nil || r.TrustNeighbours != 0 {
		t.Errorf("a map of %d rows: trustworthiness %v at %d neighbours; want none", few.Points, r.Trustworthiness, r.TrustNeighbours)
	}
	// A t-SNE map's title rounds the perplexity (a third of the points less one, as train's).
	tsne := DrawOptions{Figures: []string{filepath.Join(dir, "t.svg")}, Method: MethodTSNE, Points: 20, Perplexity: 19.0 / 3, Seed: 1, Split: "test"}
	if _, err := Draw(b, x, tsne); err != nil {
		t.Fatal(err)
	}
	if svg, err := os.ReadFile(tsne.Figures[0]); err != nil || !strings.Contains(string(svg), "(perplexity 6.33; KL divergence ") {
		t.Errorf("the t-SNE map's title does not say (perplexity 6.33; KL divergence ...): %v", err)
	}
	if calls != 1 || !slices.IsSorted(read) {
		t.Errorf("Images called %d times, with rows %v; want once, with the rows in order", calls, read)
	}
	o.Images = func([]int) (map[int]image.Image, error) { return nil, errors.New("/data/img03.png: no such file") }
	if _, err := Draw(b, x, o); err == nil || err.Error() != "the thumbnails: /data/img03.png: no such file" {
		t.Errorf("an image that cannot be read: %v", err)
	}
	o.Images = func([]int) (map[int]image.Image, error) { return map[int]image.Image{}, nil }
	if _, err := Draw(b, x, o); err == nil || !strings.Contains(err.Error(), "the thumbnails: no image of img") {
		t.Errorf("an image missing from what Images returned: %v", err)
	}
	o.Method = "umap"
	if _, err := Draw(b, x, o); err == nil || !strings.Contains(err.Error(), `unknown layout "umap"`) {
		t.Errorf("an unknown layout: %v", err)
	}
}

// TestDrawProgress: Progress follows Barnes-Hut's search for the nearest neighbours (rows), the
// descent (iterations) and the trustworthiness (rows), in that order, each to its end; the
// exact map has no search; PCA, only the trustworthiness.
func TestDrawProgress(t *testing.T) {
	b := backendtest.Backend(t)
	x := clusters(3, 20, 5, 4, 8)
	for _, c := range []struct {
		method, solver, want string
	}{
		{MethodTSNE, SolverBarnesHut, "[neighbours 60/60 iterations 1000/1000 trustworthiness 60/60]"},
		{MethodTSNE, SolverExact, "[iterations 1000/1000 trustworthiness 60/60]"},
		{MethodPCA, "", "[trustworthiness 60/60]"},
	} {
		var seen []string
		last := ""
		o := DrawOptions{Figures: []string{filepath.Join(t.TempDir(), "m.svg")}, Method: c.method, Solver: c.solver, Points: 60, Perplexity: 5,
			Progress: func(phase string, done, total int) {
				if phase != last {
					seen = append(seen, phase, "")
					last = phase
				}
				seen[len(seen)-1] = fmt.Sprintf("%d/%d", done, total)
			}}
		if _, err := Draw(b, x, o); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seen) != c.want {
			t.Errorf("%s %s: phases %v, want %s", c.method, c.solver, seen, c.want)
		}
	}
}
