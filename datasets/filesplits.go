package datasets

import (
	"fmt"
	"slices"
	"strings"
)

// FileSplit is one split of a data set stored in files that mkshards writes as shards (Parquet
// files, TFRecord files): its name ("train", "val", "test", another split's name, or "" for files
// of no split) and its files, in order.
type FileSplit struct {
	Name  string
	Files []string
}

// FileSplitName is the toolkit's name of a data set's split name: train, val (for validation,
// valid and val, as Hugging Face and TensorFlow Datasets name it), test; known is false for other
// names, which stay as they are.
func FileSplitName(name string) (split string, known bool) {
	switch name {
	case "train", "test":
		return name, true
	case "validation", "valid", "val":
		return "val", true
	}
	return name, false
}

// KnownSplit reports whether name is a split name that FileSplitName knows.
func KnownSplit(name string) bool {
	_, known := FileSplitName(name)
	return known
}

// SortFileSplits returns the splits of files (each split's files, by its name), each split's
// files sorted, train first, then val and test, then the others by name.
func SortFileSplits(files map[string][]string) []FileSplit {
	var splits []FileSplit
	for name, paths := range files {
		splits = append(splits, FileSplit{Name: name, Files: slices.Sorted(slices.Values(paths))})
	}
	rank := func(name string) int {
		if i := slices.Index([]string{"train", "val", "test"}, name); i >= 0 {
			return i
		}
		return 3
	}
	slices.SortFunc(splits, func(a, b FileSplit) int {
		if ra, rb := rank(a.Name), rank(b.Name); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Name, b.Name)
	})
	return splits
}

// ClassNumbers numbers the labels of a split read from files (Parquet, TFRecord) as the classes
// written: either class indices into a list of class names (IndexedClasses: a ClassLabel feature,
// int64 labels), or values whose sorted list is the classes (ValueClasses: strings, bytes). The
// zero value is an unlabeled split's.
type ClassNumbers struct {
	classes  []string
	number   map[string]int32 // each value's class number; nil for class indices
	renumber []int32          // each class index's number (UseClassesOf); nil: the index itself
}

// IndexedClasses numbers class indices into classes.
func IndexedClasses(classes []string) ClassNumbers { return ClassNumbers{classes: classes} }

// ValueClasses numbers the distinct values, sorted as SortClasses sorts them.
func ValueClasses(values []string) ClassNumbers {
	c := ClassNumbers{classes: SortClasses(values), number: make(map[string]int32, len(values))}
	for k, v := range c.classes {
		c.number[v] = int32(k)
	}
	return c
}

// Classes are the class names written (nil: unlabeled).
func (c ClassNumbers) Classes() []string { return c.classes }

// OfIndex is the class number of class index k; false when k is not one.
func (c ClassNumbers) OfIndex(k int64) (int32, bool) {
	switch {
	case c.number != nil || k < 0:
		return -1, false
	case c.renumber != nil:
		if k >= int64(len(c.renumber)) {
			return -1, false
		}
		return c.renumber[k], true
	case k >= int64(len(c.classes)):
		return -1, false
	}
	return int32(k), true
}

// OfValue is the class number of the value v; false when v is not one.
func (c ClassNumbers) OfValue(v string) (int32, bool) {
	k, ok := c.number[v]
	if !ok {
		return -1, false
	}
	return k, true
}

// UseClassesOf numbers the labels of held, a held-out split whose labels c numbers, by the
// classes of the training split train (its labels numbered by trained), so that a label means
// the same class in both (NumberByTrain: a class that the training split lacks is a usage
// error). It does nothing when either is unlabeled.
func (c *ClassNumbers) UseClassesOf(held FileSplit, train FileSplit, trained ClassNumbers) error {
	if c.classes == nil || trained.classes == nil || slices.Equal(c.classes, trained.classes) {
		return nil
	}
	number, err := NumberByTrain(held, c.classes, train, trained.classes)
	if err != nil {
		return err
	}
	if c.number != nil {
		for v, k := range c.number {
			c.number[v] = number[k]
		}
	} else {
		c.renumber = number
	}
	c.classes = trained.classes
	return nil
}

// NumberByTrain numbers the classes of a held-out split (held, its classes) by those of the
// training split train, so that a label means the same class in both: number[k] is the position
// of classes[k] in trainClasses. A class that the training split lacks is a usage error naming
// the held-out split's first file.
func NumberByTrain(held FileSplit, classes []string, train FileSplit, trainClasses []string) ([]int32, error) {
	number, unknown := Renumber(classes, trainClasses)
	if len(unknown) > 0 {
		return nil, &DataError{Kind: ErrUsage, Path: held.Files[0], Index: -1,
			Err:  fmt.Errorf("classes %v of split %q are not among the %d of split %q", unknown, held.Name, len(trainClasses), train.Name),
			Hint: "give both splits the same classes"}
	}
	return number, nil
}
