package models

import (
	"fmt"
	"math"

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
	x := images
	if c.Stem == "imagenet" {
		x = conv2d(ctx.In("conv1"), x, c.Width, 7, 2)
	} else {
		x = conv2d(ctx.In("conv1"), x, c.Width, 3, 1)
	}
	x = activations.Relu(batchNorm(ctx.In("bn1"), x, false))
	if c.Stem == "imagenet" {
		// nn.MaxPool2d(kernel_size=3, stride=2, padding=1): padded positions never win the max.
		// In float32 for half-precision input: the max is exact in any dtype, and the XLA CPU
		// plugin (PJRT 0.81) fails to parse the bfloat16 -inf padding constant that GoMLX writes.
		x = ConvertDType(MaxPool(ConvertDType(x, MasterDType(x.DType()))).Window(3).Strides(2).
			PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done(), x.DType())
	}
	exp := c.expansion()
	for layer, n := range c.blocks() {
		planes := c.Width << layer
		for b := range n {
			stride := 1
			if layer > 0 && b == 0 {
				stride = 2
			}
			bctx := ctx.In(fmt.Sprintf("layer%d", layer+1)).In(fmt.Sprint(b))
			if c.bottleneck() {
				x = bottleneckBlock(bctx, x, planes, stride, exp, c.ZeroInitResidual)
			} else {
				x = basicBlock(bctx, x, planes, stride, c.ZeroInitResidual)
			}
		}
	}
	// Global average pooling over height and width, summed in float32 for half-precision input.
	return ConvertDType(ReduceMean(ConvertDType(x, MasterDType(x.DType())), 1, 2), x.DType())
}

// basicBlock is torchvision's BasicBlock: two 3x3 convolutions and a shortcut.
func basicBlock(ctx *context.Context, x *Node, planes, stride int, zeroInit bool) *Node {
	identity := shortcut(ctx, x, planes, stride)
	out := activations.Relu(batchNorm(ctx.In("bn1"), conv2d(ctx.In("conv1"), x, planes, 3, stride), false))
	out = batchNorm(ctx.In("bn2"), conv2d(ctx.In("conv2"), out, planes, 3, 1), zeroInit)
	return activations.Relu(Add(out, identity))
}

// bottleneckBlock is torchvision's Bottleneck (v1.5): 1x1 reduce, 3x3 (strided), 1x1 expand.
func bottleneckBlock(ctx *context.Context, x *Node, planes, stride, expansion int, zeroInit bool) *Node {
	identity := shortcut(ctx, x, planes*expansion, stride)
	out := activations.Relu(batchNorm(ctx.In("bn1"), conv2d(ctx.In("conv1"), x, planes, 1, 1), false))
	out = activations.Relu(batchNorm(ctx.In("bn2"), conv2d(ctx.In("conv2"), out, planes, 3, stride), false))
	out = batchNorm(ctx.In("bn3"), conv2d(ctx.In("conv3"), out, planes*expansion, 1, 1), zeroInit)
	return activations.Relu(Add(out, identity))
}

// shortcut returns x itself, or its 1x1 strided projection followed by batch norm
// ("downsample/0" and "downsample/1") when the shape changes.
func shortcut(ctx *context.Context, x *Node, outChannels, stride int) *Node {
	if stride == 1 && x.Shape().Dimensions[3] == outChannels {
		return x
	}
	d := ctx.In("downsample")
	return batchNorm(d.In("1"), conv2d(d.In("0"), x, outChannels, 1, stride), false)
}

// conv2d is a bias-free k x k convolution with PyTorch padding k/2, its kernel "weight"
// [k, k, in, out] in ctx's scope, initialised with kaiming_normal_(mode='fan_out').
func conv2d(ctx *context.Context, x *Node, outChannels, k, stride int) *Node {
	inChannels := x.Shape().Dimensions[3]
	std := math.Sqrt(2.0 / float64(outChannels*k*k))
	init := func(g *Graph, shape shapes.Shape) *Node {
		return MulScalar(ctx.RandomNormal(g, shape), std)
	}
	kernel := ctx.WithInitializer(init).
		VariableWithShape("weight", shapes.Make(MasterDType(x.DType()), k, k, inChannels, outChannels)).
		SetTrainable(true)
	p := k / 2
	return Convolve(x, atUse(kernel.ValueGraph(x.Graph()), x)).
		Strides(stride).
		PaddingPerDim([][2]int{{p, p}, {p, p}}).
		Done()
}
