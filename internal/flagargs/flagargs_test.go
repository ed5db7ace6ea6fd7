package flagargs

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os/exec"
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
		{[]string{"-dir", "s/train-000000.tar", "s/train-000001.tar"}, `unexpected argument "s/train-000001.tar": quote a shard pattern`},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Bool("verify", false, "")
		fs.Int("n", 0, "")
		fs.String("dir", "", "")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got := Stray(fs, tc.args)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestParse: a bad flag prints one line, with the nearest flag for a misspelt one, and where to
// find the flags, not the whole usage; -h prints the usage; a good command line prints nothing.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		err  bool
	}{
		{[]string{"-data-dri", "x"}, "train: unknown flag -data-dri: did you mean -data-dir?\nRun 'go run ./train -h' for the flags.\n", true},
		{[]string{"-zzzzzz"}, "train: unknown flag -zzzzzz\nRun 'go run ./train -h' for the flags.\n", true},
		{[]string{"-epochs", "x"}, `train: invalid value "x" for flag -epochs: parse error` + "\nRun 'go run ./train -h' for the flags.\n", true},
		{[]string{"-h"}, "USAGE\n", true},
		{[]string{"-epochs", "3"}, "", false},
	} {
		var out bytes.Buffer
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		fs.SetOutput(&out)
		fs.String("data-dir", "", "")
		fs.Int("epochs", 1, "")
		fs.Usage = func() { io.WriteString(fs.Output(), "USAGE\n") }
		err := Parse(fs, tc.args, "./train")
		if out.String() != tc.want || (err != nil) != tc.err || (tc.args[0] == "-h") != errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: printed %q, error %v; want %q", tc.args, out.String(), err, tc.want)
		}
	}
	if i := Nearest("Lamda", []string{"mu", "lambda", "nu"}); i != 1 {
		t.Errorf("Nearest(Lamda): %d, want 1 (lambda, case ignored)", i)
	}
	if i := Nearest("abcdef", []string{"uvwxyz"}); i != -1 {
		t.Errorf("Nearest of nothing close: %d, want -1", i)
	}
}

// TestShellQuote: a quoted path reads back through sh as the one word it was (spaces, quotes,
// $, globs, ~); a plain path is left as it is.
func TestShellQuote(t *testing.T) {
	if got := ShellQuote("/runs/x/config.json"); got != "/runs/x/config.json" {
		t.Errorf("a plain path: %q", got)
	}
	for _, p := range []string{"/tmp/my run/config.json", "it's", `a"b`, "$HOME/x", "a*b?[c]", "~/x", "a\\b", "", "a;b|c&d"} {
		out, err := exec.Command("sh", "-c", "printf '%s' "+ShellQuote(p)).Output()
		if err != nil || string(out) != p {
			t.Errorf("ShellQuote(%q) = %s reads back as %q (%v)", p, ShellQuote(p), out, err)
		}
	}
}
