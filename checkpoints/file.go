package checkpoints

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/checkpoints/safetensors"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

const (
	// FormatName is the value of the "format" metadata key of every checkpoint.
	FormatName = "vicreg-checkpoint"
	// Version is the checkpoint format version this package writes and reads (version 1 was the
	// .vckpt container; see ErrOldFormat).
	Version = 2
	// Ext is the file extension of checkpoints.
	Ext = ".safetensors"
	// OldExt is the extension of checkpoints in the format of version 1.
	OldExt = ".vckpt"
	// ConvertCommand converts version-1 files (append the files or folders).
	ConvertCommand = "go run ./checkpoints/convert-vckpt"

	// oldMagic starts every version-1 file.
	oldMagic = "vicreg-checkpoint 1\n"
	// digestPrefix starts the canonical serialisation the checksum is computed over.
	digestPrefix = "vicreg-checkpoint-sha256 2\n"
)

// The metadata keys of a checkpoint (all values are strings, as safetensors requires).
const (
	metaFormat    = "format"         // FormatName
	metaVersion   = "format_version" // Version, in decimal
	metaStep      = "step"           // decimal
	metaEpoch     = "epoch"          // decimal
	metaTime      = "time"           // RFC 3339 with nanoseconds, UTC
	metaConfig    = "config"         // compact JSON; absent when empty
	metaData      = "data"           // compact JSON; absent when empty
	metaMetrics   = "metrics"        // JSON object; NaN and ±Inf as "NaN", "+Inf", "-Inf"; absent when empty
	metaTrainable = "trainable"      // JSON array of the keys of the trainable variables
	metaSHA256    = "sha256"         // lowercase hex SHA-256 of the canonical serialisation
)

// ErrCorrupt is wrapped by every error that reports a damaged or foreign file.
var ErrCorrupt = errors.New("corrupt checkpoint")

// ErrOldFormat is wrapped by the errors about checkpoints in the format of version 1 (.vckpt
// files), which this package no longer reads: ConvertCommand converts them.
var ErrOldFormat = errors.New("checkpoint in the old .vckpt format")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// dtypeNames maps the GoMLX dtypes checkpoints hold to safetensors dtypes.
var dtypeNames = map[dtypes.DType]safetensors.DType{
	dtypes.Bool:      safetensors.BOOL,
	dtypes.Int8:      safetensors.I8,
	dtypes.Int16:     safetensors.I16,
	dtypes.Int32:     safetensors.I32,
	dtypes.Int64:     safetensors.I64,
	dtypes.Uint8:     safetensors.U8,
	dtypes.Uint16:    safetensors.U16,
	dtypes.Uint32:    safetensors.U32,
	dtypes.Uint64:    safetensors.U64,
	dtypes.Float16:   safetensors.F16,
	dtypes.BFloat16:  safetensors.BF16,
	dtypes.Float32:   safetensors.F32,
	dtypes.Float64:   safetensors.F64,
	dtypes.Complex64: safetensors.C64,
}

var dtypeByName = func() map[safetensors.DType]dtypes.DType {
	m := make(map[safetensors.DType]dtypes.DType, len(dtypeNames))
	for dt, name := range dtypeNames {
		m[name] = dt
	}
	return m
}()

// encodeMetrics turns metrics into JSON, writing non-finite numbers as strings.
func encodeMetrics(m map[string]float64) ([]byte, error) {
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
	return json.Marshal(out)
}

// decodeMetrics is the inverse of encodeMetrics.
func decodeMetrics(js string) (map[string]float64, error) {
	var raw map[string]any
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		return nil, err
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

// compactJSON returns raw compacted, or "" when raw is empty.
func compactJSON(what string, raw json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", fmt.Errorf("State.%s is not valid JSON: %w", what, err)
	}
	return buf.String(), nil
}

// hostIsLittleEndian reports whether tensors' in-memory bytes are already little-endian.
var hostIsLittleEndian = func() bool {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	return b[0] == 1
}()

// swapElementBytes reverses the byte order of each element of data in place (a no-op for 1-byte
// elements). For complex numbers, elemSize is the size of one part.
func swapElementBytes(data []byte, elemSize int) {
	for i := 0; elemSize > 1 && i+elemSize <= len(data); i += elemSize {
		slices.Reverse(data[i : i+elemSize])
	}
}

