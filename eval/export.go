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

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// WriteEmbeddings writes f to path, atomically (internal/atomicfile). The format follows the
// extension: ".npy" writes a float32 [N, D] NumPy array (and the labels, when present, to
// "<name>.labels.npy" beside it); ".csv" writes one row per embedding, the label first when present.
// Where rows were left out (f.Index set), each row's image index goes to "<name>.index.npy", or
// to an "index" column first. With f.Files, each row's image file goes to "<name>.files.txt"
// (FilesFile), one per line, for either format. An export removes the side files of an earlier
// one to path that it does not write again.
func WriteEmbeddings(path string, f Features) error {
	if err := f.Validate("exported"); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".npy" || ext == ".csv" {
		if err := writeFiles(FilesFile(path), f.Files); err != nil {
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

// writeFiles writes names to path, one per line, or removes an earlier file there when names is
// nil (it would describe other rows). A name holding a line break is refused: it would read back
// as two rows.
func writeFiles(path string, names []string) error {
	if names == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("embeddings: removing the earlier %s: %w", path, err)
		}
		return nil
	}
	for i, n := range names {
		if strings.ContainsAny(n, "\n\r") {
			return fmt.Errorf("embeddings: the file of row %d, %q, has a line break: it cannot be listed one per line in %s; rename it", i, n, path)
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

// PredictionRow is a classifier's prediction for one image: the image (its file, or its index),
// its label ("" where unknown), the class predicted and the probability the classifier gives it.
type PredictionRow struct {
	Image, Label, Predicted string
	Prob                    float32
}

// WritePredictions writes rows to path as CSV, atomically, under the header imageColumn ("file"
// or "index"), label, predicted, probability.
func WritePredictions(path, imageColumn string, rows []PredictionRow) error {
	return atomicfile.Write(path, 0, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{imageColumn, "label", "predicted", "probability"}); err != nil {
			return err
		}
		for _, r := range rows {
			if err := cw.Write([]string{r.Image, r.Label, r.Predicted, strconv.FormatFloat(float64(r.Prob), 'f', 6, 32)}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}
