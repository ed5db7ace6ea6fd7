package checkpoints

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

const (
	// Magic is the first word of every checkpoint file.
	Magic = "vicreg-checkpoint"
	// Version is the format version this package writes and reads.
	Version = 1
	// Ext is the file extension used for checkpoints.
	Ext = ".vckpt"

	// maxHeaderBytes bounds the JSON header a reader accepts, so that a corrupt length cannot make
	// it allocate without limit.
	maxHeaderBytes = 256 << 20
	// maxRank bounds the rank of a stored tensor.
	maxRank = 64
	// maxLineBytes bounds the two text lines at the start of a file.
	maxLineBytes = 64
)

// Variable is one named tensor of a checkpoint, usually a variable of a GoMLX context.
type Variable struct {
	// Scope is the GoMLX scope of the variable, an absolute path such as "/model/dense_0".
	Scope string
	// Name is the name of the variable within its scope, such as "weights".
	Name string
	// Trainable records whether the variable was trainable when it was saved.
	Trainable bool
	// Value holds the tensor.
	Value *tensors.Tensor
}

// Key returns "scope/name", the unique key of the variable.
func (v Variable) Key() string { return key(v.Scope, v.Name) }

func key(scope, name string) string {
	if scope == "" || scope[len(scope)-1] == '/' {
		return scope + name
	}
	return scope + "/" + name
}

// State is everything a checkpoint holds.
type State struct {
	// Step is the number of optimizer updates done.
	Step int64
	// Epoch is the training epoch.
	Epoch int
	// Time is when the state was saved. Save uses the current time when it is zero; Load sets it.
	Time time.Time
	// Config is the training configuration, as JSON (stored verbatim, compacted; may be empty).
	Config json.RawMessage
	// Data is the data-loader position, as JSON (stored verbatim, compacted; may be empty).
	Data json.RawMessage
	// Metrics are named numbers, such as "probe_acc" or "loss". NaN and ±Inf are allowed.
	Metrics map[string]float64
	// Variables are the tensors: model, optimizer and random-number-generator state.
	Variables []Variable
}

// Free releases the memory of every tensor of the state. The state must not be used afterwards.
func (s *State) Free() {
	for _, v := range s.Variables {
		if v.Value != nil {
			_ = v.Value.FinalizeAll()
		}
	}
}

// dtypeNames maps the dtypes this format supports to their names in the header.
var dtypeNames = map[dtypes.DType]string{
	dtypes.Bool:       "bool",
	dtypes.Int8:       "int8",
	dtypes.Int16:      "int16",
	dtypes.Int32:      "int32",
	dtypes.Int64:      "int64",
	dtypes.Uint8:      "uint8",
	dtypes.Uint16:     "uint16",
	dtypes.Uint32:     "uint32",
	dtypes.Uint64:     "uint64",
	dtypes.Float16:    "float16",
	dtypes.BFloat16:   "bfloat16",
	dtypes.Float32:    "float32",
	dtypes.Float64:    "float64",
	dtypes.Complex64:  "complex64",
	dtypes.Complex128: "complex128",
}

var dtypeByName = func() map[string]dtypes.DType {
	m := make(map[string]dtypes.DType, len(dtypeNames))
	for dt, name := range dtypeNames {
		m[name] = dt
	}
	return m
}()

// header is the JSON header of a checkpoint file.
type header struct {
	Step      int64              `json:"step"`
	Epoch     int                `json:"epoch"`
	Time      string             `json:"time"`
	Config    json.RawMessage    `json:"config,omitempty"`
	Data      json.RawMessage    `json:"data,omitempty"`
	Metrics   map[string]float64 `json:"-"`
	RawMetric map[string]any     `json:"metrics,omitempty"`
	DataBytes int64              `json:"data_bytes"`
	Tensors   []tensorEntry      `json:"tensors"`
}

// tensorEntry describes one tensor in the header.
type tensorEntry struct {
	Scope     string `json:"scope"`
	Name      string `json:"name"`
	Trainable bool   `json:"trainable"`
	DType     string `json:"dtype"`
	Shape     []int  `json:"shape"`
	Offset    int64  `json:"offset"`
	Bytes     int64  `json:"bytes"`
}

