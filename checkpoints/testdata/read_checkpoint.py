"""Opens a VICReg checkpoint with Python's safetensors and checks it against expectations.

    python read_checkpoint.py CHECKPOINT EXPECTED.json

EXPECTED.json (written by python_test.go) holds, for each tensor, its dtype, shape and values
(floats as numbers or "nan", "inf", "-inf"; complex numbers as [re, im]), and metadata values.
The script also recomputes the checkpoint's SHA-256 from the canonical serialisation documented
in checkpoints/doc.go, independently of the Go code. It prints "ok ..." and exits 0, or prints
every mismatch and exits 1.
"""

import hashlib
import json
import struct
import sys

import numpy as np
from safetensors import safe_open

NUMPY = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
    "U32": np.uint32, "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F16": np.float16,
    "F32": np.float32, "F64": np.float64, "C64": np.complex64,
}


def checksum_ok(path):
    """Recomputes the checksum: tensors and metadata keys in byte-wise order (doc.go)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    errors = []
    if n % 8 != 0:
        errors.append(f"header length {n} is not a multiple of 8")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    data = raw[8 + n:]
    lines = [b"vicreg-checkpoint-sha256 2\n"]
    for name in sorted(header, key=lambda s: s.encode()):
        e = header[name]
        begin, end = e["data_offsets"]
        shape = ",".join(str(d) for d in e["shape"])
        digest = hashlib.sha256(data[begin:end]).hexdigest()
        lines.append(f"tensor {len(name.encode())}:{name} {e['dtype']} [{shape}] {begin} {end} {digest}\n".encode())
    for key in sorted(meta, key=lambda s: s.encode()):
        if key == "sha256":
            continue
        k, v = key.encode(), meta[key].encode()
        lines.append(b"meta %d:%s %d:%s\n" % (len(k), k, len(v), v))
    got = hashlib.sha256(b"".join(lines)).hexdigest()
    if got != meta.get("sha256"):
        errors.append(f"SHA-256 checksum mismatch: computed {got}, the file says {meta.get('sha256')}")
    return errors


def expected_array(spec):
    def value(x):
        if isinstance(x, str):
            return float(x)  # "nan", "inf", "-inf"
        if isinstance(x, list):
            return complex(value(x[0]), value(x[1]))
        return x
    flat = [value(x) for x in spec["values"]]
    return np.array(flat, dtype=NUMPY.get(spec["dtype"], np.float32)).reshape(spec["shape"])


def main(path, expected_path):
    with open(expected_path) as f:
        expected = json.load(f)
    errors = checksum_ok(path)
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
        keys = set(f.keys())
        if keys != set(expected["tensors"]):
            errors.append(f"tensor names {sorted(keys)}, want {sorted(expected['tensors'])}")
        for name, spec in expected["tensors"].items():
            if name not in keys:
                continue
            sl = f.get_slice(name)
            if sl.get_dtype() != spec["dtype"] or list(sl.get_shape()) != spec["shape"]:
                errors.append(f"{name}: {sl.get_dtype()} {sl.get_shape()}, want {spec['dtype']} {spec['shape']}")
                continue
            if spec["dtype"] == "BF16":
                continue  # numpy has no bfloat16: read below with torch
            got = f.get_tensor(name)
            want = expected_array(spec)
            if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"):
                errors.append(f"{name}: {got.dtype} {got.shape} {got.ravel().tolist()}, want {want.dtype} {want.shape} {want.ravel().tolist()}")
    bf16 = [n for n, s in expected["tensors"].items() if s["dtype"] == "BF16"]
    if bf16:
        import torch  # Debian's python3-torch
        with safe_open(path, framework="pt") as f:
            for name in bf16:
                got = f.get_tensor(name)
                want = torch.tensor(expected_array(expected["tensors"][name]).astype(np.float32))
                if got.dtype != torch.bfloat16 or not torch.equal(got.float(), want):
                    errors.append(f"{name}: {got.dtype} {got.float().tolist()}, want bfloat16 {want.tolist()}")
    for key, want in expected["metadata"].items():
        if meta.get(key) != want:
            errors.append(f"metadata {key!r} = {meta.get(key)!r}, want {want!r}")
    for key, want in expected.get("metadata_json", {}).items():
        got = json.loads(meta.get(key, "null"))
        if got != want:
            errors.append(f"metadata {key!r} decodes to {got!r}, want {want!r}")
    if errors:
        print("\n".join(errors))
        return 1
    print(f"ok: {len(keys)} tensors, {len(meta)} metadata keys, checksum verified")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
