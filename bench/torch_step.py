#!/usr/bin/env python3
"""PyTorch side of `go run ./bench`: the same VICReg training step, inference pass and matmul peak.

One JSON object per line on stdout. Run it with Debian's /usr/bin/python3 (python3-torch 1.13);
the Go command sets the tuned environment (OpenBLAS pthread, jemalloc, 2 threads). On a GPU
(--device cuda) it times with torch.cuda.synchronize() and reports the CUDA caching allocator's
peak; cuDNN autotuning is on and float32 products may use TF32, as XLA's are on the same GPU.
--precision bf16 wraps the forward passes in torch.autocast(dtype=torch.bfloat16), the loss
computed in float32, as a careful user does on hardware with bf16 arithmetic.

  python3 torch_step.py --mode train --width 64 --batch 256 --opt sgd --steps 5
  python3 torch_step.py --mode train --width 64 --batch 256 --precision bf16
  python3 torch_step.py --mode train --arch resnet50 --image 224 --batch 128 --device cuda
  python3 torch_step.py --mode infer --width 16 --batch 256 --steps 5
  python3 torch_step.py --mode peak --size 2048 --steps 5
  python3 torch_step.py --mode macs --width 64        # MACs per image counted by hooks
  python3 torch_step.py --mode ops --width 64 --batch 256  # conv and batch-norm ops per stage
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import resnet50
from torchvision.models.resnet import BasicBlock, ResNet


class CifarResNet18(ResNet):
    """torchvision's ResNet-18 at base width `width` (64 is torchvision's), CIFAR stem, no fc."""

    def __init__(self, width=64):
        super().__init__(BasicBlock, [2, 2, 2, 2])
        if width != 64:  # rebuild the layers at the scaled widths, with torchvision's own builder
            self.inplanes = width
            self.layer1 = self._make_layer(BasicBlock, width, 2)
            self.layer2 = self._make_layer(BasicBlock, 2 * width, 2, stride=2)
            self.layer3 = self._make_layer(BasicBlock, 4 * width, 2, stride=2)
            self.layer4 = self._make_layer(BasicBlock, 8 * width, 2, stride=2)
            self.bn1 = nn.BatchNorm2d(width)
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.maxpool = nn.Identity()
        self.fc = nn.Identity()
        self.feature_dim = 8 * width
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class ImageNetResNet50(nn.Module):
    """torchvision's ResNet-50 (ImageNet stem, v1.5), no fc: the official VICReg backbone."""

    def __init__(self):
        super().__init__()
        self.net = resnet50()
        self.net.fc = nn.Identity()
        self.feature_dim = 2048

    def forward(self, x):
        return self.net(x)


def encoder(arch, width):
    if arch == "resnet50":
        if width != 64:
            raise SystemExit("--arch resnet50 supports --width 64 only (torchvision's)")
        return ImageNetResNet50()
    return CifarResNet18(width)


def expander(in_dim, dims=(2048, 2048, 2048)):
    """The official VICReg projector: (Linear-BN-ReLU) for all but the last width, then Linear."""
    layers, d = [], in_dim
    for w in dims[:-1]:
        layers += [nn.Linear(d, w), nn.BatchNorm1d(w), nn.ReLU(True)]
        d = w
    layers.append(nn.Linear(d, dims[-1], bias=False))
    return nn.Sequential(*layers)


def vicreg_loss(z1, z2, lam=25.0, mu=25.0, nu=1.0):
    """VICReg (paper's equation: the variance term is not halved)."""
    n, d = z1.shape
    inv = F.mse_loss(z1, z2)
    z1 = z1 - z1.mean(0)
    z2 = z2 - z2.mean(0)
    std1 = torch.sqrt(z1.var(0) + 1e-4)
    std2 = torch.sqrt(z2.var(0) + 1e-4)
    var = F.relu(1 - std1).mean() + F.relu(1 - std2).mean()
    c1 = (z1.T @ z1) / (n - 1)
    c2 = (z2.T @ z2) / (n - 1)
    off = lambda c: c.pow(2).sum() - c.diagonal().pow(2).sum()
    cov = off(c1) / d + off(c2) / d
    return lam * inv + mu * var + nu * cov