// scalarUnit is the size in bytes of the unit whose byte order must be swapped.
func scalarUnit(dt dtypes.DType) int {
	if dt.IsComplex() {
		return dt.Size() / 2
	}
	return dt.Size()
}

// withLEBytes calls fn with the little-endian bytes of t (nothing for an empty tensor).
func withLEBytes(t *tensors.Tensor, fn func([]byte)) error {
	if t.Size() == 0 {
		fn(nil)
		return nil
	}
	return t.ConstBytes(func(data []byte) {
		if !hostIsLittleEndian {
			data = slices.Clone(data)
			swapElementBytes(data, scalarUnit(t.DType()))
		}
		fn(data)
	})
}

// tensorSums returns the SHA-256 of each tensor's little-endian bytes, hashing on every CPU.
func tensorSums(values []*tensors.Tensor) ([][sha256.Size]byte, error) {
	sums := make([][sha256.Size]byte, len(values))
	errs := make([]error, len(values))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(values), 1)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = withLEBytes(values[i], func(b []byte) { sums[i] = sha256.Sum256(b) })
			}
		})
	}
	for i := range values {
		next <- i
	}
	close(next)
	wg.Wait()
	return sums, errors.Join(errs...)
}

// digest returns the checksum of a checkpoint: the SHA-256 of the canonical serialisation of its
// header (see the package documentation) given the SHA-256 of each tensor's data.
func digest(tensorInfos []safetensors.Info, sums [][sha256.Size]byte, meta map[string]string) string {
	type line struct {
		name string
		text string
	}
	lines := make([]line, len(tensorInfos))
	for i, t := range tensorInfos {
		dims := make([]string, len(t.Shape))
		for j, d := range t.Shape {
			dims[j] = strconv.Itoa(d)
		}
		lines[i] = line{t.Name, fmt.Sprintf("tensor %d:%s %s [%s] %d %d %x\n",
			len(t.Name), t.Name, t.DType, strings.Join(dims, ","), t.Begin, t.End, sums[i])}
	}
	slices.SortFunc(lines, func(a, b line) int { return strings.Compare(a.name, b.name) })
	h := sha256.New()
	h.Write([]byte(digestPrefix))
	for _, l := range lines {
		h.Write([]byte(l.text))
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k != metaSHA256 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "meta %d:%s %d:%s\n", len(k), k, len(meta[k]), meta[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// buildHeader checks s and lays it out as a safetensors header with its checksum.
func buildHeader(s *State) (*safetensors.Header, error) {
	t := s.Time
	if t.IsZero() {
		t = time.Now()
	}
	meta := map[string]string{
		metaFormat:  FormatName,
		metaVersion: strconv.Itoa(Version),
		metaStep:    strconv.FormatInt(s.Step, 10),
		metaEpoch:   strconv.Itoa(s.Epoch),
		metaTime:    t.UTC().Format(time.RFC3339Nano),
	}
	for _, f := range []struct {
		key, what string
		raw       json.RawMessage
	}{{metaConfig, "Config", s.Config}, {metaData, "Data", s.Data}} {
		js, err := compactJSON(f.what, f.raw)
		if err != nil {
			return nil, err
		}
		if js != "" {
			meta[f.key] = js
		}
	}
	if len(s.Metrics) > 0 {
		js, err := encodeMetrics(s.Metrics)
		if err != nil {
			return nil, fmt.Errorf("encoding the metrics: %w", err)
		}
		meta[metaMetrics] = string(js)
	}
	infos := make([]safetensors.Info, len(s.Variables))
	values := make([]*tensors.Tensor, len(s.Variables))
	trainable := []string{}
	seen := make(map[string]bool, len(s.Variables))
	for i, v := range s.Variables {
		k := v.Key()
		if err := checkKey(v.Scope, v.Name); err != nil {
			return nil, fmt.Errorf("variable #%d (%q): %w", i, k, err)
		}
		if seen[k] {
			return nil, fmt.Errorf("variable %q appears twice", k)
		}
		seen[k] = true
		if v.Value == nil {
			return nil, fmt.Errorf("variable %q has no value", k)
		}
		shape := v.Value.Shape()
		dt, ok := dtypeNames[shape.DType]
		if !ok {
			return nil, fmt.Errorf("variable %q has dtype %s, which safetensors files cannot hold (convert it to one of %s)", k, shape.DType, supportedDTypes())
		}
		infos[i] = safetensors.Info{Name: k, DType: dt, Shape: shape.Dimensions}
		values[i] = v.Value
		if v.Trainable {
			trainable = append(trainable, k)
		}
	}
	js, _ := json.Marshal(trainable)
	meta[metaTrainable] = string(js)
	h, err := safetensors.Layout(meta, infos)
	if err != nil {
		return nil, err
	}
	sums, err := tensorSums(values)
	if err != nil {
		return nil, fmt.Errorf("reading the variables' values: %w", err)
	}
	meta[metaSHA256] = digest(h.Tensors, sums, meta)
	return safetensors.Layout(meta, infos) // The offsets do not depend on the metadata.
}

func supportedDTypes() string {
	var names []string
	for dt := range dtypeNames {
		names = append(names, dt.String())
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// encode writes s as a checkpoint file to w.
func encode(w io.Writer, s *State) error {
	h, err := buildHeader(s)
	if err != nil {
		return err
	}
	head, err := h.Encode()
	if err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	for _, v := range s.Variables {
		var writeErr error
		if err := withLEBytes(v.Value, func(b []byte) { _, writeErr = w.Write(b) }); err != nil {
			return fmt.Errorf("reading the value of variable %q: %w", v.Key(), err)
		}
		if writeErr != nil {
			return writeErr
		}
	}
	return nil
}

// Save writes s to path as a safetensors file, atomically (through internal/atomicfile: a
// temporary file in the same folder, fsynced, renamed over path, folder fsynced). On any error the
// temporary file is removed and an existing file at path is left untouched.
func Save(path string, s *State) error {
	if s == nil {
		return fmt.Errorf("saving checkpoint %s: nil state", path)
	}
	if err := atomicfile.Write(path, 0, func(w io.Writer) error { return encode(w, s) }); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	return nil
}

// Load reads and verifies the checkpoint at path. Any problem (missing file, a file of another
// kind or format version, truncation, checksum mismatch, inconsistent header) is an error naming
// the file; no partial state is ever returned. A file in the old .vckpt format gives an error
// wrapping ErrOldFormat that names the conversion command.
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
	if errors.Is(err, ErrOldFormat) {
		return nil, fmt.Errorf("loading checkpoint %s: %w (version 1), which this program no longer reads: convert it with\n  %s %s\n(it writes %s beside it and keeps the old file)",
			path, err, ConvertCommand, path, strings.TrimSuffix(path, OldExt)+Ext)
	}
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	return s, nil
}

// readHeader reads and checks the header of a checkpoint of the given total size: a safetensors
// header whose metadata names this format and version and carries a checksum. The data is not
// read.
func readHeader(r *bufio.Reader, size int64) (*safetensors.Header, error) {
	start, _ := r.Peek(len(oldMagic))
	if string(start) == oldMagic {
		return nil, ErrOldFormat
	}
	if !safetensors.IsSafetensors(start) {
		return nil, corruptf("not a VICReg checkpoint (not a safetensors file): it starts with %q", start)
	}
	h, err := safetensors.ReadHeader(r, size)
	if err != nil {
		return nil, corruptf("%v", err)
	}
	switch format := h.Metadata[metaFormat]; {
	case format != FormatName:
		return nil, corruptf("not a VICReg checkpoint: a safetensors file whose metadata has format %q, want %q (an exported encoder or another program's weights?)", format, FormatName)
	case h.Metadata[metaVersion] != strconv.Itoa(Version):
		return nil, fmt.Errorf("unsupported checkpoint format version %q (this program reads version %d)", h.Metadata[metaVersion], Version)
	}
	if sum := h.Metadata[metaSHA256]; len(sum) != 2*sha256.Size || strings.ToLower(sum) != sum {
		return nil, corruptf("the metadata has no valid %q checksum (got %q)", metaSHA256, sum)
	} else if _, err := hex.DecodeString(sum); err != nil {
		return nil, corruptf("the metadata has no valid %q checksum (got %q)", metaSHA256, sum)
	}
	return h, nil
}

// headerMetrics decodes the metrics of a header (nil when absent).
func headerMetrics(h *safetensors.Header) (map[string]float64, error) {
	js, ok := h.Metadata[metaMetrics]
	if !ok {
		return nil, nil
	}
	m, err := decodeMetrics(js)
	if err != nil {
		return nil, corruptf("metadata %q: %v", metaMetrics, err)
	}
	return m, nil
}

// decode reads a checkpoint of the given total size from r and verifies it.
func decode(r io.Reader, size int64) (s *State, err error) {
	br := bufio.NewReaderSize(r, int(min(max(size, 16), 1<<20)))
	h, err := readHeader(br, size)
	if err != nil {
		return nil, err
	}
	state := &State{Variables: make([]Variable, 0, len(h.Tensors))}
	defer func() {
		if err != nil {
			state.Free() // Never hand out a partially read or unverified state.
			s = nil
		}
	}()
	values := make([]*tensors.Tensor, len(h.Tensors))
	for i, t := range h.Tensors {
		scope, name, ok := splitKey(t.Name)
		if !ok {
			return nil, corruptf("tensor name %q is not a variable key (\"/scope/name\")", t.Name)
		}
		dt := dtypeByName[t.DType]
		if dt == dtypes.InvalidDType {
			return nil, corruptf("tensor %q has dtype %s, which checkpoints do not use", t.Name, t.DType)
		}
		value := tensors.FromShape(shapes.Make(dt, t.Shape...))
		values[i] = value
		state.Variables = append(state.Variables, Variable{Scope: scope, Name: name, Value: value})
		if t.End == t.Begin {
			continue
		}
		var readErr error
		if err := value.MutableBytes(func(data []byte) {
			if _, readErr = io.ReadFull(br, data); readErr != nil {
				return
			}
			if !hostIsLittleEndian {
				swapElementBytes(data, scalarUnit(dt))
			}
		}); err != nil {
			return nil, err
		}
		if readErr != nil {
			return nil, corruptf("reading tensor %q: %v (truncated?)", t.Name, readErr)
		}
	}
	var extra [1]byte
	if n, _ := br.Read(extra[:]); n != 0 {
		return nil, corruptf("file is longer than its size when opened (being written?)")
	}
	sums, err := tensorSums(values)
	if err != nil {
		return nil, err
	}
	if got := digest(h.Tensors, sums, h.Metadata); got != h.Metadata[metaSHA256] {
		return nil, corruptf("SHA-256 checksum mismatch: the file is damaged")
	}
	// The checksum matches: the metadata is what Save wrote; check it all the same.
	if err := decodeMeta(h, state); err != nil {
		return nil, err
	}
	for i, v := range state.Variables {
		if v.Value.DType() == dtypes.Bool && v.Value.Size() > 0 {
			var bad byte
			_ = v.Value.ConstBytes(func(b []byte) {
				for _, x := range b {
					bad |= x &^ 1
				}
			})
			if bad != 0 {
				return nil, corruptf("tensor %q holds bytes other than 0 and 1, not bools", h.Tensors[i].Name)
			}
		}
	}
	return state, nil
}

// decodeMeta fills the fields of state from the metadata of h.
func decodeMeta(h *safetensors.Header, state *State) error {
	m := h.Metadata
	var err error
	if state.Step, err = strconv.ParseInt(m[metaStep], 10, 64); err != nil {
		return corruptf("metadata %q is %q, want an integer", metaStep, m[metaStep])
	}
	if state.Epoch, err = strconv.Atoi(m[metaEpoch]); err != nil {
		return corruptf("metadata %q is %q, want an integer", metaEpoch, m[metaEpoch])
	}
	if state.Time, err = time.Parse(time.RFC3339Nano, m[metaTime]); err != nil {
		return corruptf("metadata %q is %q, want an RFC 3339 time", metaTime, m[metaTime])
	}
	for _, f := range []struct {
		key string
		dst *json.RawMessage
	}{{metaConfig, &state.Config}, {metaData, &state.Data}} {
		if js, ok := m[f.key]; ok {
			if !json.Valid([]byte(js)) {
				return corruptf("metadata %q is not valid JSON", f.key)
			}
			*f.dst = json.RawMessage(js)
		}
	}
	if state.Metrics, err = headerMetrics(h); err != nil {
		return err
	}
	var trainable []string
	if err := json.Unmarshal([]byte(m[metaTrainable]), &trainable); err != nil || trainable == nil {
		return corruptf("metadata %q is %q, want a JSON array of variable keys", metaTrainable, m[metaTrainable])
	}
	index := make(map[string]int, len(state.Variables))
	for i, v := range state.Variables {
		index[v.Key()] = i
	}
	for _, k := range trainable {
		i, ok := index[k]
		if !ok {
			return corruptf("metadata %q names %q, which is not a tensor of the file", metaTrainable, k)
		}
		state.Variables[i].Trainable = true
	}
	return nil
}