// encodeMetrics turns metrics into JSON values, writing non-finite numbers as strings.
func encodeMetrics(m map[string]float64) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch {
		case math.IsNaN(v):
			out[k] = "NaN"
		case math.IsInf(v, 1):
			out[k] = "+Inf"
		case math.IsInf(v, -1):
			out[k] = "-Inf"
		default:
			out[k] = v
		}
	}
	return out
}

// decodeMetrics is the inverse of encodeMetrics.
func decodeMetrics(raw map[string]any) (map[string]float64, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]float64, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case float64:
			out[k] = x
		case string:
			switch x {
			case "NaN":
				out[k] = math.NaN()
			case "+Inf":
				out[k] = math.Inf(1)
			case "-Inf":
				out[k] = math.Inf(-1)
			default:
				return nil, fmt.Errorf("metric %q has value %q, want a number, \"NaN\", \"+Inf\" or \"-Inf\"", k, x)
			}
		default:
			return nil, fmt.Errorf("metric %q has a value of JSON type %T, want a number", k, v)
		}
	}
	return out, nil
}

// hostIsLittleEndian reports whether tensors' in-memory bytes are already little-endian.
var hostIsLittleEndian = func() bool {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	return b[0] == 1
}()

// swapElementBytes reverses the byte order of each element of data in place. elemSize is the size
// of the scalar unit (for complex numbers, of one of the two parts).
func swapElementBytes(data []byte, elemSize int) {
	if elemSize <= 1 {
		return
	}
	for i := 0; i+elemSize <= len(data); i += elemSize {
		e := data[i : i+elemSize]
		for a, b := 0, elemSize-1; a < b; a, b = a+1, b-1 {
			e[a], e[b] = e[b], e[a]
		}
	}
}

// scalarUnit is the size in bytes of the unit whose byte order must be swapped.
func scalarUnit(dt dtypes.DType) int {
	if dt.IsComplex() {
		return dt.Size() / 2
	}
	return dt.Size()
}

// tensorBytes returns the number of bytes of a tensor of the given dtype and dimensions, or an
// error if a dimension is negative or the size overflows.
func tensorBytes(dt dtypes.DType, dims []int) (int64, error) {
	if len(dims) > maxRank {
		return 0, fmt.Errorf("rank %d exceeds the maximum %d", len(dims), maxRank)
	}
	n := int64(dt.Size())
	zero := false
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, dims)
		}
		if d == 0 {
			zero = true
		}
	}
	if zero {
		return 0, nil
	}
	for _, d := range dims {
		if n > math.MaxInt64/int64(d) {
			return 0, fmt.Errorf("shape %v is too large", dims)
		}
		n *= int64(d)
	}
	return n, nil
}

// buildHeader describes s as a header, checking what the format needs.
func buildHeader(s *State) (*header, error) {
	t := s.Time
	if t.IsZero() {
		t = time.Now()
	}
	h := &header{
		Step:      s.Step,
		Epoch:     s.Epoch,
		Time:      t.UTC().Format(time.RFC3339Nano),
		RawMetric: encodeMetrics(s.Metrics),
		Tensors:   make([]tensorEntry, 0, len(s.Variables)),
	}
	for _, field := range []struct {
		name string
		raw  json.RawMessage
		dst  *json.RawMessage
	}{{"Config", s.Config, &h.Config}, {"Data", s.Data, &h.Data}} {
		if len(bytes.TrimSpace(field.raw)) == 0 {
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, field.raw); err != nil {
			return nil, fmt.Errorf("State.%s is not valid JSON: %w", field.name, err)
		}
		*field.dst = buf.Bytes()
	}
	seen := make(map[string]bool, len(s.Variables))
	var offset int64
	for i, v := range s.Variables {
		if v.Name == "" {
			return nil, fmt.Errorf("variable #%d (scope %q) has an empty name", i, v.Scope)
		}
		key := v.Key()
		if seen[key] {
			return nil, fmt.Errorf("variable %q appears twice", key)
		}
		seen[key] = true
		if v.Value == nil {
			return nil, fmt.Errorf("variable %q has no value", key)
		}
		shape := v.Value.Shape()
		name, ok := dtypeNames[shape.DType]
		if !ok {
			return nil, fmt.Errorf("variable %q has dtype %s, which checkpoints do not support", key, shape.DType)
		}
		n, err := tensorBytes(shape.DType, shape.Dimensions)
		if err != nil {
			return nil, fmt.Errorf("variable %q: %w", key, err)
		}
		dims := append([]int{}, shape.Dimensions...)
		h.Tensors = append(h.Tensors, tensorEntry{
			Scope: v.Scope, Name: v.Name, Trainable: v.Trainable,
			DType: name, Shape: dims, Offset: offset, Bytes: n,
		})
		offset += n
	}
	h.DataBytes = offset
	return h, nil
}

