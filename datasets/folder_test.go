package datasets

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/log"
)

func writePNG(t *testing.T, path string, w, h int, f func(x, y int) color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, f(x, y))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(fh, img)
	} else {
		err = jpeg.Encode(fh, img, &jpeg.Options{Quality: 100})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestFolder(t *testing.T) {
	root := t.TempDir()
	col := func(k int) func(x, y int) color.RGBA {
		return func(x, y int) color.RGBA { return color.RGBA{uint8(10*x + k), uint8(20 * y), uint8(k), 255} }
	}
	writePNG(t, filepath.Join(root, "train", "cat", "b.png"), 6, 4, col(1))
	writePNG(t, filepath.Join(root, "train", "cat", "a.png"), 6, 4, col(2))
	writePNG(t, filepath.Join(root, "train", "dog", "c.jpg"), 6, 4, func(x, y int) color.RGBA { return color.RGBA{128, 128, 128, 255} })
	ds, err := LoadWith("folder", SplitTrain, Options{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 3 || ds.Height != 4 || ds.Width != 6 || ds.Channels != 3 || ds.NumClasses != 2 {
		t.Fatalf("got N=%d %dx%dx%d (width x height x channels), %d classes; want 3 6x4x3, 2 classes", ds.N, ds.Width, ds.Height, ds.Channels, ds.NumClasses)
	}
	if ds.ClassNames[0] != "cat" || ds.ClassNames[1] != "dog" || ds.Labels[0] != 0 || ds.Labels[1] != 0 || ds.Labels[2] != 1 {
		t.Fatalf("classes %v labels %v", ds.ClassNames, ds.Labels)
	}
	// Sorted: a.png (k=2) first; PNG pixels are exact.
	for y := range 4 {
		for x := range 6 {
			want := col(2)(x, y)
			got := ds.Image(0)[(y*6+x)*3:]
			if got[0] != want.R || got[1] != want.G || got[2] != want.B {
				t.Fatalf("pixel (%d, %d) = %v, want %v", x, y, got[:3], want)
			}
		}
	}
	if v := ds.Image(2)[0]; math.Abs(float64(v)-128) > 2 {
		t.Fatalf("JPEG gray pixel %d, want about 128", v)
	}
	// Flat folder: unlabeled; resized to a square.
	flat := t.TempDir()
	writePNG(t, filepath.Join(flat, "x.png"), 8, 4, col(0))
	writePNG(t, filepath.Join(flat, "y.png"), 4, 8, col(0))
	ds, err = LoadFolder(flat, "", 4)
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 2 || ds.Labels != nil || ds.Height != 4 || ds.Width != 4 {
		t.Fatalf("flat folder: N=%d labels %v %dx%d", ds.N, ds.Labels, ds.Width, ds.Height)
	}
	// The centre crop of x.png at the same scale is exact: columns 2..5.
	if got, want := ds.Image(0)[0], col(0)(2, 0).R; got != want {
		t.Fatalf("centre crop pixel %d, want %d", got, want)
	}
}

func TestFolderErrors(t *testing.T) {
	empty := t.TempDir()
	mixed := t.TempDir()
	writePNG(t, filepath.Join(mixed, "a.png"), 4, 4, func(x, y int) color.RGBA { return color.RGBA{} })
	writePNG(t, filepath.Join(mixed, "b.png"), 5, 4, func(x, y int) color.RGBA { return color.RGBA{} })
	broken := t.TempDir()
	writeFile(t, filepath.Join(broken, "bad.jpg"), []byte("not an image"))
	tests := []struct {
		name, dir, want string
	}{
		{"empty", empty, empty + ": no .jpg"},
		{"missing", filepath.Join(empty, "nope"), filepath.Join(empty, "nope")},
		{"sizes differ", mixed, filepath.Join(mixed, "b.png") + ": is 5x4, want 4x4"},
		{"unreadable", broken, "bad image " + filepath.Join(broken, "bad.jpg")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadFolder(tc.dir, "", 0); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestFolderHeldOutClassesNumberedAsTrain: a val/ without one of train/'s class folders numbers
// its classes as train/ does (dog is 2 in both), where torchvision's ImageFolder would number them
// by val/'s own list (dog 1).
func TestFolderHeldOutClassesNumberedAsTrain(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"train/bird/a.png", "train/cat/b.png", "train/dog/c.png", "val/bird/d.png", "val/dog/e.png"} {
		writePNG(t, filepath.Join(root, p), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	d, err := Open("folder", SplitTest, Options{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	f := d.(*Folder)
	if names := f.Info().ClassNames; len(names) != 3 || names[2] != "dog" || f.Label(0) != 0 || f.Label(1) != 2 {
		t.Errorf("classes %v, labels %d %d; want train/'s 3 classes, bird 0 and dog 2", names, f.Label(0), f.Label(1))
	}
}

// TestFolderHeldOutAliases: Hugging Face's validation/ and Kaggle's valid/ beside train/ are the
// held-out split (before test/, as val/ is); without train/ beside it, a folder named valid is a
// class; in another case it is refused, as Val/ is.
func TestFolderHeldOutAliases(t *testing.T) {
	pixel := func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} }
	for _, alias := range []string{"validation", "valid"} {
		root := t.TempDir()
		for _, p := range []string{"train/a/1.png", "train/b/2.png", alias + "/a/3.png", alias + "/b/4.png", "test/a/5.png", "test/b/6.png"} {
			writePNG(t, filepath.Join(root, p), 4, 4, pixel)
		}
		d, err := OpenTest("folder", Options{DataDir: root})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.(*Folder).Dir(); got != filepath.Join(root, alias) {
			t.Errorf("%s: the test split is %s, want %s", alias, got, filepath.Join(root, alias))
		}
	}
	classes := t.TempDir()
	for _, p := range []string{"valid/1.png", "invalid/2.png"} {
		writePNG(t, filepath.Join(classes, p), 4, 4, pixel)
	}
	if d, err := Open("folder", SplitTrain, Options{DataDir: classes}); err != nil || d.Info().NumClasses != 2 {
		t.Errorf("class folders valid/ and invalid/: %v, want 2 classes", err)
	}
	if _, err := OpenTest("folder", Options{DataDir: classes}); !errors.Is(err, ErrNoSplit) {
		t.Errorf("class folders valid/ and invalid/: OpenTest gives %v, want no held-out split", err)
	}
	other := t.TempDir()
	for _, p := range []string{"train/a/1.png", "Validation/a/2.png"} {
		writePNG(t, filepath.Join(other, p), 4, 4, pixel)
	}
	if _, err := OpenTest("folder", Options{DataDir: other}); err == nil || !strings.Contains(err.Error(), "holds Validation/: split folders are read in lower case only") {
		t.Errorf("Validation/ beside train/: %v, want it refused", err)
	}
}

// TestWarnLeftOut: a photo folder with one subfolder is read as class folders (ImageFolder's
// rule): the photos beside it are left out, and the warning says how many images that is, apart
// from the other files left out.
func TestWarnLeftOut(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.jpg", "b.png", "c.JPG", "nested/d.png"} {
		writePNG(t, filepath.Join(dir, name), 4, 4, func(x, y int) color.RGBA { return color.RGBA{1, 2, 3, 255} })
	}
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("x"))
	writeFile(t, filepath.Join(dir, "nested", "e.gif"), []byte("x"))
	f, err := OpenFolder(dir, SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	f.WarnLeftOut(log.New(&logged))
	out := logged.String()
	if f.Info().Len != 1 || !strings.Contains(out, "images beside the class folders left out") || !strings.Contains(out, "images=3") ||
		!strings.Contains(out, "files left out: not .jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, .tiff, .webp, .heic, .heif or .avif") || !strings.Contains(out, "count=2") {
		t.Errorf("%d images listed; logged:\n%s\nwant 1 image, a warning for 3 images beside the class folder and one for 2 other files", f.Info().Len, out)
	}
	var none bytes.Buffer
	os.Remove(filepath.Join(dir, "nested", "e.gif"))
	clean, err := OpenFolder(filepath.Join(dir, "nested"), SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	clean.WarnLeftOut(log.New(&none))
	if none.Len() != 0 {
		t.Errorf("nothing left out, yet logged: %s", none.String())
	}
}
