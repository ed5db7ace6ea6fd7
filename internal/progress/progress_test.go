package progress

import (
	"bytes"
	"fmt"
	"io"
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

// The time left comes from the units finished since the first one: a slow first unit (a
// compilation) or units done before a resume do not distort it.
func TestTimeLeftIgnoresTheFirstUnit(t *testing.T) {
	var buf bytes.Buffer
	f, err := openNotATerminal(t)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(0, 0)
	b := New("training", 100, 40, Options{Writer: f, Logger: log.New(&buf), Every: time.Nanosecond})
	b.now = func() time.Time { return clock }
	b.began = clock
	clock = clock.Add(time.Minute) // step 41 compiles: a minute
	b.Set(41, "")
	for i := int64(42); i <= 50; i++ {
		clock = clock.Add(time.Second) // then a second a step
		b.Set(i, "")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// At step 50: 9 steps in 9 s since step 41, 50 steps left: 50 s (not 70 s/10 steps x 50, and
	// not 69 s/50 steps x 50 counting the 40 steps of an earlier process).
	if last := lines[len(lines)-1]; !strings.Contains(last, "50/100") || !strings.Contains(last, "left=50s") {
		t.Errorf("want 50s left at step 50, got:\n%s", buf.String())
	}
	// After the first unit alone there is no rate yet: no guess.
	buf.Reset()
	first := New("training", 10, 0, Options{Writer: f, Logger: log.New(&buf), Every: time.Nanosecond})
	first.Set(1, "")
	if !strings.Contains(buf.String(), "1/10") || !strings.Contains(buf.String(), "left=?") {
		t.Errorf("after the first unit, want left=?, got:\n%s", buf.String())
	}
}

// TestTerminalBarRateAfterResume: the terminal bar's rate and time left come from the units
// finished since the first Set, as the log lines' do: resumed at 900 of 1000, a first unit that
// compiles for a minute, then a unit every 0.3 s: after 4 more, 3.33 units/s and 28.5 s (29s) left for
// the 95 units to go (the progress bar library counted the 900 units of the earlier process as
// done in its first instant: 0 s left at hundreds of units a second).
func TestTerminalBarRateAfterResume(t *testing.T) {
	f, err := openNotATerminal(t)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(0, 0)
	b := New("training", 1000, 900, Options{Writer: f, Logger: log.New(io.Discard), Unit: "steps"})
	b.now = func() time.Time { return clock }
	clock = clock.Add(time.Minute)
	b.Set(901, "")
	for i := int64(902); i <= 905; i++ {
		clock = clock.Add(300 * time.Millisecond)
		b.Set(i, "")
	}
	b.detail = "loss 1.5"
	if got, want := b.describe(clock, 905), "training loss 1.5 (3.33 steps/s, 29s left)"; got != want {
		t.Errorf("describe: %q, want %q", got, want)
	}
	if got := New("x", 10, 0, Options{Writer: f, Logger: log.New(io.Discard), Unit: "steps"}).describe(clock, 0); got != "x (? left)" {
		t.Errorf("before any rate: %q", got)
	}
}

// TestPhases: a bar for each phase, started as the phase first comes (with its name and size),
// fed its own counts; a phase that comes back after another starts a bar again; Finish with no
// bar is harmless.
func TestPhases(t *testing.T) {
	var buf bytes.Buffer
	logger := log.New(&buf)
	f, err := openNotATerminal(t)
	if err != nil {
		t.Fatal(err)
	}
	var started []string
	p := NewPhases(func(phase string, total int64) *Bar {
		started = append(started, fmt.Sprintf("%s/%d", phase, total))
		return New(phase, total, 0, Options{Writer: f, Logger: logger, Unit: "units", Every: time.Nanosecond})
	})
	p.Finish()
	for _, s := range []struct {
		phase       string
		done, total int
	}{{"search", 1, 2}, {"search", 2, 2}, {"descent", 5, 10}, {"descent", 10, 10}, {"search", 2, 2}} {
		p.Set(s.phase, s.done, s.total)
	}
	p.Finish()
	if fmt.Sprint(started) != "[search/2 descent/10 search/2]" {
		t.Errorf("bars started: %v, want [search/2 descent/10 search/2]", started)
	}
	for _, want := range []string{`search done="2/2 units"`, `descent done="5/10 units"`, `descent done="10/10 units"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("no line with %q in:\n%s", want, buf.String())
		}
	}
}
