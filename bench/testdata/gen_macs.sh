#!/bin/sh
# Regenerates macs.jsonl: MACs per image counted by PyTorch forward hooks (torch_step.py --mode macs)
# for the widths and expanders the Go test checks its analytic counts against. Needs python3-torch.
cd "$(dirname "$0")/.." || exit 1
for spec in "64 2048-2048-2048" "16 2048-2048-2048" "4 32-16" "3 7"; do
  set -- $spec
  /usr/bin/python3 torch_step.py --mode macs --width "$1" --expander "$2" | sed "s/^{/{\"expander_spec\": \"$2\", /"
done > testdata/macs.jsonl
