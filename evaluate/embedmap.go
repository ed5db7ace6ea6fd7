package main

import (
	"fmt"
	"io"
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

// drawMap lays out at most -map-points of the rows of x (the embeddings of -split; chosen by
// -seed) on the plane by -map-method, draws them to -map, each class named by info, writes their
// coordinates beside it (embedmap.CoordinatesFile; images named relative to root), prints where,
// and returns what -result records.
func drawMap(b backends.Backend, w io.Writer, logger *log.Logger, f *flags, x eval.Features, root string, info datasets.Info) (*results.EmbeddingMap, error) {
	rows := embedmap.Sample(x.N, f.mapPoints, f.seed)
	sub := x.Rows(rows)
	if f.mapMethod == "tsne" && f.perplexity >= float64(sub.N) {
		return nil, config.Errorf("perplexity", "%g is not below the %d images mapped: give -perplexity %d or less", f.perplexity, sub.N, max(1, sub.N/3))
	}
	start := time.Now()
	var m embedmap.Map
	var err error
	if f.mapMethod == "pca" {
		m, err = embedmap.PCA(sub)
	} else {
		cfg := embedmap.TSNEConfig{Perplexity: f.perplexity}
		bar := progress.New(fmt.Sprintf("t-SNE of %d images", sub.N), 1000, 0, progress.Options{Logger: logger, Unit: "iterations"})
		cfg.Progress = func(done, _ int) { bar.Set(int64(done), "") }
		m, err = embedmap.TSNE(b, sub, cfg)
		bar.Finish()
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, max(info.NumClasses, x.NumClasses))
	for c := range names {
		names[c] = info.ClassName(c)
	}
	of := ""
	if sub.N < x.N {
		of = " of the " + humanize.Comma(int64(x.N))
	}
	title := fmt.Sprintf("%s of %s%s %s images' embeddings", m.Method, humanize.Comma(int64(sub.N)), of, f.split)
	if m.Method == "t-SNE" {
		title += fmt.Sprintf(" (perplexity %g; KL divergence %.3f)", m.Perplexity, m.KL)
	}
	fig := embedmap.Figure(m, sub.Labels, names, title)
	if err := fig.Save(f.mapFile); err != nil {
		return nil, err
	}
	coords := embedmap.CoordinatesFile(f.mapFile)
	if err := embedmap.WriteCSV(coords, m, sub, root, names); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "the %s map of %s %s images%s (%s): %s; each image's coordinates: %s\n", m.Method, humanize.Comma(int64(sub.N)), f.split, of, time.Since(start).Round(100*time.Millisecond), f.mapFile, coords)
	r := &results.EmbeddingMap{Figure: f.mapFile, Coordinates: coords, Method: m.Method, Split: f.split, Images: sub.N, Of: x.N}
	if m.Method == "t-SNE" {
		r.Perplexity, r.KL = m.Perplexity, &m.KL
	} else {
		r.Variance = m.Variance[:]
	}
	return r, nil
}
