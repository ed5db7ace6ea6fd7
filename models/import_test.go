package models

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/checkpoints/safetensors"
)

// torchStateDict returns a state_dict for c with every tensor filled by its own running index (so
// a transposition error changes values), plus the entries ImportTorchvision must ignore.
func torchStateDict(c Config) *safetensors.File {
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}}
	for i, p := range paramSpecs(c) {
		shape := p.torchShape()
		n := 1
		for _, d := range shape {
			n *= d
		}
		vals := make([]float32, n)
		for j := range vals {
			vals[j] = float32(i) + float32(j)/float32(n)
		}
		f.Tensors[p.torch] = safetensors.FromFloat32(shape, vals)
		if p.kind == bnStat && strings.HasSuffix(p.torch, "running_var") {
			f.Tensors[strings.TrimSuffix(p.torch, "running_var")+"num_batches_tracked"] = safetensors.FromInt64(nil, []int64{3})
		}
	}
	f.Tensors["fc.weight"] = safetensors.FromFloat32([]int{10, c.FeatureDim()}, make([]float32, 10*c.FeatureDim()))
	f.Tensors["fc.bias"] = safetensors.FromFloat32([]int{10}, make([]float32, 10))
	return f
}

func writeState(t *testing.T, f *safetensors.File) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.safetensors")
	if err := safetensors.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportTorchvisionLayouts(t *testing.T) {
	c := Config{Arch: "resnet18", Stem: "imagenet", Width: 2, InChannels: 3}
	state := torchStateDict(c)
	ctx := context.New()
	if err := ImportTorchvision(ctx.In("backbone"), c, writeState(t, state)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		torch, scope, name string
		trainable          bool
	}{
		{"conv1.weight", "/backbone/conv1", "weight", true},
		{"layer2.0.downsample.0.weight", "/backbone/layer2/0/downsample/0", "weight", true},
		{"layer4.1.conv2.weight", "/backbone/layer4/1/conv2", "weight", true},
		{"bn1.bias", "/backbone/bn1", "bias", true},
		{"layer3.0.downsample.1.running_var", "/backbone/layer3/0/downsample/1", "running_var", false},
	}
	for _, tc := range tests {
		v := ctx.GetVariableByScopeAndName(tc.scope, tc.name)
		if v == nil {
			t.Errorf("%s: no variable %s/%s", tc.torch, tc.scope, tc.name)
			continue
		}
		if v.Trainable != tc.trainable {
			t.Errorf("%s: trainable = %v, want %v", tc.torch, v.Trainable, tc.trainable)
		}
		src := state.Tensors[tc.torch]
		want, _ := src.Float32s()
		got := tensors.MustCopyFlatData[float32](v.MustValue())
		dims := v.Shape().Dimensions
		if len(src.Shape) == 4 { // OIHW → HWIO: element [o,i,y,x] must land at [y,x,i,o].
			o, in, kh, kw := src.Shape[0], src.Shape[1], src.Shape[2], src.Shape[3]
			if !slices.Equal(dims, []int{kh, kw, in, o}) {
				t.Fatalf("%s: shape %v, want HWIO %v", tc.torch, dims, []int{kh, kw, in, o})
			}
			for a := range o {
				for b := range in {
					for y := range kh {
						for x := range kw {
							if g, w := got[((y*kw+x)*in+b)*o+a], want[((a*in+b)*kh+y)*kw+x]; g != w {
								t.Fatalf("%s[%d,%d,%d,%d] = %v, want %v", tc.torch, a, b, y, x, g, w)
							}
						}
					}
				}
			}
		} else if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", tc.torch, got, want)
		}
	}
	if n := ctx.NumVariables(); n != len(paramSpecs(c)) {
		t.Errorf("imported %d variables, want %d (fc and num_batches_tracked ignored)", n, len(paramSpecs(c)))
	}
}

