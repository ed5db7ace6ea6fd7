#!/usr/bin/env bash
# The prepared GPU check: runs, on a machine with an NVIDIA GPU and no Go toolchain, what
# `make gpu-build` put in bin/gpu, and writes every result to $OUT (default runs/gpu-check):
#
#   summary.md         one line per phase (status, seconds) and the figures that matter
#   env.txt            nvidia-smi, driver, Python and the installed jax/nvidia/torch wheels
#   backend-info.txt   train -backend-info on GOMLX_BACKEND=xla:cuda (plugin, PJRT and CUDA versions, devices,
#                      and the measured float32 arithmetic: TF32 or float32) with the default GPU math;
#                      backend-info-float32.txt the same under VICREG_TF32=0 VICREG_DETERMINISTIC=1, and
#                      backend-info-float32-nocublaslt.txt also with --xla_gpu_enable_cublaslt=false
#   pipeline.md        two-view augmentation throughput on every core (bench -pipeline)
#   test-<pkg>.txt     the tests of backend, models, losses, train/trainer, eval, checkpoints on xla:cuda,
#                      in float32 with deterministic kernels (VICREG_TF32=0 VICREG_DETERMINISTIC=1, as
#                      backendtest sets them), so they hold to the tolerances they assert on a CPU
#   bench.md           ours against PyTorch on the same GPU (f32 and bf16): ResNet-18 CIFAR step at
#                      batch 256 and 1024, inference, ResNet-50 224 px step at batch 128; peak GPU
#                      memory and utilisation from nvidia-smi; bench.log has each row as it finishes
#   job.txt            the default job (train with no flags, on MNIST) with its time and accuracy,
#                      and the time and trustworthiness of its t-SNE map of 2,000 test images; job-map.png is that map
#   nvidia-smi.csv     utilisation, memory and power of every GPU, every 0.5 s, for the whole run
#   phases.txt         when each phase started and ended
#
# The CUDA plugin is the machine's own (jax-cuda13-pjrt, found through the python3 on PATH).
# The whole run stays within GPU_CHECK_BUDGET seconds (default 345): each phase gets at most its
# own budget and what is left; a phase cut short says so in summary.md. GPU_CHECK_PHASES picks
# phases (default "info pipeline tests bench job"), e.g. GPU_CHECK_PHASES=bench for a rerun; a
# single phase gets the whole budget (GPU_CHECK_PHASES=tests GPU_CHECK_BUDGET=300).
#
#   scripts/gpu-check.sh             # on the GPU machine (through the device tool: OUT is set)
#   scripts/gpu-check.sh --dry-run   # here: every phase on xla:cpu with tiny sizes, no GPU needed
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GPU_BIN:-$ROOT/bin/gpu}
OUT=${OUT:-$ROOT/runs/gpu-check}
BUDGET=${GPU_CHECK_BUDGET:-345}
PHASES=${GPU_CHECK_PHASES:-info pipeline tests bench job}
DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) echo "usage: scripts/gpu-check.sh [--dry-run]" >&2; exit 2 ;;
esac

START=$SECONDS
mkdir -p "$OUT"
: > "$OUT/phases.txt"
: > "$OUT/summary.md"
say() { echo "gpu-check [+$((SECONDS - START))s]: $*" | tee -a "$OUT/phases.txt" >&2; }
note() { echo "$*" >> "$OUT/summary.md"; }
fail() { say "$*"; note "**failed**: $*"; exit 1; }

# Fail fast and clearly without a GPU (a dry run needs none).
if (( ! DRY )); then
  if ! compgen -G "/dev/nvidia[0-9]*" > /dev/null; then
    fail "no NVIDIA GPU visible (no /dev/nvidia0...): run this on the GPU machine, or scripts/gpu-check.sh --dry-run here"
  fi
  if ! nvidia-smi -L > /dev/null 2>&1; then
    fail "no NVIDIA GPU visible: nvidia-smi fails ($(nvidia-smi -L 2>&1 | head -n1))"
  fi
