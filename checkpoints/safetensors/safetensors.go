// Package safetensors reads and writes the safetensors format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, a JSON header of N bytes mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the end of the header), an
// optional "__metadata__" map of strings to strings, then the raw little-endian tensor data.
//
// The reader is as strict as the reference implementation: the header is at most MaxHeaderSize
// bytes of JSON starting with '{', every tensor has a known dtype and a shape whose size matches
// its data_offsets, and the tensors cover the data section exactly, without gaps or overlaps.
// It also refuses duplicate keys and ranks above MaxRank. The writer pads the header with spaces
// to a multiple of 8 bytes, as the reference writer does, so that Python's safetensors (and every
// other reader) opens what it writes.
//
// Supported data types: BOOL, U8, I8, U16, I16, U32, U64, I32, I64, F16, BF16, F32, F64 and C64
// (anything else is rejected with its name). Floating-point tensors convert to float32 or float64
// with Tensor.Float32s / Tensor.Float64s, integer tensors with Tensor.Int64s.
//
// Whole files in memory use File (Parse, Write); large files are streamed with Header
// (ReadHeader, Layout, Header.Encode) and the tensor data read or written in the header's order.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/x448/float16"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// DType names a tensor element type as the safetensors header spells it.
type DType string

// The element types this package reads and writes.
const (
	BOOL DType = "BOOL"
	U8   DType = "U8"
	I8   DType = "I8"
	U16  DType = "U16"
	I16  DType = "I16"
	U32  DType = "U32"
	I32  DType = "I32"
	U64  DType = "U64"
	I64  DType = "I64"
	F16  DType = "F16"
	BF16 DType = "BF16"
	F32  DType = "F32"
	F64  DType = "F64"
	C64  DType = "C64"
)

// MetadataKey is the reserved header key holding the free-form string metadata.
const MetadataKey = "__metadata__"

// MaxHeaderSize bounds the JSON header (100 MB, the reference implementation's limit), so a corrupt
// length cannot make the reader allocate without limit.
const MaxHeaderSize = 100_000_000

// MaxRank bounds the number of dimensions of a tensor.
const MaxRank = 64

// Size returns the size in bytes of one element of the type, or 0 for an unsupported type.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8:
		return 1
	case U16, I16, F16, BF16:
		return 2
	case U32, I32, F32:
		return 4
	case U64, I64, F64, C64:
		return 8
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

// Int64s decodes an integer tensor (I8, I16, I32, I64, U8, U16 or U32) into int64 values.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	out := make([]int64, t.NumElements())
	le := binary.LittleEndian
	switch t.DType {
	case I64:
		for i := range out {
			out[i] = int64(le.Uint64(t.Data[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(le.Uint32(t.Data[4*i:])))
		}
	case I16:
		for i := range out {
			out[i] = int64(int16(le.Uint16(t.Data[2*i:])))
		}
	case I8:
		for i := range out {
			out[i] = int64(int8(t.Data[i]))
		}
	case U32:
		for i := range out {
			out[i] = int64(le.Uint32(t.Data[4*i:]))
		}
	case U16:
		for i := range out {
			out[i] = int64(le.Uint16(t.Data[2*i:]))
		}
	case U8:
		for i := range out {
			out[i] = int64(t.Data[i])
		}
	default:
		return nil, fmt.Errorf("safetensors: cannot convert %s tensor to int64", t.DType)
	}
	return out, nil
}

// check verifies that the type is supported and that the data length matches the shape.
func (t Tensor) check() error {
	n, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if n != int64(len(t.Data)) {
		return fmt.Errorf("safetensors: %s tensor of shape %v needs %d bytes, has %d", t.DType, t.Shape, n, len(t.Data))
	}
	return nil
}

// byteSize returns the number of bytes of a tensor of the given dtype and shape, or an error for
// an unsupported dtype, a rank above MaxRank, a negative dimension or an overflow.
func byteSize(dt DType, shape []int) (int64, error) {
	size := int64(dt.Size())
	if size == 0 {
		return 0, fmt.Errorf("unsupported dtype %q", dt)
	}
	if len(shape) > MaxRank {
		return 0, fmt.Errorf("rank %d exceeds the maximum %d", len(shape), MaxRank)
	}
	zero := false
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("invalid shape %v (negative dimension)", shape)
		}
		zero = zero || d == 0
	}
	if zero {
		return 0, nil
	}
	n := size
	for _, d := range shape {
		if n > math.MaxInt64/int64(d) {
			return 0, fmt.Errorf("invalid shape %v (too large)", shape)
		}
		n *= int64(d)
	}
	return n, nil
}

