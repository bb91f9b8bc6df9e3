"""The fixup runners: a fixup that breaks is named, with the ones that ran before it."""

from __future__ import annotations

from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper

from pipeline.errors import InternalError, UnsupportedError
from pipeline.fixups import DEFAULT_FIXUPS, TRACE_FIXUPS
from pipeline.fixups.base import Fixup, FixupContext, FixupResult, registry, rewrite_copy, run_fixups
from pipeline.fixups.trace import KIND, STAGE
from pipeline.registry import Registry


def _model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def renames_output(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Renames the node.

    A test fixup: it exists for the runner tests.
    """

    def rename(working: onnx.ModelProto) -> list[str]:
        working.graph.node[0].name = "relu"
        return ["named the node 'relu'"]

    return rewrite_copy(model, rename)


def declines(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Declines.

    A test fixup: it exists for the runner tests.
    """
    return FixupResult(model, [])


def breaks(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Breaks.

    A test fixup: it exists for the runner tests.
    """
    raise KeyError("missing")


def refuses(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Refuses with the pipeline's own error.

    A test fixup: it exists for the runner tests.
    """
    raise UnsupportedError("no such thing", stage="fixups")


def test_records_what_fired_and_leaves_the_input_as_it_was() -> None:
    model = _model()
    fixed, records = run_fixups(model, registry("fixup", (renames_output, declines)), FixupContext())
    assert [r.name for r in records] == ["renames_output"] and records[0].changes == ["named the node 'relu'"]
    assert fixed.graph.node[0].name == "relu" and model.graph.node[0].name == ""
    same, records = run_fixups(model, [Fixup.of(declines)], FixupContext())
    assert same is model and records == []


def test_a_broken_fixup_is_named_with_the_ones_before_it() -> None:
    with pytest.raises(
        InternalError, match=r"fixup 'breaks' failed: KeyError: 'missing' \(after: renames_output, declines\)"
    ):
        run_fixups(_model(), [Fixup.of(renames_output), Fixup.of(declines), Fixup.of(breaks)], FixupContext())
    with pytest.raises(InternalError, match=r"fixup 'breaks' failed: .* \(first fixup\)"):
        run_fixups(_model(), [Fixup.of(breaks)], FixupContext())
    with pytest.raises(UnsupportedError, match="no such thing"):  # the pipeline's own errors pass through
        run_fixups(_model(), [Fixup.of(declines), Fixup.of(refuses)], FixupContext())


def doubles(function: Any, context: FixupContext) -> FixupResult[Any]:
    """Doubles.

    A test fixup: it exists for the runner tests.
    """
    return FixupResult(function * 2, ["doubled"])


def trace_breaks(function: Any, context: FixupContext) -> FixupResult[Any]:
    """Breaks.

    A test fixup: it exists for the runner tests.
    """
    raise ValueError("bad trace")


def test_trace_fixups_chain_and_name_the_one_that_breaks() -> None:
    result, records = run_fixups(3, [Fixup.of(doubles), Fixup.of(doubles)], kind=KIND, stage=STAGE)
    assert result == 12 and [r.changes for r in records] == [["doubled"], ["doubled"]]
    with pytest.raises(
        InternalError, match=r"trace fixup 'trace_breaks' failed: ValueError: bad trace \(after: doubles\)"
    ) as caught:
        run_fixups(3, [Fixup.of(doubles), Fixup.of(trace_breaks)], kind=KIND, stage=STAGE)
    assert caught.value.stage == "export"


def test_every_registry_of_fixups_is_a_registry_of_documented_fixups() -> None:
    for fixups in (DEFAULT_FIXUPS, TRACE_FIXUPS):
        assert isinstance(fixups, Registry) and len(fixups) > 0
        for name, fixup in fixups.items():
            assert isinstance(fixup, Fixup) and fixup.name == name and fixup.doc.summary and fixup.doc.reason
    assert list(DEFAULT_FIXUPS.without("cap_ir_version")) == [n for n in DEFAULT_FIXUPS if n != "cap_ir_version"]
    with pytest.raises(ValueError, match="already registered"):
        DEFAULT_FIXUPS.plus(("cap_ir_version", DEFAULT_FIXUPS.get("cap_ir_version")))
