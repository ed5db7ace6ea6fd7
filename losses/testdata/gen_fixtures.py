"""Writes losses/testdata/fixtures.json: independent PyTorch references for the losses package.

Run with Debian's python3-torch:  /usr/bin/python3 losses/testdata/gen_fixtures.py
Inputs are generated here (float64), the Go test reads them from the JSON file; all references are
computed in float64 with the formulas of the original papers / official code. A rerun reproduces
the committed values up to float64 rounding (differences of about 1e-16 from torch's threading).
"""
import json, math, os
import torch
import torch.nn.functional as F

torch.manual_seed(0)
dt = torch.float64


def off_diagonal(x):
    n = x.shape[0]
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def vicreg(x, y, lam=25.0, mu=25.0, nu=1.0, half=False):
    # As facebookresearch/vicreg main_vicreg.py (without the all-gather), both conventions.
    n, d = x.shape
    repr_loss = F.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    vx = torch.mean(F.relu(1 - std_x))
    vy = torch.mean(F.relu(1 - std_y))
    cov_x = (x.T @ x) / (n - 1)
    cov_y = (y.T @ y) / (n - 1)
    cx = off_diagonal(cov_x).pow_(2).sum().div(d)
    cy = off_diagonal(cov_y).pow_(2).sum().div(d)
    var = vx + vy
    cov = cx + cy
    total = lam * repr_loss + (mu / 2 if half else mu) * var + nu * cov
    return total, repr_loss, var, cov


def barlow(x, y, lam=0.0051):
    n = x.shape[0]
    bn = torch.nn.BatchNorm1d(x.shape[1], affine=False).to(dt)
    c = bn(x).T @ bn(y) / n
    on = torch.diagonal(c).add_(-1).pow_(2).sum()
    off = off_diagonal(c).pow_(2).sum()
    return on + lam * off, on, off


def nt_xent(x, y, tau):
    n = x.shape[0]
    z = F.normalize(torch.cat([x, y]), dim=1)
    sim = z @ z.T / tau
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


cases = []
for n, d, scale in [(8, 6, 1.0), (5, 10, 0.3), (4, 3, 2.0)]:
    x = (torch.randn(n, d, dtype=dt) * scale).requires_grad_()
    y = (x.detach() + 0.5 * torch.randn(n, d, dtype=dt)).requires_grad_()
    case = {"n": n, "d": d, "z1": x.detach().flatten().tolist(), "z2": y.detach().flatten().tolist()}
    for half in (False, True):
        total, s, v, c = vicreg(x, y, half=half)
        gx, gy = torch.autograd.grad(total, [x, y])
        case["vicreg_half" if half else "vicreg_sum"] = {
            "total": total.item(), "invariance": s.item(), "variance": v.item(), "covariance": c.item()}
        if not half:
            case["vicreg_sum"].update({"grad_z1": gx.flatten().tolist(), "grad_z2": gy.flatten().tolist()})
    total, on, off = barlow(x, y)
    gx, gy = torch.autograd.grad(total, [x, y])
    case["barlow"] = {"total": total.item(), "on_diagonal": on.item(), "off_diagonal": off.item(),
                      "grad_z1": gx.flatten().tolist(), "grad_z2": gy.flatten().tolist()}
    total = nt_xent(x, y, 0.2)
    gx, gy = torch.autograd.grad(total, [x, y])
    case["simclr"] = {"temperature": 0.2, "total": total.item(),
                      "grad_z1": gx.flatten().tolist(), "grad_z2": gy.flatten().tolist()}
    # Entropy estimators (LogDet with torch.logdet, pairwise with logsumexp).
    xc = x.detach() - x.detach().mean(0)
    cov = xc.T @ xc / (n - 1)
    case["logdet_beta1"] = 0.5 * torch.logdet(torch.eye(d, dtype=dt) + cov).item()
    case["gaussian_eps1e-4"] = d / 2 * math.log(2 * math.pi * math.e) + 0.5 * torch.logdet(cov + 1e-4 * torch.eye(d, dtype=dt)).item()
    d2 = torch.cdist(x.detach(), x.detach()) ** 2
    for kind, div in (("bhattacharyya", 8.0), ("kl", 2.0)):
        sigma = 1.0
        h = d / 2 * math.log(2 * math.pi * math.e * sigma ** 2) - torch.mean(torch.logsumexp(-d2 / (div * sigma ** 2), 1) - math.log(n)).item()
        case["pairwise_" + kind] = h
    # Scale-aware defaults (losses.Auto), with their gradients: beta = d/tr(cov) and
    # sigma^2 = m2/(2 ln n), m2 the lower median (torch.median) of the squared distances over the
    # pairs i < j, both detached (no gradient through them).
    z = x.detach().clone().requires_grad_()
    zc = z - z.mean(0)
    cov = zc.T @ zc / (n - 1)
    beta = (d / torch.trace(cov)).detach()
    h_ld = 0.5 * torch.logdet(torch.eye(d, dtype=dt) + beta * cov)
    (g_ld,) = torch.autograd.grad(h_ld, [z])
    iu = torch.triu_indices(n, n, 1)
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    m2 = torch.median(d2.detach()[iu[0], iu[1]])
    sigma2 = m2 / (2 * math.log(n))
    auto = {"beta": beta.item(), "sigma": math.sqrt(sigma2.item()), "logdet": h_ld.item(),
            "logdet_grad": g_ld.flatten().tolist()}
    for kind, div in (("bhattacharyya", 8.0), ("kl", 2.0)):
        h = d / 2 * torch.log(2 * math.pi * math.e * sigma2) - torch.mean(torch.logsumexp(-d2 / (div * sigma2), 1) - math.log(n))
        (g,) = torch.autograd.grad(h, [z], retain_graph=True)
        auto["pairwise_" + kind] = h.item()
        auto["pairwise_" + kind + "_grad"] = g.flatten().tolist()
    case["auto"] = auto
    cases.append(case)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures.json")
with open(out, "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print("wrote", out)
