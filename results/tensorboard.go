package results

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// A MetricsFile also writes what it writes as a TensorBoard event file in the same folder
// (EventsPrefix, then the time, the host, the process and a number), so that `tensorboard --logdir` on a
// run's folder, or on a folder of runs, draws its curves while it trains: each line's values as
// scalars at its step, tagged by their keys (the step and the epoch are not scalars). Each
// process writes its own file, as TensorFlow's writers do. The line that a resumed run writes
// first (ResumedKey, at step S) is a SessionLog START event at step S+1, with which TensorBoard
// drops what the files hold past S: the steps trained again, as ReadMetrics drops them.
//
// The format is TensorFlow's TFRecord of Event protocol buffers (tensorboard/compat/proto
// event.proto and summary.proto): each record is its length (uint64, little-endian), the masked
// CRC-32C of the length, the data, and the masked CRC-32C of the data. The few fields written are
// encoded here: no protobuf library is needed for them.

// EventsPrefix begins the name of a TensorBoard event file.
const EventsPrefix = "events.out.tfevents."

// eventsFiles numbers the event files this process creates, for unique names.
var eventsFiles atomic.Int64

// eventsFile is a TensorBoard event file being written.
type eventsFile struct {
	path string
	f    *os.File
}

// createEvents creates a new event file in dir, with its first event, the file's version.
func createEvents(dir string) (*eventsFile, error) {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, host)
	now := time.Now()
	name := fmt.Sprintf("%s%d.%s.%d.%d", EventsPrefix, now.Unix(), host, os.Getpid(), eventsFiles.Add(1))
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("TensorBoard event file: %w", err)
	}
	e := &eventsFile{path: path, f: f}
	ev := appendFixed64(nil, 1, math.Float64bits(wallTime(now)))
	ev = appendBytes(ev, 3, []byte("brain.Event:2"))
	if err := e.write(ev); err != nil {
		f.Close()
		return nil, err
	}
	return e, nil
}

// wallTime is t in seconds since the epoch, as an event's wall_time.
func wallTime(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// line writes a metrics line: a resume's as a SessionLog START, others as their finite values
// but the step and the epoch, in the order of their keys.
func (e *eventsFile) line(values map[string]float64) error {
	step, ok := values[KeyStep]
	if !ok || math.IsNaN(step) || math.IsInf(step, 0) {
		return nil
	}
	ev := appendFixed64(nil, 1, math.Float64bits(wallTime(time.Now())))
	if _, resumed := values[ResumedKey]; resumed {
		ev = appendVarint(ev, 2, uint64(int64(step)+1))
		ev = appendBytes(ev, 7, appendVarint(nil, 1, 1)) // session_log {status: START}
		return e.write(ev)
	}
	ev = appendVarint(ev, 2, uint64(int64(step)))
	var summary []byte
	for _, k := range slices.Sorted(maps.Keys(values)) {
		v := values[k]
		if k == KeyStep || k == KeyEpoch || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		value := appendBytes(nil, 1, []byte(k))                       // tag
		value = appendFixed32(value, 2, math.Float32bits(float32(v))) // simple_value
		summary = appendBytes(summary, 1, value)
	}
	if summary == nil {
		return nil
	}
	return e.write(appendBytes(ev, 5, summary))
}

// write appends one record holding data.
func (e *eventsFile) write(data []byte) error {
	rec := make([]byte, 0, 16+len(data))
	rec = binary.LittleEndian.AppendUint64(rec, uint64(len(data)))
	rec = binary.LittleEndian.AppendUint32(rec, maskedCRC(rec[:8]))
	rec = append(rec, data...)
	rec = binary.LittleEndian.AppendUint32(rec, maskedCRC(data))
	if _, err := e.f.Write(rec); err != nil {
		return fmt.Errorf("TensorBoard event file %s: %w", e.path, err)
	}
	return nil
}

func (e *eventsFile) close() error {
	if e == nil || e.f == nil {
		return nil
	}
	err := e.f.Close()
	e.f = nil
	return err
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's checksum: the CRC-32C of b, rotated right by 15 bits, plus a constant.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// Protocol buffer encoding of the fields written (wire types: 0 varint, 1 fixed64, 2 bytes,
// 5 fixed32).

func appendKey(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field<<3|wire))
}

func appendVarint(b []byte, field int, v uint64) []byte {
	return binary.AppendUvarint(appendKey(b, field, 0), v)
}

func appendFixed64(b []byte, field int, v uint64) []byte {
	return binary.LittleEndian.AppendUint64(appendKey(b, field, 1), v)
}

func appendBytes(b []byte, field int, v []byte) []byte {
	return append(binary.AppendUvarint(appendKey(b, field, 2), uint64(len(v))), v...)
}

func appendFixed32(b []byte, field int, v uint32) []byte {
	return binary.LittleEndian.AppendUint32(appendKey(b, field, 5), v)
}
