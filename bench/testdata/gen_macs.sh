#!/bin/sh
# Regenerates macs.jsonl: MACs per image counted by PyTorch forward hooks (torch_step.py --mode macs)
# for the architectures, widths and expanders the Go test checks its analytic counts against.
# Needs python3-torch.
cd "$(dirname "$0")/.." || exit 1
for spec in "resnet18 32 64 2048-2048-2048" "resnet18 32 16 2048-2048-2048" "resnet18 32 4 32-16" "resnet18 32 3 7" \
  "resnet50 224 64 8192-8192-8192" "resnet50 96 64 32-16"; do
  set -- $spec
  /usr/bin/python3 torch_step.py --mode macs --arch "$1" --image "$2" --width "$3" --expander "$4" | sed "s/^{/{\"expander_spec\": \"$4\", /"
done > testdata/macs.jsonl
