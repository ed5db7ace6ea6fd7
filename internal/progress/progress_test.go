package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
)

// Without a terminal, a phase logs a line at every tenth of the way and at the end, with the
// count, the unit and the time left.
func TestLogsTenLinesWithoutATerminal(t *testing.T) {
	var buf bytes.Buffer
	logger := log.New(&buf)
	f, err := openNotATerminal(t)
	if err != nil {
		t.Fatal(err)
	}
	b := New("embedding", 100, 0, Options{Writer: f, Logger: logger, Unit: "images", Every: time.Nanosecond})
	for i := int64(1); i <= 100; i++ {
		b.Set(i, "")
	}
	b.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d log lines, want 10:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "10/100 images") || !strings.Contains(lines[9], "100/100 images") || !strings.Contains(lines[0], "left") {
		t.Errorf("unexpected lines:\n%s", buf.String())
	}
	buf.Reset()
	q := New("quiet", 100, 0, Options{Writer: f, Logger: logger, Quiet: true})
	q.Set(100, "")
	if buf.Len() != 0 {
		t.Errorf("a quiet bar logged %q", buf.String())
	}
}

// Log lines are at least Every apart, except the last.
func TestLogLinesAreThrottled(t *testing.T) {
	var buf bytes.Buffer
	f, err := openNotATerminal(t)
	if err != nil {
		t.Fatal(err)
	}
	b := New("training", 100, 0, Options{Writer: f, Logger: log.New(&buf), Every: time.Hour})
	for i := int64(1); i <= 100; i++ {
		b.Set(i, "")
	}
	if lines := strings.Split(strings.TrimSpace(buf.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "100/100") {
		t.Errorf("want the first tenth and the end only, got:\n%s", buf.String())
	}
}
