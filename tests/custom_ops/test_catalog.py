"""custom_ops/catalog.py lists every op file: an op left out would silently never convert anything."""

from __future__ import annotations

import importlib
from pathlib import Path

from custom_ops.base import CustomOp
from custom_ops.catalog import ALL_OPS

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
