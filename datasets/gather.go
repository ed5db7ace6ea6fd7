package datasets

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// GatherConfig configures Gather and Visit.
type GatherConfig struct {
	// Size, when > 0, prepares every image as the evaluation transform does (EvalConfig.Size):
	// resized so that its shorter side is int(Size/0.875) (PIL's antialiased bilinear filter),
	// then its centre Size x Size kept; an image of an in-memory *Dataset already of that size is
	// kept as it is (an image file always gets the whole transform). 0 keeps
	// each image as decoded: Gather then requires every image to have the size of the first one.
	Size int
	// Workers is the number of goroutines that decode; 0 means runtime.NumCPU().
	Workers int
	// Progress, when set, is called with the number of images read so far (from one goroutine at
	// a time, in increasing order).
	Progress func(done int)
	// SkipBadImages leaves out the images that do not decode (ErrBadImage) instead of stopping:
	// the result holds the others, in the order asked; Skipped, when set, is called with each
	// one's sample index and error (from one goroutine at a time).
	SkipBadImages bool
	Skipped       func(index int, err error)
}

// Gather reads the samples of d at indices (in that order; an index may repeat) into an in-memory
// data set, decoding only those: a few thousand images of a folder or of shards too large for
// memory. The result keeps d's labels, classes and normalisation (Info().Mean and Std: what a
// Loader and an EvalIterator over d use), not statistics of the gathered pixels. Shards are read
// in one sequential pass that ends at the last wanted sample. An in-memory *Dataset that needs no
// resizing is copied (Subset).
//
// Errors about the data are *DataError values naming the file (a bad image stops it unless
// SkipBadImages).
func Gather(d Data, indices []int, cfg GatherConfig) (*Dataset, error) {
	info, src, _, err := checkData(d)
	if err != nil {
		return nil, err
	}
	if err := checkIndices("gather", info, indices); err != nil {
		return nil, err
	}
	if ds, ok := d.(*Dataset); ok && (cfg.Size <= 0 || ds.Height == cfg.Size && ds.Width == cfg.Size) {
		return ds.Subset(indices), nil
	}
	out := &Dataset{Name: info.Name, Split: info.Split, N: len(indices), Channels: info.Channels,
		NumClasses: info.NumClasses, ClassNames: info.ClassNames, Mean: info.Mean, Std: info.Std}
	if info.NumClasses > 0 {
		out.Labels = make([]int32, len(indices))
	}
	slots := make(map[int][]int, len(indices))
	for k, i := range indices {
		slots[i] = append(slots[i], k)
	}
	g := &gatherer{out: out, slots: slots, h: info.Height, w: info.Width, src: src, firstName: "the others"}
	if cfg.Size > 0 {
		g.h, g.w = cfg.Size, cfg.Size
		out.Height, out.Width = cfg.Size, cfg.Size // also when no image is asked for
	}
	bad := map[int]bool{} // sample indices skipped as bad images
	skipped := cfg.Skipped
	cfg.Skipped = func(i int, err error) {
		bad[i] = true
		if skipped != nil {
			skipped(i, err)
		}
	}
	if err := visit(d, indices, cfg, g.put); err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		var keep []int
		for k, i := range indices {
			if !bad[i] {
				keep = append(keep, k)
			}
		}
		out = out.Subset(keep)
	}
	return out, nil
}

