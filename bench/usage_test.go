package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// argsEnv carries the command line (JSON) of a child process that runs main.
const argsEnv = "BENCH_TEST_ARGS"

func TestMain(m *testing.M) {
	if spec := os.Getenv(argsEnv); spec != "" {
		var args []string
		if err := json.Unmarshal([]byte(spec), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"bench"}, args...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// bench runs the command in a child process; it returns the exit status and the output.
func bench(t *testing.T, args ...string) (int, string) {
	t.Helper()
	spec, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), argsEnv+"="+string(spec))
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("bench %s: exit %d\n%s", strings.Join(args, " "), code, out)
	return code, string(out)
}

// TestBadFlagsRefused: a flag value the bench cannot use is a usage error (exit status 2) naming
// the flag, before anything runs. -side accepted any value and ran both sides for one that is
// neither ours nor torch (-side pytorch); -rss-steps -1 ran the whole table instead of the memory
// run; -batch 0 went on to the children. -configs matches nothing here, so that without the check
// the command stops at the configurations (exit 1), not at the flag.
func TestBadFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-side", "pytorch"}, "-side"},
		{[]string{"-batch", "0"}, "-batch"},
		{[]string{"-rss-steps", "-1"}, "-rss-steps"},
		{[]string{"-peak", "-1"}, "-peak"},
		{[]string{"-pipeline-seconds", "0"}, "-pipeline-seconds"},
		{[]string{"-device", "gpu"}, "-device"},
	} {
		code, out := bench(t, append([]string{"-configs", "no-such-config", "-python", "/nonexistent"}, tc.args...)...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%q: exit %d, want 2 naming %s:\n%s", tc.args, code, tc.want, out)
		}
	}
}

// TestStrayArgumentRefused: an argument that is not a flag is a usage error (exit status 2); the
// flag package stopped at it and the bench ran without the flags after it.
func TestStrayArgumentRefused(t *testing.T) {
	code, out := bench(t, "-configs", "no-such-config", "w16", "-batch", "64")
	if code != 2 || !strings.Contains(out, `unexpected argument "w16"`) {
		t.Errorf("exit %d, want 2 naming the argument w16:\n%s", code, out)
	}
}
