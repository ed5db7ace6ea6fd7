package cmdtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The child prints its arguments and exits with their number.
func TestMain(m *testing.M) {
	Main(m, func(args []string) int {
		fmt.Print(strings.Join(args, "|"))
		return len(args)
	})
}

// TestRunPassesArgumentsAndStatus: the child gets the arguments as given (spaces and flags of the
// test binary's own form included) and its exit status and output come back.
func TestRunPassesArgumentsAndStatus(t *testing.T) {
	code, out := Run(t, "-test.run=x", "two words", "")
	if code != 3 || out != "-test.run=x|two words|" {
		t.Errorf("exit %d, output %q; want 3 and %q", code, out, "-test.run=x|two words|")
	}
	if code, out := Run(t); code != 0 || out != "" {
		t.Errorf("no arguments: exit %d, output %q; want 0 and nothing", code, out)
	}
}

// TestCapture: what f writes to the stream comes back, and the stream is restored.
func TestCapture(t *testing.T) {
	saved := os.Stderr
	got := Capture(t, &os.Stderr, func() { fmt.Fprint(os.Stderr, "to stderr") })
	if got != "to stderr" || os.Stderr != saved {
		t.Errorf("captured %q (stderr restored: %v), want %q", got, os.Stderr == saved, "to stderr")
	}
}
