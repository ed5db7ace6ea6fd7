package checkpoints

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// DiffConfig compares two JSON configurations and returns one human-readable line per
// difference, sorted by path, such as
//
//	batch_size: saved 256, now 128
//	optimizer.lr: only in saved (0.3)
//	augment.blur: only in current (true)
//
// Objects are compared key by key (nested keys are joined with "."), arrays of equal length
// element by element ("[i]"), numbers by value (256 equals 256.0). Values are printed as compact
// JSON. An empty configuration counts as null. It returns nil when the two are equal.
func DiffConfig(saved, current json.RawMessage) []string {
	a, errA := parseConfig(saved)
	b, errB := parseConfig(current)
	var out []string
	if errA != nil {
		out = append(out, "saved configuration is not valid JSON: "+errA.Error())
	}
	if errB != nil {
		out = append(out, "current configuration is not valid JSON: "+errB.Error())
	}
	if out != nil {
		return out
	}
	diffValues("", a, b, &out)
	slices.Sort(out)
	return out
}

func parseConfig(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// showJSON prints a decoded JSON value compactly.
func showJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func childPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func diffValues(path string, a, b any, out *[]string) {
	label := path
	if label == "" {
		label = "(whole configuration)"
	}
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			for k, va := range x {
				if vb, found := y[k]; found {
					diffValues(childPath(path, k), va, vb, out)
				} else {
					*out = append(*out, fmt.Sprintf("%s: only in saved (%s)", childPath(path, k), showJSON(va)))
				}
			}
			for k, vb := range y {
				if _, found := x[k]; !found {
					*out = append(*out, fmt.Sprintf("%s: only in current (%s)", childPath(path, k), showJSON(vb)))
				}
			}
			return
		}
	case []any:
		if y, ok := b.([]any); ok && len(x) == len(y) {
			for i := range x {
				diffValues(fmt.Sprintf("%s[%d]", path, i), x[i], y[i], out)
			}
			return
		}
	case json.Number:
		if y, ok := b.(json.Number); ok && numbersEqual(x, y) {
			return
		}
	default:
		if a == b { // nil, bool and string compare by value.
			return
		}
	}
	*out = append(*out, fmt.Sprintf("%s: saved %s, now %s", label, showJSON(a), showJSON(b)))
}

// numbersEqual compares JSON numbers exactly when both are integers, and as float64 otherwise.
func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	ia, errA := strconv.ParseInt(string(a), 10, 64)
	ib, errB := strconv.ParseInt(string(b), 10, 64)
	if errA == nil && errB == nil {
		return ia == ib
	}
	fa, errA := strconv.ParseFloat(string(a), 64)
	fb, errB := strconv.ParseFloat(string(b), 64)
	return errA == nil && errB == nil && fa == fb
}
