"""Writes a miniature of ImageNet's ILSVRC2012 archives, and what torchvision's datasets.ImageNet
reads from them, for the tests of datasets/ilsvrc.go. Run with Debian's python3-torchvision,
python3-scipy and python3-pil:

    /usr/bin/python3 datasets/testdata/ilsvrc/gen.py

The archives are laid out as image-net.org's: ILSVRC2012_img_train.tar holds one tar per class
(not in WNID order), ILSVRC2012_img_val.tar the validation images (not in name order), and
ILSVRC2012_devkit_t12.tar.gz data/meta.mat (a structure array synsets, compressed, with the
fields of the real one: leaf classes numbered out of WNID order, and synsets with children that
are not classes) and data/ILSVRC2012_validation_ground_truth.txt. As in the real training set,
one ".JPEG" is a PNG. expected.json holds torchvision's classes (the WNIDs) and each split's
images, by SHA-256, with their targets.
"""
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile

import numpy as np
import scipy.io as sio
import torchvision
from PIL import Image
from torchvision.datasets import imagenet

HERE = os.path.dirname(os.path.abspath(__file__))

# (ILSVRC2012_ID, WNID, words, children): the classes (no children) out of WNID order, as in the
# real meta.mat, then two synsets above them.
SYNSETS = [
    (1, "n02119789", "kit fox, Vulpes macrotis", []),
    (2, "n01440764", "tench, Tinca tinca", []),
    (3, "n01443537", "goldfish, Carassius auratus", []),
    (4, "n01439121", "cyprinid", [2, 3]),
    (5, "n00001740", "entity", [1, 4]),
]
TRAIN = {"n02119789": 3, "n01440764": 4, "n01443537": 2}
VAL_IDS = [3, 1, 2, 2, 1, 3, 1]  # the ground truth, by file name order


def image(seed, fmt="JPEG"):
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    b = io.BytesIO()
    im.save(b, fmt)
    return b.getvalue()


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def tar_bytes(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            add(t, name, data)
    return b.getvalue()


def write_archives(root):
    seed = 0
    with tarfile.open(os.path.join(root, "ILSVRC2012_img_train.tar"), "w", format=tarfile.USTAR_FORMAT) as outer:
        for wnid, n in TRAIN.items():
            members = []
            for i in reversed(range(n)):
                seed += 1
                fmt = "PNG" if (wnid, i) == ("n01440764", 1) else "JPEG"
                members.append((f"{wnid}_{1000 + i}.JPEG", image(seed, fmt)))
            add(outer, f"{wnid}.tar", tar_bytes(members))
    names = [f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(len(VAL_IDS))]
    with tarfile.open(os.path.join(root, "ILSVRC2012_img_val.tar"), "w", format=tarfile.USTAR_FORMAT) as t:
        for name in names[3:] + names[:3]:
            seed += 1
            add(t, name, image(seed))
    synsets = np.zeros((len(SYNSETS), 1), dtype=[(f, object) for f in [
        "ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height", "num_train_images"]])
    for k, (i, wnid, words, children) in enumerate(SYNSETS):
        synsets[k, 0] = (float(i), wnid, words, "gloss of " + words, float(len(children)),
                         np.array(children, dtype=np.float64), float(1 if children else 0), float(TRAIN.get(wnid, 0)))
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "ILSVRC2012_devkit_t12", "data")
        os.makedirs(data)
        sio.savemat(os.path.join(data, "meta.mat"), {"synsets": synsets}, do_compression=True)
        with open(os.path.join(data, "ILSVRC2012_validation_ground_truth.txt"), "w") as f:
            f.write("".join(f"{i}\n" for i in VAL_IDS))
        with tarfile.open(os.path.join(root, "ILSVRC2012_devkit_t12.tar.gz"), "w:gz", format=tarfile.USTAR_FORMAT) as t:
            t.add(os.path.join(tmp, "ILSVRC2012_devkit_t12"), "ILSVRC2012_devkit_t12")


def main():
    archives = os.path.join(HERE, "archives")
    shutil.rmtree(archives, ignore_errors=True)
    os.makedirs(archives)
    write_archives(archives)
    imagenet._verify_archive = lambda *args, **kwargs: None  # the miniature's MD5s are not ImageNet's
    out = {"torchvision": torchvision.__version__}
    with tempfile.TemporaryDirectory() as root:
        for name in os.listdir(archives):
            shutil.copy(os.path.join(archives, name), root)
        for split in ["train", "val"]:
            ds = imagenet.ImageNet(root, split)
            out["classes"] = ds.wnids
            out["words"] = [", ".join(c) for c in ds.classes]
            out[split] = sorted([hashlib.sha256(open(p, "rb").read()).hexdigest(), t] for p, t in ds.samples)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
