"""The conformance pool: time limit and crash isolation of the worker processes, and the report's count line."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from onnx import TensorProto, helper

from pipeline import conformance
from pipeline.conformance import runners


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


def test_hanging_and_crashing_cases_do_not_stop_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    real = conformance.run_torch

    def flaky(case: conformance.Case, baseline: bool) -> tuple[str | None, bool]:
        if case.name == "hangs":
            time.sleep(60)
        if case.name == "crashes":
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(case, baseline)

    monkeypatch.setattr(runners, "run_torch", flaky)  # the forked workers inherit it
    cases = [_abs_case("hangs"), _abs_case("fine"), _abs_case("crashes"), _abs_case("also_fine")]
    start = time.monotonic()
    outcomes = {o.name: o for o in conformance.run_cases(cases, baseline=False, jobs=2, timeout=3)}
    assert time.monotonic() - start < 50
    assert outcomes["fine"].ours is None and outcomes["also_fine"].ours is None
    assert outcomes["hangs"].ort is None and "timed out" in (outcomes["hangs"].ours or "")
    assert "crashed" in (outcomes["crashes"].ours or "")
    report = conformance.report(list(outcomes.values()), 4, baseline=False, seconds=1.0)
    assert report.splitlines()[-1] == "2 passed, 2 failed"
