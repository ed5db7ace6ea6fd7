// Package safetensors reads and writes the safetensors format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, a JSON header of N bytes mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the end of the header), an
// optional "__metadata__" map of strings, then the raw little-endian tensor data.
//
// Supported data types: F32, F64, F16, BF16, I64, I32 (anything else is rejected with its name).
// Floating-point tensors convert to float32 or float64 with Tensor.Float32s / Tensor.Float64s,
// integer tensors with Tensor.Int64s.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/x448/float16"
)

// DType names a tensor element type as the safetensors header spells it.
type DType string

// The element types this package reads and writes.
const (
	F32  DType = "F32"
	F64  DType = "F64"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
)

// MetadataKey is the reserved header key holding the free-form string metadata.
const MetadataKey = "__metadata__"

// MaxHeaderSize bounds the JSON header (100 MB, as the reference implementation does), so a corrupt
// length cannot make the reader allocate without limit.
const MaxHeaderSize = 100 << 20

// Size returns the size in bytes of one element of the type, or 0 for an unsupported type.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16:
		return 2
	}
	return 0
}

// Tensor is one named array of a file: its element type, its shape (row-major, like PyTorch) and
// its raw little-endian bytes.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// NumElements returns the product of the shape's dimensions (1 for a scalar).
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32s decodes a floating-point tensor (F32, F64, F16 or BF16) into float32 values.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	n := t.NumElements()
	out := make([]float32, n)
	le := binary.LittleEndian
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(t.Data[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(t.Data[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = float16.Frombits(le.Uint16(t.Data[2*i:])).Float32()
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(t.Data[2*i:])) << 16)
		}
	default:
		return nil, fmt.Errorf("safetensors: cannot convert %s tensor to float32", t.DType)
	}
	return out, nil
}

// Float64s decodes a floating-point tensor (F32, F64, F16 or BF16) into float64 values.
func (t Tensor) Float64s() ([]float64, error) {
	if t.DType == F64 {
		if err := t.check(); err != nil {
			return nil, err
		}
		out := make([]float64, t.NumElements())
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return out, nil
	}
	f32, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f32))
	for i, v := range f32 {
		out[i] = float64(v)
	}
	return out, nil
}

// Int64s decodes an integer tensor (I64 or I32) into int64 values.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	out := make([]int64, t.NumElements())
	switch t.DType {
	case I64:
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(t.Data[4*i:])))
		}
	default:
		return nil, fmt.Errorf("safetensors: cannot convert %s tensor to int64", t.DType)
	}
	return out, nil
}

// check verifies that the type is supported and that the data length matches the shape.
func (t Tensor) check() error {
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("safetensors: unsupported dtype %q", t.DType)
	}
	n, ok := numElements(t.Shape)
	if !ok {
		return fmt.Errorf("safetensors: invalid shape %v", t.Shape)
	}
	if n*size != len(t.Data) {
		return fmt.Errorf("safetensors: %s tensor of shape %v needs %d bytes, has %d", t.DType, t.Shape, n*size, len(t.Data))
	}
	return nil
}

// numElements multiplies the dimensions, reporting false for a negative dimension or an overflow.
func numElements(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt32/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// FromFloat32 makes an F32 tensor of the given shape; it panics if len(values) does not match the
// shape (a programming error).
func FromFloat32(shape []int, values []float32) Tensor {
	t := Tensor{DType: F32, Shape: slices.Clone(shape), Data: make([]byte, 4*len(values))}
	for i, v := range values {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(v))
	}
	mustMatch(t, len(values))
	return t
}

// FromFloat64 makes an F64 tensor of the given shape; it panics if len(values) does not match.
func FromFloat64(shape []int, values []float64) Tensor {
	t := Tensor{DType: F64, Shape: slices.Clone(shape), Data: make([]byte, 8*len(values))}
	for i, v := range values {
		binary.LittleEndian.PutUint64(t.Data[8*i:], math.Float64bits(v))
	}
	mustMatch(t, len(values))
	return t
}

// FromInt64 makes an I64 tensor of the given shape; it panics if len(values) does not match.
func FromInt64(shape []int, values []int64) Tensor {
	t := Tensor{DType: I64, Shape: slices.Clone(shape), Data: make([]byte, 8*len(values))}
	for i, v := range values {
		binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(v))
	}
	mustMatch(t, len(values))
	return t
}

