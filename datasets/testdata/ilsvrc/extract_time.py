"""Times torchvision's parse_train_archive on the training archive given: the extraction that
torchvision's ImageNet needs before it reads an image (its MD5 check left out, as the archive is
not ImageNet's). BenchmarkILSVRCTrainArchive runs it where VICREG_ILSVRC_PYTHON names this python3.

    /usr/bin/python3 datasets/testdata/ilsvrc/extract_time.py /path/to/ILSVRC2012_img_train.tar
"""
import os
import sys
import tempfile
import time

import torchvision
from torchvision.datasets import imagenet

archive = os.path.abspath(sys.argv[1])
imagenet._verify_archive = lambda *args, **kwargs: None
with tempfile.TemporaryDirectory(dir=os.path.dirname(archive)) as root:
    os.symlink(archive, os.path.join(root, os.path.basename(archive)))
    start = time.perf_counter()
    imagenet.parse_train_archive(root)
    took = time.perf_counter() - start
    n, size = 0, 0
    for folder, _, files in os.walk(os.path.join(root, "train")):
        n += len(files)
        size += sum(os.path.getsize(os.path.join(folder, f)) for f in files)
mb = size / 2**20
print(f"torchvision {torchvision.__version__} parse_train_archive: extracted {n} images ({mb:.0f} MB) "
      f"in {took * 1e3:.0f} ms, {mb / took:.0f} MB/s, {n / took:.0f} images/s")
