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
