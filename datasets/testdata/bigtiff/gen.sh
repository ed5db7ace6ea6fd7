#!/bin/sh
# Writes the BigTIFF files of TestBigTIFF: copies of classic TIFF fixtures of testdata/pil/formats
# (whose pixels PIL gave) with 64-bit offsets, by libtiff's tiffcp (Debian's libtiff-tools); the
# compression and layout are kept, so the pixels are the classic files'. Run from datasets/.
set -e
cd "$(dirname "$0")"
src=../pil/formats
for f in lzw tiled gray16 palette cmyk rgba; do
	tiffcp -8 "$src/$f.tif" "$f.tif"
done
tiffcp -8 -B "$src/lzw.tif" lzw-be.tif # big-endian ("MM\0+")
