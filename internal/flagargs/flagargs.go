// Package flagargs holds what the commands share about their command lines beyond the flag
// package.
package flagargs

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// Stray describes the first of args that fs.Parse left unread, for a usage error, or ""
// when fs read them all. The flag package stops at the first argument that is not a flag and
// leaves every flag after it unread; the usual cause is a value given apart from its boolean flag
// (-baselines false), for which the message gives the form that works (-baselines=false).
func Stray(fs *flag.FlagSet, args []string) string {
	if fs.NArg() == 0 {
		return ""
	}
	stray := fs.Arg(0)
	if i := len(args) - fs.NArg() - 1; i >= 0 && strings.HasPrefix(args[i], "-") {
		name := strings.TrimLeft(args[i], "-")
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				if _, err := strconv.ParseBool(stray); err == nil {
					return fmt.Sprintf("unexpected argument %q after -%s: a boolean flag takes its value after =, as in -%s=%s", stray, name, name, stray)
				}
			}
		}
	}
	if strings.HasSuffix(strings.ToLower(stray), ".tar") {
		return fmt.Sprintf("unexpected argument %q: quote a shard pattern (-data-dir 'dir/train-{000000..000146}.tar'), or the shell expands it into many arguments", stray)
	}
	return fmt.Sprintf("unexpected argument %q (flags start with -)", stray)
}

// Parse parses args with fs and prints no more than the user needs: for -h, the usage (fs.Usage);
// for a bad flag, one line saying what is wrong, with the flag of fs nearest by spelling when the
// flag is unknown ("did you mean -data-dir?"), and how to list the flags. command is the
// package the user runs ("./train"). It returns what fs.Parse returns (flag.ErrHelp for -h).
func Parse(fs *flag.FlagSet, args []string, command string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
	case err != nil:
		fmt.Fprintf(out, "%s: %s\nRun 'go run %s -h' for the flags.\n", path.Base(command), Message(fs, err), command)
	}
	return err
}

// Message is the one-line description of err, an error of fs.Parse: for a flag fs does not
// define, with the flag of fs nearest to it by spelling, if one is within two edits.
func Message(fs *flag.FlagSet, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return err.Error()
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if i := Nearest(name, names); i >= 0 {
		return fmt.Sprintf("unknown flag -%s: did you mean -%s?", name, names[i])
	}
	return fmt.Sprintf("unknown flag -%s", name)
}

// Nearest returns the index of the candidate closest to s by edit distance (ignoring case), if
// one is within two edits, otherwise -1; the first of equally close ones.
func Nearest(s string, candidates []string) int {
	best, bestDist := -1, 3
	for i, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = i, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		diag := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			sub := diag
			if a[i-1] != b[j-1] {
				sub++
			}
			diag = row[j]
			row[j] = min(row[j]+1, row[j-1]+1, sub)
		}
	}
	return row[len(b)]
}

// ShellQuote writes s (a path in a command printed for the user to paste) so that a POSIX shell
// reads it back as one word: in single quotes where it holds a space or a character the shell
// would interpret, as it is otherwise.
func ShellQuote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n'\"$`\\{}*?[]()<>|&;~#!") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
