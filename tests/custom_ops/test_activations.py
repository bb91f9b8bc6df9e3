"""Activations with attributes against ONNX Runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort

CASES: list[tuple[str, int, dict[str, Any]]] = [
    ("Celu", 12, {"alpha": 1.5}),
    ("Elu", 22, {}),
    ("Elu", 6, {"alpha": 0.3}),
    ("Gelu", 20, {}),
    ("Gelu", 20, {"approximate": "tanh"}),
    ("HardSigmoid", 22, {"alpha": 0.3, "beta": 0.4}),
    ("HardSwish", 22, {}),
    ("Mish", 22, {}),
    ("Selu", 22, {}),
    ("Selu", 6, {"alpha": 2.0, "gamma": 3.0}),
    ("Shrink", 9, {"lambd": 0.7, "bias": 0.2}),
    ("Softplus", 22, {}),
    ("Softsign", 22, {}),
    ("Swish", 24, {"alpha": 1.5}),
    ("ThresholdedRelu", 22, {"alpha": 0.3}),
]


@pytest.mark.parametrize(("op", "opset", "attrs"), CASES)
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_activation(rng: np.random.Generator, op: str, opset: int, attrs: dict[str, Any], shape: tuple) -> None:
    model, feeds = node_model(op, [("x", floats(rng, *shape) * 3, False)], opset=opset, **attrs)
    # Celu-12 stays onnx2torch's: our converter claims Celu-28 only (untested: claimed_versions.json)
    assert_matches_ort(model, feeds, ours=() if op == "Celu" else None)
