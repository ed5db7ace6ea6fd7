package tfrecord

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// A TFRecord file is a sequence of records, each
//
//	uint64 length, little-endian
//	uint32 masked CRC-32C of the length's 8 bytes
//	length bytes of data
//	uint32 masked CRC-32C of the data
//
// where masking rotates the CRC right by 15 bits and adds 0xa282ead8 (TensorFlow's
// core/lib/hash/crc32c.h).

// maxRecord bounds a record's length: an image of up to 1 GiB, as a shard's member.
const maxRecord = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TensorFlow's masked CRC-32C of b.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// recordReader reads the records of one TFRecord file in order.
type recordReader struct {
	r   *bufio.Reader
	n   int   // records read
	off int64 // where the next record starts
}

func newRecordReader(r io.Reader) *recordReader {
	if b, ok := r.(*bufio.Reader); ok {
		return &recordReader{r: b} // buffered already
	}
	return &recordReader{r: bufio.NewReaderSize(r, 1<<16)}
}

// next returns the data of the next record, in a buffer of its own; io.EOF after the last one.
// A file cut inside a record, a length past maxRecord and a checksum that does not match are
// errors that say which record, and where it starts.
func (rr *recordReader) next() ([]byte, error) {
	var head [12]byte
	n, err := io.ReadFull(rr.r, head[:])
	switch {
	case n == 0 && err == io.EOF:
		return nil, io.EOF
	case err != nil:
		return nil, rr.damaged("cut short in its header (truncated file?)")
	}
	length := binary.LittleEndian.Uint64(head[:8])
	if binary.LittleEndian.Uint32(head[8:]) != maskedCRC(head[:8]) {
		return nil, rr.damaged("its length's checksum does not match (not a TFRecord file, uncompressed or compressed with GZIP or ZLIB)")
	}
	if length > maxRecord {
		return nil, rr.damaged(fmt.Sprintf("a length of %d bytes, more than %d", length, maxRecord))
	}
	data := make([]byte, length+4)
	if _, err := io.ReadFull(rr.r, data); err != nil {
		return nil, rr.damaged(fmt.Sprintf("cut short in its %d bytes (truncated file?)", length))
	}
	if binary.LittleEndian.Uint32(data[length:]) != maskedCRC(data[:length]) {
		return nil, rr.damaged("its data's checksum does not match (damaged file)")
	}
	rr.n++
	rr.off += 16 + int64(length)
	return data[:length:length], nil
}

// damaged is the error of the record being read.
func (rr *recordReader) damaged(what string) error {
	return fmt.Errorf("record %d (at byte %d): %s", rr.n, rr.off, what)
}
