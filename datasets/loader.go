package datasets

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
)

// Position is where a Loader stands: the epoch and the batch index within it of the next batch.
// A checkpoint stores it; NewLoader(..., pos) continues with exactly the batches that would have
// followed.
type Position struct {
	Epoch, Batch int
}

// Batch is one batch of images as flat float32 NHWC slices, ready for
// tensors.FromFlatDataAndDimensions(b.View1, b.Dims()...).
type Batch struct {
	// View1 and View2 are the two augmented views (training); for evaluation View1 holds the
	// normalised images and View2 is nil.
	View1, View2 []float32
	// Labels of the images (-1 where unknown or padded).
	Labels []int32
	// Indices of the images in the data set (-1 for padding).
	Indices []int32
	// Mask is 1 for a real image and 0 for padding (evaluation only; nil in training batches).
	Mask []float32
	// Valid is the number of real images (the first Valid entries).
	Valid int
	// Position of this batch (training) or {0, batch index} (evaluation).
	Position Position
	// BatchSize, Height, Width, Channels are the dimensions of each view.
	BatchSize, Height, Width, Channels int
}

// Dims returns the NHWC dimensions of a view: [BatchSize, Height, Width, Channels].
func (b *Batch) Dims() []int { return []int{b.BatchSize, b.Height, b.Width, b.Channels} }

// LoaderConfig configures a training Loader.
type LoaderConfig struct {
	// BatchSize is the number of images per batch (the last partial batch of an epoch is dropped).
	BatchSize int
	// Seed determines the order of every epoch and every augmentation.
	Seed uint64
	// Workers is the number of goroutines that build batches; 0 means runtime.NumCPU().
	Workers int
	// Prefetch is how many batches may be ready ahead of the consumer; 0 means 2*Workers.
	Prefetch int
	// Augmentation of the two views; both views must have the same Size.
	Augmentation Augmentation
	// Mean and Std normalise each channel; nil means the data set's.
	Mean, Std []float32
}

// Loader produces an endless sequence of training batches, epoch after epoch, built in parallel by
// a worker pool while the consumer uses the previous ones. The sequence depends only on the data
// set, the configuration and the seed, not on the number of workers.
type Loader struct {
	ds       *Dataset
	cfg      LoaderConfig
	size     int
	perEpoch int
	next     Position
	pending  chan chan *Batch
	cancel   context.CancelFunc
}

type loaderJob struct {
	pos     Position
	indices []int
	out     chan *Batch
}

