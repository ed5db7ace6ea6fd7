// Command convert-vckpt converts checkpoints of the old .vckpt format (checkpoint format version
// 1, files starting with "vicreg-checkpoint 1") into the current one, safetensors files:
//
//	go run ./checkpoints/convert-vckpt FILE_OR_DIR...
//
// Each FILE.vckpt (or every *.vckpt file of a folder DIR, not recursively) is read, its SHA-256
// checksum verified, and written as FILE.safetensors beside it with the same variables, step,
// epoch, time, configuration, data position and metrics; the new file is then loaded back and
// compared bit for bit. The old files are kept. A file that already has its .safetensors twin is
// skipped when the twin loads.
//
// Exit status: 0 when every file was converted (or already was), 1 when one could not be (the
// others are still converted), 2 on a usage error.
//
// The version-1 reader lives only here, read-only: the toolkit itself reads the current format.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/checkpoints"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run converts the files and folders named by args and returns the exit status.
func run(args []string, stderr io.Writer) int {
	logger := log.New(stderr)
	if len(args) == 0 || slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") }) {
		fmt.Fprintf(stderr, "usage: go run ./checkpoints/convert-vckpt FILE_OR_DIR...\n\nConverts .vckpt checkpoints (format version 1) into .safetensors files beside them; the old files are kept.\n")
		return 2
	}
	var files []string
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			fmt.Fprintf(stderr, "convert-vckpt: %v\n", err)
			return 2
		}
		if !info.IsDir() {
			files = append(files, arg)
			continue
		}
		found, _ := filepath.Glob(filepath.Join(arg, "*"+checkpoints.OldExt))
		if len(found) == 0 {
			logger.Warn("no .vckpt file in the folder", "dir", arg)
		}
		files = append(files, found...)
	}
	failed := 0
	for _, path := range files {
		target := strings.TrimSuffix(path, checkpoints.OldExt) + checkpoints.Ext
		done, err := convert(path, target)
		switch {
		case err != nil:
			failed++
			logger.Error("not converted", "file", path, "err", err)
		case done:
			logger.Info("converted", "file", path, "to", target)
		default:
			logger.Info("already converted (the old file is kept)", "file", path, "to", target)
		}
	}
	if failed > 0 {
		logger.Error("some files were not converted", "failed", failed, "of", len(files))
		return 1
	}
	return 0
}

// convert writes the checkpoint of version 1 at path as target. done is false when target
// already exists and loads.
func convert(path, target string) (done bool, err error) {
	if _, err := os.Stat(target); err == nil {
		s, err := checkpoints.Load(target)
		if err != nil {
			return false, fmt.Errorf("%s already exists and does not load (move it away and run again): %w", target, err)
		}
		s.Free()
		return false, nil
	}
	old, err := readV1(path)
	if err != nil {
		return false, err
	}
	defer old.Free()
	if err := checkpoints.Save(target, old); err != nil {
		return false, err
	}
	back, err := checkpoints.Load(target)
	if err != nil {
		return false, fmt.Errorf("the converted file does not load: %w", err)
	}
	defer back.Free()
	if d := differences(old, back); d != "" {
		_ = os.Remove(target)
		return false, fmt.Errorf("the converted file differs from %s (%s); it was removed", path, d)
	}
	return true, nil
}

// v1Header is the JSON header of a version-1 file.
type v1Header struct {
	Step      int64           `json:"step"`
	Epoch     int             `json:"epoch"`
	Time      string          `json:"time"`
	Config    json.RawMessage `json:"config"`
	Data      json.RawMessage `json:"data"`
	Metrics   map[string]any  `json:"metrics"`
	DataBytes int64           `json:"data_bytes"`
	Tensors   []struct {
		Scope     string `json:"scope"`
		Name      string `json:"name"`
		Trainable bool   `json:"trainable"`
		DType     string `json:"dtype"`
		Shape     []int  `json:"shape"`
		Offset    int64  `json:"offset"`
		Bytes     int64  `json:"bytes"`
	} `json:"tensors"`
}

// v1DTypes are the dtype names of version 1 (complex128 has no safetensors dtype: Save refuses it).
var v1DTypes = map[string]dtypes.DType{
	"bool": dtypes.Bool, "int8": dtypes.Int8, "int16": dtypes.Int16, "int32": dtypes.Int32, "int64": dtypes.Int64,
	"uint8": dtypes.Uint8, "uint16": dtypes.Uint16, "uint32": dtypes.Uint32, "uint64": dtypes.Uint64,
	"float16": dtypes.Float16, "bfloat16": dtypes.BFloat16, "float32": dtypes.Float32, "float64": dtypes.Float64,
	"complex64": dtypes.Complex64, "complex128": dtypes.Complex128,
}

