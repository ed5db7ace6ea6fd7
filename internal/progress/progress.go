// Package progress shows the progress of a long phase (training, feature extraction, a probe's
// epochs, kNN, an analysis): a bar with the rate and the time left when standard error is a
// terminal, otherwise a log line at every tenth of the way (at most one every 10 s) and at the end,
// so that logs of batch jobs show progress too. Every long phase of the toolkit reports through it.
package progress

import (
	"fmt"
	"os"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// Options configure a Bar.
type Options struct {
	// Writer is where the bar is drawn (nil: standard error); with no terminal there, log lines
	// replace the bar.
	Writer *os.File
	// Logger receives the log lines (nil: log.Default()).
	Logger *log.Logger
	// Quiet shows nothing (tests).
	Quiet bool
	// Unit names what is counted ("steps", "images", "epochs").
	Unit string
	// Every is the least time between two log lines (0: 10 s); the last line is always written.
	Every time.Duration
}

// Bar is the progress of one phase of Total units.
type Bar struct {
	name    string
	total   int64
	done    int64
	unit    string
	bar     *progressbar.ProgressBar
	logger  *log.Logger
	quiet   bool
	began   time.Time
	nextLog int64
	lastLog time.Time
	every   time.Duration
	// The time left is estimated from the units finished since the first Set: the first unit
	// often holds a compilation, and a resumed phase starts with units done by another process.
	rateFrom     time.Time
	rateFromDone int64
	now          func() time.Time // time.Now; a fake clock in tests
	detail       string           // the terminal bar's last detail
}

// New starts the progress of a phase named name, of total units, at done units (a resumed phase).
func New(name string, total, done int64, o Options) *Bar {
	b := &Bar{name: name, total: total, done: done, unit: o.Unit, logger: o.Logger, quiet: o.Quiet, every: o.Every, now: time.Now, rateFromDone: -1}
	b.began = b.now()
	if b.every == 0 {
		b.every = 10 * time.Second
	}
	if b.unit == "" {
		b.unit = "items"
	}
	if b.logger == nil {
		b.logger = log.Default()
	}
	if o.Quiet || total <= 0 {
		b.quiet = true
		return b
	}
	w := o.Writer
	if w == nil {
		w = os.Stderr
	}
	if isatty.IsTerminal(w.Fd()) {
		// The rate and the time left are ours (describe): the library's count the units a resumed
		// phase starts with as done in its first instant, and the first unit's compilation.
		b.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(20), progressbar.OptionThrottle(250*time.Millisecond),
			progressbar.OptionSetPredictTime(false), progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetDescription(name), progressbar.OptionClearOnFinish())
		_ = b.bar.Set64(done)
	}
	b.nextLog = b.done + max(1, total/10)
	return b
}

// Set records that done units are finished; detail, when not empty, replaces the description
// (the loss, say).
func (b *Bar) Set(done int64, detail string) {
	b.done = done
	if b.quiet {
		return
	}
	now := b.now()
	if b.rateFromDone < 0 {
		b.rateFrom, b.rateFromDone = now, done // the rate counts the units finished from here
	}
	if b.bar != nil {
		if detail != "" {
			b.detail = detail
		}
		b.bar.Describe(b.describe(now, done))
		_ = b.bar.Set64(done)
		return
	}
	if (done >= b.nextLog && now.Sub(b.lastLog) >= b.every) || done == b.total {
		b.lastLog = now
		elapsed := now.Sub(b.began)
		left, _ := b.estimate(now, done)
		kv := []any{"done", fmt.Sprintf("%d/%d %s", done, b.total, b.unit), "elapsed", elapsed.Round(time.Second), "left", left}
		if detail != "" {
			kv = append(kv, "detail", detail)
		}
		b.logger.Info(b.name, kv...)
		for b.nextLog <= done {
			b.nextLog += max(1, b.total/10)
		}
	}
}

// estimate returns the time left and the rate (units per second; 0 until known) from the units
// finished since the first Set: "?" left until a unit after that one is done.
func (b *Bar) estimate(now time.Time, done int64) (left string, rate float64) {
	left = "?"
	if n := done - b.rateFromDone; b.rateFromDone >= 0 && n > 0 {
		d := now.Sub(b.rateFrom)
		left = time.Duration(float64(d) / float64(n) * float64(b.total-done)).Round(time.Second).String()
		rate = float64(n) / d.Seconds()
	} else if done == b.total {
		left = "0s"
	}
	return left, rate
}

// describe is the terminal bar's text: the name, the last detail, the rate and the time left.
func (b *Bar) describe(now time.Time, done int64) string {
	s := b.name
	if b.detail != "" {
		s += " " + b.detail
	}
	left, rate := b.estimate(now, done)
	if rate > 0 {
		return fmt.Sprintf("%s (%.3g %s/s, %s left)", s, rate, b.unit, left)
	}
	return fmt.Sprintf("%s (%s left)", s, left)
}

// Add records n more finished units.
func (b *Bar) Add(n int64) { b.Set(b.done+n, "") }

// Clear removes the bar from the terminal for a moment (before a log line); the next Set draws it
// again.
func (b *Bar) Clear() {
	if b.bar != nil {
		_ = b.bar.Clear()
	}
}

// Finish ends the phase.
func (b *Bar) Finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}

// Phases follows a task of several phases, a bar for each: Set starts one (by newBar, with the
// phase's name and size) when its phase comes, finishing the one before; Finish finishes the last.
type Phases struct {
	newBar func(phase string, total int64) *Bar
	phase  string
	bar    *Bar
}

// NewPhases returns a Phases whose bars newBar starts.
func NewPhases(newBar func(phase string, total int64) *Bar) *Phases { return &Phases{newBar: newBar} }

// Set records that done of the total units of phase are finished.
func (p *Phases) Set(phase string, done, total int) {
	if p.bar == nil || phase != p.phase {
		p.Finish()
		p.phase, p.bar = phase, p.newBar(phase, int64(total))
	}
	p.bar.Set(int64(done), "")
}

// Finish finishes the bar of the phase under way, if any.
func (p *Phases) Finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
