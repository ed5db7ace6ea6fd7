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
	Name     string `json:"name"`
	Mode     string `json:"mode"`
	Width    int    `json:"width"`
	Batch    int    `json:"batch"`
	Opt      string `json:"opt,omitempty"` // "sgd" or "lars" (train only)
	Expander []int  `json:"expander"`
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
// weights) for each of the two views; inference is the encoder's forward alone.
func (c benchConfig) flopsPerStep() float64 {
	enc, exp := resnet18MACs(c.Width, 32, 32, 3), expanderMACs(8*c.Width, c.Expander)
	if c.Mode == modeTrain {
		return 3 * 2 * float64(enc+exp) * float64(c.imagesPerStep())
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

// expanderMACs counts the linear layers' MACs of one row through the expander (biases not counted).
func expanderMACs(in int, dims []int) int64 {
	var macs int64
	for _, d := range dims {
		macs += int64(in) * int64(d)
		in = d
	}
	return macs
}

// defaultConfigs are the table's rows, in order.
func defaultConfigs(batch int, expander []int) []benchConfig {
	var out []benchConfig
	for _, width := range []int{64, 16} {
		for _, opt := range []string{"sgd", "lars"} {
			out = append(out, benchConfig{Name: fmt.Sprintf("r18w%d-train-%s-b%d", width, opt, batch),
				Mode: modeTrain, Width: width, Batch: batch, Opt: opt, Expander: expander})
		}
		out = append(out, benchConfig{Name: fmt.Sprintf("r18w%d-infer-b%d", width, batch),
			Mode: modeInfer, Width: width, Batch: batch, Expander: expander})
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
