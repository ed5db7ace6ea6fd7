package eval

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/core/tensors/numpy"
)

// WriteEmbeddings writes f to path, atomically (temporary file, then rename). The format follows
// the extension: ".npy" writes a float32 [N, D] NumPy array (and the labels, when present, to
// "<name>.labels.npy" beside it); ".csv" writes one row per embedding, the label first when present.
func WriteEmbeddings(path string, f Features) error {
	if err := f.Validate("exported"); err != nil {
		return err
	}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".npy":
		if err := atomicWrite(path, func(tmp string) error {
			return numpy.ToNpyFile(tensors.FromFlatDataAndDimensions(f.X, f.N, f.D), tmp)
		}); err != nil {
			return err
		}
		if f.Labels != nil {
			labels := strings.TrimSuffix(path, filepath.Ext(path)) + ".labels.npy"
			return atomicWrite(labels, func(tmp string) error {
				return numpy.ToNpyFile(tensors.FromFlatDataAndDimensions(f.Labels, f.N), tmp)
			})
		}
		return nil
	case ".csv":
		return atomicWrite(path, func(tmp string) error { return writeCSV(tmp, f) })
	default:
		return fmt.Errorf("embeddings file %q: unknown extension %q, use .npy or .csv", path, ext)
	}
}

func writeCSV(path string, f Features) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(file)
	if f.Labels != nil {
		w.WriteString("label,")
	}
	for j := 0; j < f.D; j++ {
		if j > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, "z%d", j)
	}
	w.WriteByte('\n')
	for i := 0; i < f.N; i++ {
		if f.Labels != nil {
			w.WriteString(strconv.Itoa(int(f.Labels[i])))
			w.WriteByte(',')
		}
		for j, v := range f.Row(i) {
			if j > 0 {
				w.WriteByte(',')
			}
			w.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// atomicWrite calls write on a temporary file beside path, syncs it and renames it to path.
func atomicWrite(path string, write func(tmp string) error) error {
	tmp := path + ".tmp"
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if f, err := os.Open(tmp); err == nil {
		err = f.Sync()
		f.Close()
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
