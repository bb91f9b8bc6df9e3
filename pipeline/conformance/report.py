"""The conformance summary: failures by op, the counts, and the closing ``N passed, M failed`` line."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from pipeline.conformance.cases import TOLERANCE_OVERRIDES, Outcome
from pipeline.rendering.text import text_table


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
        lines.append(text_table(rows, header))
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
