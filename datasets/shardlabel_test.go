package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseShardLabel(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want ShardLabel
		err  string
	}{
		{"", ShardLabel{}, ""},
		{"cls", ShardLabel{}, ""},
		{".CLS", ShardLabel{}, ""},
		{"label", ShardLabel{Ext: "label"}, ""},
		{"txt", ShardLabel{Ext: "txt"}, ""},
		{"json:label", ShardLabel{Ext: "json", Field: "label"}, ""},
		{"JSON:meta.class", ShardLabel{Ext: "json", Field: "meta.class"}, ""},
		{"jpg", ShardLabel{}, `"jpg" is an image member's extension`},
		{"gif", ShardLabel{}, `"gif" is an image member's extension`},
		{":label", ShardLabel{}, "names no member"},
		{"json:", ShardLabel{}, "give the field of the JSON member after the colon"},
		{"json:meta..class", ShardLabel{}, "its parts separated by dots"},
		{"cls:label", ShardLabel{}, "a .cls member holds a class index as text, not JSON"},
		{"a/b", ShardLabel{}, "not a path"},
		{"json", ShardLabel{}, "a .json member holds an object: give the field that holds the class (json:label)"},
		{"none", ShardLabel{None: true}, ""},
		{" None ", ShardLabel{None: true}, ""},
		{"none:label", ShardLabel{Ext: "none", Field: "label"}, ""}, // a field of a .none member
	} {
		got, err := ParseShardLabel(tc.spec)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: %v, want an error containing %q", tc.spec, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

// TestShardLabelValue: a class index is a whole number >= 0, as text or as a JSON number or
// string; anything else is a class name, but for .cls (WebDataset's integer); an absent or null
// field is no label; other JSON values are errors that name the field.
func TestShardLabelValue(t *testing.T) {
	cls, text, js, nested := ShardLabel{}, ShardLabel{Ext: "label"}, ShardLabel{Ext: "json", Field: "label"}, ShardLabel{Ext: "json", Field: "meta.class"}
	for _, tc := range []struct {
		label ShardLabel
		data  string
		index int32
		name  string
		ok    bool
		err   string
	}{
		{cls, "7\n", 7, "", true, ""},
		{cls, "dog", -1, "", false, `class "dog": want a class index >= 0`},
		{cls, "-1", -1, "", false, "want a class index >= 0"},
		{text, " 12 ", 12, "", true, ""},
		{text, "golden retriever\n", -1, "golden retriever", true, ""},
		{text, "  ", -1, "", false, "an empty class"},
		{text, "-3", -1, "-3", true, ""},
		{js, `{"label": 3}`, 3, "", true, ""},
		{js, `{"label": 3.0}`, 3, "", true, ""},
		{js, `{"label": "4"}`, 4, "", true, ""},
		{js, `{"label": "tench", "width": 500}`, -1, "tench", true, ""},
		{js, `{"caption": "a dog"}`, -1, "", false, ""},
		{js, `{"label": null}`, -1, "", false, ""},
		{js, `{"label": 2.5}`, -1, "", false, "label 2.5: want a class index (a whole number >= 0)"},
		{js, `{"label": -1}`, -1, "", false, "label -1: want a class index"},
		{js, `{"label": true}`, -1, "", false, "label is a boolean"},
		{js, `{"label": [1, 2]}`, -1, "", false, "label is an array"},
		{js, `{"label": ""}`, -1, "", false, "label is an empty string"},
		{js, `[1]`, -1, "", false, "the JSON holds an array, not an object"},
		{js, `{"label": `, -1, "", false, "not JSON"},
		{nested, `{"meta": {"class": "n01440764"}}`, -1, "n01440764", true, ""},
		{nested, `{"meta": {"class": 9}}`, 9, "", true, ""},
		{nested, `{"meta": "x"}`, -1, "", false, `no field "meta.class": the JSON holds a string`},
		{nested, `{"other": 1}`, -1, "", false, ""},
	} {
		index, name, ok, err := tc.label.value([]byte(tc.data))
		what := fmt.Sprintf("%s of %q", tc.label, tc.data)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error containing %q", what, err, tc.err)
			}
			continue
		}
		if err != nil || index != tc.index || name != tc.name || ok != tc.ok {
			t.Errorf("%s: %d %q %v %v; want %d %q %v", what, index, name, ok, err, tc.index, tc.name, tc.ok)
		}
	}
}

// writeLabelledShard writes a shard of samples key0, key1, ... (a PNG and a label member each:
// ext holds labels[i] as it is).
func writeLabelledShard(t *testing.T, path, prefix, ext string, labels []string) {
	t.Helper()
	files, order := map[string][]byte{}, []string(nil)
	for i, l := range labels {
		key := fmt.Sprintf("%s%03d", prefix, i)
		files[key+".png"], files[key+"."+ext] = tinyPNG(t), []byte(l)
		order = append(order, key+".png", key+"."+ext)
	}
	writeTar(t, path, files, order)
}

