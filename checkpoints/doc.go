// Package checkpoints saves and restores everything needed to resume VICReg training exactly:
// the variables of a GoMLX context (model weights, optimizer state, the random-number-generator
// state), the step and epoch, the training configuration, the data-loader position and metrics.
//
// A checkpoint is one file, written atomically (temporary file in the same folder, fsync, rename,
// fsync of the folder) and verified on load with a SHA-256 checksum: a truncated or corrupted file
// gives an error naming the file and the problem, never a panic and never a partially loaded state.
//
// # File format (version 1)
//
// All integers in the binary parts are little-endian. A file is, in order:
//
//	vicreg-checkpoint 1\n        magic word, a space, the format version in decimal, a newline
//	header <N>\n                 the length N in bytes of the JSON header, in decimal
//	<N bytes of JSON>            the header, described below
//	<tensor data>                the raw values of every tensor, concatenated in header order
//	<32 bytes>                   SHA-256 of every byte before it
//
// The JSON header is an object with the fields
//
//	step        int64   training step (number of optimizer updates done)
//	epoch       int     training epoch
//	time        string  when the checkpoint was made, RFC 3339 with nanoseconds
//	config      any     the training configuration, stored verbatim (optional)
//	data        any     the data-loader position, stored verbatim (optional)
//	metrics     object  name → number; NaN and ±Inf are written as the strings "NaN", "+Inf", "-Inf"
//	data_bytes  int64   total length of the tensor data
//	tensors     array   one object per tensor, in the order of the data:
//	    scope      string  GoMLX scope, e.g. "/model/dense_0"
//	    name       string  variable name within the scope, e.g. "weights"
//	    trainable  bool    whether the variable was trainable
//	    dtype      string  one of bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
//	                       float16, bfloat16, float32, float64, complex64, complex128
//	    shape      [int]   dimensions, row-major; [] for a scalar
//	    offset     int64   offset of the first byte from the start of the tensor data
//	    bytes      int64   length in bytes: element size × product of the dimensions
//
// Tensors are contiguous: each offset equals the previous offset plus the previous length, and the
// lengths add up to data_bytes. A file whose length differs from the one the header implies, whose
// checksum does not match, whose magic word or version is unknown, or whose header is inconsistent
// is rejected.
//
// # Managing a folder of checkpoints
//
// A Manager names checkpoints after their step (ckpt-000001234.vckpt), keeps the last N plus the
// one with the best value of a chosen metric, loads the newest valid one (skipping, reporting and
// keeping corrupt ones) and ignores and cleans the temporary files a crash may leave behind.
// One process at a time should write to a Manager's folder.
package checkpoints
