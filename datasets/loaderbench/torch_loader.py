#!/usr/bin/env python3
"""torchvision side of `go run ./datasets/loaderbench`: the official VICReg two-view training
transform over a folder of JPEGs, through torch's DataLoader, timed.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-torchvision 0.14, python3-pil 9.4).

  torch_loader.py --make DIR --images 512          # write the benchmark's JPEGs (skimage photographs,
                                                   # python3-skimage; VICREG_SKIMAGE_DATA: another folder)
  torch_loader.py --dir DIR --batch 64 --workers 2 --batches 10 --size 224

The second form prints one JSON object: wall and CPU seconds (the main process and every worker
process, read from /proc over the timed batches only) for --batches batches after --warmup.
"""
import argparse
import glob
import json
import os
import random
import sys
import time

import numpy as np
from PIL import Image, ImageFilter, ImageOps

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "motorcycle_right.png",
          "rocket.jpg", "retina.jpg", "hubble_deep_field.jpg", "ihc.png"]
SKIMAGE = os.environ.get("VICREG_SKIMAGE_DATA", "/usr/lib/python3/dist-packages/skimage/data")


def make(out, n, seed=0):
    """n JPEGs like ImageNet's: random crops of skimage's photographs resized to about 500x375
    (a quarter portrait, 375x500), quality 90, PIL's default 4:2:0 chroma subsampling."""
    missing = [p for p in PHOTOS if not os.path.exists(os.path.join(SKIMAGE, p))]
    if missing:
        print("torch_loader.py: skimage's sample photographs, which the benchmark crops into its JPEGs, "
              f"are not in {SKIMAGE} (no {missing[0]}): install Debian's python3-skimage "
              "(apt install python3-skimage)", file=sys.stderr)
        return 3
    rng = random.Random(seed)
    photos = [Image.open(os.path.join(SKIMAGE, p)).convert("RGB") for p in PHOTOS]
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        im = photos[i % len(photos)]
        w = rng.randint(420, 500)
        h = w * 3 // 4
        if rng.random() < 0.25:
            w, h = h, w
        # a crop of the photo with the target's aspect ratio, at least half its side
        scale = rng.uniform(0.5, 1.0)
        cw = int(min(im.width, im.height * w / h) * scale)
        ch = int(cw * h / w)
        x0 = rng.randint(0, im.width - cw)
        y0 = rng.randint(0, im.height - ch)
        crop = im.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BICUBIC)
        crop.save(os.path.join(out, "img%06d.jpg" % i), quality=90)


def cpu_seconds(pid):
    """User + system CPU seconds of a process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench(args):
    import torch
    import torchvision.transforms as T
    from torchvision.transforms import InterpolationMode

    torch.set_num_threads(1)

    class Blur:
        """The official code's GaussianBlur: PIL's filter, sigma uniform in [0.1, 2], with probability p."""

        def __init__(self, p):
            self.p = p

        def __call__(self, img):
            if np.random.rand() < self.p:
                return img.filter(ImageFilter.GaussianBlur(np.random.rand() * 1.9 + 0.1))
            return img

    class Solarize:
        def __init__(self, p):
            self.p = p

        def __call__(self, img):
            return ImageOps.solarize(img) if np.random.rand() < self.p else img

    def view(blur, solarize):
        return T.Compose([
            T.RandomResizedCrop(args.size, interpolation=InterpolationMode.BICUBIC),
            T.RandomHorizontalFlip(p=0.5),
            T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], p=0.8),
            T.RandomGrayscale(p=0.2),
            Blur(blur),
            Solarize(solarize),
            T.ToTensor(),
            T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ])

    class Folder(torch.utils.data.Dataset):
        """A flat folder read as torchvision's ImageFolder reads one (pil_loader + convert RGB)."""

        def __init__(self, root):
            self.files = sorted(glob.glob(os.path.join(root, "*.jpg")))
            self.t1, self.t2 = view(1.0, 0.0), view(0.1, 0.2)

        def __len__(self):
            return len(self.files)

        def __getitem__(self, i):
            with open(self.files[i], "rb") as f:
                img = Image.open(f).convert("RGB")
            return self.t1(img), self.t2(img)

    ds = Folder(args.dir)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         drop_last=True, persistent_workers=args.workers > 0,
                                         prefetch_factor=2 if args.workers > 0 else None)
    need = args.warmup + args.batches
    it = None
    got = 0
    start = cpu0 = None
    pids = []
    while got < need:
        if it is None:
            it = iter(loader)
            pids = [w.pid for w in getattr(it, "_workers", [])]
        try:
            v1, v2 = next(it)
        except StopIteration:
            it = None
            continue
        got += 1
        if got == args.warmup:
            start = time.perf_counter()
            cpu0 = time.process_time() + sum(cpu_seconds(p) for p in pids)
    wall = time.perf_counter() - start
    cpu = time.process_time() + sum(cpu_seconds(p) for p in pids) - cpu0
    assert v1.shape == (args.batch, 3, args.size, args.size), v1.shape
    print(json.dumps({"batches": args.batches, "wall_s": wall, "cpu_s": cpu, "torch": torch.__version__,
                      "pil": Image.__version__}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--make")
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--dir")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--size", type=int, default=224)
    args = p.parse_args()
    if args.make:
        return make(args.make, args.images)
    bench(args)


if __name__ == "__main__":
    sys.exit(main())
