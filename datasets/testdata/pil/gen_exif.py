#!/usr/bin/python3
"""Writes the EXIF orientation fixtures of the datasets package's tests.

Run with Debian's /usr/bin/python3 (python3-pil 9.4) from this folder:

    /usr/bin/python3 gen_exif.py

exif/orient-K.jpg: a synthetic 13x8 RGB image (odd sizes: a transposition is visible), JPEG
quality 95, whose EXIF data (little-endian, as PIL writes it) records orientation K, for K in 1 to
8; exif/orient-6-be.jpg the same as 6 in big-endian EXIF; exif/orient-0.jpg an orientation of 0
(invalid: left as it is). The same image in the other formats that carry EXIF data, where PIL's
getexif reads it: exif/orient-K.png (an eXIf chunk, K in 0 to 8), orient-6-after-idat.png (the
eXIf chunk after the image data), orient-6-raw-ztxt.png and orient-3-raw-text.png (no eXIf chunk,
but ImageMagick's "Raw profile type exif" text, compressed or not), orient-6-xmp.png,
orient-8-xmp-ztxt.png and orient-5-xmp-exif-make.png (the orientation in the XMP text,
"XML:com.adobe.xmp", as an attribute or an element, compressed or not, with no EXIF data or EXIF
data without the tag: PIL 9.4's getexif takes it from there) and orient-1-xmp-6.png (EXIF
orientation 1, XMP 6: the tag wins), orient-K.webp (lossless, an
EXIF chunk, K in 1 to 8; orient-5-prefixed.webp with the "Exif\0\0" prefix that PIL leaves
out), orient-K.tif (the Orientation tag of the first directory, K in 1 to 8), orient-6-be.tif
(big-endian) and orient-6-big.tif (BigTIFF), the last two by libtiff's tiffcp.

exif.json: for each file, PIL's ImageOps.exif_transpose(Image.open(f)).convert("RGB") pixels
(base64 of HWC uint8) with their height and width, and Image.open(f).convert("RGB") of the file
as PIL reads it. PIL turns a TIFF by its Orientation tag when it loads it: a TIFF's "stored"
pixels are turned, and so are its exif_transpose pixels, once (as Pillow 10.1 and later give
them; Pillow 9.4 turns them twice). Every format's turned pixels are checked to be the PNG's.
"""
import base64
import io
import json
import os
import struct
import subprocess
import zlib

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()


