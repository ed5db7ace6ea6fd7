// Package matfile reads MATLAB's MAT-file format, level 5 (MATLAB 5 to 7, the format that
// scipy.io.loadmat reads), as far as data sets' metadata need it: numeric and logical arrays
// (as float64), character arrays, structures and cell arrays, each variable
// compressed or not. ImageNet's devkit keeps its class list in such a file (meta.mat).
//
// Sparse arrays, objects, complex numbers, big-endian files and version 7.3
// files (HDF5) are refused, each with an error saying so.
package matfile

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf16"
)

// Class is the MATLAB class of an array.
type Class int

// The classes this package reads.
const (
	Cell   Class = 1
	Struct Class = 2
	Char   Class = 4
	Double Class = 6
	Single Class = 7
	Int8   Class = 8
	Uint8  Class = 9
	Int16  Class = 10
	Uint16 Class = 11
	Int32  Class = 12
	Uint32 Class = 13
	Int64  Class = 14
	Uint64 Class = 15
)

var classNames = map[Class]string{Cell: "cell", Struct: "struct", Char: "char", Double: "double", Single: "single",
	Int8: "int8", Uint8: "uint8", Int16: "int16", Uint16: "uint16", Int32: "int32", Uint32: "uint32", Int64: "int64", Uint64: "uint64"}

func (c Class) String() string {
	if s, ok := classNames[c]; ok {
		return s
	}
	return fmt.Sprintf("class %d", int(c))
}

// Array is one MATLAB array: a variable of the file, a field of a structure or a cell.
type Array struct {
	// Name is the variable's name ("" for a field or a cell).
	Name string
	// Class is its class.
	Class Class
	// Logical marks a logical array (Class is then Uint8).
	Logical bool
	// Dims are its dimensions; its elements are stored in column-major order.
	Dims []int
	// Numbers are a numeric or logical array's elements (the real parts), whatever type the file
	// stores them as.
	Numbers []float64
	// Runes are a character array's characters.
	Runes []rune
	// Fields are a structure's field names, in the file's order.
	Fields []string
	// Elems are a structure's elements (each its fields' values, in the order of Fields) or a cell
	// array's cells (each one value).
	Elems [][]*Array
}

// Len is its number of elements.
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Dims {
		n *= d
	}
	return n
}

// String is a character array's text: its characters, in column-major order (a row's text for
// the usual 1-by-N array).
func (a *Array) String() string { return string(a.Runes) }

// Field is the value of field name of a structure's element i, nil when it has no such field.
func (a *Array) Field(i int, name string) *Array {
	for j, f := range a.Fields {
		if f == name && i < len(a.Elems) {
			return a.Elems[i][j]
		}
	}
	return nil
}

// The data types of the file's elements.
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

// maxDepth bounds the nesting of structures and cells; maxInflated bounds what one compressed
// variable inflates to (a file of metadata needs far less).
const (
	maxDepth    = 64
	maxInflated = 1 << 30
)

var le = binary.LittleEndian

// Decode reads the variables of a level 5 MAT-file, in the file's order.
func Decode(data []byte) ([]*Array, error) {
	if len(data) < 128 {
		return nil, fmt.Errorf("not a MAT-file: %d bytes, shorter than its 128-byte header", len(data))
	}
	text := string(data[:116])
	if strings.HasPrefix(text, "MATLAB 7.3 MAT-file") {
		return nil, errors.New("a MATLAB 7.3 MAT-file (HDF5), which this reader does not read: save it again in MATLAB with save -v7")
	}
	switch string(data[126:128]) {
	case "IM":
	case "MI":
		return nil, errors.New("a big-endian MAT-file, which this reader does not read: save it again on a little-endian machine")
	default:
		if !strings.HasPrefix(text, "MATLAB") {
			return nil, errors.New("not a level 5 MAT-file (its header does not begin with \"MATLAB\"; a level 4 file has no header)")
		}
		return nil, fmt.Errorf("not a level 5 MAT-file: endian indicator %q, want \"IM\"", data[126:128])
	}
	if v := le.Uint16(data[124:]); v != 0x0100 {
		return nil, fmt.Errorf("MAT-file version %#04x, want 0x0100", v)
	}
	var vars []*Array
	rest := data[128:]
	for len(rest) > 0 {
		typ, body, next, err := element(rest, len(data)-len(rest))
		if err != nil {
			return nil, err
		}
		rest = next
		offset := len(data) - len(rest)
		if typ == miCOMPRESSED {
			z, err := zlib.NewReader(bytes.NewReader(body))
			if err == nil {
				body, err = io.ReadAll(io.LimitReader(z, maxInflated+1))
			}
			if err == nil && len(body) > maxInflated {
				err = fmt.Errorf("inflates past %d bytes", maxInflated)
			}
			if err != nil {
				return nil, fmt.Errorf("the compressed variable ending at byte %d: %w", offset, err)
			}
			if typ, body, _, err = element(body, 0); err != nil {
				return nil, fmt.Errorf("the compressed variable ending at byte %d: %w", offset, err)
			}
		}
		if typ != miMATRIX {
			return nil, fmt.Errorf("element ending at byte %d: type %d, want a matrix (14) or compressed (15)", offset, typ)
		}
		a, err := matrix(body, 0)
		if err != nil {
			return nil, fmt.Errorf("the variable ending at byte %d: %w", offset, err)
		}
		vars = append(vars, a)
	}
	return vars, nil
}

