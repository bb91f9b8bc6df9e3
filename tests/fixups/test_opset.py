"""plan_opset: a model at an opset with missing converters moves to the nearest opset without gaps."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from pipeline.fixups import FixupContext
from pipeline.fixups.opset import converter_available, plan_opset
from pipeline.onnx2torch_versions import ONNX2TORCH, live_table
from pipeline.onnx_utils import opset_of
from tests.fixups.onnx_models import apply, assert_same_outputs, model

AXES = {"axes": np.array([1], np.int64)}


def _reduce_mean_18(extra: list[object] | None = None) -> object:
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1, noop_with_empty_axes=0),
        helper.make_node("Sub", ["x", "m"], ["y"]),
        *(extra or []),
    ]
    outputs = ["y"] if not extra else ["z"]
    inits = dict(AXES)
    if extra:
        inits["pads"] = np.array([0, 1, 0, 1], np.int64)
    return model(nodes, {"x": ([2, 5], TensorProto.FLOAT)}, outputs, initializers=inits, opset=18)


def _without(*missing: str) -> FixupContext:
    def supported(domain: str, op: str, version: int) -> bool:
        return f"{op}-{version}" not in missing and converter_available(domain, op, version)

    return FixupContext(supported=supported)


def test_fires_when_an_op_lacks_a_converter_at_its_opset() -> None:
    before = _reduce_mean_18()
    after, changes = apply(plan_opset, before, _without("ReduceMean-18"))
    assert changes == ["opset 18 -> 17: no converter for ReduceMean-18 at 18"]
    assert opset_of(after) == 17
    reduce = next(n for n in after.graph.node if n.op_type == "ReduceMean")
    assert {a.name for a in reduce.attribute} == {"axes", "keepdims"}  # the stale noop attribute is gone
    x = np.random.default_rng(0).normal(size=(2, 5)).astype(np.float32)
    assert_same_outputs(before, after, {"x": x})


def test_declines_when_every_op_has_a_converter() -> None:
    before = _reduce_mean_18()
    after, changes = apply(plan_opset, before, FixupContext(supported=lambda d, o, v: True))
    assert changes == [] and opset_of(after) == 18


def test_declines_when_no_opset_fits() -> None:
    """Pad-18 has no down-conversion in onnx's version converter: the import stage reports the gap."""
    pad = helper.make_node("Pad", ["y", "pads"], ["z"])
    after, changes = apply(plan_opset, _reduce_mean_18([pad]), _without("ReduceMean-18"))
    assert changes == [] and opset_of(after) == 18


def test_onnx2torch_snapshot_matches_the_installed_registry() -> None:
    assert live_table() == ONNX2TORCH
