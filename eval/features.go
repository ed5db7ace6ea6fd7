// Package eval measures frozen representations: an offline linear probe, a weighted kNN
// classifier, and embedding export (CSV or NumPy .npy).
//
// Every function works on Features, embeddings computed beforehand (for example by
// encoder.Encoder.EmbedDataset), so the same code evaluates a trained encoder, a randomly initialised one
// and raw pixels.
package eval

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Features is a row-major matrix of N embeddings of dimension D, with optional labels.
type Features struct {
	X          []float32 // N*D values, row i is X[i*D:(i+1)*D]
	N, D       int
	Labels     []int32 // nil for unlabeled data; -1 for a row whose label is unknown
	NumClasses int
	// Index is the data set's index of each row where rows were left out (images that did not
	// decode, skipped by encoder.EmbedOptions.SkipBadImages); nil when row i is image i.
	Index []int32
	// Files is the image file of each row where the images are files (an image folder); nil
	// otherwise. WriteEmbeddings writes it beside the export (FilesFile).
	Files []string
	// Keys is the WebDataset key of each row where the images are samples of tar shards (KEY of
	// KEY.jpg; mkshards makes it the image's path in its folder, less the extension); nil
	// otherwise. WriteEmbeddings writes it beside the export (KeysFile).
	Keys []string
}

// Validate reports inconsistent sizes, NaN or Inf values and labels out of range (-1, unknown,
// is in range: STL-10's train+unlabeled split; the probe and kNN refuse it, see labeled).
func (f Features) Validate(name string) error {
	if f.N <= 0 || f.D <= 0 {
		return fmt.Errorf("%s features: empty (%d rows of dimension %d)", name, f.N, f.D)
	}
	if len(f.X) != f.N*f.D {
		return fmt.Errorf("%s features: %d values for %d rows of dimension %d", name, len(f.X), f.N, f.D)
	}
	for i, v := range f.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s features: non-finite value %v in row %d", name, v, i/f.D)
		}
	}
	if f.Index != nil && len(f.Index) != f.N {
		return fmt.Errorf("%s features: %d indices for %d rows", name, len(f.Index), f.N)
	}
	if f.Files != nil && len(f.Files) != f.N {
		return fmt.Errorf("%s features: %d file names for %d rows", name, len(f.Files), f.N)
	}
	if f.Keys != nil && len(f.Keys) != f.N {
		return fmt.Errorf("%s features: %d keys for %d rows", name, len(f.Keys), f.N)
	}
	if f.Labels != nil {
		if len(f.Labels) != f.N {
			return fmt.Errorf("%s features: %d labels for %d rows", name, len(f.Labels), f.N)
		}
		for i, l := range f.Labels {
			if l < -1 || int(l) >= f.NumClasses {
				return fmt.Errorf("%s features: label %d of row %d outside [0, %d) (or -1, unknown)", name, l, i, f.NumClasses)
			}
		}
	}
	return nil
}

// labeled reports features that a classifier (the probe, kNN) cannot use: no labels, or rows
// whose label is unknown (-1), which would be counted as a class of their own. what names the
// classifier, name the features.
func (f Features) labeled(what, name string) error {
	if f.Labels == nil {
		return fmt.Errorf("%s needs labeled features: the %s features have no labels (evaluate on a labeled split)", what, name)
	}
	if i := slices.Index(f.Labels, -1); i >= 0 {
		n := 0
		for _, l := range f.Labels {
			if l < 0 {
				n++
			}
		}
		return fmt.Errorf("%s needs labeled features: %d of the %d %s rows have no label (-1), the first row %d (evaluate on a labeled split, e.g. STL-10's train, not train+unlabeled)",
			what, n, f.N, name, i)
	}
	return nil
}

// Row returns row i (a view, not a copy).
func (f Features) Row(i int) []float32 { return f.X[i*f.D : (i+1)*f.D] }

// standardizer holds per-dimension mean and inverse standard deviation.
type standardizer struct{ mean, invStd []float32 }

// fitStandardizer computes per-dimension mean and standard deviation of f (float64 accumulation);
// constant dimensions get an inverse deviation of 1.
func fitStandardizer(f Features) standardizer {
	mean := make([]float64, f.D)
	sq := make([]float64, f.D)
	for i := 0; i < f.N; i++ {
		for j, v := range f.Row(i) {
			mean[j] += float64(v)
			sq[j] += float64(v) * float64(v)
		}
	}
	s := standardizer{mean: make([]float32, f.D), invStd: make([]float32, f.D)}
	for j := range mean {
		m := mean[j] / float64(f.N)
		variance := sq[j]/float64(f.N) - m*m
		s.mean[j] = float32(m)
		s.invStd[j] = 1
		if variance > 1e-12 {
			s.invStd[j] = float32(1 / math.Sqrt(variance))
		}
	}
	return s
}

// apply returns a standardised copy of f.
func (s standardizer) apply(f Features) Features {
	out := f
	out.X = make([]float32, len(f.X))
	for i := 0; i < f.N; i++ {
		row, dst := f.Row(i), out.X[i*f.D:(i+1)*f.D]
		for j, v := range row {
			dst[j] = (v - s.mean[j]) * s.invStd[j]
		}
	}
	return out
}

// Rows returns the rows of f at the given indices (a copy), with their labels, data-set indices,
// files and keys. Where f has no Index (row i is image i), the copy's Index is the indices, so
// that its rows keep their names (Names).
func (f Features) Rows(indices []int) Features {
	out := Features{N: len(indices), D: f.D, NumClasses: f.NumClasses, X: make([]float32, 0, len(indices)*f.D)}
	if f.Labels != nil {
		out.Labels = make([]int32, 0, len(indices))
	}
	out.Index = make([]int32, 0, len(indices))
	if f.Files != nil {
		out.Files = make([]string, 0, len(indices))
	}
	if f.Keys != nil {
		out.Keys = make([]string, 0, len(indices))
	}
	for _, i := range indices {
		out.X = append(out.X, f.Row(i)...)
		if f.Labels != nil {
			out.Labels = append(out.Labels, f.Labels[i])
		}
		if f.Index != nil {
			out.Index = append(out.Index, f.Index[i])
		} else {
			out.Index = append(out.Index, int32(i))
		}
		if f.Files != nil {
			out.Files = append(out.Files, f.Files[i])
		}
		if f.Keys != nil {
			out.Keys = append(out.Keys, f.Keys[i])
		}
	}
	return out
}

// Names names each row's image for a person, and says what the names are (column): "file", the
// image's file relative to root (an image folder; its full path where root is "" or not above
// it), with "/" between folders; "key", its WebDataset key (shards); or "index", its index in
// the data set (in-memory data: MNIST's test image 0 is "0").
func (f Features) Names(root string) (column string, names []string) {
	names = make([]string, f.N)
	column = "index"
	switch {
	case f.Files != nil:
		column = "file"
	case f.Keys != nil:
		column = "key"
	}
	for i := range names {
		switch {
		case f.Files != nil:
			names[i] = f.Files[i]
			if rel, err := filepath.Rel(root, f.Files[i]); err == nil && root != "" && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				names[i] = filepath.ToSlash(rel)
			}
		case f.Keys != nil:
			names[i] = f.Keys[i]
		case f.Index != nil:
			names[i] = strconv.Itoa(int(f.Index[i]))
		default:
			names[i] = strconv.Itoa(i)
		}
	}
	return column, names
}
