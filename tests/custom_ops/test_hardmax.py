"""Hardmax against ONNX Runtime: axis semantics before and from opset 13."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_hardmax(rng: np.random.Generator, opset: int, axis: int) -> None:
    x = rng.integers(0, 3, (2, 3, 4)).astype(np.float32)  # ties: the first maximum wins
    model, feeds = node_model("Hardmax", [("x", x, False)], opset=opset, axis=axis)
    assert_matches_ort(model, feeds)
