package main

import (
	"fmt"
	"image"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/dustin/go-humanize"
	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/embedmap"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/progress"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// checkPerplexity refuses a t-SNE perplexity that is not below the images mapped, of images.
func checkPerplexity(f *flags, images int) error {
	if n := min(images, f.mapPoints); f.mapMethod == embedmap.MethodTSNE && f.perplexity >= float64(n) {
		return config.Errorf("perplexity", "%g is not below the %d images mapped: give -perplexity %d or less", f.perplexity, n, max(1, n/3))
	}
	return nil
}

// drawMap maps at most -map-points of the rows of x (the embeddings of -split's images d; chosen
// by -seed) by -map-method and draws them to -map (embedmap.Draw), each class named by d's info,
// the images' files relative to root, and -map-images of them as thumbnails (imagesOf); prints
// where, and returns what -result records.
func drawMap(b backends.Backend, w io.Writer, logger *log.Logger, f *flags, x eval.Features, root string, d datasets.Data) (*results.EmbeddingMap, error) {
	info := d.Info()
	n := min(x.N, f.mapPoints)
	if err := checkPerplexity(f, x.N); err != nil { // images may have been left out since
		return nil, err
	}
	o := embedmap.DrawOptions{Figures: []string{f.mapFile}, Method: f.mapMethod, Points: f.mapPoints, Seed: f.seed, Perplexity: f.perplexity,
		Solver: strings.TrimPrefix(f.tsneSolver, "auto"), Root: root, Classes: info.Names(max(info.NumClasses, x.NumClasses)), Split: f.split}
	if f.mapImages > 0 {
		o.Thumbnails, o.Images = f.mapImages, func(rows []int) (map[int]image.Image, error) { return imagesOf(d, x, rows) }
	}
	start := time.Now()
	what := fmt.Sprintf("%s of %s images", map[string]string{embedmap.MethodTSNE: "t-SNE", embedmap.MethodPCA: "PCA"}[f.mapMethod], humanize.Comma(int64(n)))
	bars := progress.NewPhases(func(phase string, total int64) *progress.Bar {
		name, unit := embedmap.Phase(phase, what)
		return progress.New(name, total, 0, progress.Options{Logger: logger, Unit: unit})
	})
	o.Progress = bars.Set
	r, err := embedmap.Draw(b, x, o)
	bars.Finish()
	if err != nil {
		return nil, err
	}
	of := ""
	if r.Images < r.Of {
		of = " of the " + humanize.Comma(int64(r.Of))
	}
	about := time.Since(start).Round(100 * time.Millisecond).String()
	if t := r.Trust(); t != "" {
		about += "; " + t
	}
	fmt.Fprintf(w, "the %s map of %s %s images%s (%s): %s; each image's coordinates: %s\n", r.Method, humanize.Comma(int64(r.Images)), f.split, of,
		about, r.Figure, r.Coordinates)
	return r, nil
}

// imagesOf reads the images of the rows of x (features of d's images) by their indices in d: one
// by one from a datasets.Source, in one pass over the shards that hold them from shards.
func imagesOf(d datasets.Data, x eval.Features, rows []int) (map[int]image.Image, error) {
	index := func(row int) int {
		if x.Index != nil {
			return int(x.Index[row])
		}
		return row
	}
	out := make(map[int]image.Image, len(rows))
	switch d := d.(type) {
	case datasets.Source:
		for _, row := range rows {
			img, err := d.Decode(index(row))
			if err != nil {
				return nil, err
			}
			out[row] = img.AsImage()
		}
	case *datasets.Shards:
		indices := make([]int, len(rows))
		for k, row := range rows {
			indices[k] = index(row)
		}
		images, err := d.Images(indices)
		if err != nil {
			return nil, err
		}
		for k, row := range rows {
			out[row] = images[indices[k]].AsImage()
		}
	default:
		return nil, fmt.Errorf("%T: no images to draw", d) // every data set is one of the two
	}
	return out, nil
}
