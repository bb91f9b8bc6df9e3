"""Trace fixup: tensors the traced function captures by value become constants."""

from __future__ import annotations

from typing import Any

from pipeline.fixups.trace import freeze


def freeze_captured_tensors(function: Any) -> tuple[Any, list[str]]:
    """Freeze the tensors a traced function captures by value (not variables) into constants.

    tf2onnx's ``from_function`` lists every non-resource input of the concrete function as an
    ONNX graph input, captured tensors included, so the exported graph asks for inputs nobody can
    feed (Keras 3's Normalization keeps its mean and variance as tensors: EfficientNet's
    ``Required inputs [...normalization_1/Sub/y:0 ...] are missing``). Their values only exist on
    the TensorFlow side, so they are frozen there.
    """
    import tensorflow as tf

    captured = [(outer, inner) for outer, inner in function.graph.captures if outer.dtype != tf.resource]
    if not captured:
        return function, []
    frozen = freeze(function)
    left = {t.name for t in frozen.inputs} & {inner.name for _, inner in captured}
    if left:  # pragma: no cover - TensorFlow's freezing keeps them only if it changes behaviour
        raise RuntimeError(f"captured tensors still inputs after freezing: {sorted(left)}")
    return frozen, [
        f"captured tensor '{inner.name}' {list(inner.shape)} {inner.dtype.name} -> constant" for _, inner in captured
    ]
