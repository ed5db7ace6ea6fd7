#!/usr/bin/python3
"""Writes the EXIF orientation fixtures of the datasets package's tests.

Run with Debian's /usr/bin/python3 (python3-pil 9.4) from this folder:

    /usr/bin/python3 gen_exif.py

exif/orient-K.jpg: a synthetic 13x8 RGB image (odd sizes: a transposition is visible), JPEG
quality 95, whose EXIF data (little-endian, as PIL writes it) records orientation K, for K in 1 to
8; exif/orient-6-be.jpg the same as 6 in big-endian EXIF; exif/orient-0.jpg an orientation of 0
(invalid: left as it is). exif.json: for each file, PIL's ImageOps.exif_transpose(Image.open(f))
.convert("RGB") pixels (base64 of HWC uint8) with their height and width, and Image.open(f)
.convert("RGB") of the file as stored.
"""
import base64
import io
import json
import os

import numpy as np
from PIL import Image, ImageOps


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()


def synthetic(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.where((x + 2 * y) % 3 == 0, 220, 30)], axis=-1)
    img = img + rng.integers(-20, 20, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    os.makedirs("exif", exist_ok=True)
    base = Image.fromarray(synthetic(8, 13, 7))
    files = {}
    cases = [(k, "<", f"orient-{k}.jpg") for k in range(0, 9)] + [(6, ">", "orient-6-be.jpg")]
    for k, endian, name in cases:
        exif = Image.Exif()
        exif.endian = endian
        exif[0x0112] = k
        buf = io.BytesIO()
        base.save(buf, "JPEG", quality=95, exif=exif.tobytes())
        with open(os.path.join("exif", name), "wb") as f:
            f.write(buf.getvalue())
        with Image.open(os.path.join("exif", name)) as im:
            assert im.getexif().get(0x0112) == k, (name, im.getexif())
            stored = np.asarray(im.convert("RGB"))
            turned = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        files[name] = {"orientation": k, "h": turned.shape[0], "w": turned.shape[1], "pixels": b64(turned),
                       "stored_h": stored.shape[0], "stored_w": stored.shape[1], "stored": b64(stored)}
    with open("exif.json", "w") as f:
        json.dump(files, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
