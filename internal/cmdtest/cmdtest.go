// Package cmdtest helps the tests of the commands: it runs a command's entry point in a child
// process of its own test binary, for what only a process shows (its exit status, its output,
// what a signal does to it), and captures what a function writes to the standard output or error.
//
// For a child, the command's TestMain hands its entry point to Main; a test starts the child with
// Command (to signal it) or runs it to its end with Run.
package cmdtest

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// argsEnv carries a child's command line (JSON) from Command to Main.
const argsEnv = "VICREG_CHILD_ARGS"

// Main is what a command's TestMain calls: in a child that Command started it runs run with the
// child's arguments and exits with the status run returns; otherwise it runs the tests.
func Main(m *testing.M, run func(args []string) int) {
	if spec, ok := os.LookupEnv(argsEnv); ok {
		var args []string
		if err := json.Unmarshal([]byte(spec), &args); err != nil {
			panic("cmdtest: the child's arguments: " + err.Error())
		}
		os.Exit(run(args))
	}
	os.Exit(m.Run())
}

// Command returns the command (not started) that runs the test binary as a child whose TestMain
// passes args to the entry point given to Main.
func Command(args ...string) *exec.Cmd {
	spec, err := json.Marshal(args)
	if err != nil {
		panic(err) // a []string always marshals
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), argsEnv+"="+string(spec))
	return cmd
}

// Run runs such a child to its end and returns its exit status and its standard output and error
// together (logged with the command line).
func Run(t testing.TB, args ...string) (int, string) {
	t.Helper()
	return Output(t, Command(args...))
}

// Output runs cmd, a Command the caller adjusted (its folder, say), to its end, as Run does.
func Output(t testing.TB, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var args []string
	_ = json.Unmarshal([]byte(strings.TrimPrefix(cmd.Env[len(cmd.Env)-1], argsEnv+"=")), &args)
	t.Logf("%s: exit %d\n%s", strings.Join(args, " "), code, out)
	return code, string(out)
}

// Capture runs f with *stream (&os.Stdout or &os.Stderr) sent to a pipe, and returns what f wrote
// there; *stream is restored after.
func Capture(t testing.TB, stream **os.File, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := *stream
	*stream = w
	done := make(chan string)
	go func() {
		data, _ := io.ReadAll(r)
		done <- string(data)
	}()
	defer func() { *stream = saved }()
	f()
	w.Close()
	return <-done
}