class LARS(torch.optim.Optimizer):
    """LARS as solo-learn's (eta 0.02, trust-ratio clipping; biases and norms excluded)."""

    def __init__(self, params, lr, momentum=0.9, weight_decay=1e-4, eta=0.02, clip=True):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, clip=clip))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if p.ndim > 1:
                    # solo-learn's: q = eta·|w| / (|g| + wd·|w| + 1e-8), clipped to min(q/lr, 1),
                    # weight decay and q applied only where both norms are non-zero (ours: Clip).
                    pn, gn = torch.norm(p), torch.norm(d)
                    if pn > 0 and gn > 0:
                        q = g["eta"] * pn / (gn + g["weight_decay"] * pn + 1e-8)
                        if g["clip"]:
                            q = torch.clamp(q / g["lr"], max=1)
                        d = d.add(p, alpha=g["weight_decay"]).mul(q)
                st = self.state[p]
                if "mu" not in st:
                    st["mu"] = torch.zeros_like(p)
                mu = st["mu"].mul_(g["momentum"]).add_(d)
                p.add_(mu, alpha=-g["lr"])


def vmhwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def count_macs(arch, width, image, expander_dims):
    """MACs per image of the encoder and expander forward, counted by hooks on conv and linear."""
    enc = encoder(arch, width).eval()
    exp = expander(enc.feature_dim, expander_dims).eval()
    macs = {"encoder": 0, "expander": 0}

    def hook(part):
        def f(m, inp, out):
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
                macs[part] += out.numel() * k
            else:
                macs[part] += out.numel() * m.in_features
        return f

    for part, mod in (("encoder", enc), ("expander", exp)):
        for m in mod.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.register_forward_hook(hook(part))
    with torch.no_grad():
        exp(enc(torch.zeros(1, 3, image, image)))
    return macs


CPU_CORES = [0.0]  # process CPU time / wall time over the last timed steps
SYNC = [lambda: None]  # waits for the device (torch.cuda.synchronize on a GPU)


def timed(fn, warmup, steps):
    t0 = time.perf_counter()
    fn()
    SYNC[0]()
    first = time.perf_counter() - t0
    for _ in range(warmup - 1):
        fn()
    SYNC[0]()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        fn()
    SYNC[0]()
    wall = time.perf_counter() - t0
    CPU_CORES[0] = (time.process_time() - c0) / wall
    return first, wall / steps


