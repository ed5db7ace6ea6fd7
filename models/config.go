// Package models holds the networks of the toolkit: ResNet encoders (ResNet-18/34 with basic blocks,
// ResNet-50 with bottlenecks; ImageNet or CIFAR stem), the VICReg expander (projector), our own
// batch normalization (gradients flow through the batch statistics, as in PyTorch), and the import
// of torchvision weights from a safetensors file.
//
// Images are NHWC float32: [batch, height, width, channels], GoMLX's default (channels-last)
// layout for convolutions.
//
// Variable scopes mirror torchvision's state_dict names, with "/" for ".": the state_dict entry
// "layer1.0.downsample.1.running_var" is the variable "running_var" in scope
// "<ctx scope>/layer1/0/downsample/1". Convolution kernels are stored in GoMLX's layout
// [kh, kw, in, out] (torchvision: [out, in, kh, kw]); linear weights as [in, out] (PyTorch: [out, in]).
// Batch-norm scale and offset are named "weight" and "bias" (trainable, rank 1); the running
// statistics "running_mean" and "running_var" are not trainable.
package models

import (
	"fmt"
	"slices"
	"strings"
)

// Architectures and stems accepted by Config.
var (
	// Archs lists the valid values of Config.Arch.
	Archs = []string{"resnet18", "resnet34", "resnet50"}
	// Stems lists the valid values of Config.Stem.
	Stems = []string{"imagenet", "cifar", "solo"}
)

// Config describes a ResNet encoder.
type Config struct {
	// Arch is one of "resnet18", "resnet34" (basic blocks) or "resnet50" (bottleneck blocks).
	Arch string `json:"arch"`
	// Stem is "imagenet" (7x7 stride-2 convolution, then 3x3 stride-2 max-pool), "cifar" (3x3
	// stride-1 convolution with padding 1, no max-pool), the usual choice for 32x32 images, or
	// "solo", solo-learn's CIFAR stem: the same with padding 2, so that 32x32 images give 34x34
	// maps (34, 17, 9, 5 through the stages). Their weights have the same names and shapes, so a
	// solo-learn CIFAR backbone imports as either; only "solo" computes what solo-learn's does.
	Stem string `json:"stem"`
	// Width is the base width: the channels of the stem and of layer1 (64 in torchvision); layers
	// 2-4 have 2, 4 and 8 times as many. Smaller widths make CPU experiments affordable.
	Width int `json:"width"`
	// InChannels is the number of image channels: 1 (grayscale) or 3 (RGB).
	InChannels int `json:"in_channels"`
	// ZeroInitResidual initialises to zero the scale of the last batch norm of every residual
	// block (torchvision's zero_init_residual), so each block starts as the identity.
	ZeroInitResidual bool `json:"zero_init_residual"`
}

// DefaultConfig returns a ResNet-18 with the CIFAR stem, width 64 and 3 input channels.
func DefaultConfig() Config {
	return Config{Arch: "resnet18", Stem: "cifar", Width: 64, InChannels: 3}
}

// Validate reports the first invalid field, naming it and its valid values.
func (c Config) Validate() error {
	if !slices.Contains(Archs, c.Arch) {
		return fmt.Errorf("models: Config.Arch %q is not one of %s", c.Arch, strings.Join(Archs, ", "))
	}
	if !slices.Contains(Stems, c.Stem) {
		return fmt.Errorf("models: Config.Stem %q is not one of %s", c.Stem, strings.Join(Stems, ", "))
	}
	if c.Width <= 0 {
		return fmt.Errorf("models: Config.Width %d must be a positive number of channels (64 for torchvision's ResNets)", c.Width)
	}
	if c.InChannels != 1 && c.InChannels != 3 {
		return fmt.Errorf("models: Config.InChannels %d must be 1 (grayscale) or 3 (RGB)", c.InChannels)
	}
	return nil
}

// FeatureDim is the size of the representation returned by Encoder: 8*Width for ResNet-18/34
// (512 at width 64) and 32*Width for ResNet-50 (2048 at width 64). It panics on an invalid Arch.
func (c Config) FeatureDim() int {
	return 8 * c.Width * c.expansion()
}

// bottleneck reports whether the architecture uses bottleneck blocks.
func (c Config) bottleneck() bool {
	switch c.Arch {
	case "resnet18", "resnet34":
		return false
	case "resnet50":
		return true
	}
	panic(c.Validate())
}

// expansion is the ratio of a block's output channels to its inner width (1 basic, 4 bottleneck).
func (c Config) expansion() int {
	if c.bottleneck() {
		return bottleneckExpansion
	}
	return 1
}

// blocks returns the number of residual blocks in each of the four layers.
func (c Config) blocks() [4]int {
	if c.Arch == "resnet18" {
		return [4]int{2, 2, 2, 2}
	}
	return [4]int{3, 4, 6, 3}
}
