package trainer

import (
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/charmbracelet/log"
)

// StopOnSignal returns a flag that becomes true at the first SIGINT or SIGTERM (pass it as
// Options.Stop: the loop finishes its step, writes a checkpoint and returns; the final evaluation
// stops after its current phase); a second signal exits at once with status 130, without a
// checkpoint.
func StopOnSignal(logger *log.Logger) *atomic.Bool {
	var stop atomic.Bool
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range signals {
			if stop.Load() {
				logger.Warn("second signal: exiting without a checkpoint", "signal", s)
				os.Exit(130)
			}
			logger.Warn("signal received: stopping after the current step (with a checkpoint) or, in the final evaluation, after its current phase; a second signal exits at once", "signal", s)
			stop.Store(true)
		}
	}()
	return &stop
}
