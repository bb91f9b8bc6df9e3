"""``report.json`` (machine-readable), ``report.md`` and ``report.html`` (for people) of one conversion.

The validation sections of the markdown and the HTML page come from :mod:`pipeline.report_validation`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.context import to_json
from pipeline.report_validation import fmt
from pipeline.training.report import training_markdown
from pipeline.translate.report import translation_markdown, translation_report

if TYPE_CHECKING:
    from pipeline.conversion import Conversion

SCHEMA_VERSION = 1
ARTIFACTS = {
    "onnx": "model.onnx",
    "onnx_fixed": "model_fixed.onnx",
    "torch_program": "model.pt2",
    "torch_weights": "model.safetensors",
    "inputs": "inputs.npz",
    "model_py": "model.py",
    "translation": "translation.json",
}


def build_report(conv: Conversion) -> dict[str, Any]:
    """The report as plain JSON values."""
    export = conv.export
    versions: dict[str, str] = {}
    if export:
        versions.update(export.versions)
    if conv.torch:
        versions.update(conv.torch.versions)
    validation = {}
    for pair, result in conv.validation.items():
        entry = to_json(result)
        validation[pair] = entry
    error = None
    if conv.error is not None:
        error = conv.error.to_dict()
        loc = conv.error.location
        if loc is not None:
            error.update({"node": loc.node, "op": loc.op, "layer": loc.layer})
    artifacts = {}
    if conv.error is None:
        artifacts = {k: v for k, v in ARTIFACTS.items() if (conv.workspace.root / v).exists()}
        artifacts.update(_data_files(conv.workspace.root))
    return {
        "schema_version": SCHEMA_VERSION,
        "name": conv.name,
        "source": {"kind": str(conv.source.kind), "spec": conv.config.source or conv.source.spec},
        "status": conv.status,
        "stages": [to_json(s) for s in conv.stages],
        "execution_providers": conv.providers,
        "torch_device": conv.torch_device,
        "inputs": [to_json(s) for s in export.inputs] if export else [],
        "outputs": export.outputs if export else [],
        "logits_compared": sorted(conv.probes),
        "fixups": [to_json(f) for f in conv.fixups],
        # validation: the input sets, where ONNX Runtime ran each node, per-pair results, the verdict
        "mode": "validate" if conv.validating else "convert",
        "validated_artifacts": dict(conv.given),
        "input_sets": conv.input_sets,
        "onnxruntime": {"providers": conv.providers, **conv.ort_placement},
        "validation": validation,
        "diagnosis": conv.diagnosis,
        "tolerance": to_json(conv.config.tolerance),
        "torch": to_json(conv.torch) if conv.torch else None,
        "peak_rss_mb": conv.peak_rss_mb,
        "worker_seconds": conv.worker_seconds,
        "artifacts": artifacts,
        "versions": versions,
        "notes": conv.notes,
        "error": error,
        "batch": conv.batch,
        "translation": translation_report(conv.workspace.root),
        "training": conv.training,  # gradients and one optimizer step vs TensorFlow (pipeline/training)
    }


def _data_files(root: Path) -> dict[str, str]:
    """ONNX external data files (weights of large models): ``model.onnx.data`` is ``onnx_data``."""
    found = {}
    for path in sorted(root.glob("*.onnx.data")):
        key = path.name.removesuffix(".onnx.data").replace("model_fixed", "onnx_fixed").replace("model", "onnx")
        found[f"{key}_data"] = path.name
    return found


def write_report(report: dict[str, Any], json_path: Path, md_path: Path) -> None:
    from pipeline.report_validation import render_html

    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(json_path)
    md_path.write_text(render_markdown(report), encoding="utf-8")
    md_path.with_suffix(".html").write_text(render_html(report), encoding="utf-8")


def pair_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(pair, output, verdict, max abs error) rows for tables."""
    rows = []
    for pair, result in report.get("validation", {}).items():
        if result.get("passed") is None:
            rows.append((pair, "-", "skipped", result.get("skipped") or ""))
            continue
        for output, comp in result.get("outputs", {}).items():
            verdict = "pass" if comp["passed"] else "FAIL"
            if not comp.get("informative", True):
                verdict += " (uninformative)"
            rows.append((pair, output, verdict, fmt(comp["max_abs_error"])))
        for set_name, per_set in (result.get("sets") or {}).items():
            if per_set.get("error"):
                rows.append((pair, f"(set {set_name})", "FAIL", "did not run"))
    return rows


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Conversion report: {report['name']}", ""]
    lines.append(f"- **Status:** {report['status']}")
    lines.append(f"- **Source:** `{report['source']['spec']}` ({report['source']['kind']})")
    if report.get("execution_providers"):
        lines.append(f"- **ONNX Runtime providers:** {', '.join(report['execution_providers'])}")
    if report.get("torch_device"):
        lines.append(f"- **torch device:** {report['torch_device']}")
    torch_info = report.get("torch")
    if torch_info:
        lines.append(f"- **Dynamic batch in model.pt2:** {'yes' if torch_info['dynamic_batch'] else 'no'}")
        lines.append(f"- **Parameters:** {torch_info['parameters']:,} ({torch_info['weight_bytes'] / 1e6:.1f} MB)")
    error = report.get("error")
    if error:
        lines += [
            "",
            "## Error",
            "",
            f"**{error['type']}** in stage `{error.get('stage')}`: {error['message']}",
            "",
        ]
        for loc in error.get("locations", [])[:50]:
            where = ", ".join(f"{k} `{v}`" for k, v in loc.items() if v)
            lines.append(f"- {where}")
        if error.get("hint"):
            lines += ["", f"Hint: {error['hint']}"]
    if report.get("inputs"):
        lines += [
            "",
            "## Inputs",
            "",
            "| name | shape | dtype | range | why this range |",
            "|---|---|---|---|---|",
        ]
        for spec in report["inputs"]:
            lines.append(
                f"| {spec['name']} | {spec['shape']} | {spec['dtype']} | [{fmt(spec['low'])}, "
                f"{fmt(spec['high'])}) | {spec['range_reason']} |"
            )
    from pipeline.report_validation import markdown as validation_markdown

    lines += validation_markdown(report)  # per-pair table, input sets, verdict, divergence trail
    lines += translation_markdown(report)  # model.py: each Keras layer, direct or through ONNX
    lines += training_markdown(report)  # gradients and one optimizer step, per Keras weight
    if report.get("fixups"):
        lines += ["", "## Fixups applied", ""]
        for fixup in report["fixups"]:
            lines.append(
                f"- `{fixup['name']}`: "
                + "; ".join(fixup["changes"][:5])
                + (f" (+{len(fixup['changes']) - 5} more)" if len(fixup["changes"]) > 5 else "")
            )
    if report.get("stages"):
        lines += ["", "## Stages", "", "| stage | seconds | status |", "|---|---|---|"]
        for stage in report["stages"]:
            lines.append(f"| {stage['name']} | {stage['seconds']:.2f} | {stage['status']} |")
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"
