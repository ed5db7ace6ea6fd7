// Command train pretrains a ResNet encoder with VICReg (or an information-theoretic variant) and
// evaluates it with a linear probe.
//
//	go run ./train -backend-info   # which backend, devices and plugin are in use
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/backend"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses the flags and runs the command; it returns the process exit status:
// 0 success, 1 failure, 2 usage error.
func run(args []string) int {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	backendInfo := fs.Bool("backend-info", false, "print the backend, its devices and the XLA plugin in use, then exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	b, err := backend.New()
	if err != nil {
		log.Error(err)
		return 1
	}
	defer b.Finalize()
	if *backendInfo {
		fmt.Print(backend.Describe(b))
		return 0
	}
	fmt.Print(backend.Describe(b))
	return 0
}
