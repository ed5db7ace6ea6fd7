#!/usr/bin/python3
"""Writes the PIL/torchvision reference fixtures of the datasets package's tests.

Run with Debian's /usr/bin/python3 (python3-pil 9.4, python3-torchvision 0.14) from this folder,
with libtiff's tiffcp on the PATH (Debian's libtiff-tools) for the TIFF variants PIL cannot write:

    /usr/bin/python3 gen.py

resample.json: a synthetic 64x48 RGB image and torchvision's outputs on it: F.resized_crop with
BICUBIC (RandomResizedCrop's resampling) for several boxes and sizes, and Resize(int(s/0.875)) then
CenterCrop(s) (the standard evaluation transform, BILINEAR). Pixels are base64 of HWC uint8.

kinds/: tiny synthetic images of the kinds PIL converts to RGB (CMYK JPEG, progressive JPEG,
grayscale JPEG, palette PNG, 16-bit PNG, grayscale+alpha PNG) and kinds.json with PIL's
Image.open(f).convert("RGB") pixels of each. No photographs: every image is drawn here.
"""
import base64
import json
import os
import struct
import subprocess

import numpy as np
from PIL import Image, ImageFilter
import torchvision.transforms as T
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()


def synthetic(h, w, seed):
    """Gradients, a sharp edge, and noise: every weight of a kernel matters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1))
    g = (y * 255 // max(h - 1, 1))
    b = np.where((x // 5 + y // 7) % 2 == 0, 230, 20)
    img = np.stack([r, g, b], -1).astype(np.int32) + rng.integers(-25, 26, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def resample_fixture():
    src = synthetic(48, 64, 1)
    im = Image.fromarray(src, "RGB")
    cases = []
    # (top, left, height, width, size): shrink, enlarge, mixed, identity, at the edges, thin.
    for top, left, h, w, size in [(0, 0, 48, 64, 16), (5, 7, 30, 40, 16), (10, 20, 8, 10, 24),
                                  (0, 0, 48, 64, 48), (3, 3, 20, 20, 20), (40, 50, 8, 14, 11),
                                  (0, 60, 48, 4, 9), (17, 0, 2, 64, 13), (1, 2, 45, 33, 7),
                                  (0, 0, 48, 64, 56)]:
        out = F.resized_crop(im, top, left, h, w, [size, size], InterpolationMode.BICUBIC)
        cases.append({"kind": "crop", "box": [top, left, h, w], "size": size, "pix": b64(np.asarray(out))})
    for size in [16, 32, 40, 47, 48]:
        t = T.Compose([T.Resize(int(size / 0.875)), T.CenterCrop(size)])
        out = np.asarray(t(im))
        cases.append({"kind": "eval", "size": size, "pix": b64(out)})
    # A tall image for the evaluation transform on the other orientation.
    tall = Image.fromarray(synthetic(50, 30, 2), "RGB")
    for size in [16, 24]:
        t = T.Compose([T.Resize(int(size / 0.875)), T.CenterCrop(size)])
        cases.append({"kind": "eval-tall", "size": size, "pix": b64(np.asarray(t(tall)))})
    with open("resample.json", "w") as f:
        json.dump({"h": 48, "w": 64, "pix": b64(src), "tall": {"h": 50, "w": 30, "pix": b64(np.asarray(tall))},
                   "cases": cases}, f)


def kinds_fixture():
    os.makedirs("kinds", exist_ok=True)
    y, x = np.mgrid[0:12, 0:16]
    smooth = np.stack([40 + 10 * x, 60 + 12 * y, 200 - 5 * x - 6 * y], -1).astype(np.uint8)  # gradients
    files = {}
    rgb = Image.fromarray(smooth, "RGB")
    rgb.convert("CMYK").save("kinds/cmyk.jpg", quality=95)
    rgb.save("kinds/progressive.jpg", quality=95, progressive=True)
    rgb.convert("L").save("kinds/gray.jpg", quality=95)
    rgb.quantize(colors=16).save("kinds/palette.png")
    g16 = smooth[..., 0].astype(np.uint16) * 257  # high byte = the 8-bit value
    Image.fromarray(g16.astype(np.uint16), "I;16").save("kinds/gray16.png")
    la = Image.fromarray(np.stack([smooth[..., 1], smooth[..., 2]], -1), "LA")
    la.save("kinds/gray-alpha.png")
    rgba = np.concatenate([smooth, smooth[..., :1]], -1)
    Image.fromarray(rgba, "RGBA").save("kinds/rgba.png")
    for name in sorted(os.listdir("kinds")):
        with Image.open(os.path.join("kinds", name)) as im:
            mode = im.mode
            files[name] = {"mode": mode, "pix": b64(np.asarray(im.convert("RGB")))}
    # The pixels each file was made from (gray16 holds 257 times the red channel).
    files["source"] = {"mode": "RGB", "pix": b64(smooth)}
    with open("kinds.json", "w") as f:
        json.dump({"h": 12, "w": 16, "files": files}, f, indent=1)


def write_plain_pnm(path, magic, maxval, rows):
    """Writes a plain (text) PNM file, which PIL cannot write: a comment, values over several lines."""
    h, w = len(rows), len(rows[0])
    with open(path, "w") as f:
        f.write(f"{magic}\n# written by gen.py\n{w} {h}\n{maxval}\n")
        for row in rows:
            f.write(" ".join(str(int(v)) for v in np.ravel(row)) + "\n")


def write_tiff(path, w, h, spp, bps, photometric, strips, extra=None, planar=1, order="<", tile=None, fill=None,
               colormap=None):
    """Writes an uncompressed TIFF of the given strips (one per plane when planar is 2; tiles, in
    rows, when tile is (width, height)), little-endian or with order ">" big-endian, for the
    variants PIL reads and cannot write; colormap: the 16-bit reds, greens and blues, in a list."""
    offsets, body = [], b""
    for s in strips:
        offsets.append(8 + len(body))
        body += s
    tags = {256: (3, [w]), 257: (3, [h]), 258: (3, [bps] * spp), 259: (3, [1]), 262: (3, [photometric]),
            273: (4, offsets), 277: (3, [spp]), 278: (3, [h]), 279: (4, [len(s) for s in strips]),
            284: (3, [planar])}
    if tile is not None:
        for t in (273, 278, 279):
            del tags[t]
        tags.update({322: (3, [tile[0]]), 323: (3, [tile[1]]), 324: (4, offsets), 325: (4, [len(s) for s in strips])})
    if extra is not None:
        tags[338] = (3, extra)
    if fill is not None:
        tags[266] = (3, [fill])
    if colormap is not None:
        tags[320] = (3, colormap)
    ifd_at = 8 + len(body)
    values_at = ifd_at + 2 + 12 * len(tags) + 4
    ifd, values = struct.pack(order + "H", len(tags)), b""
    for tag, (typ, vals) in sorted(tags.items()):
        data = struct.pack(order + ("H" if typ == 3 else "I") * len(vals), *vals)
        if len(data) <= 4:
            ifd += struct.pack(order + "HHI", tag, typ, len(vals)) + data.ljust(4, b"\0")
        else:
            ifd += struct.pack(order + "HHII", tag, typ, len(vals), values_at + len(values))
            values += data
    head = b"II*\0" if order == "<" else b"MM\0*"
    with open(path, "wb") as f:
        f.write(head + struct.pack(order + "I", ifd_at) + body + ifd + b"\0\0\0\0" + values)


def write_png(path, w, h, depth, color, samples, interlace=False, palette=None, trns=None, chunks=()):
    """Writes a PNG that PIL cannot write (2- and 4-bit gray, 16-bit RGB, Adam7 interlacing, a
    palette shorter than its indices, extra chunks) from samples, an array of h x w x channels. Row
    y of each pass is filtered with filter type y % 5, so that every filter is undone on reading."""
    import zlib
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    samples = np.asarray(samples).reshape(h, w, channels)
    bpp = max(1, channels * depth // 8)  # bytes of a pixel, as filters count them

    def pack(row):
        if depth == 16:
            return row.astype(">u2").tobytes()
        if depth == 8:
            return row.astype(np.uint8).tobytes()
        bits = "".join(format(int(v), f"0{depth}b") for v in np.ravel(row))
        bits += "0" * (-len(bits) % 8)
        return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))

    def paeth(a, b, c):
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        return a if pa <= pb and pa <= pc else b if pb <= pc else c

    def filtered(rows):
        out, prev = b"", None
        for y, row in enumerate(rows):
            kind, cur = y % 5, list(row)
            up = prev if prev is not None else [0] * len(cur)
            f = []
            for i, v in enumerate(cur):
                left = cur[i - bpp] if i >= bpp else 0
                ul = up[i - bpp] if i >= bpp else 0
                pred = [0, left, up[i], (left + up[i]) // 2, paeth(left, up[i], ul)][kind]
                f.append((v - pred) % 256)
            out += bytes([kind]) + bytes(f)
            prev = cur
        return out

    passes = [(0, 0, 1, 1)] if not interlace else [
        (0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]
    raw = b""
    for y0, x0, dy, dx in passes:  # (first row, first column, row step, column step)
        sub = samples[y0::dy, x0::dx]
        if sub.size:
            raw += filtered([pack(r) for r in sub])

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, int(interlace)))
    for kind, data in chunks:
        out += chunk(kind, data)
    if palette is not None:
        out += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).ravel()))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def png_variants(src, gray):
    """formats/*.png: PNG in the color types, bit depths and options of the PNG specification."""
    h, w = gray.shape
    rgb = Image.fromarray(src, "RGB")
    rgb.save("formats/rgb.png")
    Image.fromarray(gray, "L").save("formats/gray.png")
    Image.fromarray(gray, "L").convert("1").save("formats/gray-1bit.png")
    rgb.quantize(colors=4).save("formats/palette-2bit.png")
    rgb.quantize(colors=16).save("formats/palette-trns.png", transparency=3)
    Image.fromarray(gray, "L").save("formats/gray-trns.png", transparency=int(gray[0, 0]))
    rgb.save("formats/rgb-trns.png", transparency=tuple(int(v) for v in src[0, 0]))
    write_png("formats/rgb-interlaced.png", w, h, 8, 2, src, interlace=True)
    write_png("formats/gray-2bit.png", w, h, 2, 0, gray >> 6)
    write_png("formats/gray-4bit-interlaced.png", w, h, 4, 0, gray >> 4, interlace=True)
    low = (np.arange(h * w * 3).reshape(h, w, 3) * 37) % 256  # low bytes that are not the high ones
    write_png("formats/rgb16.png", w, h, 16, 2, src.astype(np.int64) * 256 + low)
    alpha = (np.arange(h * w).reshape(h, w, 1) * 3) % 65536
    write_png("formats/rgba16-interlaced.png", w, h, 16, 6,
              np.concatenate([src.astype(np.int64) * 256 + low, alpha], -1), interlace=True)
    write_png("formats/gray16-interlaced.png", w, h, 16, 0, gray.astype(np.int64) * 257, interlace=True)
    # Indices past the end of a 4-colour palette (every pixel's index is 0..15).
    write_png("formats/palette-short.png", w, h, 4, 3, np.arange(h * w).reshape(h, w) % 16,
              palette=[[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 99, 199]])
    # A gamma and an sRGB chunk, which neither PIL nor we apply.
    write_png("formats/gamma.png", w, h, 8, 2, src, chunks=[(b"gAMA", struct.pack(">I", 100000))])


def formats_fixture():
    """formats/: the formats torchvision's ImageFolder reads besides JPEG (PNG, BMP, TIFF, WebP, PPM/PGM), in the
    variants PIL writes or reads, made from one odd-sized noisy image (odd sizes test the edges of
    subsampled chroma); formats.json holds PIL's Image.open(f).convert("RGB") pixels of each, or
    PIL's error."""
    os.makedirs("formats", exist_ok=True)
    src = synthetic(11, 15, 3)
    rgb = Image.fromarray(src, "RGB")
    gray = rgb.convert("L")
    alpha = np.clip(np.arange(11 * 15).reshape(11, 15) * 2, 0, 255).astype(np.uint8)
    rgba = Image.fromarray(np.concatenate([src, alpha[..., None]], -1), "RGBA")
    g16 = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257, "I;16")
    rgb.save("formats/rgb.bmp")
    rgb.quantize(colors=16).save("formats/palette.bmp")
    gray.save("formats/gray.bmp")
    gray.convert("1").save("formats/bilevel.bmp")
    rgba.save("formats/rgba.bmp")
    # An 8-bit BMP with a palette of 4 colours and indices up to 15, which PIL looks up in its
    # palette, a gray ramp past the colours given.
    index = (np.arange(11 * 15).reshape(11, 15) % 16).astype(np.uint8)
    colors = b"".join(bytes(c) + b"\0" for c in [(0, 0, 255), (0, 255, 0), (255, 0, 0), (199, 99, 9)])  # BGR0
    rows = b"".join(bytes(index[y]) + b"\0" for y in range(10, -1, -1))  # bottom-up, padded to 16 bytes
    offset = 14 + 40 + len(colors)
    with open("formats/palette-short.bmp", "wb") as f:
        f.write(b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) +
                struct.pack("<IiiHHIIiiII", 40, 15, 11, 1, 8, 0, len(rows), 2835, 2835, 4, 0) + colors + rows)
    rgb.save("formats/rgb.tif")
    rgb.save("formats/lzw.tif", compression="tiff_lzw")
    rgb.save("formats/deflate.tif", compression="tiff_adobe_deflate")
    rgb.save("formats/packbits.tif", compression="packbits")
    gray.save("formats/gray.tiff")
    g16.save("formats/gray16.tif")
    rgb.quantize(colors=16).save("formats/palette.tif")
    rgba.save("formats/rgba.tif")
    gray.convert("1").save("formats/bilevel.tif")
    # Associated (premultiplied) alpha, ExtraSamples 1, which PIL un-premultiplies and cannot write.
    premultiplied = (src.astype(np.int32) * alpha[..., None] + 127) // 255
    write_tiff("formats/premultiplied.tif", 15, 11, 4, 8, 2,
               [np.concatenate([premultiplied, alpha[..., None]], -1).astype(np.uint8).tobytes()], extra=[1])
    # A plane per channel (PlanarConfiguration 2), which PIL reads and does not write.
    write_tiff("formats/planar.tif", 15, 11, 3, 8, 2, [src[..., c].tobytes() for c in range(3)], planar=2)
    # A fourth sample of no meaning (ExtraSamples 0: PIL's RGBX), which PIL reads and does not write.
    write_tiff("formats/rgbx.tif", 15, 11, 4, 8, 2, [np.concatenate([src, alpha[..., None]], -1).tobytes()], extra=[0])
    # Tiles (one of 16x16, padded past the image's edges), big-endian 16-bit samples (gray: 257 times
    # the 8-bit value; RGB: other low bytes), WhiteIsZero gray, and LZW with the horizontal predictor.
    tile = np.zeros((16, 16, 3), np.uint8)
    tile[:11, :15] = src
    write_tiff("formats/tiled.tif", 15, 11, 3, 8, 2, [tile.tobytes()], tile=(16, 16))
    # 16-bit RGB in one 16x16 tile, padded: Go's x/image/tiff misreads the rows of a tile wider
    # than what is left of the image at 16 bits (it does not skip the padding).
    tile16 = np.zeros((16, 16, 3), np.uint16)
    tile16[:11, :15] = src.astype(np.uint16) * 257
    write_tiff("formats/tiled16.tif", 15, 11, 3, 16, 2, [tile16.astype("<u2").tobytes()], tile=(16, 16))
    tile8 = np.zeros((16, 16), np.uint8)
    tile8[:11, :15] = np.asarray(gray)
    write_tiff("formats/tiled-gray.tif", 15, 11, 1, 8, 1, [tile8.tobytes()], tile=(16, 16))
    # FillOrder 2: the bits of each byte from the least significant, which PIL reads (1;R, L;R).
    reverse = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], np.uint8)
    bits = np.packbits(np.asarray(gray) > 127, axis=1)  # rows of 15 bits in 2 bytes, white = 1
    write_tiff("formats/bilevel-lsb.tif", 15, 11, 1, 1, 1, [reverse[bits].tobytes()], fill=2)
    write_tiff("formats/gray-lsb.tif", 15, 11, 1, 8, 1, [reverse[np.asarray(gray)].tobytes()], fill=2)
    write_tiff("formats/gray16-be.tif", 15, 11, 1, 16, 1, [(np.asarray(gray).astype(">u2") * 257).tobytes()], order=">")
    low = (np.arange(11 * 15 * 3).reshape(11, 15, 3) * 37) % 256
    write_tiff("formats/rgb16-be.tif", 15, 11, 3, 16, 2, [(src.astype(np.int64) * 256 + low).astype(">u2").tobytes()], order=">")
    write_tiff("formats/whiteiszero.tif", 15, 11, 1, 8, 0, [(255 - np.asarray(gray)).tobytes()])
    rgb.save("formats/lzw-predictor.tif", compression="tiff_lzw", tiffinfo={317: 2})
    rgb.convert("CMYK").save("formats/cmyk.tif")
    gray.convert("LA").save("formats/gray-alpha.tif")
    rgb.save("formats/jpeg.tif", compression="jpeg")
    # JPEG in gray, and in YCbCr with 2x2 chroma subsampling (in strips and in 16x16 tiles), which
    # libtiff's tiffcp writes and PIL reads through libtiff, asking libjpeg for RGB.
    gray.save("formats/jpeg-gray.tif", compression="jpeg")
    subprocess.run(["tiffcp", "-c", "jpeg", "formats/rgb.tif", "formats/jpeg-ycbcr.tif"], check=True)
    subprocess.run(["tiffcp", "-c", "jpeg", "-t", "-w", "16", "-l", "16", "formats/rgb.tif", "formats/jpeg-ycbcr-tiled.tif"], check=True)
    # Gray of 2 and 4 bits (PIL scales them to 0..255) and a palette of 1 and 4 bits, which libtiff
    # reads and Go's decoder does not (nor bits other than 1, 8 and 16).
    def packed(values, bits):  # rows of values of bits bits, from the most significant, each row padded to a byte
        return b"".join(np.packbits(np.unpackbits(row.astype(np.uint8)[:, None], axis=1)[:, 8 - bits:].ravel()).tobytes()
                        for row in values)
    g = np.asarray(gray)
    write_tiff("formats/gray2.tif", 15, 11, 1, 2, 1, [packed(g >> 6, 2)])
    write_tiff("formats/gray4.tif", 15, 11, 1, 4, 1, [packed(g >> 4, 4)])
    write_tiff("formats/gray4-whiteiszero.tif", 15, 11, 1, 4, 0, [packed(15 - (g >> 4), 4)])
    colors = (np.arange(16 * 3).reshape(3, 16) * 1361 + 4099) % 65536  # high and low bytes of every kind
    write_tiff("formats/palette4.tif", 15, 11, 1, 4, 3, [packed(index, 4)], colormap=[int(v) for v in colors.ravel()])
    write_tiff("formats/palette1.tif", 15, 11, 1, 1, 3, [packed(index % 2, 1)], colormap=[int(v) for v in colors[:, :2].ravel()])
    # 16-bit CMYK (PIL keeps the high bytes), and CMYK with a fifth sample of no meaning, of
    # every ink and black (PIL's conversion from RGB leaves K at 0).
    cmyk = np.concatenate([src, np.asarray(gray)[..., None]], -1)
    write_tiff("formats/cmyk16.tif", 15, 11, 4, 16, 5, [(cmyk.astype(np.uint16) * 256 + low[..., :1]).astype("<u2").tobytes()])
    write_tiff("formats/cmykx.tif", 15, 11, 5, 8, 5, [np.concatenate([cmyk, alpha[..., None]], -1).tobytes()], extra=[0])
    # More planes per channel: RGBA, CMYK, LZW in tiles (tiffcp), and 16-bit RGB, which PIL 9.4
    # misreads (each 16-bit plane as 8-bit samples): the tests compare that one with the source.
    write_tiff("formats/planar-rgba.tif", 15, 11, 4, 8, 2, [np.asarray(rgba)[..., c].tobytes() for c in range(4)], planar=2, extra=[2])
    write_tiff("formats/planar-cmyk.tif", 15, 11, 4, 8, 5, [cmyk[..., c].tobytes() for c in range(4)], planar=2)
    subprocess.run(["tiffcp", "-c", "lzw", "-p", "separate", "-t", "-w", "16", "-l", "16", "formats/rgb.tif",
                    "formats/planar-lzw-tiled.tif"], check=True)
    write_tiff("formats/planar16.tif", 15, 11, 3, 16, 2,
               [(src[..., c].astype(np.int64) * 256 + low[..., c]).astype("<u2").tobytes() for c in range(3)], planar=2)
    rgb.save("formats/lossless.webp", lossless=True)
    rgba.save("formats/lossless-alpha.webp", lossless=True)
    # With metadata, an extended (VP8X) file, which flags the lossless image's alpha.
    rgba.save("formats/lossless-alpha-exif.webp", lossless=True, exif=b"Exif\0\0II*\0\x08\0\0\0\0\0\0\0\0\0")
    rgb.save("formats/lossy.webp", quality=90)
    rgba.save("formats/lossy-alpha.webp", quality=90)
    rgb.save("formats/anim.webp", save_all=True, append_images=[gray.convert("RGB")], duration=100, loop=0)
    # An animation whose first frame is transparent but for a box of partly transparent pixels, which
    # libwebp's encoder stores as a frame smaller than the canvas: PIL draws it on a transparent
    # black canvas and drops the alpha.
    first = np.zeros((11, 15, 4), np.uint8)
    first[2:9, 4:12, :3] = src[2:9, 4:12]
    first[2:9, 4:12, 3] = alpha[2:9, 4:12] | 64
    Image.fromarray(first, "RGBA").save("formats/anim-alpha.webp", save_all=True, append_images=[rgba], duration=100,
                                        loop=0, lossless=True)
    png_variants(src, np.asarray(gray))
    rgb.save("formats/rgb.ppm")
    gray.save("formats/gray.pgm")
    Image.fromarray(np.asarray(gray).astype(np.int32) * 257, "I").save("formats/gray16.pgm")
    write_plain_pnm("formats/plain.ppm", "P3", 255, src)
    write_plain_pnm("formats/plain.pgm", "P2", 255, np.asarray(gray))
    write_plain_pnm("formats/maxval100.pgm", "P2", 100, np.asarray(gray).astype(int) * 100 // 255)
    # Raw files of other maxvals, which PIL scales to 0..255 (rounding half to even): every value.
    values = np.arange(11 * 15).reshape(11, 15)
    with open("formats/maxval100-raw.pgm", "wb") as f:
        f.write(b"P5\n15 11\n100\n" + (values % 101).astype(np.uint8).tobytes())
    with open("formats/maxval300.ppm", "wb") as f:
        f.write(b"P6\n15 11\n300\n" + np.stack([values, values + 135, 300 - values], -1).astype(">u2").tobytes())
    # Samples above maxval, which PIL reads in raw files as 255.
    with open("formats/above-maxval.pgm", "wb") as f:
        f.write(b"P5\n15 11\n100\n" + (values % 121).astype(np.uint8).tobytes())
    with open("formats/above-maxval.ppm", "wb") as f:
        f.write(b"P6\n15 11\n1000\n" + (np.stack([values, values * 7, values * 400], -1) % 65536).astype(">u2").tobytes())
    # A comment inside a number, which ends it no more than the Netpbm format says (PIL: 15, 11, 255).
    with open("formats/comment-in-number.pgm", "wb") as f:
        f.write(b"P5\n1#a\n5 1#b\n1 2#c\r55\n" + np.asarray(gray).tobytes())
    text = " ".join(str(int(v)) for v in np.ravel(np.asarray(gray)))
    with open("formats/comment-in-number-plain.pgm", "w") as f:
        f.write("P2\n15 11\n255\n" + "".join(c + "#d\n" if c.isdigit() and i % 7 == 0 else c for i, c in enumerate(text)))
    files = {}
    for name in sorted(os.listdir("formats")):
        try:
            with Image.open(os.path.join("formats", name)) as im:
                files[name] = {"mode": im.mode, "pix": b64(np.asarray(im.convert("RGB")))}
        except Exception as e:  # what PIL cannot read
            files[name] = {"error": f"{type(e).__name__}: {e}"}
    files["source"] = {"mode": "RGB", "pix": b64(src)}
    with open("formats.json", "w") as f:
        json.dump({"h": 11, "w": 15, "files": files}, f, indent=1)


def bench_fixture():
    """bench/photo.webp: a 500x375 photo-like image (ImageNet's typical size: gradients, noise,
    a blur), lossy WebP quality 90, for BenchmarkDecode (which also writes it as a PNG)."""
    os.makedirs("bench", exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:375, 0:500]
    base = np.stack([128 + 100 * np.sin(x / 37 + y / 53), 128 + 100 * np.cos(x / 23 - y / 71),
                     128 + 90 * np.sin((x + y) / 41)], -1)
    img = np.clip(base + rng.normal(0, 18, (375, 500, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(img).filter(ImageFilter.GaussianBlur(1.2)).save("bench/photo.webp", quality=90)


if __name__ == "__main__":
    resample_fixture()
    kinds_fixture()
    formats_fixture()
    bench_fixture()
