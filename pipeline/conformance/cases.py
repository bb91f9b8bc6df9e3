"""The conformance cases: onnx's node test cases with plain tensor inputs and outputs, and how to compare them.

Every node test case from ``onnx.backend.test.case.node.collect_testcases`` whose graph inputs and
outputs are plain tensors (no sequences, optionals or maps) is a :class:`Case`; :func:`compare`
holds outputs to a case's expected ones the way onnx's backend tests do (same shape, same dtype,
``rtol``/``atol`` of the case: 1e-3 and 1e-7, unless :data:`TOLERANCE_OVERRIDES` says why not).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

DEFAULT_TIMEOUT = 30.0
MAX_MESSAGE = 160

# Case name -> (rtol, atol, why). Only for documented numerical reasons; every other case is held
# to the tolerance onnx's own backend tests use.
TOLERANCE_OVERRIDES: dict[str, tuple[float, float, str]] = {
    "test_attention_4d_causal_fp16_expanded": (
        2e-3,
        1e-7,
        "float16 end to end: rtol 1e-3 is about one fp16 ulp; the expected values are themselves 1.2-1.4 ulp "
        "from the float64 result, torch's 0.6-0.8 ulp (measured on the two differing elements)",
    ),
}


@dataclass
class Case:
    """One onnx node test case: a model and its (inputs, expected outputs) data sets."""

    name: str
    op: str
    model: onnx.ModelProto
    data_sets: list[tuple[list[np.ndarray], list[np.ndarray]]]
    rtol: float
    atol: float


@dataclass
class Outcome:
    """What happened to one case: ``None`` means passed, a string is the first error."""

    name: str
    op: str
    ort: str | None = "not run"
    ours: str | None = "not run"
    baseline: str | None = "not run"
    seconds: float = 0.0
    warned: bool = False


def _is_tensor_type(value: onnx.ValueInfoProto) -> bool:
    return value.type.HasField("tensor_type")


def _as_array(item: Any) -> np.ndarray | None:
    if isinstance(item, onnx.TensorProto):
        return numpy_helper.to_array(item)
    if isinstance(item, np.ndarray):
        return item
    if isinstance(item, np.generic | int | float | bool):
        return np.asarray(item)
    return None  # a sequence, an optional, a map


def collect_cases(ops: set[str] | None = None) -> tuple[list[Case], int]:
    """The tensor-only node test cases (optionally of some ops only) and how many cases exist in all."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        raw = collect_testcases(None)
    single_op = {c.name: c.model.graph.node[0].op_type for c in raw if len(c.model.graph.node) == 1}
    cases = []
    for test in raw:
        graph = test.model.graph
        if not all(_is_tensor_type(v) for v in [*graph.input, *graph.output]):
            continue
        data_sets = []
        for inputs, outputs in test.data_sets:
            ins = [_as_array(x) for x in inputs]
            outs = [_as_array(x) for x in outputs]
            if any(a is None for a in [*ins, *outs]):
                break
            data_sets.append((ins, outs))
        else:
            base = test.name.split("_expanded")[0]
            op = single_op.get(base) or single_op.get(test.name) or graph.node[0].op_type
            if ops and op not in ops:
                continue
            cases.append(Case(test.name, op, test.model, data_sets, test.rtol, test.atol))
    return cases, len(raw)


# ---------------------------------------------------------------- comparing outputs


def short(exc: BaseException | str) -> str:
    if isinstance(exc, BaseException):
        text = str(exc).strip()
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    else:
        text = exc
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def compare(expected: list[np.ndarray], got: list[np.ndarray], rtol: float, atol: float) -> str | None:
    """onnx's backend-test comparison; ``None`` when ``got`` matches, else what differs first."""
    if len(got) != len(expected):
        return f"{len(got)} outputs, expected {len(expected)}"
    for i, (ref, out) in enumerate(zip(expected, got, strict=True)):
        if tuple(out.shape) != tuple(ref.shape):
            return f"output {i}: shape {tuple(out.shape)}, expected {tuple(ref.shape)}"
        if ref.dtype == object:
            if not np.array_equal(out.astype(object), ref):
                return f"output {i}: strings differ"
            continue
        if out.dtype != ref.dtype:
            return f"output {i}: dtype {out.dtype}, expected {ref.dtype}"
        out_rtol = rtol
        if ref.dtype.name == "bfloat16":
            out_rtol = max(rtol, 2**-6)  # two bfloat16 ulps, as onnx's runner
        if ref.dtype.kind not in "biufc":
            out, ref = out.astype(np.float32), ref.astype(np.float32)
        try:
            np.testing.assert_allclose(out, ref, rtol=out_rtol, atol=atol)
        except AssertionError:
            with np.errstate(all="ignore"):
                a, b = out.astype(np.float64), ref.astype(np.float64)
                bad = ~np.isclose(a, b, rtol=out_rtol, atol=atol, equal_nan=True)
                diff = np.abs(a - b)[bad]
            worst = float(np.nanmax(diff)) if diff.size else float("nan")
            return f"output {i}: {int(bad.sum())}/{ref.size} values differ (max abs diff {worst:.3g})"
    return None


def tolerance(case: Case) -> tuple[float, float]:
    """``(rtol, atol)`` of a case: its own, unless :data:`TOLERANCE_OVERRIDES` names it."""
    override = TOLERANCE_OVERRIDES.get(case.name)
    return (override[0], override[1]) if override else (case.rtol, case.atol)
