#!/usr/bin/env bash
# Installs JAX's CUDA 13 PJRT plugin (jax-cuda13-pjrt) and the NVIDIA libraries it loads from
# PyPI into a per-user folder that this project owns. No root, no environment variables afterwards:
# GOMLX_BACKEND=xla:cuda finds the folder (backend.CUDADirEnv), and the plugin's RPATH
# ($ORIGIN/../../nvidia/cu13/lib, .../nvidia/cudnn/lib, .../nvidia/nccl/lib) finds the libraries
# because the folder has the layout of a Python site-packages:
#
#   $DEST/jax_plugins/xla_cuda13/xla_cuda_plugin.so   the PJRT plugin
#   $DEST/nvidia/cu13/{lib,bin,nvvm}                   CUDA runtime, cuBLAS, cuFFT, ..., ptxas, libdevice
#   $DEST/nvidia/{cudnn,nccl,nvshmem}/lib              cuDNN, NCCL, NVSHMEM
#   $DEST/*.dist-info                                  each wheel's metadata (versions)
#
# Every wheel is pinned by version and SHA-256: jax-cuda13-pjrt 0.11.2 and the nvidia-* wheels that
# `jax-cuda13-plugin[with-cuda]==0.11.2` pulls (resolved once with pip for Python 3.12; the wheels
# themselves are py3-none, so any Python 3 with pip installs them). 0.11.2 is the version on the
# project's GPU test machine, so the check that ran there ran this plugin.
#
# Idempotent: when the folder holds exactly these pins, nothing is downloaded. On a machine without
# an NVIDIA GPU it installs and then says that no GPU is visible (exit 0).
#
# Environment:
#   VICREG_CUDA_DIR  where to install (default ~/.local/lib/vicreg-cuda; the backend reads the same
#                    variable)
#   CUDA_WHEELS      a folder with local copies of the wheels, to install without a package registry
#   PYTHON           the Python whose pip installs the wheels (default python3)
set -euo pipefail

VERSION=0.11.2
DEST=${VICREG_CUDA_DIR:-$HOME/.local/lib/vicreg-cuda}
PY=${PYTHON:-python3}
PLUGIN=$DEST/jax_plugins/xla_cuda13/xla_cuda_plugin.so
STAMP=$DEST/.vicreg-cuda.lock
MIN_DRIVER=580

# The lock: one pinned wheel per line (pip's hash-checking mode). Linux x86_64 files only.
LOCK=$(cat <<'EOF'
jax-cuda13-pjrt==0.11.2 --hash=sha256:e5ff589d43064913bb74027682d89639c7ea48f9f81c2bae6fc75117e913f93e
nvidia-cublas==13.10.0.20 --hash=sha256:dcc6d63884c53d07e267ce7e6feac17b2538cebaafec5db865736c3e28e4dc84
nvidia-cuda-cccl==13.3.5.0.6 --hash=sha256:d5230098fa2df5021e1a00c0c4eee41797671a91119d31e892463e5ccf3ee326
nvidia-cuda-crt==13.5.37 --hash=sha256:e898b7f73d3035fa89915a3f7bf3b54a73e90249746111aed295822c4729bb29
nvidia-cuda-cupti==13.5.25 --hash=sha256:9dcca41c12a734192b14e7128ae116bc9ce1b9da686e2ebf48ae7a4415f76650
nvidia-cuda-nvcc==13.5.37 --hash=sha256:f5c4f7ead5d964fb4af42bbf1e6d3ec3c1e6e9d83b53749f691d387e7fcaa3a7
nvidia-cuda-nvrtc==13.5.37 --hash=sha256:86b4d68058807988b7d9af5b44917a0601e9c337f35ccd657bfb3c759ff8d8bc
nvidia-cuda-runtime==13.5.37 --hash=sha256:df2b79a8852f10d1fef8c848489c49eebb5754051bf870202a862831412b179d
nvidia-cudnn-cu13==9.28.1.4 --hash=sha256:a54f205b1db1f2895d99f398754db1369816f0569dd459731f925635cf7b65ec
nvidia-cufft==12.5.0.14 --hash=sha256:b8be26837a5abad2b5b74f3e92dd29f622a42934b355be0961a48712cbba23ad
nvidia-cusolver==12.4.1.2 --hash=sha256:b3b8e02fd2f2df869369af075dc3a179d43f6f7b85e94632a7dce556697be044
nvidia-cusparse==12.9.4.2 --hash=sha256:072667e58c851a318738f5527a12eb225cbf058803f2ea451c722d8cf8edddec
nvidia-nccl-cu13==2.32.3 --hash=sha256:1459723080ac889d73a26edfa3e04383a7928ab31ac8f0ec43b3ea9548b04ff3
nvidia-nvjitlink==13.5.37 --hash=sha256:280d7cb9649704145f074b8dbde500de04ce02d0872e066e20a83c17bcaa93eb
nvidia-nvshmem-cu13==3.8.0 --hash=sha256:81a4d1f666543e6d34df6d2ff940c7da1435e34e186aab6f3c2b48861b64ef38
nvidia-nvvm==13.5.37 --hash=sha256:c41bfa362e407405163f103c2229f0765f8cc2ed7d148b754dc77f228bf7e070
EOF
)
LOCK_SUM=$(printf '%s\n' "$LOCK" | sha256sum | cut -d' ' -f1)