// encode writes s in the checkpoint format to w.
func encode(w io.Writer, s *State) error {
	h, err := buildHeader(s)
	if err != nil {
		return err
	}
	headerJSON, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encoding the header: %w", err)
	}
	sum := sha256.New()
	bw := bufio.NewWriterSize(w, 1<<20)
	hw := io.MultiWriter(bw, sum)
	if _, err := fmt.Fprintf(hw, "%s %d\nheader %d\n", Magic, Version, len(headerJSON)); err != nil {
		return err
	}
	if _, err := hw.Write(headerJSON); err != nil {
		return err
	}
	var swapped []byte
	for i, v := range s.Variables {
		if h.Tensors[i].Bytes == 0 {
			continue
		}
		var writeErr error
		accessErr := v.Value.ConstBytes(func(data []byte) {
			if !hostIsLittleEndian {
				swapped = append(swapped[:0], data...)
				swapElementBytes(swapped, scalarUnit(v.Value.Shape().DType))
				data = swapped
			}
			_, writeErr = hw.Write(data)
		})
		if accessErr != nil {
			return fmt.Errorf("reading the value of variable %q: %w", v.Key(), accessErr)
		}
		if writeErr != nil {
			return writeErr
		}
	}
	if _, err := bw.Write(sum.Sum(nil)); err != nil {
		return err
	}
	return bw.Flush()
}

// tempFile is what Save needs of the temporary file; tests substitute failing ones.
type tempFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// createTemp creates the temporary file Save writes to. Tests replace it to inject write errors.
var createTemp = func(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }

// syncDir fsyncs a folder so that a rename in it is durable. Tests may replace it.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// tempPrefix and tempInfix name temporary files: ".<base>.tmp-<random>".
const (
	tempPrefix = "."
	tempInfix  = ".tmp-"
)

// Save writes s to path atomically: it writes a temporary file in the same folder, fsyncs it,
// renames it to path and fsyncs the folder. On any error the temporary file is removed and an
// existing file at path is left untouched.
func Save(path string, s *State) (err error) {
	if s == nil {
		return fmt.Errorf("saving checkpoint %s: nil state", path)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createTemp(dir, tempPrefix+base+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("saving checkpoint %s: creating temporary file: %w", path, err)
	}
	tmpName := f.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = os.Remove(tmpName)
		}
	}()
	if err = encode(f, s); err != nil {
		return fmt.Errorf("saving checkpoint %s: writing %s: %w", path, tmpName, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("saving checkpoint %s: syncing %s: %w", path, tmpName, err)
	}
	closed = true
	if err = f.Close(); err != nil {
		return fmt.Errorf("saving checkpoint %s: closing %s: %w", path, tmpName, err)
	}
	if err = os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("saving checkpoint %s: renaming %s: %w", path, tmpName, err)
	}
	if err = syncDir(dir); err != nil {
		// The file is in place; only the durability of the rename is in doubt.
		return fmt.Errorf("saving checkpoint %s: syncing folder %s: %w", path, dir, err)
	}
	return nil
}

