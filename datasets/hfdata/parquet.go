package hfdata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"

	"github.com/gomlx-ssl/vicreg/datasets"
)

// parquetFile is a Parquet file open, its footer read.
type parquetFile struct {
	fh *os.File
	f  *parquet.File
}

// openParquet opens the Parquet file at path, its footer read; its errors name the file.
func openParquet(path string) (*parquetFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: err}
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: err}
	}
	var f *parquet.File
	err = func() (err error) {
		defer recoverParquet(&err)
		f, err = parquet.OpenFile(fh, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		return err
	}()
	if err != nil {
		fh.Close()
		return nil, &datasets.DataError{Kind: datasets.ErrDamaged, Path: path, Index: -1, Err: fmt.Errorf("not a readable Parquet file: %w", err),
			Hint: "download it again"}
	}
	return &parquetFile{fh, f}, nil
}

func (p *parquetFile) close() error { return p.fh.Close() }

// columns lists the file's top-level columns: a group with a bytes leaf is an image, a leaf of
// 32- or 64-bit integers an integer column, a byte array text.
func (p *parquetFile) columns() ([]column, string) {
	var cols []column
	for _, field := range p.f.Schema().Fields() {
		c := column{name: field.Name(), kind: nestedColumn}
		if _, ok := p.f.Schema().Lookup(c.name, "bytes"); ok {
			c.kind = imageColumn
			leaf, ok := p.f.Schema().Lookup(c.name, "path")
			c.path = ok && leaf.Node.Type().Kind() == parquet.ByteArray
		} else if leaf, ok := p.f.Schema().Lookup(c.name); ok {
			c.typ = leaf.Node.Type().String()
			switch leaf.Node.Type().Kind() {
			case parquet.Int32, parquet.Int64:
				c.kind = intColumn
			case parquet.ByteArray:
				c.kind = textColumn
			default:
				c.kind = otherColumn
			}
		}
		cols = append(cols, c)
	}
	meta, _ := p.f.Lookup("huggingface")
	return cols, meta
}

func (p *parquetFile) groups() []int64 {
	var n []int64
	for _, rg := range p.f.RowGroups() {
		n = append(n, rg.NumRows())
	}
	return n
}

