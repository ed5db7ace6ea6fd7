package datasets

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/charmbracelet/log"
)

// Position is where a Loader stands: the epoch and the batch index within it of the next batch.
// A checkpoint stores it; NewLoader(..., pos) continues with exactly the batches that would have
// followed.
type Position struct {
	Epoch, Batch int
	// Images and Classes describe the data set the position belongs to (0 in checkpoints written
	// before they were recorded): NewLoader refuses to continue another data set from it.
	Images  int `json:",omitempty"`
	Classes int `json:",omitempty"`
}

// Batch is one batch of images as flat float32 NHWC slices, ready for
// tensors.FromFlatDataAndDimensions(b.View1, b.Dims()...).
type Batch struct {
	// View1 and View2 are the two augmented views (training); for evaluation View1 holds the
	// normalised images and View2 is nil.
	View1, View2 []float32
	// Labels of the images (-1 where unknown or padded).
	Labels []int32
	// Indices of the images in the data set (-1 for padding). Where a bad image was replaced
	// (SkipBadImages), the index of the image used in its place.
	Indices []int32
	// Keys are the WebDataset keys of the valid images of an evaluation batch of shards (the
	// first Valid entries' keys: KEY of KEY.jpg, the image's path without its extension in shards
	// that mkshards wrote); nil for other data and in training.
	Keys []string
	// Mask is 1 for a real image and 0 for padding (evaluation only; nil in training batches).
	Mask []float32
	// Valid is the number of real images (the first Valid entries).
	Valid int
	// Position of this batch (training) or {0, batch index} (evaluation).
	Position Position
	// BatchSize, Height, Width, Channels are the dimensions of each view.
	BatchSize, Height, Width, Channels int
	// BadImages names the images of this batch that did not decode and were skipped
	// (SkipBadImages): in training each was replaced by another image of the batch, in evaluation
	// it was left out (the valid entries stay first). Its length is the count to report.
	BadImages []string
}

// Dims returns the NHWC dimensions of a view: [BatchSize, Height, Width, Channels].
func (b *Batch) Dims() []int { return []int{b.BatchSize, b.Height, b.Width, b.Channels} }

// LoaderConfig configures a training Loader.
type LoaderConfig struct {
	// BatchSize is the number of images per batch (the last partial batch of an epoch is dropped
	// unless KeepLastBatch).
	BatchSize int
	// KeepLastBatch ends each epoch with a smaller batch of the N mod BatchSize images left over,
	// as PyTorch's DataLoader does by default (drop_last=False), so that every image is seen once
	// per epoch: an epoch is then ceil(N/BatchSize) batches. A consumer compiles a second program
	// for that batch's size.
	KeepLastBatch bool
	// Seed determines the order of every epoch and every augmentation.
	Seed uint64
	// Workers is the number of goroutines that decode and augment; 0 means runtime.NumCPU().
	Workers int
	// Prefetch is how many batches may be in preparation or ready ahead of the consumer: with the
	// batch the consumer holds, it bounds the loader's memory. 0 means 2*Workers, reduced so that
	// the prefetched batches take at most 1 GiB, and at least 2.
	Prefetch int
	// Augmentation of the two views; both views must have the same Size (for data sets whose
	// images differ in size, Size must be set: Augmentation.WithSize).
	Augmentation Augmentation
	// Mean and Std normalise each channel; nil means the data set's (ImageNet's for folders and
	// shards).
	Mean, Std []float32
	// SkipBadImages replaces an image that does not decode (ErrBadImage) by the next good image of
	// the same batch (cyclically), augmented with the bad sample's random numbers, logs it by name
	// and lists it in Batch.BadImages; the replacement is the same on resume and for any number of
	// workers. An epoch's partial last batch (KeepLastBatch) of bad images only takes the first good
	// image of the full batch before it; any other batch of bad images only is an error. Without
	// it, a bad image stops the loader: Next returns a *DataError naming it. Files
	// that cannot be read (deleted, unreadable) stop the loader either way.
	SkipBadImages bool
	// ShuffleBuffer is the size of the shuffle buffer for tar shards (samples held to be emitted
	// in random order); 0 means 1000. Ignored for random-access data sets, which are permuted.
	ShuffleBuffer int
	// ReducedDecode decodes a JPEG at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling, PIL's
	// draft mode) when both views' crop boxes keep at least Size pixels per side at that scale.
	// It changes the pixels a little (torchvision decodes at full size) and needs libjpeg-turbo.
	ReducedDecode bool
	// Logger receives a warning for each skipped image; nil means log.Default().
	Logger *log.Logger
}