// FromFloat32 makes an F32 tensor of the given shape; it panics if len(values) does not match the
// shape (a programming error).
func FromFloat32(shape []int, values []float32) Tensor {
	t := Tensor{DType: F32, Shape: slices.Clone(shape), Data: make([]byte, 4*len(values))}
	for i, v := range values {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(v))
	}
	mustMatch(t)
	return t
}

// FromFloat64 makes an F64 tensor of the given shape; it panics if len(values) does not match.
func FromFloat64(shape []int, values []float64) Tensor {
	t := Tensor{DType: F64, Shape: slices.Clone(shape), Data: make([]byte, 8*len(values))}
	for i, v := range values {
		binary.LittleEndian.PutUint64(t.Data[8*i:], math.Float64bits(v))
	}
	mustMatch(t)
	return t
}

// FromInt64 makes an I64 tensor of the given shape; it panics if len(values) does not match.
func FromInt64(shape []int, values []int64) Tensor {
	t := Tensor{DType: I64, Shape: slices.Clone(shape), Data: make([]byte, 8*len(values))}
	for i, v := range values {
		binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(v))
	}
	mustMatch(t)
	return t
}

func mustMatch(t Tensor) {
	if err := t.check(); err != nil {
		panic(err.Error())
	}
}

// File is the content of a safetensors file held in memory: named tensors and optional string
// metadata.
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

// Info describes one tensor of a file without its data: its name, dtype and shape and where its
// bytes lie in the data section (Begin inclusive, End exclusive, relative to the end of the
// header).
type Info struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64
}

// Header is the parsed header of a file.
type Header struct {
	// Tensors lists the tensors in the order of their data (by Begin; zero-length tensors at the
	// same offset in name order). They cover [0, DataSize()) exactly.
	Tensors []Info
	// Metadata is the "__metadata__" map (nil when absent).
	Metadata map[string]string
	// Len is N, the length in bytes of the JSON header including its padding: the data section
	// starts at byte 8+N of the file.
	Len int64
}

// DataSize returns the length in bytes of the data section.
func (h *Header) DataSize() int64 {
	if len(h.Tensors) == 0 {
		return 0
	}
	return h.Tensors[len(h.Tensors)-1].End
}

