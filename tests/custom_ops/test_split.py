"""Split against ONNX Runtime: sizes as attribute/input, equal parts, num_outputs; export."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, assert_exports_with_dynamic_batch, floats, node_model
from tests.onnx_checks import assert_matches_ort


def _outputs(n: int) -> list[tuple[str, int]]:
    return [(f"y{i}", TensorProto.FLOAT) for i in range(n)]


@pytest.mark.parametrize("sizes", [[2, 3, 1], [6], [1, 1, 4]])
@pytest.mark.parametrize("constant", [True, False])
def test_sizes_input(rng: np.random.Generator, sizes: list[int], constant: bool) -> None:
    model, feeds = node_model(
        "Split",
        [("x", floats(rng, 2, 6), False), ("s", np.array(sizes, np.int64), constant)],
        outputs=_outputs(len(sizes)),
        opset=13,
        axis=1,
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize(("length", "parts"), [(6, 3), (7, 3), (5, 2), (4, 4)])
def test_num_outputs(rng: np.random.Generator, length: int, parts: int) -> None:
    model, feeds = node_model(
        "Split", [("x", floats(rng, 2, length), False)], outputs=_outputs(parts), opset=18, axis=-1, num_outputs=parts
    )
    assert_matches_ort(model, feeds)


def test_equal_parts_and_attribute(rng: np.random.Generator) -> None:
    model, feeds = node_model("Split", [("x", floats(rng, 6, 2), False)], outputs=_outputs(3), opset=13)
    assert_matches_ort(model, feeds)
    model, feeds = node_model("Split", [("x", floats(rng, 6, 2), False)], outputs=_outputs(2), opset=11, split=[4, 2])
    assert_matches_ort(model, feeds)


def test_exports_with_dynamic_batch(rng: np.random.Generator) -> None:
    model, feeds = node_model(
        "Split", [("x", floats(rng, 2, 7, 3), False)], outputs=_outputs(3), opset=18, axis=1, num_outputs=3
    )
    assert_exports_with_dynamic_batch(model, feeds)
