package hfdata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// Arrow's IPC format (https://arrow.apache.org/docs/format/Columnar.html), read by hand, as far
// as the datasets library's files need it: a stream of messages (a schema, record batches,
// dictionary batches, which are skipped), each a flatbuffer of metadata and a body of buffers, in
// the stream format (what the library writes) or the file format (magic ARROW1, then the same
// stream, then a footer). The metadata of every message is parsed with each offset checked
// against the message, and each buffer against its body, so that damaged data are an error, not
// a panic or an allocation of what they declare. Compressed bodies and big-endian data are
// refused: the library writes neither.

// The kinds of message (Message.fbs's MessageHeader).
const (
	arrowSchemaMessage     = 1
	arrowDictionaryMessage = 2
	arrowBatchMessage      = 3
)

// Arrow's type ids (Schema.fbs's union Type).
const (
	arrowNull            = 1
	arrowInt             = 2
	arrowFloatingPoint   = 3
	arrowBinary          = 4
	arrowUtf8            = 5
	arrowBool            = 6
	arrowDecimal         = 7
	arrowDate            = 8
	arrowTime            = 9
	arrowTimestamp       = 10
	arrowInterval        = 11
	arrowList            = 12
	arrowStruct          = 13
	arrowUnion           = 14
	arrowFixedSizeBinary = 15
	arrowFixedSizeList   = 16
	arrowMap             = 17
	arrowDuration        = 18
	arrowLargeBinary     = 19
	arrowLargeUtf8       = 20
	arrowLargeList       = 21
	arrowRunEndEncoded   = 22
	arrowBinaryView      = 23
	arrowUtf8View        = 24
	arrowListView        = 25
	arrowLargeListView   = 26
)

// arrowTypeNames name the type ids, for messages.
var arrowTypeNames = map[byte]string{arrowNull: "null", arrowInt: "int", arrowFloatingPoint: "floating point", arrowBinary: "binary",
	arrowUtf8: "string", arrowBool: "bool", arrowDecimal: "decimal", arrowDate: "date", arrowTime: "time", arrowTimestamp: "timestamp",
	arrowInterval: "interval", arrowList: "list", arrowStruct: "struct", arrowUnion: "union", arrowFixedSizeBinary: "fixed-size binary",
	arrowFixedSizeList: "fixed-size list", arrowMap: "map", arrowDuration: "duration", arrowLargeBinary: "large binary",
	arrowLargeUtf8: "large string", arrowLargeList: "large list", arrowRunEndEncoded: "run-end encoded", arrowBinaryView: "binary view",
	arrowUtf8View: "string view", arrowListView: "list view", arrowLargeListView: "large list view"}

// Bounds against damaged sizes: a message's metadata, the fields of a schema and their nesting.
const (
	maxArrowMetadata = 64 << 20
	maxArrowFields   = 1 << 16
	maxArrowDepth    = 64
)

// isArrow reports whether path names an Arrow file (.arrow).
func isArrow(path string) bool { return strings.EqualFold(filepath.Ext(path), ".arrow") }

// arrowFile is an Arrow file open: its schema read, and the place of each record batch.
type arrowFile struct {
	fh      *os.File
	fields  []arrowField // the schema's top-level fields
	flat    []*arrowField
	meta    string // the schema's "huggingface" metadata
	batches []arrowBatch
}

// arrowField is a field of a schema.
type arrowField struct {
	name     string
	typ      byte
	bits     int32 // an int's width
	signed   bool  // an int's sign
	dense    bool  // a union's mode
	dict     bool  // dictionary-encoded: its buffers are those of its indices, and it has no children in a batch
	children []arrowField
	node     int // its place in a batch's nodes: its place in the schema's depth-first order
}

// arrowBatch is the place of a record batch's message: its metadata and its body.
type arrowBatch struct {
	meta, body int64 // offsets in the file
	metaLen    int64
	bodyLen    int64
	rows       int64
}

// openArrow opens the Arrow file at path: it reads its schema and finds its record batches,
// reading each message's metadata (not its body). Its errors name the file.
func openArrow(path string) (*arrowFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: err}
	}
	a := &arrowFile{fh: fh}
	if err := a.scan(); err != nil {
		fh.Close()
		return nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: fmt.Errorf("not a readable Arrow file: %w", err),
			Hint: "write it again (the datasets library: save_to_disk, or load_dataset's cache)"}
	}
	return a, nil
}

