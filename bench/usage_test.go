package main

import (
	"os"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/cmdtest"
)

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(args []string) int {
		os.Args = append([]string{"bench"}, args...)
		main()
		return 0
	})
}

// bench runs the command in a child process; it returns the exit status and the output.
func bench(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return cmdtest.Run(t, args...)
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
