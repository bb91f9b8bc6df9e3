"""Keras's own float32 rounding noise of the inference-mode gradients: a float64 replay in Keras.

The model is rebuilt from its config with every float32 dtype spelled float64, given the same
weights, and runs the same projection loss; each gradient's noise is its difference from the
float64 one. Models over ``MAX_PARAMS`` parameters and models that cannot be rebuilt from their
config (subclassed models, custom objects outside the scope) get no measurement, and the
comparison allows torch's noise only.

Why: two float32 implementations of one network differ by the sum of their rounding errors, and
Keras's can be hundreds of times torch's. ResNet50 at 224x224 with random weights: Keras float32
against Keras float64 differs by 0.023 of the spread of ``conv5_block1_3_conv/kernel``'s gradient,
torch float32 against torch float64 by 8e-5; Keras against torch by 0.023, all of it Keras's
rounding. Torch's replay alone cannot bound that.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The replay holds a float64 copy of every weight and of its gradient beside the float32 model:
# past this many parameters (VGG16's 138 million took a conversion over its 8 GB cap) it is
# skipped and the comparison allows torch's noise alone, as for models without a config.
MAX_PARAMS = 60_000_000


def _retyped(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _retyped(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_retyped(v) for v in node]
    return "float64" if node == "float32" else node


def float64_clone(model: Any) -> Any | None:
    """The model rebuilt with float64 variables and computation and the same weights, or None."""
    try:
        config = _retyped(model.get_config())
        clone = type(model).from_config(config)
        weights = model.get_weights()
        clone.set_weights([w.astype(np.float64) if w.dtype == np.float32 else w for w in weights])
    except Exception:  # a model its config does not rebuild: no measurement
        return None
    ours, theirs = clone.trainable_variables, model.trainable_variables
    if len(ours) != len(theirs) or any(tuple(a.shape) != tuple(b.shape) for a, b in zip(ours, theirs, strict=True)):
        return None
    if any("float32" in str(v.dtype) for v in ours):
        return None
    return clone


def inference_noise(
    model: Any, x: Any, projs: list[np.ndarray | None], grads: list[Any], paths: list[str], flat: Any
) -> dict[str, np.ndarray]:
    """``keras_noise_inference/<path>``: |float32 gradient - float64 gradient| per trainable weight."""
    import tensorflow as tf

    if int(model.count_params()) > MAX_PARAMS:
        return {}
    clone = float64_clone(model)
    if clone is None:
        return {}

    def wide(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: wide(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [wide(v) for v in value]
        array = np.asarray(value)
        return array.astype(np.float64) if array.dtype == np.float32 else array

    with tf.GradientTape() as tape:
        outs = flat(clone(wide(x), training=False))
        pairs = [(o, p) for o, p in zip(outs, projs, strict=True) if p is not None]
        if not pairs:
            return {}
        loss = tf.add_n([tf.reduce_sum(tf.cast(o, tf.float64) * p.astype(np.float64)) for o, p in pairs])
    wide_grads = tape.gradient(loss, clone.trainable_variables)
    found = {}
    for path, g, g64 in zip(paths, grads, wide_grads, strict=True):
        if g is None or g64 is None or not hasattr(g, "numpy") or not hasattr(g64, "numpy"):
            continue
        found[f"keras_noise_inference/{path}"] = np.abs(np.asarray(g, np.float64) - np.asarray(g64, np.float64))
    return found
