package datasets

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// timmExpected is testdata/timm/expected.json: what timm's ReaderWds reads from each split of the
// fixture's _info.json (gen.py).
type timmExpected map[string]struct {
	NumSamples int      `json:"num_samples"`
	Names      []string `json:"names"`
	Cls        []int32  `json:"cls"`
	JSONLabel  []int32  `json:"json_label"`
}

// timmFixture copies testdata/timm (shards and _info.json, without the script and what it
// expects) into a temporary folder, and returns it with what timm reads.
func timmFixture(t *testing.T) (dir string, want timmExpected) {
	t.Helper()
	src := filepath.Join("testdata", "timm")
	dir = t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); name == "_info.json" || strings.HasSuffix(name, ".tar") {
			data, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, name), data)
		}
	}
	data, err := os.ReadFile(filepath.Join(src, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	return dir, want
}

// keysAndLabels reads every sample of s in file order: its name as timm gives it (the key and
// ".JPEG") and its label.
func keysAndLabels(t *testing.T, s *Shards) ([]string, []int32) {
	t.Helper()
	st := newShardStream(s, nil, nil, 0, s.Len())
	defer st.close()
	var keys []string
	var labels []int32
	for {
		smp, _, err := st.read()
		if err == io.EOF {
			return keys, labels
		}
		if err != nil {
			t.Fatal(err)
		}
		keys, labels = append(keys, smp.key+".JPEG"), append(labels, smp.label)
	}
}

// TestTimmInfo: timm's information file (_info.json, as the Hugging Face Hub's timm/*-wds data
// sets hold it) opens its splits without a scan: the training split's shards and their samples,
// and the held-out split's (validation), are those that timm 1.0.31's ReaderWds reads from it,
// with the same labels from .cls and from a field of the .json member. It names no classes:
// labelled shards without a classes.txt are refused, saying what to do, unless read without
// labels (-label-column none).
func TestTimmInfo(t *testing.T) {
	dir, want := timmFixture(t)
	info := filepath.Join(dir, "_info.json")
	_, err := openShards(info, SplitTrain, shardOptions{})
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "timm's information file names no classes, but the shards have labels (a .cls member)") ||
		!strings.Contains(err.Error(), "classes.txt") || !strings.Contains(err.Error(), "-label-column none") {
		t.Fatalf("labelled shards whose classes nothing names: %v, want a usage error naming classes.txt and -label-column none", err)
	}
	none, _ := ParseShardLabel("none")
	s, err := openShards(info, SplitTrain, shardOptions{label: none})
	if err != nil {
		t.Fatal(err)
	}
	keys, labels := keysAndLabels(t, s)
	if s.Info().NumClasses != 0 || !slices.Equal(keys, want["train"].Names) || slices.ContainsFunc(labels, func(l int32) bool { return l != -1 }) {
		t.Fatalf("-label-column none: %d classes, samples %q, labels %v; want no classes, %q, and no labels", s.Info().NumClasses, keys, labels, want["train"].Names)
	}

	// The folder, scanned, reads them without labels too.
	d, err := Open("shards", SplitTest, Options{DataDir: dir, LabelColumn: "none"})
	if err != nil || d.Info().NumClasses != 0 || d.Info().Len != want["validation"].NumSamples {
		t.Fatalf("the folder, -label-column none: %v; want the validation split's %d samples without classes", err, want["validation"].NumSamples)
	}

	writeFile(t, filepath.Join(dir, "classes.txt"), []byte("tench\ngoldfish\nshark\n"))
	jsonLabel, _ := ParseShardLabel("json:label")
	for _, split := range []struct{ ours, timms string }{{SplitTrain, "train"}, {SplitTest, "validation"}} {
		w := want[split.timms]
		for _, label := range []struct {
			l    ShardLabel
			want []int32
		}{{ShardLabel{}, w.Cls}, {jsonLabel, w.JSONLabel}} {
			s, err := openShards(info, split.ours, shardOptions{label: label.l})
			if err != nil {
				t.Fatal(err)
			}
			keys, labels := keysAndLabels(t, s)
			if s.Len() != w.NumSamples || !slices.Equal(keys, w.Names) || !slices.Equal(labels, label.want) {
				t.Errorf("%s split, labels from %s: %d samples %q, labels %v; timm reads %d %q, %v", split.ours, label.l, s.Len(), keys, labels, w.NumSamples, w.Names, label.want)
			}
			if !slices.Equal(s.Info().ClassNames, []string{"tench", "goldfish", "shark"}) {
				t.Errorf("%s split: classes %q, want those of classes.txt", split.ours, s.Info().ClassNames)
			}
		}
	}
	if !HasHeldOut("shards", Options{DataDir: info}) {
		t.Error("HasHeldOut: false for an information file with a validation split")
	}

	// Over HTTP, opening reads the information file (and looks for classes.txt), no shard.
	srv := serveDir(t, dir)
	s, err = openShards(srv.URL+"/_info.json", SplitTest, shardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.count(".tar"); n != 0 || s.Len() != want["validation"].NumSamples {
		t.Fatalf("over HTTP: %d shards requested and %d samples; want none requested, %d samples", n, s.Len(), want["validation"].NumSamples)
	}
	if keys, labels := keysAndLabels(t, s); !slices.Equal(keys, want["validation"].Names) || !slices.Equal(labels, want["validation"].Cls) {
		t.Errorf("over HTTP: samples %q, labels %v; timm reads %q, %v", keys, labels, want["validation"].Names, want["validation"].Cls)
	}

	// -val-percent divides the training split's shards, whole: the held-out ones and the others
	// are the training split's.
	held, err := openShards(info, SplitTest, shardOptions{percent: 40})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := openShards(info, SplitTrain, shardOptions{percent: 40})
	if err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(held.Paths()), kept.Paths()...)
	slices.Sort(all)
	if len(held.Paths()) == 0 || len(kept.Paths()) == 0 || held.Len()+kept.Len() != want["train"].NumSamples ||
		!slices.Equal(all, []string{filepath.Join(dir, "tiny-train-0000.tar"), filepath.Join(dir, "tiny-train-0001.tar"), filepath.Join(dir, "tiny-train-0002.tar")}) {
		t.Errorf("-val-percent 40: held out %q (%d samples), kept %q (%d); want the training shards divided", held.Paths(), held.Len(), kept.Paths(), kept.Len())
	}
}

