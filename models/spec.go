package models

import "strings"

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
// lists them (without fc.*), from the same architecture description Encoder builds (a test checks
// that the graph's variables are these).
func paramSpecs(c Config) []param {
	var ps []param
	add := func(prefix string, cs convSpec) {
		if prefix != "" {
			prefix += "."
		}
		ch := []int{cs.out}
		ps = append(ps,
			param{torch: prefix + cs.conv + ".weight", shape: []int{cs.k, cs.k, cs.in, cs.out}, kind: convKernel},
			param{torch: prefix + cs.bn + ".weight", shape: ch, kind: bnParam},
			param{torch: prefix + cs.bn + ".bias", shape: ch, kind: bnParam},
			param{torch: prefix + cs.bn + ".running_mean", shape: ch, kind: bnStat},
			param{torch: prefix + cs.bn + ".running_var", shape: ch, kind: bnStat})
	}
	arch := c.architecture()
	add("", arch.stem)
	for _, b := range arch.blocks {
		for _, cs := range b.convs() {
			add(b.scope, cs)
		}
	}
	return ps
}

// VariableNames lists the scope and name of every variable Encoder creates for c, relative to
// the context it is given ("/layer1/0/conv1/weight", "/bn1/running_var"), in the order of
// torchvision's state_dict: what a checkpoint of the encoder must hold. It panics on an invalid
// Config.
func (c Config) VariableNames() []string {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	var names []string
	for _, p := range paramSpecs(c) {
		path, name := p.scope()
		names = append(names, "/"+strings.Join(append(path, name), "/"))
	}
	return names
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
