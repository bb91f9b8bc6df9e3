"""Flatten against ONNX Runtime, axis 0, negative axes and axis == rank included."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
@pytest.mark.parametrize("opset", [13, 21])
def test_flatten(rng: np.random.Generator, axis: int, opset: int) -> None:
    model, feeds = node_model("Flatten", [("x", floats(rng, 2, 3, 4), False)], opset=opset, axis=axis)
    assert_matches_ort(model, feeds)
