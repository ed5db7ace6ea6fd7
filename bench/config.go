package main

import (
	"fmt"
	"strings"
)

// Modes of a benchmark configuration.
const (
	modeTrain = "train" // the full VICReg training step on two views
	modeInfer = "infer" // the encoder's eval-mode forward pass on one batch
)

// benchConfig is one row of the table: the same configuration runs on both sides.
type benchConfig struct {
	Name      string `json:"name"`
	Mode      string `json:"mode"`
	Arch      string `json:"arch,omitempty"`  // "resnet18" (CIFAR stem, the default) or "resnet50" (ImageNet stem)
	Image     int    `json:"image,omitempty"` // square image side in pixels (default 32)
	Width     int    `json:"width"`
	Batch     int    `json:"batch"`
	Opt       string `json:"opt,omitempty"` // "sgd" or "lars" (train only)
	Expander  []int  `json:"expander"`
	Precision string `json:"precision,omitempty"` // "" or "f32"; "bf16": ours at -precision bf16, PyTorch under bf16 autocast
}

// arch is the configuration's ResNet ("resnet18" when unset).
func (c benchConfig) arch() string {
	if c.Arch == "" {
		return "resnet18"
	}
	return c.Arch
}

// image is the configuration's image side (32 when unset).
func (c benchConfig) image() int {
	if c.Image == 0 {
		return 32
	}
	return c.Image
}

// stem is the ResNet stem: CIFAR's (3×3, stride 1, no max-pool) for ResNet-18 on small images,
// ImageNet's (7×7 stride 2 and a max-pool) for ResNet-50.
func (c benchConfig) stem() string {
	if c.arch() == "resnet50" {
		return "imagenet"
	}
	return "cifar"
}

// bf16 reports whether the configuration runs in mixed precision.
func (c benchConfig) bf16() bool { return c.Precision == "bf16" }

// encoderMACs is the encoder's MACs per image.
func (c benchConfig) encoderMACs() int64 {
	if c.arch() == "resnet50" {
		return resnet50MACs(c.Width, c.image(), c.image(), 3)
	}
	return resnet18MACs(c.Width, c.image(), c.image(), 3)
}

// featureDim is the encoder's output width (the expander's input).
func (c benchConfig) featureDim() int {
	if c.arch() == "resnet50" {
		return 32 * c.Width
	}
	return 8 * c.Width
}

// imagesPerStep counts both views of a training step as images (a batch of 256 is 512 images).
func (c benchConfig) imagesPerStep() int {
	if c.Mode == modeTrain {
		return 2 * c.Batch
	}
	return c.Batch
}

// flopsPerStep is the analytic cost of one step: a forward is 2·MACs per image, a training step
// about three forwards (forward, gradient with respect to activations, gradient with respect to
// weights) for each of the two views, plus VICReg's covariance products Zᵀ·Z of each view
// (batch·d² MACs, and the same three-forwards rule); inference is the encoder's forward alone.
func (c benchConfig) flopsPerStep() float64 {
	enc, exp := c.encoderMACs(), expanderMACs(c.featureDim(), c.Expander)
	if c.Mode == modeTrain {
		covariance := 0.0
		if len(c.Expander) > 0 {
			d := float64(c.Expander[len(c.Expander)-1])
			covariance = 2 * float64(c.Batch) * d * d // both views
		}
		return 3 * 2 * (float64(enc+exp)*float64(c.imagesPerStep()) + covariance)
	}
	return 2 * float64(enc) * float64(c.Batch)
}

// convMACs is the multiply-accumulate count of a k×k convolution producing an h×w×cout output from
// cin channels (no groups).
func convMACs(h, w, cin, cout, k int) int64 {
	return int64(h) * int64(w) * int64(cout) * int64(cin) * int64(k*k)
}

// resnet18MACs counts the convolution MACs of one image through ResNet-18 with the CIFAR stem
// (3×3 stride-1 stem, no max-pool) at base width `width`, for an h×w image with inC channels.
// Batch norm, ReLU, additions and pooling are not counted (they are a few percent of the work).
func resnet18MACs(width, h, w, inC int) int64 {
	macs := convMACs(h, w, inC, width, 3) // stem
	in := width
	for layer := range 4 {
		planes := width << layer
		for b := range 2 {
			stride := 1
			if layer > 0 && b == 0 {
				stride = 2
			}
			oh, ow := (h+stride-1)/stride, (w+stride-1)/stride
			macs += convMACs(oh, ow, in, planes, 3) + convMACs(oh, ow, planes, planes, 3)
			if stride != 1 || in != planes {
				macs += convMACs(oh, ow, in, planes, 1) // downsample projection
			}
			h, w, in = oh, ow, planes
		}
	}
	return macs
}

