"""Shape (with start/end) and Size against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize(("start", "end"), [(None, None), (1, None), (-1, None), (0, -1), (1, 2), (-10, 10), (3, 1)])
@pytest.mark.parametrize("opset", [15, 21, 24])
def test_shape_slices(rng: np.random.Generator, start: int | None, end: int | None, opset: int) -> None:
    attrs = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    model, feeds = node_model(
        "Shape", [("x", floats(rng, 2, 3, 4), False)], opset=opset, output_type=TensorProto.INT64, **attrs
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("shape", [(2, 3, 4), (7,), ()])
def test_size(rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    model, feeds = node_model("Size", [("x", floats(rng, *shape), False)], opset=21, output_type=TensorProto.INT64)
    assert_matches_ort(model, feeds)
