"""Det against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
@pytest.mark.parametrize("opset", [11, 22])
def test_det(rng: np.random.Generator, shape: tuple, opset: int) -> None:
    model, feeds = node_model("Det", [("x", floats(rng, *shape), False)], opset=opset)
    assert_matches_ort(model, feeds)
