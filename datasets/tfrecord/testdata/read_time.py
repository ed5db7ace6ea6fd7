"""Reads every record of TFRecord files with TensorFlow (tf.data.TFRecordDataset, the records
parsed as tf.train.Example of an image and a label), the reference for the tfrecord package's
BenchmarkRead, and prints the seconds taken and the bytes of the images.

    python3 read_time.py FILE...

Needs TensorFlow (pip install tensorflow-cpu); the benchmark skips the reference without it.
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

spec = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
# As a careful user reads them: parsed in the tf.data graph, in batches, not record by record in
# Python.
ds = (tf.data.TFRecordDataset(sys.argv[1:]).batch(64)
      .map(lambda r: tf.reduce_sum(tf.cast(tf.strings.length(tf.io.parse_example(r, spec)["image"]), tf.int64))))
start = time.perf_counter()
n = sum(int(x) for x in ds)
print(f"{time.perf_counter() - start:.6f} {n}")
