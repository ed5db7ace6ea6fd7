"""Makes a data set with Hugging Face's datasets library, and times the library's reading of it one
row at a time in a shuffled order, for BenchmarkArrowRecords.

Run with a Python that has datasets and pillow (python3 -m venv V; V/bin/pip install datasets pillow):

    V/bin/python records_time.py make /tmp/hfrec            # 3,000 JPEGs of 320x240, 10 classes
    V/bin/python records_time.py make /tmp/hfmany 1281167   # ImageNet's row count, one tiny PNG each
    V/bin/python records_time.py time /tmp/hfrec SEED
    V/bin/python records_time.py folder /tmp/hfrec /tmp/hfrec-folder   # the same JPEGs, as an image folder

"make" writes a Dataset (an Image feature and a ClassLabel) with save_to_disk in 3 files.
"folder" writes the rows' image bytes as an image folder (CLASS/ROW.jpg), for BenchmarkArrowLoader.
"time" opens it (load_from_disk), reads each row's image bytes in a random order (the Image feature
cast to decode=False: the bytes, as our loader reads them before decoding), as a PyTorch
DataLoader over the data set does, and prints the seconds each step took.
"""
import io
import os
import sys
import time

import datasets
import numpy as np
from PIL import Image


def make(root, n):
    rng = np.random.default_rng(0)
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=[str(k) for k in range(10)])})
    if n == 3000:
        images = []
        for _ in range(n):
            a = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
            a[::2] //= 2
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, "JPEG", quality=85)
            images.append({"bytes": buf.getvalue(), "path": None})
    else:
        buf = io.BytesIO()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "PNG")
        images = [{"bytes": buf.getvalue(), "path": None}] * n
    ds = datasets.Dataset.from_dict({"image": images, "label": [i % 10 for i in range(n)]}, features=features)
    ds.save_to_disk(root, num_shards=3)


def timed(root, seed):
    start = time.perf_counter()
    ds = datasets.load_from_disk(root).cast_column("image", datasets.Image(decode=False))
    opened = time.perf_counter() - start
    order = np.random.default_rng(seed).permutation(len(ds))
    start = time.perf_counter()
    total = 0
    for i in order:
        total += len(ds[int(i)]["image"]["bytes"])
    took = time.perf_counter() - start
    print("datasets %s: opened in %.1f ms; %d rows (%d MB) one at a time, shuffled, in %.3f s: %.0f rows/s"
          % (datasets.__version__, opened * 1e3, len(ds), total >> 20, took, len(ds) / took))


def folder(root, out):
    ds = datasets.load_from_disk(root).cast_column("image", datasets.Image(decode=False))
    names = ds.features["label"].names
    for i, row in enumerate(ds):
        d = os.path.join(out, names[row["label"]])
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "%06d.jpg" % i), "wb") as f:
            f.write(row["image"]["bytes"])


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3000)
    elif sys.argv[1] == "folder":
        folder(sys.argv[2], sys.argv[3])
    else:
        timed(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
