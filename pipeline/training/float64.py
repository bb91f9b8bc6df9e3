"""The Keras half of the training check runs in float64: the model rebuilt from its config with
every float32 dtype spelled float64 and the same weights.

Why: two float32 implementations of one network differ by the sum of their rounding errors, and
Keras's alone can reach a few hundredths of a gradient's spread. ResNet50 at 224x224 with random
weights: Keras float32 against Keras float64 differs by 0.023 of the spread of
``conv5_block1_3_conv/kernel``'s gradient, torch float32 against torch float64 by 8e-5.
EfficientNetB0's ``block3a_expand_bn`` moving-variance step is below float32's resolution of the
variance it updates (0.19 of its spread between two correct float32 runs). In float64 both halves
keep the same digits, so one forward and backward per framework per mode decides, with a
tolerance far below anything a translation fault produces, and no replay measures the noise.

Mixed-precision and float16/bfloat16 layers compute in float64 too: the check asks whether
model.py computes what Keras does, and the forward comparison already allows for float16's
rounding (:mod:`pipeline.precision`). Models that cannot be rebuilt from their config (subclassed
models, custom objects outside the scope) are checked in float32 with the float32 tolerance; the report
says which precision ran and why.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from pipeline.helpers import first_line

# dtype (policy) names that become float64: a mixed-precision model is checked for what it computes,
# not for float16's rounding, which the forward comparison already allows for (pipeline.precision)
WIDENED = {"float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16"}


def _retyped(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _retyped(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_retyped(v) for v in node]
    return "float64" if isinstance(node, str) and node in WIDENED else node


@contextlib.contextmanager
def float64_default() -> Iterator[None]:
    """Keras's default float type is float64 inside (losses, optimizers and regularisers built
    here compute in float64; Keras builds them in ``floatx``, float32 unless set)."""
    import keras

    saved = keras.backend.floatx()
    keras.backend.set_floatx("float64")
    try:
        yield
    finally:
        keras.backend.set_floatx(saved)


def float64_clone(model: Any) -> tuple[Any | None, str]:
    """(the model rebuilt with float64 variables and computation and the same weights, "") or
    (None, why not). Call inside :func:`float64_default`."""
    layers = _flat_layers(model)
    grouped = [layer.name for layer in layers if int(getattr(layer, "groups", 1) or 1) > 1 and hasattr(layer, "kernel")]
    if grouped:  # TensorFlow's CPU kernels for grouped convolutions take float32 only; float64 runs
        # one convolution per group (ConvNeXtTiny: 82 s per forward against 2 s, 25 min per check)
        return None, f"grouped convolutions (layer '{grouped[0]}') have no float64 kernel in TensorFlow on CPU"
    try:
        config = _retyped(model.get_config())
        clone = type(model).from_config(config)
        weights = model.get_weights()
        clone.set_weights([w.astype(np.float64) if w.dtype == np.float32 else w for w in weights])
    except Exception as exc:  # a model its config does not rebuild
        first = first_line(exc, 200)
        return None, f"the model is not rebuilt from its config in float64 ({first})"
    ours, theirs = clone.variables, model.variables
    if len(ours) != len(theirs) or any(tuple(a.shape) != tuple(b.shape) for a, b in zip(ours, theirs, strict=True)):
        return None, "the model rebuilt from its config in float64 has other variables"
    narrow = [str(getattr(v, "path", v.name)) for v in clone.trainable_variables if "float64" not in str(v.dtype)]
    if narrow:
        return None, f"the model keeps non-float64 trainable variables in float64 ({narrow[0]}: a dtype policy)"
    return clone, ""


def _flat_layers(model: Any) -> list[Any]:
    flatten = getattr(model, "_flatten_layers", None)
    return list(flatten(include_self=False, recursive=True)) if flatten else []


def widen(value: Any) -> Any:
    """Float32 arrays (in lists, tuples and dicts) as float64."""
    if isinstance(value, dict):
        return {k: widen(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [widen(v) for v in value]
    array = np.asarray(value)
    return array.astype(np.float64) if array.dtype == np.float32 else array
