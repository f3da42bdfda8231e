"""Reads a run's TensorBoard event files with TensorBoard's own reader and prints, as
JSON, every scalar (tag -> [[step, value], ...]) and histogram (tag -> [[step, limits,
counts], ...]). Used by tests/train_tensorboard.rs."""
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

accumulator = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "histograms": 0})
accumulator.Reload()
tags = accumulator.Tags()
print(json.dumps({
    "scalars": {
        tag: [[e.step, e.value] for e in accumulator.Scalars(tag)] for tag in tags["scalars"]
    },
    "histograms": {
        tag: [[e.step, list(e.histogram_value.bucket_limit), list(e.histogram_value.bucket)]
              for e in accumulator.Histograms(tag)]
        for tag in tags["histograms"]
    },
}))
