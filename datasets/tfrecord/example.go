package tfrecord

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A tf.train.Example (tensorflow/core/example/example.proto, feature.proto) in protocol buffers'
// wire format:
//
//	Example  { Features features = 1; }
//	Features { map<string, Feature> feature = 1; }  (entries: string key = 1; Feature value = 2)
//	Feature  { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
//	BytesList { repeated bytes value = 1; }  FloatList { repeated float value = 1 [packed]; }
//	Int64List { repeated int64 value = 1 [packed]; }
//
// Parsed here by hand (the few messages above; fields it does not know are skipped, as
// protobuf's parsers skip them): the module has no protobuf runtime, and this needs none.

// Feature kinds, by their field numbers in Feature.
const (
	kindBytes = 1
	kindFloat = 2
	kindInt64 = 3
)

// feature is one feature of an Example: its kind, and its values of that kind (floats are not
// kept: no image data set labels by them).
type feature struct {
	kind  int
	bytes [][]byte // slices of the record's data
	ints  []int64
}

// kindName names a feature kind, for messages.
func kindName(kind int) string {
	switch kind {
	case kindBytes:
		return "bytes"
	case kindFloat:
		return "float"
	case kindInt64:
		return "int64"
	}
	return "empty"
}

// parseExample parses a serialised tf.train.Example into its features, by name.
func parseExample(data []byte) (map[string]feature, error) {
	out := map[string]feature{}
	err := eachField(data, func(num int, wire int, v []byte, _ uint64) error {
		if num != 1 || wire != wireBytes {
			return nil
		}
		return eachField(v, func(num int, wire int, entry []byte, _ uint64) error {
			if num != 1 || wire != wireBytes {
				return nil
			}
			var key string
			var f feature
			err := eachField(entry, func(num int, wire int, v []byte, _ uint64) error {
				switch {
				case num == 1 && wire == wireBytes:
					key = string(v)
				case num == 2 && wire == wireBytes:
					var err error
					f, err = parseFeature(v)
					return err
				}
				return nil
			})
			if err != nil {
				return err
			}
			out[key] = f
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("not a tf.train.Example: %w", err)
	}
	return out, nil
}

// parseFeature parses a Feature message.
func parseFeature(data []byte) (feature, error) {
	var f feature
	err := eachField(data, func(num int, wire int, list []byte, _ uint64) error {
		if wire != wireBytes || num < kindBytes || num > kindInt64 {
			return nil
		}
		f = feature{kind: num}
		return eachField(list, func(vnum int, vwire int, v []byte, x uint64) error {
			if vnum != 1 {
				return nil
			}
			switch {
			case num == kindBytes && vwire == wireBytes:
				f.bytes = append(f.bytes, v)
			case num == kindInt64 && vwire == wireVarint:
				f.ints = append(f.ints, int64(x))
			case num == kindInt64 && vwire == wireBytes: // packed
				for len(v) > 0 {
					x, n := binary.Uvarint(v)
					if n <= 0 {
						return errors.New("a packed int64 list that ends inside a value")
					}
					f.ints = append(f.ints, int64(x))
					v = v[n:]
				}
			}
			return nil
		})
	})
	return f, err
}

// Wire types of protocol buffers.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// eachField calls fn with each field of the message data, in order: its number, its wire type,
// and its value (v for a length-delimited field, x for a varint; fixed-size fields give their
// bytes in v). A field that runs past the end of data, a wire type of a group, and field number
// 0 are errors.
func eachField(data []byte, fn func(num int, wire int, v []byte, x uint64) error) error {
	for len(data) > 0 {
		tag, n := binary.Uvarint(data)
		if n <= 0 {
			return errors.New("a field tag that ends inside a varint")
		}
		data = data[n:]
		num, wire := tag>>3, int(tag&7)
		if num == 0 || num > 1<<29 {
			return fmt.Errorf("field number %d", num)
		}
		var v []byte
		var x uint64
		switch wire {
		case wireVarint:
			if x, n = binary.Uvarint(data); n <= 0 {
				return errors.New("a varint that ends early")
			}
			data = data[n:]
		case wireFixed64, wireFixed32:
			size := 8
			if wire == wireFixed32 {
				size = 4
			}
			if len(data) < size {
				return errors.New("a fixed-size value that ends early")
			}
			v, data = data[:size], data[size:]
		case wireBytes:
			l, n := binary.Uvarint(data)
			if n <= 0 || l > uint64(len(data)-n) {
				return errors.New("a length-delimited field that runs past its message")
			}
			v, data = data[n:n+int(l)], data[n+int(l):]
		default:
			return fmt.Errorf("wire type %d (groups are not used by tf.train.Example)", wire)
		}
		if err := fn(int(num), wire, v, x); err != nil {
			return err
		}
	}
	return nil
}
