#!/usr/bin/python3
"""Prints, for each file given, the milliseconds PIL takes to decode it as torchvision's
ImageFolder does (Image.open(f).convert("RGB")): the best of 5 rounds of at least 0.3 s each, one
thread. BenchmarkDecode runs it with Debian's /usr/bin/python3 to report PIL's time beside ours.
"""
import io
import sys
import time

from PIL import Image

try:  # HEIC through pillow-heif (not Debian's: BenchmarkDecode's VICREG_HEIF_PYTHON), on one thread
    import pillow_heif

    pillow_heif.register_heif_opener()
    pillow_heif.options.DECODE_THREADS = 1
except ImportError:
    pass

for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    best = float("inf")
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < 0.3:
            Image.open(io.BytesIO(data)).convert("RGB")
            n += 1
        best = min(best, (time.perf_counter() - start) / n)
    print(f"{best * 1e3:.4f}")
