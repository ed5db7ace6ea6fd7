#!/usr/bin/env python3
"""Writes the fixture of the datasets package's test of timm's information file (_info.json).

Run from this folder with a python3 that imports timm, webdataset and torch (made with timm
1.0.31, webdataset 1.0.2 and Debian's torch 1.13.1: python3 -m venv --system-site-packages V;
V/bin/pip install --no-deps timm webdataset braceexpand; V/bin/pip install pyyaml
huggingface_hub safetensors):

    python3 gen.py

It writes, as the Hugging Face Hub's timm/*-wds data sets are laid out: the shards of a train
split (three, of 4, 3 and 2 samples) and of a validation split (one, of 3 samples), written by
webdataset's TarWriter (a PNG image, the class index in .cls, a .json member with the class
index under "label"), and _info.json, which lists each split's shards, their lengths and their
total (the format timm's reader_wds reads).

expected.json: for each split, what timm's ReaderWds reads: its number of samples, and each
sample's name (the key and ".JPEG", as ReaderWds.filenames gives it) and target, read from .cls
(target_key None) and from the .json member (target_key "label"), in file order.
"""
import json

import numpy as np
import webdataset as wds
from PIL import Image
from timm.data.readers.reader_wds import ReaderWds

SPLITS = {"train": [[2, 0, 1, 1], [0, 2, 2], [1, 0]], "validation": [[0, 1, 2]]}


def main():
    info = {"name": "tiny", "splits": {}}
    n = 0
    for split, shards in SPLITS.items():
        names = []
        for s, labels in enumerate(shards):
            name = f"tiny-{split}-{s:04d}.tar"
            names.append(name)
            with wds.TarWriter(name) as w:
                for label in labels:
                    img = Image.fromarray(np.full((2, 3, 3), 20 * n, np.uint8))
                    w.write({"__key__": f"{split}_{n:04d}", "png": img, "cls": label, "json": {"label": label}})
                    n += 1
        info["splits"][split] = {"name": split, "num_samples": sum(map(len, shards)), "filenames": names,
                                 "shard_lengths": [len(x) for x in shards]}
    with open("_info.json", "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    out = {}
    for split in SPLITS:
        got = {}
        for key, target_key in (("cls", None), ("json_label", "label")):
            r = ReaderWds(".", split=split, is_training=False, target_key=target_key)
            got["num_samples"] = len(r)
            got["names"] = r.filenames()
            got[key] = [int(t) for _, t in r]
        out[split] = got
    with open("expected.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