// labelsByKey reads every sample of d as evaluation does, and returns each key's label.
func labelsByKey(t *testing.T, d Data) (map[string]int32, error) {
	t.Helper()
	it, err := NewEvalIterator(d, EvalConfig{BatchSize: 4, Size: 4, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	got := map[string]int32{}
	for {
		b, ok := it.Next()
		if !ok {
			return got, it.Err()
		}
		for i, k := range b.Keys {
			got[k] = b.Labels[i]
		}
	}
}

// jsonLabels are JSON members with a "label" field (and a caption beside it).
func jsonLabels(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, fmt.Sprintf(`{"label": %q, "caption": "a photo"}`, n))
	}
	return out
}

// TestShardsLabelledByJSON: shards whose classes are names in a field of their .json members
// (-label-column json:label) number them in sorted order of the training shards' names, the
// held-out split's too (val/ lacks a class, which would shift its own sorted numbers: the
// negative control), or by the classes.txt beside them; a class that the training shards lack,
// labels that mix indices and names, and a member that no sample has are refused, naming what;
// without -label-column, such shards are unlabelled.
func TestShardsLabelledByJSON(t *testing.T) {
	root := t.TempDir()
	train := []string{"fox", "cat", "dog", "cat", "fox", "cat"}
	val := []string{"fox", "dog", "fox"}
	writeLabelledShard(t, filepath.Join(root, "train", "a-000000.tar"), "t", "json", jsonLabels(train[:3]...))
	writeLabelledShard(t, filepath.Join(root, "train", "a-000001.tar"), "u", "json", jsonLabels(train[3:]...))
	writeLabelledShard(t, filepath.Join(root, "val", "a-000000.tar"), "v", "json", jsonLabels(val...))
	opt := Options{DataDir: root, LabelColumn: "json:label"}
	classes := []string{"cat", "dog", "fox"} // sorted by hand
	want := func(prefix string, names []string) map[string]int32 {
		m := map[string]int32{}
		for i, n := range names {
			m[fmt.Sprintf("%s%03d", prefix, i)] = int32(slices.Index(classes, n))
		}
		return m
	}
	d, err := Open("shards", SplitTrain, opt)
	if err != nil {
		t.Fatal(err)
	}
	if info := d.Info(); !slices.Equal(info.ClassNames, classes) || !slices.Equal(d.(*Shards).LabelCounts(), []int{3, 1, 2}) {
		t.Errorf("train: classes %q, counts %v; want %q, [3 1 2]", info.ClassNames, d.(*Shards).LabelCounts(), classes)
	}
	wantTrain := want("t", train[:3])
	maps.Copy(wantTrain, want("u", train[3:]))
	if got, err := labelsByKey(t, d); err != nil || !maps.Equal(got, wantTrain) {
		t.Errorf("train labels %v (%v), want %v", got, err, wantTrain)
	}
	v, err := Open("shards", SplitTest, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := labelsByKey(t, v); err != nil || !maps.Equal(got, want("v", val)) || !slices.Equal(v.Info().ClassNames, classes) {
		t.Errorf("val labels %v (%v), classes %q; want %v, numbered by train's classes %q", got, err, v.Info().ClassNames, want("v", val), classes)
	}
	// -val-percent: both parts are numbered by the whole training split's names.
	for _, split := range []string{SplitTrain, SplitTest} {
		p, err := Open("shards", split, Options{DataDir: root, LabelColumn: "json:label", ValPercent: 50})
		if err != nil || !slices.Equal(p.Info().ClassNames, classes) {
			t.Errorf("-val-percent 50, %s: %v, classes %v; want %q", split, err, p.Info().ClassNames, classes)
			continue
		}
		got, err := labelsByKey(t, p)
		for k, l := range got {
			if wantTrain[k] != l || err != nil {
				t.Errorf("-val-percent 50, %s: %s labelled %d (%v), want %d", split, k, l, err, wantTrain[k])
			}
		}
	}
	// A class list beside the shards numbers the names in its order.
	writeFile(t, filepath.Join(root, "train", "classes.txt"), []byte("fox\ndog\ncat\nowl\n"))
	writeFile(t, filepath.Join(root, "val", "classes.txt"), []byte("fox\ndog\ncat\nowl\n"))
	if d, err := Open("shards", SplitTrain, opt); err != nil || !slices.Equal(d.(*Shards).LabelCounts(), []int{2, 1, 3, 0}) {
		t.Errorf("by classes.txt: %v, counts %v; want [2 1 3 0] (fox dog cat owl)", err, d.(*Shards).LabelCounts())
	} else if got, _ := labelsByKey(t, d); got["t000"] != 0 || got["t001"] != 2 {
		t.Errorf("by classes.txt: fox %d, cat %d; want 0 and 2", got["t000"], got["t001"])
	}
	writeFile(t, filepath.Join(root, "train", "classes.txt"), []byte("dog\ncat\n"))
	if _, err := Open("shards", SplitTrain, opt); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `class "fox"`) || !strings.Contains(err.Error(), "the class list beside the shards") {
		t.Errorf("a name that classes.txt lacks: %v; want it named", err)
	}
	os.Remove(filepath.Join(root, "train", "classes.txt"))
	os.Remove(filepath.Join(root, "val", "classes.txt"))
	// A held-out class that the training shards lack.
	writeLabelledShard(t, filepath.Join(root, "val", "a-000001.tar"), "w", "json", jsonLabels("owl"))
	if _, err := Open("shards", SplitTest, opt); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `class "owl"`) || !strings.Contains(err.Error(), "the training shards") {
		t.Errorf("a held-out class the training shards lack: %v; want it named", err)
	}
	os.Remove(filepath.Join(root, "val", "a-000001.tar"))
	// Without -label-column, the .json members are not labels: unlabelled shards.
	if d, err := Open("shards", SplitTrain, Options{DataDir: root}); err != nil || d.Info().NumClasses != 0 {
		t.Errorf("without -label-column: %v, %d classes; want unlabelled shards", err, d.Info().NumClasses)
	}
	// A member that no sample has; a field that no sample has.
	for spec, msg := range map[string]string{
		"label":      "no sample has a .label member: the first sample's members are .png, .json",
		"json:class": `no sample has the field "class" of a .json member`,
	} {
		if _, err := Open("shards", SplitTrain, Options{DataDir: root, LabelColumn: spec}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), msg) {
			t.Errorf("-label-column %s: %v; want an error containing %q", spec, err, msg)
		}
	}
	// A field of captions: most samples a class of their own (over maxLoneClasses of them).
	captions := t.TempDir()
	var texts []string
	for i := range 2 * maxLoneClasses {
		texts = append(texts, fmt.Sprintf(`{"caption": "photo number %d", "label": %q}`, i, []string{"a", "b"}[i%2]))
	}
	writeLabelledShard(t, filepath.Join(captions, "c.tar"), "c", "json", texts)
	if _, err := Open("shards", "", Options{DataDir: captions, LabelColumn: "json:caption"}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "200 distinct class names among 200 samples") {
		t.Errorf("-label-column json:caption: %v; want it refused", err)
	}
	if d, err := Open("shards", "", Options{DataDir: captions, LabelColumn: "json:label"}); err != nil || d.Info().NumClasses != 2 {
		t.Errorf("-label-column json:label beside captions: %v; want 2 classes", err)
	}
	// Indices and names mixed.
	mixed := t.TempDir()
	writeLabelledShard(t, filepath.Join(mixed, "a.tar"), "a", "json", []string{`{"label": 1}`})
	writeLabelledShard(t, filepath.Join(mixed, "b.tar"), "b", "json", jsonLabels("cat"))
	if _, err := Open("shards", "", Options{DataDir: mixed, LabelColumn: "json:label"}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "mix class indices") {
		t.Errorf("indices and names mixed: %v", err)
	}
}

