"""Conv, ConvTranspose and DeformConv with run-time weights against ONNX Runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort

CONV: list[dict[str, Any]] = [
    {},
    {"strides": [2, 2], "pads": [1, 0, 2, 1]},
    {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
    {"auto_pad": "SAME_LOWER", "strides": [1, 2]},
    {"dilations": [2, 1], "pads": [2, 1, 2, 1]},
    {"group": 2},
]


@pytest.mark.parametrize("attrs", CONV)
@pytest.mark.parametrize("weights_constant", [False, True])
def test_conv(rng: np.random.Generator, attrs: dict[str, Any], weights_constant: bool) -> None:
    group = attrs.get("group", 1)
    x, w, b = floats(rng, 1, 4, 7, 6), floats(rng, 6, 4 // group, 3, 3), floats(rng, 6)
    model, feeds = node_model(
        "Conv", [("x", x, False), ("w", w, weights_constant), ("b", b, weights_constant)], opset=22, **attrs
    )
    assert_matches_ort(model, feeds)


TRANSPOSE: list[dict[str, Any]] = [
    {},
    {"strides": [2, 2], "pads": [1, 0, 0, 1]},
    {"strides": [2, 2], "output_padding": [1, 1]},
    {"strides": [2, 2], "output_shape": [9, 8]},
    {"strides": [2, 2], "auto_pad": "SAME_UPPER"},
    {"dilations": [2, 2], "group": 2},
]


@pytest.mark.parametrize("attrs", TRANSPOSE)
def test_conv_transpose(rng: np.random.Generator, attrs: dict[str, Any]) -> None:
    group = attrs.get("group", 1)
    x, w, b = floats(rng, 1, 4, 4, 3), floats(rng, 4, 6 // group, 3, 3), floats(rng, 6)
    model, feeds = node_model("ConvTranspose", [("x", x, False), ("w", w, False), ("b", b, False)], opset=22, **attrs)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("with_mask", [False, True])
def test_deform_conv(rng: np.random.Generator, with_mask: bool) -> None:
    x, w = floats(rng, 1, 2, 5, 5), floats(rng, 3, 2, 3, 3)
    offset = floats(rng, 1, 18, 3, 3) * 0.5
    mask = rng.uniform(0, 1, (1, 9, 3, 3)).astype(np.float32) if with_mask else None
    model, feeds = node_model(
        "DeformConv",
        [("x", x, False), ("w", w, False), ("offset", offset, False), ("b", None, False), ("mask", mask, False)],
        opset=22,
        kernel_shape=[3, 3],
    )
    assert_matches_ort(model, feeds)
