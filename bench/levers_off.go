//go:build !levers

package main

import (
	"errors"

	"github.com/gomlx/gomlx/backends"
)

// errNoLevers is the answer of -levers in the shipped bench.
var errNoLevers = errors.New("-levers: the lever experiments are built only with the levers tag: go run -tags levers ./bench -levers")

// runLevers says how to build the lever experiments.
func runLevers(options) error { return errNoLevers }

// runLeverJob is a child job of the lever experiments, which this build lacks.
func runLeverJob(_ backends.Backend, j job) any {
	return result{Err: errNoLevers.Error() + " (job " + j.Kind + ")"}
}
