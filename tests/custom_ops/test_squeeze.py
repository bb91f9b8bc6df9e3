"""Squeeze and Unsqueeze against ONNX Runtime: constant and run-time axes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("constant", [True, False])
@pytest.mark.parametrize("axes", [[0], [-1, 2]])
def test_squeeze(rng: np.random.Generator, constant: bool, axes: list[int]) -> None:
    x = floats(rng, 1, 3, 1, 1)
    model, feeds = node_model("Squeeze", [("x", x, False), ("a", np.array(axes, np.int64), constant)], opset=21)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("constant", [True, False])
@pytest.mark.parametrize("axes", [[0], [-1, 1], [3, 0]])
def test_unsqueeze(rng: np.random.Generator, constant: bool, axes: list[int]) -> None:
    model, feeds = node_model(
        "Unsqueeze", [("x", floats(rng, 3, 4), False), ("a", np.array(axes, np.int64), constant)], opset=21
    )
    assert_matches_ort(model, feeds)
