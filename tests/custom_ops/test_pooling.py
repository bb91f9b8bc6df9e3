"""Pooling against ONNX Runtime: pads, SAME padding, dilations, ceil mode, indices, Lp, global, unpool."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, floats, node_model
from tests.onnx_checks import assert_matches_ort

GEOMETRY: list[dict[str, Any]] = [
    {"kernel_shape": [3, 3]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 0, 1]},
    {"kernel_shape": [2, 3], "auto_pad": "SAME_UPPER", "strides": [2, 1]},
    {"kernel_shape": [3, 2], "auto_pad": "SAME_LOWER"},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [2, 2], "dilations": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 3], "strides": [3, 3], "ceil_mode": 1, "pads": [1, 1, 1, 1]},
]


@pytest.mark.parametrize("geometry", GEOMETRY)
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool(rng: np.random.Generator, geometry: dict[str, Any], count_include_pad: int) -> None:
    model, feeds = node_model(
        "AveragePool",
        [("x", floats(rng, 2, 3, 7, 8), False)],
        opset=22,
        count_include_pad=count_include_pad,
        **geometry,
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("geometry", GEOMETRY)
def test_max_pool_with_indices(rng: np.random.Generator, geometry: dict[str, Any]) -> None:
    model, feeds = node_model(
        "MaxPool",
        [("x", floats(rng, 2, 3, 7, 8), False)],
        opset=22,
        outputs=[("y", TensorProto.FLOAT), ("i", TensorProto.INT64)],
        **geometry,
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("dims", [1, 3])
def test_other_ranks(rng: np.random.Generator, dims: int) -> None:
    shape = (1, 2, *([5] * dims))
    for op in ("MaxPool", "AveragePool"):
        model, feeds = node_model(
            op, [("x", floats(rng, *shape), False)], opset=22, kernel_shape=[2] * dims, strides=[2] * dims, ceil_mode=1
        )
        assert_matches_ort(model, feeds)


def test_max_pool_uint8(rng: np.random.Generator) -> None:
    x = rng.integers(0, 255, (1, 1, 5, 5)).astype(np.uint8)
    model, feeds = node_model("MaxPool", [("x", x, False)], opset=22, kernel_shape=[2, 2], pads=[1, 1, 0, 0])
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_pool(rng: np.random.Generator, p: int) -> None:
    model, feeds = node_model(
        "LpPool",
        [("x", floats(rng, 1, 2, 6, 6), False)],
        opset=22,
        kernel_shape=[3, 3],
        strides=[2, 2],
        pads=[1, 1, 1, 1],
        p=p,
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"])
def test_global(rng: np.random.Generator, op: str) -> None:
    model, feeds = node_model(op, [("x", floats(rng, 2, 3, 4, 5), False)], opset=22 if op != "GlobalLpPool" else 2)
    assert_matches_ort(model, feeds)


def test_max_unpool(rng: np.random.Generator) -> None:
    x = floats(rng, 1, 1, 2, 2)
    indices = np.array([[[[5, 7], [13, 15]]]], np.int64)
    model, feeds = node_model(
        "MaxUnpool", [("x", x, False), ("i", indices, False)], opset=22, kernel_shape=[2, 2], strides=[2, 2]
    )
    assert_matches_ort(model, feeds)
