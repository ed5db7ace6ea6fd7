package datasets

import (
	"errors"
	"fmt"
)

// The kinds of data errors, for errors.Is. Every error of the data path that is about the data
// (rather than a programming error) is a *DataError of one of these kinds.
var (
	// ErrUsage is a data argument that cannot be right: a folder, file or shard pattern that does not
	// exist, a folder without images, an empty class folder, a malformed pattern. A command reports
	// it as a usage error (exit status 2).
	ErrUsage = errors.New("bad data argument")
	// ErrDamaged is data that exist but cannot be used: a file that cannot be read or disappeared
	// while training, a truncated or unreadable shard, a shard sample without its image, an image
	// that does not decode. A command reports it as a failure (exit status 1).
	ErrDamaged = errors.New("damaged data")
	// ErrBadImage is an image whose bytes do not decode (corrupt, truncated, not an image, an
	// unsupported kind): the only kind of error that the SkipBadImages option (of LoaderConfig,
	// EvalConfig, GatherConfig and ShardOptions; the commands' -skip-bad-images) skips. Every
	// ErrBadImage is also ErrDamaged.
	ErrBadImage = errors.New("bad image")
	// ErrNoSplit is an image folder or shard folder that has split folders (train/, val/, test/)
	// but not the one asked for: a caller may then go without that split (no evaluation). It is
	// also ErrUsage.
	ErrNoSplit = errors.New("no such split")
)

// DataError names the file (and, inside a tar shard, the member) that an error is about.
type DataError struct {
	// Kind is ErrUsage, ErrDamaged or ErrBadImage.
	Kind error
	// Path is the file, folder, shard or pattern.
	Path string
	// Member is the tar member (or sample key) inside the shard Path; "" for plain files.
	Member string
	// Index is the sample's index in its data set, or -1 when the error is not about one sample.
	Index int
	// Err is the cause.
	Err error
	// Hint says what to do; "" for the default hint of the kind (for ErrBadImage: replace the file,
	// or for a shard member write the shards again without it, or skip bad images, naming both the
	// commands' -skip-bad-images flag and the SkipBadImages option of the Go configurations).
	Hint string
}

// Name is the file the error is about: Path, or "Path:Member" inside a shard.
func (e *DataError) Name() string {
	if e.Member != "" {
		return e.Path + ":" + e.Member
	}
	return e.Path
}

func (e *DataError) Error() string {
	hint := e.Hint
	if hint == "" {
		switch e.Kind {
		case ErrBadImage:
			fix := "replace the file"
			if e.Member != "" {
				fix = "write the shards again without it (mkshards -verify -skip-bad-images)"
			}
			hint = fix + ", or skip bad images (-skip-bad-images; in Go, the SkipBadImages option)"
		case ErrDamaged:
			hint = "check the file, or restore it and resume"
		}
	}
	msg := fmt.Sprint(e.Err)
	if name := e.Name(); name != "" {
		msg = name + ": " + msg
	}
	if e.Kind == ErrBadImage {
		msg = "bad image " + msg
	}
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

// Cause is what went wrong with the file of err (a *DataError's cause, without the file's name
// or the hint), for a log line that names the file itself and has acted already (skipped it);
// another error's message as it is.
func Cause(err error) string {
	var de *DataError
	if errors.As(err, &de) && de.Err != nil {
		return de.Err.Error()
	}
	return err.Error()
}

// Unwrap gives errors.Is and errors.As the kind and the cause.
func (e *DataError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Is makes every ErrBadImage also an ErrDamaged.
func (e *DataError) Is(target error) bool { return target == ErrDamaged && e.Kind == ErrBadImage }

func usageErr(path string, err error, hint string) error {
	return &DataError{Kind: ErrUsage, Path: path, Index: -1, Err: err, Hint: hint}
}

func damagedErr(path, member string, index int, err error) error {
	return &DataError{Kind: ErrDamaged, Path: path, Member: member, Index: index, Err: err}
}

func badImageErr(path, member string, index int, err error) error {
	return &DataError{Kind: ErrBadImage, Path: path, Member: member, Index: index, Err: err}
}
