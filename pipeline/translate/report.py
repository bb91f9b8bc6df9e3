"""The report's *Translation* section: model.py's layers, each direct or through ONNX, and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.rendering.blocks import Paragraph, Section, Table


def translation_report(root: Path) -> dict[str, Any] | None:
    """translation.json's summary for report.json (None when nothing was translated)."""
    path = Path(root) / "translation.json"
    if not path.is_file():
        return None
    info = json.loads(path.read_text(encoding="utf-8"))
    layers = info.get("layers", [])
    return {
        "status": info.get("status"),
        "reason": info.get("reason"),
        "class_name": info.get("class_name"),
        "layout": info.get("layout"),
        "direct": sum(1 for row in layers if row.get("method") == "direct"),
        "onnx": sum(1 for row in layers if row.get("method") == "onnx"),
        "layers": layers,
        "check": info.get("check"),
        "localization": info.get("localization"),
    }


def translation_section(report: dict[str, Any]) -> Section | None:
    """A summary of model.py and, per Keras layer, its attribute and whether it was translated directly."""
    info = report.get("translation")
    if not info:
        return None
    section = Section("Translation (model.py)")
    if info.get("status") not in ("translated",):
        section.blocks.append(Paragraph(f"No model.py: {info.get('reason') or info.get('status')}."))
        return section
    check = info.get("check") or {}
    lines = [
        f"`model.py` defines `{info['class_name']}`: {info['direct']} Keras layers translated directly, "
        f"{info['onnx']} through the ONNX route; layout `{info.get('layout')}`."
    ]
    if check:
        lines.append(
            f"Its module has {check.get('parameters', 0):,} parameters ({check.get('trainable', 0):,} trainable), "
            f"loads in {check.get('load_s', 0)} s and ran every input set in {check.get('run_s', 0)} s "
            "in a process where TensorFlow, Keras, ONNX, onnx2torch and keras2torch cannot be imported."
        )
    where = info.get("localization") or {}
    if where.get("first_layer"):
        first = where["first_layer"]
        lines.append(
            f"**model.py first differs from TensorFlow at Keras layer `{first['layer']}`** ({first['class']}, "
            f"`self.{first['attribute']}`): {first['error_in_spreads']:.3g} x its output's spread "
            f"({where['compared']} layers compared in order)."
        )
    elif where.get("error"):
        lines.append(f"Per-layer localisation did not run: {where['error']}")
    table = Table(["Keras layer", "class", "attribute", "translation", "why"])
    for row in info.get("layers", []):
        table.add(row["layer"], row["class"], f"`{row['attribute']}`", row["method"], row.get("reason") or "")
    section.blocks += [Paragraph("\n".join(lines)), table]
    return section


def support_rows() -> list[str]:
    """The support table's section on the direct translator, from ``pipeline.translate.ENTRIES``."""
    from pipeline.translate import ENTRIES

    lines = [
        "",
        "## Keras layers translated directly into model.py",
        "",
        "Others go through the ONNX route, each on its own, and come back as torch code.",
        "",
        "| Keras classes | what | why |",
        "|---|---|---|",
    ]
    for entry in ENTRIES:
        lines.append(f"| {', '.join(entry.classes)} | {entry.doc.summary} | {entry.doc.reason} |")
    return lines
