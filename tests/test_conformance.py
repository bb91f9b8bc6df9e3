"""The conformance runner's plumbing: case selection, comparison, time limit, crash isolation, report."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from pipeline import conformance
from tests.conftest import ROOT


def _abs_case(name: str) -> conformance.Case:
    graph = helper.make_graph(
        [helper.make_node("Abs", ["x"], ["y"])],
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 10
    x = np.array([-1.0, 2.0, -3.0], np.float32)
    return conformance.Case(name, "Abs", model, [([x], [np.abs(x)])], 1e-3, 1e-7)


def test_compare_follows_onnx_backend_rules() -> None:
    ref = np.array([1.0, 2.0], np.float32)
    assert conformance.compare([ref], [ref + 1e-5], 1e-3, 1e-7) is None
    assert "values differ" in (conformance.compare([ref], [ref + 1.0], 1e-3, 1e-7) or "")
    assert "dtype" in (conformance.compare([ref], [ref.astype(np.float64)], 1e-3, 1e-7) or "")
    assert "shape" in (conformance.compare([ref], [ref[:1]], 1e-3, 1e-7) or "")
    assert "outputs" in (conformance.compare([ref], [], 1e-3, 1e-7) or "")


def test_hanging_and_crashing_cases_do_not_stop_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    real = conformance.run_torch

    def flaky(case: conformance.Case, baseline: bool) -> tuple[str | None, bool]:
        if case.name == "hangs":
            time.sleep(60)
        if case.name == "crashes":
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(case, baseline)

    monkeypatch.setattr(conformance, "run_torch", flaky)  # the forked workers inherit it
    cases = [_abs_case("hangs"), _abs_case("fine"), _abs_case("crashes"), _abs_case("also_fine")]
    start = time.monotonic()
    outcomes = {o.name: o for o in conformance.run_cases(cases, baseline=False, jobs=2, timeout=3)}
    assert time.monotonic() - start < 50
    assert outcomes["fine"].ours is None and outcomes["also_fine"].ours is None
    assert outcomes["hangs"].ort is None and "timed out" in (outcomes["hangs"].ours or "")
    assert "crashed" in (outcomes["crashes"].ours or "")
    report = conformance.report(list(outcomes.values()), 4, baseline=False, seconds=1.0)
    assert report.splitlines()[-1] == "2 passed, 2 failed"


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
