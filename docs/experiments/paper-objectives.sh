#!/usr/bin/env bash
# The paper's Gaussianity claim across objectives (docs/paper.md): VICReg, SimCLR and Barlow Twins
# trained on MNIST at an equal budget (the default job's encoder, ResNet-18 width 24, 2 epochs,
# batch 256, LARS), 3 seeds each, then the noise sweep of every run on one figure. Usage:
#   docs/experiments/paper-objectives.sh [OUT_DIR] [SEEDS...]   (default: runs/paper/objectives 0 1 2)
# A run already finished (result.json) is skipped. Then: go run ./docs/experiments/paper
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/paper/objectives}
shift || true
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(0 1 2)
mkdir -p "$out"
go build -o bin/train ./train
go build -o bin/analyze ./analyze
source docs/experiments/lib.sh # run DIR FLAGS...
runs=()
for seed in "${seeds[@]}"; do
  for loss in vicreg simclr barlow; do
    dir="$out/$loss-seed$seed"
    runs+=("$dir")
    run "$dir" -epochs 2 -seed "$seed" -loss "$loss" -low-label 1,10
  done
done
IFS=,; list="${runs[*]}"; unset IFS
if [ ! -f "$out/compare/comparison.json" ] && [ ! -f "$out/compare/report.json" ]; then
  echo "== $out/compare"
  bin/analyze -compare "$list" -out "$out/compare"
fi
