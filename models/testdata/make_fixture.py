#!/usr/bin/python3
"""Writes the PyTorch parity fixtures of package models (run with Debian's python3-torch):

    cd models/testdata && /usr/bin/python3 make_fixture.py

resnet18_w4_cifar.safetensors: the state_dict of a torchvision ResNet-18 built by torchvision's own
  BasicBlock and ResNet._make_layer with base width 4, a CIFAR stem (3x3 stride-1 conv1, no max-pool),
  randomised batch-norm parameters and running statistics, plus an fc layer (to be ignored).
resnet18_w4_cifar_io.safetensors: an NHWC input batch, the eval-mode output (with the stored running
  statistics), then the train-mode output and every running statistic after that one train-mode call.
resnet18_w4_solo_io.safetensors: the same for solo-learn's CIFAR stem (its solo/methods/base.py:
  conv1 with padding=2, no max-pool), on the same weights and input.
expander_io.safetensors: a VICReg expander (official Projector layout, "16-16-8" on 32 inputs) under
  "projector.", with its input, eval and train outputs and updated running statistics under "io.".

Weights are rounded to float32 and stored as F32; references are computed in float64 and stored as F64.
The safetensors writer is ours (a few lines), so nothing beyond torch and torchvision is needed.
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock

WIDTH = 4
BATCH, SIZE = 8, 16


def save(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        dtype = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}[t.dtype]
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))


def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=gen) + 0.5
            m.bias.data = torch.randn(n, generator=gen) * 0.1
            m.running_mean.data = torch.randn(n, generator=gen) * 0.1
            m.running_var.data = torch.rand(n, generator=gen) + 0.5


def round_to_f32(model):
    for t in list(model.parameters()) + list(model.buffers()):
        if t.dtype.is_floating_point:
            t.data = t.data.float().double()


def stats(model, prefix):
    return {prefix + k: v.clone() for k, v in model.state_dict().items()
            if k.endswith("running_mean") or k.endswith("running_var")}


def resnet18_cifar(width):
    model = torchvision.models.resnet18()
    model.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
    model.bn1 = nn.BatchNorm2d(width)
    model.maxpool = nn.Identity()
    model.inplanes = width
    model.layer1 = model._make_layer(BasicBlock, width, 2)
    model.layer2 = model._make_layer(BasicBlock, 2 * width, 2, stride=2)
    model.layer3 = model._make_layer(BasicBlock, 4 * width, 2, stride=2)
    model.layer4 = model._make_layer(BasicBlock, 8 * width, 2, stride=2)
    model.fc = nn.Linear(8 * width, 10)
    for m in model.modules():  # torchvision's initialisation, re-applied to the replaced layers.
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return model


def outputs(model, features, x, stored, prefix=""):
    """The input as stored, the eval-mode and then the train-mode outputs of features(x), and the
    model's running statistics after, under prefix."""
    io = {prefix + "input": stored}
    with torch.no_grad():
        model.eval()
        io[prefix + "eval_output"] = features(x)
        model.train()
        io[prefix + "train_output"] = features(x)
    io.update(stats(model, prefix + "after."))
    return io


def projector(dims):  # The official VICReg Projector.
    layers = []
    for i in range(len(dims) - 2):
        layers += [nn.Linear(dims[i], dims[i + 1]), nn.BatchNorm1d(dims[i + 1]), nn.ReLU(True)]
    layers.append(nn.Linear(dims[-2], dims[-1], bias=False))
    return nn.Sequential(*layers)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)

    model = resnet18_cifar(WIDTH)
    randomise_bn(model, gen)
    round_to_f32(model)
    model = model.double()
    state = {k: (v.float() if v.dtype.is_floating_point else v) for k, v in model.state_dict().items()}
    save("resnet18_w4_cifar.safetensors", state)

    features = nn.Sequential(*[getattr(model, n) for n in
                               ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"]],
                             nn.Flatten())
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=gen).float().double()
    nhwc = x.permute(0, 2, 3, 1).float()
    save("resnet18_w4_cifar_io.safetensors", outputs(model, features, x, nhwc))

    # solo-learn's stem on the same weights: the running statistics as stored, then one train call.
    model.load_state_dict({k: v.double() if v.dtype.is_floating_point else v for k, v in state.items()})
    model.conv1.padding = (2, 2)
    save("resnet18_w4_solo_io.safetensors", outputs(model, features, x, nhwc))

    proj = projector([8 * WIDTH, 16, 16, 8])
    randomise_bn(proj, gen)
    round_to_f32(proj)
    proj = proj.double()
    e = {"projector." + k: (v.float() if v.dtype.is_floating_point else v) for k, v in proj.state_dict().items()}
    z = torch.randn(BATCH, 8 * WIDTH, generator=gen).float().double()
    e.update(outputs(proj, proj, z, z.float(), "io."))
    save("expander_io.safetensors", e)


if __name__ == "__main__":
    main()