// TestShardsLabelledByIndex: an index written from a scan with the label member (mkshards -index
// -label-column) records the names as its classes, and the member; the shards opened by it read
// each sample's name as its position there, with -label-column or without it; by an index that
// does not record the member, without it they stop at the first sample, saying to give it. Text
// members of names read as JSON fields do.
func TestShardsLabelledByIndex(t *testing.T) {
	dir := t.TempDir()
	names := []string{"oak", "elm", "oak", "ash"}
	writeLabelledShard(t, filepath.Join(dir, "s-000000.tar"), "k", "label", names[:2])
	writeLabelledShard(t, filepath.Join(dir, "s-000001.tar"), "m", "label", names[2:])
	label, err := ParseShardLabel("label")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ScanShards(filepath.Join(dir, "s-{000000..000001}.tar"), label, nil)
	if err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(dir, "index.json")
	if err := s.WriteIndex(index); err != nil {
		t.Fatal(err)
	}
	idx, err := ReadShardIndex(index)
	if err != nil || !slices.Equal(idx.Classes, []string{"ash", "elm", "oak"}) || !slices.Equal(idx.ClassCounts, []int{1, 1, 2}) {
		t.Fatalf("index: %v, classes %q, counts %v; want [ash elm oak], [1 1 2]", err, idx.Classes, idx.ClassCounts)
	}
	d, err := Open("shards", "", Options{DataDir: index, LabelColumn: "label"})
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]int32{"k000": 2, "k001": 1, "m000": 2, "m001": 0}
	if got, err := labelsByKey(t, d); err != nil || !maps.Equal(got, wantLabels) {
		t.Errorf("by the index: %v (%v), want %v", got, err, wantLabels)
	}
	// The index records the member (label_member): without -label-column, it is read.
	if idx.LabelMember != "label" {
		t.Errorf("the index's label member %q, want label", idx.LabelMember)
	}
	d, err = Open("shards", "", Options{DataDir: index})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := labelsByKey(t, d); err != nil || !maps.Equal(got, wantLabels) {
		t.Errorf("by the index, without -label-column: %v (%v), want %v", got, err, wantLabels)
	}
	// An index without it (written by widsindex, or before it) reads .cls unless told: the first
	// sample is refused, naming -label-column.
	idx.LabelMember = ""
	unnamed := filepath.Join(dir, "unnamed.json")
	data, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, unnamed, data)
	d, err = Open("shards", "", Options{DataDir: unnamed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := labelsByKey(t, d); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "sample without a .cls member") || !strings.Contains(err.Error(), "-label-column") {
		t.Errorf("by an index without label_member, without -label-column: %v; want the first sample refused, naming -label-column", err)
	}
	// An index without classes, over shards labelled by names: refused, saying how to write it.
	idx.Classes, idx.ClassCounts = nil, nil
	bare := filepath.Join(dir, "bare.json")
	if data, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	writeFile(t, bare, data)
	if _, err := Open("shards", "", Options{DataDir: bare, LabelColumn: "label"}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "mkshards -index PATTERN_OF_THE_SHARDS -label-column label") {
		t.Errorf("an index without classes: %v", err)
	}
}