func (a *arrowFile) close() error { return a.fh.Close() }

// scan reads the messages of the file up to the end of its stream.
func (a *arrowFile) scan() error {
	st, err := a.fh.Stat()
	if err != nil {
		return err
	}
	at, end := int64(0), st.Size()
	head := make([]byte, 8)
	if _, err := a.fh.ReadAt(head, 0); err == nil && string(head[:6]) == "ARROW1" {
		// The file format: the stream ends where the footer begins (its length and the magic
		// again close the file).
		tail := make([]byte, 10)
		if _, err := a.fh.ReadAt(tail, end-10); err != nil || string(tail[4:]) != "ARROW1" {
			return errors.New("the file format's magic ARROW1 at its start, not at its end (cut short?)")
		}
		footer := int64(int32(binary.LittleEndian.Uint32(tail)))
		if footer < 0 || footer > end-18 {
			return fmt.Errorf("a footer of %d bytes in a file of %d", footer, end)
		}
		at, end = 8, end-10-footer
	}
	for {
		m, err := a.message(at, end)
		if err != nil {
			return fmt.Errorf("the message at byte %d: %w", at, err)
		}
		if m.end {
			break
		}
		switch {
		case m.kind == arrowSchemaMessage && a.fields == nil:
			if err := a.readSchema(m.header); err != nil {
				return fmt.Errorf("the schema: %w", err)
			}
		case a.fields == nil:
			return errors.New("the stream does not start with its schema")
		case m.kind == arrowDictionaryMessage:
		case m.kind == arrowBatchMessage:
			rows, err := batchRows(m.header)
			if err == nil && rows > m.bodyLen {
				// An image column's offsets alone take 4 bytes a row: a damaged count, which would
				// otherwise size what is allocated for the batch's rows.
				err = fmt.Errorf("%d rows in a body of %d bytes", rows, m.bodyLen)
			}
			if err != nil {
				return fmt.Errorf("the record batch at byte %d: %w", at, err)
			}
			a.batches = append(a.batches, arrowBatch{meta: m.metaAt, metaLen: m.metaLen, body: m.bodyAt, bodyLen: m.bodyLen, rows: rows})
		default:
			return fmt.Errorf("a message of kind %d, not a record batch", m.kind)
		}
		if at = m.next; at >= end {
			break
		}
	}
	if a.fields == nil {
		return errors.New("no schema")
	}
	return nil
}

// arrowMessage is a message's header: its kind and metadata (the Message table's header), and
// where its body lies.
type arrowMessage struct {
	end             bool // the end of the stream
	kind            byte
	header          fbTable
	metaAt, metaLen int64
	bodyAt, bodyLen int64
	next            int64
}

// message reads the header of the message at byte at of the file (a stream that ends at end).
func (a *arrowFile) message(at, end int64) (m arrowMessage, err error) {
	if at+4 > end {
		return arrowMessage{end: true}, nil // a stream without its end marker
	}
	word := make([]byte, 8)
	n, err := a.fh.ReadAt(word[:min(8, end-at)], at)
	if n < 4 {
		return m, fmt.Errorf("cut short: %w", err)
	}
	size, metaAt := int64(int32(binary.LittleEndian.Uint32(word))), at+4
	if size == -1 { // the continuation marker, then the size
		if n < 8 {
			return m, errors.New("cut short")
		}
		size, metaAt = int64(int32(binary.LittleEndian.Uint32(word[4:]))), at+8
	}
	switch {
	case size == 0:
		return arrowMessage{end: true}, nil
	case size < 0 || size > maxArrowMetadata || metaAt+size > end:
		return m, fmt.Errorf("metadata of %d bytes, in a stream of %d", size, end)
	}
	meta := make([]byte, size)
	if _, err := a.fh.ReadAt(meta, metaAt); err != nil {
		return m, err
	}
	err = fbCatch(func() {
		msg := fbuf(meta).root()
		m.kind = msg.u8(1, 0)
		h, ok := msg.sub(2)
		if !ok {
			panic(fbErr("a message without its header"))
		}
		m.header = h
		m.bodyLen = msg.i64(3, 0)
	})
	if err != nil {
		return m, err
	}
	m.metaAt, m.metaLen, m.bodyAt = metaAt, size, metaAt+size
	if m.bodyLen < 0 || m.bodyLen > end-m.bodyAt {
		return m, fmt.Errorf("a body of %d bytes, beyond the stream's end", m.bodyLen)
	}
	m.next = m.bodyAt + m.bodyLen
	return m, nil
}