// TestTimmInfoRefusals: an information file without the split asked for, or whose lists
// disagree, is refused saying so; a shard of no samples is left out unread.
func TestTimmInfoRefusals(t *testing.T) {
	dir, _ := timmFixture(t)
	writeFile(t, filepath.Join(dir, "classes.txt"), []byte("tench\ngoldfish\nshark\n"))
	write := func(name string, splits map[string]timmInfoSplit) string {
		data, err := json.Marshal(timmInfo{Name: "tiny", Splits: splits})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		writeFile(t, p, data)
		return p
	}
	train := timmInfoSplit{NumSamples: 9, Filenames: []string{"tiny-train-0000.tar", "tiny-train-0001.tar", "tiny-train-0002.tar"}, ShardLengths: []int{4, 3, 2}}

	onlyTrain := write("train-only.json", map[string]timmInfoSplit{"train": train})
	if HasHeldOut("shards", Options{DataDir: onlyTrain}) {
		t.Error("HasHeldOut: true for an information file with a training split alone")
	}
	_, err := OpenTest("shards", Options{DataDir: onlyTrain})
	if !errors.Is(err, ErrNoSplit) || !strings.Contains(err.Error(), "-val-percent") {
		t.Errorf("OpenTest of a training split alone: %v, want ErrNoSplit suggesting -val-percent", err)
	}
	_, err = openShards(onlyTrain, SplitTest, shardOptions{})
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "has no val or validation or valid or test or testing split: its splits are train") {
		t.Errorf("the test split of a training split alone: %v", err)
	}

	empty := train
	empty.Filenames, empty.ShardLengths = append(slices.Clone(train.Filenames), "tiny-train-9999.tar"), []int{4, 3, 2, 0}
	s, err := openShards(write("empty.json", map[string]timmInfoSplit{"train": empty}), SplitTrain, shardOptions{})
	if err != nil || len(s.Paths()) != 3 || s.Len() != 9 {
		t.Errorf("a shard of no samples (which does not exist): %v; want it left out", err)
	}

	for _, c := range []struct {
		name  string
		split timmInfoSplit
		want  string
	}{
		{"lengths.json", timmInfoSplit{NumSamples: 9, Filenames: train.Filenames, ShardLengths: []int{4, 5}}, "split train of timm's information file: 3 filenames and 2 shard_lengths"},
		{"total.json", timmInfoSplit{NumSamples: 10, Filenames: train.Filenames, ShardLengths: train.ShardLengths}, "num_samples is 10, but its shard_lengths add up to 9"},
		{"negative.json", timmInfoSplit{Filenames: train.Filenames, ShardLengths: []int{4, -3, 2}}, `shard 1: "tiny-train-0001.tar" with -3 samples`},
		{"nothing.json", timmInfoSplit{Filenames: train.Filenames, ShardLengths: []int{0, 0, 0}}, "no shard holds samples"},
	} {
		_, err := openShards(write(c.name, map[string]timmInfoSplit{"train": c.split}), SplitTrain, shardOptions{})
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a damaged-data error saying %q", c.name, err, c.want)
		}
	}
}

