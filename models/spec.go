package models

import (
	"fmt"
	"strings"
)

// paramKind says how a torchvision tensor maps onto our variable.
type paramKind int

const (
	convKernel paramKind = iota // OIHW in torchvision, HWIO here.
	bnParam                     // Trainable rank-1 batch-norm scale or offset.
	bnStat                      // Non-trainable running statistic.
)

// param describes one variable of the encoder, under its torchvision state_dict name.
type param struct {
	torch string // e.g. "layer1.0.conv1.weight"
	shape []int  // our shape (HWIO for kernels)
	kind  paramKind
}

// scope returns the variable's scope path relative to the encoder's context, and its name.
func (p param) scope() (path []string, name string) {
	parts := strings.Split(p.torch, ".")
	return parts[:len(parts)-1], parts[len(parts)-1]
}

// torchShape is the shape the tensor has in a torchvision state_dict.
func (p param) torchShape() []int {
	if p.kind == convKernel {
		s := p.shape
		return []int{s[3], s[2], s[0], s[1]}
	}
	if p.kind == linearWeight {
		return []int{p.shape[1], p.shape[0]}
	}
	return p.shape
}

// paramSpecs lists every variable Encoder creates for c, in the order torchvision's state_dict
// lists them (without fc.*). It must stay in step with Encoder (a test checks that it does).
func paramSpecs(c Config) []param {
	var ps []param
	conv := func(prefix string, k, in, out int) {
		ps = append(ps, param{torch: prefix + ".weight", shape: []int{k, k, in, out}, kind: convKernel})
	}
	bn := func(prefix string, ch int) {
		ps = append(ps,
			param{torch: prefix + ".weight", shape: []int{ch}, kind: bnParam},
			param{torch: prefix + ".bias", shape: []int{ch}, kind: bnParam},
			param{torch: prefix + ".running_mean", shape: []int{ch}, kind: bnStat},
			param{torch: prefix + ".running_var", shape: []int{ch}, kind: bnStat})
	}
	k := 3
	if c.Stem == "imagenet" {
		k = 7
	}
	conv("conv1", k, c.InChannels, c.Width)
	bn("bn1", c.Width)
	inplanes := c.Width
	exp := c.expansion()
	for layer, n := range c.blocks() {
		planes := c.Width << layer
		for b := range n {
			stride := 1
			if layer > 0 && b == 0 {
				stride = 2
			}
			p := fmt.Sprintf("layer%d.%d", layer+1, b)
			if c.bottleneck() {
				conv(p+".conv1", 1, inplanes, planes)
				bn(p+".bn1", planes)
				conv(p+".conv2", 3, planes, planes)
				bn(p+".bn2", planes)
				conv(p+".conv3", 1, planes, planes*exp)
				bn(p+".bn3", planes*exp)
			} else {
				conv(p+".conv1", 3, inplanes, planes)
				bn(p+".bn1", planes)
				conv(p+".conv2", 3, planes, planes)
				bn(p+".bn2", planes)
			}
			if stride != 1 || inplanes != planes*exp {
				conv(p+".downsample.0", 1, inplanes, planes*exp)
				bn(p+".downsample.1", planes*exp)
			}
			inplanes = planes * exp
		}
	}
	return ps
}

// NumParameters returns the number of trainable parameters of the encoder c describes (convolution
// kernels and batch-norm scales and offsets; running statistics excluded), computed from shapes
// alone. For width 64 and 3 channels with the ImageNet stem it equals torchvision's count without
// the fc layer. It panics on an invalid Config.
func (c Config) NumParameters() int {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	total := 0
	for _, p := range paramSpecs(c) {
		if p.kind == bnStat {
			continue
		}
		n := 1
		for _, d := range p.shape {
			n *= d
		}
		total += n
	}
	return total
}
