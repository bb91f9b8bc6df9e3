"""``report.json`` (machine-readable), ``report.md`` and ``report.html`` (for people) of one conversion.

The markdown and the HTML page are rendered from one section model by :mod:`pipeline.rendering`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.context import to_json
from pipeline.rendering.blocks import fmt
from pipeline.translate.report import translation_report

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
    from pipeline.rendering.pages import html_page, markdown_page

    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(json_path)
    md_path.write_text(markdown_page(report), encoding="utf-8")
    md_path.with_suffix(".html").write_text(html_page(report), encoding="utf-8")


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
