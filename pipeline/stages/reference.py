"""The TensorFlow reference: the model's outputs (and logits) on every input set, as compiled graphs.

Outputs come from the loaded ``tf.function`` (the one the export traced, so no second trace);
logits from the same model with its softmax heads made linear, compiled as a ``tf.function`` of
its own: called eagerly, Keras runs the model layer by layer in Python (about 2 s for ResNet50's
five input sets). Input sets that fit together run as one call (:mod:`pipeline.batching`).

When every softmax head is a leaf of the layer graph (called once, feeding no other layer), one
compiled pass gives both: the model runs with the heads made linear, and each head's own
activation is then applied to its logits, as the layer itself does last (``Dense``:
``activation(x @ kernel + bias)``). That is one trace and one forward pass per call instead of
two of each (ResNet50: the logits function's trace alone took 2-5 s).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.batching import Outputs, Sets, run_merged
from pipeline.config import ConversionConfig

LOGITS = ":logits"


def tf_outputs(loaded: Any, sets: Sets, config: ConversionConfig) -> dict[str, np.ndarray]:
    """``{"<set>/<output>": array}``, and ``"<set>/<output>:logits"`` for softmax heads when compared."""
    import tensorflow as tf

    with_logits = loaded.logits_function is not None and config.compare_logits
    signature = getattr(loaded.function, "input_signature", None)
    logits_fn = together = None
    if with_logits and loaded.with_logits_function is not None:
        together = tf.function(loaded.with_logits_function, input_signature=signature, autograph=False)
    elif with_logits:
        logits_fn = tf.function(loaded.logits_function, input_signature=signature, autograph=False)

    def run(subset: Sets) -> tuple[Outputs, dict[str, str]]:
        out: Outputs = {}
        for set_name, arrays in subset.items():
            args = [arrays[s.name] for s in loaded.inputs]
            if together is not None:  # outputs and logits from one pass (see the module)
                values = together(*args)
                keys = loaded.outputs + [name + LOGITS for name in loaded.logits_outputs]
                out[set_name] = {key: np.asarray(v) for key, v in zip(keys, values, strict=True)}
                continue
            values = {name: np.asarray(v) for name, v in zip(loaded.outputs, loaded.function(*args), strict=True)}
            if logits_fn is not None:
                for name, value in zip(loaded.outputs, logits_fn(*args), strict=True):
                    if name in loaded.logits_outputs:
                        values[name + LOGITS] = np.asarray(value)
            out[set_name] = values
        return out, {}

    outputs, _ = run_merged(run, sets, {s.name: s.batch_axis for s in loaded.inputs})
    return {f"{set_name}/{key}": value for set_name, values in outputs.items() for key, value in values.items()}
