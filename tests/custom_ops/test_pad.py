"""Pad against ONNX Runtime: constant pads (all modes) and pads/axes computed at run time."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("constant", [True, False])
@pytest.mark.parametrize("axes", [None, [1, -1]])
def test_pad(rng: np.random.Generator, mode: str, constant: bool, axes: list[int] | None) -> None:
    pads = [1, 2, 2, 0] if axes is not None else [0, 1, 2, 0, 2, 1]
    axes_value = None if axes is None else np.array(axes, np.int64)
    value = np.array(1.5, np.float32) if mode == "constant" else None
    model, feeds = node_model(
        "Pad",
        [
            ("x", floats(rng, 2, 3, 4), False),
            ("p", np.array(pads, np.int64), constant),
            ("v", value, constant),
            ("a", axes_value, constant),
        ],
        opset=19,
        mode=mode,
    )
    assert_matches_ort(model, feeds)
