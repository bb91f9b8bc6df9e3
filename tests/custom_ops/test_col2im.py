"""Col2Im against ONNX Runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize(
    "attrs",
    [{}, {"strides": [2, 2]}, {"pads": [1, 0, 1, 1]}, {"dilations": [2, 1]}],
)
def test_col2im(rng: np.random.Generator, attrs: dict[str, Any]) -> None:
    image, block = [5, 5], [2, 3]
    strides, dilations = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1])
    pads = attrs.get("pads", [0, 0, 0, 0])
    blocks = 1
    for i in range(2):
        blocks *= (image[i] + pads[i] + pads[2 + i] - dilations[i] * (block[i] - 1) - 1) // strides[i] + 1
    x = floats(rng, 1, 2 * 6, blocks)
    model, feeds = node_model(
        "Col2Im",
        [("x", x, False), ("image", np.array(image, np.int64), True), ("block", np.array(block, np.int64), True)],
        **attrs,
    )
    assert_matches_ort(model, feeds)
