package embedmap

import (
	"fmt"
	"image"
	"math"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/results"
)

// The layouts Draw knows, by the names the commands take (-map-method).
const (
	MethodTSNE = "tsne"
	MethodPCA  = "pca"
)

// DrawOptions says what Draw maps and where it draws it.
type DrawOptions struct {
	// Figures are the files the figure goes to (.svg, .png: plot.Figure.Save); the coordinates
	// go beside the first (CoordinatesFile).
	Figures []string
	// Method is MethodTSNE or MethodPCA.
	Method string
	// Points is the most rows mapped, chosen by Seed (Sample).
	Points int
	Seed   uint64
	// Perplexity is t-SNE's (below the rows mapped), Solver its gradient (TSNEConfig.Solver:
	// SolverAuto picks).
	Perplexity float64
	Solver     string
	// Root is the folder the rows' files are named relative to (eval.Features.Names), Classes
	// the names of the classes, Split what the rows are ("test"), for the title.
	Root    string
	Classes []string
	Split   string
	// Progress, when set, follows the long phases of the drawing: it is called with the phase
	// (PhaseNeighbours, PhaseIterations, PhaseTrust, in that order, those that run), what of it
	// is done and its size.
	Progress func(phase string, done, total int)
	// Thumbnails is how many of the mapped rows are drawn as thumbnails of their images at their
	// places (AddThumbnails; chosen by Seed among those mapped, spread out: SpreadOut; 0: none),
	// read by Images (which must then be set), given their rows of x (in increasing order), all
	// at once: shards read each of their files once for them.
	Thumbnails int
	Images     func(rows []int) (map[int]image.Image, error)
}

// The phases of Draw that DrawOptions.Progress follows, and what they count.
const (
	PhaseNeighbours = "neighbours"      // Barnes-Hut t-SNE's search for each row's nearest: rows
	PhaseIterations = "iterations"      // t-SNE's descent: iterations
	PhaseTrust      = "trustworthiness" // the map's trustworthiness: rows
)

// Phase names a phase of Draw (DrawOptions.Progress) for a progress bar of the drawing of what
// ("t-SNE of 2,000 test images"), and the unit it counts.
func Phase(phase, what string) (name, unit string) {
	switch phase {
	case PhaseNeighbours:
		return what + ": the nearest neighbours", "images"
	case PhaseTrust:
		return what + ": the map's trustworthiness", "images"
	}
	return what, "iterations"
}

// Draw maps at most o.Points of the rows of x (Sample) by o.Method, draws the map (Figure; its
// title says what was mapped, of how many, t-SNE's solver where Barnes-Hut, its perplexity and
// divergence, and the map's trustworthiness at TrustNeighbours neighbours, for more than twice
// as many rows) to o.Figures, writes the coordinates beside the first (WriteCSV), and returns
// the record of it (its files as given).
func Draw(b backends.Backend, x eval.Features, o DrawOptions) (*results.EmbeddingMap, error) {
	if len(o.Figures) == 0 || (o.Thumbnails > 0 && o.Images == nil) {
		panic("embedmap.Draw: no figure to draw to, or thumbnails without Images to read them")
	}
	rows := Sample(x.N, o.Points, o.Seed)
	sub := x.Rows(rows)
	var m Map
	var err error
	switch o.Method {
	case MethodPCA:
		m, err = PCA(sub)
	case MethodTSNE:
		cfg := TSNEConfig{Perplexity: o.Perplexity, Solver: o.Solver}
		if o.Progress != nil {
			cfg.Progress = func(done, total int) { o.Progress(PhaseIterations, done, total) }
			cfg.NeighbourProgress = func(done, total int) { o.Progress(PhaseNeighbours, done, total) }
		}
		m, err = TSNE(b, sub, cfg)
	default:
		return nil, fmt.Errorf("embedmap: unknown layout %q: use %s or %s", o.Method, MethodTSNE, MethodPCA)
	}
	if err != nil {
		return nil, err
	}
	of := ""
	if sub.N < x.N {
		of = " of the " + humanize.Comma(int64(x.N))
	}
	var trust *float64
	if sub.N > 2*TrustNeighbours {
		var progress func(done, total int)
		if o.Progress != nil {
			progress = func(done, total int) { o.Progress(PhaseTrust, done, total) }
		}
		t, err := trustworthiness(b, sub, m, TrustNeighbours, progress)
		if err != nil {
			return nil, err
		}
		trust = &t
	}
	title := fmt.Sprintf("%s of %s%s %s images' embeddings", m.Method, humanize.Comma(int64(sub.N)), of, o.Split)
	var about []string
	if m.Solver == SolverBarnesHut {
		about = append(about, "Barnes-Hut, θ "+strconv.FormatFloat(m.Angle, 'f', -1, 64))
	}
	if m.Method == "t-SNE" {
		about = append(about, "perplexity "+strconv.FormatFloat(math.Round(m.Perplexity*100)/100, 'f', -1, 64), fmt.Sprintf("KL divergence %.3f", m.KL))
	}
	if trust != nil {
		about = append(about, fmt.Sprintf("trustworthiness %.3f", *trust))
	}
	if len(about) > 0 {
		title += " (" + strings.Join(about, "; ") + ")"
	}
	fig := Figure(m, sub.Labels, o.Classes, title)
	var thumbs map[int]image.Image
	if o.Thumbnails > 0 {
		chosen := SpreadOut(m, o.Thumbnails, o.Seed+1)
		at := make([]int, len(chosen)) // their rows of x, in increasing order as chosen and rows are
		for k, j := range chosen {
			at[k] = rows[j]
		}
		images, err := o.Images(at)
		if err != nil {
			return nil, fmt.Errorf("the thumbnails: %w", err)
		}
		thumbs = map[int]image.Image{}
		for k, j := range chosen {
			img, ok := images[at[k]]
			if !ok {
				_, names := sub.Names(o.Root)
				return nil, fmt.Errorf("the thumbnails: no image of %s", names[j])
			}
			thumbs[j] = Thumbnail(img)
		}
		AddThumbnails(&fig, m, sub.Labels, thumbs)
	}
	if err := fig.Save(o.Figures...); err != nil {
		return nil, err
	}
	coords := CoordinatesFile(o.Figures[0])
	if err := WriteCSV(coords, m, sub, o.Root, o.Classes); err != nil {
		return nil, err
	}
	r := &results.EmbeddingMap{Figure: o.Figures[0], Coordinates: coords, Method: m.Method, Split: o.Split, Images: sub.N, Of: x.N, Thumbnails: len(thumbs),
		Trustworthiness: trust}
	if trust != nil {
		r.TrustNeighbours = TrustNeighbours
	}
	if m.Method == "t-SNE" {
		r.Perplexity, r.KL, r.Solver, r.Angle = m.Perplexity, &m.KL, m.Solver, m.Angle
	} else {
		r.Variance = m.Variance[:]
	}
	return r, nil
}
