package datasets

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// ShardIndex is the JSON index of a set of shards, in the format of WebDataset's wids
// ("wids-shard-index-v1", as its widsindex command writes): each shard's location and number of
// samples, so that shards can be opened without being scanned, which over HTTP would download
// them. Locations are relative to the index's folder (or to BasePath when set) unless absolute.
// Classes, an addition of this toolkit that wids ignores, names the classes of labeled shards;
// without it, the classes.txt beside the index, or else beside the first shard, names them.
// ClassCounts, another, counts the samples of each class (what class weights need beforehand);
// absent in indexes written before it, and by widsindex. LabelMember, a third, names the member
// that holds each sample's class where it is not .cls (ParseShardLabel: "json:label"), so that
// the shards opened by the index read it without being told.
type ShardIndex struct {
	Kind        string         `json:"__kind__"`
	Version     int            `json:"wids_version"`
	Name        string         `json:"name,omitempty"`
	BasePath    string         `json:"base_path,omitempty"`
	Classes     []string       `json:"classes,omitempty"`
	ClassCounts []int          `json:"class_counts,omitempty"`
	LabelMember string         `json:"label_member,omitempty"`
	Shards      []IndexedShard `json:"shardlist"`
}

// IndexedShard is one shard of a ShardIndex.
type IndexedShard struct {
	URL     string `json:"url"`
	Samples int    `json:"nsamples"`
	Size    int64  `json:"filesize,omitempty"` // bytes; 0 when unknown
	// MD5 is the MD5 digest of the shard's bytes in hexadecimal, as widsindex writes it ("":
	// unknown). A shard downloaded (read ahead, or into a shard cache) is checked against it.
	MD5 string `json:"md5sum,omitempty"`
}

const indexKind = "wids-shard-index-v1"

// isIndex reports whether loc names an index: a .json file or URL.
func isIndex(loc string) bool {
	if remote.IsURL(loc) && !remote.IsObject(loc) { // an object's key is not escaped: "?" is part of it
		if u, err := url.Parse(loc); err == nil {
			loc = u.Path
		}
	}
	return !isPipe(loc) && strings.EqualFold(path.Ext(loc), ".json")
}

// beside is the location of the file name in the folder of loc (a file or URL), or "" for a pipe.
func beside(loc, name string) string {
	switch {
	case isPipe(loc):
		return ""
	case remote.IsObject(loc):
		return remote.Beside(loc, name)
	case remote.IsURL(loc):
		u, err := url.Parse(loc)
		if err != nil {
			return ""
		}
		return u.ResolveReference(&url.URL{Path: name}).String()
	}
	return filepath.Join(filepath.Dir(loc), name)
}

// resolve is the location of ref (an index's entry) relative to the index at loc.
func resolve(loc, base, ref string) (string, error) {
	if isRemote(ref) || filepath.IsAbs(ref) {
		return ref, nil
	}
	if base != "" {
		if remote.IsURL(base) {
			return strings.TrimSuffix(base, "/") + "/" + ref, nil
		}
		return filepath.Join(base, ref), nil
	}
	if b := beside(loc, ref); b != "" {
		return b, nil
	}
	return "", fmt.Errorf("shard %q is relative, and an index read through pipe: has no folder: give absolute locations or base_path", ref)
}