// resnet50MACs counts the convolution MACs of one image through torchvision's ResNet-50 (ImageNet
// stem: 7×7 stride-2 convolution and a 3×3 stride-2 max-pool; bottleneck blocks 3-4-6-3 with the
// stride on the 3×3 convolution, v1.5) at base width `width` (64 is torchvision's), for an h×w
// image with inC channels. The fc layer is not counted (the encoder has none).
func resnet50MACs(width, h, w, inC int) int64 {
	down := func(x, k, s int) int { return (x+2*(k/2)-k)/s + 1 } // PyTorch's output size with padding k/2
	h, w = down(h, 7, 2), down(w, 7, 2)
	macs := convMACs(h, w, inC, width, 7)
	h, w = down(h, 3, 2), down(w, 3, 2) // max-pool
	in := width
	for layer, n := range []int{3, 4, 6, 3} {
		planes := width << layer
		for b := range n {
			stride := 1
			if layer > 0 && b == 0 {
				stride = 2
			}
			oh, ow := down(h, 3, stride), down(w, 3, stride)
			macs += convMACs(h, w, in, planes, 1) + convMACs(oh, ow, planes, planes, 3) + convMACs(oh, ow, planes, 4*planes, 1)
			if b == 0 {
				macs += convMACs(oh, ow, in, 4*planes, 1) // downsample projection
			}
			h, w, in = oh, ow, 4*planes
		}
	}
	return macs
}

// expanderMACs counts the linear layers' MACs of one row through the expander (biases not counted).
func expanderMACs(in int, dims []int) int64 {
	var macs int64
	for _, d := range dims {
		macs += int64(in) * int64(d)
		in = d
	}
	return macs
}

// named returns c with its Name set from its fields: r18w64-train-sgd-b256, r18w16-infer-b256,
// r50w64-224px-train-sgd-b128, with a -bf16 suffix in mixed precision.
func named(c benchConfig) benchConfig {
	arch := "r18"
	if c.arch() == "resnet50" {
		arch = "r50"
	}
	name := fmt.Sprintf("%sw%d", arch, c.Width)
	if c.image() != 32 {
		name += fmt.Sprintf("-%dpx", c.image())
	}
	name += "-" + c.Mode
	if c.Mode == modeTrain {
		name += "-" + c.Opt
	}
	name += fmt.Sprintf("-b%d", c.Batch)
	if c.bf16() {
		name += "-bf16"
	}
	c.Name = name
	return c
}

// defaultConfigs are the table's rows on a CPU, in order: ResNet-18 at widths 64 and 16, training
// with SGD and LARS and inference, in float32; on a CPU with bfloat16 hardware (bf16) also the
// SGD training step and inference in mixed precision, next to their float32 rows.
func defaultConfigs(batch int, expander []int, bf16 bool) []benchConfig {
	var out []benchConfig
	for _, width := range []int{64, 16} {
		for _, opt := range []string{"sgd", "lars"} {
			out = append(out, named(benchConfig{Mode: modeTrain, Width: width, Batch: batch, Opt: opt, Expander: expander}))
			if bf16 && opt == "sgd" {
				out = append(out, named(benchConfig{Mode: modeTrain, Width: width, Batch: batch, Opt: opt, Expander: expander, Precision: "bf16"}))
			}
		}
		out = append(out, named(benchConfig{Mode: modeInfer, Width: width, Batch: batch, Expander: expander}))
		if bf16 {
			out = append(out, named(benchConfig{Mode: modeInfer, Width: width, Batch: batch, Expander: expander, Precision: "bf16"}))
		}
	}
	return out
}

// gpuConfigs are the table's rows on a GPU, each in float32 and in bf16 (ours at -precision
// bf16, PyTorch under bf16 autocast), in the order of their importance (a time-bounded run keeps
// the first): the ResNet-18 CIFAR training step (SGD, expander 2048-2048-2048) at batch 256, the
// ResNet-50 224 px training step at batch 128 with the official recipe's 8192-8192-8192
// expander, ResNet-18 inference at batch 256, the training step at batch 1024, inference at 1024.
func gpuConfigs() []benchConfig {
	e2048, e8192 := []int{2048, 2048, 2048}, []int{8192, 8192, 8192}
	var out []benchConfig
	for _, c := range []benchConfig{
		{Mode: modeTrain, Width: 64, Batch: 256, Opt: "sgd", Expander: e2048},
		{Mode: modeTrain, Arch: "resnet50", Image: 224, Width: 64, Batch: 128, Opt: "sgd", Expander: e8192},
		{Mode: modeInfer, Width: 64, Batch: 256, Expander: e2048},
		{Mode: modeTrain, Width: 64, Batch: 1024, Opt: "sgd", Expander: e2048},
		{Mode: modeInfer, Width: 64, Batch: 1024, Expander: e2048},
	} {
		out = append(out, named(c))
		c.Precision = "bf16"
		out = append(out, named(c))
	}
	return out
}

// selectConfigs keeps the configurations whose name contains any of the comma-separated
// substrings in filter (all of them when filter is empty); it is an error when none matches.
func selectConfigs(all []benchConfig, filter string) ([]benchConfig, error) {
	if strings.TrimSpace(filter) == "" {
		return all, nil
	}
	var out []benchConfig
	for _, c := range all {
		for _, f := range strings.Split(filter, ",") {
			if f = strings.TrimSpace(f); f != "" && strings.Contains(c.Name, f) {
				out = append(out, c)
				break
			}
		}
	}
	if len(out) == 0 {
		var names []string
		for _, c := range all {
			names = append(names, c.Name)
		}
		return nil, fmt.Errorf("-configs %q matches none of %s", filter, strings.Join(names, ", "))
	}
	return out, nil
}

// convSpec is the convolution of the layout and precision micro-benchmarks.
type convSpec struct {
	N, HW, Cin, Cout, Stride int
	Backward                 bool // time forward + both gradients (else the forward alone)
}
