#!/usr/bin/env bash
# Installs the XLA CPU PJRT plugin from PyPI's xla-cpu-pjrt wheel into a per-user folder,
# under the file name go-xla discovers (pjrt_c_api_cpu_plugin.so). No root needed.
#
# Idempotent: when the installed plugin matches the pinned wheel, nothing is downloaded.
#
# Environment:
#   XLA_PLUGIN_DIR   where to install (default ~/.local/lib/go-xla, one of go-xla's search folders;
#                    elsewhere, add the folder to PJRT_PLUGIN_LIBRARY_PATH)
#   XLA_WHEEL        a local copy of the wheel, to install without a package registry
#   PYTHON           the Python used to run pip (default python3)
set -euo pipefail

PACKAGE=xla-cpu-pjrt
VERSION=0.0.1
WHEEL=xla_cpu_pjrt-0.0.1-py3-none-manylinux_2_27_x86_64.whl
SHA256=55837b6b7b47daa717f2d9a5a03563ea0ceaa338d06a81a1e2d3f060d960decc
MEMBER=xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so

DEST=${XLA_PLUGIN_DIR:-$HOME/.local/lib/go-xla}
PY=${PYTHON:-python3}
TARGET=$DEST/pjrt_c_api_cpu_plugin.so
STAMP=$DEST/.pjrt_c_api_cpu_plugin.source

if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
  if [[ -f "$TARGET" ]]; then
    echo "install-xla: the pinned wheel is for Linux x86_64; using the plugin already at $TARGET"
    exit 0
  fi
  echo "install-xla: the pinned wheel is for Linux x86_64; on $(uname -s)/$(uname -m) let go-xla's auto-installer fetch a plugin (unset GOMLX_NO_AUTO_INSTALL)" >&2
  exit 1
fi

if [[ -f "$TARGET" && -f "$STAMP" && "$(cat "$STAMP")" == "$PACKAGE==$VERSION sha256:$SHA256" ]]; then
  echo "install-xla: $PACKAGE $VERSION already installed at $TARGET"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -n "${XLA_WHEEL:-}" ]]; then
  cp "$XLA_WHEEL" "$work/$WHEEL"
else
  echo "install-xla: downloading $PACKAGE==$VERSION from PyPI"
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 \
    --python-version 3 --implementation py --dest "$work" "$PACKAGE==$VERSION"
fi

got=$(sha256sum "$work/$WHEEL" | cut -d' ' -f1)
if [[ "$got" != "$SHA256" ]]; then
  echo "install-xla: checksum mismatch for $WHEEL: got $got, want $SHA256; not installing" >&2
  exit 1
fi

mkdir -p "$DEST"
"$PY" - "$work/$WHEEL" "$MEMBER" "$TARGET.tmp" <<'PYEOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PYEOF
chmod 0755 "$TARGET.tmp"
mv -f "$TARGET.tmp" "$TARGET"
echo "$PACKAGE==$VERSION sha256:$SHA256" > "$STAMP"
echo "install-xla: installed $PACKAGE $VERSION ($(du -h "$TARGET" | cut -f1)) at $TARGET"
