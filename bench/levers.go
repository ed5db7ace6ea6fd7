package main

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
)

func runLevers(o options) error { return fmt.Errorf("not yet") }

func runLeverJob(b backends.Backend, j job) any { return result{Err: "unknown job " + j.Kind} }
