"""Writes the Arrow fixtures of the hfdata tests with Hugging Face's datasets library.

Run from this folder with a Python that has datasets (made with datasets 5.2.0 and pyarrow 26.0.1:
python3 -m venv V; V/bin/pip install datasets pillow):

    python gen_arrow.py

saved/: a DatasetDict as save_to_disk writes it (dataset_dict.json; train/, validation/, test/,
each with data-0000N-of-0000M.arrow, dataset_info.json and state.json): train in 2 files of 5 and
4 rows, each of several record batches (of 2 rows), labels a ClassLabel feature named cat, dog and
fox; validation without fox; test with every label -1 (a test split without its labels).
cache/: the library's cache of a data set loaded from Parquet files (load_dataset("parquet",
cache_dir=...)): parquet-train.arrow (6 rows in record batches of 2) and parquet-validation.arrow
(2 rows, no beagle) beside dataset_info.json, and the lock files beside them; labels strings in a
column "breed" (no ClassLabel); one row without image bytes whose path, x4.png, names a file
beside it (relative to the Arrow file's folder).
file/data.arrow: the rows of saved/train/'s first file in Arrow's file format (pyarrow.ipc.new_file,
magic ARROW1 and a footer), its image bytes large_binary: another layout of the same values.
compressed/data.arrow: the same rows in record batches compressed with ZSTD (which the library does
not write, and which are refused).
expected_arrow.json: for each Arrow file, each row's image SHA-256 (null without bytes) and label name
(null without one), as pyarrow reads them back.
"""
import glob
import hashlib
import io
import json
import os
import shutil

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def encode(i, fmt):
    a = np.zeros((4 + i % 3, 5 + i % 2, 3), np.uint8)
    a[..., 0], a[..., 1], a[..., 2] = 40 * i % 256, np.arange(a.shape[1]) * 30, 9 * i % 256
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, fmt)
    return buf.getvalue()


def rows_of(path):
    """Each row's image SHA-256 and label name, as pyarrow reads the Arrow file at path."""
    try:
        table = pa.ipc.open_stream(path).read_all()
    except pa.ArrowInvalid:
        table = pa.ipc.open_file(path).read_all()
    meta = json.loads(table.schema.metadata[b"huggingface"]) if table.schema.metadata else {}
    feats = meta.get("info", {}).get("features", {})
    label_col = "label" if "label" in table.column_names else "breed"
    names = feats.get(label_col, {}).get("names")
    out = []
    for img, label in zip(table.column("image").to_pylist(), table.column(label_col).to_pylist()):
        data = img["bytes"] if img else None
        if data is None and img and img["path"]:
            with open(os.path.join(os.path.dirname(path), img["path"]), "rb") as f:
                data = f.read()
        if names is not None:
            label = names[label] if label is not None and label >= 0 else None
        out.append({"sha256": hashlib.sha256(data).hexdigest() if data is not None else None, "label": label})
    return out


def main():
    for d in ("saved", "cache", "file", "compressed"):
        shutil.rmtree(d, ignore_errors=True)
    names = ["cat", "dog", "fox"]
    feats = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    fmts = ["PNG", "JPEG"]
    splits = {}
    row = 0
    for split, n, labels in [("train", 9, [0, 1, 2, 1, 0, 2, 2, 1, 0]), ("validation", 3, [1, 0, 1]), ("test", 2, [-1, -1])]:
        images = []
        for _ in range(n):
            images.append({"bytes": encode(row, fmts[row % 2]), "path": None})
            row += 1
        # Batches of 2 rows: from_dict with a writer batch size, through a map that rewrites them.
        ds = datasets.Dataset.from_dict({"image": images, "label": labels}, features=feats)
        ds = ds.map(lambda b: b, batched=True, batch_size=2, writer_batch_size=2, keep_in_memory=True)
        splits[split] = ds
    dd = datasets.DatasetDict(splits)
    dd.save_to_disk("saved", num_shards={"train": 2, "validation": 1, "test": 1})

    # The cache of a data set loaded from Parquet files (row groups of 2 rows: record batches of
    # 2), with a column of strings.
    os.makedirs("src", exist_ok=True)
    feats = datasets.Features({"image": datasets.Image(decode=False), "breed": datasets.Value("string")})
    images = [{"bytes": encode(20 + i, "PNG"), "path": None} for i in range(6)]
    images[4] = {"bytes": None, "path": "x4.png"}
    train = datasets.Dataset.from_dict({"image": images, "breed": ["corgi", "beagle", "corgi", "akita", "beagle", "akita"]}, features=feats)
    pq.write_table(train.data.table, "src/train.parquet", row_group_size=2)
    val = datasets.Dataset.from_dict({"image": [{"bytes": encode(30 + i, "JPEG"), "path": None} for i in range(2)], "breed": ["akita", "corgi"]}, features=feats)
    pq.write_table(val.data.table, "src/validation.parquet", row_group_size=2)
    datasets.load_dataset("parquet", data_files={"train": "src/train.parquet", "validation": "src/validation.parquet"}, cache_dir="cache")
    shutil.rmtree("src")
    arrow = glob.glob("cache/**/parquet-train.arrow", recursive=True)[0]
    with open(os.path.join(os.path.dirname(arrow), "x4.png"), "wb") as f:
        f.write(encode(24, "PNG"))

    # Arrow's file format, image bytes large_binary.
    table = pa.ipc.open_stream("saved/train/data-00000-of-00002.arrow").read_all()
    image_type = pa.struct([("bytes", pa.large_binary()), ("path", pa.string())])
    table = table.set_column(0, "image", table.column("image").cast(image_type)).replace_schema_metadata(table.schema.metadata)
    os.makedirs("file", exist_ok=True)
    with pa.ipc.new_file("file/data.arrow", table.schema) as w:
        for batch in table.to_batches(max_chunksize=2):
            w.write_batch(batch)

    # Compressed record batches (ZSTD), which the datasets library does not write: refused.
    os.makedirs("compressed", exist_ok=True)
    with pa.ipc.new_stream("compressed/data.arrow", table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as w:
        w.write_table(table)

    expected = {}
    for path in sorted(glob.glob("saved/*/*.arrow") + glob.glob("cache/**/*.arrow", recursive=True) + ["file/data.arrow"]):
        expected[path] = rows_of(path)
    with open("expected_arrow.json", "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
