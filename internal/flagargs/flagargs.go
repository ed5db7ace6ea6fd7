// Package flagargs holds what the commands share about their command lines beyond the flag
// package.
package flagargs

import (
	"flag"
	"fmt"
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
	return fmt.Sprintf("unexpected argument %q (flags start with -)", stray)
}
