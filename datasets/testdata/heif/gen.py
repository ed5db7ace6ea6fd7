"""Writes the HEIC and AVIF files of heif_test.go that carry a rotation: the 64x48 image of
heifSource (R = 4x, G = 5y, B = x + y + 40) with EXIF orientation 6 (turned a quarter clockwise
for display), which the writers store as an irot box on the image as stored. libheif 1.15's own
encoder (Debian bookworm's, which the tests use to write the other files) writes such a file with
the image size of the turned image, which newer readers refuse; these come from current writers.

Run once, in a venv with pillow-heif (it bundles libheif with its HEVC encoder) and Pillow >= 11.2
(its AVIF plugin, libavif):

    python3 -m venv /tmp/heif && /tmp/heif/bin/pip install pillow-heif
    /tmp/heif/bin/python3 datasets/testdata/heif/gen.py

Written with pillow-heif 1.9.0 (libheif 1.23.7) and Pillow 13.0.0.
"""
import os

import numpy as np
import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()
here = os.path.dirname(os.path.abspath(__file__))
h, w = 48, 64
y, x = np.mgrid[0:h, 0:w]
source = Image.fromarray(np.stack([4 * x, 5 * y, x + y + 40], -1).astype(np.uint8))
exif = Image.Exif()
exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
for fmt, name in [("HEIF", "rotated-6.heic"), ("AVIF", "rotated-6.avif")]:
    source.save(os.path.join(here, name), format=fmt, quality=90, exif=exif.tobytes())
