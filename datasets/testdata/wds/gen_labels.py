#!/usr/bin/env python3
"""Writes the fixture of the datasets package's test of shards labelled by other members than .cls.

Run from this folder with a python3 that imports webdataset (pip install webdataset pillow numpy;
made with webdataset 1.0.2):

    python3 gen_labels.py

labels.tar: six samples as webdataset's TarWriter writes them from Python values: a PNG image, a
.json member (a dict: a class name under "label", a class index under "meta" -> "class"), a .txt
member (the class name) and a .cls member (the class index).

labels.json: each sample's labels as webdataset reads them back (WebDataset(...).decode()): the
JSON fields, the text and the class index, by key.
"""
import json

import numpy as np
import webdataset as wds
from PIL import Image

NAMES = ["tench", "goldfish", "tench", "great white shark", "goldfish", "tench"]


def main():
    with wds.TarWriter("labels.tar") as w:
        for i, name in enumerate(NAMES):
            img = Image.fromarray(np.full((2, 3, 3), 40 * i, np.uint8))
            w.write({"__key__": f"sample{i:03d}", "png": img, "json": {"label": name, "meta": {"class": i % 3}},
                     "txt": name, "cls": i % 3})
    out = {}
    for s in wds.WebDataset("labels.tar", shardshuffle=False).decode():
        out[s["__key__"]] = {"json_label": s["json"]["label"], "json_meta_class": s["json"]["meta"]["class"],
                             "txt": s["txt"], "cls": s["cls"]}
    with open("labels.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
