#!/usr/bin/env python3
"""Writes the fixtures of the tfrecord package's tests with TensorFlow and TensorFlow Datasets.

Run from this folder with a python3 that imports them (pip install tensorflow-cpu
tensorflow-datasets importlib_resources pillow; made with TensorFlow 2.21.0 and TensorFlow
Datasets 4.9.10):

    python3 gen.py

tfds/tinyshapes/1.0.0/: a data set as TensorFlow Datasets prepares it (store_as_tfds_dataset):
an Image feature (PNG) and a ClassLabel feature "label" (circle, square, triangle, in
label.labels.txt), a train split of 6 examples and a test split of 3 without triangles.

imagenet/: the layout of TensorFlow's ImageNet scripts, written with tf.io.TFRecordWriter:
train-00000-of-00002 and train-00001-of-00002 (3 and 2 examples), validation-00000-of-00001
(2), each example an image/encoded JPEG, image/class/label (1-based, as those scripts number the
1000 classes), image/class/text, image/height and image/width.

compressed/: the TFDS training file written again with TFRecordOptions(compression_type=...):
gzip-train.tfrecord (GZIP) and zlib-train.tfrecord (ZLIB).

expected.json: for each file, each record's label as TensorFlow reads it back
(tf.data.TFRecordDataset, tf.io.parse_single_example) and the MD5 of its image bytes.
"""
import hashlib
import json
import os
import shutil

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds


def image(i, h=5, w=7):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 30 + i * 20, y * 40, np.full((h, w), 255 - 25 * i)], axis=-1).astype(np.uint8)


def tfds_set():
    shutil.rmtree("tfds", ignore_errors=True)

    def split(labels, start):
        imgs = np.stack([image(start + i) for i in range(len(labels))])
        return tf.data.Dataset.from_tensor_slices({"image": imgs, "label": np.array(labels, np.int64)})

    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(None, None, 3)),
        "label": tfds.features.ClassLabel(names=["circle", "square", "triangle"]),
    })
    tfds.dataset_builders.store_as_tfds_dataset(
        name="tinyshapes", version="1.0.0", features=features, config=None, data_dir="tfds",
        split_datasets={"train": split([0, 1, 2, 0, 1, 2], 0), "test": split([1, 0, 1], 6)})


def example(i, label, text):
    jpeg = tf.io.encode_jpeg(image(i, 6, 9), quality=95).numpy()
    feature = {
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg])),
        "image/format": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"JPEG"])),
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "image/class/text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()])),
        "image/height": tf.train.Feature(int64_list=tf.train.Int64List(value=[6])),
        "image/width": tf.train.Feature(int64_list=tf.train.Int64List(value=[9])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def imagenet_set():
    shutil.rmtree("imagenet", ignore_errors=True)
    os.makedirs("imagenet")
    files = {
        "train-00000-of-00002": [(1, "tench"), (3, "great white shark"), (2, "goldfish")],
        "train-00001-of-00002": [(1, "tench"), (2, "goldfish")],
        "validation-00000-of-00001": [(3, "great white shark"), (1, "tench")],
    }
    i = 0
    for name, rows in files.items():
        with tf.io.TFRecordWriter(os.path.join("imagenet", name)) as w:
            for label, text in rows:
                w.write(example(i, label, text))
                i += 1


def compressed_set():
    """The TFDS training file again, compressed as TFRecordOptions' GZIP and ZLIB write it."""
    shutil.rmtree("compressed", ignore_errors=True)
    os.makedirs("compressed")
    src = "tfds/tinyshapes/1.0.0/tinyshapes-train.tfrecord-00000-of-00001"
    for kind in ("GZIP", "ZLIB"):
        path = os.path.join("compressed", f"{kind.lower()}-train.tfrecord")
        with tf.io.TFRecordWriter(path, options=tf.io.TFRecordOptions(compression_type=kind)) as w:
            for raw in tf.data.TFRecordDataset(src):
                w.write(raw.numpy())


def expected():
    out = {}
    specs = {
        "tfds": ("image", "label"),
        "imagenet": ("image/encoded", "image/class/label"),
        "compressed": ("image", "label"),
    }
    for root, (img_key, label_key) in specs.items():
        for dirpath, _, names in os.walk(root):
            for name in sorted(names):
                if "tfrecord" not in name and not name.startswith(("train-", "validation-")):
                    continue
                path = os.path.join(dirpath, name)
                compression = {"gzip-": "GZIP", "zlib-": "ZLIB"}.get(name[:5], "")
                rows = []
                for raw in tf.data.TFRecordDataset(path, compression_type=compression):
                    ex = tf.io.parse_single_example(raw, {img_key: tf.io.FixedLenFeature([], tf.string),
                                                          label_key: tf.io.FixedLenFeature([], tf.int64)})
                    rows.append({"label": int(ex[label_key].numpy()),
                                 "md5": hashlib.md5(ex[img_key].numpy()).hexdigest()})
                out[os.path.relpath(path).replace(os.sep, "/")] = rows
    with open("expected.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    tfds_set()
    imagenet_set()
    compressed_set()
    expected()
