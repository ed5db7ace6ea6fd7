// Package faults is the fault-injection suite of the toolkit. It holds no library code: its tests
// build the real `train` and `evaluate` commands once, run them as subprocesses and hurt them the
// way real machines do, then check what is left on disk and what the user is told:
//
//   - kill -9 at random moments (also while a checkpoint is being written): every checkpoint
//     left verifies, and -resume ends with exactly the variables of an uninterrupted run;
//   - a full disk while a checkpoint is written, twice: a file-size limit (ulimit -f), and a real
//     ENOSPC from a small tmpfs in a private mount namespace (skipped where unshare may not mount):
//     a clear error, the previous checkpoint intact, and a later -resume matches the
//     uninterrupted run;
//   - a second train into a folder in use: exit 2 naming the other process, nothing touched;
//     after kill -9 of the first, -resume takes its stale lock over and matches the
//     uninterrupted run;
//   - flipped bytes in checkpoints and in MNIST files: detected and named, no panic, no partial load;
//   - a truncated training image or a file deleted while training: exit 1 naming it (for a bad
//     image, also the checkpoint saved, and to replace the image rather than delete it); -resume
//     finishes the run once the file is back;
//   - a non-finite loss: exit 1 naming the step and the value, never a non-finite checkpoint
//     (and the -on-nonfinite rollback path);
//   - bad flags, paths and data sets: exit status 2 with the flag or path named, no stack trace;
//   - with -faults.load, a long run whose resident memory and step time must not grow.
//
// The default is the short form that CI runs (a few kill trials); the full suite is
//
//	go test ./faults -faults.trials 20 -faults.load -timeout 60m -v
package faults
