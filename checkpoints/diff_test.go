package checkpoints

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDiffConfig(t *testing.T) {
	tests := []struct {
		name           string
		saved, current string
		want           []string
	}{
		{"equal", `{"batch_size": 256, "lr": 0.3}`, `{"lr":0.3,"batch_size":256}`, nil},
		{"equal numbers written differently", `{"a": 256, "b": 1e-4}`, `{"a": 256.0, "b": 0.0001}`, nil},
		{"both empty", ``, ` `, nil},
		{"changed value", `{"batch_size": 256}`, `{"batch_size": 128}`, []string{"batch_size: saved 256, now 128"}},
		{"only in one", `{"a": 1, "b": "x"}`, `{"a": 1, "c": true}`,
			[]string{`b: only in saved ("x")`, "c: only in current (true)"}},
		{"nested and sorted", `{"opt": {"lr": 0.3, "name": "lars"}, "aug": {"crop": [0.2, 1]}}`,
			`{"opt": {"lr": 0.6, "name": "lars"}, "aug": {"crop": [0.08, 1]}}`,
			[]string{"aug.crop[0]: saved 0.2, now 0.08", "opt.lr: saved 0.3, now 0.6"}},
		{"array length", `{"dims": [2048, 2048]}`, `{"dims": [2048, 2048, 2048]}`,
			[]string{"dims: saved [2048,2048], now [2048,2048,2048]"}},
		{"type change", `{"seed": 1}`, `{"seed": "1"}`, []string{`seed: saved 1, now "1"`}},
		{"object vs scalar", `{"sched": {"kind": "cosine"}}`, `{"sched": null}`, []string{`sched: saved {"kind":"cosine"}, now null`}},
		{"large integers", `{"n": 9007199254740993}`, `{"n": 9007199254740992}`,
			[]string{"n: saved 9007199254740993, now 9007199254740992"}},
		{"empty vs object", ``, `{"a": 1}`, []string{`(whole configuration): saved null, now {"a":1}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DiffConfig(json.RawMessage(tc.saved), json.RawMessage(tc.current))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DiffConfig\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDiffConfigInvalidJSON(t *testing.T) {
	got := DiffConfig(json.RawMessage(`{"a":`), json.RawMessage(`{} {}`))
	if len(got) != 2 || !strings.HasPrefix(got[0], "saved configuration is not valid JSON") ||
		!strings.HasPrefix(got[1], "current configuration is not valid JSON") {
		t.Errorf("DiffConfig of invalid JSON: %q", got)
	}
}
