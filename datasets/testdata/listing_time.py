"""Times the listing of an image folder by torchvision, for BenchmarkOpenFolder's figures.

Run with Debian's /usr/bin/python3 (python3-torchvision):

    /usr/bin/python3 listing_time.py /tmp/listing

It makes (once) the benchmark's layouts under the folder given: 20,000 empty .jpg files in 100
class folders, and the same files flat in images/ with a metadata.csv, and a table of their ids
(paths without the extension) outside them; then prints the best of 5 listings by torchvision's
ImageFolder of the first, and of the second by the csv module and os.walk with either table (what
a user would write to label a folder from a table, as torchvision has no reader).
"""
import csv
import os
import sys
import time

import torchvision
from torchvision.datasets import ImageFolder


def make(root):
    classes, table = os.path.join(root, "classes"), os.path.join(root, "table")
    outside = os.path.join(root, "train.csv")
    if os.path.exists(outside):
        return classes, table, outside
    os.makedirs(os.path.join(table, "images"), exist_ok=True)
    with open(os.path.join(table, "metadata.csv"), "w") as f, open(outside, "w") as g:
        f.write("file_name,label\n")
        g.write("id,label\n")
        for i in range(20000):
            c, name = "c%03d" % (i % 100), "%06d.jpg" % i
            os.makedirs(os.path.join(classes, c), exist_ok=True)
            open(os.path.join(classes, c, name), "wb").close()
            open(os.path.join(table, "images", name), "wb").close()
            f.write("images/%s,%s\n" % (name, c))
            g.write("images/%06d,%s\n" % (i, c))
    return classes, table, outside


def by_table(root, table=None):
    """Labels the images under root from a table: its metadata.csv (file_name, label), or an
    outside table of ids (its first two columns: the path without the extension, the label)."""
    if table is None:
        with open(os.path.join(root, "metadata.csv")) as f:
            rows = {r["file_name"]: r["label"] for r in csv.DictReader(f)}
    else:
        with open(table) as f:
            reader = csv.reader(f)
            next(reader)
            ids = {r[0]: r[1] for r in reader}
        rows = {}
    files = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            if name.endswith(".jpg"):
                rel = os.path.relpath(os.path.join(folder, name), root)
                if table is not None:
                    rows[rel] = ids[os.path.splitext(rel)[0]]
                files.append((rel, rows[rel]))
    index = {c: k for k, c in enumerate(sorted(set(rows.values())))}
    files = [(rel, index[label]) for rel, label in files]
    return files


def best(fn, n=5):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main():
    classes, table, outside = make(sys.argv[1])
    print("torchvision %s ImageFolder, 20,000 files in 100 class folders: %.1f ms" % (torchvision.__version__, best(lambda: ImageFolder(classes))))
    print("csv + os.walk, 20,000 files and a metadata.csv: %.1f ms" % best(lambda: by_table(table)))
    print("csv + os.walk, 20,000 files and an outside table of ids (Kaggle's): %.1f ms" % best(lambda: by_table(table, outside)))


if __name__ == "__main__":
    main()