def stage_ops(width, batch, warmup, steps, dtype=torch.float32):
    """Milliseconds of the training step's parts at each ResNet-18 stage, NCHW as the model runs:
    a 3x3 stride-1 convolution forward, its input and kernel gradients (aten's convolution_backward,
    what autograd calls), batch norm forward + backward. `go run ./bench -ops` times the same.
    With dtype bfloat16 the operands are bfloat16, as bf16 autocast makes them for convolutions
    (batch norm then runs on the bfloat16 activations, as in an autocast step)."""
    rows = []
    for hw, c in ((32, width), (16, 2 * width), (8, 4 * width), (4, 8 * width)):
        x, r, w = (torch.randn(batch, c, hw, hw, dtype=dtype), torch.randn(batch, c, hw, hw, dtype=dtype),
                   torch.randn(c, c, 3, 3, dtype=dtype))

        def conv_bwd(mask):
            return lambda: torch.ops.aten.convolution_backward(
                r, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

        xb = x.clone().requires_grad_(True)
        bn = nn.BatchNorm2d(c).to(dtype)

        def bn_fwd_bwd():
            torch.autograd.grad(bn(xb), [xb, bn.weight, bn.bias], r)

        def fwd():
            with torch.no_grad():
                F.conv2d(x, w, padding=1)

        for op, fn in (("conv forward", fwd), ("conv input gradient", conv_bwd([True, False, False])),
                       ("conv kernel gradient", conv_bwd([False, True, False])), ("batch norm forward + backward", bn_fwd_bwd)):
            _, step = timed(fn, warmup, steps)
            rows.append(dict(op=op, hw=hw, c=c, ms=1000 * step))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["train", "infer", "peak", "macs", "ops"], required=True)
    ap.add_argument("--arch", choices=["resnet18", "resnet50"], default="resnet18")
    ap.add_argument("--image", type=int, default=32, help="image side in pixels")
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--opt", choices=["sgd", "lars"], default="sgd")
    ap.add_argument("--expander", default="2048-2048-2048")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--size", type=int, default=2048, help="matrix size for --mode peak")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch.cuda.is_available() is False (no GPU, or a CPU-only torch)")
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")  # TF32 products, as cuDNN's convolutions by default
        SYNC[0] = torch.cuda.synchronize
        torch.cuda.reset_peak_memory_stats()
    bf16 = a.precision == "bf16"
    autocast = lambda: torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16)
    dims = tuple(int(x) for x in a.expander.split("-"))
    out = dict(mode=a.mode, arch=a.arch, image=a.image, width=a.width, batch=a.batch, precision=a.precision,
               device=a.device, threads=torch.get_num_threads(), torch=torch.__version__)

    if a.mode == "macs":
        out.update(count_macs(a.arch, a.width, a.image, dims))
    elif a.mode == "ops":
        out["ops"] = stage_ops(a.width, a.batch, a.warmup, a.steps, torch.bfloat16 if bf16 else torch.float32)
    elif a.mode == "peak":
        x, y = torch.randn(a.size, a.size, device=dev), torch.randn(a.size, a.size, device=dev)
        first, step = timed(lambda: torch.mm(x, y), a.warmup, a.steps)
        out.update(size=a.size, step_s=step, gflops=2 * a.size ** 3 / step / 1e9)
    elif a.mode == "infer":
        # first_s includes building and initialising the model, as ours includes its variables'
        # initialisation (a program of its own, run on the first call) and the compilation.
        t_build = time.perf_counter()
        enc = encoder(a.arch, a.width).to(dev).eval()
        built = time.perf_counter() - t_build
        x = torch.randn(a.batch, 3, a.image, a.image, device=dev)

        def fwd():
            with torch.inference_mode(), autocast():
                enc(x)

        first, step = timed(fwd, a.warmup, a.steps)
        out.update(first_s=built + first, step_s=step, images_per_s=a.batch / step)
    else:
        t_build = time.perf_counter()  # first_s includes it (see infer)
        enc = encoder(a.arch, a.width).to(dev)
        exp = expander(enc.feature_dim, dims).to(dev)
        params = list(enc.parameters()) + list(exp.parameters())
        lr = 0.3 * a.batch / 256
        if a.opt == "sgd":  # weight decay on kernels and weights, not biases and norms (as ours)
            opt = torch.optim.SGD([dict(params=[p for p in params if p.ndim > 1], weight_decay=1e-4),
                                   dict(params=[p for p in params if p.ndim <= 1], weight_decay=0)], lr=lr, momentum=0.9)
        else:
            opt = LARS(params, lr=lr)
        built = time.perf_counter() - t_build
        v1 = torch.randn(a.batch, 3, a.image, a.image, device=dev)
        v2 = torch.randn(a.batch, 3, a.image, a.image, device=dev)

        def step_fn():
            opt.zero_grad(set_to_none=True)
            with autocast():  # the forward passes; the loss in float32
                z1, z2 = exp(enc(v1)), exp(enc(v2))
            loss = vicreg_loss(z1.float(), z2.float())
            loss.backward()
            opt.step()
            return loss

        first, step = timed(step_fn, a.warmup, a.steps)
        out.update(opt=a.opt, first_s=built + first, step_s=step, images_per_s=2 * a.batch / step)
    if dev.type == "cuda":
        out["gpu_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
        out["gpu_peak_reserved_mib"] = torch.cuda.max_memory_reserved() / 2**20
        out["gpu"] = torch.cuda.get_device_name()
    out["vmhwm_kib"] = vmhwm_kib()
    out["cpu_cores"] = CPU_CORES[0]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
