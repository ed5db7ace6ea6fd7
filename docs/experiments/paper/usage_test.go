package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/cmdtest"
)

func TestMain(m *testing.M) {
	cmdtest.Main(m, func(args []string) int {
		os.Args = append([]string{"paper"}, args...)
		main()
		return 0
	})
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
		code, out := cmdtest.Run(t, tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%q: exit %d, want 2 saying %q:\n%s", tc.args, code, tc.want, out)
		}
	}
}
