#!/usr/bin/env bash
# PairDist's kernel width σ and entropy weight w (docs/paper.md, "PairDist's kernel width, after
# the comparison"): a grid on the validation split (the last 10,000 of MNIST's training images,
# 1 epoch, seed 0), then 3 seeds each of σ = 0.5 and of w = 64 against σ = 1, w = 1 (2 epochs, test
# set with all, 10% and 1% of the labels), the flags of paper-estimators.sh otherwise. About
# 2 minutes per grid run and 5 per seed run on 2 CPU cores (noted at the time, not re-measured;
# each run's result.json records only its training time, train_ns). Usage:
#   docs/experiments/pairdist-sigma.sh [OUT_DIR]      (default: runs/paper/pairdist-sigma)
# A finished run (result.json) is skipped. Then: go run ./docs/experiments/paper
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/paper/pairdist-sigma}
mkdir -p "$out/sweep"
go build -o bin/train ./train
source docs/experiments/lib.sh # run DIR FLAGS...
# σ and w (with the scale-aware σ = auto for comparison). Scaling the embeddings by a turns the
# loss at (σ, w) into a² times the loss at (σ/a, w/a²) plus a constant, so while the network can
# set its output scale freely only w/σ² matters: the grid's diagonals share it.
for sw in auto:1 4:1 2:1 1:0.25 1:1 1:4 1:16 1:64 0.5:1 0.5:4 0.25:1 0.25:4; do
  s=${sw%:*} w=${sw#*:}
  run "$out/sweep/sigma$s-w$w" -loss vicreg-pairdist -sigma "$s" -entropy-weight "$w" -epochs 1 -validation 10000
done
for seed in 0 1 2; do
  for s in 1 0.5; do
    run "$out/vicreg-pairdist-sigma$s-seed$seed" -loss vicreg-pairdist -sigma "$s" -entropy-weight 1 -epochs 2 -seed "$seed" -low-label 1,10
  done
done
# The grid's best point, w/σ² = 64 (σ = 1, w = 64), on the same seeds.
for seed in 0 1 2; do
  run "$out/vicreg-pairdist-sigma1-w64-seed$seed" -loss vicreg-pairdist -sigma 1 -entropy-weight 64 -epochs 2 -seed "$seed" -low-label 1,10
done
