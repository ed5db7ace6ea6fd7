package faults

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// foreignRun writes, in a new folder, a valid checkpoint whose configuration is the tiny run's
// with another encoder width, as if another run had used the folder.
func foreignRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.ParseFlags(flag.NewFlagSet("x", flag.ContinueOnError), tinyArgs(dir))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Model.Width = 8
	data, _ := json.Marshal(map[string]int{})
	if err := checkpoints.Save(ckptPath(dir, 5), &checkpoints.State{Step: 5, Config: cfg.JSON(), Data: data}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestUsageErrors runs both commands with bad flags, paths and data sets. Each must exit with the
// stated status (2: the user's flags or paths are wrong; 1: the failure is not in the flags),
// name the flag or the path on standard error, and never print a stack trace. None of these
// cases trains, so no XLA compilation happens.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	aFile := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(aFile, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyDir := t.TempDir()
	damaged := filepath.Join(tmp, "damaged.safetensors")
	if err := os.WriteFile(damaged, []byte("VCKPT garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ck := func() string { return filepath.Join(t.TempDir(), "run") }
	// A run folder holding only checkpoints of the old format (version 1, .vckpt).
	oldRun := func() string {
		dir := t.TempDir()
		copyFile(t, filepath.Join("..", "checkpoints", "convert-vckpt", "testdata", "ckpt-000001234.vckpt"), filepath.Join(dir, "ckpt-000001234.vckpt"))
		return dir
	}
	oldDir := oldRun()
	oldFile := filepath.Join(oldDir, "ckpt-000001234.vckpt")
	oldWants := func(dir string) []string {
		return []string{"old format", filepath.Join(dir, "ckpt-000001234.vckpt"), "go run ./checkpoints/convert-vckpt " + dir}
	}
	tests := []struct {
		name  string
		bin   string
		args  []string
		code  int
		wants []string // each must appear in the output
	}{
		{"unknown flag", bins.train, []string{"-no-such-flag"}, 2, []string{"no-such-flag"}},
		{"bad integer", bins.train, []string{"-steps", "many"}, 2, []string{"-steps"}},
		{"negative epochs", bins.train, []string{"-epochs", "-3"}, 2, []string{"-epochs"}},
		{"batch of one", bins.train, []string{"-batch-size", "1"}, 2, []string{"-batch-size"}},
		{"unknown preset", bins.train, []string{"-preset", "imagenet21k"}, 2, []string{"-preset", "imagenet21k"}},
		{"unknown loss", bins.train, []string{"-loss", "byol"}, 2, []string{"-loss", "byol"}},
		{"unknown dataset", bins.train, []string{"-dataset", "svhn"}, 2, []string{"-dataset", "svhn"}},
		{"unknown non-finite action", bins.train, []string{"-on-nonfinite", "ignore"}, 2, []string{"-on-nonfinite"}},
		{"stray argument", bins.train, []string{"mnist"}, 2, []string{"unexpected argument"}},
		{"3-channel stem on MNIST", bins.train, []string{"-dataset", "mnist", "-augment", "mnist", "-channels", "3",
			"-steps", "1", "-checkpoint-dir", ck()}, 2, []string{"-channels"}},
		{"batch larger than the subset", bins.train, tinyArgs(ck(), "-subset", "8"), 2, []string{"-batch-size"}},
		{"subset larger than the data", bins.train, tinyArgs(ck(), "-subset", "999999"), 2, []string{"-subset", "more than the"}},
		{"folder data set that does not exist", bins.train, []string{"-dataset", "folder", "-augment", "vicreg", "-channels", "3",
			"-data-dir", filepath.Join(tmp, "no-such-images"), "-checkpoint-dir", ck()}, 2, []string{filepath.Join(tmp, "no-such-images")}},
		{"checkpoint-dir is a file", bins.train, tinyArgs(aFile), 2, []string{aFile}},
		{"resume with another configuration", bins.train, append(tinyArgs(""), "-resume", "-checkpoint-dir", foreignRun(t)), 2,
			[]string{"configuration differs", "model.width"}},
		{"new run over an old one", bins.train, append(tinyArgs(""), "-checkpoint-dir", foreignRun(t)), 2, []string{"-checkpoint-dir:", "pass -resume"}},
		{"resume over checkpoints of the old format", bins.train, append(tinyArgs(""), "-resume", "-checkpoint-dir", oldDir), 1, oldWants(oldDir)},
		{"new run over checkpoints of the old format", bins.train, append(tinyArgs(""), "-checkpoint-dir", oldDir), 1, oldWants(oldDir)},

		{"evaluate: no checkpoint flag", bins.evaluate, nil, 2, []string{"-checkpoint"}},
		{"evaluate: unknown flag", bins.evaluate, []string{"-no-such-flag"}, 2, []string{"no-such-flag"}},
		{"evaluate: missing checkpoint", bins.evaluate, []string{"-checkpoint", filepath.Join(tmp, "missing.safetensors")}, 2,
			[]string{filepath.Join(tmp, "missing.safetensors")}},
		{"evaluate: folder without checkpoints", bins.evaluate, []string{"-checkpoint", emptyDir}, 2, []string{emptyDir}},
		{"evaluate: damaged checkpoint", bins.evaluate, []string{"-checkpoint", damaged}, 1, []string{damaged}},
		{"evaluate: checkpoint of the old format", bins.evaluate, []string{"-checkpoint", oldFile}, 1,
			[]string{oldFile, "old .vckpt format", "go run ./checkpoints/convert-vckpt " + oldFile}},
		{"evaluate: folder of old-format checkpoints", bins.evaluate, []string{"-checkpoint", oldDir}, 2, oldWants(oldDir)},
		{"evaluate: bad batch size", bins.evaluate, []string{"-checkpoint", damaged, "-batch-size", "0"}, 2, []string{"-batch-size"}},
		{"evaluate: bad split", bins.evaluate, []string{"-checkpoint", damaged, "-split", "validation"}, 2, []string{"-split"}},
		{"evaluate: bad embeddings file", bins.evaluate, []string{"-checkpoint", damaged, "-embeddings", filepath.Join(tmp, "e.parquet")}, 2,
			[]string{"-embeddings"}},
	}
	// Known wrong exit statuses, reported to be fixed at the named place: a case that still gives
	// the wrong status is skipped with the note (after checking it prints no stack trace); once
	// fixed, it is checked like the others.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.bin, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("%s %v: exit %d, want %d:\n%s", filepath.Base(tc.bin), tc.args, r.code, tc.code, r.output)
			}
			assertNoStackTrace(t, tc.name, r.output)
			for _, want := range tc.wants {
				if !strings.Contains(r.output, want) {
					t.Errorf("the output does not mention %q:\n%s", want, r.output)
				}
			}
		})
	}
	// The runs refused over the old-format checkpoints wrote nothing there (not even a lock).
	if entries, _ := os.ReadDir(oldDir); len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the folder of old-format checkpoints holds %v, want only the old checkpoint", names)
	}
}
