package encoder

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/core/tensors/numpy"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// testImages returns n NHWC images of side s with 3 channels, deterministic.
func testImages(n, s int) []float32 {
	x := make([]float32, n*s*s*3)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * 1.5
	}
	return x
}

// TestExportLoadsIntoTorchvision exports a (randomly initialised) ResNet-18 of torchvision's
// shape and loads it with torchvision's load_state_dict(strict=False): only the classifier (and
// the batch-norm step counters) may be missing, nothing unexpected, and torchvision's features
// of the same images equal ours within float32 rounding. Skipped without Debian's python3-torch.
func TestExportLoadsIntoTorchvision(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, torchvision").Run(); err != nil {
		t.Skipf("needs %s with torch and torchvision (Debian's python3-torch, python3-torchvision): %v", py, err)
	}
	b := backendtest.XLA(t)
	cfg := config.Default()
	cfg.Model = models.Config{Arch: "resnet18", Stem: "imagenet", Width: 64, InChannels: 3}
	enc, err := Random(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	const n, s = 2, 64
	images := testImages(n, s)
	ours, err := enc.Embed(images, n, s, s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "encoder.safetensors")
	if err := Export(path, enc.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	// NHWC to NCHW for torchvision.
	nchw := make([]float32, len(images))
	for i := range n {
		for y := range s {
			for x := range s {
				for c := range 3 {
					nchw[((i*3+c)*s+y)*s+x] = images[((i*s+y)*s+x)*3+c]
				}
			}
		}
	}
	inp := filepath.Join(dir, "x.npy")
	if err := numpy.ToNpyFile(tensors.FromFlatDataAndDimensions(nchw, n, 3, s, s), inp); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "testdata/torchvision_load.py", path, inp, "resnet18").Output()
	if err != nil {
		t.Fatalf("torchvision: %v", err)
	}
	var res struct {
		Missing, Unexpected []string
		Features            []float64
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	for _, k := range res.Missing {
		if !strings.HasPrefix(k, "fc.") && !strings.HasSuffix(k, ".num_batches_tracked") {
			t.Errorf("torchvision misses %q", k)
		}
	}
	if len(res.Unexpected) > 0 {
		t.Errorf("torchvision did not expect %v", res.Unexpected)
	}
	if len(res.Features) != len(ours) {
		t.Fatalf("%d torchvision features, %d ours", len(res.Features), len(ours))
	}
	worst := 0.0
	for i, v := range res.Features {
		worst = max(worst, math.Abs(v-float64(ours[i]))/(1+math.Abs(v)))
	}
	if worst > 1e-4 {
		t.Errorf("features differ from torchvision's by %.3g (relative), want float32 rounding", worst)
	}
}

// Load reads a run folder, a checkpoint and an export alike; ParseConfig takes a fine-tuning
// run's configuration (its "encoder" key); missing encoder variables and other files are errors.
func TestLoadAndItsErrors(t *testing.T) {
	b := backendtest.XLA(t)
	cfg := config.Default()
	cfg.Model = models.Config{Arch: "resnet18", Stem: "cifar", Width: 2, InChannels: 1}
	enc, err := Random(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	images := testImages(1, 8)[:64]
	want, err := enc.Embed(images, 1, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	vars, err := checkpoints.FromContext(enc.Context())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mgr, err := checkpoints.NewManager(filepath.Join(dir, "run"), 2, "")
	if err != nil {
		t.Fatal(err)
	}
	ckpt, err := mgr.Save(&checkpoints.State{Step: 3, Config: cfg.JSON(), Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "enc.safetensors")
	if err := Export(export, enc.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{mgr.Dir, ckpt, export} {
		e, err := Load(b, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, err := e.Embed(images, 1, 8, 8)
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: embedding %d is %v, want %v", p, i, got[i], want[i])
			}
		}
	}

	wrapped, _ := json.Marshal(map[string]any{"encoder": json.RawMessage(cfg.JSON()), "weights": "finetune", "lr_head": 0.1})
	if got, err := ParseConfig(wrapped); err != nil || got.Model != cfg.Model {
		t.Errorf("fine-tuning configuration: %+v, %v", got.Model, err)
	}
	if _, err := ParseConfig(nil); err == nil || !strings.Contains(err.Error(), "no run configuration") {
		t.Errorf("empty configuration: %v", err)
	}
	if _, err := Load(b, filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing path: %v", err)
	}
	// A checkpoint without some of the encoder's variables.
	fresh, err := FromVariables(b, cfg, vars)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.Embed(images, 1, 8, 8); err != nil {
		t.Fatal(err)
	}
	var partial []checkpoints.Variable
	for _, v := range vars {
		if !strings.Contains(v.Key(), "layer4") {
			partial = append(partial, v)
		}
	}
	if err := fresh.SetVariables(partial); err == nil || !strings.Contains(err.Error(), "layer4") {
		t.Errorf("checkpoint without layer4: got %v, want an error naming it", err)
	}
	// The same before the graph is first built (Load and FromVariables on a fresh encoder): a
	// checkpoint without the running variances would have run with running_var 1.
	var noVar []checkpoints.Variable
	for _, v := range vars {
		if !strings.HasSuffix(v.Key(), "running_var") {
			noVar = append(noVar, v)
		}
	}
	wantMissing := "the checkpoint has no value for /encoder/bn1/running_var (20 of the resnet18 encoder's variables are missing)"
	if e, err := FromVariables(b, cfg, noVar); err == nil || !strings.Contains(err.Error(), wantMissing) {
		if e != nil {
			e.Close()
		}
		t.Errorf("FromVariables without the running variances: %v, want an error containing %q", err, wantMissing)
	}
	saved, err := mgr.Save(&checkpoints.State{Step: 4, Config: cfg.JSON(), Variables: noVar})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := Load(b, saved); err == nil || !strings.Contains(err.Error(), wantMissing) {
		if e != nil {
			e.Close()
		}
		t.Errorf("Load of a checkpoint without the running variances: %v, want an error containing %q", err, wantMissing)
	}
	if err := fresh.SetVariables(nil); err == nil || !strings.Contains(err.Error(), "no variables under /encoder") {
		t.Errorf("no encoder variables: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "junk.safetensors"), []byte("not a checkpoint"), 0o644)
	if _, err := Load(b, filepath.Join(dir, "junk.safetensors")); err == nil {
		t.Error("a junk file loaded")
	}
}
