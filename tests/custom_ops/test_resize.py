"""Resize: every mode and coordinate transformation ONNX Runtime supports, reproduced exactly enough."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.custom_ops.helpers import assert_exports, assert_matches_ort, make_model

COORDINATES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"]


def _model(attrs: dict[str, object], scales: list[float] | None, sizes: list[int] | None, opset: int) -> tuple:
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 7)).astype(np.float32)
    inits = {"roi": np.zeros(0, np.float32)}
    names = ["x", "roi"]
    if scales is not None:
        inits["scales"] = np.array(scales, np.float32)
        names.append("scales")
    else:
        inits["sizes"] = np.array(sizes, np.int64)
        names += ["", "sizes"]
    node = helper.make_node("Resize", names, ["y"], **attrs)
    return make_model([node], {"x": x}, ["y"], initializers=inits, opset=opset, batch_axis={"x": 0}), {"x": x}


@pytest.mark.parametrize("coordinates", COORDINATES)
@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_linear_and_cubic(mode: str, coordinates: str) -> None:
    attrs = {"mode": mode, "coordinate_transformation_mode": coordinates, "axes": [2, 3]}
    model, feeds = _model(attrs, None, [8, 4], opset=19)
    assert_matches_ort(model, feeds, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "nearest_mode,coordinates",
    [
        ("round_prefer_floor", "half_pixel"),
        ("round_prefer_ceil", "asymmetric"),
        ("floor", "align_corners"),
        ("ceil", "tf_half_pixel_for_nn"),
    ],
)
def test_nearest(nearest_mode: str, coordinates: str) -> None:
    attrs = {"mode": "nearest", "nearest_mode": nearest_mode, "coordinate_transformation_mode": coordinates}
    model, feeds = _model(attrs, [1.0, 1.0, 2.0, 0.6], None, opset=13)
    assert_matches_ort(model, feeds, rtol=0, atol=0)


def test_cubic_exclude_outside_and_export() -> None:
    attrs = {"mode": "cubic", "exclude_outside": 1, "cubic_coeff_a": -0.5}
    model, feeds = _model(attrs, [1.0, 1.0, 1.6, 0.5], None, opset=13)
    module = assert_matches_ort(model, feeds, rtol=1e-4, atol=1e-5)
    assert_exports(module, feeds, {"x": 0})
