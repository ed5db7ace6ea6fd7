"""Writes the MAT-files that matfile's tests read, and what scipy.io.loadmat (the reference) reads
from each, as expected.json. Run with Debian's python3-scipy:

    /usr/bin/python3 internal/matfile/testdata/gen.py

scipy.io.savemat writes scipy.mat (compressed) and scipy_plain.mat; matlab.mat is put together
here, byte by byte, the way MATLAB writes what scipy does not: doubles stored as uint8 and int16,
names and field-name lengths in small data elements, characters as UTF-16 (miUINT16) and UTF-8,
a structure's unset field as an empty matrix, each variable compressed.
"""
import json
import os
import struct
import zlib

import numpy as np
import scipy
import scipy.io as sio

HERE = os.path.dirname(os.path.abspath(__file__))

CLASS = {np.dtype(t): c for t, c in [
    ("float64", "double"), ("float32", "single"), ("int8", "int8"), ("uint8", "uint8"), ("int16", "int16"),
    ("uint16", "uint16"), ("int32", "int32"), ("uint32", "uint32"), ("int64", "int64"), ("uint64", "uint64"),
    ("bool", "uint8")]}


def conv(x):
    """x as loadmat read it, in the form the Go test compares: column-major elements."""
    dims = list(x.shape)
    flat = x.flatten(order="F")
    if x.dtype.names:
        return {"class": "struct", "dims": dims, "fields": list(x.dtype.names),
                "elems": [[conv(e[f]) for f in x.dtype.names] for e in flat]}
    if x.dtype == object:
        return {"class": "cell", "dims": dims, "elems": [[conv(e)] for e in flat]}
    if x.dtype.kind == "U":
        return {"class": "char", "dims": dims, "text": "".join(flat)}
    return {"class": CLASS[x.dtype], "logical": x.dtype == np.bool_, "dims": dims,
            "numbers": [float(v) for v in flat]}


def expected(path):
    m = sio.loadmat(path, chars_as_strings=False, squeeze_me=False, mat_dtype=True)
    return [dict(name=k, **conv(v)) for k, v in m.items() if not k.startswith("__")]


# scipy's writer: every numeric class, a matrix (column-major), characters, a structure array
# and a cell array.
synsets = np.zeros((3, 1), dtype=[("ILSVRC2012_ID", object), ("WNID", object), ("words", object), ("children", object)])
for i, (wnid, words, children) in enumerate([("n02119789", "kit fox, Vulpes macrotis", []),
                                              ("n01440764", "tench, Tinca tinca", []),
                                              ("n00001740", "entity", [1, 2])]):
    synsets[i, 0] = (float(i + 1), wnid, words, np.array(children, dtype=np.float64))
variables = {
    "i8": np.array([[-128, 0, 127]], dtype=np.int8), "u8": np.array([[0, 255]], dtype=np.uint8),
    "i16": np.array([[-32768, 7]], dtype=np.int16), "u16": np.array([[65535]], dtype=np.uint16),
    "i32": np.array([[-2**31, 5]], dtype=np.int32), "u32": np.array([[2**32 - 1]], dtype=np.uint32),
    "i64": np.array([[-2**40]], dtype=np.int64), "u64": np.array([[2**40]], dtype=np.uint64),
    "f32": np.array([[1.5, -0.25]], dtype=np.float32),
    "m": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), "flag": np.array([[True, False]]),
    "empty": np.zeros((0, 0)), "text": "tench, Tinca tinca", "accents": "café ü ∑",
    "synsets": synsets, "cells": np.array([["a", 2.0]], dtype=object),
}
sio.savemat(os.path.join(HERE, "scipy.mat"), variables, do_compression=True)
sio.savemat(os.path.join(HERE, "scipy_plain.mat"), variables, do_compression=False)


def tag(typ, data):
    """A data element: small (type and size in one word) when it fits in 4 bytes."""
    if 0 < len(data) <= 4:
        return struct.pack("<HH", typ, len(data)) + data.ljust(4, b"\0")
    return struct.pack("<II", typ, len(data)) + data + b"\0" * (-len(data) % 8)


def matrix(cls, dims, name, *parts):
    body = tag(6, struct.pack("<II", cls, 0)) + tag(5, struct.pack("<%di" % len(dims), *dims)) + tag(1, name.encode())
    return tag(14, body + b"".join(parts))


def double_as(typ, fmt, values, dims, name=""):
    return matrix(6, dims, name, tag(typ, struct.pack("<%d%s" % (len(values), fmt), *values)))


def chars(text, utf16, name=""):
    data = text.encode("utf-16-le") if utf16 else text.encode("utf-8")
    return matrix(4, [1, len(text)], name, tag(4 if utf16 else 16, data))


fields = [b"ILSVRC2012_ID", b"WNID", b"children"]
width = 32
names = b"".join(f.ljust(width, b"\0") for f in fields)
elems = [double_as(2, "B", [1], [1, 1]) + chars("n02119789", True) + struct.pack("<II", 14, 0),  # unset field
         double_as(3, "h", [1001], [1, 1]) + chars("n00001740", False) + double_as(2, "B", [1, 250], [1, 2])]
hand = [
    double_as(2, "B", [1, 2, 250], [1, 3], "x"),
    double_as(3, "h", [-300, 7], [2, 1], "neg"),
    chars("tench, Tinca tinca", True, "utf16"),
    chars("café", False, "utf8"),
    matrix(2, [2, 1], "synsets", tag(5, struct.pack("<i", width)), tag(1, names), *elems),
]
header = b"MATLAB 5.0 MAT-file, written by gen.py as MATLAB writes".ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
with open(os.path.join(HERE, "matlab.mat"), "wb") as f:
    f.write(header)
    for v in hand:
        z = zlib.compress(v)
        f.write(struct.pack("<II", 15, len(z)) + z)

out = {name: expected(os.path.join(HERE, name)) for name in ["scipy.mat", "scipy_plain.mat", "matlab.mat"]}
out["scipy"] = scipy.__version__
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
