package flagargs

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// Stray names the first argument the flag package left unread, and for a true/false given apart
// from its boolean flag (which the flag package reads as the flag alone, then stops) the form
// that works; "" when every argument was read.
func TestStray(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-verify", "-n", "2"}, ""},
		{[]string{"-verify", "false", "-n", "2"}, `unexpected argument "false" after -verify: a boolean flag takes its value after =, as in -verify=false`},
		{[]string{"--verify", "true"}, "-verify=true"},
		{[]string{"-n", "2", "photos"}, `unexpected argument "photos" (flags start with -)`},
		{[]string{"-n", "2", "true"}, `unexpected argument "true" (flags start with -)`},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Bool("verify", false, "")
		fs.Int("n", 0, "")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got := Stray(fs, tc.args)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}