// TestClassNames: a class list given (-class-names, a file or a URL) names the classes of shards
// that nothing beside them names: those of timm's information file, where it spares the refusal,
// and those of a scan, whose class indices it names and whose class names it numbers (the
// held-out split's too, without a scan of the training shards). A list shorter than the indices,
// one for unlabelled shards or with -label-column none, a missing or empty one, are refused.
func TestClassNames(t *testing.T) {
	dir, want := timmFixture(t)
	info := filepath.Join(dir, "_info.json")
	list := filepath.Join(t.TempDir(), "synsets.txt")
	writeFile(t, list, []byte("n01440764\nn01443537\nn01484850\n"))
	srv := serveDir(t, filepath.Dir(list))
	for _, loc := range []string{list, srv.URL + "/synsets.txt"} {
		s, err := Open("shards", SplitTest, Options{DataDir: info, ClassNames: loc})
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		keys, labels := keysAndLabels(t, s.(*Shards))
		if !slices.Equal(s.Info().ClassNames, []string{"n01440764", "n01443537", "n01484850"}) || !slices.Equal(keys, want["validation"].Names) || !slices.Equal(labels, want["validation"].Cls) {
			t.Errorf("timm's information file, classes from %s: %q, samples %q, labels %v", loc, s.Info().ClassNames, keys, labels)
		}
	}
	// A scan: class indices named by the list; too short a list is refused.
	s, err := openShards(filepath.Join(dir, "tiny-train-{0000..0002}.tar"), SplitTrain, shardOptions{classes: list})
	if err != nil || !slices.Equal(s.Info().ClassNames, []string{"n01440764", "n01443537", "n01484850"}) || !slices.Equal(s.LabelCounts(), []int{3, 3, 3}) {
		t.Fatalf("a scan named by the list: %v, classes %q, counts %v", err, s.Info().ClassNames, s.LabelCounts())
	}
	short := filepath.Join(t.TempDir(), "short.txt")
	writeFile(t, short, []byte("n01440764\nn01443537\n"))
	if _, err := openShards(filepath.Join(dir, "tiny-train-{0000..0002}.tar"), SplitTrain, shardOptions{classes: short}); !errors.Is(err, ErrUsage) ||
		!strings.Contains(err.Error(), "class index 2 among the labels, and the class list "+short+" names 2 classes") {
		t.Errorf("a list of 2 names for 3 classes: %v", err)
	}
	// Class names in .json members, numbered by the list in its order, the held-out split's too.
	names := t.TempDir()
	writeLabelledShard(t, filepath.Join(names, "train", "s-000000.tar"), "k", "json", jsonLabels("oak", "elm", "ash"))
	writeLabelledShard(t, filepath.Join(names, "val", "s-000000.tar"), "v", "json", jsonLabels("elm"))
	order := filepath.Join(t.TempDir(), "trees.txt")
	writeFile(t, order, []byte("oak\nelm\nash\n"))
	jsonLabel, _ := ParseShardLabel("json:label")
	for split, want := range map[string][]int32{SplitTrain: {0, 1, 2}, SplitTest: {1}} {
		s, err := openShards(names, split, shardOptions{label: jsonLabel, classes: order})
		if err != nil {
			t.Fatal(err)
		}
		if _, labels := keysAndLabels(t, s); !slices.Equal(labels, want) || !slices.Equal(s.Info().ClassNames, []string{"oak", "elm", "ash"}) {
			t.Errorf("%s: labels %v, classes %q; want %v by the list's order", split, labels, s.Info().ClassNames, want)
		}
	}
	none, _ := ParseShardLabel("none")
	empty := filepath.Join(t.TempDir(), "empty.txt")
	writeFile(t, empty, nil)
	unlabelled := t.TempDir()
	writeLabelledShard(t, filepath.Join(unlabelled, "s-000000.tar"), "u", "txt", []string{"a photo"})
	for _, c := range []struct {
		name, pattern string
		o             shardOptions
		want          string
	}{
		{"with -label-column none", info, shardOptions{label: none, classes: list}, "-class-names names the classes of labels that -label-column none leaves unread"},
		{"a missing list", info, shardOptions{classes: filepath.Join(dir, "missing.txt")}, "-class-names: open " + filepath.Join(dir, "missing.txt")},
		{"an empty list", info, shardOptions{classes: empty}, "-class-names: it holds no class names"},
		{"unlabelled shards", unlabelled, shardOptions{classes: list}, "the shards have no labels (a .cls member), which the class list " + list + " would name"},
	} {
		if _, err := openShards(c.pattern, SplitTrain, c.o); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a usage error saying %q", c.name, err, c.want)
		}
	}
}

