"""``python -m pipeline.conformance`` end to end: selection by op, the JSON rows and the closing count line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_runner_on_a_few_ops(tmp_path: Path) -> None:
    """End to end on two ops: Trilu (onnx2torch has no converter, ours does) and Abs (both pass)."""
    out = tmp_path / "cases.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.conformance", "--ops", "Trilu,Abs", "--baseline", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    match = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1])
    assert match, lines[-1]
    rows = json.loads(out.read_text())
    selected = [r for r in rows if r["ort"] is None]
    assert {r["op"] for r in rows} == {"Trilu", "Abs"}
    assert int(match.group(1)) == sum(r["ours"] is None for r in selected)
    assert int(match.group(1)) + int(match.group(2)) == len(selected)
    trilu = [r for r in selected if r["op"] == "Trilu"]
    assert trilu and all(r["ours"] is None for r in trilu)
    assert all(r["onnx2torch"] is not None for r in trilu)
    assert any(line.startswith("plain onnx2torch.convert:") for line in lines)
    assert sum(bool(re.fullmatch(r"\d+ passed, \d+ failed", line)) for line in lines) == 1


def test_custom_ops_import_leaves_torch_unloaded() -> None:
    """The TensorFlow worker imports custom_ops for its TF handlers: torchvision after TF crashes,
    and torch alone costs seconds and half a gigabyte per export."""
    code = (
        "import sys, custom_ops; custom_ops.tf2onnx_handlers(); custom_ops.onnx_functions(17); "
        "print(sorted(m for m in ('torch', 'torchvision', 'onnx2torch') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_every_op_with_a_tensorflow_side_is_in_tf_ops() -> None:
    """An op left out of TF_OPS would silently lose its TF handler or its ONNX Runtime reference."""
    from custom_ops import TF_OPS, all_ops

    needed = {op.name for op in all_ops() if op.tf or op.onnx_function is not None}
    assert needed == {op.name for op in TF_OPS}
    assert {op.name for op in TF_OPS} <= {op.name for op in all_ops()}
