package models

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

func TestValidate(t *testing.T) {
	ok := DefaultConfig()
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // "" for valid; else substrings of the error.
	}{
		{"default", func(*Config) {}, ""},
		{"resnet50 imagenet gray", func(c *Config) { c.Arch, c.Stem, c.InChannels = "resnet50", "imagenet", 1 }, ""},
		{"bad arch", func(c *Config) { c.Arch = "resnet101" }, `Config.Arch "resnet101" is not one of resnet18, resnet34, resnet50`},
		{"bad stem", func(c *Config) { c.Stem = "tiny" }, `Config.Stem "tiny" is not one of imagenet, cifar`},
		{"zero width", func(c *Config) { c.Width = 0 }, "Config.Width 0"},
		{"two channels", func(c *Config) { c.InChannels = 2 }, "Config.InChannels 2 must be 1 (grayscale) or 3 (RGB)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.modify(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	want := Config{Arch: "resnet18", Stem: "cifar", Width: 64, InChannels: 3}
	if got := DefaultConfig(); got != want {
		t.Errorf("DefaultConfig() = %+v, want %+v", got, want)
	}
}

func TestFeatureDim(t *testing.T) {
	tests := []struct {
		arch  string
		width int
		want  int
	}{
		{"resnet18", 64, 512}, {"resnet34", 64, 512}, {"resnet50", 64, 2048},
		{"resnet18", 4, 32}, {"resnet50", 8, 256},
	}
	for _, tc := range tests {
		c := Config{Arch: tc.arch, Stem: "cifar", Width: tc.width, InChannels: 3}
		if got := c.FeatureDim(); got != tc.want {
			t.Errorf("%s width %d: FeatureDim() = %d, want %d", tc.arch, tc.width, got, tc.want)
		}
	}
}

func TestParseExpander(t *testing.T) {
	tests := []struct {
		spec    string
		want    []int
		wantErr string
	}{
		{"2048-2048-2048", []int{2048, 2048, 2048}, ""},
		{"8192", []int{8192}, ""},
		{" 16 - 8 ", []int{16, 8}, ""},
		{"", nil, `expander spec "" is empty`},
		{"2048--2048", nil, `expander spec "2048--2048": layer 2 width ""`},
		{"2048-x", nil, `expander spec "2048-x": layer 2 width "x"`},
		{"0-16", nil, `layer 1 width "0" is not a positive integer`},
		{"-5", nil, `expander spec "-5"`},
	}
	for _, tc := range tests {
		got, err := ParseExpander(tc.spec)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseExpander(%q) error = %v, want one containing %q", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseExpander(%q) = %v, %v; want %v", tc.spec, got, err, tc.want)
		}
	}
}

// ExampleParseExpander shows the official VICReg projector specification.
func ExampleParseExpander() {
	dims, err := ParseExpander("8192-8192-8192")
	fmt.Println(dims, err)
	// Output: [8192 8192 8192] <nil>
}

// TestNumParameters compares with torchvision's parameter counts (sum of p.numel() over
// model.parameters(), minus the fc layer: 512*1000+1000 for ResNet-18/34, 2048*1000+1000 for ResNet-50).
func TestNumParameters(t *testing.T) {
	tests := []struct {
		arch string
		want int
	}{
		{"resnet18", 11_689_512 - 513_000},   // 11,176,512
		{"resnet34", 21_797_672 - 513_000},   // 21,284,672
		{"resnet50", 25_557_032 - 2_049_000}, // 23,508,032
	}
	for _, tc := range tests {
		c := Config{Arch: tc.arch, Stem: "imagenet", Width: 64, InChannels: 3}
		if got := c.NumParameters(); got != tc.want {
			t.Errorf("%s: NumParameters() = %d, want %d", tc.arch, got, tc.want)
		}
		// The CIFAR stem only changes conv1 from 7x7 to 3x3 kernels: 64*3*(49-9) fewer parameters.
		c.Stem = "cifar"
		if got, want := c.NumParameters(), tc.want-64*3*(49-9); got != want {
			t.Errorf("%s cifar stem: NumParameters() = %d, want %d", tc.arch, got, want)
		}
	}
}

