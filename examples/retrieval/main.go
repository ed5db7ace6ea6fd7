// Command retrieval is an example of using a pretrained encoder from another Go program: it loads
// the encoder with encoder.Load, embeds a data set and, for a few query images, lists the labels
// of their nearest neighbours by cosine similarity (image retrieval): their files for an image
// folder, their indices otherwise.
//
//	go run ./evaluate -checkpoint runs/vicreg -export-encoder encoder.safetensors -probe-epochs 0 -knn-k 0
//	go run ./examples/retrieval -encoder encoder.safetensors
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error (a bad flag or value, an argument
// that is not a flag).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/datasets"
	_ "github.com/gomlx-ssl/vicreg/datasets/hfdata" // reads the datasets library's Arrow files as a folder
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
	"github.com/gomlx-ssl/vicreg/train/config"
)

func main() {
	path := flag.String("encoder", "encoder.safetensors", "exported encoder, checkpoint or run folder")
	dataset := flag.String("dataset", "", "data set (default: the encoder's)")
	dataDir := flag.String("data-dir", "", "folder of the data sets; for an image folder or shards, the images (default: the encoder's)")
	n := flag.Int("n", 1000, "images of the test split to search (in-memory data sets; 0: all)")
	queries := flag.Int("queries", 5, "query images (at least 1)")
	k := flag.Int("k", 5, "neighbours per query (at least 1)")
	skipBad := flag.Bool("skip-bad-images", false, "leave out the images that do not decode, logged by name, instead of stopping (default: as the encoder's run did)")
	flag.Parse()
	// The flag package stops at the first argument that is not a flag: refuse it rather than run
	// without the flags after it (or with the default -encoder instead of the path given).
	usage := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "retrieval: "+format+"\nRun 'go run ./examples/retrieval -h' for the flags.\n", a...)
		os.Exit(2)
	}
	switch {
	case flag.NArg() > 0:
		usage("%s; the encoder is given as -encoder PATH", flagargs.Stray(flag.CommandLine, os.Args[1:]))
	case *n < 0:
		usage("-n: must be >= 0 (0: every test image), got %d", *n)
	case *queries < 1:
		usage("-queries: must be >= 1, got %d", *queries)
	case *k < 1:
		usage("-k: must be >= 1, got %d", *k)
	}
	var skip *bool // nil: as the encoder's run did
	given := map[string]bool{}
	flag.Visit(func(f *flag.Flag) {
		given[f.Name] = true
		if f.Name == "skip-bad-images" {
			skip = skipBad
		}
	})
	if err := run(*path, *dataset, *dataDir, *n, *queries, *k, given, skip); err != nil {
		var fe *config.FieldError
		if errors.As(err, &fe) {
			usage("%v", err)
		}
		fmt.Fprintln(os.Stderr, "retrieval:", err)
		os.Exit(1)
	}
}

// run searches the first n images (0: all) of the test split of the data set with the encoder at
// path for queries images, listing k neighbours of each. given holds the flags given: the
// defaults of -n, -queries and -k are caps, but a count given is refused where there are not so
// many images (and -n for an image folder or shards, whose first n images the example does not
// take). skipBad leaves out the images that do not decode (nil: when the encoder's run did).
// Usage errors are *config.FieldError values.
func run(path, dataset, dataDir string, n, queries, k int, given map[string]bool, skipBad *bool) error {
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
	// The encoder's data set and folder unless said otherwise, as evaluate reads them: -dataset
	// naming the encoder's own data set keeps the folder it was trained on.
	if dataset == "" {
		dataset = enc.Config.Dataset
	}
	if dataDir == "" && dataset == enc.Config.Dataset {
		dataDir = enc.Config.DataDir
		if err := datasets.CheckRecordedDataDir(dataDir); err != nil {
			return err
		}
	}
	// The encoder's own data set is read as its run read it (its labels and split: a label table,
	// a held-out percentage or a split column; EXIF orientation), another with its defaults.
	opt := datasets.Options{DataDir: dataDir}
	if strings.EqualFold(dataset, enc.Config.Dataset) {
		opt = enc.Config.DataOptions(dataDir, datasets.RecordedShardCache(enc.Config.ShardCache))
	}
	ds, err := datasets.Open(dataset, datasets.SplitTest, opt)
	if err != nil {
		return err
	}
	if mem, ok := ds.(*datasets.Dataset); ok {
		if given["n"] && n > mem.N {
			return config.Errorf("n", "%d is more than the %d images of the test split: use -n %d or less, or -n 0 for all of them", n, mem.N, mem.N)
		}
		ds = mem.Head(n)
	} else if given["n"] && n > 0 {
		return config.Errorf("n", "applies to in-memory data sets (mnist, cifar10, ...), not to -dataset %s: use -n 0 to search every image of its test split", dataset)
	}
	// The images as the encoder was trained on them: resized to its view size, normalised; those
	// that do not decode are left out (logged) with -skip-bad-images or, when it is not given,
	// when the encoder's run skipped them, as evaluate does.
	skip := enc.Config.SkipBadImages
	if skipBad != nil {
		skip = *skipBad
	}
	// A count given that the images cannot meet is refused before they are embedded, and again
	// after, when images that do not decode were left out.
	fits := func(images int) error {
		switch {
		case given["queries"] && queries > images:
			return config.Errorf("queries", "%d is more than the %d images searched: give -queries %d or fewer", queries, images, images)
		case given["k"] && images < 2: // -k 0 is refused: say what there is instead
			return config.Errorf("k", "%d image(s) searched, so no other image to list as a neighbour: search 2 or more (-n 2 or more, or -n 0 for all of them)", images)
		case given["k"] && k > images-1:
			return config.Errorf("k", "%d neighbours is more than the %d other images searched: give -k %d or fewer", k, images-1, images-1)
		}
		return nil
	}
	if err := fits(ds.Info().Len); err != nil {
		return err
	}
	f, err := enc.EmbedDataset(ds, encoder.EmbedOptions{SkipBadImages: skip})
	if err != nil {
		return err
	}
	if err := fits(f.N); err != nil {
		return fmt.Errorf("%w (%d images that do not decode were left out)", err, ds.Info().Len-f.N)
	}
	// Queries spread evenly over the images (a folder lists them class by class).
	picked := make([]int, min(queries, f.N))
	for j := range picked {
		picked[j] = j * f.N / len(picked)
	}
	q := f.Rows(picked)
	label := func(i int) int32 { // -1 for unlabelled images
		if f.Labels == nil {
			return -1
		}
		return f.Labels[i]
	}
	_, names := f.Names(dataDir) // the image's file (image folders), key (shards) or index
	// k+1 neighbours: each query finds itself first.
	found, err := eval.NearestNeighbours(b, f, q, k+1, 0)
	if err != nil {
		return err
	}
	hits, total := 0, 0
	for j, nbs := range found {
		i := picked[j]
		fmt.Printf("query %s (label %d): neighbours", names[i], label(i))
		shown := 0
		for _, nb := range nbs {
			if nb.Index == i || shown == k {
				continue
			}
			shown++
			fmt.Printf(" %s(label %d, cos %.3f)", names[nb.Index], label(nb.Index), nb.Similarity)
			total++
			if label(nb.Index) == label(i) {
				hits++
			}
		}
		fmt.Println()
	}
	if total > 0 && f.Labels != nil {
		fmt.Printf("neighbours with the query's label: %d of %d\n", hits, total)
	}
	return nil
}
