package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/analysis"
	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
)

// writeTinyRun writes two checkpoints of a tiny encoder (ResNet-18, width 2, CIFAR stem) "trained"
// on the synthetic data set, the way the trainer stores them: variables under /encoder and the
// run configuration as JSON.
func writeTinyRun(t *testing.T) string {
	t.Helper()
	b := backendtest.XLA(t)
	cfg := models.Config{Arch: "resnet18", Stem: "cifar", Width: 2, InChannels: 3}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(7); err != nil {
		t.Fatal(err)
	}
	exec, err := context.NewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), false)
		return models.Encoder(ctx.In("encoder"), cfg, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Exec(tensors.FromShape(tensors.FromFlatDataAndDimensions(make([]float32, 16*16*3), 1, 16, 16, 3).Shape())); err != nil {
		t.Fatal(err)
	}
	vars, err := checkpoints.FromContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	config, _ := json.Marshal(analysis.RunConfig{Dataset: "synthetic", Augment: "solo-cifar", Seed: 7, Model: cfg, Loss: "vicreg", LossParams: losses.Defaults()})
	dir := t.TempDir()
	m, err := checkpoints.NewManager(dir, 5, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []int64{10, 20} {
		if _, err := m.Save(&checkpoints.State{Step: step, Config: config, Variables: vars}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestReport runs the command on a tiny run and checks every promised file and JSON key.
func TestReport(t *testing.T) {
	dir := writeTinyRun(t)
	out := filepath.Join(t.TempDir(), "report")
	args := []string{"-checkpoints", dir, "-out", out, "-anchors", "3", "-views", "12", "-components", "2", "-projections", "2",
		"-scales", "0.1,1", "-directions", "2", "-noise-samples", "3", "-entropy-images", "24", "-knn-k", "2", "-chunk", "16", "-seed", "3"}
	if code := run(args); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	for _, f := range analysis.ReportFiles {
		info, err := os.Stat(filepath.Join(out, f))
		if err != nil || info.Size() == 0 {
			t.Errorf("report file %s: %v", f, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, analysis.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report.json does not parse: %v", err)
	}
	for _, k := range []string{"options", "run", "backend", "models"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report.json has no key %q", k)
		}
	}
	ms, _ := rep["models"].([]any)
	if len(ms) != 3 {
		t.Fatalf("%d models in the report, want 3 (baseline and two checkpoints)", len(ms))
	}
	for i, want := range []float64{0, 10, 20} {
		m := ms[i].(map[string]any)
		if m["step"] != want {
			t.Errorf("model %d: step %v, want %v", i, m["step"], want)
		}
		for _, path := range [][]string{
			{"label"}, {"seconds"},
			{"gaussianity", "pass_skew", "fraction"}, {"gaussianity", "pass_kurt", "ci_lo"}, {"gaussianity", "pass_proj", "ci_hi"},
			{"gaussianity", "pass_all", "n"}, {"gaussianity", "per_anchor"}, {"gaussianity", "degenerate"},
			{"entropy", "gaussian"}, {"entropy", "logdet"}, {"entropy", "pairwise_bhattacharyya"}, {"entropy", "pairwise_kl"},
			{"entropy", "knn"}, {"entropy", "mutual_info_lower_bound"}, {"entropy", "logdet_covariance"}, {"entropy", "sum_log_variance"},
		} {
			var v any = m
			for _, k := range path {
				obj, ok := v.(map[string]any)
				if !ok {
					v = nil
					break
				}
				v, ok = obj[k]
				if !ok {
					t.Errorf("model %d: no key %s", i, strings.Join(path, "."))
				}
			}
		}
		aff, _ := m["affinity"].([]any)
		if len(aff) != 2 {
			t.Errorf("model %d: %d affinity scales, want 2", i, len(aff))
		}
		for _, a := range aff {
			s := a.(map[string]any)["summary"].(map[string]any)
			if _, ok := s["median"]; !ok {
				t.Errorf("model %d: affinity summary without a median: %v", i, s)
			}
		}
		if pa := m["gaussianity"].(map[string]any)["pass_all"].(map[string]any); pa["n"] != 3.0 {
			t.Errorf("model %d: pass_all over %v anchors, want 3", i, pa["n"])
		}
	}
	// Both checkpoints hold the same variables: same numbers, except the timing.
	a, b := ms[1].(map[string]any), ms[2].(map[string]any)
	ea, _ := json.Marshal(a["entropy"])
	eb, _ := json.Marshal(b["entropy"])
	if string(ea) != string(eb) {
		t.Errorf("same variables, different entropies:\n%s\n%s", ea, eb)
	}
	summary, _ := os.ReadFile(filepath.Join(out, analysis.ReportSummary))
	for _, want := range []string{"A1", "A2", "A3", "Verdict", "random init", "ckpt-000000020.safetensors"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary.md does not mention %q", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no checkpoints", nil},
		{"missing folder", []string{"-checkpoints", filepath.Join(empty, "nope")}},
		{"bad alpha", []string{"-checkpoints", empty, "-alpha", "2"}},
		{"bad scales", []string{"-checkpoints", empty, "-scales", "0.1,x"}},
		{"negative scale", []string{"-checkpoints", empty, "-scales", "-1"}},
		{"too few views", []string{"-checkpoints", empty, "-views", "5"}},
		{"extra argument", []string{"-checkpoints", empty, "extra"}},
		{"unknown flag", []string{"-frobnicate"}},
		{"empty folder", []string{"-checkpoints", empty, "-out", filepath.Join(empty, "out")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "empty folder" {
				backendtest.Backend(t)
			}
			if code := run(tc.args); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
		})
	}
}