// Visit decodes the samples of d at indices (each distinct index once, in increasing order of
// index, on cfg.Workers goroutines), prepares each as cfg.Size asks, and calls fn with its sample
// index, its label (-1 without labels) and the image: what Gather stores, for a caller that keeps
// less than the images (the views of an analysis, say). fn is called from several goroutines at
// once, but the first image's call ends before any other starts; the image is fn's to keep. An
// error from fn stops Visit and is returned. Shards are read in one sequential pass that ends at
// the last wanted sample.
//
// Errors about the data are *DataError values naming the file (a bad image stops it unless
// SkipBadImages: it is then left out, and reported to cfg.Skipped).
func Visit(d Data, indices []int, cfg GatherConfig, fn func(index int, label int32, img Image) error) error {
	info, _, _, err := checkData(d)
	if err != nil {
		return err
	}
	if err := checkIndices("visit", info, indices); err != nil {
		return err
	}
	mem, _ := d.(*Dataset)
	return visit(d, indices, cfg, func(_ *resampler, img Image, ref sampleRef) error {
		if mem != nil && img.H == mem.Height && img.W == mem.Width {
			// Not resized: a view of mem.Images, which fn may change or keep.
			img.Pix = slices.Clone(img.Pix)
		}
		label := int32(-1)
		if info.NumClasses > 0 {
			label = ref.label
		}
		return fn(ref.index, label, img)
	})
}

// checkIndices refuses an index outside d; what names the function asked (gather, visit).
func checkIndices(what string, info Info, indices []int) error {
	for _, i := range indices {
		if i < 0 || i >= info.Len {
			return fmt.Errorf("%s %s: index %d out of range [0, %d)", what, info.Name, i, info.Len)
		}
	}
	return nil
}