// readSchema reads the schema's fields (numbering their nodes in depth-first order) and its
// "huggingface" metadata.
func (a *arrowFile) readSchema(schema fbTable) error {
	return fbCatch(func() {
		if schema.i16(0, 0) != 0 {
			panic(fbErr("big-endian data, which are not read"))
		}
		start, n := schema.vec(1)
		if n > maxArrowFields {
			panic(fbErr(fmt.Sprintf("%d fields", n)))
		}
		count := 0
		for k := range n {
			a.fields = append(a.fields, readField(schema.b.tableAt(start, k), 0, &count))
		}
		if a.fields == nil {
			a.fields = []arrowField{}
		}
		start, n = schema.vec(2)
		for k := range n {
			kv := schema.b.tableAt(start, k)
			if kv.str(0) == "huggingface" {
				a.meta = kv.str(1)
			}
		}
	})
}

// readField reads a field (and its children) at depth depth, counting the fields read in count:
// a flatbuffer may refer to one table many times, so that damaged data could declare a tree of
// fields far larger than themselves.
func readField(t fbTable, depth int, count *int) arrowField {
	if *count++; depth > maxArrowDepth || *count > maxArrowFields {
		panic(fbErr(fmt.Sprintf("fields nested deeper than %d, or more than %d", maxArrowDepth, maxArrowFields)))
	}
	f := arrowField{name: t.str(0), typ: t.u8(2, 0)}
	if typ, ok := t.sub(3); ok {
		switch f.typ {
		case arrowInt:
			f.bits, f.signed = typ.i32(0, 0), typ.u8(1, 0) != 0
		case arrowUnion:
			f.dense = typ.i16(0, 0) == 1
		}
	}
	_, f.dict = t.sub(4)
	start, n := t.vec(5)
	if n > maxArrowFields {
		panic(fbErr(fmt.Sprintf("%d children", n)))
	}
	for k := range n {
		f.children = append(f.children, readField(t.b.tableAt(start, k), depth+1, count))
	}
	return f
}

// batchRows is the number of rows of a record batch, whose header is rb.
func batchRows(rb fbTable) (rows int64, err error) {
	err = fbCatch(func() {
		rows = rb.i64(0, 0)
		if _, ok := rb.sub(3); ok {
			panic(fbErr("a compressed body, which is not read: write the file uncompressed (the datasets library does)"))
		}
	})
	if err == nil && (rows < 0 || rows > maxGroupRows) {
		err = fmt.Errorf("%d rows (damaged?)", rows)
	}
	return rows, err
}

// columns lists the top-level fields: a struct with a bytes child of binary is an image, an int
// an integer column, a string (or binary) text.
func (a *arrowFile) columns() ([]column, string) {
	var cols []column
	for _, f := range a.fields {
		c := column{name: f.name, typ: f.typeName()}
		switch {
		case f.dict:
			c.kind = otherColumn
		case f.typ == arrowStruct:
			c.kind = nestedColumn
			if b := f.child("bytes"); b != nil && !b.dict && (b.typ == arrowBinary || b.typ == arrowLargeBinary) {
				c.kind = imageColumn
				p := f.child("path")
				c.path = p != nil && !p.dict && (p.typ == arrowUtf8 || p.typ == arrowLargeUtf8)
			}
		case f.typ == arrowInt:
			c.kind = intColumn
		case f.typ == arrowUtf8 || f.typ == arrowLargeUtf8 || f.typ == arrowBinary || f.typ == arrowLargeBinary:
			c.kind = textColumn
		case len(f.children) > 0:
			c.kind = nestedColumn
		default:
			c.kind = otherColumn
		}
		cols = append(cols, c)
	}
	return cols, a.meta
}

// typeName names the field's type, for messages.
func (f *arrowField) typeName() string {
	name := arrowTypeNames[f.typ]
	if name == "" {
		name = fmt.Sprintf("type %d", f.typ)
	}
	if f.dict {
		name = "dictionary-encoded " + name
	}
	return name
}

