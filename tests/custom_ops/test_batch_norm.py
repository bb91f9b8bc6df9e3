"""BatchNormalization in training mode against ONNX Runtime."""

from __future__ import annotations

import numpy as np

from tests.custom_ops.node_cases import TensorProto, floats, node_model
from tests.onnx_checks import assert_matches_ort

F = TensorProto.FLOAT


def test_training_mode_outputs(rng: np.random.Generator) -> None:
    c = 3
    inputs = [
        ("x", floats(rng, 4, c, 2, 2), False),
        ("s", floats(rng, c), False),
        ("b", floats(rng, c), False),
        ("m", floats(rng, c), False),
        ("v", np.abs(floats(rng, c)) + 0.5, False),
    ]
    model, feeds = node_model(
        "BatchNormalization", inputs, outputs=[("y", F), ("rm", F), ("rv", F)], opset=15, training_mode=1, momentum=0.8
    )
    assert_matches_ort(model, feeds)


def test_inference_still_goes_through_onnx2torch(rng: np.random.Generator) -> None:
    c = 3
    inputs = [
        ("x", floats(rng, 2, c, 4), False),
        ("s", floats(rng, c), True),
        ("b", floats(rng, c), True),
        ("m", floats(rng, c), True),
        ("v", np.abs(floats(rng, c)) + 0.5, True),
    ]
    model, feeds = node_model("BatchNormalization", inputs, opset=15)
    assert_matches_ort(model, feeds)
