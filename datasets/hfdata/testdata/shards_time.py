"""Times a reference conversion of Parquet or Arrow files to tar shards in Python, beside mkshards.

Run with a Python that has pyarrow, numpy and PIL (pip install pyarrow pillow numpy):

    python shards_time.py make /tmp/pqbench   # once: 3 Parquet files of 1,000 JPEGs of 320x240
    python shards_time.py copy /tmp/pqbench /tmp/pqref
    /usr/bin/time go run ./datasets/mkshards -in /tmp/pqbench -out /tmp/pqout -no-shuffle

    python shards_time.py make-arrow /tmp/arbench   # the same rows as save_to_disk's Arrow files
    python shards_time.py copy /tmp/arbench /tmp/arref
    /usr/bin/time go run ./datasets/mkshards -in /tmp/arbench -out /tmp/arout -no-shuffle

"copy" reads the files a batch at a time (pyarrow) and writes KEY.jpg and KEY.cls members, 1,000
samples a shard, in order (tarfile): mkshards -no-shuffle's work without its digests and index.
"make-arrow" writes Arrow stream files (train/data-0000K-of-00003.arrow, record batches of 100
rows, uncompressed), as the datasets library's save_to_disk does.
"""
import glob
import io
import os
import sys
import tarfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def make(root):
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(root, "data"), exist_ok=True)
    for k in range(3):
        images, labels = [], []
        for i in range(1000):
            a = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
            a[::2] //= 2
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, "JPEG", quality=85)
            images.append({"bytes": buf.getvalue(), "path": None})
            labels.append(i % 10)
        table = pa.table({"image": images, "label": pa.array(labels, pa.int64())})
        pq.write_table(table, os.path.join(root, "data", "train-%05d-of-00003.parquet" % k), row_group_size=100, compression="snappy")


def make_arrow(root):
    make(root + ".parquet")
    os.makedirs(os.path.join(root, "train"), exist_ok=True)
    for k, path in enumerate(sorted(glob.glob(os.path.join(root + ".parquet", "data", "*.parquet")))):
        table = pq.read_table(path)
        with pa.ipc.new_stream(os.path.join(root, "train", "data-%05d-of-00003.arrow" % k), table.schema) as w:
            for batch in table.to_batches(max_chunksize=100):
                w.write_batch(batch)


def batches(path):
    if path.endswith(".arrow"):
        return pa.ipc.open_stream(path)
    return pq.ParquetFile(path).iter_batches(columns=["image", "label"])


def copy(root, out):
    start = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    n, tw = 0, None
    for path in sorted(glob.glob(os.path.join(root, "data", "*.parquet")) + glob.glob(os.path.join(root, "train", "*.arrow"))):
        for batch in batches(path):
            for image, label in zip(batch.column("image").to_pylist(), batch.column("label").to_pylist()):
                if n % 1000 == 0:
                    if tw:
                        tw.close()
                    tw = tarfile.open(os.path.join(out, "train-%06d.tar" % (n // 1000)), "w")
                for name, data in [("%09d.jpg" % n, image["bytes"]), ("%09d.cls" % n, str(label).encode())]:
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tw.addfile(info, io.BytesIO(data))
                n += 1
    tw.close()
    print("pyarrow %s + tarfile: %d samples in %.2f s" % (pa.__version__, n, time.perf_counter() - start))


if __name__ == "__main__":
    {"make": lambda: make(sys.argv[2]), "make-arrow": lambda: make_arrow(sys.argv[2]),
     "copy": lambda: copy(sys.argv[2], sys.argv[3])}[sys.argv[1]]()
