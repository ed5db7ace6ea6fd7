package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// pipelineRow is one input-pipeline measurement: two-view augmentation through datasets.Loader.
type pipelineRow struct {
	Preset     string
	Source     int // side of the stored (decoded) images
	View       int // side of each view
	Batch      int
	Workers    int
	ImagesPS   float64 // images per second; each gives two views
	ImagesCPUS float64 // images per CPU-second of the process
}

// pipelineCases are the pipelines of the GPU rows: solo-learn's CIFAR augmentation of 32×32
// images (the ResNet-18 rows) and the official VICReg augmentation cropping 256×256 images to
// 224×224 views (the ResNet-50 row). The images are synthetic and already decoded: JPEG decoding
// is not included.
var pipelineCases = []struct {
	preset        string
	source, batch int
}{
	{"solo-cifar", 32, 256},
	{"vicreg", 256, 128},
}

// measurePipeline runs the Loader with the preset on n synthetic images of side×side for about
// d after one warm-up batch, with the given workers.
func measurePipeline(preset string, side, batch, workers int, d time.Duration) (pipelineRow, error) {
	row := pipelineRow{Preset: preset, Source: side, Batch: batch, Workers: workers}
	n := max(2*batch, 256)
	ds, err := datasets.Synthetic(datasets.SyntheticConfig{N: n, Components: 10, Height: side, Width: side, Channels: 3, Sigma: 30, Seed: 1}, "train")
	if err != nil {
		return row, err
	}
	aug, err := datasets.Preset(preset, ds)
	if err != nil {
		return row, err
	}
	row.View = aug.View1.Size
	l, err := datasets.NewLoader(ds, datasets.LoaderConfig{BatchSize: batch, Seed: 1, Workers: workers, Augmentation: aug}, datasets.Position{})
	if err != nil {
		return row, err
	}
	defer l.Close()
	if _, err := l.Next(); err != nil {
		return row, err
	}
	start, cpu0 := time.Now(), cpuTime()
	images := 0
	for time.Since(start) < d {
		if _, err := l.Next(); err != nil {
			return row, err
		}
		images += batch
	}
	row.ImagesPS = float64(images) / time.Since(start).Seconds()
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		row.ImagesCPUS = float64(images) / cpu
	}
	return row, nil
}

// runPipeline prints the input pipeline's throughput on every core and on one.
func runPipeline(seconds float64) error {
	d := time.Duration(seconds * float64(time.Second))
	var rows []pipelineRow
	for _, c := range pipelineCases {
		for _, w := range []int{runtime.NumCPU(), 1} {
			r, err := measurePipeline(c.preset, c.source, c.batch, w, d)
			if err != nil {
				return fmt.Errorf("pipeline %s %d px, %d workers: %w", c.preset, c.source, w, err)
			}
			rows = append(rows, r)
			if runtime.NumCPU() == 1 {
				break
			}
		}
	}
	printPipeline(os.Stdout, rows)
	return nil
}

// printPipeline writes the pipeline table. Views per second is what a training step consumes:
// compare it with the step table's views/s (a training image is two views).
func printPipeline(w io.Writer, rows []pipelineRow) {
	fmt.Fprintf(w, "\n| augmentation | source px | view px | batch | workers | images/s | views/s | images per CPU-s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %.0f | %.0f | %.0f |\n", r.Preset, r.Source, r.View, r.Batch, r.Workers, r.ImagesPS, 2*r.ImagesPS, r.ImagesCPUS)
	}
	fmt.Fprintf(w, "\nTwo-view augmentation through datasets.Loader on synthetic, already decoded images (no JPEG decoding), %d logical CPUs. "+
		"A training step keeps up when the views/s here exceed the step table's views/s.\n", runtime.NumCPU())
}