def synthetic(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.where((x + 2 * y) % 3 == 0, 220, 30)], axis=-1)
    img = img + rng.integers(-20, 20, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def exif_bytes(k, endian):
    """An APP1 segment's EXIF data ("Exif\\0\\0" first, as PIL writes it) recording orientation k."""
    exif = Image.Exif()
    exif.endian = endian
    exif[0x0112] = k
    return exif.tobytes()


def raw_profile(exif):
    """ImageMagick's "Raw profile type exif" text of the EXIF data exif: its length, then hex."""
    hexed = exif.hex()
    return "\nexif\n%8d\n" % len(exif) + "\n".join(hexed[i:i + 72] for i in range(0, len(hexed), 72)) + "\n"


def png_chunks(data):
    """The chunks of a PNG file: (type, body) pairs, the CRC left out."""
    i, out = 8, []
    while i < len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        out.append((data[i + 4:i + 8], data[i + 8:i + 8 + n]))
        i += 12 + n
    return out


def write_png(path, chunks, after_idat=()):
    """Writes chunks as a PNG file, the chunks of after_idat after the last IDAT chunk."""
    last = max(i for i, c in enumerate(chunks) if c[0] == b"IDAT")
    chunks = chunks[:last + 1] + list(after_idat) + chunks[last + 1:]
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        for kind, body in chunks:
            f.write(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)))


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
    exif6 = exif_bytes(6, "<")
    for k in range(0, 9):
        base.save(os.path.join("exif", f"orient-{k}.png"), "PNG", exif=exif_bytes(k, "<"))
    with open(os.path.join("exif", "orient-6.png"), "rb") as f:
        data = f.read()
    write_png(os.path.join("exif", "orient-6-after-idat.png"), [c for c in png_chunks(data) if c[0] != b"eXIf"],
              after_idat=[c for c in png_chunks(data) if c[0] == b"eXIf"])
    for k, zip_, name in [(6, True, "orient-6-raw-ztxt.png"), (3, False, "orient-3-raw-text.png")]:
        info = PngImagePlugin.PngInfo()
        info.add_text("Raw profile type exif", raw_profile(exif_bytes(k, ">")), zip=zip_)
        base.save(os.path.join("exif", name), "PNG", pnginfo=info)
    # XMP: PIL 9.4's getexif takes the orientation from a PNG's "XML:com.adobe.xmp" text where its
    # EXIF data has no Orientation tag (none at all, or other tags only), never over the tag.
    make = Image.Exif()
    make[0x010F] = "camera"
    for name, k, form, zip_, exif in [("orient-6-xmp.png", 6, 'tiff:Orientation="%d"', False, None),
                                      ("orient-8-xmp-ztxt.png", 8, "<tiff:Orientation>%d</tiff:Orientation>", True, None),
                                      ("orient-5-xmp-exif-make.png", 5, 'tiff:Orientation="%d"', False, make.tobytes()),
                                      ("orient-1-xmp-6.png", 6, 'tiff:Orientation="%d"', False, exif_bytes(1, "<"))]:
        xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
               '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" ' + (form % k if form.startswith("tiff") else "")
               + ">" + ("" if form.startswith("tiff") else form % k) + "</rdf:Description></rdf:RDF></x:xmpmeta>")
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp, zip=zip_)
        extra = {"exif": exif} if exif else {}
        base.save(os.path.join("exif", name), "PNG", pnginfo=info, **extra)
    for k in range(1, 9):
        base.save(os.path.join("exif", f"orient-{k}.webp"), "WEBP", lossless=True, exif=exif_bytes(k, "<"))
    # PIL writes the EXIF chunk without the APP1 segment's "Exif\\0\\0" prefix; other tools write it.
    with open(os.path.join("exif", "orient-5.webp"), "rb") as f:
        data = f.read()
    at = data.index(b"EXIF")
    n = struct.unpack("<I", data[at + 4:at + 8])[0]
    body = b"Exif\x00\x00" + data[at + 8:at + 8 + n]
    chunk = b"EXIF" + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) % 2)
    data = data[:at] + chunk + data[at + 8 + n + n % 2:]
    with open(os.path.join("exif", "orient-5-prefixed.webp"), "wb") as f:
        f.write(data[:4] + struct.pack("<I", len(data) - 8) + data[8:])
    for k in range(1, 9):
        base.save(os.path.join("exif", f"orient-{k}.tif"), "TIFF", tiffinfo={0x0112: k})
    for flag, name in [("-B", "orient-6-be.tif"), ("-8", "orient-6-big.tif")]:
        subprocess.run(["tiffcp", flag, os.path.join("exif", "orient-6.tif"), os.path.join("exif", name)], check=True)
    for name in sorted(os.listdir("exif")):
        if name in files:
            continue
        with Image.open(os.path.join("exif", name)) as im:
            k = im.getexif().get(0x0112, 1)
            stored = np.asarray(im.convert("RGB"))
        with Image.open(os.path.join("exif", name)) as im:
            turned = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        if name.endswith(".tif"):
            # PIL turns a TIFF by its Orientation tag when it loads it; Pillow 9.4's exif_transpose
            # then turns it a second time (fixed in Pillow 10.1, python-pillow/Pillow#7383, which
            # removes the tag once applied): the image turned once is the one wanted either way.
            turned = stored
        png = np.asarray(ImageOps.exif_transpose(Image.open(os.path.join("exif", f"orient-{k}.png"))).convert("RGB"))
        assert np.array_equal(turned, png), name  # every format turned alike
        files[name] = {"orientation": k, "h": turned.shape[0], "w": turned.shape[1], "pixels": b64(turned),
                       "stored_h": stored.shape[0], "stored_w": stored.shape[1], "stored": b64(stored)}
    with open("exif.json", "w") as f:
        json.dump(files, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