// indexCandidates are the places of split's index for the index at loc, in the order they are
// tried: when loc lies in a folder train/, val/ or test/ other than split's, the index of the same
// name in split's folders beside it; then loc.
func indexCandidates(loc, split string) []string {
	dirs := splitDirs(split)
	if isPipe(loc) || len(dirs) == 0 {
		return []string{loc}
	}
	folder, name := filepath.Base(filepath.Dir(loc)), filepath.Base(loc)
	sibling := func(d string) string { return filepath.Join(filepath.Dir(filepath.Dir(loc)), d, name) }
	if remote.IsObject(loc) {
		_, _, key, _ := remote.Split(loc)
		folder, name = path.Base(path.Dir(key)), path.Base(key)
		sibling = func(d string) string { return remote.Beside(loc, "../"+d+"/"+name) }
	} else if remote.IsURL(loc) {
		u, err := url.Parse(loc)
		if err != nil {
			return []string{loc}
		}
		folder, name = path.Base(path.Dir(u.Path)), path.Base(u.Path)
		sibling = func(d string) string { return u.ResolveReference(&url.URL{Path: "../" + d + "/" + name}).String() }
	}
	if folder != "train" && folder != "val" && folder != "test" || slices.Contains(dirs, folder) {
		return []string{loc}
	}
	var out []string
	for _, d := range dirs {
		out = append(out, sibling(d))
	}
	return append(out, loc)
}

// indexForSplit is the first of indexCandidates that exists, or loc.
func indexForSplit(loc, split string) string {
	cands := indexCandidates(loc, split)
	for _, c := range cands[:len(cands)-1] {
		if rc, _, _, err := openLocation(context.Background(), c); err == nil {
			rc.Close()
			return c
		}
	}
	return loc
}

// ReadShardIndex reads the index at loc (a file, or an http(s) URL): a wids index, or timm's
// information file (_info.json), whose training split it returns (readIndex).
func ReadShardIndex(loc string) (*ShardIndex, error) {
	idx, _, err := readIndex(loc, SplitTrain)
	return idx, err
}

// readIndex reads the index at loc for split: a wids index (ShardIndex) as it is, or timm's
// information file (timmInfo), whose split the shards of split are (infoSplit, which it
// returns: "" for a wids index).
func readIndex(loc, split string) (*ShardIndex, string, error) {
	data, err := readLocation(loc, 1<<30)
	if err != nil {
		if notFound(err) {
			return nil, "", usageErr(loc, err, "give the index.json that mkshards writes beside the shards (go run ./datasets/mkshards -index PATTERN writes one for shards made elsewhere), or timm's _info.json")
		}
		return nil, "", damagedErr(loc, "", -1, err)
	}
	var idx ShardIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, "", damagedErr(loc, "", -1, fmt.Errorf("not a shard index: %w", err))
	}
	if info := parseInfo(data); info != nil {
		name, err := info.index(loc, split, &idx)
		return &idx, name, err
	}
	if idx.Kind != "" && idx.Kind != indexKind {
		return nil, "", damagedErr(loc, "", -1, fmt.Errorf("__kind__ %q, want %q", idx.Kind, indexKind))
	}
	if len(idx.Shards) == 0 {
		return nil, "", damagedErr(loc, "", -1, errors.New("the index lists no shards (shardlist)"))
	}
	for i, sh := range idx.Shards {
		if sh.URL == "" || sh.Samples <= 0 {
			return nil, "", damagedErr(loc, "", -1, fmt.Errorf("shard %d of the index: url %q with %d samples, want a location and nsamples > 0", i, sh.URL, sh.Samples))
		}
		if d, err := hex.DecodeString(sh.MD5); err != nil || len(d) != 0 && len(d) != md5.Size {
			return nil, "", damagedErr(loc, "", -1, fmt.Errorf("shard %d of the index: md5sum %q, want 32 hexadecimal digits", i, sh.MD5))
		}
	}
	return &idx, "", nil
}

// readInfo reads timm's information file at loc; nil (and no error) when loc holds a wids index
// or anything else but an information file, which readIndex tells apart.
func readInfo(loc string) (*timmInfo, error) {
	data, err := readLocation(loc, 1<<30)
	if err != nil {
		return nil, err
	}
	return parseInfo(data), nil
}

