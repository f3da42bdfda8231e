"""Reads a run's TensorBoard event files with TensorBoard's own reader and prints, as
JSON, every scalar (tag -> [[step, value], ...]) and histogram (tag -> [[step, limits,
counts], ...]). Used by tests/train_tensorboard.rs and the resume tests.

    read_tensorboard.py DIR             the classic EventAccumulator, as above
    read_tensorboard.py --ui DIR...     the loader TensorBoard's web page uses
                                        (plugin_event_accumulator: every value a tensor);
                                        histograms as [[step, [[left, right, count], ...]]];
                                        one object per DIR, keyed by DIR

Both drop what a restarted process superseded (SessionLog.START), each in its own way."""
import json
import sys

from tensorboard.backend.event_processing import plugin_event_accumulator
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util


def classic(path):
    accumulator = EventAccumulator(path, size_guidance={"scalars": 0, "histograms": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    return {
        "scalars": {
            tag: [[e.step, e.value] for e in accumulator.Scalars(tag)] for tag in tags["scalars"]
        },
        "histograms": {
            tag: [[e.step, list(e.histogram_value.bucket_limit), list(e.histogram_value.bucket)]
                  for e in accumulator.Histograms(tag)]
            for tag in tags["histograms"]
        },
    }


def ui(path):
    accumulator = plugin_event_accumulator.EventAccumulator(
        path, size_guidance={plugin_event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    out = {"scalars": {}, "histograms": {}}
    for tag in accumulator.Tags()["tensors"]:
        plugin = accumulator.SummaryMetadata(tag).plugin_data.plugin_name
        kind = {"scalars": "scalars", "histograms": "histograms"}.get(plugin)
        if kind is None:
            continue
        out[kind][tag] = [
            [e.step, tensor_util.make_ndarray(e.tensor_proto).tolist()]
            for e in accumulator.Tensors(tag)
        ]
    return out


if sys.argv[1] == "--ui":
    print(json.dumps({path: ui(path) for path in sys.argv[2:]}))
else:
    print(json.dumps(classic(sys.argv[1])))