// FuzzShardLabelValue: whatever a label member holds, reading it does not panic, and gives a
// class index >= 0 without a name, a non-empty name without an index, nothing, or an error.
func FuzzShardLabelValue(f *testing.F) {
	f.Add([]byte(`{"label": "tench", "meta": {"class": 3}}`), "json:label")
	f.Add([]byte(`{"meta": {"class": 3.0}}`), "json:meta.class")
	f.Add([]byte("12\n"), "cls")
	f.Add([]byte("golden retriever"), "label")
	f.Fuzz(func(t *testing.T, data []byte, spec string) {
		l, err := ParseShardLabel(spec)
		if err != nil {
			return
		}
		index, name, ok, err := l.value(data)
		switch {
		case err != nil:
			if ok || index != -1 || name != "" {
				t.Fatalf("%s of %q: an error (%v) with %d %q %v", l, data, err, index, name, ok)
			}
		case !ok:
			if index != -1 || name != "" {
				t.Fatalf("%s of %q: no label, but %d %q", l, data, index, name)
			}
		case name != "":
			if index != -1 || strings.TrimSpace(name) != name {
				t.Fatalf("%s of %q: name %q with index %d", l, data, name, index)
			}
		case index < 0 || index > maxClassIndex:
			t.Fatalf("%s of %q: index %d", l, data, index)
		}
	})
}

// TestShardsWrittenByWebDataset: a shard that webdataset's TarWriter wrote from Python values
// (testdata/wds/gen_labels.py) reads, by each -label-column, the labels that webdataset decodes
// from it (labels.json): the class names of the .json member's "label" field and of the .txt
// member, numbered in sorted order, and the class indices of the nested "meta.class" field and of
// the .cls member as they are.
func TestShardsWrittenByWebDataset(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "wds", "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string]struct {
		JSONLabel     string `json:"json_label"`
		JSONMetaClass int32  `json:"json_meta_class"`
		Txt           string
		Cls           int32
	}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	sorted := []string{"goldfish", "great white shark", "tench"} // by hand
	for _, column := range []string{"json:label", "txt", "json:meta.class", ""} {
		d, err := Open("shards", "", Options{DataDir: filepath.Join("testdata", "wds", "labels.tar"), LabelColumn: column})
		if err != nil {
			t.Errorf("-label-column %q: %v", column, err)
			continue
		}
		got, err := labelsByKey(t, d)
		if err != nil || len(got) != len(decoded) {
			t.Errorf("-label-column %q: %d samples (%v), want %d", column, len(got), err, len(decoded))
			continue
		}
		for key, w := range decoded {
			want := map[string]int32{"json:label": int32(slices.Index(sorted, w.JSONLabel)), "txt": int32(slices.Index(sorted, w.Txt)),
				"json:meta.class": w.JSONMetaClass, "": w.Cls}[column]
			if got[key] != want {
				t.Errorf("-label-column %q: %s labelled %d, webdataset reads %+v (want %d)", column, key, got[key], w, want)
			}
		}
	}
}
