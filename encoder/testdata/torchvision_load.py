"""Loads an encoder exported by encoder.Export into torchvision's ResNet and prints its features.

Usage: python3 torchvision_load.py ENCODER.safetensors INPUT.npy ARCH
The safetensors file is parsed here (8-byte header length, JSON header, raw little-endian data),
so only torch and numpy are needed. Prints one JSON object: the state_dict keys torchvision
reported missing and unexpected, and the pooled features (fc replaced by the identity) of the
NCHW input in evaluation mode.
"""
import json
import struct
import sys

import numpy as np
import torch
import torchvision

path, inp, arch = sys.argv[1:]
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
dtypes = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64}
state = {}
for name, e in header.items():
    if name == "__metadata__":
        continue
    b, end = e["data_offsets"]
    state[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=dtypes[e["dtype"]]).reshape(e["shape"]).copy())
model = getattr(torchvision.models, arch)()
res = model.load_state_dict(state, strict=False)
model.fc = torch.nn.Identity()
model.eval()
x = torch.from_numpy(np.load(inp))
with torch.no_grad():
    z = model(x).numpy()
print(json.dumps({"missing": res.missing_keys, "unexpected": res.unexpected_keys, "features": z.ravel().tolist()}))
