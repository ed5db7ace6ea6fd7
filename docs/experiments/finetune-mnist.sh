#!/usr/bin/env bash
# The README's downstream table: the default job's encoder fine-tuned on 1%, 10% and 100% of
# MNIST's training labels (evaluate.py's semi-supervised protocol, this toolkit's defaults), each
# beside the same training from a randomly initialised encoder. Usage:
#   docs/experiments/finetune-mnist.sh [RUN_DIR] [PERCENT...]   (default: runs/vicreg, written by
#   `make train`, and 1 10 100)
# Each evaluate writes RUN_DIR/finetune-finetune-<p>pct and RUN_DIR/scratch-finetune-<p>pct; the
# printed reports are kept in RUN_DIR/finetune-<p>pct.txt. A finished report is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
run=${1:-runs/vicreg}
shift || true
percents=("$@")
[ ${#percents[@]} -gt 0 ] || percents=(1 10 100)
go build -o bin/evaluate ./evaluate
for p in "${percents[@]}"; do
  out="$run/finetune-${p}pct.txt"
  if [ -f "$out" ]; then echo "skip $p% (done)"; cat "$out"; continue; fi
  resume=()
  [ -d "$run/finetune-finetune-${p}pct" ] && resume=(-resume)
  echo "== $p% of the labels"
  bin/evaluate -checkpoint "$run" -finetune -train-percent "$p" "${resume[@]}" >"$out.tmp" 2>"$run/finetune-${p}pct.log"
  # evaluate exits 0 when a signal stops it, before the accuracies are printed: the report is
  # kept (and the percentage skipped next time) only when it holds them.
  if ! grep -q "test accuracy" "$out.tmp"; then
    echo "$p%: stopped before it finished (interrupted; $run/finetune-${p}pct.log says where): run the script again to resume it" >&2
    exit 1
  fi
  mv "$out.tmp" "$out"
  grep -A4 "test accuracy" "$out"
done