// Load reads and verifies the checkpoint at path. Any problem (missing file, wrong magic word or
// version, truncation, checksum mismatch, inconsistent header) is an error naming the file; no
// partial state is ever returned.
func Load(path string) (*State, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("loading checkpoint %s: not a regular file", path)
	}
	s, err := decode(f, info.Size())
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	return s, nil
}

// ErrCorrupt is wrapped by every error that reports a damaged or foreign file.
var ErrCorrupt = errors.New("corrupt checkpoint")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// readLine reads one "\n"-terminated line of at most maxLineBytes bytes.
func readLine(r *bufio.Reader, what string) (string, error) {
	var line []byte
	for len(line) <= maxLineBytes {
		c, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", corruptf("file ends inside the %s line (truncated?)", what)
			}
			return "", err
		}
		if c == '\n' {
			return string(line), nil
		}
		line = append(line, c)
	}
	return "", corruptf("%s line longer than %d bytes", what, maxLineBytes)
}

// readHeader reads the magic line, the header line and the JSON header from r. size is the total
// size of the file, used to bound the header; it returns the number of bytes consumed.
func readHeader(r *bufio.Reader, size int64) (*header, int64, error) {
	if start, _ := r.Peek(len(Magic) + 1); string(start) != Magic+" " {
		return nil, 0, corruptf("not a VICReg checkpoint: it starts with %q, want %q", start, Magic+" ")
	}
	magic, err := readLine(r, "magic")
	if err != nil {
		return nil, 0, err
	}
	var version int
	word, verStr, found := bytes.Cut([]byte(magic), []byte(" "))
	if !found || string(word) != Magic {
		return nil, 0, corruptf("not a VICReg checkpoint: first line is %q, want %q", magic, fmt.Sprintf("%s %d", Magic, Version))
	}
	if version, err = strconv.Atoi(string(verStr)); err != nil || version < 0 {
		return nil, 0, corruptf("bad format version %q", verStr)
	}
	if version != Version {
		return nil, 0, fmt.Errorf("unsupported checkpoint format version %d (this program reads version %d)", version, Version)
	}
	hline, err := readLine(r, "header length")
	if err != nil {
		return nil, 0, err
	}
	lenStr, found := bytes.CutPrefix([]byte(hline), []byte("header "))
	if !found {
		return nil, 0, corruptf("second line is %q, want \"header <length>\"", hline)
	}
	n, err := strconv.ParseInt(string(lenStr), 10, 64)
	if err != nil || n <= 0 {
		return nil, 0, corruptf("bad header length %q", lenStr)
	}
	consumed := int64(len(magic) + 1 + len(hline) + 1)
	if n > maxHeaderBytes || n > size-consumed-sha256.Size {
		return nil, 0, corruptf("header length %d does not fit in a file of %d bytes (truncated?)", n, size)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, 0, corruptf("reading the header: %v", err)
	}
	consumed += n
	var h header
	if err := json.Unmarshal(buf, &h); err != nil {
		return nil, 0, corruptf("header is not valid JSON: %v", err)
	}
	if h.Metrics, err = decodeMetrics(h.RawMetric); err != nil {
		return nil, 0, corruptf("header: %v", err)
	}
	if err := h.validate(size - consumed - sha256.Size); err != nil {
		return nil, 0, err
	}
	return &h, consumed, nil
}

