// Command retrieval is an example of using a pretrained encoder from another Go program: it loads
// the encoder with encoder.Load, embeds a data set and, for a few query images, lists the labels
// of their nearest neighbours by cosine similarity (image retrieval).
//
//	go run ./train -export-encoder encoder.safetensors
//	go run ./examples/retrieval -encoder encoder.safetensors
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/eval"
)

func main() {
	path := flag.String("encoder", "encoder.safetensors", "exported encoder, checkpoint or run folder")
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
	enc, err := encoder.Load(b, path)
	if err != nil {
		return err
	}
	defer enc.Close()
	if dataset == "" {
		dataset = enc.Config.Dataset
	}
	ds, err := datasets.Load(dataset, "", datasets.SplitTest)
	if err != nil {
		return err
	}
	ds = ds.Head(n)
	f, err := enc.EmbedDataset(ds, encoder.EmbedOptions{})
	if err != nil {
		return err
	}
	q := f
	q.N = min(queries, f.N)
	q.X, q.Labels = f.X[:q.N*f.D], f.Labels[:q.N]
	// k+1 neighbours: each query finds itself first.
	found, err := eval.NearestNeighbours(b, f, q, k+1, 0)
	if err != nil {
		return err
	}
	hits, total := 0, 0
	for i, nbs := range found {
		fmt.Printf("query %d (label %d): neighbours", i, ds.Label(i))
		shown := 0
		for _, nb := range nbs {
			if nb.Index == i || shown == k {
				continue
			}
			shown++
			fmt.Printf(" %d(label %d, cos %.3f)", nb.Index, ds.Label(nb.Index), nb.Similarity)
			total++
			if ds.Label(nb.Index) == ds.Label(i) {
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