// NewLoader starts a loader at position start ({0, 0} for a fresh run).
func NewLoader(ds *Dataset, cfg LoaderConfig, start Position) (*Loader, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > ds.N {
		return nil, fmt.Errorf("loader for %s: batch size %d, want 1..%d (the number of images)", ds.Name, cfg.BatchSize, ds.N)
	}
	v1, v2 := cfg.Augmentation.View1.Size, cfg.Augmentation.View2.Size
	if v1 == 0 {
		v1 = min(ds.Height, ds.Width)
	}
	if v2 == 0 {
		v2 = min(ds.Height, ds.Width)
	}
	if v1 != v2 {
		return nil, fmt.Errorf("loader for %s: view sizes %d and %d differ, want equal", ds.Name, v1, v2)
	}
	if cfg.Mean == nil {
		cfg.Mean, cfg.Std = ds.Mean, ds.Std
	}
	if len(cfg.Mean) != ds.Channels || len(cfg.Std) != ds.Channels {
		return nil, fmt.Errorf("loader for %s: %d means and %d stds for %d channels", ds.Name, len(cfg.Mean), len(cfg.Std), ds.Channels)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2 * cfg.Workers
	}
	l := &Loader{ds: ds, cfg: cfg, size: v1, perEpoch: ds.N / cfg.BatchSize, next: start}
	if start.Epoch < 0 || start.Batch < 0 || start.Batch >= l.perEpoch {
		return nil, fmt.Errorf("loader for %s: start position %+v, want epoch >= 0 and batch in [0, %d)", ds.Name, start, l.perEpoch)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	jobs := make(chan loaderJob)
	l.pending = make(chan chan *Batch, cfg.Prefetch)
	go l.produce(ctx, start, jobs)
	for range cfg.Workers {
		go l.work(ctx, jobs)
	}
	return l, nil
}

// EpochOrder returns the order in which the images of an epoch are visited: a permutation of
// 0..n-1 that depends only on (seed, epoch).
func EpochOrder(n int, seed uint64, epoch int) []int {
	rng := rand.New(rand.NewPCG(splitmix64(seed^0x0de12), splitmix64(uint64(epoch))))
	return rng.Perm(n)
}

// produce enumerates the batches from start, in order, handing each to a worker and queueing its
// result slot so that Next returns batches in order.
func (l *Loader) produce(ctx context.Context, start Position, jobs chan<- loaderJob) {
	defer close(jobs)
	b := l.cfg.BatchSize
	for epoch := start.Epoch; ; epoch++ {
		order := EpochOrder(l.ds.N, l.cfg.Seed, epoch)
		first := 0
		if epoch == start.Epoch {
			first = start.Batch
		}
		for k := first; k < l.perEpoch; k++ {
			out := make(chan *Batch, 1)
			select {
			case l.pending <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- loaderJob{pos: Position{epoch, k}, indices: order[k*b : (k+1)*b], out: out}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (l *Loader) work(ctx context.Context, jobs <-chan loaderJob) {
	c := l.ds.Channels
	per := l.size * l.size * c
	tmp := make([]float32, per)
	a := l.cfg.Augmentation
	for job := range jobs {
		if ctx.Err() != nil {
			return
		}
		n := len(job.indices)
		bt := &Batch{
			View1: make([]float32, n*per), View2: make([]float32, n*per),
			Labels: make([]int32, n), Indices: make([]int32, n), Valid: n, Position: job.pos,
			BatchSize: n, Height: l.size, Width: l.size, Channels: c,
		}
		for i, idx := range job.indices {
			rng := SampleRNG(l.cfg.Seed, job.pos.Epoch, idx)
			img := l.ds.Image(idx)
			applyView(bt.View1[i*per:(i+1)*per], tmp, img, l.ds.Height, l.ds.Width, c, a.View1, rng, l.cfg.Mean, l.cfg.Std)
			applyView(bt.View2[i*per:(i+1)*per], tmp, img, l.ds.Height, l.ds.Width, c, a.View2, rng, l.cfg.Mean, l.cfg.Std)
			bt.Labels[i] = l.ds.Label(idx)
			bt.Indices[i] = int32(idx)
		}
		job.out <- bt
	}
}

// Next returns the next batch, waiting for it if the workers have not finished it yet. It returns
// an error only after Close.
func (l *Loader) Next() (*Batch, error) {
	out, ok := <-l.pending
	if !ok {
		return nil, fmt.Errorf("loader for %s is closed", l.ds.Name)
	}
	b, ok := <-out
	if !ok {
		return nil, fmt.Errorf("loader for %s is closed", l.ds.Name)
	}
	l.next = Position{b.Position.Epoch, b.Position.Batch + 1}
	if l.next.Batch == l.perEpoch {
		l.next = Position{l.next.Epoch + 1, 0}
	}
	return b, nil
}

// Position returns the position of the batch the next call to Next returns: store it in a
// checkpoint and pass it to NewLoader to resume.
func (l *Loader) Position() Position { return l.next }

// BatchesPerEpoch is the number of full batches per epoch (N / BatchSize).
func (l *Loader) BatchesPerEpoch() int { return l.perEpoch }

// Dims returns the NHWC dimensions of each view of a batch.
func (l *Loader) Dims() []int { return []int{l.cfg.BatchSize, l.size, l.size, l.ds.Channels} }

// Close stops the workers. Batches already returned stay valid.
func (l *Loader) Close() {
	l.cancel()
}

// EvalConfig configures an evaluation iterator.
type EvalConfig struct {
	// BatchSize is the number of images per batch; the last batch is padded to this size.
	BatchSize int
	// Size, when > 0, resizes each whole image (bilinear) to Size x Size.
	Size int
	// Mean and Std normalise each channel; nil means the data set's.
	Mean, Std []float32
}

// EvalIterator walks a data set once, in order, without augmentation: each image is only resized
// (if asked) and normalised. Every batch has the same shape: the last one is padded with zero images,
// label -1, index -1 and mask 0 (pad + mask, so an evaluation graph never sees a new shape).
type EvalIterator struct {
	ds     *Dataset
	cfg    EvalConfig
	h, w   int
	next   int
	number int
}

// NewEvalIterator returns an iterator over ds.
func NewEvalIterator(ds *Dataset, cfg EvalConfig) (*EvalIterator, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("evaluation of %s: batch size %d, want > 0", ds.Name, cfg.BatchSize)
	}
	if cfg.Mean == nil {
		cfg.Mean, cfg.Std = ds.Mean, ds.Std
	}
	if len(cfg.Mean) != ds.Channels || len(cfg.Std) != ds.Channels {
		return nil, fmt.Errorf("evaluation of %s: %d means and %d stds for %d channels", ds.Name, len(cfg.Mean), len(cfg.Std), ds.Channels)
	}
	e := &EvalIterator{ds: ds, cfg: cfg, h: ds.Height, w: ds.Width}
	if cfg.Size > 0 {
		e.h, e.w = cfg.Size, cfg.Size
	}
	return e, nil
}

// NumBatches is ceil(N / BatchSize).
func (e *EvalIterator) NumBatches() int { return (e.ds.N + e.cfg.BatchSize - 1) / e.cfg.BatchSize }

// Next returns the next batch, or false after the last one.
func (e *EvalIterator) Next() (*Batch, bool) {
	if e.next >= e.ds.N {
		return nil, false
	}
	b, c := e.cfg.BatchSize, e.ds.Channels
	per := e.h * e.w * c
	bt := &Batch{
		View1: make([]float32, b*per), Labels: make([]int32, b), Indices: make([]int32, b), Mask: make([]float32, b),
		Position: Position{0, e.number}, BatchSize: b, Height: e.h, Width: e.w, Channels: c,
	}
	for i := range b {
		idx := e.next + i
		if idx >= e.ds.N {
			bt.Labels[i], bt.Indices[i] = -1, -1
			continue
		}
		dst := bt.View1[i*per : (i+1)*per]
		cropResize(dst, e.ds.Image(idx), e.ds.Height, e.ds.Width, c, 0, 0, float64(e.ds.Height), float64(e.ds.Width), e.h, e.w)
		normalize(dst, c, e.cfg.Mean, e.cfg.Std)
		bt.Labels[i], bt.Indices[i], bt.Mask[i] = e.ds.Label(idx), int32(idx), 1
		bt.Valid++
	}
	e.next += b
	e.number++
	return bt, true
}

// Reset starts the iteration again from the first image.
func (e *EvalIterator) Reset() { e.next, e.number = 0, 0 }