// visit is Visit's worker pool; put receives each image, prepared as cfg.Size asks, with the
// worker's resampler.
func visit(d Data, indices []int, cfg GatherConfig, put func(rs *resampler, img Image, ref sampleRef) error) error {
	info, src, shards, err := checkData(d)
	if err != nil {
		return err
	}
	_, mem := src.(*Dataset) // its images of the view size are kept as they are (evalWindow)
	// Each distinct index is read once, in increasing order (file order for shards).
	wanted := slices.Clone(indices)
	slices.Sort(wanted)
	wanted = slices.Compact(wanted)
	if len(wanted) == 0 {
		return nil
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	var stream *shardStream
	if shards != nil {
		stream = newShardStream(shards, identityOrder(len(shards.paths)), wantedFirst(wanted, shards.Len()), 0, len(wanted))
		defer stream.close()
	}
	// next yields the wanted samples in increasing order (file order for shards: one pass).
	k := 0
	next := func() (sampleRef, error) {
		i := wanted[k]
		k++
		if shards == nil {
			return gatherRef(src, nil, i), nil
		}
		smp, index, err := stream.read()
		return gatherRef(nil, &smp, index), err
	}
	readPut := func(rs *resampler, ref sampleRef) error {
		img, err := readSample(src, ref, orientOf(d))
		if err != nil {
			return err
		}
		if img.C != info.Channels || img.H <= 0 || img.W <= 0 || len(img.Pix) != img.H*img.W*img.C {
			return fmt.Errorf("%s: decoded to %dx%d pixels (width x height) of %d channel(s) in %d bytes; want %d channels and width*height*channels bytes",
				sampleName(info.Name, src, ref), img.W, img.H, img.C, len(img.Pix), info.Channels)
		}
		if cfg.Size > 0 && (!mem || img.H != cfg.Size || img.W != cfg.Size) {
			out := Image{Pix: make([]uint8, cfg.Size*cfg.Size*img.C), H: cfg.Size, W: cfg.Size, C: img.C}
			rs.run(out.Pix, img, evalWindow(img.H, img.W, cfg.Size, mem), Bilinear)
			img = out
		}
		return put(rs, img, ref)
	}
	var (
		mu       sync.Mutex
		firstErr error
		done     int
	)
	// finish records one image read, or skipped, or the first error; it reports whether the
	// image was handed over.
	finish := func(ref sampleRef, err error) bool {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && cfg.SkipBadImages && errors.Is(err, ErrBadImage) {
			if cfg.Skipped != nil {
				cfg.Skipped(ref.index, err)
			}
		} else if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return false
		}
		done++
		if cfg.Progress != nil {
			cfg.Progress(done)
		}
		return err == nil
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	// The first image is read alone: for Gather without a Size it fixes the size that the others
	// must have (the first that decodes, when bad ones are skipped).
	var rs resampler
	for k < len(wanted) {
		ref, err := next()
		if err == nil {
			err = readPut(&rs, ref)
		}
		if finish(ref, err) {
			break
		}
		if failed() {
			return firstErr
		}
	}
	jobs := make(chan sampleRef, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rs resampler
			for ref := range jobs {
				if !failed() { // after an error, the rest is drained unread
					finish(ref, readPut(&rs, ref))
				}
			}
		}()
	}
	for k < len(wanted) {
		ref, err := next()
		if err != nil {
			finish(ref, err)
			break
		}
		if failed() {
			break
		}
		jobs <- ref
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

// identityOrder is 0, 1, ..., n-1.
func identityOrder(n int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	return order
}

// wantedFirst is a permutation of 0..n-1 that starts with wanted (sorted, distinct): the emission
// order of a shard stream that reads only those samples (with limit len(wanted)).
func wantedFirst(wanted []int, n int) []int32 {
	order := make([]int32, 0, n)
	isWanted := make([]bool, n)
	for _, i := range wanted {
		order = append(order, int32(i))
		isWanted[i] = true
	}
	for i := range n {
		if !isWanted[i] {
			order = append(order, int32(i))
		}
	}
	return order
}

// gatherer writes the images that Gather reads into its output.
type gatherer struct {
	out   *Dataset
	slots map[int][]int // sample index -> positions in out
	mu    sync.Mutex    // guards h, w and out.Images while the size is unknown
	h, w  int           // the output size; 0 until known
	src   Source        // nil for shards
	// firstName names the image that set the size, when none was given.
	firstName string
}

// gatherRef is the reference to sample i: of a Source, or of shards (smp, read from the stream).
func gatherRef(src Source, smp *shardSample, i int) sampleRef {
	ref := sampleRef{index: i, label: -1}
	if smp != nil {
		ref.path, ref.member, ref.data, ref.label = smp.shard, smp.member, smp.data, smp.label
	}
	if src != nil {
		ref.label = src.Label(i)
	}
	return ref
}

// readSample decodes the sample ref: its bytes when it has them (shards; JPEGs turned by their
// EXIF orientation when orient is set), else through src.
func readSample(src Source, ref sampleRef, orient bool) (Image, error) {
	if ref.data == nil {
		return src.Decode(ref.index)
	}
	h, w, o, err := headerSize(ref.data, orient)
	if err != nil {
		return Image{}, badImageErr(ref.path, ref.member, ref.index, err)
	}
	return decodeEncoded(ref.data, ref, h, w, 1, o)
}

// put copies img into every position of out that wants sample ref.
func (g *gatherer) put(_ *resampler, img Image, ref sampleRef) error {
	p, err := g.shape(img, ref)
	if err != nil {
		return err
	}
	for _, k := range g.slots[ref.index] {
		copy(g.out.Images[k*p:(k+1)*p], img.Pix)
		if g.out.Labels != nil {
			g.out.Labels[k] = ref.label
		}
	}
	return nil
}

// shape checks img against the output size (set by the first image when unknown) and returns the
// bytes per image.
func (g *gatherer) shape(img Image, ref sampleRef) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.h == 0 || g.w == 0 {
		g.h, g.w, g.firstName = img.H, img.W, sampleName(g.out.Name, g.src, ref)
	}
	if g.out.Images == nil {
		g.out.Height, g.out.Width = g.h, g.w
		g.out.Images = make([]uint8, g.out.N*g.h*g.w*g.out.Channels)
	}
	if img.H != g.h || img.W != g.w {
		return 0, usageErr(sampleName(g.out.Name, g.src, ref), fmt.Errorf("is %dx%d, want %dx%d like %s", img.W, img.H, g.w, g.h, g.firstName),
			"give GatherConfig.Size to resize them all")
	}
	return g.h * g.w * g.out.Channels, nil
}
