"""Layers that draw random numbers at inference (a VAE's ``Sampling``): found by their seed generators.

tf2onnx cannot export Keras 3's stateful seed generator (``AssignVariableOp was passed int64 …
expected resource``), and even where a random op exports, TensorFlow, ONNX Runtime and torch
draw different numbers, so no comparison could pass. Such models are refused with the layers
named and what to convert instead. Layers that are random only in training (Dropout, noise and
augmentation layers, recurrent cells' dropout) are identity at inference and are not counted. Any
other layer with a seed generator counts only where the inference trace feeds its draws into the
outputs: a custom layer that drops out only when ``training`` is true is not refused.
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import UnsupportedError

TRAINING_ONLY = ("Dropout", "Noise", "Random", "AlphaDropout")
HINT = (
    "random draws cannot be compared across runtimes: convert the deterministic part instead, e.g. a "
    "model that outputs the distribution's parameters (a VAE encoder's z_mean and z_log_var) or uses "
    "the mean in place of the sample, and draw the noise in PyTorch"
)


def _training_only(layer: Any) -> bool:
    """Whether ``layer``'s class draws only in training: dropout, noise, augmentation, recurrent cells."""
    if any(word in type(layer).__name__ for word in TRAINING_ONLY):
        return True
    if hasattr(layer, "recurrent_dropout"):  # RNN cells: the generator serves (recurrent) dropout
        return True
    try:  # LSTMCell, GRUCell, SimpleRNNCell, ConvLSTMCell
        from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
    except ImportError:
        return False
    return isinstance(layer, DropoutRNNCell)


def _drawn_at_inference(function: Any) -> set[int] | None:
    """Ids of the variable handles that ``function``'s outputs depend on; None where it does not trace.

    Only data inputs are followed, so a seed state read and advanced beside the outputs (a dropout
    mask drawn and then left unused at inference) does not count.
    """
    try:
        concrete = function.get_concrete_function()
    except Exception:
        return None
    graph = concrete.graph
    captured = {
        id(inner): outer for outer, inner in zip(concrete.captured_inputs, graph.internal_captures, strict=False)
    }
    reached: set[int] = set()
    seen: set[str] = set()
    stack = [tensor.op for tensor in concrete.outputs]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        for tensor in op.inputs:
            if id(tensor) in captured:
                reached.add(id(captured[id(tensor)]))
            stack.append(tensor.op)
    return reached


def _state_handle(generator: Any) -> Any:
    return getattr(getattr(generator.state, "value", None), "handle", None)


def random_layers(model: Any, function: Any = None) -> list[str]:
    """Names of ``model``'s layers that own a seed generator and draw at inference.

    ``function`` is the model's inference ``tf.function`` with an input signature; where given, a
    layer counts only if its seed state feeds the outputs of the trace.
    """
    import keras

    flatten = getattr(model, "_flatten_layers", None)
    candidates = []
    for layer in flatten(include_self=False, recursive=True) if flatten else []:
        if _training_only(layer):
            continue
        generators = [value for value in vars(layer).values() if isinstance(value, keras.random.SeedGenerator)]
        if generators:
            candidates.append((layer, generators))
    reached = _drawn_at_inference(function) if candidates and function is not None else None
    return [
        str(layer.name)
        for layer, generators in candidates
        if reached is None or any(id(_state_handle(g)) in reached for g in generators)
    ]


def refusal(model: Any, stage: str, function: Any = None) -> UnsupportedError | None:
    """The error for a model with random layers, or None when it has none."""
    names = random_layers(model, function)
    if not names:
        return None
    return UnsupportedError(
        f"the model draws random numbers at inference in layer(s) {', '.join(repr(n) for n in names)}",
        stage=stage,
        hint=HINT,
    )
