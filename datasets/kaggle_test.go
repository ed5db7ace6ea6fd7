package datasets

import (
	"errors"
	"fmt"
	"image/color"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// kaggleImageNet lays out a miniature of Kaggle's copy of ImageNet under root: two classes of
// training images, and validation images whose classes only LOC_val_solution.csv gives (rows out
// of order, several boxes for some images). It returns the CLS-LOC folder and each validation
// image's class, as the solution gives it.
func kaggleImageNet(t *testing.T, root string) (string, map[string]string) {
	t.Helper()
	images := filepath.Join(root, "ILSVRC", "Data", "CLS-LOC")
	for k, wnid := range []string{"n02119789", "n01440764"} {
		for i := range 3 {
			writePNG(t, filepath.Join(images, "train", wnid, fmt.Sprintf("%s_%d.JPEG", wnid, i)), 4, 4, func(x, y int) color.RGBA { return color.RGBA{uint8(k * 100), uint8(i), 0, 255} })
		}
	}
	val := map[string]string{
		"ILSVRC2012_val_00000001": "n01440764", "ILSVRC2012_val_00000002": "n02119789",
		"ILSVRC2012_val_00000003": "n02119789", "ILSVRC2012_val_00000004": "n01440764",
	}
	for name := range val {
		writePNG(t, filepath.Join(images, "val", name+".JPEG"), 4, 4, func(x, y int) color.RGBA { return color.RGBA{0, 0, 255, 255} })
	}
	writeFile(t, filepath.Join(root, "LOC_val_solution.csv"), []byte("ImageId,PredictionString\n"+
		"ILSVRC2012_val_00000003,n02119789 1 2 3 4 n02119789 0 0 2 2 \n"+
		"ILSVRC2012_val_00000001,n01440764 1 1 3 3\n"+
		"ILSVRC2012_val_00000004,n01440764 0 0 4 4 n01440764 1 1 2 2 n01440764 0 1 2 3\n"+
		"ILSVRC2012_val_00000002,n02119789 0 0 1 1\n"))
	writeFile(t, filepath.Join(root, "LOC_synset_mapping.txt"), []byte("n01440764 tench, Tinca tinca\nn02119789 kit fox, Vulpes macrotis\n"))
	return images, val
}

// TestKaggleImageNet reads Kaggle's copy of ImageNet: train/ as an image folder, and val/ labelled
// by LOC_val_solution.csv, numbered by train/'s classes; the top folder is refused, naming the
// folder to give.
func TestKaggleImageNet(t *testing.T) {
	root := t.TempDir()
	images, val := kaggleImageNet(t, root)
	train, err := Open("folder", SplitTrain, Options{DataDir: images})
	if err != nil {
		t.Fatal(err)
	}
	classes := train.Info().ClassNames
	if !slices.Equal(classes, []string{"n01440764", "n02119789"}) || train.Info().Len != 6 {
		t.Fatalf("train: %d images of classes %q", train.Info().Len, classes)
	}
	d, err := Open("folder", SplitTest, Options{DataDir: images})
	if err != nil {
		t.Fatal(err)
	}
	f := d.(*Folder)
	if f.Info().Len != len(val) || !slices.Equal(f.Info().ClassNames, classes) {
		t.Fatalf("val: %d images of classes %q, want %d of %q", f.Info().Len, f.Info().ClassNames, len(val), classes)
	}
	for i := range f.Info().Len {
		name := strings.TrimSuffix(filepath.Base(f.Path(i)), ".JPEG")
		if got := classes[f.Label(i)]; got != val[name] {
			t.Errorf("%s: class %s, the solution's %s", name, got, val[name])
		}
	}
	_, err = Open("folder", SplitTrain, Options{DataDir: root})
	if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "holds Kaggle's copy of ImageNet") || !strings.Contains(err.Error(), "give "+images+" instead") {
		t.Errorf("the top folder: %v", err)
	}
}

// TestKaggleSolutionRefusals: a solution whose image has objects of two classes, or whose boxes
// are not five words each, or of another header, is refused, naming the line.
func TestKaggleSolutionRefusals(t *testing.T) {
	for _, c := range []struct{ table, want string }{
		{"ImageId,PredictionString\nILSVRC2012_val_00000001,n01440764 1 1 3 3 n02119789 0 0 1 1\n", "line 2: ILSVRC2012_val_00000001 holds objects of two classes, n01440764 and n02119789"},
		{"ImageId,PredictionString\nILSVRC2012_val_00000001,n01440764 1 1 3\n", "line 2: 4 words in PredictionString"},
		{"ImageId,Label\nILSVRC2012_val_00000001,n01440764\n", `header "ImageId,Label", want ImageId,PredictionString`},
	} {
		root := t.TempDir()
		images, _ := kaggleImageNet(t, root)
		writeFile(t, filepath.Join(root, "LOC_val_solution.csv"), []byte(c.table))
		_, err := Open("folder", SplitTest, Options{DataDir: images})
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.table, err, c.want)
		}
	}
}
