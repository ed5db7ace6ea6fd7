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
		{"not an object", rawFile(`["a"]`, nil), "does not start with '{'"},
		{"leading space", rawFile(` {}`, nil), "does not start with '{'"},
		{"bad json", rawFile(`{"a":`, nil), "JSON"},
		{"trailing garbage", rawFile(`{}x`, nil), "after the header object"},
		{"not utf-8", rawFile("{\"\xff\":{}}", nil), "UTF-8"},
		{"bad dtype", rawFile(`{"w":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}`, eight), `"w": unsupported dtype "Q8"`},
		{"missing shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, eight), `"w": missing shape`},
		{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, eight), `"w": invalid shape`},
		{"huge dims", rawFile(`{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}`, eight), `"w": invalid shape`},
		{"rank 65", rawFile(`{"w":{"dtype":"U8","shape":[`+strings.Repeat("1,", 64)+`1],"data_offsets":[0,1]}}`, eight[:1]), "rank 65 exceeds"},
		{"three offsets", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, eight), "2 values"},
		{"reversed offsets", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, eight), "invalid data_offsets"},
		{"out of range", rawFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eight), "tensors hold 16 bytes but 8 follow"},
		{"trailing data", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eight), "tensors hold 4 bytes but 8 follow"},
		{"size mismatch", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, eight), "needs 4 bytes"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "overlaps"},
		{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[1],"data_offsets":[7,8]}}`, eight), "must be contiguous"},
		{"not at zero", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "must be contiguous"},
		{"duplicate tensor", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `"a" appears twice`},
		{"bad metadata", rawFile(`{"__metadata__":{"a":1}}`, nil), "want a string"},
		{"metadata not an object", rawFile(`{"__metadata__":"x"}`, nil), "__metadata__"},
		{"duplicate metadata", rawFile(`{"__metadata__":{"a":"1","a":"2"}}`, nil), `"a" appears twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Negative control: the same shapes of file, made valid, parse.
	for _, ok := range [][]byte{
		rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight),
		rawFile(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   `, eight),
		rawFile(`{"__metadata__":null}`, nil),
		rawFile(`{"w":{"dtype":"U8","shape":[`+strings.Repeat("1,", 63)+`1],"data_offsets":[0,1]}}`, eight[:1]),
	} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse of a valid file: %v", err)
		}
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
		// Every accepted tensor decodes through the conversion its dtype has; the dtypes with
		// none (BOOL, U64, C64) are refused by both, with an error naming the dtype.
		for _, name := range file.Names() {
			tensor := file.Tensors[name]
			_, ferr := tensor.Float32s()
			_, ierr := tensor.Int64s()
			switch tensor.DType {
			case F32, F64, F16, BF16:
				if ferr != nil {
					t.Fatalf("accepted tensor %q does not decode: %v", name, ferr)
				}
			case I64, I32, I16, I8, U32, U16, U8:
				if ierr != nil {
					t.Fatalf("accepted tensor %q does not decode: %v", name, ierr)
				}
			default:
				if ferr == nil || ierr == nil || !strings.Contains(ferr.Error(), string(tensor.DType)) {
					t.Fatalf("%s tensor %q: float32 conversion %v, int64 conversion %v; want both refused, naming the dtype", tensor.DType, name, ferr, ierr)
				}
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

// TestWriteExactBytes compares Write's output with a file assembled by hand from the format's
// description: sorted keys, contiguous data in name order, header padded with spaces to a
// multiple of 8, metadata as strings.
func TestWriteExactBytes(t *testing.T) {
	f := &File{
		Tensors: map[string]Tensor{
			"b": {DType: U8, Shape: []int{3}, Data: []byte{1, 2, 3}},
			"a": {DType: I16, Shape: []int{}, Data: []byte{0xfe, 0xff}},
		},
		Metadata: map[string]string{"k": "<v>"},
	}
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	header := `{"__metadata__":{"k":"<v>"},"a":{"dtype":"I16","shape":[],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[3],"data_offsets":[2,5]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	want := rawFile(header, []byte{0xfe, 0xff, 1, 2, 3})
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("Write produced\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

// TestEveryDTypeStreams writes one tensor of each dtype through Layout and Encode in a chosen
// (not sorted) order and reads it back with ReadHeader: the order, dtypes, shapes and offsets
// survive, and each dtype has its documented element size.
func TestEveryDTypeStreams(t *testing.T) {
	sizes := map[DType]int{BOOL: 1, U8: 1, I8: 1, U16: 2, I16: 2, F16: 2, BF16: 2, U32: 4, I32: 4, F32: 4, U64: 8, I64: 8, F64: 8, C64: 8}
	var infos []Info
	for _, dt := range []DType{F64, BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, C64} {
		if dt.Size() != sizes[dt] {
			t.Errorf("%s.Size() = %d, want %d", dt, dt.Size(), sizes[dt])
		}
		infos = append(infos, Info{Name: "z_" + string(dt), DType: dt, Shape: []int{2, 3}})
	}
	infos = append(infos, Info{Name: "scalar", DType: F32}, Info{Name: "empty", DType: F32, Shape: []int{0, 5}})
	h, err := Layout(map[string]string{"x": "y"}, infos)
	if err != nil {
		t.Fatal(err)
	}
	head, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	for i := range h.DataSize() {
		data = append(data, byte(i))
	}
	file := append(head, data...)
	got, err := ReadHeader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Len != h.Len || got.Len%8 != 0 || !reflect.DeepEqual(got.Metadata, h.Metadata) {
		t.Errorf("header length %d (want %d, a multiple of 8), metadata %v", got.Len, h.Len, got.Metadata)
	}
	var offset int64
	for i, want := range infos {
		g := got.Tensors[i]
		n := int64(sizes[want.DType] * 6)
		if want.Shape == nil {
			n, want.Shape = 4, []int{}
		} else if want.Name == "empty" {
			n = 0
		}
		if g.Name != want.Name || g.DType != want.DType || !reflect.DeepEqual(g.Shape, want.Shape) || g.Begin != offset || g.End != offset+n {
			t.Errorf("tensor #%d: got %+v, want %s %s %v at [%d, %d)", i, g, want.Name, want.DType, want.Shape, offset, offset+n)
		}
		offset += n
	}
	parsed, err := Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	if d := parsed.Tensors["z_I8"].Data; !bytes.Equal(d, data[got.Tensors[3].Begin:got.Tensors[3].End]) {
		t.Errorf("I8 data %v", d)
	}
	if _, err := Layout(nil, []Info{{Name: "a", DType: F32}, {Name: "a", DType: F32}}); err == nil || !strings.Contains(err.Error(), `"a" appears twice`) {
		t.Errorf("duplicate names: %v", err)
	}
	if _, err := Layout(nil, []Info{{Name: MetadataKey, DType: F32}}); err == nil {
		t.Error("a tensor named __metadata__ was accepted")
	}
}

func TestInt64sEveryIntegerType(t *testing.T) {
	tests := []struct {
		dt   DType
		data []byte
		want []int64
	}{
		{I8, []byte{0x80, 0x7f}, []int64{-128, 127}},
		{U8, []byte{0xff, 1}, []int64{255, 1}},
		{I16, le16(0x8000, 1), []int64{-32768, 1}},
		{U16, le16(0xffff, 2), []int64{65535, 2}},
		{I32, binary.LittleEndian.AppendUint32(nil, 0xffffffff), []int64{-1}},
		{U32, binary.LittleEndian.AppendUint32(nil, 0xffffffff), []int64{4294967295}},
	}
	for _, tc := range tests {
		got, err := Tensor{DType: tc.dt, Shape: []int{len(tc.want)}, Data: tc.data}.Int64s()
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.dt, got, err, tc.want)
		}
	}
	if _, err := (Tensor{DType: U64, Shape: []int{1}, Data: make([]byte, 8)}).Int64s(); err == nil {
		t.Error("U64 converted to int64: want an error (values above MaxInt64 do not fit)")
	}
}