// TestEncoderVariablesMatchSpec builds (without compiling) each encoder's graph and checks that the
// variables it creates are exactly those paramSpecs lists — the list ImportTorchvision relies on —
// with the same shapes and trainability, and that the trainable count is torchvision's.
func TestEncoderVariablesMatchSpec(t *testing.T) {
	backend := backendtest.Backend(t)
	for _, arch := range Archs {
		for _, stem := range Stems {
			c := Config{Arch: arch, Stem: stem, Width: 64, InChannels: 3}
			t.Run(arch+"/"+stem, func(t *testing.T) {
				ctx := context.New()
				g := graph.NewGraph(backend, "variables")
				defer g.Finalize()
				x := graph.Parameter(g, "images", shapes.Make(dtypes.Float32, 1, 32, 32, 3))
				out := Encoder(ctx.In("backbone"), c, x)
				if want := []int{1, c.FeatureDim()}; !slices.Equal(out.Shape().Dimensions, want) {
					t.Errorf("output shape %v, want %v", out.Shape().Dimensions, want)
				}
				var got []string
				trainable := 0
				for v := range ctx.IterVariables() {
					got = append(got, fmt.Sprintf("%s/%s %v %v", v.Scope(), v.Name(), v.Shape().Dimensions, v.Trainable))
					if v.Trainable {
						trainable += v.Shape().Size()
					}
				}
				var want []string
				for _, p := range paramSpecs(c) {
					path, name := p.scope()
					want = append(want, fmt.Sprintf("/backbone/%s/%s %v %v", strings.Join(path, "/"), name, p.shape, p.kind != bnStat))
				}
				sort.Strings(got)
				sort.Strings(want)
				if !slices.Equal(got, want) {
					t.Errorf("variables differ from paramSpecs:\n got %v\nwant %v", got, want)
				}
				if trainable != c.NumParameters() {
					t.Errorf("trainable parameters in the graph = %d, NumParameters() = %d", trainable, c.NumParameters())
				}
			})
		}
	}
}

// TestVariableNames: the names of torchvision's state_dict without fc.* and num_batches_tracked
// (100 for ResNet-18, 265 for ResNet-50; counted with torchvision 0.14), from conv1.weight to the
// last block's last running variance, as scope paths.
func TestVariableNames(t *testing.T) {
	for _, tc := range []struct {
		arch        string
		n           int
		first, last string
	}{
		{"resnet18", 100, "/conv1/weight", "/layer4/1/bn2/running_var"},
		{"resnet50", 265, "/conv1/weight", "/layer4/2/bn3/running_var"},
	} {
		names := Config{Arch: tc.arch, Stem: "imagenet", Width: 64, InChannels: 3}.VariableNames()
		if len(names) != tc.n || names[0] != tc.first || names[len(names)-1] != tc.last {
			t.Errorf("%s: %d names, %q ... %q; want %d, %q ... %q", tc.arch, len(names), names[0], names[len(names)-1], tc.n, tc.first, tc.last)
		}
	}
}

// TestLastFeatureSide: the side of the last feature maps, as torchvision 0.14's resnet18 and
// resnet50 give it (children up to layer4 on a zero image; the CIFAR stem a 3x3 stride-1 conv
// without max-pool, solo-learn's with padding 2).
func TestLastFeatureSide(t *testing.T) {
	for _, tc := range []struct {
		arch, stem string
		side, want int
	}{
		{"resnet18", "imagenet", 224, 7}, {"resnet18", "imagenet", 28, 1}, {"resnet18", "imagenet", 16, 1},
		{"resnet18", "imagenet", 32, 1}, {"resnet50", "imagenet", 224, 7},
		{"resnet18", "cifar", 32, 4}, {"resnet18", "cifar", 28, 4}, {"resnet18", "solo", 32, 5},
	} {
		c := Config{Arch: tc.arch, Stem: tc.stem, Width: 8, InChannels: 3}
		if got := c.LastFeatureSide(tc.side); got != tc.want {
			t.Errorf("%s, %s stem, %d px: last feature maps %dx%d, want %dx%d", tc.arch, tc.stem, tc.side, got, got, tc.want, tc.want)
		}
	}
}
