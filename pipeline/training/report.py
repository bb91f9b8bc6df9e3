"""The *Training* section of report.md and report.html (the JSON section is the check's result).

Built once as a :class:`~pipeline.rendering.blocks.Section`; :mod:`pipeline.rendering` renders it.
"""

from __future__ import annotations

from typing import Any

from pipeline.rendering.blocks import Bullets, Section, Table

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
    precision = training.get("precision") or {}
    if precision:
        wide = precision.get("keras") == precision.get("torch") == "float64"
        lines.append(
            "Precision: float64 in both frameworks (one forward and backward each per mode)"
            if wide
            else f"Precision: Keras {precision.get('keras')}, torch {precision.get('torch')}: {precision.get('why')}"
        )
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


def training_section(report: dict[str, Any]) -> Section | None:
    """The *Training* section: the summary, per Keras weight the error of each check, the outputs after the step."""
    training = report.get("training")
    if not training:
        return None
    section = Section("Training", [Bullets(summary_lines(training))])
    rows = training.get("weights") or []
    if rows:
        table = Table(["Keras layer", "weight", "torch key(s)", *(h for _, h in CHECKS)])
        for row in rows:
            cells = (_cell(row.get(key)) for key, _ in CHECKS)
            table.add(row["layer"], row["weight"], ", ".join(row["state_keys"]) or "-", *cells)
        section.blocks.append(table)
    after = [
        f"Output {out['output']} after the step: {_cell(out)} of its spread"
        for out in training.get("outputs_after_step") or []
    ]
    if after:
        section.blocks.append(Bullets(after))
    return section
