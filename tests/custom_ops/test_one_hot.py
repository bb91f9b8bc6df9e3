"""OneHot against ONNX Runtime: negative and out-of-range indices, every axis, float and int values."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize(("values", "elem"), [([0.0, 1.0], TensorProto.FLOAT), ([-2, 7], TensorProto.INT64)])
def test_one_hot(axis: int, values: list, elem: int) -> None:
    indices = np.array([[0, 3, -1, 5], [-5, 2, 4, 1]], np.int64)  # -1 wraps to 3; 5 and -5 are off rows
    value_array = np.array(values, np.float32 if elem == TensorProto.FLOAT else np.int64)
    model, feeds = node_model(
        "OneHot",
        [("indices", indices, False), ("depth", np.array(4, np.int64), True), ("values", value_array, True)],
        opset=11,
        output_type=elem,
        axis=axis,
    )
    assert_matches_ort(model, feeds)
