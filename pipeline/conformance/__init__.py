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
import os
import sys
import time
from pathlib import Path

from pipeline.conformance.cases import (
    DEFAULT_TIMEOUT,
    TOLERANCE_OVERRIDES,
    Case,
    Outcome,
    collect_cases,
    compare,
    tolerance,
)
from pipeline.conformance.pool import run_cases
from pipeline.conformance.report import report
from pipeline.conformance.runners import run_ort, run_torch


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


__all__ = [
    "DEFAULT_TIMEOUT",
    "TOLERANCE_OVERRIDES",
    "Case",
    "Outcome",
    "collect_cases",
    "compare",
    "main",
    "report",
    "run_cases",
    "run_ort",
    "run_torch",
    "tolerance",
]
