"""Print the scalars TensorBoard reads from a folder of event files, as JSON: {tag: [[step, value], ...]}.

Used by results' optional test (VICREG_TB_PYTHON: a python3 with the tensorboard package from PyPI).
"""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator

acc = event_accumulator.EventAccumulator(sys.argv[1], purge_orphaned_data=True)
acc.Reload()
print(json.dumps({tag: [[s.step, s.value] for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}))
