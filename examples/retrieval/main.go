// Command retrieval is an example of using a pretrained encoder from another Go program: it loads
// the encoder with checkpoints.LoadEncoder, embeds a data set and, for a few query images, lists
// the labels of their nearest neighbours by cosine similarity (image retrieval).
//
//	go run ./train -export-encoder encoder.safetensors
//	go run ./examples/retrieval -encoder encoder.safetensors
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/eval"
)

func main() {
	path := flag.String("encoder", "encoder.safetensors", "exported encoder or checkpoint")
	dataset := flag.String("dataset", "", "data set (default: the encoder's)")
	n := flag.Int("n", 1000, "images of the test split to search")
	queries := flag.Int("queries", 5, "query images")
	k := flag.Int("k", 5, "neighbours per query")
	flag.Parse()
	if err := run(*path, *dataset, *n, *queries, *k); err != nil {
		fmt.Fprintln(os.Stderr, "retrieval:", err)
		os.Exit(1)
	}
}

func run(path, dataset string, n, queries, k int) error {
	b, err := backend.New()
	if err != nil {
		return err
	}
	defer b.Finalize()
	enc, err := checkpoints.LoadEncoder(b, path)
	if err != nil {
		return err
	}
	defer enc.Close()
	if dataset == "" {
		dataset = enc.Dataset
	}
	ds, err := datasets.Load(dataset, "", datasets.SplitTest)
	if err != nil {
		return err
	}
	ds = ds.Head(n)
	f, err := eval.Embed(enc, ds, 256)
	if err != nil {
		return err
	}
	norm := func(i int) []float64 {
		row := f.Row(i)
		var s float64
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		out := make([]float64, len(row))
		for j, v := range row {
			out[j] = float64(v) / math.Sqrt(s+1e-12)
		}
		return out
	}
	hits, total := 0, 0
	for q := 0; q < min(queries, f.N); q++ {
		qv := norm(q)
		type match struct {
			i   int
			sim float64
		}
		var all []match
		for i := 0; i < f.N; i++ {
			if i == q {
				continue
			}
			var s float64
			for j, v := range norm(i) {
				s += v * qv[j]
			}
			all = append(all, match{i, s})
		}
		sort.Slice(all, func(a, b int) bool { return all[a].sim > all[b].sim })
		fmt.Printf("query %d (label %d): neighbours", q, ds.Label(q))
		for _, m := range all[:min(k, len(all))] {
			fmt.Printf(" %d(label %d, cos %.3f)", m.i, ds.Label(m.i), m.sim)
			total++
			if ds.Label(m.i) == ds.Label(q) {
				hits++
			}
		}
		fmt.Println()
	}
	if total > 0 {
		fmt.Printf("neighbours with the query's label: %d of %d\n", hits, total)
	}
	return nil
}
