"""CenterCropPad against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize(("shape", "axes"), [([5, 3, 4], None), ([2, 7], [1, 2]), ([6, 2], [-1, 0])])
@pytest.mark.parametrize("constant", [True, False])
def test_center_crop_pad(rng: np.random.Generator, shape: list[int], axes: list[int] | None, constant: bool) -> None:
    attrs = {} if axes is None else {"axes": axes}
    model, feeds = node_model(
        "CenterCropPad", [("x", floats(rng, 4, 4, 5), False), ("s", np.array(shape, np.int64), constant)], **attrs
    )
    assert_matches_ort(model, feeds)
