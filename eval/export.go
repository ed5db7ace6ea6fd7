package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/core/tensors/numpy"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// WriteEmbeddings writes f to path, atomically (internal/atomicfile). The format follows the
// extension: ".npy" writes a float32 [N, D] NumPy array (and the labels, when present, to
// "<name>.labels.npy" beside it); ".csv" writes one row per embedding, the label first when present.
// Where rows were left out (f.Index set), each row's image index goes to "<name>.index.npy", or
// to an "index" column first. With f.Files, each row's image file goes to "<name>.files.txt"
// (FilesFile), one per line, for either format; with f.Keys, each row's WebDataset key goes to
// "<name>.keys.txt" (KeysFile). An export removes the side files of an earlier one to path that it
// does not write again.
func WriteEmbeddings(path string, f Features) error {
	if err := f.Validate("exported"); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".npy" || ext == ".csv" {
		if err := writeNames(FilesFile(path), "file", f.Files); err != nil {
			return err
		}
		if err := writeNames(KeysFile(path), "key", f.Keys); err != nil {
			return err
		}
	}
	switch ext {
	case ".npy":
		if err := atomicfile.Write(path, 0, func(w io.Writer) error {
			return numpy.ToNpyWriter(tensors.FromFlatDataAndDimensions(f.X, f.N, f.D), w)
		}); err != nil {
			return err
		}
		for side, v := range map[string][]int32{sidePath(path, ".labels.npy"): f.Labels, IndexFile(path): f.Index} {
			if v == nil {
				// One written beside an earlier export to path would describe other rows.
				if err := os.Remove(side); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("embeddings: removing the earlier %s: %w", side, err)
				}
				continue
			}
			if err := atomicfile.Write(side, 0, func(w io.Writer) error {
				return numpy.ToNpyWriter(tensors.FromFlatDataAndDimensions(v, f.N), w)
			}); err != nil {
				return err
			}
		}
		return nil
	case ".csv":
		return atomicfile.Write(path, 0, func(w io.Writer) error { return writeCSV(w, f) })
	default:
		return fmt.Errorf("embeddings file %q: unknown extension %q, use .npy or .csv", path, ext)
	}
}

// FilesFile is where WriteEmbeddings puts the image file of each row, for an export to path of
// features that have them (Features.Files): NAME.files.txt beside it.
func FilesFile(path string) string { return sidePath(path, ".files.txt") }

// KeysFile is where WriteEmbeddings puts the WebDataset key of each row, for an export to path of
// features that have them (Features.Keys): NAME.keys.txt beside it.
func KeysFile(path string) string { return sidePath(path, ".keys.txt") }

// writeNames writes names (each row's file, or key: what) to path, one per line, or removes an
// earlier file there when names is nil (it would describe other rows). A name holding a line
// break is refused: it would read back as two rows.
func writeNames(path, what string, names []string) error {
	if names == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("embeddings: removing the earlier %s: %w", path, err)
		}
		return nil
	}
	for i, n := range names {
		if strings.ContainsAny(n, "\n\r") {
			return fmt.Errorf("embeddings: the %s of row %d, %q, has a line break: it cannot be listed one per line in %s; rename it", what, i, n, path)
		}
	}
	return atomicfile.Write(path, 0, func(w io.Writer) error {
		for _, n := range names {
			if _, err := io.WriteString(w, n+"\n"); err != nil {
				return err
			}
		}
		return nil
	})
}

// IndexFile is where WriteEmbeddings puts each row's image index for an export to path, when
// rows were left out: NAME.index.npy beside a .npy file; "" for a .csv file (its index column).
func IndexFile(path string) string {
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return ""
	}
	return sidePath(path, ".index.npy")
}

// sidePath is the file beside an export to path with the given suffix instead of its extension.
func sidePath(path, suffix string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + suffix
}

func writeCSV(w io.Writer, f Features) error {
	var sb strings.Builder
	if f.Index != nil {
		sb.WriteString("index,")
	}
	if f.Labels != nil {
		sb.WriteString("label,")
	}
	for j := 0; j < f.D; j++ {
		if j > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "z%d", j)
	}
	sb.WriteByte('\n')
	if _, err := io.WriteString(w, sb.String()); err != nil {
		return err
	}
	for i := 0; i < f.N; i++ {
		sb.Reset()
		if f.Index != nil {
			sb.WriteString(strconv.Itoa(int(f.Index[i])))
			sb.WriteByte(',')
		}
		if f.Labels != nil {
			sb.WriteString(strconv.Itoa(int(f.Labels[i])))
			sb.WriteByte(',')
		}
		for j, v := range f.Row(i) {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
		}
		sb.WriteByte('\n')
		if _, err := io.WriteString(w, sb.String()); err != nil {
			return err
		}
	}
	return nil
}

// Predictions are a classifier's predictions of the rows of X, as WritePredictions writes them.
type Predictions struct {
	// X are the rows predicted: their names (Features.Names) and labels, if any.
	X Features
	// Root is the folder that X's files are named relative to (Features.Names).
	Root string
	// Labels names X's labels; Classes names the classes predicted (the training split's).
	Labels, Classes datasets.Info
	// P is the prediction of each row of X.
	P Prediction
	// Fold is the cross-validation fold of each row, that of the classifier that predicted it (an
	// out-of-fold prediction, numbered from 1), written as a "fold" column; nil for none.
	Fold []int
	// Probabilities adds a column per class of Classes, "p_" and its name, with each row's
	// probability of it (P.Probs, which it needs): for a submission that wants them, or for
	// stacking out-of-fold predictions.
	Probabilities bool
}

// WritePredictions writes p to path as CSV, atomically: a row per image, under the header file
// (or key, or index: Features.Names), label (empty where unknown), predicted, probability, fold
// when p.Fold is set, and p_CLASS for each class with p.Probabilities.
func WritePredictions(path string, p Predictions) error {
	classes := p.Classes.NumClasses // of p.P.Probs' rows
	if p.Probabilities && p.X.N > 0 {
		classes = len(p.P.Probs) / p.X.N
	}
	if len(p.P.Class) != p.X.N || len(p.P.Prob) != p.X.N || (p.Fold != nil && len(p.Fold) != p.X.N) ||
		(p.Probabilities && len(p.P.Probs) != p.X.N*classes) {
		panic(fmt.Sprintf("eval.WritePredictions: %d classes, %d probabilities, %d class probabilities (of %d classes) and %d folds for %d rows",
			len(p.P.Class), len(p.P.Prob), len(p.P.Probs), classes, len(p.Fold), p.X.N))
	}
	column, names := p.X.Names(p.Root)
	header := []string{column, "label", "predicted", "probability"}
	if p.Fold != nil {
		header = append(header, "fold")
	}
	first := len(header) // of the class probabilities
	if p.Probabilities {
		for c := range classes {
			header = append(header, "p_"+p.Classes.ClassName(c))
		}
	}
	return atomicfile.Write(path, 0, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		row := make([]string, len(header))
		for i, name := range names {
			row[0], row[1] = name, ""
			if p.X.Labels != nil && p.X.Labels[i] >= 0 {
				row[1] = p.Labels.ClassName(int(p.X.Labels[i]))
			}
			row[2], row[3] = p.Classes.ClassName(int(p.P.Class[i])), strconv.FormatFloat(float64(p.P.Prob[i]), 'f', 6, 32)
			if p.Fold != nil {
				row[4] = strconv.Itoa(p.Fold[i])
			}
			if p.Probabilities {
				for c, v := range p.P.Probs[i*classes : (i+1)*classes] {
					row[first+c] = strconv.FormatFloat(float64(v), 'f', 6, 32)
				}
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}