say() { echo "install-cuda: $*"; }

# gpu_report says whether an NVIDIA GPU and a recent enough driver are visible. Never fails.
gpu_report() {
  local driver
  if ! compgen -G "/dev/nvidia[0-9]*" >/dev/null && ! command -v nvidia-smi >/dev/null; then
    say "no NVIDIA GPU is visible on this machine (no /dev/nvidia*, no nvidia-smi): the plugin is installed," \
      "but GOMLX_BACKEND=xla:cuda needs an NVIDIA GPU with driver $MIN_DRIVER or newer (CUDA 13)"
    return 0
  fi
  if ! driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1) || [[ -z "$driver" ]]; then
    say "no NVIDIA GPU is visible: nvidia-smi lists none; GOMLX_BACKEND=xla:cuda needs one with driver $MIN_DRIVER or newer (CUDA 13)"
    return 0
  fi
  if (( ${driver%%.*} < MIN_DRIVER )); then
    say "NVIDIA driver $driver is older than $MIN_DRIVER, the oldest that runs CUDA 13: update the driver before using GOMLX_BACKEND=xla:cuda"
    return 0
  fi
  say "GPUs visible (driver $driver):"
  nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader | sed 's/^/  /'
  say "run with GOMLX_BACKEND=xla:cuda (go run ./train -backend-info lists the devices)"
}

if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
  say "the pinned wheels are for Linux x86_64, not $(uname -s)/$(uname -m)" >&2
  exit 1
fi

if [[ -f "$PLUGIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$LOCK_SUM" ]]; then
  say "jax-cuda13-pjrt $VERSION and its NVIDIA libraries already installed in $DEST"
  gpu_report
  exit 0
fi

if ! "$PY" -m pip --version >/dev/null 2>&1; then
  say "$PY has no pip: install pip (or set PYTHON to a Python that has it)" >&2
  exit 1
fi

# Install into a sibling folder, check it, then swap it in: an interrupted run leaves the previous
# installation (or none) in place, never a half-written one.
mkdir -p "$(dirname "$DEST")"
partial=$DEST.partial.$$
trap 'rm -rf "$partial" "$partial.lock"' EXIT
rm -rf "$partial"
printf '%s\n' "$LOCK" > "$partial.lock"
src=()
if [[ -n "${CUDA_WHEELS:-}" ]]; then
  src=(--no-index --find-links "$CUDA_WHEELS")
  say "installing jax-cuda13-pjrt $VERSION and 15 NVIDIA wheels from $CUDA_WHEELS into $DEST"
else
  say "downloading jax-cuda13-pjrt $VERSION and 15 NVIDIA wheels from PyPI (about 2.4 GB) into $DEST"
fi
PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps --no-compile \
  --only-binary=:all: --require-hashes ${src[@]+"${src[@]}"} --target "$partial" -r "$partial.lock"

for f in jax_plugins/xla_cuda13/xla_cuda_plugin.so nvidia/cu13/lib/libcudart.so.13 nvidia/cu13/lib/libcublas.so.13 \
  nvidia/cudnn/lib/libcudnn.so.9 nvidia/nccl/lib/libnccl.so.2 nvidia/cu13/nvvm/libdevice/libdevice.10.bc; do
  if [[ ! -f "$partial/$f" ]]; then
    say "the installed wheels lack $f; not installing" >&2
    exit 1
  fi
done
if [[ ! -x "$partial/nvidia/cu13/bin/ptxas" ]]; then
  say "nvidia/cu13/bin/ptxas is missing or not executable; not installing" >&2
  exit 1
fi
printf '%s\n' "$LOCK_SUM" > "$partial/.vicreg-cuda.lock"

if [[ -e "$DEST" ]]; then
  mv "$DEST" "$DEST.old.$$"
  mv "$partial" "$DEST"
  rm -rf "$DEST.old.$$"
else
  mv "$partial" "$DEST"
fi
say "installed jax-cuda13-pjrt $VERSION and its NVIDIA libraries ($(du -sh "$DEST" | cut -f1)) in $DEST"
gpu_report
