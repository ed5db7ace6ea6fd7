package datasets

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// Tail returns the last n images of d (a copy), or d itself when n <= 0 or n >= d.N.
func (d *Dataset) Tail(n int) *Dataset {
	if n <= 0 || n >= d.N {
		return d
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = d.N - n + i
	}
	return d.Subset(idx)
}

// LabelFraction returns the indices (sorted) of a class-balanced subset holding percent% of the
// labelled images: from each class, round(percent/100 · its count) images (at least one), drawn
// by a permutation of the class's images that depends only on seed and the class. For one seed
// the subsets are nested: the 1% subset lies inside the 10% subset, as the semi-supervised
// protocols that compare label budgets expect. Unlabelled images (label -1) are never chosen.
// percent must be in (0, 100]; 100 returns every labelled image.
func LabelFraction(labels []int32, numClasses int, percent float64, seed uint64) ([]int, error) {
	if !(percent > 0 && percent <= 100) {
		return nil, fmt.Errorf("label fraction %g%%: want a percentage in (0, 100]", percent)
	}
	if labels == nil || numClasses <= 0 {
		return nil, fmt.Errorf("label fraction: the data set has no labels")
	}
	byClass := make([][]int, numClasses)
	for i, l := range labels {
		if l >= 0 && int(l) < numClasses {
			byClass[l] = append(byClass[l], i)
		}
	}
	var out []int
	for c, idx := range byClass {
		if len(idx) == 0 {
			continue
		}
		k := max(1, int(math.Round(percent/100*float64(len(idx)))))
		rng := rand.New(rand.NewPCG(SplitMix64(seed^0x1abe1), SplitMix64(uint64(c))))
		perm := rng.Perm(len(idx))
		for _, p := range perm[:min(k, len(idx))] {
			out = append(out, idx[p])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("label fraction: the data set has no labelled image")
	}
	sort.Ints(out)
	return out, nil
}

// nameKey is the hash that orders images by name where a choice must not depend on a seed or on
// the order of listing (Folder.holdOut, Folds): FNV-1a of the name, then SplitMix64.
func nameKey(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return SplitMix64(h.Sum64())
}

// Folds assigns the labelled rows (label >= 0) to k folds for k-fold cross-validation, stratified
// by class: each class's rows, ordered by the hash of their names (nameKey, then the names), are
// dealt to the folds in turn, one count carried on from class to class, so that every fold holds
// each class's share to within one row and the folds' sizes differ by at most one. It returns
// each row's fold, -1 for an unlabelled row. The folds depend on the names alone (for an image
// folder, the paths relative to it), not on a seed or on the order of the rows. It is an error
// for k to be below 2 or above the number of labelled rows, or for names not to match labels.
func Folds(labels []int32, numClasses int, names []string, k int) ([]int, error) {
	if len(names) != len(labels) {
		return nil, fmt.Errorf("folds: %d names for %d rows", len(names), len(labels))
	}
	byClass := make([][]int, numClasses)
	labelled := 0
	for i, l := range labels {
		if l >= 0 && int(l) < numClasses {
			byClass[l] = append(byClass[l], i)
			labelled++
		}
	}
	switch {
	case k < 2:
		return nil, fmt.Errorf("%d folds: want 2 or more", k)
	case k > labelled:
		return nil, fmt.Errorf("%d folds of %d labelled images: want at most one fold per image", k, labelled)
	}
	fold := make([]int, len(labels))
	for i := range fold {
		fold[i] = -1
	}
	keys := make([]uint64, len(names))
	for i, n := range names {
		keys[i] = nameKey(n)
	}
	next := 0
	for _, idx := range byClass {
		slices.SortFunc(idx, func(a, b int) int { return cmp.Or(cmp.Compare(keys[a], keys[b]), strings.Compare(names[a], names[b])) })
		for _, i := range idx {
			fold[i] = next % k
			next++
		}
	}
	return fold, nil
}

// Select returns the samples of src at the given indices as a Source of their own (sample i is
// src's sample indices[i]); an in-memory *Dataset is copied (Subset), other sources are read
// through. Its Info is src's with Len the number of indices.
func Select(src Source, indices []int) Source {
	if ds, ok := src.(*Dataset); ok {
		return ds.Subset(indices)
	}
	return &selection{src: src, idx: indices}
}

type selection struct {
	src Source
	idx []int
}

func (s *selection) Info() Info {
	info := s.src.Info()
	info.Len = len(s.idx)
	return info
}

func (s *selection) Label(i int) int32 { return s.src.Label(s.idx[i]) }

func (s *selection) Decode(i int) (Image, error) { return s.src.Decode(s.idx[i]) }

// Labels returns the label of every sample of src (-1 where unknown).
func Labels(src Source) []int32 {
	out := make([]int32, src.Info().Len)
	for i := range out {
		out[i] = src.Label(i)
	}
	return out
}
