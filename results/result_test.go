package results

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Read gives back what Write wrote, as the type its kind names; a file written before kinds
// were recorded is told by its keys; an unknown kind and a file that is not JSON are errors that
// name the file.
func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	acc := 0.75
	n := 12
	for _, want := range []any{
		&Pretrain{Kind: KindPretrain, Steps: 40, Trained: 40, Linear: Acc(0.98), KNN: Acc(0.97), TrainTime: 3 * time.Second,
			LowLabel: []LowLabel{{Percent: 1, Images: 600, Linear: 0.9, KNN: 0.89}}, EvalSplit: "test", EvalImages: 10000,
			Provenance: Provenance{Dataset: "mnist", DataDir: "/data", Seed: 3, Backend: "xla:cuda", Date: "2026-12-05T19:00:00Z",
				Machine: &Machine{CPU: "AMD EPYC (family 25, model 1), 16 logical CPUs; AVX-512 no, AVX512_BF16 no, AMX no",
					Devices: []string{"0, NVIDIA H100 80GB HBM3, 81559 MiB, 580.65.06"}}}},
		&Finetune{Kind: KindFinetune, Steps: 7, TrainImages: 600, TestImages: 100, Top1: Acc(0.5),
			Provenance: Provenance{Dataset: "folder", DataDir: "/photos", Seed: 1, Backend: "xla:cpu", Machine: &Machine{CPU: "x"}}},
		&Evaluate{Kind: KindEvaluate, Checkpoint: "runs/x/ckpt-000000007.safetensors", LinearProbe: &acc, TestImages: &n,
			Provenance: Provenance{Backend: "xla:cpu"}},
	} {
		path := filepath.Join(dir, "result.json")
		if err := Write(path, want); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read back %#v, wrote %#v", got, want)
		}
	}
	// Older files: without a kind, and with -1 for what was not measured (read as absent).
	for content, want := range map[string]any{
		`{"steps": 5, "linear_probe": 0.9, "knn": -1}`: &Pretrain{Kind: KindPretrain, Steps: 5, Linear: Acc(0.9)},
		`{"steps": 5, "top1": 0.4, "top5": 0.9}`:       &Finetune{Kind: KindFinetune, Steps: 5, Top1: Acc(0.4), Top5: Acc(0.9)},
		`{"kind": "pretrain", "steps": 5, "online_probe": -1, "linear_probe": -1, "knn": -1, "linear_pixels": -1, "linear_random": 0}`: &Pretrain{
			Kind: KindPretrain, Steps: 5, RandomLinear: Acc(0)},
		`{"kind": "finetune", "steps": 5, "top1": -1, "top5": -1}`: &Finetune{Kind: KindFinetune, Steps: 5},
	} {
		path := filepath.Join(dir, "old.json")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := Read(path); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("a file without a kind, %s: read %#v, %v; want %#v", content, got, err, want)
		}
	}
	// What was not measured is absent from the file: no key, not -1 (a script averaging accuracies
	// must not average in a -1).
	for _, r := range []any{&Pretrain{Kind: KindPretrain, Linear: Acc(0.5)}, &Finetune{Kind: KindFinetune}} {
		path := filepath.Join(dir, "absent.json")
		if err := Write(path, r); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"online_probe", "knn", "linear_pixels", "linear_random", "top1", "top5"} {
			if strings.Contains(string(data), `"`+key+`"`) {
				t.Errorf("%T without %s measured records it:\n%s", r, key, data)
			}
		}
		if !strings.Contains(string(data), `"kind"`) {
			t.Errorf("no kind written:\n%s", data)
		}
	}
	// The provenance's keys are those of evaluate's result before it was shared, beside the
	// result's own keys; the machine is one object.
	path := filepath.Join(dir, "provenance.json")
	if err := Write(path, &Pretrain{Kind: KindPretrain, Provenance: Provenance{Dataset: "cifar10", Seed: 7, Backend: "xla:cpu", Date: "d",
		Machine: &Machine{CPU: "c"}}}); err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if data, err := os.ReadFile(path); err != nil || json.Unmarshal(data, &keys) != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for k, want := range map[string]any{"dataset": "cifar10", "seed": 7.0, "backend": "xla:cpu", "date": "d", "machine": map[string]any{"cpu": "c"}} {
		if !reflect.DeepEqual(keys[k], want) {
			t.Errorf("key %q = %#v, want %#v", k, keys[k], want)
		}
	}
	if _, ok := keys["data_dir"]; ok {
		t.Error("an empty data_dir was written")
	}
	for content, msg := range map[string]string{
		`{"kind": "distill"}`: `unknown kind "distill"`,
		`not json`:            "want a result file",
		// A run's config.json is JSON but no result: it was read as an empty Pretrain.
		`{"dataset": "synthetic", "steps": 20, "checkpoint_dir": "runs/x"}`: "not a result file",
		`{}`: "not a result file",
	} {
		path := filepath.Join(dir, "bad.json")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path); err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an error naming %s with %q", content, err, path, msg)
		}
	}
}

// The package links neither XLA nor GoMLX: a script that reads results stays small.
func TestNoDependenciesBeyondTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		first := strings.SplitN(pkg, "/", 2)[0]
		if strings.Contains(first, ".") && pkg != "github.com/gomlx-ssl/vicreg/results" && pkg != "github.com/gomlx-ssl/vicreg/internal/atomicfile" {
			t.Errorf("results depends on %s", pkg)
		}
	}
}

// ReadAs gives the type asked for, or says which kind the file holds.
func TestReadAs(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	if err := Write(path, &Finetune{Kind: KindFinetune, Top1: Acc(0.5)}); err != nil {
		t.Fatal(err)
	}
	if f, err := ReadAs[Finetune](path); err != nil || f.Top1 == nil || *f.Top1 != 0.5 {
		t.Errorf("ReadAs[Finetune]: %+v, %v", f, err)
	}
	if _, err := ReadAs[Pretrain](path); err == nil || !strings.Contains(err.Error(), "holds a finetune result, not a pretrain one") {
		t.Errorf("ReadAs[Pretrain] of a fine-tuning result: %v", err)
	}
}

// MeasuredOn names the backend and the machine, CPU then devices; without a machine it says
// nothing.
func TestMeasuredOn(t *testing.T) {
	m := &Machine{CPU: "AMD EPYC (family 25, model 1), 16 logical CPUs", Devices: []string{"0, NVIDIA H100", "1, NVIDIA H100"}}
	if got, want := MeasuredOn("xla:cuda", m), "Measured on xla:cuda: AMD EPYC (family 25, model 1), 16 logical CPUs; devices: 0, NVIDIA H100; 1, NVIDIA H100"; got != want {
		t.Errorf("MeasuredOn = %q, want %q", got, want)
	}
	if got := MeasuredOn("xla:cpu", nil); got != "" {
		t.Errorf("MeasuredOn without a machine = %q, want \"\"", got)
	}
}
