"""The *Training* section of report.md and report.html (the JSON section is the check's result)."""

from __future__ import annotations

import html
from typing import Any

CHECKS = (("grad_inference", "grad (eval)"), ("grad_training", "grad (train)"), ("grad_fit", "grad (fit loss)"))
CHECKS += (("update", "one-step change"),)


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "-"
    if "max_in_spread" not in entry:
        return "FAIL: " + str(entry.get("reason", ""))
    return f"{entry['max_in_spread']:.2e}" + ("" if entry["passed"] else " FAIL")


def summary_lines(training: dict[str, Any]) -> list[str]:
    """Plain lines shared by both renderings."""
    if training.get("passed") is None:
        return [f"Skipped: {training.get('skipped', '')}"]
    lines = [f"Passed: {'yes' if training['passed'] else 'NO'}"]
    if training.get("first_divergence"):
        lines.append(f"First divergence: {training['first_divergence']}")
    counts = training.get("parameters") or {}
    if counts:
        lines.append(
            f"Parameters: trainable torch {counts.get('torch_trainable')} / Keras {counts.get('keras_trainable')}, "
            f"non-trainable torch {counts.get('torch_non_trainable')} / Keras {counts.get('keras_non_trainable')}"
        )
    step = training.get("step") or {}
    if step:
        lines.append(
            f"Optimizer step: Keras {step.get('keras_optimizer')}, torch {step.get('torch_optimizer')}"
            + (" (compiled loss and optimizer, from model.py)" if step.get("fit") else "")
        )
    for mode, loss in (training.get("losses") or {}).items():
        lines.append(f"Loss ({mode}): torch {loss['torch']:.7g}, Keras {loss['keras']:.7g}")
    compile_info = training.get("compile") or {}
    for item in compile_info.get("not_carried") or []:
        lines.append(f"Not carried: {item}")
    for note in training.get("deterministic") or []:
        lines.append(f"Made deterministic for the check: {note}")
    for problem in training.get("problems") or []:
        lines.append(f"Problem: {problem}")
    tol = training.get("tolerance") or {}
    if tol:
        lines.append(
            f"Tolerance: |torch - Keras| <= {tol['atol']:g} x spread + {tol['rtol']:g} x |Keras| "
            "(errors below in units of spread)"
        )
    return lines


def training_markdown(report: dict[str, Any]) -> list[str]:
    training = report.get("training")
    if not training:
        return []
    lines = ["", "## Training", ""]
    lines += [f"- {line}" for line in summary_lines(training)]
    rows = training.get("weights") or []
    if rows:
        lines += ["", "| Keras layer | weight | torch key(s) | " + " | ".join(h for _, h in CHECKS) + " |"]
        lines.append("|---|---|---|" + "---|" * len(CHECKS))
        for row in rows:
            cells = " | ".join(_cell(row.get(key)) for key, _ in CHECKS)
            lines.append(f"| {row['layer']} | {row['weight']} | {', '.join(row['state_keys']) or '-'} | {cells} |")
    for out in training.get("outputs_after_step") or []:
        lines.append(f"- Output {out['output']} after the step: {_cell(out)} of its spread")
    return lines


def training_html(report: dict[str, Any]) -> list[str]:
    training = report.get("training")
    if not training:
        return []
    e = html.escape
    parts = ["<h2>Training</h2>", "<ul>"]
    parts += [f"<li>{e(line)}</li>" for line in summary_lines(training)]
    parts.append("</ul>")
    rows = training.get("weights") or []
    if rows:
        head = "".join(f"<th>{e(h)}</th>" for _, h in CHECKS)
        parts.append(f"<table><tr><th>Keras layer</th><th>weight</th><th>torch key(s)</th>{head}</tr>")
        for row in rows:
            cells = "".join(f"<td>{e(_cell(row.get(key)))}</td>" for key, _ in CHECKS)
            keys = e(", ".join(row["state_keys"]) or "-")
            parts.append(f"<tr><td>{e(row['layer'])}</td><td>{e(row['weight'])}</td><td>{keys}</td>{cells}</tr>")
        parts.append("</table>")
    return parts
