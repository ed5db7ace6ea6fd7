package datasets

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/charmbracelet/log"
)

// EvalConfig configures an evaluation iterator.
type EvalConfig struct {
	// BatchSize is the number of images per batch; the last batch is padded to this size.
	BatchSize int
	// Size is the side of the evaluation views. An image of an in-memory *Dataset of Size x Size
	// is used as it is (CIFAR at 32); any other, and every image file of a folder or shards, is
	// resized (PIL's antialiased bilinear filter) so that its shorter side is int(Size/0.875)
	// and its centre Size x Size kept: torchvision's standard evaluation transform (Resize(256),
	// CenterCrop(224) at Size 224). 0 means the data set's own size (sets of one size only).
	Size int
	// Mean and Std normalise each channel; nil means the data set's.
	Mean, Std []float32
	// Workers is the number of goroutines that decode a batch; 0 means runtime.NumCPU().
	Workers int
	// SkipBadImages leaves out the images that do not decode (they are listed in
	// Batch.BadImages; the valid entries stay first) instead of stopping with an error.
	SkipBadImages bool
	// ReducedDecode lets a JPEG be decoded at 1/2, 1/4 or 1/8 of its size when its shorter side
	// stays at least int(Size/0.875) (see LoaderConfig.ReducedDecode).
	ReducedDecode bool
	// Logger receives a warning for each skipped image; nil means log.Default().
	Logger *log.Logger
}

// EvalIterator walks a data set once, in order, without augmentation: each image is only resized
// and cropped (if asked) and normalised. Every batch has the same shape: the last one is padded
// with zero images, label -1, index -1 and mask 0 (pad + mask, so an evaluation graph never sees a
// new shape). Next builds each batch when it is called, decoding in parallel.
//
// Next returns false at the end and after an error: check Err after the loop.
type EvalIterator struct {
	info   Info
	src    Source
	enc    encodedSource
	orient bool // encoded images are turned by their EXIF orientation (Options.ExifOrientation)
	mem    bool // an in-memory *Dataset: its images of the view size are kept as they are
	shards *Shards
	cfg    EvalConfig
	h, w   int
	next   int
	number int
	stream *shardStream
	err    error
	aus    []augmenter
}

// NewEvalIterator returns an iterator over d (a *Dataset, a *Folder, any Source, or *Shards).
func NewEvalIterator(d Data, cfg EvalConfig) (*EvalIterator, error) {
	info, src, shards, err := checkData(d)
	if err != nil {
		return nil, err
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("evaluation of %s: batch size %d, want > 0", info.Name, cfg.BatchSize)
	}
	if cfg.Mean, cfg.Std, err = checkNorm(info, cfg.Mean, cfg.Std, "evaluation of"); err != nil {
		return nil, err
	}
	e := &EvalIterator{info: info, src: src, shards: shards, cfg: cfg, h: info.Height, w: info.Width, orient: orientOf(d)}
	if enc, ok := src.(encodedSource); ok {
		e.enc = enc
	}
	_, e.mem = src.(*Dataset)
	if cfg.Size > 0 {
		e.h, e.w = cfg.Size, cfg.Size
	}
	if e.h <= 0 || e.w <= 0 {
		return nil, fmt.Errorf("evaluation of %s: the images differ in size, so the views need a size (EvalConfig.Size, -image-size)", info.Name)
	}
	if e.cfg.Workers <= 0 {
		e.cfg.Workers = runtime.NumCPU()
	}
	if e.cfg.Logger == nil {
		e.cfg.Logger = log.Default()
	}
	e.aus = make([]augmenter, e.cfg.Workers)
	return e, nil
}

// NumBatches is ceil(N / BatchSize).
func (e *EvalIterator) NumBatches() int { return (e.info.Len + e.cfg.BatchSize - 1) / e.cfg.BatchSize }

// Err is the error that ended the iteration early, or nil.
func (e *EvalIterator) Err() error { return e.err }