// ErrLoaderClosed is what Next returns after Close.
var ErrLoaderClosed = errors.New("the loader is closed")

// DefaultShuffleBuffer is the shuffle buffer of tar shards when LoaderConfig.ShuffleBuffer is 0.
const DefaultShuffleBuffer = 1000

// Loader produces an endless sequence of training batches, epoch after epoch, built in parallel by
// a worker pool while the consumer uses the previous ones. The sequence depends only on the data
// set, the configuration and the seed, not on the number of workers. It reads a random-access
// Source (images visited in a permutation per epoch) or tar *Shards (shards in a random order per
// epoch through a shuffle buffer); images are decoded in the workers, one at a time each.
type Loader struct {
	data     Data
	src      Source
	enc      encodedSource
	orient   bool // encoded images are turned by their EXIF orientation (Options.ExifOrientation)
	shards   *Shards
	info     Info
	cfg      LoaderConfig
	size     int
	perEpoch int
	next     Position
	err      error
	bad      int

	pending   chan *pendingBatch
	tasks     chan task
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	maxHeld   atomic.Int64 // the most samples of shards held at once by the reader (tests)
	live      atomic.Int64 // decoded images alive at this moment (tests)
	maxLive   atomic.Int64
	batches   atomic.Int64 // batches allocated and not yet handed to the consumer (tests)
	maxBatch  atomic.Int64
}

// raise sets m to n if n is larger.
func raise(m *atomic.Int64, n int64) {
	for old := m.Load(); n > old && !m.CompareAndSwap(old, n); old = m.Load() {
	}
}

// encodedSource is a Source whose samples the loader can read as encoded bytes and decode itself
// (at a reduced scale when asked): image folders.
type encodedSource interface {
	encoded(i int) (data []byte, name string, err error)
}

type sampleRef struct {
	index  int
	label  int32
	path   string // shard samples: the shard (folders: found when read)
	member string // shard samples: the image member
	key    string // shard samples: the WebDataset key
	data   []byte // shard samples: the encoded image
}

type pendingBatch struct {
	pos   Position
	refs  []sampleRef
	spare []sampleRef // an epoch's partial last batch (KeepLastBatch): the full batch before it
	batch *Batch
	errs  []error
	left  atomic.Int32
	out   chan loaderResult
}

type loaderResult struct {
	b   *Batch
	err error
}

// task is the samples [i, j) of a batch, for one worker.
type task struct {
	pb   *pendingBatch
	i, j int
}

// checkData validates d and returns its Info and the way to read it.
func checkData(d Data) (Info, Source, *Shards, error) {
	if d == nil {
		return Info{}, nil, nil, errors.New("no data set")
	}
	if ds, ok := d.(*Dataset); ok {
		if err := ds.Validate(); err != nil {
			return Info{}, nil, nil, err
		}
	}
	info := d.Info()
	switch d := d.(type) {
	case *Shards:
		return info, nil, d, nil
	case Source:
		return info, d, nil, nil
	}
	return Info{}, nil, nil, fmt.Errorf("data set %s: %T is neither a Source nor *Shards", info.Name, d)
}

func checkNorm(info Info, mean, std []float32, what string) ([]float32, []float32, error) {
	if mean == nil {
		mean, std = info.Mean, info.Std
	}
	if len(mean) != info.Channels || len(std) != info.Channels {
		return nil, nil, fmt.Errorf("%s %s: %d means and %d stds for %d channels", what, info.Name, len(mean), len(std), info.Channels)
	}
	for c, s := range std {
		if !(s > 0) {
			return nil, nil, fmt.Errorf("%s %s: std of channel %d is %g, want > 0", what, info.Name, c, s)
		}
	}
	return mean, std, nil
}

