"""Small ONNX graphs and the "ONNX Runtime computes the same" check for the graph-fixup tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline.fixups import FixupContext
from tests.onnx_checks import run_ort, type_outputs


def model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, tuple[list[Any], int]],
    outputs: list[str],
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = 17,
    ir_version: int = 8,
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "fixup_test",
        [helper.make_tensor_value_info(n, dtype, shape) for n, (shape, dtype) in inputs.items()],
        [helper.make_empty_tensor_value_info(o) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in (initializers or {}).items()],
    )
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    made.ir_version = ir_version
    return type_outputs(made)


def apply(fn: Any, m: onnx.ModelProto, context: FixupContext | None = None) -> tuple[onnx.ModelProto, list[str]]:
    """Run one fixup; it must leave ``m`` as it was, and its result must pass the ONNX checker."""
    before = m.SerializeToString(deterministic=True)
    result = fn(m, context or FixupContext())
    assert m.SerializeToString(deterministic=True) == before, "the fixup changed its input in place"
    assert (result.model is m) == (not result.changes), "a fixup that declines returns its input, else a new model"
    onnx.checker.check_model(result.model)
    return result.model, result.changes


def assert_same_outputs(before: onnx.ModelProto, after: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> None:
    for a, b in zip(run_ort(before, feeds), run_ort(after, feeds), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
