package models

import (
	"fmt"
	"math"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
)

// Encoder builds the ResNet that c describes on images ([batch, height, width, c.InChannels], NHWC,
// float32 or float64) and returns the globally average-pooled representation [batch, c.FeatureDim()].
// Mixed precision: with bfloat16 (or float16) images the convolutions run in that dtype on float32
// weights cast where they are used, batch norm and the pooling compute in float32, and the output
// has the images' dtype (see MasterDType).
//
// Architecture as torchvision's ResNet (v1.5: in bottlenecks the stride is on the 3x3 convolution),
// without the fc layer; every convolution has no bias and is followed by batch norm (see BatchNorm:
// training or eval mode follows ctx.IsTraining). Paddings are PyTorch's (k/2 on every side), not
// "same" padding, so outputs match torchvision exactly for any image size.
//
// Initialisation, as torchvision: convolution kernels ~ N(0, 2/fan_out) with fan_out =
// out_channels·kh·kw (kaiming_normal_(mode='fan_out', nonlinearity='relu')); batch-norm weight 1
// and bias 0, except the last batch norm of each residual block when c.ZeroInitResidual (weight 0).
//
// Variables are created in ctx's scope under torchvision's names (conv1, bn1, layer1/0/conv1, ...,
// layer1/0/downsample/0 and /1); existing variables (from ImportTorchvision, a checkpoint, or an
// earlier call such as the other view's) are reused after a shape check, so calling Encoder twice
// in one graph shares the weights. Encoder panics on an invalid Config or a wrongly shaped input
// (programming errors).
func Encoder(ctx *context.Context, c Config, images *Node) *Node {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	dims := images.Shape().Dimensions
	if images.Rank() != 4 || dims[3] != c.InChannels {
		panic(fmt.Errorf("models.Encoder: images must be NHWC [batch, height, width, %d], got %s", c.InChannels, images.Shape()))
	}
	if !images.DType().IsFloat() {
		panic(fmt.Errorf("models.Encoder: images must be float32 or float64, got %s", images.Shape()))
	}
	ctx = ctx.Checked(false)
	arch := c.architecture()
	x := activations.Relu(convBN(ctx, arch.stem, images))
	if arch.maxPool {
		// nn.MaxPool2d(kernel_size=3, stride=2, padding=1): padded positions never win the max.
		// In float32 for half-precision input: the max is exact in any dtype, and the XLA CPU
		// plugin (PJRT 0.81) fails to parse the bfloat16 -inf padding constant that GoMLX writes.
		x = ConvertDType(MaxPool(ConvertDType(x, MasterDType(x.DType()))).Window(3).Strides(2).
			PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done(), x.DType())
	}
	for _, b := range arch.blocks {
		x = residualBlock(ctx, b, x)
	}
	// Global average pooling over height and width, summed in float32 for half-precision input.
	return ConvertDType(ReduceMean(ConvertDType(x, MasterDType(x.DType())), 1, 2), x.DType())
}

// The architecture, described once: Encoder builds its graph from it and paramSpecs lists its
// variables from it (the torchvision names and shapes that import and export use).

// convSpec is one bias-free k×k convolution followed by batch norm, with their torchvision scopes
// relative to the block ("conv1" and "bn1", or "downsample.0" and "downsample.1").
type convSpec struct {
	conv, bn      string
	k, in, out    int
	stride        int
	pad           int  // extra zero padding on each side beyond PyTorch's k/2 (solo-learn's stem: 1)
	zeroInitScale bool // the batch norm's scale starts at 0 (ZeroInitResidual, on a block's last)
}

// blockSpec is one residual block: out = ReLU(path(x) + shortcut(x)), with ReLU between the
// path's convolutions (after their batch norm) and shortcut the identity when nil.
type blockSpec struct {
	scope    string // torchvision's, e.g. "layer2.0"; "" for the context itself
	path     []convSpec
	shortcut *convSpec
}

// architecture is a whole encoder: the stem (followed by ReLU, then the max-pool when maxPool),
// then the residual blocks in order.
type architecture struct {
	stem    convSpec
	maxPool bool
	blocks  []blockSpec
}

// architecture returns the ResNet that c describes, as torchvision builds it (v1.5).
func (c Config) architecture() architecture {
	a := architecture{stem: convSpec{conv: "conv1", bn: "bn1", k: 3, in: c.InChannels, out: c.Width, stride: 1}}
	switch c.Stem {
	case "imagenet":
		a.stem.k, a.stem.stride, a.maxPool = 7, 2, true
	case "solo":
		a.stem.pad = 1 // padding 2: a 32x32 image gives 34x34 maps
	}
	in := c.Width
	for layer, n := range c.blocks() {
		planes := c.Width << layer
		for b := range n {
			stride := 1
			if layer > 0 && b == 0 {
				stride = 2
			}
			blk := newBlock(fmt.Sprintf("layer%d.%d", layer+1, b), in, planes, stride, c.bottleneck(), c.ZeroInitResidual)
			a.blocks = append(a.blocks, blk)
			in = blk.outChannels()
		}
	}
	return a
}

// bottleneckExpansion is the ratio of a bottleneck block's output channels to its inner width.
const bottleneckExpansion = 4

