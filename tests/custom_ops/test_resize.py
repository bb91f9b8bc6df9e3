"""Resize and Upsample against ONNX Runtime: modes, coordinate transforms, antialias, axes, export."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import helper

from tests.custom_ops import helpers
from tests.custom_ops.node_cases import assert_exports_with_dynamic_batch, floats, node_model
from tests.onnx_checks import assert_matches_ort

COORDINATES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"]


def _resize(
    x: np.ndarray,
    opset: int,
    roi: np.ndarray | None = None,
    scales: Any = None,
    sizes: Any = None,
    constant: bool = True,
    **attrs: Any,
) -> tuple[Any, list[np.ndarray]]:
    """A Resize model; ``scales`` and ``sizes`` as lists or arrays, absent when None."""
    inputs = [
        ("x", x, False),
        ("roi", roi, True),
        ("scales", None if scales is None else np.asarray(scales, np.float32), constant),
    ]
    if sizes is not None:
        inputs.append(("sizes", np.asarray(sizes, np.int64), True))
    return node_model("Resize", inputs, opset=opset, **attrs)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("coordinates", COORDINATES)
@pytest.mark.parametrize("scales", [[1, 1, 2, 1.5], [1, 1, 0.5, 0.75]])
@pytest.mark.parametrize("constant", [True, False])
def test_scales(rng: np.random.Generator, mode: str, coordinates: str, scales: list[float], constant: bool) -> None:
    x = floats(rng, 1, 2, 4, 6)
    model, feeds = _resize(
        x,
        opset=19,
        mode=mode,
        coordinate_transformation_mode=coordinates,
        scales=scales,
        constant=constant,
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
@pytest.mark.parametrize("sizes", [[1, 1, 7, 5], [1, 1, 3, 2]])
def test_sizes_nearest(rng: np.random.Generator, nearest_mode: str, sizes: list[int]) -> None:
    model, feeds = _resize(floats(rng, 1, 1, 4, 4), opset=13, mode="nearest", nearest_mode=nearest_mode, sizes=sizes)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_antialias_and_axes(rng: np.random.Generator, mode: str) -> None:
    model, feeds = _resize(floats(rng, 1, 2, 8, 8), opset=18, mode=mode, antialias=1, axes=[2, 3], scales=[0.5, 0.4])
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
def test_keep_aspect_ratio(rng: np.random.Generator, policy: str) -> None:
    model, feeds = _resize(
        floats(rng, 1, 1, 4, 6),
        opset=18,
        mode="linear",
        axes=[2, 3],
        keep_aspect_ratio_policy=policy,
        sizes=[5, 5],
    )
    assert_matches_ort(model, feeds)


def test_crop_and_resize_with_extrapolation(rng: np.random.Generator) -> None:
    roi = np.array([0, 0, -0.2, 0.4, 1, 1, 0.6, 1.3], np.float32)
    model, feeds = _resize(
        floats(rng, 1, 1, 4, 4),
        opset=13,
        mode="linear",
        coordinate_transformation_mode="tf_crop_and_resize",
        extrapolation_value=10.0,
        roi=roi,
        sizes=[1, 1, 3, 3],
    )
    assert_matches_ort(model, feeds)


def test_integer_image(rng: np.random.Generator) -> None:
    x = rng.integers(0, 255, (1, 3, 4, 4)).astype(np.uint8)
    model, feeds = _resize(x, opset=19, mode="nearest", scales=[1, 1, 2, 2])
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("op", ["Upsample", "Resize10"])
def test_legacy_nearest(rng: np.random.Generator, op: str) -> None:
    scales = np.array([1, 1, 2, 3], np.float32)
    model, feeds = node_model(
        "Upsample" if op == "Upsample" else "Resize",
        [("x", floats(rng, 1, 1, 2, 2), False), ("scales", scales, True)],
        opset=9 if op == "Upsample" else 10,
        mode="nearest",
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_exports_with_dynamic_batch(rng: np.random.Generator, mode: str) -> None:
    model, feeds = _resize(floats(rng, 1, 3, 5, 4), opset=19, mode=mode, scales=[1, 1, 2, 2])
    assert_exports_with_dynamic_batch(model, feeds)


@pytest.mark.parametrize("nearest_mode", ["round_prefer_ceil", "floor"])
@pytest.mark.parametrize("scales", [[1, 1, 2, 1.5], [1, 1, 0.5, 0.75]])
def test_tf_half_pixel_for_nn(rng: np.random.Generator, nearest_mode: str, scales: list[float]) -> None:
    """What tf2onnx emits for ``tf.image.resize(..., "nearest")`` (deprecated since opset 13, still valid)."""
    model, feeds = _resize(
        floats(rng, 1, 2, 4, 6),
        opset=13,
        mode="nearest",
        nearest_mode=nearest_mode,
        coordinate_transformation_mode="tf_half_pixel_for_nn",
        scales=scales,
    )
    assert_matches_ort(model, feeds)


def test_resize_to_sizes_that_hold_the_batch_exports_with_a_dynamic_batch() -> None:
    """A detection head resizes one feature map to another's size: ``sizes = Concat(Shape(x)[:1], [2, 8, 8])``."""
    x = np.random.default_rng(1).normal(size=(3, 2, 4, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
        helper.make_node("Concat", ["batch", "spatial"], ["sizes"], axis=0),
        helper.make_node("Resize", ["x", "", "", "sizes"], ["out"], mode="nearest"),
    ]
    inits = {"zero": np.array([0], np.int64), "one": np.array([1], np.int64), "spatial": np.array([2, 8, 8], np.int64)}
    model = helpers.make_model(nodes, {"x": x}, ["out"], initializers=inits, batch_axis={"x": 0})
    module = assert_matches_ort(model, {"x": x}, rtol=0, atol=0, fixups=False, ours={"Resize"}).module
    helpers.assert_exports(module, {"x": x}, {"x": 0})
