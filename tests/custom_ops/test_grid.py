"""GridSample and AffineGrid against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample(rng: np.random.Generator, mode: str, padding: str, align: int) -> None:
    x = floats(rng, 1, 2, 4, 5)
    grid = rng.uniform(-1.2, 1.2, (1, 3, 3, 2)).astype(np.float32)
    model, feeds = node_model(
        "GridSample",
        [("x", x, False), ("g", grid, False)],
        opset=22,
        mode=mode,
        padding_mode=padding,
        align_corners=align,
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("align", [0, 1])
@pytest.mark.parametrize("constant", [True, False])
def test_affine_grid(rng: np.random.Generator, dims: int, align: int, constant: bool) -> None:
    theta = floats(rng, 2, dims, dims + 1)
    size = np.array([2, 3, 4, 5] if dims == 2 else [2, 3, 3, 4, 5], np.int64)
    model, feeds = node_model("AffineGrid", [("t", theta, False), ("s", size, constant)], opset=20, align_corners=align)
    assert_matches_ort(model, feeds)