func mustMatch(t Tensor, n int) {
	if want, ok := numElements(t.Shape); !ok || want != n {
		panic(fmt.Sprintf("safetensors: %d values do not fill shape %v", n, t.Shape))
	}
}

// File is the content of a safetensors file: named tensors and optional string metadata.
type File struct {
	Tensors  map[string]Tensor
	Metadata map[string]string
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for name := range f.Tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// headerEntry is one tensor's description in the JSON header.
type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Parse decodes a whole safetensors file held in memory. The returned tensors share data's memory.
func Parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: file of %d bytes is shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes that follow it (truncated file?)", n, len(data)-8)
	}
	header, body := data[8:8+n], data[8+n:]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: decoding JSON header: %w", err)
	}
	f := &File{Tensors: make(map[string]Tensor, len(raw))}
	type span struct {
		name       string
		begin, end int64
	}
	spans := make([]span, 0, len(raw))
	for name, msg := range raw {
		if name == MetadataKey {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: decoding %s: %w", MetadataKey, err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		size := e.DType.Size()
		if size == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: unsupported dtype %q", name, e.DType)
		}
		if e.Shape == nil {
			return nil, fmt.Errorf("safetensors: tensor %q: missing shape", name)
		}
		count, ok := numElements(e.Shape)
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q: invalid shape %v", name, e.Shape)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets must have 2 values, has %d", name, len(e.DataOffsets))
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > int64(len(body)) {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] outside the %d data bytes", name, begin, end, len(body))
		}
		if end-begin != int64(count*size) {
			return nil, fmt.Errorf("safetensors: tensor %q: %s shape %v needs %d bytes, data_offsets give %d",
				name, e.DType, e.Shape, count*size, end-begin)
		}
		spans = append(spans, span{name, begin, end})
		f.Tensors[name] = Tensor{DType: e.DType, Shape: e.Shape, Data: body[begin:end:end]}
	}
	// Tensors must not overlap (the reference implementation also forbids gaps; we tolerate them).
	// Sorted by begin, then end, so that an empty tensor at the start of another does not count as
	// overlapping it (the order of equal begins would otherwise depend on map iteration).
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	for i := 1; i < len(spans); i++ {
		if spans[i].begin < spans[i-1].end {
			return nil, fmt.Errorf("safetensors: tensors %q and %q overlap", spans[i-1].name, spans[i].name)
		}
	}
	return f, nil
}

// Read decodes a safetensors stream.
func Read(r io.Reader) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("safetensors: reading: %w", err)
	}
	return Parse(data)
}

// ReadFile decodes the safetensors file at path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return f, nil
}

// Write encodes f: tensors in name order, contiguous, header padded with spaces to a multiple of 8
// bytes (as the reference implementation does).
func Write(w io.Writer, f *File) error {
	header := make(map[string]any, len(f.Tensors)+1)
	if len(f.Metadata) > 0 {
		header[MetadataKey] = f.Metadata
	}
	names := f.Names()
	var offset int64
	for _, name := range names {
		t := f.Tensors[name]
		if err := t.check(); err != nil {
			return fmt.Errorf("safetensors: writing tensor %q: %w", name, err)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: []int64{offset, offset + int64(len(t.Data))}}
		offset += int64(len(t.Data))
	}
	js, err := json.Marshal(header) // Map keys are sorted: the output is deterministic.
	if err != nil {
		return fmt.Errorf("safetensors: encoding header: %w", err)
	}
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, bytes.Repeat([]byte{' '}, pad)...)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: writing: %w", err)
	}
	if _, err := w.Write(js); err != nil {
		return fmt.Errorf("safetensors: writing: %w", err)
	}
	for _, name := range names {
		if _, err := w.Write(f.Tensors[name].Data); err != nil {
			return fmt.Errorf("safetensors: writing tensor %q: %w", name, err)
		}
	}
	return nil
}

// WriteFile writes f to path atomically: into a temporary file in the same folder, then renamed.
func WriteFile(path string, f *File) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = Write(tmp, f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	return nil
}
