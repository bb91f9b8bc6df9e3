"""custom_ops/catalog.py lists every op file: an op left out would silently never convert anything."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from custom_ops.base import CustomOp
from custom_ops.catalog import ALL_OPS
from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort

PACKAGE = Path(__file__).resolve().parents[2] / "custom_ops"
# modules that define no op: the package, its contract, the lists, and helpers shared by ops
NOT_OPS = {"__init__", "base", "catalog", "tf_ops", "common"}


def test_every_op_file_is_in_the_catalog() -> None:
    op_modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in NOT_OPS and not p.stem.startswith("_"))
    listed = {id(op) for op in ALL_OPS}
    missing = []
    for name in op_modules:
        module = importlib.import_module(f"custom_ops.{name}")
        ops = [value for value in vars(module).values() if isinstance(value, CustomOp)]
        assert ops, f"custom_ops/{name}.py defines no CustomOp: add it to NOT_OPS or name it _{name}.py"
        missing += [f"{name}.{op.name}" for op in ops if id(op) not in listed]
    assert missing == [], f"op files missing from custom_ops/catalog.py: {missing}"
    assert len(op_modules) >= 50  # the walk saw the package


def test_the_op_check_fails_when_onnx2torch_converted_the_op(rng: np.random.Generator) -> None:
    """What catches a deleted converter: a node onnx2torch converts fails :func:`assert_matches_ort`."""
    model, feeds = node_model("Relu", [("x", floats(rng, 2, 3), False)], opset=14)
    with pytest.raises(AssertionError, match=r"Relu: converted by \{'onnx2torch'\}"):
        assert_matches_ort(model, feeds)
    assert_matches_ort(model, feeds, ours=())
