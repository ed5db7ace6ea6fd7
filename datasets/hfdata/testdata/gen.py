"""Writes the Parquet fixtures of the hfdata tests with Hugging Face's datasets library.

Run from this folder with a Python that has datasets (pip install datasets pillow):

    python gen.py

hub/data/: a data set as push_to_hub lays it out: train-0000{0,1}-of-00002.parquet (7 and 6 rows),
validation-00000-of-00001.parquet (4 rows, no fox among them), test-00000-of-00001.parquet (3 rows,
every label -1: a test split without its labels); images PNG, JPEG and WebP of sizes that differ,
labels a ClassLabel feature named cat, dog and fox; snappy-compressed, row groups of 3 rows.
convert/default/: the Hub's Parquet conversion layout (train/0000.parquet, validation/0000.parquet),
labels strings in a column "breed" (no ClassLabel), zstd-compressed, one row of train without
image bytes (null).
fewer/data/: a validation split whose ClassLabel names fewer classes (dog, fox) than train's (cat,
dog, fox); gzip-compressed.
expected.json: for each file, each row's image SHA-256 (null without bytes) and label name (null
without one), from the values written: what a reader must find.
"""
import hashlib
import io
import json
import os

import datasets
import numpy as np
import pyarrow.parquet as pq
from PIL import Image


def encode(i, fmt):
    a = np.zeros((5 + i % 4, 6 + i % 3, 3), np.uint8)
    a[..., 0], a[..., 1], a[..., 2] = 30 * i % 256, np.arange(a.shape[1]) * 20, 7 * i % 256
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


def write(path, images, labels, features, compression):
    ds = datasets.Dataset.from_dict({"image": images, features["label_name"]: labels}, features=features["features"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(ds.data.table, path, row_group_size=3, compression=compression)


def main():
    expected = {}
    names = ["cat", "dog", "fox"]
    hub = {"label_name": "label", "features": datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})}
    fmts = ["PNG", "JPEG", "WEBP"]
    row = 0
    for name, n, labelled in [("train-00000-of-00002", 7, True), ("train-00001-of-00002", 6, True),
                              ("validation-00000-of-00001", 4, True), ("test-00000-of-00001", 3, False)]:
        images, labels, rows = [], [], []
        for i in range(n):
            data = encode(row, fmts[row % 3])
            label = [0, 1, 2, 1][row % 4] if labelled else -1
            if name.startswith("validation"):
                label = row % 2  # cat and dog only
            images.append({"bytes": data, "path": f"img{row}.{fmts[row % 3].lower()}"})
            labels.append(label)
            rows.append({"sha256": hashlib.sha256(data).hexdigest(), "label": names[label] if label >= 0 else None})
            row += 1
        path = os.path.join("hub", "data", name + ".parquet")
        write(path, images, labels, hub, "snappy")
        expected[path] = rows
    conv = {"label_name": "breed", "features": datasets.Features({"image": datasets.Image(), "breed": datasets.Value("string")})}
    breeds = ["pug", "akita", "corgi"]
    for split, n in [("train", 5), ("validation", 2)]:
        images, labels, rows = [], [], []
        for i in range(n):
            data = encode(row, "JPEG")
            missing = split == "train" and i == 3
            images.append({"bytes": None if missing else data, "path": f"x{row}.jpg"})
            breed = breeds[row % 3] if split == "train" else ["pug", "corgi"][i]  # pug 0 and corgi 1 here, 2 and 1 in train
            labels.append(breed)
            rows.append({"sha256": None if missing else hashlib.sha256(data).hexdigest(), "label": breed})
            row += 1
        path = os.path.join("convert", "default", split, "0000.parquet")
        write(path, images, labels, conv, "zstd")
        expected[path] = rows
    # A validation split whose ClassLabel lists fewer names than train's: dog and fox, 0 and 1 here.
    small = {"label_name": "label", "features": datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["dog", "fox"])})}
    for name, n, feats in [("train-00000-of-00001", 3, hub), ("validation-00000-of-00001", 2, small)]:
        images, labels, rows = [], [], []
        for i in range(n):
            data = encode(row, "PNG")
            label = i if name.startswith("train") else 1 - i
            label_name = feats["features"]["label"].names[label]
            images.append({"bytes": data, "path": None})
            labels.append(label)
            rows.append({"sha256": hashlib.sha256(data).hexdigest(), "label": label_name})
            row += 1
        path = os.path.join("fewer", "data", name + ".parquet")
        write(path, images, labels, feats, "gzip")
        expected[path] = rows
    with open("expected.json", "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print("datasets", datasets.__version__)


if __name__ == "__main__":
    main()