// entry is one tensor's description in the JSON header.
type entry struct {
	DType       DType   `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Layout returns the header of a file holding the given tensors with their data laid out
// contiguously in the given order (their Begin and End are set; the input is not changed), and
// the given metadata. It checks names (unique, not MetadataKey, valid UTF-8), dtypes
// and shapes.
func Layout(metadata map[string]string, tensors []Info) (*Header, error) {
	h := &Header{Tensors: make([]Info, len(tensors)), Metadata: metadata}
	seen := make(map[string]bool, len(tensors))
	var offset int64
	for i, t := range tensors {
		switch {
		case t.Name == MetadataKey:
			return nil, fmt.Errorf("safetensors: a tensor cannot be named %q", MetadataKey)
		case !utf8.ValidString(t.Name):
			return nil, fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("safetensors: tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		n, err := byteSize(t.DType, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
		shape := slices.Clone(t.Shape)
		if shape == nil {
			shape = []int{}
		}
		h.Tensors[i] = Info{Name: t.Name, DType: t.DType, Shape: shape, Begin: offset, End: offset + n}
		offset += n
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("safetensors: metadata %q is not valid UTF-8", k)
		}
	}
	js, err := h.json()
	if err != nil {
		return nil, err
	}
	h.Len = int64(len(js))
	return h, nil
}

// json encodes the header as padded JSON.
func (h *Header) json() ([]byte, error) {
	m := make(map[string]any, len(h.Tensors)+1)
	if len(h.Metadata) > 0 {
		m[MetadataKey] = h.Metadata
	}
	for _, t := range h.Tensors {
		m[t.Name] = entry{DType: t.DType, Shape: t.Shape, DataOffsets: []int64{t.Begin, t.End}}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil { // Map keys are sorted: the output is deterministic.
		return nil, fmt.Errorf("safetensors: encoding the header: %w", err)
	}
	js := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, bytes.Repeat([]byte{' '}, pad)...)
	}
	return js, nil
}

// Encode returns the first 8+Len bytes of the file: the header length and the padded JSON header.
// The tensor data follows, in the order of h.Tensors.
func (h *Header) Encode() ([]byte, error) {
	js, err := h.json()
	if err != nil {
		return nil, err
	}
	if int64(len(js)) != h.Len {
		return nil, errors.New("safetensors: header changed after Layout") // a programming error
	}
	out := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(js)), uint64(len(js)))
	return append(out, js...), nil
}

// ReadHeader reads the header length and the JSON header from r (exactly 8+N bytes) and validates
// them. fileSize is the size of the whole file: the tensors must cover the rest of it exactly.
// Errors say what is wrong, never panic, and never allocate more than the header's size.
func ReadHeader(r io.Reader, fileSize int64) (*Header, error) {
	var lenBuf [8]byte
	if n, err := io.ReadFull(r, lenBuf[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("safetensors: file of %d bytes is shorter than the 8-byte header length", n)
		}
		return nil, fmt.Errorf("safetensors: reading the header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if fileSize >= 0 && n > uint64(fileSize-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes that follow it (truncated file?)", n, fileSize-8)
	}
	js := make([]byte, n)
	if _, err := io.ReadFull(r, js); err != nil {
		return nil, fmt.Errorf("safetensors: reading the %d-byte header: %w (truncated file?)", n, err)
	}
	h, err := parseHeader(js)
	if err != nil {
		return nil, err
	}
	if fileSize >= 0 {
		if room := fileSize - 8 - int64(n); h.DataSize() != room {
			return nil, fmt.Errorf("safetensors: the tensors hold %d bytes but %d follow the header (truncated or extended file?)", h.DataSize(), room)
		}
	}
	return h, nil
}

// parseHeader decodes and validates the JSON header js.
func parseHeader(js []byte) (*Header, error) {
	if len(js) == 0 || js[0] != '{' {
		return nil, errors.New("safetensors: the header does not start with '{'")
	}
	if !utf8.Valid(js) {
		return nil, errors.New("safetensors: the header is not valid UTF-8")
	}
	raw, err := objectMembers(js)
	if err != nil {
		return nil, fmt.Errorf("safetensors: decoding the JSON header: %w", err)
	}
	h := &Header{Len: int64(len(js)), Tensors: make([]Info, 0, len(raw))}
	for _, m := range raw {
		if m.key == MetadataKey {
			if h.Metadata, err = decodeMetadata(m.value); err != nil {
				return nil, fmt.Errorf("safetensors: decoding %s: %w", MetadataKey, err)
			}
			continue
		}
		var e entry
		if err := json.Unmarshal(m.value, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", m.key, err)
		}
		if e.Shape == nil {
			return nil, fmt.Errorf("safetensors: tensor %q: missing shape", m.key)
		}
		size, err := byteSize(e.DType, e.Shape)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", m.key, err)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets must have 2 values, has %d", m.key, len(e.DataOffsets))
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin {
			return nil, fmt.Errorf("safetensors: tensor %q: invalid data_offsets [%d, %d]", m.key, begin, end)
		}
		if end-begin != size {
			return nil, fmt.Errorf("safetensors: tensor %q: %s shape %v needs %d bytes, data_offsets give %d",
				m.key, e.DType, e.Shape, size, end-begin)
		}
		h.Tensors = append(h.Tensors, Info{Name: m.key, DType: e.DType, Shape: e.Shape, Begin: begin, End: end})
	}
	// The tensors must tile the data section: sorted by offset, each starts where the previous
	// ends (the reference implementation's rule: no gaps, no overlaps). Zero-length tensors sort
	// before a tensor at the same offset, and among themselves by name, so the order is
	// deterministic.
	sort.Slice(h.Tensors, func(i, j int) bool {
		a, b := h.Tensors[i], h.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Name < b.Name
	})
	var offset int64
	for _, t := range h.Tensors {
		if t.Begin != offset {
			if t.Begin < offset {
				return nil, fmt.Errorf("safetensors: tensor %q at data offset %d overlaps the previous tensor (which ends at %d)", t.Name, t.Begin, offset)
			}
			return nil, fmt.Errorf("safetensors: tensor %q starts at data offset %d, want %d (tensors must be contiguous)", t.Name, t.Begin, offset)
		}
		offset = t.End
	}
	return h, nil
}

// member is one key and raw value of a JSON object.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers splits a JSON object into its members in order, refusing duplicate keys and
// anything after the object but spaces.
func objectMembers(js []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, err)
		}
		out = append(out, member{key, value})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	rest := js[dec.InputOffset():]
	if len(bytes.Trim(rest, " ")) > 0 {
		return nil, fmt.Errorf("unexpected %q after the header object", truncate(rest, 20))
	}
	return out, nil
}

// decodeMetadata decodes the metadata object: string values only, no duplicate keys (null is no
// metadata).
func decodeMetadata(raw json.RawMessage) (map[string]string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	members, err := objectMembers(raw)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(members))
	for _, m := range members {
		var s string
		if len(m.value) == 0 || m.value[0] != '"' {
			return nil, fmt.Errorf("value of %q is %s, want a string", m.key, truncate(m.value, 20))
		}
		if err := json.Unmarshal(m.value, &s); err != nil {
			return nil, fmt.Errorf("value of %q: %w", m.key, err)
		}
		out[m.key] = s
	}
	return out, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// Parse decodes a whole safetensors file held in memory. The returned tensors share data's memory.
func Parse(data []byte) (*File, error) {
	h, err := ReadHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	body := data[8+h.Len:]
	f := &File{Tensors: make(map[string]Tensor, len(h.Tensors)), Metadata: h.Metadata}
	for _, t := range h.Tensors {
		f.Tensors[t.Name] = Tensor{DType: t.DType, Shape: t.Shape, Data: body[t.Begin:t.End:t.End]}
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
	names := f.Names()
	infos := make([]Info, len(names))
	for i, name := range names {
		t := f.Tensors[name]
		if err := t.check(); err != nil {
			return fmt.Errorf("safetensors: writing tensor %q: %w", name, err)
		}
		infos[i] = Info{Name: name, DType: t.DType, Shape: t.Shape}
	}
	h, err := Layout(f.Metadata, infos)
	if err != nil {
		return err
	}
	head, err := h.Encode()
	if err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return fmt.Errorf("safetensors: writing: %w", err)
	}
	for _, name := range names {
		if _, err := w.Write(f.Tensors[name].Data); err != nil {
			return fmt.Errorf("safetensors: writing tensor %q: %w", name, err)
		}
	}
	return nil
}

// WriteFile writes f to path atomically (internal/atomicfile: a temporary file in the same folder,
// fsynced, renamed, folder fsynced).
func WriteFile(path string, f *File) error {
	return atomicfile.Write(path, 0, func(w io.Writer) error { return Write(w, f) })
}

// IsSafetensors reports whether prefix, the first bytes of a file (at least 9), look like a
// safetensors file: a plausible header length followed by '{'.
func IsSafetensors(prefix []byte) bool {
	if len(prefix) < 9 {
		return false
	}
	n := binary.LittleEndian.Uint64(prefix)
	return n > 0 && n <= MaxHeaderSize && prefix[8] == '{'
}
