"""Writes train/optim/testdata/lars_reference.json: solo-learn's LARS, computed here in float64.

Run with Debian's numpy:  /usr/bin/python3 train/optim/testdata/lars_reference.py

The formula is solo-learn's LARS with clip_lars_lr=True and exclude_bias_n_norm_lars=True
(solo/utils/lars.py), written out from its description, not from its code: for a parameter p with
gradient g, weight decay wd, trust coefficient eta, eps = 1e-8 and the step's learning rate lr,
  if p is not 1-D and ||p|| > 0 and ||g|| > 0:
      ratio = eta * ||p|| / (||g|| + wd * ||p|| + eps)
      ratio = min(ratio / lr, 1)            (ratio / 0 = inf, so 1 at lr = 0)
      d = ratio * (g + wd * p)
  else:
      d = g                                 (no weight decay, no scaling)
  buf = momentum * buf + d                  (buf starts at 0: PyTorch's first step copies d)
  p = p - lr * buf
The learning rate follows optim.Schedule (linear warm-up from 0, then cosine to base * final).
The loss is sum(G * W) + a/2 * sum(W^2) for every parameter W, so its gradient G + a*W changes with W.
"""
import json, math, os
import numpy as np

rng = np.random.default_rng(20261214)
wd, eta, momentum, a = 0.05, 0.05, 0.9, 0.3
base, warmup, total, final = 0.5, 2, 6, 0.001
steps = 7  # the last at lr = base * final: the clip is active (ratio/lr > 1)


def lr_at(step):
    if step < warmup:
        return base * step / warmup
    step = min(step, total)
    q = 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))
    return base * q + base * final * (1 - q)


params = {
    "weights": rng.normal(size=(3, 2)),  # a matrix: LARS applies
    "zero": np.zeros((2, 2)),            # ||p|| = 0: plain gradient
    "biases": rng.normal(size=(3,)),     # 1-D: excluded
}
grads_const = {k: rng.normal(size=v.shape) * 0.5 for k, v in params.items()}
initial = {k: v.copy() for k, v in params.items()}
bufs = {k: np.zeros_like(v) for k, v in params.items()}
history, ratios = [], []
for step in range(steps):
    lr = lr_at(step)
    clipped = {}
    for k, p in params.items():
        g = grads_const[k] + a * p
        d = g
        pn, gn = np.linalg.norm(p), np.linalg.norm(g)
        if p.ndim != 1 and pn > 0 and gn > 0:
            ratio = eta * pn / (gn + wd * pn + 1e-8)
            ratio = min(ratio / lr, 1.0) if lr > 0 else 1.0
            clipped[k] = ratio
            d = ratio * (g + wd * p)
        bufs[k] = momentum * bufs[k] + d
        params[k] = p - lr * bufs[k]
    ratios.append(clipped)
    history.append({k: v.flatten().tolist() for k, v in params.items()})

out = {
    "config": {"weight_decay": wd, "eta": eta, "momentum": momentum, "a": a,
               "base": base, "warmup_steps": warmup, "total_steps": total, "final_fraction": final},
    "shapes": {k: list(v.shape) for k, v in initial.items()},
    "initial": {k: v.flatten().tolist() for k, v in initial.items()},
    "gradient_constant": {k: v.flatten().tolist() for k, v in grads_const.items()},
    "after_step": history,
    "weights_ratio": [r.get("weights") for r in ratios],
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lars_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path, "ratios of 'weights' per step:", out["weights_ratio"])
