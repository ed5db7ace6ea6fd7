package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rawFile assembles a safetensors file by hand (independently of Write): the header JSON as given,
// then the data bytes.
func rawFile(header string, data []byte) []byte {
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, uint64(len(header)))
	buf.WriteString(header)
	buf.Write(data)
	return buf.Bytes()
}

func le16(vs ...uint16) []byte {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

func TestParseHandWritten(t *testing.T) {
	// F16: 0x3C00 = 1, 0xC000 = -2, 0x3800 = 0.5; BF16: 0x3F80 = 1, 0xC040 = -3;
	// I64: 7, -1; F64: 0.1.
	var data []byte
	data = append(data, le16(0x3C00, 0xC000, 0x3800)...)          // [0, 6)
	data = append(data, le16(0x3F80, 0xC040)...)                  // [6, 10)
	data = binary.LittleEndian.AppendUint64(data, 7)              // [10, 18)
	data = binary.LittleEndian.AppendUint64(data, math.MaxUint64) // [18, 26) = -1
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(0.1))
	header := `{"__metadata__":{"format":"pt"},` +
		`"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},` +
		`"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[6,10]},` +
		`"n":{"dtype":"I64","shape":[2],"data_offsets":[10,26]},` +
		`"d":{"dtype":"F64","shape":[],"data_offsets":[26,34]}}`
	f, err := Parse(rawFile(header, data))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Metadata["format"]; got != "pt" {
		t.Errorf("metadata format = %q, want pt", got)
	}
	if got, want := f.Names(), []string{"b", "d", "h", "n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	tests := []struct {
		name string
		want []float64
	}{
		{"h", []float64{1, -2, 0.5}},
		{"b", []float64{1, -3}},
		{"d", []float64{0.1}},
	}
	for _, tc := range tests {
		got, err := f.Tensors[tc.name].Float64s()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	ints, err := f.Tensors["n"].Int64s()
	if err != nil || !reflect.DeepEqual(ints, []int64{7, -1}) {
		t.Errorf("n = %v (%v), want [7 -1]", ints, err)
	}
	if _, err := f.Tensors["n"].Float32s(); err == nil {
		t.Error("Float32s of an I64 tensor: want an error")
	}
}

func TestRoundTrip(t *testing.T) {
	in := &File{
		Tensors: map[string]Tensor{
			"conv1.weight":            FromFloat32([]int{2, 1, 1, 3}, []float32{1, 2, 3, 4, 5, -6.5}),
			"bn1.num_batches_tracked": FromInt64([]int{}, []int64{42}),
			"x":                       FromFloat64([]int{2}, []float64{math.Pi, -1e-300}),
			"empty":                   FromFloat32([]int{0, 3}, nil),
		},
		Metadata: map[string]string{"arch": "resnet18"},
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteFile(path, in); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(raw); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	out, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.Metadata, out.Metadata) {
		t.Errorf("metadata = %v, want %v", out.Metadata, in.Metadata)
	}
	for name, want := range in.Tensors {
		got := out.Tensors[name]
		if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("%s: got %s %v %v, want %s %v %v", name, got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Data)
		}
	}
}

func TestParseErrors(t *testing.T) {
	eight := make([]byte, 8)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"truncated header", rawFile(`{"a":1}`, nil)[:10], "exceeds"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40), "limit"},
		{"bad json", rawFile(`{"a":`, nil), "JSON"},
		{"bad dtype", rawFile(`{"w":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}`, eight), `"w": unsupported dtype "Q8"`},
		{"missing shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, eight), `"w": missing shape`},
		{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, eight), `"w": invalid shape`},
		{"three offsets", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, eight), "2 values"},
		{"out of range", rawFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eight), "outside"},
		{"size mismatch", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, eight), "needs 4 bytes"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "overlap"},
		{"bad metadata", rawFile(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope.safetensors"))
	if err == nil || !strings.Contains(err.Error(), "nope.safetensors") {
		t.Errorf("error = %v, want one naming the file", err)
	}
}

// FuzzParse checks that Parse never panics, and that whatever it accepts survives a Write/Parse
// round trip unchanged.
func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	_ = Write(&buf, &File{Tensors: map[string]Tensor{
		"a": FromFloat32([]int{2}, []float32{1, 2}),
		"b": FromInt64([]int{1}, []int64{3}),
	}, Metadata: map[string]string{"k": "v"}})
	f.Add(buf.Bytes())
	f.Add(rawFile(`{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, []byte{0, 0x3c}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			tensor := file.Tensors[name]
			if tensor.DType == I64 || tensor.DType == I32 {
				if _, err := tensor.Int64s(); err != nil {
					t.Fatalf("accepted tensor %q does not decode: %v", name, err)
				}
			} else if _, err := tensor.Float32s(); err != nil {
				t.Fatalf("accepted tensor %q does not decode: %v", name, err)
			}
		}
		var out bytes.Buffer
		if err := Write(&out, file); err != nil {
			t.Fatalf("re-writing an accepted file: %v", err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("re-reading a written file: %v", err)
		}
		for _, name := range file.Names() {
			a, b := file.Tensors[name], again.Tensors[name]
			if a.DType != b.DType || !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("tensor %q changed in the round trip", name)
			}
		}
	})
}
