"""The fixup runners: a fixup that breaks is named, with the ones that ran before it."""

from __future__ import annotations

from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper

from pipeline.errors import InternalError, UnsupportedError
from pipeline.fixups.base import Fixup, FixupContext, run_fixups
from pipeline.fixups.trace import TraceFixup, run_trace_fixups


def _model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def renames_output(model: onnx.ModelProto, context: FixupContext) -> list[str]:
    """Renames the node.

    A test fixup: it exists for the runner tests.
    """
    model.graph.node[0].name = "relu"
    return ["named the node 'relu'"]


def declines(model: onnx.ModelProto, context: FixupContext) -> list[str]:
    """Declines.

    A test fixup: it exists for the runner tests.
    """
    return []


def breaks(model: onnx.ModelProto, context: FixupContext) -> list[str]:
    """Breaks.

    A test fixup: it exists for the runner tests.
    """
    raise KeyError("missing")


def refuses(model: onnx.ModelProto, context: FixupContext) -> list[str]:
    """Refuses with the pipeline's own error.

    A test fixup: it exists for the runner tests.
    """
    raise UnsupportedError("no such thing", stage="fixups")


def test_records_what_fired_on_a_copy() -> None:
    model = _model()
    fixed, records = run_fixups(model, [Fixup.of(renames_output), Fixup.of(declines)], FixupContext())
    assert [r.name for r in records] == ["renames_output"] and records[0].changes == ["named the node 'relu'"]
    assert fixed.graph.node[0].name == "relu" and model.graph.node[0].name == ""


def test_a_broken_fixup_is_named_with_the_ones_before_it() -> None:
    with pytest.raises(
        InternalError, match=r"fixup 'breaks' failed: KeyError: 'missing' \(after: renames_output, declines\)"
    ):
        run_fixups(_model(), [Fixup.of(renames_output), Fixup.of(declines), Fixup.of(breaks)], FixupContext())
    with pytest.raises(InternalError, match=r"fixup 'breaks' failed: .* \(first fixup\)"):
        run_fixups(_model(), [Fixup.of(breaks)], FixupContext())
    with pytest.raises(UnsupportedError, match="no such thing"):  # the pipeline's own errors pass through
        run_fixups(_model(), [Fixup.of(declines), Fixup.of(refuses)], FixupContext())


def doubles(function: Any) -> tuple[Any, list[str]]:
    """Doubles.

    A test fixup: it exists for the runner tests.
    """
    return function * 2, ["doubled"]


def trace_breaks(function: Any) -> tuple[Any, list[str]]:
    """Breaks.

    A test fixup: it exists for the runner tests.
    """
    raise ValueError("bad trace")


def test_trace_fixups_chain_and_name_the_one_that_breaks() -> None:
    result, records = run_trace_fixups(3, [TraceFixup.of(doubles), TraceFixup.of(doubles)])
    assert result == 12 and [r.changes for r in records] == [["doubled"], ["doubled"]]
    with pytest.raises(
        InternalError, match=r"trace fixup 'trace_breaks' failed: ValueError: bad trace \(after: doubles\)"
    ):
        run_trace_fixups(3, [TraceFixup.of(doubles), TraceFixup.of(trace_breaks)])