// parseInfo parses data as timm's information file: nil for a wids index (which has __kind__ or
// shardlist) or anything else without splits.
func parseInfo(data []byte) *timmInfo {
	var probe struct {
		Kind   string          `json:"__kind__"`
		Shards json.RawMessage `json:"shardlist"`
	}
	var info timmInfo
	if json.Unmarshal(data, &probe) != nil || probe.Kind != "" || probe.Shards != nil || json.Unmarshal(data, &info) != nil || info.Splits == nil {
		return nil
	}
	return &info
}

// timmInfo is the information file of timm's WebDataset reader (timm.data.readers.reader_wds),
// _info.json beside the shards, as the Hugging Face Hub's timm/imagenet-1k-wds and its kin hold
// it: each split's shards (relative to the file's folder, as timm joins them), their sample
// counts and their total. It names no classes, and gives no sizes or digests.
type timmInfo struct {
	Name   string                   `json:"name"`
	Splits map[string]timmInfoSplit `json:"splits"`
}

// timmInfoSplit is one split of a timmInfo.
type timmInfoSplit struct {
	NumSamples   int      `json:"num_samples"`
	Filenames    []string `json:"filenames"`
	ShardLengths []int    `json:"shard_lengths"`
}

// infoSplits are the names that timm's information files may give each split, in the order they
// are looked for: the held-out split is val (or validation, valid) before test, as a folder's
// (and as shardSplit reads shards' names).
func infoSplits(split string) []string {
	switch split {
	case SplitTrain, "":
		return []string{"train", "training"}
	case SplitTest:
		return slices.Concat([]string{"val"}, heldOutAliases, []string{"test", "testing"})
	case splitTestOnly:
		return []string{"test", "testing"}
	}
	return []string{split}
}

// infoSplit is the split of info that holds the shards of split (infoSplits), or "" if none.
func (info *timmInfo) infoSplit(split string) string {
	for _, name := range infoSplits(split) {
		if _, ok := info.Splits[name]; ok {
			return name
		}
	}
	return ""
}

// index sets idx to the shards of split that info, read from loc, lists, and returns the name
// of that split in info. Shards that it counts 0 samples are left out; lists of unequal lengths,
// counts below 0 and a total other than num_samples are errors.
func (info *timmInfo) index(loc, split string, idx *ShardIndex) (string, error) {
	name := info.infoSplit(split)
	if name == "" {
		hint := ""
		if split == SplitTest {
			hint = "hold out a percentage of the training shards instead (-val-percent 5)"
		}
		return "", usageErr(loc, fmt.Errorf("timm's information file has no %s split: its splits are %s", strings.Join(infoSplits(split), " or "),
			strings.Join(slices.Sorted(maps.Keys(info.Splits)), ", ")), hint)
	}
	sp := info.Splits[name]
	bad := func(err error) error {
		return damagedErr(loc, "", -1, fmt.Errorf("split %s of timm's information file: %w", name, err))
	}
	if len(sp.Filenames) != len(sp.ShardLengths) {
		return name, bad(fmt.Errorf("%d filenames and %d shard_lengths, want one length for each shard", len(sp.Filenames), len(sp.ShardLengths)))
	}
	*idx = ShardIndex{Name: info.Name}
	total := 0
	for i, f := range sp.Filenames {
		n := sp.ShardLengths[i]
		switch {
		case f == "" || n < 0:
			return name, bad(fmt.Errorf("shard %d: %q with %d samples, want a file name and a length >= 0", i, f, n))
		case n > 0:
			idx.Shards = append(idx.Shards, IndexedShard{URL: f, Samples: n})
			total += n
		}
	}
	switch {
	case sp.NumSamples > 0 && total != sp.NumSamples:
		return name, bad(fmt.Errorf("num_samples is %d, but its shard_lengths add up to %d", sp.NumSamples, total))
	case len(idx.Shards) == 0:
		return name, bad(errors.New("no shard holds samples"))
	}
	return name, nil
}

