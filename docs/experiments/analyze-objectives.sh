#!/usr/bin/env bash
# The analysis half of docs/experiments/mnist-objectives.sh: the assumption checks (A1-A3) on the
# runs it wrote. Seed 0 of each objective is analysed at every checkpoint (the curves over
# training), the other seeds at their last checkpoint; one extra pass on seed 0's last checkpoint
# uses small isotropic input noise for the views instead of the augmentation, and anchors
# jittered off the network's kinks for A2. Usage:
#   docs/experiments/analyze-objectives.sh [RUNS_DIR]     (default: runs/mnist-objectives)
# Writes RUNS_DIR/analysis/<run>[-noise]/ (summary.md, report.json, SVG figures); a report already
# written is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/mnist-objectives}
go build -o bin/analyze ./analyze
for dir in "$runs"/*-seed*/; do
  run=$(basename "$dir")
  [ -f "$dir/result.txt" ] || { echo "skip $run (not finished)"; continue; }
  out="$runs/analysis/$run"
  args=()
  case "$run" in *-seed0) ;; *) args=(-last 1) ;; esac
  if [ ! -f "$out/report.json" ]; then echo "== $out"; bin/analyze -checkpoints "$dir" -out "$out" "${args[@]}"; fi
  case "$run" in
    *-seed0)
      if [ ! -f "$out-noise/report.json" ]; then
        echo "== $out-noise"; bin/analyze -checkpoints "$dir" -out "$out-noise" -last 1 -input-noise 0.1 -anchor-jitter 0.05 -scales 0.001,0.01,0.05
      fi ;;
  esac
done