// child is the child field of f named name, or nil.
func (f *arrowField) child(name string) *arrowField {
	for i := range f.children {
		if f.children[i].name == name {
			return &f.children[i]
		}
	}
	return nil
}

func (a *arrowFile) groups() []int64 {
	var n []int64
	for _, b := range a.batches {
		n = append(n, b.rows)
	}
	return n
}

// read reads record batch g: its metadata, then the columns asked for; the whole body with the
// images, else only the buffers of the labels (a batch of images is mostly their bytes).
func (a *arrowFile) read(g int, start int64, label, image string, withImages bool) ([]row, error) {
	mode := labelsOnly
	if withImages {
		mode = imageBytes
	}
	return a.readBatch(g, start, label, image, mode)
}

// locate reads the labels of record batch g and where each row's image bytes lie in the file
// (row.at, row.size; or the image's path where they are null), reading its metadata and the
// buffers of the labels and of the image bytes' offsets, not the bytes.
func (a *arrowFile) locate(g int, start int64, label, image string) ([]row, error) {
	return a.readBatch(g, start, label, image, imagePlaces)
}

// batchMode is what readBatch reads of the image column: nothing, the bytes, or where they lie.
type batchMode int

const (
	labelsOnly batchMode = iota
	imageBytes
	imagePlaces
)

