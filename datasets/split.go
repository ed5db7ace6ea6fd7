package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
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
