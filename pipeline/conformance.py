"""Conformance of the import stage against the onnx package's own operator test cases.

``python -m pipeline.conformance [--baseline] [--ops Abs,Add] [--jobs N] [--timeout S] [--json PATH]``

Every node test case from ``onnx.backend.test.case.node.collect_testcases`` whose graph inputs and
outputs are plain tensors (no sequences, optionals or maps) runs first through ONNX Runtime (CPU);
the cases ONNX Runtime reproduces are the yardstick. Each of those then goes through
:func:`pipeline.onnx_to_torch` (fixups + our converters + onnx2torch's) and torch's outputs are
compared with the expected ones the way onnx's backend tests compare them (same shape, same dtype,
``rtol``/``atol`` of the case: 1e-3 and 1e-7). With ``--baseline`` the same cases also go through
plain ``onnx2torch.convert``, so the two can be compared op by op.

Cases run in worker processes forked from this one (they inherit the collected cases); a case that
runs past the time limit, or crashes its worker, is recorded as failed and the worker replaced.
The output ends with exactly one line ``N passed, M failed`` (our import stage, ONNX-Runtime-passing
cases only).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
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


def _short(exc: BaseException | str) -> str:
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


# ---------------------------------------------------------------- running one case


def run_ort(case: Case) -> str | None:
    """Whether ONNX Runtime (CPU) reproduces the case's expected outputs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(case.model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        for inputs, expected in case.data_sets:
            got = session.run(None, dict(zip(names, inputs, strict=False)))
            error = compare(expected, [np.asarray(g) for g in got], *tolerance(case))
            if error:
                return error
    except Exception as exc:
        return _short(exc)
    return None


def tolerance(case: Case) -> tuple[float, float]:
    """``(rtol, atol)`` of a case: its own, unless :data:`TOLERANCE_OVERRIDES` names it."""
    override = TOLERANCE_OVERRIDES.get(case.name)
    return (override[0], override[1]) if override else (case.rtol, case.atol)


def run_torch(case: Case, baseline: bool) -> tuple[str | None, bool]:
    """Convert the case's model (ours, or plain onnx2torch) and compare; also says if it warned."""
    import torch

    from custom_ops.common import from_numpy, to_numpy

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if baseline:
                from onnx2torch import convert

                module = convert(case.model)
            else:
                from pipeline import onnx_to_torch

                module = onnx_to_torch(case.model)
        except Exception as exc:
            return "convert: " + _short(exc), bool(caught)
        try:
            for inputs, expected in case.data_sets:
                with torch.no_grad():
                    result = module(*[from_numpy(a) for a in inputs])
                outputs = list(result) if isinstance(result, tuple | list) else [result]
                error = compare(expected, [to_numpy(o) for o in outputs], *tolerance(case))
                if error:
                    return error, bool(caught)
        except Exception as exc:
            return "run: " + _short(exc), bool(caught)
    warned = any(not issubclass(w.category, DeprecationWarning) for w in caught)
    return None, warned


def _worker(conn: Connection, cases: list[Case], baseline: bool) -> None:
    import faulthandler

    import torch

    faulthandler.disable()  # a crashing case is reported by its exit code, not a stack dump

    # torch.fx prints a traceback to stderr for every failing call; the outcome carries the error
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    while True:
        index = conn.recv()
        if index is None:
            return
        case = cases[index]
        ort_error = run_ort(case)
        conn.send(("ort", index, ort_error))
        if ort_error is None:
            start = time.perf_counter()
            conn.send(("ours", index, run_torch(case, baseline=False)))
            conn.send(("seconds", index, time.perf_counter() - start))
            if baseline:
                conn.send(("baseline", index, run_torch(case, baseline=True)))
        conn.send(("done", index, None))


# ---------------------------------------------------------------- the pool


@dataclass
class _Slot:
    process: Any
    conn: Connection
    index: int | None = None
    deadline: float = 0.0


