"""The two pages of a conversion's report, ``report.md`` and ``report.html``, from ``report.json``.

Both are put together from the same sections. The markdown page reads top to bottom as the
conversion ran (inputs, validation, verdict with its divergence trails, then model.py, training,
fixups, stages); the HTML page leads with the verdict and plots each divergence trail.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeline.rendering.blocks import Paragraph, Section
from pipeline.rendering.html import CSS, escape, inline, section_html
from pipeline.rendering.markdown import sections_lines
from pipeline.rendering.overview import (
    error_section,
    fixups_section,
    inputs_section,
    notes_section,
    stages_section,
    status_lines,
)
from pipeline.rendering.validation import (
    input_sets_section,
    placement_section,
    validation_section,
    verdict_section,
)
from pipeline.training.report import training_section
from pipeline.translate.report import translation_section


def markdown_page(report: dict[str, Any]) -> str:
    """``report.md``."""
    lines = [f"# Conversion report: {report['name']}", "", *(f"- {line}" for line in status_lines(report))]
    lines += sections_lines(
        [
            error_section(report),
            inputs_section(report),
            validation_section(report),  # per-pair table, input sets, verdict, divergence trail
            input_sets_section(report),
            verdict_section(report),
            placement_section(report),
            translation_section(report),  # model.py: each Keras layer, direct or through ONNX
            training_section(report),  # gradients and one optimizer step, per Keras weight
            fixups_section(report),
            stages_section(report),
            notes_section(report),
        ]
    )
    return "\n".join(lines) + "\n"


def html_page(report: dict[str, Any]) -> str:
    """``report.html``: the whole report as one self-contained page."""
    status = report.get("status", "?")
    name = escape(report.get("name"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Conversion report: {name}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Conversion report: {name} <span class='badge {escape(status)}'>{escape(status)}</span></h1>",
        f"<div class='muted'>source <code>{escape((report.get('source') or {}).get('spec'))}</code>"
        + (f" &middot; mode {escape(report.get('mode'))}" if report.get("mode") else "")
        + f" &middot; ONNX Runtime: {escape(', '.join(report.get('execution_providers') or []) or '-')}"
        + f" &middot; torch: {escape(report.get('torch_device') or '-')}</div>",
    ]
    if report.get("validated_artifacts"):
        artifacts = ", ".join(f"{k} `{v}`" for k, v in report["validated_artifacts"].items())
        parts.append(f"<p>{inline('Validated artifacts: ' + artifacts)}</p>")
    verdict = verdict_section(report)
    walks = [replace(walk, level=2) for walk in (verdict.subsections if verdict else [])]
    if verdict is not None and not walks:
        walks.append(
            Section(
                "Divergence trail",
                [
                    Paragraph(
                        "Not traced: every pair passed, so no localisation ran "
                        "(set `localize: always` in the config to trace a passing model).",
                        tone="muted",
                    )
                ],
            )
        )
    for section in [
        error_section(report),
        verdict,
        validation_section(report),
        input_sets_section(report),
        training_section(report),  # the training check (pipeline/training/report.py)
        *walks,
        placement_section(report),
    ]:
        if section is not None:
            parts += section_html(section, subsections=False)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
