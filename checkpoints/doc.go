// Package checkpoints saves and restores everything needed to resume VICReg training exactly:
// the variables of a GoMLX context (model weights, optimizer state, the random-number-generator
// state), the step and epoch, the training configuration, the data-loader position and metrics.
//
// A checkpoint is one safetensors file (https://github.com/huggingface/safetensors), so Python's
// safetensors and every other reader opens it. It is written atomically (through
// internal/atomicfile: temporary file in the same folder, fsync, rename, fsync of the folder) and
// verified on load with a SHA-256 checksum: a truncated or corrupted file gives an error naming
// the file and the problem, never a panic and never a partially loaded state.
//
// # File format (version 2)
//
// A safetensors file (8-byte little-endian header length, JSON header padded with spaces to a
// multiple of 8, tensor data), written by the checkpoints/safetensors package. Each variable is
// one tensor named by its key, "scope/name" ("/encoder/layer1/0/conv1/weights", "/#rngState"),
// with its dtype (BOOL, U8, I8, U16, I16, U32, U64, I32, I64, F16, BF16, F32, F64, C64) and shape
// ([] for a scalar). The data lies in the order of State.Variables, contiguous; Load returns the
// variables in that order. The "__metadata__" strings are
//
//	format          "vicreg-checkpoint"
//	format_version  "2"
//	step            training step (number of optimizer updates done), in decimal
//	epoch           training epoch, in decimal
//	time            when the checkpoint was made, RFC 3339 with nanoseconds, UTC
//	config          the training configuration, compact JSON (absent when empty)
//	data            the data-loader position, compact JSON (absent when empty)
//	metrics         JSON object name → number; NaN and ±Inf as "NaN", "+Inf", "-Inf" (absent when empty)
//	trainable       JSON array of the keys of the trainable variables
//	sha256          the checksum, 64 lowercase hex digits
//
// The checksum covers every field of the header and every byte of data, independently of the
// order of the JSON keys: it is the SHA-256 of the canonical serialisation
//
//	"vicreg-checkpoint-sha256 2\n"
//	for each tensor, in byte-wise order of the names:
//	    "tensor <len(name)>:<name> <dtype> [<d0>,<d1>,...] <begin> <end> <SHA-256 of its data, hex>\n"
//	for each metadata key but "sha256", in byte-wise order of the keys:
//	    "meta <len(key)>:<key> <len(value)>:<value>\n"
//
// where lengths count UTF-8 bytes and numbers are decimal (begin and end are the tensor's
// data_offsets). So a flipped digit in the step, a shape or an offset, a flipped bit in the data
// and a renamed variable are all caught; checkpoints/testdata/read_checkpoint.py recomputes it in
// Python.
//
// Files of version 1 (the .vckpt container, starting with "vicreg-checkpoint 1\n") are not
// read: Load returns an error wrapping ErrOldFormat that names the converter,
// `go run ./checkpoints/convert-vckpt FILE_OR_DIR...`.
//
// # Managing a folder of checkpoints
//
// A Manager names checkpoints after their step (ckpt-000001234.safetensors), keeps the last N
// plus the one with the best value of a chosen metric, loads the newest valid one (skipping,
// reporting and keeping corrupt ones) and ignores and cleans the temporary files a crash may
// leave behind. One process at a time may write to a folder: Lock takes a lock on it for the
// process's life, which the kernel releases when the process dies.
package checkpoints