fi
[[ -f "$BIN/SHA256SUMS" ]] || fail "$BIN/SHA256SUMS is missing: run make gpu-build first (and carry bin/gpu)"
PY=$(command -v python3) || fail "no python3 on PATH (the CUDA plugin and PyTorch are found through it)"
# PyTorch for the bench: the python3 on PATH on the GPU machine; Debian's in a dry run here.
TORCH_PY=${TORCH_PY:-$PY}
(( DRY )) && [[ -x /usr/bin/python3 ]] && TORCH_PY=${TORCH_PY_DRY:-/usr/bin/python3}

# Phase budgets (seconds), each capped by what is left of the whole.
declare -A CAP=([info]=15 [pipeline]=25 [tests]=75 [bench]=150 [job]=110)
if (( DRY )); then CAP=([info]=60 [pipeline]=30 [tests]=300 [bench]=400 [job]=45); BUDGET=${GPU_CHECK_BUDGET:-1200}; fi
# A rerun of one phase (GPU_CHECK_PHASES=tests) may use the whole budget.
read -r -a phase_list <<< "$PHASES"
(( ${#phase_list[@]} == 1 )) && [[ -n "${CAP[${phase_list[0]}]:-}" ]] && CAP[${phase_list[0]}]=$BUDGET
left() { echo $((BUDGET - (SECONDS - START))); }
cap() { local c=${CAP[$1]} l; l=$(left); (( l < c )) && c=$l; echo $c; }

# FAILED is set when a phase or a test binary fails: the script then exits 1 (after its summary).
FAILED=0

# run NAME SECONDS OUTFILE CMD...: runs CMD under a time limit (SIGINT, then KILL 10 s later),
# output to OUTFILE, and notes the outcome; a failure sets FAILED unless RUN_MAY_FAIL=1 (a run
# whose failure is the expected outcome).
run() {
  local name=$1 t=$2 out=$3; shift 3
  if (( t < 5 )); then
    say "$name: skipped, the budget is spent"; note "- $name: **skipped** (budget spent)"; FAILED=1; return 1
  fi
  say "$name: start (limit ${t}s)"
  local t0=$SECONDS rc
  timeout -s INT -k 10 "$t" "$@" > "$out" 2>&1
  rc=$?
  local status=ok
  (( rc == 124 || rc == 137 )) && status="**cut at the ${t}s limit**"
  (( rc != 0 && rc != 124 && rc != 137 )) && status="**exit $rc**"
  say "$name: $status after $((SECONDS - t0))s"
  note "- $name: $status, $((SECONDS - t0)) s ($(basename "$out"))"
  (( rc != 0 && ${RUN_MAY_FAIL:-0} == 0 )) && FAILED=1
  return $rc
}

note "# GPU check $(date -u +%FT%TZ)$( ((DRY)) && echo ' (dry run, xla:cpu)')"
note ""

# Environment.
{
  echo "== host"; uname -a; nproc; free -g 2>/dev/null | head -2; ldd --version 2>&1 | head -1
  echo "== nvidia-smi"; nvidia-smi 2>&1 | head -25
  nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv 2>&1
  echo "== python"; "$PY" --version 2>&1; echo "$PY"
  "$PY" -m pip list 2>/dev/null | grep -iE '^(jax|jaxlib|torch|torchvision|nvidia-)' || echo "(pip list failed)"
} > "$OUT/env.txt" 2>&1

# Unpack the binaries (and check them against the manifest).
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
trap 'kill $SMI_PID 2>/dev/null; rm -rf "$WORK"' EXIT
SMI_PID=
(cd "$BIN" && sha256sum --quiet -c SHA256SUMS) > "$OUT/unpack.txt" 2>&1 || fail "bin/gpu does not match its SHA256SUMS (a truncated copy?): $(head -3 "$OUT/unpack.txt")"
for f in "$BIN"/*.xz; do
  xz -dc "$f" > "$WORK/$(basename "${f%.xz}")" &
done
wait
chmod +x "$WORK"/*
say "unpacked $(ls "$WORK" | wc -l) binaries into $WORK"

export GOMODCACHE=$BIN/gomodcache # MNIST, where datasets.MNISTDirs looks for it
export GOMLX_NO_AUTO_INSTALL=1
if (( DRY )); then
  export GOMLX_BACKEND=xla:cpu
  DEVICE=cpu
else
  export GOMLX_BACKEND=xla:cuda
  DEVICE=cuda
  nvidia-smi --query-gpu=timestamp,index,utilization.gpu,memory.used,memory.total,power.draw --format=csv -lms 500 > "$OUT/nvidia-smi.csv" 2>&1 &
  SMI_PID=$!
fi

has() { [[ " $PHASES " == *" $1 "* ]]; }

if has info; then
  run info "$(cap info)" "$OUT/backend-info.txt" "$WORK/train" -backend-info
  run info-float32 "$(cap info)" "$OUT/backend-info-float32.txt" env VICREG_TF32=0 VICREG_DETERMINISTIC=1 "$WORK/train" -backend-info
  # A diagnosis in case the line above does not read "full float32": the same without cuBLASLt
  # (XLA's default GEMM library; the legacy cuBLAS path is where NVIDIA_TF32_OVERRIDE was seen to
  # work with XLA), to tell which library keeps TF32.
  run info-float32-nocublaslt "$(cap info)" "$OUT/backend-info-float32-nocublaslt.txt" env VICREG_TF32=0 VICREG_DETERMINISTIC=1 XLA_FLAGS=--xla_gpu_enable_cublaslt=false "$WORK/train" -backend-info
  for f in backend-info backend-info-float32 backend-info-float32-nocublaslt; do
    grep -E '^(float32|GPU math):' "$OUT/$f.txt" | sed "s/^/  - $f: /" >> "$OUT/summary.md"
  done
  if (( DRY )); then
    # Without a GPU the CUDA backend must fail with its one-line message, exit 1, no trace.
    GOMLX_BACKEND=xla:cuda timeout 60 "$WORK/train" -backend-info > "$OUT/backend-info-cuda.txt" 2>&1
    note "- xla:cuda without a GPU: exit $? ($(tail -n1 "$OUT/backend-info-cuda.txt" | cut -c1-160))"
  fi
fi

if has pipeline; then
  run pipeline "$(cap pipeline)" "$OUT/pipeline.md" "$WORK/bench" -pipeline -pipeline-seconds "$( ((DRY)) && echo 1 || echo 3)"
fi

if has tests; then
  t=$(cap tests)
  say "tests: start, every package at once (limit ${t}s)"
  t0=$SECONDS
  pids=()
  for bin in "$WORK"/*.test; do
    name=$(basename "$bin" .test)
    pkg=${name//_//}
    args=(-test.v -test.count=1 -test.timeout "$((t > 10 ? t - 5 : 5))s")
    # The dry run lists the tests of the large packages and runs backend's (which covers
    # xla:cuda without a GPU when `make cuda` has run).
    if (( DRY )) && [[ $name != backend ]]; then args=(-test.list .); fi
    (cd "$ROOT/$pkg" && XLA_PYTHON_CLIENT_PREALLOCATE=false VICREG_TF32=0 VICREG_DETERMINISTIC=1 \
      timeout -k 10 "$t" "$bin" "${args[@]}") > "$OUT/test-$name.txt" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || FAILED=1; done
  for f in "$OUT"/test-*.txt; do
    n=$(basename "$f" .txt); n=${n#test-}
    pass=$(grep -c -- '^--- PASS' "$f"); failed=$(grep -c -- '^--- FAIL' "$f"); skip=$(grep -c -- '^--- SKIP' "$f")
    verdict=$(grep -E '^(PASS|FAIL|ok|panic: test timed out)' "$f" | tail -n1)
    (( DRY )) && [[ $n != backend ]] && verdict="listed $(grep -c '^Test' "$f") tests"
    note "- tests ${n//_//}: $pass passed, $failed failed, $skip skipped; ${verdict:-no verdict (cut?)}"
    grep -- '^--- FAIL' "$f" | head -5 | sed 's/^/  - /' >> "$OUT/summary.md"
  done
  say "tests: done after $((SECONDS - t0))s"
fi

if has bench; then
  if (( DRY )); then
    # The CPU table at a tiny size, then the GPU path without a GPU (each row says why it failed).
    run bench "$(cap bench)" "$OUT/bench.md" "$WORK/bench" -configs r18w16-infer -batch 8 -warmup 1 -steps 1 -peak 64 -python "$TORCH_PY"
    RUN_MAY_FAIL=1 run bench-cuda-without-gpu 120 "$OUT/bench-cuda.md" env GOMLX_BACKEND=xla:cuda "$WORK/bench" -device cuda -configs r18w64-infer-b256 -warmup 1 -steps 1 -peak 0 -python "$TORCH_PY"
  else
    run bench "$(cap bench)" "$OUT/bench.md" "$WORK/bench" -device cuda -warmup 2 -steps 5 -peak 0 -python "$TORCH_PY"
  fi
  grep -E '^\| (r18|r50)' "$OUT/bench.md" >> "$OUT/summary.md" 2>/dev/null
fi

if has job; then
  jobargs=(-checkpoint-dir "$WORK/job")
  # The GPU run uses only long-standing flags: the default job as `make train` runs it. The dry
  # run shrinks it (these flags may change with the train command; only the dry run needs them).
  (( DRY )) && jobargs+=(-steps 2 -batch-size 32 -width 4 -dataset synthetic -channels 3 -subset 512 -eval-subset 128 -baselines=false -probe-epochs 1)
  run job "$(cap job)" "$OUT/job.txt" "$WORK/train" "${jobargs[@]}"
  grep -E 'Trained|Measured on|linear probe|kNN|online|top-5|trustworthiness|t-SNE of .*done="([0-9]+)/\1 ' "$OUT/job.txt" | sed 's/^/  /' >> "$OUT/summary.md"
  cp "$WORK/job/map.png" "$OUT/job-map.png" 2>/dev/null || note "  (no map.png: the job drew no t-SNE map)"
fi

# The input pipeline against the steps' consumption: views/s made on every core against the
# views/s each training row of bench.md consumed.
if [[ -s "$OUT/pipeline.md" && -s "$OUT/bench.md" ]]; then
  "$PY" - "$OUT/pipeline.md" "$OUT/bench.md" >> "$OUT/summary.md" 2>&1 <<'PYEOF'
import sys
rows = lambda p: [[c.strip() for c in l.strip().strip("|").split("|")] for l in open(p) if l.startswith("| ") and "---" not in l]
pipe = {}
for r in rows(sys.argv[1])[1:]:
    if r[4] != "1":
        pipe.setdefault(r[0], float(r[6]))  # views/s on every core
for r in rows(sys.argv[2])[1:]:
    if "-train-" not in r[0] or r[1] in ("–", ""):
        continue
    preset = "vicreg" if r[0].startswith("r50") else "solo-cifar"
    if preset in pipe:
        need, have = float(r[1]), pipe[preset]
        print(f"- pipeline {preset}: {have:.0f} views/s on every core; {r[0]} (ours) consumes {need:.0f}: "
              + ("keeps up" if have >= need else f"falls short ({have/need:.2f}x)"))
PYEOF
fi

note ""
note "Total $((SECONDS - START)) s (budget $BUDGET s)."
say "done in $((SECONDS - START))s; results in $OUT"
cat "$OUT/summary.md"
if (( FAILED )); then
  say "some phases or tests failed (see the summary above): exit 1"
  exit 1
fi
