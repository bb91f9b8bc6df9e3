"""onnx2torch's converters reused at the newer versions that only added element types."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from custom_ops.newer_versions import BRIDGED
from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort

CASES: list[tuple[str, int, dict[str, Any], tuple[int, ...]]] = [
    ("EyeLike", 22, {"k": 1}, (3, 4)),
    ("InstanceNormalization", 22, {}, (2, 3, 4, 5)),
    ("Identity", 21, {}, (2, 3)),
    ("Identity", 25, {}, (4,)),
    ("Transpose", 21, {"perm": [2, 0, 1]}, (2, 3, 4)),
    ("Transpose", 24, {}, (2, 3, 4)),
]


def test_every_bridged_op_is_tested() -> None:
    tested = {op for op, *_ in CASES} | {"RoiAlign"}  # RoiAlign: covered by onnx's conformance cases
    assert {op for op, *_ in BRIDGED} <= tested


@pytest.mark.parametrize(("op", "opset", "attrs", "shape"), CASES)
def test_bridged(rng: np.random.Generator, op: str, opset: int, attrs: dict[str, Any], shape: tuple) -> None:
    inputs = [("x", floats(rng, *shape), False)]
    if op == "InstanceNormalization":
        inputs += [("scale", floats(rng, shape[1]), True), ("bias", floats(rng, shape[1]), True)]
    model, feeds = node_model(op, inputs, opset=opset, **attrs)
    assert_matches_ort(model, feeds)