func (a *arrowFile) readBatch(g int, start int64, label, image string, mode batchMode) ([]row, error) {
	b := a.batches[g]
	meta := make([]byte, b.metaLen)
	if _, err := a.fh.ReadAt(meta, b.meta); err != nil {
		return nil, err
	}
	batch := arrowBatchData{fh: a.fh, at: b.body}
	if mode == imageBytes {
		batch.body = make([]byte, b.bodyLen)
		if _, err := a.fh.ReadAt(batch.body, b.body); err != nil {
			return nil, err
		}
	}
	err := fbCatch(func() { a.parseBatch(&batch, fbuf(meta), b.bodyLen) })
	if err != nil {
		return nil, fmt.Errorf("record batch %d: %w", g, err)
	}
	rows := make([]row, b.rows)
	for i := range rows {
		rows[i].index = start + int64(i)
	}
	err = fbCatch(func() {
		for i := range a.fields {
			f := &a.fields[i]
			switch {
			case f.name == label:
				batch.values(f, int(b.rows), func(i int, v []byte, n int64, ok bool) {
					switch {
					case !ok:
					case v != nil:
						rows[i].label = strings.TrimSpace(string(v))
					case f.signed:
						rows[i].label = strconv.FormatInt(n, 10)
					default:
						rows[i].label = strconv.FormatUint(uint64(n), 10)
					}
				})
			case f.name == image && mode != labelsOnly:
				bytes := f.child("bytes")
				if f.typ != arrowStruct || f.dict || bytes == nil {
					panic(fbErr(fmt.Sprintf("the image column %q is %s, not a struct with a bytes field", f.name, f.typeName())))
				}
				valid := batch.validity(f, int(b.rows))
				if mode == imagePlaces {
					data := batch.ranges(bytes, int(b.rows), func(i int, lo, hi int64, ok bool) {
						if ok && valid(i) {
							rows[i].at, rows[i].size, rows[i].placed = lo, hi-lo, true
						}
					})
					for i := range rows {
						if rows[i].placed {
							rows[i].at += b.body + batch.spans[data][0]
						}
					}
				} else {
					batch.values(bytes, int(b.rows), func(i int, v []byte, _ int64, ok bool) {
						if ok && valid(i) {
							rows[i].image = v
						}
					})
				}
				if p := f.child("path"); p != nil && (p.typ == arrowUtf8 || p.typ == arrowLargeUtf8) && missingImage(rows) {
					batch.values(p, int(b.rows), func(i int, v []byte, _ int64, ok bool) {
						if ok && valid(i) && rows[i].image == nil && !rows[i].placed {
							rows[i].file = string(v)
						}
					})
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("record batch %d: %w", g, err)
	}
	return rows, nil
}

// arrowBatchData is a record batch read: its nodes (each field's length and nulls), its buffers
// (where each lies in the body, checked to lie in it), the index of each field's first buffer,
// and its body when read whole; else a buffer is read from the file when asked for.
type arrowBatchData struct {
	nodes [][2]int64 // length, null count
	spans [][2]int64 // offset in the body, length
	first []int      // each node's first buffer
	body  []byte
	fh    *os.File
	at    int64 // the body's offset in the file
}

// buffer is buffer k's bytes.
func (d *arrowBatchData) buffer(k int) []byte {
	off, n := d.spans[k][0], d.spans[k][1]
	if d.body != nil {
		return d.body[off : off+n : off+n]
	}
	b := make([]byte, n)
	if _, err := d.fh.ReadAt(b, d.at+off); err != nil {
		panic(fbErr(fmt.Sprintf("reading buffer %d: %v", k, err)))
	}
	return b
}

// parseBatch reads into d the record batch whose message metadata is meta and body bodyLen bytes
// long, and checks that its nodes and buffers are those of the schema's fields.
func (a *arrowFile) parseBatch(d *arrowBatchData, meta fbuf, bodyLen int64) {
	msg := meta.root()
	rb, ok := msg.sub(2)
	if !ok || msg.u8(1, 0) != arrowBatchMessage {
		panic(fbErr("not the record batch that the scan found (the file changed?)"))
	}
	start, n := rb.vec(1)
	meta.need(start, 16*n)
	for k := range n {
		d.nodes = append(d.nodes, [2]int64{int64(meta.u64(start + 16*k)), int64(meta.u64(start + 16*k + 8))})
	}
	start, n = rb.vec(2)
	meta.need(start, 16*n)
	for k := range n {
		off, length := int64(meta.u64(start+16*k)), int64(meta.u64(start+16*k+8))
		if off < 0 || length < 0 || off > bodyLen || length > bodyLen-off {
			panic(fbErr(fmt.Sprintf("buffer %d at bytes %d to %d of a body of %d", k, off, off+length, bodyLen)))
		}
		d.spans = append(d.spans, [2]int64{off, length})
	}
	vstart, nv := rb.vec(4)
	meta.need(vstart, 8*nv)
	views := 0
	buffer := 0
	for _, f := range a.flatFields() {
		d.first = append(d.first, buffer)
		switch {
		case f.dict:
			buffer += 2
		case f.typ == arrowBinaryView || f.typ == arrowUtf8View:
			if views >= nv {
				panic(fbErr("fewer variadic buffer counts than view fields"))
			}
			buffer += 2 + int(meta.u64(vstart+8*views))
			views++
		default:
			buffer += arrowBuffers(f)
		}
		if buffer < 0 || buffer > len(d.spans) {
			panic(fbErr(fmt.Sprintf("%d buffers for the schema's fields, which need more", len(d.spans))))
		}
	}
	if len(d.first) != len(d.nodes) || buffer != len(d.spans) {
		panic(fbErr(fmt.Sprintf("%d nodes and %d buffers, for fields that have %d and %d", len(d.nodes), len(d.spans), len(d.first), buffer)))
	}
}

// flatFields are the fields in depth-first order, as a batch's nodes are (a dictionary-encoded
// field's children have none), each numbered by its node.
func (a *arrowFile) flatFields() []*arrowField {
	if a.flat == nil {
		var walk func(fs []arrowField)
		walk = func(fs []arrowField) {
			for i := range fs {
				fs[i].node = len(a.flat)
				a.flat = append(a.flat, &fs[i])
				if !fs[i].dict {
					walk(fs[i].children)
				}
			}
		}
		walk(a.fields)
	}
	return a.flat
}

// arrowBuffers is the number of buffers of a field of a type (not a view type, nor
// dictionary-encoded) in a record batch.
func arrowBuffers(f *arrowField) int {
	switch f.typ {
	case arrowNull, arrowRunEndEncoded:
		return 0
	case arrowStruct, arrowFixedSizeList:
		return 1
	case arrowUnion:
		if f.dense {
			return 2
		}
		return 1
	case arrowBinary, arrowUtf8, arrowLargeBinary, arrowLargeUtf8, arrowListView, arrowLargeListView:
		return 3
	case arrowInt, arrowFloatingPoint, arrowBool, arrowDecimal, arrowDate, arrowTime, arrowTimestamp, arrowInterval,
		arrowDuration, arrowFixedSizeBinary, arrowList, arrowLargeList, arrowMap:
		return 2
	}
	panic(fbErr(fmt.Sprintf("field %q of a type not known (%d)", f.name, f.typ)))
}

// validity returns whether row i of field f (of rows rows) is valid (not null).
func (d *arrowBatchData) validity(f *arrowField, rows int) func(i int) bool {
	node := d.nodes[f.node]
	if node[0] != int64(rows) {
		panic(fbErr(fmt.Sprintf("field %q of %d rows in a batch of %d", f.name, node[0], rows)))
	}
	if f.typ == arrowNull || f.typ == arrowRunEndEncoded {
		panic(fbErr(fmt.Sprintf("field %q holds %s values", f.name, f.typeName()))) // no validity bitmap
	}
	if node[1] == 0 {
		return func(int) bool { return true }
	}
	bits := d.buffer(d.first[f.node])
	switch {
	case len(bits) < (rows+7)/8:
		panic(fbErr(fmt.Sprintf("field %q: %d nulls, and a validity bitmap of %d bytes for %d rows", f.name, node[1], len(bits), rows)))
	}
	return func(i int) bool { return bits[i/8]&(1<<(i%8)) != 0 }
}

// values calls fn with each of the rows values of field f: the bytes of a binary or string value
// (nil for an int), or an int's value, and whether it is valid (not null).
func (d *arrowBatchData) values(f *arrowField, rows int, fn func(i int, v []byte, n int64, ok bool)) {
	if f.dict {
		panic(fbErr(fmt.Sprintf("field %q holds %s values", f.name, f.typeName())))
	}
	valid := d.validity(f, rows)
	switch k := d.first[f.node] + 1; f.typ {
	case arrowInt:
		w := int(f.bits / 8)
		if w != 1 && w != 2 && w != 4 && w != 8 || f.bits%8 != 0 {
			panic(fbErr(fmt.Sprintf("field %q: an int of %d bits", f.name, f.bits)))
		}
		values := d.buffer(k)
		if len(values) < w*rows {
			panic(fbErr(fmt.Sprintf("field %q: %d bytes of values for %d rows", f.name, len(values), rows)))
		}
		for i := range rows {
			if !valid(i) {
				fn(i, nil, 0, false)
				continue
			}
			var n int64
			switch v := values[w*i:]; w {
			case 1:
				n = int64(v[0])
				if f.signed {
					n = int64(int8(v[0]))
				}
			case 2:
				n = int64(binary.LittleEndian.Uint16(v))
				if f.signed {
					n = int64(int16(n))
				}
			case 4:
				n = int64(binary.LittleEndian.Uint32(v))
				if f.signed {
					n = int64(int32(n))
				}
			default:
				n = int64(binary.LittleEndian.Uint64(v))
			}
			fn(i, nil, n, true)
		}
	case arrowBinary, arrowUtf8, arrowLargeBinary, arrowLargeUtf8:
		data := d.buffer(k + 1)
		d.ranges(f, rows, func(i int, lo, hi int64, ok bool) {
			if !ok {
				fn(i, nil, 0, false)
				return
			}
			fn(i, data[lo:hi:hi], 0, true)
		})
	default:
		panic(fbErr(fmt.Sprintf("field %q holds %s values", f.name, f.typeName())))
	}
}

// ranges calls fn with where each of the rows values of f, a binary or string field, lies in
// its data buffer (bytes lo to hi, checked to lie in it), and whether it is valid (not null),
// reading the offsets, not the data; it returns the data buffer's number.
func (d *arrowBatchData) ranges(f *arrowField, rows int, fn func(i int, lo, hi int64, ok bool)) (data int) {
	if f.dict || f.typ != arrowBinary && f.typ != arrowUtf8 && f.typ != arrowLargeBinary && f.typ != arrowLargeUtf8 {
		panic(fbErr(fmt.Sprintf("field %q holds %s values, not binary", f.name, f.typeName())))
	}
	valid := d.validity(f, rows)
	k := d.first[f.node] + 1
	w := 4
	if f.typ == arrowLargeBinary || f.typ == arrowLargeUtf8 {
		w = 8
	}
	offsets, size := d.buffer(k), d.spans[k+1][1]
	if len(offsets) < w*(rows+1) {
		panic(fbErr(fmt.Sprintf("field %q: %d bytes of offsets for %d rows", f.name, len(offsets), rows)))
	}
	at := func(i int) int64 {
		if w == 4 {
			return int64(int32(binary.LittleEndian.Uint32(offsets[4*i:])))
		}
		return int64(binary.LittleEndian.Uint64(offsets[8*i:]))
	}
	for i := range rows {
		lo, hi := at(i), at(i+1)
		if lo < 0 || hi < lo || hi > size {
			panic(fbErr(fmt.Sprintf("field %q, row %d: bytes %d to %d of %d", f.name, i, lo, hi, size)))
		}
		fn(i, lo, hi, valid(i))
	}
	return k + 1
}

// fbuf is a flatbuffer's bytes. Every read is checked against them: one beyond them panics with
// an fbErr, which fbCatch returns as an error.
type fbuf []byte

// fbErr is the error of a read out of a flatbuffer or of a value that damaged data declare.
type fbErr string

func (e fbErr) Error() string { return string(e) }

// fbCatch runs fn, returning the fbErr it panics with as an error (and other panics as they are).
func fbCatch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(fbErr)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	fn()
	return nil
}

// need checks that n bytes at at lie in b.
func (b fbuf) need(at, n int) {
	if at < 0 || n < 0 || at > len(b) || n > len(b)-at {
		panic(fbErr(fmt.Sprintf("bytes %d to %d of a message of %d (damaged?)", at, at+n, len(b))))
	}
}

func (b fbuf) u8(at int) byte               { b.need(at, 1); return b[at] }
func (b fbuf) u16(at int) uint16            { b.need(at, 2); return binary.LittleEndian.Uint16(b[at:]) }
func (b fbuf) u32(at int) uint32            { b.need(at, 4); return binary.LittleEndian.Uint32(b[at:]) }
func (b fbuf) u64(at int) uint64            { b.need(at, 8); return binary.LittleEndian.Uint64(b[at:]) }
func (b fbuf) root() fbTable                { return b.table(int(b.u32(0))) }
func (b fbuf) ref(at int) int               { return at + int(b.u32(at)) }
func (b fbuf) tableAt(start, k int) fbTable { return b.table(b.ref(start + 4*k)) }

// fbTable is a table of a flatbuffer: its position and its vtable's.
type fbTable struct {
	b        fbuf
	pos, vt  int
	vtLength int
}

// table is the table at pos.
func (b fbuf) table(pos int) fbTable {
	vt := pos - int(int32(b.u32(pos)))
	n := int(b.u16(vt))
	b.need(vt, n)
	return fbTable{b: b, pos: pos, vt: vt, vtLength: n}
}

// field is the offset of field k in the table, 0 when absent.
func (t fbTable) field(k int) int {
	if at := 4 + 2*k; at+2 <= t.vtLength {
		return int(t.b.u16(t.vt + at))
	}
	return 0
}

func (t fbTable) u8(k int, def byte) byte {
	if o := t.field(k); o != 0 {
		return t.b.u8(t.pos + o)
	}
	return def
}

func (t fbTable) i16(k int, def int16) int16 {
	if o := t.field(k); o != 0 {
		return int16(t.b.u16(t.pos + o))
	}
	return def
}

func (t fbTable) i32(k int, def int32) int32 {
	if o := t.field(k); o != 0 {
		return int32(t.b.u32(t.pos + o))
	}
	return def
}

func (t fbTable) i64(k int, def int64) int64 {
	if o := t.field(k); o != 0 {
		return int64(t.b.u64(t.pos + o))
	}
	return def
}

// sub is the table that field k refers to; false when absent.
func (t fbTable) sub(k int) (fbTable, bool) {
	o := t.field(k)
	if o == 0 {
		return fbTable{}, false
	}
	return t.b.table(t.b.ref(t.pos + o)), true
}

// str is the string of field k ("" when absent).
func (t fbTable) str(k int) string {
	o := t.field(k)
	if o == 0 {
		return ""
	}
	at := t.b.ref(t.pos + o)
	n := int(t.b.u32(at))
	t.b.need(at+4, n)
	return string(t.b[at+4 : at+4+n])
}

// vec is the start of the elements of the vector of field k, and their number (0 when absent).
func (t fbTable) vec(k int) (start, n int) {
	o := t.field(k)
	if o == 0 {
		return 0, 0
	}
	at := t.b.ref(t.pos + o)
	n = int(t.b.u32(at))
	t.b.need(at+4, min(n, len(t.b))) // at least one byte an element
	return at + 4, n
}