// readV1 reads and verifies a file of version 1: "vicreg-checkpoint 1\n", "header <N>\n", N bytes
// of JSON, the tensor data (little-endian, contiguous, in header order), the SHA-256 of all that.
func readV1(path string) (*checkpoints.State, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	const magic = "vicreg-checkpoint 1\n"
	if !bytes.HasPrefix(raw, []byte(magic)) {
		return nil, fmt.Errorf("%s is not a checkpoint of format version 1 (it does not start with %q)", path, magic)
	}
	if len(raw) < len(magic)+sha256.Size {
		return nil, fmt.Errorf("%s is truncated", path)
	}
	body, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, fmt.Errorf("%s is damaged: its SHA-256 checksum does not match (restore it from a copy)", path)
	}
	// The checksum matches: the file is what the version-1 writer wrote; still check the bounds.
	line, rest, ok := bytes.Cut(body[len(magic):], []byte("\n"))
	n, err := strconv.ParseInt(string(bytes.TrimPrefix(line, []byte("header "))), 10, 64)
	if !ok || err != nil || n < 0 || n > int64(len(rest)) {
		return nil, fmt.Errorf("%s: bad header line %q", path, line)
	}
	var h v1Header
	if err := json.Unmarshal(rest[:n], &h); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	data := rest[n:]
	if h.DataBytes != int64(len(data)) {
		return nil, fmt.Errorf("%s: header announces %d bytes of data, the file holds %d", path, h.DataBytes, len(data))
	}
	s := &checkpoints.State{Step: h.Step, Epoch: h.Epoch, Config: h.Config, Data: h.Data}
	if s.Time, err = time.Parse(time.RFC3339Nano, h.Time); err != nil {
		return nil, fmt.Errorf("%s: time %q: %w", path, h.Time, err)
	}
	if s.Metrics, err = v1Metrics(h.Metrics); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var offset int64
	for _, e := range h.Tensors {
		dt, ok := v1DTypes[e.DType]
		if !ok || e.Offset != offset || e.Bytes > int64(len(data))-offset || v1Bytes(dt, e.Shape) != e.Bytes {
			s.Free()
			return nil, fmt.Errorf("%s: tensor %s/%s (%s %v at %d, %d bytes) is inconsistent", path, e.Scope, e.Name, e.DType, e.Shape, e.Offset, e.Bytes)
		}
		value := tensors.FromShape(shapes.Make(dt, e.Shape...))
		if e.Bytes > 0 {
			value.MutableBytes(func(b []byte) { copy(b, data[offset:offset+e.Bytes]) }) // little-endian hosts only, as GoMLX
		}
		s.Variables = append(s.Variables, checkpoints.Variable{Scope: e.Scope, Name: e.Name, Trainable: e.Trainable, Value: value})
		offset += e.Bytes
	}
	return s, nil
}

// v1Bytes is the size of a tensor of the given dtype and shape, or -1 for a rank above 64, a
// negative dimension or an overflow.
func v1Bytes(dt dtypes.DType, shape []int) int64 {
	n := int64(dt.Size())
	if len(shape) > 64 {
		return -1
	}
	for _, d := range shape {
		if d < 0 || d > 0 && n > math.MaxInt64/int64(d) {
			return -1
		}
		n *= int64(d)
	}
	return n
}

// v1Metrics decodes the metrics of version 1: numbers, or "NaN", "+Inf", "-Inf".
func v1Metrics(raw map[string]any) (map[string]float64, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	special := map[string]float64{"NaN": math.NaN(), "+Inf": math.Inf(1), "-Inf": math.Inf(-1)}
	out := make(map[string]float64, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case float64:
			out[k] = x
		case string:
			f, ok := special[x]
			if !ok {
				return nil, fmt.Errorf("metric %q has value %q", k, x)
			}
			out[k] = f
		default:
			return nil, fmt.Errorf("metric %q has a value of type %T", k, v)
		}
	}
	return out, nil
}

// differences compares two states field by field and variable by variable, bit for bit; it
// returns "" when they are equal.
func differences(a, b *checkpoints.State) string {
	metricsEqual := len(a.Metrics) == len(b.Metrics)
	for k, v := range a.Metrics {
		w, ok := b.Metrics[k]
		metricsEqual = metricsEqual && ok && math.Float64bits(v) == math.Float64bits(w)
	}
	switch {
	case a.Step != b.Step || a.Epoch != b.Epoch || !a.Time.Equal(b.Time):
		return "step, epoch or time"
	case !jsonEqual(a.Config, b.Config) || !jsonEqual(a.Data, b.Data):
		return "configuration or data position"
	case !metricsEqual:
		return "metrics"
	case len(a.Variables) != len(b.Variables):
		return "number of variables"
	}
	for i, v := range a.Variables {
		w := b.Variables[i]
		if v.Key() != w.Key() || v.Trainable != w.Trainable || !v.Value.Shape().Equal(w.Value.Shape()) || !bytes.Equal(tensorBytes(v.Value), tensorBytes(w.Value)) {
			return "variable " + v.Key()
		}
	}
	return ""
}

func tensorBytes(t *tensors.Tensor) []byte {
	var out []byte
	if t.Size() > 0 {
		_ = t.ConstBytes(func(b []byte) { out = bytes.Clone(b) })
	}
	return out
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y bytes.Buffer
	if len(a) == 0 || len(b) == 0 {
		return len(bytes.TrimSpace(a)) == len(bytes.TrimSpace(b))
	}
	return json.Compact(&x, a) == nil && json.Compact(&y, b) == nil && bytes.Equal(x.Bytes(), y.Bytes())
}