// Variable is the variable name of vars, nil when there is none.
func Variable(vars []*Array, name string) *Array {
	for _, v := range vars {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// element splits the data element at the start of b into its type and body, and returns what
// follows it (its padding to 8 bytes skipped; a compressed element is not padded). at is its
// offset, for messages.
func element(b []byte, at int) (typ uint32, body, rest []byte, err error) {
	if len(b) < 8 {
		return 0, nil, nil, fmt.Errorf("byte %d: %d bytes left, short of an element's 8-byte tag", at, len(b))
	}
	tag := le.Uint32(b)
	if small := tag >> 16; small != 0 { // small data element: type and size in 4 bytes, data in 4
		if small > 4 {
			return 0, nil, nil, fmt.Errorf("byte %d: small element of %d bytes, more than 4", at, small)
		}
		return tag & 0xffff, b[4 : 4+small], b[8:], nil
	}
	n := uint64(le.Uint32(b[4:]))
	if n > uint64(len(b)-8) {
		return 0, nil, nil, fmt.Errorf("byte %d: element of %d bytes, but %d are left (a truncated file?)", at, n, len(b)-8)
	}
	body = b[8 : 8+n]
	end := 8 + n
	if tag != miCOMPRESSED {
		end = min((end+7)&^7, uint64(len(b)))
	}
	return tag, body, b[end:], nil
}

// matrix reads the body of a miMATRIX element.
func matrix(b []byte, depth int) (*Array, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("structures or cells nested deeper than %d", maxDepth)
	}
	a := &Array{Class: Double}
	if len(b) == 0 { // an empty matrix (MATLAB writes a structure's unset fields so)
		a.Dims = []int{0, 0}
		return a, nil
	}
	sub := func(what string, want ...uint32) ([]byte, error) {
		typ, body, rest, err := element(b, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if len(want) > 0 && !slices.Contains(want, typ) {
			return nil, fmt.Errorf("%s: element type %d, want %v", what, typ, want)
		}
		b = rest
		return body, nil
	}
	flags, err := sub("array flags", miUINT32)
	if err != nil {
		return nil, err
	}
	if len(flags) < 8 {
		return nil, fmt.Errorf("array flags of %d bytes, want 8", len(flags))
	}
	f := le.Uint32(flags)
	a.Class, a.Logical = Class(f&0xff), f&0x200 != 0
	if _, ok := classNames[a.Class]; !ok {
		what := map[Class]string{3: "an object", 5: "a sparse array", 16: "a function handle", 17: "an opaque object"}[a.Class]
		if what == "" {
			what = fmt.Sprintf("array class %d", int(a.Class))
		}
		return nil, fmt.Errorf("%s, which this reader does not read", what)
	}
	if f&0x800 != 0 {
		return nil, errors.New("a complex array, which this reader does not read")
	}
	dims, err := sub("dimensions", miINT32)
	if err != nil {
		return nil, err
	}
	if len(dims) < 8 || len(dims)%4 != 0 {
		return nil, fmt.Errorf("dimensions of %d bytes, want at least two 4-byte numbers", len(dims))
	}
	n := 1
	for i := 0; i < len(dims); i += 4 {
		d := int32(le.Uint32(dims[i:]))
		if d < 0 || (d > 0 && n > math.MaxInt32/int(d)) {
			return nil, fmt.Errorf("dimension %d out of range", d)
		}
		a.Dims = append(a.Dims, int(d))
		n *= int(d)
	}
	name, err := sub("array name", miINT8, miUINT8)
	if err != nil {
		return nil, err
	}
	a.Name = string(name)
	switch a.Class {
	case Struct, Cell:
		fields := []string{""}
		if a.Class == Struct {
			lb, err := sub("field name length", miINT32)
			if err != nil {
				return nil, err
			}
			if len(lb) != 4 {
				return nil, fmt.Errorf("field name length of %d bytes, want 4", len(lb))
			}
			fl := int(int32(le.Uint32(lb)))
			names, err := sub("field names", miINT8, miUINT8)
			if err != nil {
				return nil, err
			}
			if fl <= 0 || len(names)%fl != 0 {
				return nil, fmt.Errorf("field names of %d bytes, not a multiple of their length %d", len(names), fl)
			}
			fields = fields[:0]
			for i := 0; i < len(names); i += fl {
				name, _, _ := strings.Cut(string(names[i:i+fl]), "\x00")
				fields = append(fields, name)
			}
			a.Fields = fields
		}
		if n > 0 && len(fields) > 0 && n > len(b)/(8*len(fields)) { // each value takes an 8-byte tag at least
			return nil, fmt.Errorf("%d elements of %d fields in %d bytes: too few", n, len(fields), len(b))
		}
		for range n {
			elem := make([]*Array, len(fields))
			for j := range fields {
				body, err := sub("element", miMATRIX)
				if err != nil {
					return nil, err
				}
				if elem[j], err = matrix(body, depth+1); err != nil {
					return nil, fmt.Errorf("element %d of %s: %w", len(a.Elems), a.Class, err)
				}
			}
			a.Elems = append(a.Elems, elem)
		}
	case Char:
		data, typ, err := numbers(b)
		if err != nil {
			return nil, err
		}
		switch typ {
		case miUTF8, miINT8, miUINT8:
			a.Runes = []rune(string(data))
		case miUINT16, miUTF16:
			u := make([]uint16, len(data)/2)
			for i := range u {
				u[i] = le.Uint16(data[2*i:])
			}
			a.Runes = utf16.Decode(u)
		case miUTF32, miINT32, miUINT32:
			for i := 0; i+4 <= len(data); i += 4 {
				a.Runes = append(a.Runes, rune(le.Uint32(data[i:])))
			}
		default:
			return nil, fmt.Errorf("characters stored as type %d", typ)
		}
		if len(a.Runes) != n {
			return nil, fmt.Errorf("character array of %v holds %d characters", a.Dims, len(a.Runes))
		}
	default:
		data, typ, err := numbers(b)
		if err != nil {
			return nil, err
		}
		if a.Numbers, err = decodeNumbers(data, typ); err != nil {
			return nil, err
		}
		if len(a.Numbers) != n {
			return nil, fmt.Errorf("%s array of %v holds %d numbers", a.Class, a.Dims, len(a.Numbers))
		}
	}
	return a, nil
}

// numbers is the data element at the start of b and its type.
func numbers(b []byte) ([]byte, uint32, error) {
	typ, body, _, err := element(b, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("array data: %w", err)
	}
	return body, typ, nil
}

// sizes are the byte sizes of the numeric data types.
var sizes = map[uint32]int{miINT8: 1, miUINT8: 1, miINT16: 2, miUINT16: 2, miINT32: 4, miUINT32: 4,
	miSINGLE: 4, miDOUBLE: 8, miINT64: 8, miUINT64: 8}

// decodeNumbers converts data of type typ to float64s (MATLAB stores an array's numbers in the
// smallest type that holds them, whatever its class).
func decodeNumbers(data []byte, typ uint32) ([]float64, error) {
	size, ok := sizes[typ]
	if !ok {
		return nil, fmt.Errorf("numbers stored as type %d, not a numeric type", typ)
	}
	if len(data)%size != 0 {
		return nil, fmt.Errorf("%d bytes of %d-byte numbers", len(data), size)
	}
	out := make([]float64, len(data)/size)
	for i := range out {
		p := data[i*size:]
		switch typ {
		case miINT8:
			out[i] = float64(int8(p[0]))
		case miUINT8:
			out[i] = float64(p[0])
		case miINT16:
			out[i] = float64(int16(le.Uint16(p)))
		case miUINT16:
			out[i] = float64(le.Uint16(p))
		case miINT32:
			out[i] = float64(int32(le.Uint32(p)))
		case miUINT32:
			out[i] = float64(le.Uint32(p))
		case miSINGLE:
			out[i] = float64(math.Float32frombits(le.Uint32(p)))
		case miDOUBLE:
			out[i] = math.Float64frombits(le.Uint64(p))
		case miINT64:
			out[i] = float64(int64(le.Uint64(p)))
		case miUINT64:
			out[i] = float64(le.Uint64(p))
		}
	}
	return out, nil
}