func TestImportTorchvisionErrors(t *testing.T) {
	c := Config{Arch: "resnet18", Stem: "cifar", Width: 2, InChannels: 3}
	tests := []struct {
		name   string
		config Config
		modify func(f *safetensors.File)
		want   []string
	}{
		{"unknown", c, func(f *safetensors.File) {
			f.Tensors["layer5.0.conv1.weight"] = safetensors.FromFloat32([]int{1}, []float32{0})
		}, []string{"1 unknown tensors: layer5.0.conv1.weight"}},
		{"missing", c, func(f *safetensors.File) {
			delete(f.Tensors, "layer3.1.bn2.running_mean")
			delete(f.Tensors, "conv1.weight")
		}, []string{"2 missing tensors: conv1.weight, layer3.1.bn2.running_mean"}},
		{"misshaped", c, func(f *safetensors.File) {
			f.Tensors["layer1.0.conv2.weight"] = safetensors.FromFloat32([]int{2, 2, 1, 1}, make([]float32, 4))
		}, []string{"layer1.0.conv2.weight has shape [2 2 1 1], want [2 2 3 3]"}},
		{"wrong stem", Config{Arch: "resnet18", Stem: "imagenet", Width: 2, InChannels: 3}, nil,
			[]string{"conv1.weight has shape [2 3 3 3], want [2 3 7 7]", "imagenet stem"}},
		{"wrong arch", Config{Arch: "resnet34", Stem: "cifar", Width: 2, InChannels: 3}, nil,
			[]string{"80 missing tensors: layer1.2.conv1.weight"}},
		{"not a number", c, func(f *safetensors.File) {
			f.Tensors["bn1.weight"] = safetensors.FromInt64([]int{2}, []int64{1, 1})
		}, []string{"bn1.weight", "I64"}},
		{"bad config", Config{Arch: "vgg"}, nil, []string{`Config.Arch "vgg"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := torchStateDict(c)
			if tc.modify != nil {
				tc.modify(f)
			}
			path := writeState(t, f)
			ctx := context.New()
			err := ImportTorchvision(ctx, tc.config, path)
			if err == nil {
				t.Fatal("ImportTorchvision succeeded, want an error")
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if n := ctx.NumVariables(); n != 0 {
				t.Errorf("a failed import created %d variables, want 0", n)
			}
		})
	}
	if err := ImportTorchvision(context.New(), c, filepath.Join(t.TempDir(), "absent.safetensors")); err == nil ||
		!strings.Contains(err.Error(), "absent.safetensors") {
		t.Errorf("missing file: error = %v, want one naming the file", err)
	}
}

// TestExportTorchvisionRoundTrip imports a state_dict, exports it, and checks that every tensor
// comes back bit for bit in torchvision's layout.
func TestExportTorchvisionRoundTrip(t *testing.T) {
	c := Config{Arch: "resnet50", Stem: "imagenet", Width: 2, InChannels: 1}
	state := torchStateDict(c)
	ctx := context.New().In("backbone")
	if err := ImportTorchvision(ctx, c, writeState(t, state)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export.safetensors")
	if err := ExportTorchvision(ctx, c, out, nil); err != nil {
		t.Fatal(err)
	}
	back, err := safetensors.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(back.Tensors), len(paramSpecs(c)); got != want {
		t.Errorf("exported %d tensors, want %d", got, want)
	}
	for _, name := range back.Names() {
		got, want := back.Tensors[name], state.Tensors[name]
		if !slices.Equal(got.Shape, want.Shape) || string(got.Data) != string(want.Data) {
			t.Errorf("%s: exported %v differs from the imported %v", name, got.Shape, want.Shape)
		}
	}
	if back.Metadata["arch"] != "resnet50" {
		t.Errorf("metadata = %v, want arch resnet50", back.Metadata)
	}
	err = ExportTorchvision(context.New(), c, out, nil)
	if err == nil || !strings.Contains(err.Error(), "conv1.weight") {
		t.Errorf("export of an empty context: error = %v, want one naming conv1.weight", err)
	}
}
