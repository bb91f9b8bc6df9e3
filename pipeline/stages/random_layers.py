"""Layers that draw random numbers at inference (a VAE's ``Sampling``): found by their seed generators.

tf2onnx cannot export Keras 3's stateful seed generator (``AssignVariableOp was passed int64 …
expected resource``), and even where a random op exports, TensorFlow, ONNX Runtime and torch
draw different numbers, so no comparison could pass. Such models are refused with the layers
named and what to convert instead. Layers that are random only in training (Dropout, noise and
augmentation layers, recurrent cells' dropout) are identity at inference and are not counted.
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


def random_layers(model: Any) -> list[str]:
    """Names of ``model``'s layers that own a seed generator and draw at inference."""
    import keras

    flatten = getattr(model, "_flatten_layers", None)
    found = []
    for layer in flatten(include_self=False, recursive=True) if flatten else []:
        kind = type(layer).__name__
        if any(word in kind for word in TRAINING_ONLY):
            continue
        if hasattr(layer, "recurrent_dropout"):  # RNN cells: the generator serves (recurrent) dropout
            continue
        if any(isinstance(value, keras.random.SeedGenerator) for value in vars(layer).values()):
            found.append(str(layer.name))
    return found


def refusal(model: Any, stage: str) -> UnsupportedError | None:
    """The error for a model with random layers, or None when it has none."""
    names = random_layers(model)
    if not names:
        return None
    return UnsupportedError(
        f"the model draws random numbers at inference in layer(s) {', '.join(repr(n) for n in names)}",
        stage=stage,
        hint=HINT,
    )