// Next returns the next batch, or false after the last one or after an error (see Err).
func (e *EvalIterator) Next() (*Batch, bool) {
	if e.err != nil || e.next >= e.info.Len {
		e.Close()
		return nil, false
	}
	b, c := e.cfg.BatchSize, e.info.Channels
	per := e.h * e.w * c
	bt := &Batch{
		View1: make([]float32, b*per), Labels: make([]int32, b), Indices: make([]int32, b), Mask: make([]float32, b),
		Position: Position{Batch: e.number}, BatchSize: b, Height: e.h, Width: e.w, Channels: c,
	}
	n := min(b, e.info.Len-e.next)
	refs := make([]sampleRef, n)
	for i := range refs {
		refs[i] = sampleRef{index: e.next + i}
	}
	if e.shards != nil {
		if e.stream == nil {
			e.stream = newShardStream(e.shards, nil, nil, e.next, e.info.Len)
		}
		for i := range refs {
			smp, g, err := e.stream.read()
			if err != nil {
				e.fail(err)
				return nil, false
			}
			refs[i] = sampleRef{index: g, label: smp.label, path: smp.shard, member: smp.member, key: smp.key, data: smp.data}
		}
		bt.Keys = make([]string, 0, n)
	}
	if e.src != nil {
		for i := range refs {
			refs[i].label = e.src.Label(refs[i].index)
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	var slot atomic.Int64
	for w := range min(e.cfg.Workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(slot.Add(1) - 1); i < n; i = int(slot.Add(1) - 1) {
				errs[i] = e.fill(&e.aus[w], bt.View1[i*per:(i+1)*per], refs[i])
			}
		}()
	}
	wg.Wait()
	k := 0 // good images, compacted to the front
	for i, ref := range refs {
		if err := errs[i]; err != nil {
			if e.cfg.SkipBadImages && errors.Is(err, ErrBadImage) {
				name := fmt.Sprintf("%s sample %d", e.info.Name, ref.index)
				var de *DataError
				if errors.As(err, &de) {
					name = de.Name()
				}
				e.cfg.Logger.Warn("skipping a bad image", "image", name, "err", Cause(err), "batch", e.number)
				bt.BadImages = append(bt.BadImages, name)
				continue
			}
			e.fail(fmt.Errorf("evaluation of %s, batch %d: %w", e.info.Name, e.number, err))
			return nil, false
		}
		if k != i {
			copy(bt.View1[k*per:(k+1)*per], bt.View1[i*per:(i+1)*per])
		}
		bt.Labels[k], bt.Indices[k], bt.Mask[k] = ref.label, int32(ref.index), 1
		if bt.Keys != nil {
			bt.Keys = append(bt.Keys, ref.key)
		}
		k++
	}
	for i := k; i < b; i++ {
		clear(bt.View1[i*per : (i+1)*per])
		bt.Labels[i], bt.Indices[i], bt.Mask[i] = -1, -1, 0
	}
	bt.Valid = k
	e.next += n
	e.number++
	return bt, true
}

func (e *EvalIterator) fail(err error) {
	e.err = err
	e.Close()
}

// fill writes the evaluation view of one sample into dst.
func (e *EvalIterator) fill(au *augmenter, dst []float32, ref sampleRef) error {
	var img Image
	var err error
	data := ref.data
	if data == nil && e.enc != nil {
		if data, ref.path, err = e.enc.encoded(ref.index); err != nil {
			return err
		}
	}
	var win window
	if data != nil {
		h, w, o, err := headerSize(data, e.orient)
		if err != nil {
			return badImageErr(ref.path, ref.member, ref.index, err)
		}
		win = evalWindow(h, w, e.h, false)
		r := 1
		if e.cfg.ReducedDecode {
			for _, f := range []int{8, 4, 2} {
				if min(h, w)/f >= int(float64(e.h)/EvalResizeFraction) {
					r = f
					break
				}
			}
		}
		if img, err = decodeEncoded(data, ref, h, w, r, o); err != nil {
			return err
		}
	} else {
		if img, err = e.src.Decode(ref.index); err != nil {
			return err
		}
		if e.cfg.Size <= 0 {
			win = window{inW: img.W, inH: img.H, x1: float32(img.W), y1: float32(img.H), rw: img.W, rh: img.H, ow: img.W, oh: img.H}
		} else {
			win = evalWindow(img.H, img.W, e.h, e.mem)
		}
	}
	if img.C != e.info.Channels {
		return fmt.Errorf("%s: sample %d decoded to %d channels, want %d", e.info.Name, ref.index, img.C, e.info.Channels)
	}
	// The window is computed on the original size; a reduced decode is resized whole.
	win.inW, win.inH, win.x1, win.y1 = img.W, img.H, float32(img.W), float32(img.H)
	au.resample(dst, img, win, Bilinear)
	normalize(dst, img.C, e.cfg.Mean, e.cfg.Std)
	return nil
}

// Reset starts the iteration again from the first image.
func (e *EvalIterator) Reset() {
	e.Close()
	e.next, e.number, e.err = 0, 0, nil
}

// Close releases the open shard, if any; the iterator can be Reset and used again. Next calls it
// at the end.
func (e *EvalIterator) Close() {
	if e.stream != nil {
		e.stream.close()
		e.stream = nil
	}
}
