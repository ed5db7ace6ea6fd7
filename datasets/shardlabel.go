package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ShardLabel names the member of a WebDataset sample that holds its class, as WebDataset's
// to_tuple("jpg", KEY) and timm's target_key name it: by default KEY.cls, a class index as text
// (WebDataset's convention); another extension (KEY.label, KEY.txt) whose text is a class index
// or a class name; or a field of a JSON member (KEY.json's "label", or a dotted path into nested
// objects: "meta.class"), a class index or name, as img2dataset's and many hand-written shards
// keep their metadata. A class index is a whole number >= 0 (a JSON number such as 3 or 3.0, or
// text of digits, "3"); anything else is a class name. Names are numbered by the class list
// beside the shards (classes.txt, classnames.txt) or their index, else in sorted order of the
// training shards' distinct names (Shards).
type ShardLabel struct {
	// Ext is the member's extension, in lower case ("cls", "json", "label.txt"); "" is "cls".
	Ext string
	// Field is the dotted path of the label in a JSON member; "" for a member of text.
	Field string
	// None reads the shards without labels, whatever members they have ("none").
	None bool
}

// ParseShardLabel reads the -label-column of shards: "" or "cls" (the default), an extension
// ("label", "txt"), EXT:FIELD for a field of a JSON member ("json:label", "json:meta.class"), or
// "none" for no labels (unlabelled pretraining of labelled shards, or of shards whose classes
// nothing names). An extension of an image member, one with a path separator, and json without
// a field are errors saying what to give.
func ParseShardLabel(spec string) (ShardLabel, error) {
	ext, field, hasField := strings.Cut(strings.TrimSpace(spec), ":")
	ext = strings.ToLower(strings.TrimPrefix(ext, "."))
	l := ShardLabel{Ext: ext, Field: field}
	switch {
	case spec == "":
		return ShardLabel{}, nil
	case ext == noLabel && !hasField:
		return ShardLabel{None: true}, nil
	case ext == "":
		return l, fmt.Errorf("%q names no member: give the extension of the member that holds each sample's class (cls, label, json:FIELD)", spec)
	case strings.ContainsAny(ext, `/\ `):
		return l, fmt.Errorf("%q: an extension (cls, label) or EXT:FIELD (json:label), not a path", spec)
	case slices.Contains(imageExtensions, "."+ext) || slices.Contains(otherImageExtensions, "."+ext):
		return l, fmt.Errorf("%q is an image member's extension: give the member that holds the class (cls, label, json:FIELD)", spec)
	case hasField && (field == "" || slices.Contains(strings.Split(field, "."), "")):
		return l, fmt.Errorf("%q: give the field of the JSON member after the colon, its parts separated by dots (json:label, json:meta.class)", spec)
	case ext == "cls" && hasField:
		return l, fmt.Errorf("%q: a .cls member holds a class index as text, not JSON: give cls alone", spec)
	case ext == "json" && !hasField:
		return l, fmt.Errorf("%q: a .json member holds an object: give the field that holds the class (json:label)", spec)
	}
	if ext == "cls" {
		return ShardLabel{}, nil
	}
	return l, nil
}

// noLabel is the -label-column of shards read without labels.
const noLabel = "none"

// ext is the member's extension ("cls" for the zero ShardLabel; "" for None, which no member's
// is).
func (l ShardLabel) ext() string {
	if l.None {
		return ""
	}
	if l.Ext == "" {
		return "cls"
	}
	return l.Ext
}

// String says what holds the label, for messages: "a .cls member", "the field label of a .json
// member".
func (l ShardLabel) String() string {
	if l.None {
		return "no member (-label-column none)"
	}
	if l.Field != "" {
		return fmt.Sprintf("the field %q of a .%s member", l.Field, l.ext())
	}
	return "a ." + l.ext() + " member"
}

// Spec is l as ParseShardLabel reads it: "" for the default, EXT, EXT:FIELD or "none".
func (l ShardLabel) Spec() string {
	if l.None {
		return noLabel
	}
	if l.Field != "" {
		return l.Ext + ":" + l.Field
	}
	return l.Ext
}

// maxMember bounds a member that holds a label: a class index or name as text, or a JSON
// object of metadata.
func (l ShardLabel) maxMember() int64 {
	switch {
	case l.Ext == "":
		return 64
	case l.Field == "":
		return 4 << 10
	}
	return 1 << 20
}

// maxClassIndex bounds a class index read from a shard.
const maxClassIndex = 1 << 30

// value reads the label from the data of its member: a class index (name "") or a class name
// (index -1); ok is false where the member holds none (a JSON field absent or null).
func (l ShardLabel) value(data []byte) (index int32, name string, ok bool, err error) {
	if l.Field == "" {
		text := strings.TrimSpace(string(data))
		if v, err := strconv.Atoi(text); err == nil && v >= 0 && v <= maxClassIndex {
			return int32(v), "", true, nil
		}
		if l.Ext == "" {
			return -1, "", false, fmt.Errorf("class %q: want a class index >= 0", data)
		}
		if text == "" {
			return -1, "", false, errors.New("an empty class: want a class index or name")
		}
		return -1, text, true, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return -1, "", false, fmt.Errorf("not JSON: %w", err)
	}
	for _, part := range strings.Split(l.Field, ".") {
		obj, isObj := v.(map[string]any)
		if !isObj {
			return -1, "", false, fmt.Errorf("no field %q: the JSON holds %s, not an object", l.Field, jsonKind(v))
		}
		if v, ok = obj[part]; !ok {
			return -1, "", false, nil
		}
	}
	switch v := v.(type) {
	case nil:
		return -1, "", false, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil || f < 0 || f > maxClassIndex || f != math.Trunc(f) {
			return -1, "", false, fmt.Errorf("%s %s: want a class index (a whole number >= 0) or a class name", l.Field, v)
		}
		return int32(f), "", true, nil
	case string:
		text := strings.TrimSpace(v)
		if n, err := strconv.Atoi(text); err == nil && n >= 0 && n <= maxClassIndex {
			return int32(n), "", true, nil
		}
		if text == "" {
			return -1, "", false, fmt.Errorf("%s is an empty string: want a class index or name", l.Field)
		}
		return -1, text, true, nil
	}
	return -1, "", false, fmt.Errorf("%s is %s: want a class index or a class name", l.Field, jsonKind(v))
}

// jsonKind names the kind of a decoded JSON value, for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	}
	return "null"
}