// read reads row group g.
func (p *parquetFile) read(g int, start int64, label, image string, withImages bool) ([]row, error) {
	rg := p.f.RowGroups()[g]
	if n := rg.NumRows(); n < 0 || n > maxGroupRows {
		return nil, fmt.Errorf("row group %d of %d rows (damaged?)", g, n)
	}
	rows := make([]row, rg.NumRows())
	for i := range rows {
		rows[i].index = start + int64(i)
	}
	if label != "" {
		leaf, _ := p.f.Schema().Lookup(label)
		err := readColumn(p.f, g, leaf, len(rows), func(i int, v parquet.Value) {
			switch {
			case v.IsNull():
			case v.Kind() == parquet.ByteArray:
				rows[i].label = strings.TrimSpace(string(v.ByteArray()))
			default:
				rows[i].label = strconv.FormatInt(v.Int64(), 10)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", label, err)
		}
	}
	if !withImages {
		return rows, nil
	}
	leaf, _ := p.f.Schema().Lookup(image, "bytes")
	err := readColumn(p.f, g, leaf, len(rows), func(i int, v parquet.Value) {
		if !v.IsNull() {
			rows[i].image = bytes.Clone(v.ByteArray()) // v points into a page, which the reader releases
		}
	})
	if err != nil {
		return nil, fmt.Errorf("column %s.bytes: %w", image, err)
	}
	if leaf, ok := p.f.Schema().Lookup(image, "path"); ok && leaf.Node.Type().Kind() == parquet.ByteArray && missingImage(rows) {
		err := readColumn(p.f, g, leaf, len(rows), func(i int, v parquet.Value) {
			if !v.IsNull() && rows[i].image == nil {
				rows[i].file = string(v.ByteArray())
			}
		})
		if err != nil {
			return nil, fmt.Errorf("column %s.path: %w", image, err)
		}
	}
	return rows, nil
}

// readColumn calls fn with each of the n values of the column leaf in row group g of f (one a row:
// no repeated fields), once checkPages has found its pages' headers sound.
func readColumn(f *parquet.File, g int, leaf parquet.LeafColumn, n int, fn func(i int, v parquet.Value)) (err error) {
	defer recoverParquet(&err)
	chunks := f.RowGroups()[g].ColumnChunks()
	meta := f.Metadata().RowGroups[g].Columns
	if c := leaf.ColumnIndex; c < 0 || c >= len(chunks) || c >= len(meta) {
		return fmt.Errorf("no chunk of column %d among the row group's %d (damaged?)", c, len(chunks))
	}
	if err := checkPages(f, &meta[leaf.ColumnIndex].MetaData, int64(n)); err != nil {
		return err
	}
	r := parquet.NewColumnChunkValueReader(chunks[leaf.ColumnIndex])
	defer r.Close()
	buf := make([]parquet.Value, 256)
	i := 0
	for {
		k, err := r.ReadValues(buf)
		for _, v := range buf[:k] {
			if i >= n || v.RepetitionLevel() != 0 {
				return errors.New("a repeated field, or more values than rows")
			}
			fn(i, v)
			i++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if i != n {
		return fmt.Errorf("%d values for %d rows", i, n)
	}
	return nil
}

// maxPage bounds the uncompressed size of one page, and maxPageRatio its ratio to the compressed
// size (beyond 1 MiB): a JPEG does not compress, a page of labels holds at most a group's rows.
const (
	maxPage      = 1 << 30
	maxPageRatio = 1024
)

// checkPages reads the headers of the pages of a column chunk (of rows rows) and refuses the
// sizes that only damaged data declare: parquet-go allocates what a page header declares before
// decoding the page, so that a damaged header exhausts memory, a fatal error (found by FuzzOpen).
// A page must lie within the chunk, within maxPage and maxPageRatio uncompressed, and hold at most
// rows values (a dictionary: at most a value per byte).
func checkPages(f *parquet.File, m *format.ColumnMetaData, rows int64) error {
	start := m.DataPageOffset
	if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
		start = m.DictionaryPageOffset
	}
	end := start + m.TotalCompressedSize
	if start < 4 || m.TotalCompressedSize < 0 || end < start || end > f.Size() {
		return fmt.Errorf("a column chunk at bytes %d to %d of a file of %d (damaged?)", start, end, f.Size())
	}
	var values int64
	for pos := start; pos < end; {
		var h format.PageHeader
		used, err := pageHeader(f, pos, end, &h)
		if err != nil {
			return fmt.Errorf("the page header at byte %d: %w", pos, err)
		}
		c, u := int64(h.CompressedPageSize), int64(h.UncompressedPageSize)
		if c < 0 || u < 0 || pos+used+c > end || u > maxPage || u > maxPageRatio*c+1<<20 {
			return fmt.Errorf("a page at byte %d of %d bytes compressed, %d uncompressed, in a column chunk that ends at byte %d (damaged?)", pos, c, u, end)
		}
		n := int64(-1)
		levels := int64(0) // the bytes of uncompressed levels before the compressed values (a page V2)
		if d, ok := h.DataPageHeader.Get(); ok {
			n = int64(d.NumValues)
		} else if d, ok := h.DataPageHeaderV2.Get(); ok {
			n = int64(d.NumValues)
			levels = int64(d.RepetitionLevelsByteLength) + int64(d.DefinitionLevelsByteLength)
			if compressed, set := d.IsCompressed.Get(); set && !compressed {
				levels = c // nothing compressed
			}
		} else if d, ok := h.DictionaryPageHeader.Get(); ok && (d.NumValues < 0 || int64(d.NumValues) > u) {
			return fmt.Errorf("a dictionary page at byte %d of %d values in %d bytes (damaged?)", pos, d.NumValues, u)
		}
		if levels < 0 || levels > c || levels > u {
			return fmt.Errorf("a page at byte %d whose levels take %d of its %d bytes (damaged?)", pos, levels, c)
		}
		if levels < c {
			if err := checkCompressed(f, m.Codec, pos+used+levels, c-levels, u-levels); err != nil {
				return fmt.Errorf("the page at byte %d: %w", pos, err)
			}
		}
		if n >= 0 {
			if values += n; n > rows || values > rows {
				return fmt.Errorf("a page at byte %d of %d values, beyond the row group's %d rows (damaged?)", pos, n, rows)
			}
		}
		pos += used + c
	}
	return nil
}

// checkCompressed checks the size that the compressed data of a page (c bytes at byte at of f)
// declare against u, the uncompressed size its header gives, for the codecs whose decoders
// allocate from the data: snappy (the size leads its data) and LZ4_RAW (parquet-go's decoder
// doubles its buffer until the data decode, without end for damaged data: it is decoded here,
// into u bytes).
func checkCompressed(f *parquet.File, codec format.CompressionCodec, at, c, u int64) error {
	switch codec {
	case format.Snappy:
		head := make([]byte, min(c, 10))
		if _, err := f.ReadAt(head, at); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n, err := snappy.DecodedLen(head); err != nil || int64(n) != u {
			return fmt.Errorf("snappy data of %d bytes for %d (%v; damaged?)", n, u, err)
		}
	case format.Lz4Raw:
		src := make([]byte, c)
		if _, err := f.ReadAt(src, at); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n, err := lz4.UncompressBlock(src, make([]byte, u)); err != nil || int64(n) != u {
			return fmt.Errorf("LZ4 data that do not decode to %d bytes (%v; damaged?)", u, err)
		}
	}
	return nil
}

// pageHeader decodes into h the page header at byte pos of f (before end) and returns its size.
func pageHeader(f *parquet.File, pos, end int64, h *format.PageHeader) (int64, error) {
	for window := int64(4 << 10); ; window *= 8 {
		buf := make([]byte, min(window, end-pos))
		if _, err := f.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		r := bytes.NewReader(buf)
		*h = format.PageHeader{}
		err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(r)).Decode(h)
		if err == nil {
			return int64(len(buf) - r.Len()), nil
		}
		if int64(len(buf)) == end-pos || window > 64<<20 { // a header of statistics may be long, not this long
			return 0, err
		}
	}
}

// recoverParquet turns a panic of the Parquet reader into *err: parquet-go panics on some damaged
// data (a gzip page whose header does not parse, found by FuzzOpen) rather than returning an error.
func recoverParquet(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("the Parquet reader failed (damaged data?): %v", r)
	}
}
