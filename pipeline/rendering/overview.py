"""The report's overview sections: the error, the inputs, the fixups applied, the stages, the notes."""

from __future__ import annotations

from typing import Any

from pipeline.rendering.blocks import Bullets, Cell, Paragraph, Section, Table, fmt


def status_lines(report: dict[str, Any]) -> list[str]:
    """The key facts under the title: status, source, providers, device, the program's batch and size."""
    lines = [
        f"**Status:** {report['status']}",
        f"**Source:** `{report['source']['spec']}` ({report['source']['kind']})",
    ]
    if report.get("execution_providers"):
        lines.append(f"**ONNX Runtime providers:** {', '.join(report['execution_providers'])}")
    if report.get("torch_device"):
        lines.append(f"**torch device:** {report['torch_device']}")
    torch_info = report.get("torch")
    if torch_info:
        lines.append(f"**Dynamic batch in model.pt2:** {'yes' if torch_info['dynamic_batch'] else 'no'}")
        lines.append(f"**Parameters:** {torch_info['parameters']:,} ({torch_info['weight_bytes'] / 1e6:.1f} MB)")
    return lines


def error_section(report: dict[str, Any]) -> Section | None:
    """The error that ended the conversion: its type, stage, message, where (node, op, layer) and a hint."""
    error = report.get("error")
    if not error:
        return None
    blocks: list[Any] = [
        Paragraph(f"**{error['type']}** in stage `{error.get('stage')}`: {error['message']}", tone="fail")
    ]
    locations = [", ".join(f"{k} `{v}`" for k, v in loc.items() if v) for loc in (error.get("locations") or [])[:50]]
    if locations:
        blocks.append(Bullets(locations))
    if error.get("hint"):
        blocks.append(Paragraph(f"Hint: {error['hint']}"))
    return Section("Error", blocks)


def inputs_section(report: dict[str, Any]) -> Section | None:
    """The model's inputs and the range their values were drawn from, and why."""
    if not report.get("inputs"):
        return None
    table = Table(["name", "shape", "dtype", "range", "why this range"])
    for spec in report["inputs"]:
        value_range = f"[{fmt(spec['low'])}, {fmt(spec['high'])})"
        table.add(spec["name"], str(spec["shape"]), spec["dtype"], value_range, spec["range_reason"])
    return Section("Inputs", [table])


def fixups_section(report: dict[str, Any]) -> Section | None:
    """Each graph fixup that changed the model, with its first changes."""
    if not report.get("fixups"):
        return None
    items = [
        f"`{fixup['name']}`: "
        + "; ".join(fixup["changes"][:5])
        + (f" (+{len(fixup['changes']) - 5} more)" if len(fixup["changes"]) > 5 else "")
        for fixup in report["fixups"]
    ]
    return Section("Fixups applied", [Bullets(items)])


def stages_section(report: dict[str, Any]) -> Section | None:
    if not report.get("stages"):
        return None
    table = Table(["stage", "seconds", "status"])
    for stage in report["stages"]:
        table.add(stage["name"], Cell(f"{stage['seconds']:.2f}", num=True), stage["status"])
    return Section("Stages", [table])


def notes_section(report: dict[str, Any]) -> Section | None:
    return Section("Notes", [Bullets(list(report["notes"]))]) if report.get("notes") else None