// TestHubURI: an hf:// URI (-data-dir hf://datasets/OWNER/NAME/_info.json) reads the data set's
// files from the Hub (here a server that HF_ENDPOINT names), as its URL would.
func TestHubURI(t *testing.T) {
	fixture, want := timmFixture(t)
	root := t.TempDir()
	repo := filepath.Join(root, "datasets", "fish", "tiny-wds", "resolve", "main")
	if err := os.MkdirAll(filepath.Dir(repo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fixture, repo); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, "classes.txt"), []byte("tench\ngoldfish\nshark\n"))
	srv := serveDir(t, root)
	t.Setenv("HF_ENDPOINT", srv.URL)
	d, err := Open("shards", SplitTest, Options{DataDir: "hf://datasets/fish/tiny-wds/_info.json"})
	if err != nil {
		t.Fatal(err)
	}
	keys, labels := keysAndLabels(t, d.(*Shards))
	if !slices.Equal(keys, want["validation"].Names) || !slices.Equal(labels, want["validation"].Cls) || srv.count("/datasets/fish/tiny-wds/resolve/main/_info.json") != 1 {
		t.Errorf("hf://: samples %q, labels %v, requests %v; want %q, %v from the Hub's URLs", keys, labels, srv.requests, want["validation"].Names, want["validation"].Cls)
	}
	// The data set's folder: its _info.json is found there (HTTP cannot list a folder).
	d, err = Open("shards", SplitTest, Options{DataDir: "hf://datasets/fish/tiny-wds/"})
	if err != nil {
		t.Fatal(err)
	}
	if keys, labels := keysAndLabels(t, d.(*Shards)); !slices.Equal(keys, want["validation"].Names) || !slices.Equal(labels, want["validation"].Cls) {
		t.Errorf("the data set's folder: samples %q, labels %v; want %q, %v", keys, labels, want["validation"].Names, want["validation"].Cls)
	}
	if !HasHeldOut("shards", Options{DataDir: "hf://datasets/fish/tiny-wds/"}) {
		t.Error("HasHeldOut: false for the folder of an information file with a validation split")
	}
}
