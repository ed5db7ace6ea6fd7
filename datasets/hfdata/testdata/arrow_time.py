"""Times pyarrow's reading of the Arrow files of a folder's train/ split, for BenchmarkArrowSamples.

Run with a Python that has pyarrow: python arrow_time.py DIR (made by shards_time.py make-arrow).
It reads every record batch of DIR/train/*.arrow in file order and takes each row's image bytes and
label as Python values (what a conversion to shards needs), and prints the seconds it took.
"""
import glob
import os
import sys
import time

import pyarrow as pa

start = time.perf_counter()
n = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "train", "*.arrow"))):
    for batch in pa.ipc.open_stream(path):
        for image, label in zip(batch.column("image").to_pylist(), batch.column("label").to_pylist()):
            n += len(image["bytes"]) > 0
print("pyarrow %s: %d rows in %.4f s" % (pa.__version__, n, time.perf_counter() - start))