// newBlock describes torchvision's BasicBlock (two 3x3 convolutions) or, when bottleneck, its
// Bottleneck v1.5 (1x1 reduce, 3x3 carrying the stride, 1x1 expand by 4), from in channels at inner
// width planes; the shortcut is a strided 1x1 projection with batch norm ("downsample.0" and
// "downsample.1") when the shape changes.
func newBlock(scope string, in, planes, stride int, bottleneck, zeroInit bool) blockSpec {
	var b blockSpec
	b.scope = scope
	if bottleneck {
		b.path = []convSpec{
			{conv: "conv1", bn: "bn1", k: 1, in: in, out: planes, stride: 1},
			{conv: "conv2", bn: "bn2", k: 3, in: planes, out: planes, stride: stride},
			{conv: "conv3", bn: "bn3", k: 1, in: planes, out: planes * bottleneckExpansion, stride: 1},
		}
	} else {
		b.path = []convSpec{
			{conv: "conv1", bn: "bn1", k: 3, in: in, out: planes, stride: stride},
			{conv: "conv2", bn: "bn2", k: 3, in: planes, out: planes, stride: 1},
		}
	}
	b.path[len(b.path)-1].zeroInitScale = zeroInit
	if out := b.outChannels(); stride != 1 || in != out {
		b.shortcut = &convSpec{conv: "downsample.0", bn: "downsample.1", k: 1, in: in, out: out, stride: stride}
	}
	return b
}

// outChannels is the number of channels the block returns.
func (b blockSpec) outChannels() int { return b.path[len(b.path)-1].out }

// convs lists the block's convolutions in torchvision's state_dict order: the path, then the
// shortcut.
func (b blockSpec) convs() []convSpec {
	if b.shortcut == nil {
		return b.path
	}
	return append(append([]convSpec(nil), b.path...), *b.shortcut)
}

// residualBlock builds block b on x in ctx (b's variables in b.scope under ctx).
func residualBlock(ctx *context.Context, b blockSpec, x *Node) *Node {
	ctx = inScope(ctx, b.scope)
	identity := x
	if b.shortcut != nil {
		identity = convBN(ctx, *b.shortcut, x)
	}
	out := x
	for i, cs := range b.path {
		out = convBN(ctx, cs, out)
		if i < len(b.path)-1 {
			out = activations.Relu(out)
		}
	}
	return activations.Relu(Add(out, identity))
}

// convBN builds the convolution and batch norm cs describes on x, their variables under cs's
// scopes in ctx. It panics when x does not have cs.in channels (the description and the graph
// disagree: a programming error).
func convBN(ctx *context.Context, cs convSpec, x *Node) *Node {
	if got := x.Shape().Dimensions[3]; got != cs.in {
		panic(fmt.Errorf("models: %s expects %d input channels, the graph has %d", cs.conv, cs.in, got))
	}
	y := conv2d(inScope(ctx, cs.conv), x, cs.out, cs.k, cs.stride, cs.k/2+cs.pad)
	return batchNorm(inScope(ctx, cs.bn), y, cs.zeroInitScale)
}

// inScope returns ctx in the sub-scope of a dotted torchvision name ("layer1.0", "downsample.1");
// "" is ctx itself.
func inScope(ctx *context.Context, dotted string) *context.Context {
	if dotted == "" {
		return ctx
	}
	for _, s := range strings.Split(dotted, ".") {
		ctx = ctx.In(s)
	}
	return ctx
}

// conv2d is a bias-free k x k convolution with zero padding p on each side (PyTorch's padding=p),
// its kernel "weight" [k, k, in, out] in ctx's scope, initialised with
// kaiming_normal_(mode='fan_out').
func conv2d(ctx *context.Context, x *Node, outChannels, k, stride, p int) *Node {
	inChannels := x.Shape().Dimensions[3]
	std := math.Sqrt(2.0 / float64(outChannels*k*k))
	init := func(g *Graph, shape shapes.Shape) *Node {
		return MulScalar(ctx.RandomNormal(g, shape), std)
	}
	kernel := ctx.WithInitializer(init).
		VariableWithShape("weight", shapes.Make(MasterDType(x.DType()), k, k, inChannels, outChannels)).
		SetTrainable(true)
	return Convolve(x, atUse(kernel.ValueGraph(x.Graph()), x)).
		Strides(stride).
		PaddingPerDim([][2]int{{p, p}, {p, p}}).
		Done()
}

// LastFeatureSide is the side of the encoder's last feature maps (before the global average
// pool) for square images of side pixels. Batch norm there averages side² values per image and
// channel: when it is 1, a batch of one image cannot be normalised in training mode (BatchNorm
// panics, as PyTorch refuses it).
func (c Config) LastFeatureSide(side int) int {
	a := c.architecture()
	out := func(h int, cs convSpec) int {
		p := cs.k/2 + cs.pad
		return (h+2*p-cs.k)/cs.stride + 1
	}
	h := out(side, a.stem)
	if a.maxPool {
		h = (h+2-3)/2 + 1 // kernel 3, stride 2, padding 1
	}
	for _, b := range a.blocks {
		for _, cs := range b.path {
			h = out(h, cs)
		}
	}
	return h
}