// validate checks the header against itself and against the room left in the file.
func (h *header) validate(room int64) error {
	if h.DataBytes != room {
		return corruptf("header announces %d bytes of tensor data but the file holds %d (truncated or extended?)", h.DataBytes, room)
	}
	if _, err := time.Parse(time.RFC3339Nano, h.Time); err != nil {
		return corruptf("header has a bad time %q", h.Time)
	}
	seen := make(map[string]bool, len(h.Tensors))
	var offset int64
	for i, t := range h.Tensors {
		k := key(t.Scope, t.Name)
		if t.Name == "" {
			return corruptf("tensor #%d has an empty name", i)
		}
		if seen[k] {
			return corruptf("tensor %q appears twice", k)
		}
		seen[k] = true
		dt, ok := dtypeByName[t.DType]
		if !ok {
			return corruptf("tensor %q has unknown dtype %q", k, t.DType)
		}
		n, err := tensorBytes(dt, t.Shape)
		if err != nil {
			return corruptf("tensor %q: %v", k, err)
		}
		if n != t.Bytes {
			return corruptf("tensor %q: %s%v needs %d bytes, header says %d", k, t.DType, t.Shape, n, t.Bytes)
		}
		if t.Offset != offset {
			return corruptf("tensor %q at offset %d, want %d (tensors must be contiguous)", k, t.Offset, offset)
		}
		if n > h.DataBytes-offset {
			return corruptf("tensor %q (%d bytes at offset %d) runs past the data (%d bytes)", k, n, offset, h.DataBytes)
		}
		offset += n
	}
	if offset != h.DataBytes {
		return corruptf("tensors hold %d bytes, header announces %d", offset, h.DataBytes)
	}
	return nil
}

// decode reads a checkpoint of the given total size from r and verifies it.
func decode(r io.Reader, size int64) (s *State, err error) {
	minSize := int64(len(Magic)+len(" 1\nheader 1\n")) + 2 + sha256.Size
	if size < minSize {
		return nil, corruptf("file has %d bytes, fewer than the smallest checkpoint (%d; truncated?)", size, minSize)
	}
	sum := sha256.New()
	body := io.TeeReader(io.LimitReader(r, size-sha256.Size), sum)
	br := bufio.NewReaderSize(body, int(min(size, 1<<20)))
	h, _, err := readHeader(br, size)
	if err != nil {
		return nil, err
	}
	t, _ := time.Parse(time.RFC3339Nano, h.Time)
	state := &State{
		Step: h.Step, Epoch: h.Epoch, Time: t,
		Config: h.Config, Data: h.Data, Metrics: h.Metrics,
		Variables: make([]Variable, 0, len(h.Tensors)),
	}
	defer func() {
		if err != nil {
			state.Free() // Never hand out a partially read or unverified state.
			s = nil
		}
	}()
	for _, e := range h.Tensors {
		dt := dtypeByName[e.DType]
		value := tensors.FromShape(shapes.Make(dt, e.Shape...))
		state.Variables = append(state.Variables, Variable{Scope: e.Scope, Name: e.Name, Trainable: e.Trainable, Value: value})
		if e.Bytes == 0 {
			continue
		}
		var readErr error
		accessErr := value.MutableBytes(func(data []byte) {
			if _, readErr = io.ReadFull(br, data); readErr != nil {
				return
			}
			if dt == dtypes.Bool {
				for _, b := range data {
					if b > 1 {
						readErr = corruptf("tensor %q holds the byte %d, not a bool", key(e.Scope, e.Name), b)
						clear(data)
						return
					}
				}
			}
			if !hostIsLittleEndian {
				swapElementBytes(data, scalarUnit(dt))
			}
		})
		if accessErr != nil {
			return nil, accessErr
		}
		if readErr != nil {
			if errors.Is(readErr, ErrCorrupt) {
				return nil, readErr
			}
			return nil, corruptf("reading tensor %q: %v", key(e.Scope, e.Name), readErr)
		}
	}
	// Every byte before the checksum must have gone through the hash.
	if n, _ := io.Copy(io.Discard, br); n != 0 {
		return nil, corruptf("%d unexpected bytes after the tensor data", n)
	}
	var stored [sha256.Size]byte
	if _, err := io.ReadFull(r, stored[:]); err != nil {
		return nil, corruptf("reading the checksum: %v (truncated?)", err)
	}
	var extra [1]byte
	if n, _ := r.Read(extra[:]); n != 0 {
		return nil, corruptf("file is longer than its size when opened (being written?)")
	}
	if !bytes.Equal(stored[:], sum.Sum(nil)) {
		return nil, corruptf("SHA-256 checksum mismatch: the file is damaged")
	}
	return state, nil
}
