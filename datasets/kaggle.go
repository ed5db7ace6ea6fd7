package datasets

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx-ssl/vicreg/internal/flagargs"
)

// Kaggle's copy of ImageNet (the ImageNet Object Localization Challenge's data) keeps the images
// of ILSVRC2012 under ROOT/ILSVRC/Data/CLS-LOC: train/WNID/*.JPEG, an image folder as it is, and
// val/*.JPEG, flat, labelled by ROOT/LOC_val_solution.csv (ImageId, and PredictionString: the
// class and box of each object, "n01751748 10 20 300 200 n01751748 ...").
var (
	kaggleImages      = filepath.Join("ILSVRC", "Data", "CLS-LOC")
	kaggleValSolution = "LOC_val_solution.csv"
)

// kaggleRootErr is the usage error of root when it is the top of Kaggle's copy of ImageNet, whose
// images lie three folders down (read as they are, its folders would be one class); nil otherwise.
func kaggleRootErr(root string) error {
	if !isDir(filepath.Join(root, kaggleImages)) {
		return nil
	}
	images := filepath.Join(root, kaggleImages)
	return usageErr(root, fmt.Errorf("holds Kaggle's copy of ImageNet, whose images are in %s", images),
		"give "+flagargs.ShellQuote(images)+" instead; its val/ images are labelled by "+filepath.Join(root, kaggleValSolution))
}

// kaggleSolution is the LOC_val_solution.csv that labels the images of dir when dir is the val/
// folder of Kaggle's copy of ImageNet (ROOT/ILSVRC/Data/CLS-LOC/val), "" otherwise.
func kaggleSolution(dir string) string {
	dir = filepath.Clean(dir)
	if filepath.Base(dir) != "val" || !strings.HasSuffix(filepath.Dir(dir), string(filepath.Separator)+kaggleImages) {
		return ""
	}
	file := filepath.Join(strings.TrimSuffix(filepath.Dir(dir), kaggleImages), kaggleValSolution)
	if st, err := os.Stat(file); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return file
}

// readKaggleSolution reads LOC_val_solution.csv as a label table: ImageId names each image without
// its extension, and the class of its objects (each the first of five words of PredictionString)
// is its label. An image whose objects are of two classes, or of none, is refused.
func readKaggleSolution(file string) (*metadataTable, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, usageErr(file, err, "give a readable "+kaggleValSolution)
	}
	defer fh.Close()
	t := &metadataTable{path: file, rows: map[string]metadataRow{}, outside: true, fileColumn: "ImageId", column: "PredictionString"}
	cr := csv.NewReader(bufio.NewReader(fh))
	header, err := cr.Read()
	if err == nil && !slices.Equal(header, []string{t.fileColumn, t.column}) {
		err = fmt.Errorf("header %q, want ImageId,PredictionString", strings.Join(header, ","))
	}
	if err != nil {
		return nil, usageErr(file, err, "give Kaggle's "+kaggleValSolution+" as it comes")
	}
	t.columns = header
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, usageErr(file, err, "")
		}
		words := strings.Fields(rec[1])
		class := ""
		for i := 0; i < len(words); i += 5 {
			if class != "" && words[i] != class {
				return nil, usageErr(file, fmt.Errorf("line %d: %s holds objects of two classes, %s and %s", line, rec[0], class, words[i]),
					"give Kaggle's "+kaggleValSolution+" as it comes (each validation image is of one class)")
			}
			class = words[i]
		}
		if len(words)%5 != 0 {
			return nil, usageErr(file, fmt.Errorf("line %d: %d words in PredictionString, not a class and four coordinates for each object", line, len(words)), "")
		}
		if err := t.add(rec[0], class, "", line); err != nil {
			return nil, err
		}
	}
}
