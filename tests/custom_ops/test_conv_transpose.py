"""ConvTranspose with asymmetric pads, auto_pad, output_shape, output_padding and groups matches ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.custom_ops.helpers import assert_exports, make_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize(
    "attrs",
    [
        {"strides": [2, 2], "pads": [0, 0, 1, 1]},  # Keras Conv2DTranspose(padding="same", strides=2)
        {"strides": [2, 2], "pads": [1, 0, 0, 2], "output_padding": [1, 1]},
        {"strides": [2, 3], "auto_pad": "SAME_UPPER"},
        {"strides": [2, 2], "auto_pad": "SAME_LOWER", "dilations": [2, 1]},
        {"strides": [3, 2], "output_shape": [13, 9]},
        {"strides": [1, 1], "pads": [1, 1, 1, 1], "group": 2},
    ],
)
def test_conv_transpose_2d(attrs: dict[str, object]) -> None:
    rng = np.random.default_rng(0)
    group = int(attrs.get("group", 1))  # type: ignore[call-overload]
    x = rng.normal(size=(2, 4, 5, 4)).astype(np.float32)
    weights = {
        "w": rng.normal(size=(4, 6 // group, 3, 3)).astype(np.float32),
        "b": rng.normal(size=6).astype(np.float32),
    }
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    model = make_model([node], {"x": x}, ["y"], initializers=weights, batch_axis={"x": 0})
    module = assert_matches_ort(model, {"x": x}, fixups=False).module
    if "output_padding" in attrs:
        assert_exports(module, {"x": x}, {"x": 0})


def test_conv_transpose_1d_without_bias() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 7)).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2], pads=[0, 1])
    model = make_model([node], {"x": x}, ["y"], initializers={"w": rng.normal(size=(3, 2, 4)).astype(np.float32)})
    assert_matches_ort(model, {"x": x}, fixups=False)
