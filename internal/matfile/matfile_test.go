package matfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// want is a variable as scipy.io.loadmat read it (testdata/gen.py).
type want struct {
	Name    string
	Class   string
	Logical bool
	Dims    []int
	Numbers []float64
	Text    *string
	Fields  []string
	Elems   [][]want
}

// TestDecodeMatchesScipy reads the files that testdata/gen.py wrote (scipy's writer's, and one put
// together as MATLAB writes: doubles stored as small integers, small data elements, UTF-16
// characters, an unset field) and compares every variable with what scipy.io.loadmat read.
func TestDecodeMatchesScipy(t *testing.T) {
	raw, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]json.RawMessage
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"scipy.mat", "scipy_plain.mat", "matlab.mat"} {
		t.Run(file, func(t *testing.T) {
			var vars []want
			if err := json.Unmarshal(expected[file], &vars); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(vars) {
				t.Fatalf("%d variables, scipy read %d", len(got), len(vars))
			}
			for i, w := range vars {
				if got[i].Name != w.Name {
					t.Errorf("variable %d is %q, scipy read %q", i, got[i].Name, w.Name)
				}
				compare(t, w.Name, got[i], w)
			}
		})
	}
}

func compare(t *testing.T, at string, a *Array, w want) {
	t.Helper()
	if a.Class.String() != w.Class || a.Logical != w.Logical {
		t.Errorf("%s: class %s (logical %v), scipy read %s (logical %v)", at, a.Class, a.Logical, w.Class, w.Logical)
		return
	}
	// A structure's unset field is an empty matrix ([], 0 by 0, as MATLAB reads it), which scipy
	// reads as 1 by 0: both hold nothing.
	if !slices.Equal(a.Dims, w.Dims) && !(a.Len() == 0 && slices.Contains(w.Dims, 0)) {
		t.Errorf("%s: dims %v, scipy read %v", at, a.Dims, w.Dims)
	}
	switch a.Class {
	case Char:
		if w.Text == nil || a.String() != *w.Text {
			t.Errorf("%s: text %q, scipy read %v", at, a.String(), *w.Text)
		}
	case Struct, Cell:
		if !slices.Equal(a.Fields, w.Fields) {
			t.Errorf("%s: fields %q, scipy read %q", at, a.Fields, w.Fields)
		}
		if len(a.Elems) != len(w.Elems) {
			t.Errorf("%s: %d elements, scipy read %d", at, len(a.Elems), len(w.Elems))
			return
		}
		for i := range w.Elems {
			for j := range w.Elems[i] {
				name := "cell"
				if a.Class == Struct {
					name = a.Fields[j]
				}
				compare(t, at+"["+string(rune('0'+i))+"]."+name, a.Elems[i][j], w.Elems[i][j])
			}
		}
	default:
		if !slices.Equal(a.Numbers, w.Numbers) && !(len(a.Numbers) == 0 && len(w.Numbers) == 0) {
			t.Errorf("%s: numbers %v, scipy read %v", at, a.Numbers, w.Numbers)
		}
	}
}

// TestField reads a structure's fields by name.
func TestField(t *testing.T) {
	data, err := os.ReadFile("testdata/matlab.mat")
	if err != nil {
		t.Fatal(err)
	}
	vars, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	s := Variable(vars, "synsets")
	if s == nil || s.Len() != 2 {
		t.Fatalf("synsets: %+v", s)
	}
	if got := s.Field(1, "WNID").String(); got != "n00001740" {
		t.Errorf("synsets(2).WNID = %q, want n00001740", got)
	}
	if got := s.Field(1, "children").Numbers; !slices.Equal(got, []float64{1, 250}) {
		t.Errorf("synsets(2).children = %v, want [1 250]", got)
	}
	if s.Field(0, "gloss") != nil || Variable(vars, "none") != nil {
		t.Error("a field or variable that is not there is not nil")
	}
}

// TestRefusals gives files this reader does not read, or damaged ones, and checks each error says
// what it is.
func TestRefusals(t *testing.T) {
	good, err := os.ReadFile("testdata/scipy_plain.mat")
	if err != nil {
		t.Fatal(err)
	}
	header := func(text, endian string) []byte {
		h := make([]byte, 128)
		copy(h, bytes.Repeat([]byte(" "), 116))
		copy(h, text)
		binary.LittleEndian.PutUint16(h[124:], 0x0100)
		copy(h[126:], endian)
		return h
	}
	// A complex double: flags with the complex bit, 1 by 1, no name, real and imaginary parts.
	complexVar := func() []byte {
		var b []byte
		el := func(typ uint32, data []byte) {
			b = binary.LittleEndian.AppendUint32(b, typ)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
			b = append(b, data...)
			b = append(b, make([]byte, -len(data)&7)...)
		}
		el(6, []byte{6, 0x08, 0, 0, 0, 0, 0, 0})
		el(5, []byte{1, 0, 0, 0, 1, 0, 0, 0})
		el(1, nil)
		el(9, make([]byte, 8))
		el(9, make([]byte, 8))
		m := binary.LittleEndian.AppendUint32(nil, 14)
		m = binary.LittleEndian.AppendUint32(m, uint32(len(b)))
		return append(m, b...)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte("MATLAB"), "shorter than its 128-byte header"},
		{"v7.3", header("MATLAB 7.3 MAT-file, Platform: GLNXA64", "IM"), "HDF5"},
		{"big-endian", header("MATLAB 5.0 MAT-file", "MI"), "big-endian"},
		{"level 4", make([]byte, 200), "level 4 file has no header"},
		{"truncated", good[:len(good)-100], "truncated file"},
		{"complex", append(header("MATLAB 5.0 MAT-file", "IM"), complexVar()...), "complex array"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

// FuzzDecode feeds Decode damaged files: it must return an error, never panic or hang.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"scipy.mat", "scipy_plain.mat", "matlab.mat"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := Decode(data)
		if err == nil {
			for _, v := range vars {
				_ = v.Len()
			}
		}
	})
}
