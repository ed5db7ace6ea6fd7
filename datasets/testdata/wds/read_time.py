"""Reads every sample of WebDataset shards (raw bytes, no decoding) with webdataset, the reference
for BenchmarkShardStream, and prints the seconds taken and the bytes of the samples' members.

    python3 read_time.py URL_OR_PATTERN [PIPE_PATTERN]

Needs `pip install webdataset`; the benchmark skips the reference when it does not import.
"""
import sys
import time

import webdataset as wds


def read(urls):
    start = time.perf_counter()
    n = 0
    for sample in wds.WebDataset(urls, shardshuffle=False):
        n += sum(len(v) for k, v in sample.items() if isinstance(v, bytes) and not k.startswith("__"))
    return time.perf_counter() - start, n


for pattern in sys.argv[1:]:
    seconds, n = read(pattern)
    print(f"{seconds:.6f} {n}")