// NewLoader starts a loader over d (a *Dataset, a *Folder, any Source, or *Shards) at position
// start ({0, 0} for a fresh run).
func NewLoader(d Data, cfg LoaderConfig, start Position) (*Loader, error) {
	info, src, shards, err := checkData(d)
	if err != nil {
		return nil, err
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > info.Len {
		return nil, fmt.Errorf("loader for %s: batch size %d, want 1..%d (the number of images)", info.Name, cfg.BatchSize, info.Len)
	}
	v1, v2 := cfg.Augmentation.View1.Size, cfg.Augmentation.View2.Size
	if info.Height > 0 && info.Width > 0 {
		v1 = cfg.Augmentation.View1.viewSize(info.Height, info.Width)
		v2 = cfg.Augmentation.View2.viewSize(info.Height, info.Width)
	}
	if v1 <= 0 || v2 <= 0 {
		return nil, fmt.Errorf("loader for %s: the images differ in size, so the views need a size (Augmentation.WithSize, -image-size)", info.Name)
	}
	if v1 != v2 {
		return nil, fmt.Errorf("loader for %s: view sizes %d and %d differ, want equal", info.Name, v1, v2)
	}
	if cfg.Mean, cfg.Std, err = checkNorm(info, cfg.Mean, cfg.Std, "loader for"); err != nil {
		return nil, err
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Prefetch <= 0 {
		batchBytes := 2 * cfg.BatchSize * v1 * v1 * info.Channels * 4
		cfg.Prefetch = max(2, min(2*cfg.Workers, (1<<30)/max(batchBytes, 1)))
	}
	if cfg.ShuffleBuffer <= 0 {
		cfg.ShuffleBuffer = DefaultShuffleBuffer
	}
	cfg.ShuffleBuffer = min(cfg.ShuffleBuffer, info.Len)
	if cfg.Logger == nil {
		cfg.Logger = log.Default()
	}
	perEpoch := info.Len / cfg.BatchSize
	if cfg.KeepLastBatch {
		perEpoch = (info.Len + cfg.BatchSize - 1) / cfg.BatchSize
	}
	l := &Loader{data: d, src: src, shards: shards, info: info, cfg: cfg, size: v1, perEpoch: perEpoch, next: start, orient: orientOf(d)}
	if e, ok := src.(encodedSource); ok {
		l.enc = e
	}
	if start.Images != 0 && (start.Images != info.Len || start.Classes != info.NumClasses) {
		return nil, usageErr("", fmt.Errorf("the position to continue from belongs to a data set of %d images in %d classes, but this one has %d in %d",
			start.Images, start.Classes, info.Len, info.NumClasses), "resume on the data the run was trained on, or start a new run in another folder")
	}
	start.Images, start.Classes = 0, 0
	if start.Epoch < 0 || start.Batch < 0 || start.Batch >= l.perEpoch {
		return nil, fmt.Errorf("loader for %s: start position %+v, want epoch >= 0 and batch in [0, %d)", info.Name, start, l.perEpoch)
	}
	l.pending = make(chan *pendingBatch, cfg.Prefetch)
	l.tasks = make(chan task)
	l.done = make(chan struct{})
	l.wg.Add(1 + cfg.Workers)
	go func() {
		defer l.wg.Done()
		if shards != nil {
			l.produceShards(start)
		} else {
			l.produce(start)
		}
	}()
	for range cfg.Workers {
		go func() {
			defer l.wg.Done()
			l.work()
		}()
	}
	return l, nil
}

// EpochOrder returns the order in which the images of an epoch of a random-access data set are
// visited: a permutation of 0..n-1 that depends only on (seed, epoch).
func EpochOrder(n int, seed uint64, epoch int) []int {
	rng := rand.New(rand.NewPCG(SplitMix64(seed^0x0de12), SplitMix64(uint64(epoch))))
	return rng.Perm(n)
}

// dispatch queues a batch in order and hands its samples to the workers; false once closed. The
// batch's buffers are allocated once it has its place in the queue, so that at most Prefetch
// batches wait there and one more is with the consumer.
func (l *Loader) dispatch(pb *pendingBatch) bool {
	n := len(pb.refs)
	pb.errs = make([]error, n)
	pb.left.Store(int32(n))
	pb.out = make(chan loaderResult, 1)
	select {
	case l.pending <- pb:
	case <-l.done:
		return false
	}
	per := l.size * l.size * l.info.Channels
	pb.batch = &Batch{
		View1: make([]float32, n*per), View2: make([]float32, n*per),
		Labels: make([]int32, n), Indices: make([]int32, n), Valid: n, Position: pb.pos,
		BatchSize: n, Height: l.size, Width: l.size, Channels: l.info.Channels,
	}
	raise(&l.maxBatch, l.batches.Add(1))
	// About four tasks per worker and batch: enough to balance the load, few enough that handing
	// them over costs nothing next to decoding.
	chunk := max(1, n/(4*l.cfg.Workers))
	for i := 0; i < n; i += chunk {
		select {
		case l.tasks <- task{pb, i, min(i+chunk, n)}:
		case <-l.done:
			return false
		}
	}
	return true
}

// fail queues an error in the place of the batch at pos.
func (l *Loader) fail(pos Position, err error) {
	pb := &pendingBatch{pos: pos, out: make(chan loaderResult, 1)}
	pb.out <- loaderResult{err: err}
	select {
	case l.pending <- pb:
	case <-l.done:
	}
}

// produce enumerates the batches of a random-access source from start, in order.
func (l *Loader) produce(start Position) {
	b := l.cfg.BatchSize
	for epoch := start.Epoch; ; epoch++ {
		order := EpochOrder(l.info.Len, l.cfg.Seed, epoch)
		first := 0
		if epoch == start.Epoch {
			first = start.Batch
		}
		refsOf := func(k int) []sampleRef {
			batch := order[k*b : min((k+1)*b, len(order))]
			refs := make([]sampleRef, len(batch))
			for i, idx := range batch {
				refs[i] = sampleRef{index: idx, label: l.src.Label(idx)}
			}
			return refs
		}
		for k := first; k < l.perEpoch; k++ {
			pb := &pendingBatch{pos: Position{Epoch: epoch, Batch: k}, refs: refsOf(k)}
			if len(pb.refs) < b && k > 0 {
				pb.spare = refsOf(k - 1)
			}
			if !l.dispatch(pb) {
				return
			}
		}
	}
}

// produceShards reads the shards of every epoch from start, in order.
func (l *Loader) produceShards(start Position) {
	b := l.cfg.BatchSize
	for epoch := start.Epoch; ; epoch++ {
		shardOrder, order := l.shards.epochOrder(l.cfg.Seed, epoch, l.cfg.ShuffleBuffer)
		first := 0
		if epoch == start.Epoch {
			first = start.Batch
		}
		// A partial last batch keeps the full batch before it as spare images: resuming at it
		// reads that batch again.
		partial := l.info.Len%b != 0 && l.perEpoch*b > l.info.Len
		from := first
		if partial && first == l.perEpoch-1 && first > 0 {
			from = first - 1
		}
		st := newShardStream(l.shards, shardOrder, order, from*b, min(l.perEpoch*b, l.info.Len))
		st.cancel = l.done // Close does not wait for a shard's download
		var prev []sampleRef
		for k := from; k < l.perEpoch; k++ {
			refs := make([]sampleRef, min(b, l.info.Len-k*b))
			for i := range refs {
				smp, g, err := st.read()
				if err != nil {
					st.close()
					l.fail(Position{Epoch: epoch, Batch: k}, err)
					return
				}
				refs[i] = sampleRef{index: g, label: smp.label, path: smp.shard, member: smp.member, data: smp.data}
			}
			raise(&l.maxHeld, int64(st.maxPending))
			pb := &pendingBatch{pos: Position{Epoch: epoch, Batch: k}, refs: refs}
			if len(refs) < b {
				pb.spare = prev
			}
			prev = refs
			if k < first {
				continue
			}
			if !l.dispatch(pb) {
				st.close()
				return
			}
		}
		st.close()
	}
}

func (l *Loader) work() {
	var au augmenter
	for {
		var t task
		select {
		case t = <-l.tasks:
		case <-l.done:
			return
		}
		pb := t.pb
		for i := t.i; i < t.j; i++ {
			ref := pb.refs[i]
			pb.errs[i] = l.fill(&au, pb.batch, i, ref, ref.index)
		}
		if pb.left.Add(-int32(t.j-t.i)) == 0 {
			l.finish(&au, pb)
		}
	}
}

// fill writes slot i of b: the two views of the sample ref, with the random numbers of sample
// rngIndex.
func (l *Loader) fill(au *augmenter, b *Batch, i int, ref sampleRef, rngIndex int) error {
	rng := SampleRNG(l.cfg.Seed, b.Position.Epoch, rngIndex)
	aug := l.cfg.Augmentation
	img, h, w, boxes, err := l.decodeTrain(ref, rng)
	if err != nil {
		return err
	}
	per := l.size * l.size * l.info.Channels
	au.pair(b.View1[i*per:(i+1)*per], b.View2[i*per:(i+1)*per], img, h, w, boxes, aug, l.size, rng, l.cfg.Mean, l.cfg.Std)
	l.live.Add(-1)
	b.Labels[i], b.Indices[i] = ref.label, int32(ref.index)
	return nil
}

// readEncoded returns the encoded bytes of a sample (shards: already read; folders: read now)
// and the sample with its file named, or nil bytes for a source that decodes itself.
func (l *Loader) readEncoded(ref sampleRef) ([]byte, sampleRef, error) {
	if ref.data != nil {
		return ref.data, ref, nil
	}
	if l.enc != nil {
		data, path, err := l.enc.encoded(ref.index)
		ref.path = path
		return data, ref, err
	}
	return nil, ref, nil
}

// decodeTrain decodes a sample for training: the crop boxes are drawn on its size (read from the
// header first for encoded images, so that a JPEG can be decoded at a reduced scale).
func (l *Loader) decodeTrain(ref sampleRef, rng *rand.Rand) (Image, int, int, [2]crop, error) {
	aug := l.cfg.Augmentation
	data, ref, err := l.readEncoded(ref)
	if err != nil {
		return Image{}, 0, 0, [2]crop{}, err
	}
	if data == nil {
		img, err := l.src.Decode(ref.index)
		if err != nil {
			return Image{}, 0, 0, [2]crop{}, err
		}
		if err := l.checkImage(img, ref); err != nil {
			return Image{}, 0, 0, [2]crop{}, err
		}
		l.countLive()
		return img, img.H, img.W, aug.drawCrops(rng, img.H, img.W), nil
	}
	h, w, o, err := headerSize(data, l.orient)
	if err != nil {
		return Image{}, 0, 0, [2]crop{}, badImageErr(ref.path, ref.member, ref.index, err)
	}
	boxes := aug.drawCrops(rng, h, w)
	r := 1
	if l.cfg.ReducedDecode {
		r = reduction(boxes, l.size)
	}
	img, err := decodeEncoded(data, ref, h, w, r, o)
	if err != nil {
		return Image{}, 0, 0, [2]crop{}, err
	}
	l.countLive()
	return img, h, w, boxes, nil
}

func (l *Loader) countLive() { raise(&l.maxLive, l.live.Add(1)) }

func (l *Loader) checkImage(img Image, ref sampleRef) error {
	if img.C != l.info.Channels || len(img.Pix) != img.H*img.W*img.C || img.H <= 0 || img.W <= 0 {
		return fmt.Errorf("%s: sample %d decoded to %dx%d pixels (width x height) of %d channel(s) in %d bytes; want %d channels and width*height*channels bytes",
			l.info.Name, ref.index, img.W, img.H, img.C, len(img.Pix), l.info.Channels)
	}
	return nil
}

// decodeEncoded decodes the bytes of sample ref (of the size h x w that headerSize gives, with
// EXIF orientation o) at 1/reduce scale, then turns it as o asks.
func decodeEncoded(data []byte, ref sampleRef, h, w, reduce, o int) (Image, error) {
	img, err := decodeImage(data, reduce)
	if err != nil {
		return Image{}, badImageErr(ref.path, ref.member, ref.index, err)
	}
	if o >= 5 {
		h, w = w, h // the header's size, as stored
	}
	if (reduce == 1 || img.H > h || img.W > w) && (img.H != h || img.W != w) {
		return Image{}, badImageErr(ref.path, ref.member, ref.index, fmt.Errorf("decoded to %dx%d, its header says %dx%d", img.W, img.H, w, h))
	}
	return orientImage(img, o), nil
}

// finish completes a batch once all its samples are done: the first error that cannot be
// skipped fails it; bad images are replaced when SkipBadImages is set.
func (l *Loader) finish(au *augmenter, pb *pendingBatch) {
	b := pb.batch
	var bad []int
	for i, err := range pb.errs {
		if err == nil {
			continue
		}
		if l.cfg.SkipBadImages && errors.Is(err, ErrBadImage) {
			bad = append(bad, i)
			continue
		}
		pb.out <- loaderResult{err: fmt.Errorf("batch %d of epoch %d: %w", pb.pos.Batch, pb.pos.Epoch, err)}
		pb.refs = nil
		return
	}
	// A partial last batch of bad images only (one image, often) takes the first good image of
	// the full batch before it in the epoch: the same on resume and for any number of workers.
	var spare *sampleRef
	if len(bad) == len(pb.errs) {
		for k := range pb.spare {
			err := l.fill(au, b, 0, pb.spare[k], pb.refs[0].index)
			if err == nil {
				spare = &pb.spare[k]
				break
			}
			if !errors.Is(err, ErrBadImage) {
				pb.out <- loaderResult{err: fmt.Errorf("batch %d of epoch %d: replacing its bad images: %w", pb.pos.Batch, pb.pos.Epoch, err)}
				pb.refs, pb.spare = nil, nil
				return
			}
		}
	}
	if len(bad) == len(pb.errs) && spare == nil {
		pb.out <- loaderResult{err: fmt.Errorf("batch %d of epoch %d: every image is bad, first: %w", pb.pos.Batch, pb.pos.Epoch, pb.errs[0])}
		pb.refs, pb.spare = nil, nil
		return
	}
	for _, i := range bad {
		var repl sampleRef
		if spare != nil {
			repl = *spare
		} else {
			j := (i + 1) % len(pb.refs)
			for pb.errs[j] != nil {
				j = (j + 1) % len(pb.refs)
			}
			repl = pb.refs[j]
		}
		name := sampleName(l.info.Name, l.src, pb.refs[i])
		l.cfg.Logger.Warn("skipping a bad image", "image", name, "err", Cause(pb.errs[i]), "epoch", pb.pos.Epoch,
			"batch", pb.pos.Batch, "replaced_by", sampleName(l.info.Name, l.src, repl))
		if err := l.fill(au, b, i, repl, pb.refs[i].index); err != nil {
			pb.out <- loaderResult{err: fmt.Errorf("batch %d of epoch %d: replacing %s: %w", pb.pos.Batch, pb.pos.Epoch, name, err)}
			pb.refs = nil
			return
		}
		b.BadImages = append(b.BadImages, name)
	}
	pb.refs, pb.spare = nil, nil
	pb.out <- loaderResult{b: b}
}

// sampleName names sample ref of the data set name (read through src, or from shards) in
// messages: its file, or shard:member. A sample of a Select of a folder is named by its file too.
func sampleName(name string, src Source, ref sampleRef) string {
	if ref.member != "" {
		return ref.path + ":" + ref.member
	}
	switch s := src.(type) {
	case interface{ Path(i int) string }: // *Folder, *RecordSet
		return s.Path(ref.index)
	case *selection:
		return sampleName(name, s.src, sampleRef{index: s.idx[ref.index]})
	}
	return fmt.Sprintf("%s sample %d", name, ref.index)
}

func (l *Loader) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Next returns the next batch, waiting for it if the workers have not finished it yet. After a
// data error (a *DataError, wrapped with the batch's position) every later call returns the same
// error; after Close it returns ErrLoaderClosed at once, never a batch. Next is for one consumer;
// Close may be called from another goroutine.
func (l *Loader) Next() (*Batch, error) {
	if l.closed() {
		return nil, fmt.Errorf("loader for %s: %w", l.info.Name, ErrLoaderClosed)
	}
	if l.err != nil {
		return nil, l.err
	}
	var r loaderResult
	select {
	case pb := <-l.pending:
		select {
		case r = <-pb.out:
		case <-l.done:
		}
	case <-l.done:
	}
	if l.closed() {
		return nil, fmt.Errorf("loader for %s: %w", l.info.Name, ErrLoaderClosed)
	}
	if r.err != nil {
		l.err = fmt.Errorf("loader for %s: %w", l.info.Name, r.err)
		return nil, l.err
	}
	b := r.b
	l.batches.Add(-1)
	l.next = Position{Epoch: b.Position.Epoch, Batch: b.Position.Batch + 1}
	if l.next.Batch == l.perEpoch {
		l.next = Position{Epoch: l.next.Epoch + 1}
	}
	l.bad += len(b.BadImages)
	return b, nil
}

// Position returns the position of the batch the next call to Next returns: store it in a
// checkpoint and pass it to NewLoader to resume.
func (l *Loader) Position() Position {
	p := l.next
	p.Images, p.Classes = l.info.Len, l.info.NumClasses
	return p
}

// BatchesPerEpoch is the number of batches per epoch: N / BatchSize full batches, rounded up
// with LoaderConfig.KeepLastBatch.
func (l *Loader) BatchesPerEpoch() int { return l.perEpoch }

// Dims returns the NHWC dimensions of each view of a full batch (Batch.Dims gives those of one
// batch, the last partial batch of an epoch included).
func (l *Loader) Dims() []int { return []int{l.cfg.BatchSize, l.size, l.size, l.info.Channels} }

// Info describes the data set the loader reads.
func (l *Loader) Info() Info { return l.info }

// BadImages is the number of bad images skipped in the batches Next has returned so far.
func (l *Loader) BadImages() int { return l.bad }

// Close stops the workers and waits for them to exit; Next then returns ErrLoaderClosed. Batches
// already returned stay valid. Close may be called more than once, and from another goroutine
// than Next's.
func (l *Loader) Close() {
	l.closeOnce.Do(func() { close(l.done) })
	l.wg.Wait()
}
