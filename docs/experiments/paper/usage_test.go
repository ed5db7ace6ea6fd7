package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// argsEnv carries the command line (JSON) of a child process that runs main.
const argsEnv = "PAPER_TEST_ARGS"

func TestMain(m *testing.M) {
	if spec := os.Getenv(argsEnv); spec != "" {
		var args []string
		if err := json.Unmarshal([]byte(spec), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"paper"}, args...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestUsageErrors: a -runs folder that does not exist (a typo) or holds no experiment's runs,
// -choose without -loss and a stray argument are usage errors (exit status 2) naming what is
// wrong. The first printed every table empty and exited 0, as if no run had finished.
func TestUsageErrors(t *testing.T) {
	tmp := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-runs", filepath.Join(tmp, "runs", "papr")}, "-runs"},
		{[]string{"-runs", tmp}, "-runs"},
		{[]string{"-choose", tmp}, "-loss"},
		{[]string{"-runs", tmp, "docs/figures"}, `unexpected argument "docs/figures"`},
	} {
		spec, _ := json.Marshal(tc.args)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), argsEnv+"="+string(spec))
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%q: exit %d, want 2 saying %q:\n%s", tc.args, code, tc.want, out)
		}
	}
}