def run_cases(cases: list[Case], baseline: bool, jobs: int, timeout: float) -> list[Outcome]:
    """Run every case in ``jobs`` forked workers; a case past ``timeout`` seconds fails and its worker is replaced."""
    context = multiprocessing.get_context("fork")
    outcomes = [Outcome(c.name, c.op) for c in cases]
    pending = list(range(len(cases)))[::-1]
    slots: list[_Slot] = []

    def start() -> _Slot:
        parent, child = context.Pipe()
        process = context.Process(target=_worker, args=(child, cases, baseline), daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    def give(slot: _Slot) -> None:
        if pending:
            slot.index = pending.pop()
            slot.deadline = time.monotonic() + timeout
            slot.conn.send(slot.index)
        else:
            slot.index = None

    def record_death(slot: _Slot, why: str) -> None:
        assert slot.index is not None
        outcome = outcomes[slot.index]
        for stage in ("ort", "ours", "baseline"):
            if getattr(outcome, stage) == "not run" and (stage != "baseline" or baseline):
                setattr(outcome, stage, why)
                break

    for _ in range(max(1, min(jobs, len(cases)))):
        slot = start()
        slots.append(slot)
        give(slot)

    while any(s.index is not None for s in slots):
        busy = [s for s in slots if s.index is not None]
        ready = wait([s.conn for s in busy], timeout=max(0.05, min(s.deadline for s in busy) - time.monotonic()))
        for slot in busy:
            if slot.conn in ready:
                try:
                    kind, index, value = slot.conn.recv()
                except (EOFError, OSError):
                    code = slot.process.exitcode
                    slot.process.join(timeout=5)
                    code = slot.process.exitcode if code is None else code
                    record_death(slot, f"worker crashed (exit code {code})")
                    replacement = start()
                    slots[slots.index(slot)] = replacement
                    give(replacement)
                    continue
                outcome = outcomes[index]
                if kind == "ort":
                    outcome.ort = value
                elif kind == "ours":
                    outcome.ours, outcome.warned = value
                elif kind == "baseline":
                    outcome.baseline = value[0]
                elif kind == "seconds":
                    outcome.seconds = value
                elif kind == "done":
                    give(slot)
                slot.deadline = time.monotonic() + timeout if kind != "done" else slot.deadline
            elif time.monotonic() > slot.deadline:
                slot.process.kill()
                slot.process.join(timeout=5)
                record_death(slot, f"timed out after {timeout:g} s")
                slot.conn.close()
                replacement = start()
                slots[slots.index(slot)] = replacement
                give(replacement)
    for slot in slots:
        try:
            slot.conn.send(None)
        except OSError:
            pass
        slot.process.join(timeout=5)
        if slot.process.is_alive():
            slot.process.kill()
    return outcomes


# ---------------------------------------------------------------- report


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, r)) for r in rows]
    return "\n".join(lines)


def report(outcomes: list[Outcome], total: int, baseline: bool, seconds: float) -> str:
    """The failure table by op, the counts, and the closing ``N passed, M failed`` line."""
    selected = [o for o in outcomes if o.ort is None]
    by_op: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in selected:
        by_op[outcome.op].append(outcome)
    rows = []
    for op in sorted(by_op, key=str.lower):
        failed = [o for o in by_op[op] if o.ours is not None]
        if not failed and not baseline:
            continue
        base = f"{sum(o.baseline is None for o in by_op[op])}" if baseline else None
        first = failed[0].ours if failed else ""
        row: tuple[Any, ...] = (op, len(failed), len(by_op[op]))
        if baseline:
            row += (len(by_op[op]) - len(failed), base)
        rows.append((*row, first))
    lines = []
    header: tuple[str, ...] = ("op", "failed", "of")
    if baseline:
        header += ("ours pass", "onnx2torch pass")
    header += ("first error",)
    if rows:
        lines += ["", "Failures by op" + (" (and the plain onnx2torch baseline)" if baseline else "") + ":", ""]
        lines.append(_table(rows, header))
    passed = sum(o.ours is None for o in selected)
    warned = Counter(o.op for o in selected if o.ours is None and o.warned)
    lines.append("")
    lines.append(
        f"{len(outcomes)} tensor-only cases of {total} collected; ONNX Runtime (CPU) reproduces {len(selected)}."
    )
    if warned:
        lines.append(
            "passing cases that emitted warnings: " + ", ".join(f"{op} {n}" for op, n in sorted(warned.items()))
        )
    overridden = sorted(o.name for o in selected if o.name in TOLERANCE_OVERRIDES)
    if overridden:
        lines.append(f"tolerance overrides (TOLERANCE_OVERRIDES, with reasons): {', '.join(overridden)}")
    if baseline:
        plain = sum(o.baseline is None for o in selected)
        lines.append(f"plain onnx2torch.convert: {plain} of {len(selected)} pass")
    lines.append(f"time: {seconds:.0f} s")
    lines.append(f"{passed} passed, {len(selected) - passed} failed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit code 0 when the run completed (whatever the counts)."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.conformance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", action="store_true", help="also run plain onnx2torch.convert, side by side")
    parser.add_argument("--ops", help="comma-separated op types to run (default: all)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per case")
    parser.add_argument("--json", type=Path, help="write every case's outcome to this JSON file")
    parser.add_argument("--list", action="store_true", help="also list every failing case")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    ops = {s.strip() for s in args.ops.split(",") if s.strip()} if args.ops else None
    cases, total = collect_cases(ops)
    if not cases:
        print(f"error: no tensor-only test cases for ops {sorted(ops or [])}", file=sys.stderr)
        return 2
    outcomes = run_cases(cases, args.baseline, args.jobs, args.timeout)
    seconds = time.perf_counter() - start
    if args.list:
        for o in outcomes:
            if o.ort is None and o.ours is not None:
                print(f"FAIL {o.name} [{o.op}]: {o.ours}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {"name": o.name, "op": o.op, "ort": o.ort, "ours": o.ours, "seconds": round(o.seconds, 3)}
            | ({"onnx2torch": o.baseline} if args.baseline else {})
            for o in outcomes
        ]
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(report(outcomes, total, args.baseline, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