// openIndex opens the shards that the index of split lists: the first of indexCandidates that
// exists (each read once: no look before). With percent > 0 (openShards), it reads the index of
// the read split (train) and keeps its held-out shards when held is set, the others when not
// (keepHeldOut).
func openIndex(loc, split, read string, held bool, o shardOptions) (*Shards, error) {
	var idx *ShardIndex
	var infoSplit string
	var err error
	for _, loc = range indexCandidates(loc, read) {
		if idx, infoSplit, err = readIndex(loc, read); !notFound(err) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if o.percent > 0 {
		if idx.Shards, err = keepHeldOut(loc, idx.Shards, func(sh IndexedShard) string { return sh.URL }, o.percent, held); err != nil {
			return nil, err
		}
	}
	what := "the index"
	if infoSplit != "" {
		what = "timm's information file"
	}
	return indexedShards(loc, what, idx, split, o)
}

// shardOptions are how openShards reads shards, beyond where they lie.
type shardOptions struct {
	percent float64    // the percentage of the training shards held out (-val-percent; 0: none)
	label   ShardLabel // the member that holds the classes (-label-column)
	classes string     // the location of a class list (-class-names; "": none)
}

// classList reads the class list that o names: nil without one. A missing or empty list, or one
// given with -label-column none, is a usage error.
func (o shardOptions) classList() ([]string, error) {
	if o.classes == "" {
		return nil, nil
	}
	if o.label.None {
		return nil, usageErr(o.classes, errors.New("-class-names names the classes of labels that -label-column none leaves unread"), "leave one of them out")
	}
	names, err := readClassNames(o.classes)
	if err == nil && len(names) == 1 && names[0] == "" {
		err = errors.New("it holds no class names")
	}
	if err != nil {
		return nil, usageErr(o.classes, fmt.Errorf("-class-names: %w", err), "give a file (or URL) of class names, one per line in the order of the class indices, as classes.txt")
	}
	return names, nil
}

// errUnnamedClasses says that shards opened by their counts alone (an index, timm's information
// file, sidecar counts) have labels that nothing there names the classes of.
var errUnnamedClasses = errors.New("no classes, but the shards have labels")

// indexedShards opens the shards that idx, read from loc (what names it in messages: "the
// index"), lists, with the sample counts it gives: nothing is scanned. Their classes are those of
// the class list o names, or the index's, or those of a class list beside loc or the first
// shard; labelled shards without any are an errUnnamedClasses error saying what to do, which the
// first sample tells. o.percent > 0 says that idx lists a part of the shards it was written for
// (-val-percent).
func indexedShards(loc, what string, idx *ShardIndex, split string, o shardOptions) (*Shards, error) {
	var err error
	label := o.label
	if label == (ShardLabel{}) && idx.LabelMember != "" {
		if label, err = ParseShardLabel(idx.LabelMember); err != nil {
			return nil, damagedErr(loc, "", -1, fmt.Errorf("label_member: %w", err))
		}
	}
	s := &Shards{split: split, index: loc, readAhead: DefaultReadAhead, label: label}
	total := 0
	for _, sh := range idx.Shards {
		p, err := resolve(loc, idx.BasePath, sh.URL)
		if err != nil {
			return nil, damagedErr(loc, "", -1, err)
		}
		if !isRemote(p) {
			st, err := os.Stat(p)
			if err != nil {
				return nil, usageErr(p, fmt.Errorf("listed in %s: %w", loc, err), "check that the shards lie where the index says (relative to its folder)")
			}
			if sh.Size > 0 && st.Size() != sh.Size {
				return nil, usageErr(loc, fmt.Errorf("stale: %s is %d bytes, the index says %d", p, st.Size(), sh.Size),
					"write the index again: go run ./datasets/mkshards -index "+filepath.Dir(p))
			}
		}
		s.paths = append(s.paths, p)
		s.sizes = append(s.sizes, sh.Size)
		s.md5s = append(s.md5s, strings.ToLower(sh.MD5))
		s.counts = append(s.counts, sh.Samples)
		s.starts = append(s.starts, total)
		total += sh.Samples
	}
	list, err := o.classList()
	if err != nil {
		return nil, err
	}
	if label.None {
		return s, nil
	}
	s.classes = idx.Classes
	if c := idx.ClassCounts; o.percent == 0 && len(c) == len(idx.Classes) && sum(c) == total && (list == nil || slices.Equal(list, idx.Classes)) {
		s.labelCounts = c // of every shard listed: not of a part of them (-val-percent)
	}
	if list != nil {
		s.classes, s.namedBy = list, "the class list "+o.classes
	}
	for _, near := range []string{loc, s.paths[0]} {
		if s.classes == nil {
			if names, err := shardClassNames(near); err == nil {
				s.classes, s.namedBy = names, "the class list beside "+near
			}
		}
	}
	if s.classes == nil {
		// Labels that the index does not announce would be dropped: the first sample says.
		r, err := openShard(s.paths[0])
		if err != nil {
			return nil, err
		}
		r.label = label
		smp, err := r.next(false)
		r.close()
		if err != nil && err != io.EOF {
			return nil, err
		}
		column := ""
		if label != (ShardLabel{}) {
			column = " -label-column " + label.Spec()
		}
		switch {
		case smp.label >= 0 || smp.name != "":
			hint := "give their names, one per line in the order of the class indices, with -class-names FILE; or write the index with its classes: go run ./datasets/mkshards -index PATTERN_OF_THE_SHARDS" + column
			if what != "the index" {
				hint = "give their names, one per line in the order of the class indices, with -class-names FILE (or put them in a classes.txt beside it or beside the shards); or write an index with the classes (go run ./datasets/mkshards -index 'PATTERN_OF_THE_SHARDS'" + column + " -out index.json, which reads each shard once)"
			}
			return nil, usageErr(loc, fmt.Errorf("%s names %w (%s)", what, errUnnamedClasses, label), hint+"; or read the shards without their labels: -label-column none")
		case label != (ShardLabel{}):
			return nil, usageErr(loc, fmt.Errorf("the first sample of %s lacks %s: its members are %s", s.paths[0], label, strings.Join(smp.exts, ", ")),
				"give the member that holds the classes to -label-column: an extension (cls, label) or EXT:FIELD for a field of a JSON member (json:label); or leave it out for unlabelled shards")
		}
	}
	if label != (ShardLabel{}) {
		s.classIndex = positions(s.classes)
	}
	return s, nil
}

// Index is the index of s: each shard's location (relative to dir when it lies in it: dir is
// where the index will be written), sample count, and the file size and MD5 digest when known
// (when s's shards were written or scanned by ScanShards, or opened by an index that has them),
// and for labelled shards, the member that holds their labels where it is not .cls.
func (s *Shards) Index(dir string) ShardIndex {
	idx := ShardIndex{Kind: indexKind, Version: 1, Classes: s.classes, ClassCounts: s.labelCounts}
	if s.classes != nil {
		idx.LabelMember = s.label.Spec()
	}
	for i, p := range s.paths {
		sh := IndexedShard{URL: p, Samples: s.counts[i]}
		if s.sizes != nil {
			sh.Size = s.sizes[i]
		}
		if s.md5s != nil {
			sh.MD5 = s.md5s[i]
		}
		if !isRemote(p) {
			if st, err := os.Stat(p); err == nil && sh.Size == 0 {
				sh.Size = st.Size()
			}
			if rel, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(rel, "..") {
				sh.URL = filepath.ToSlash(rel)
			} else if abs, err := filepath.Abs(p); err == nil {
				sh.URL = abs
			}
		}
		idx.Shards = append(idx.Shards, sh)
	}
	return idx
}

// WriteIndex writes s.Index to path (atomically).
func (s *Shards) WriteIndex(path string) error {
	idx := s.Index(filepath.Dir(path))
	data, err := json.MarshalIndent(idx, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
}

// sum is the sum of counts.
func sum(counts []int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}
