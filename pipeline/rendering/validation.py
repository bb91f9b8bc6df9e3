"""The validation sections of the report: per-pair results, input sets, verdict, divergence trails, placement.

Built from ``report.json``'s content alone; each returns None when the report has nothing for it.
"""

from __future__ import annotations

from typing import Any

from pipeline.rendering.blocks import Bullets, Cell, Figure, Paragraph, Section, Table, fmt
from pipeline.rendering.plot import error_plot

PAIR_TITLES = {
    "tf_vs_ort": "TensorFlow vs ONNX Runtime",
    "ort_vs_torch": "ONNX Runtime vs torch",
    "tf_vs_torch": "TensorFlow vs torch",
    "tf_vs_module": "TensorFlow vs model.py",
}
TRAIL_BEFORE, TRAIL_AFTER = 3, 5
_FAIL = Cell("**FAIL**", tone="fail")
_PASS = Cell("pass", tone="pass")


def _where(entry: dict[str, Any]) -> str:
    """Where a trail entry sits: Keras layer, then the ONNX node (for layer walks, the node compared)."""
    parts = []
    if entry.get("layer"):
        layer = f"Keras layer `{entry['layer']}`"
        if entry.get("layer_class"):
            layer += f" ({entry['layer_class']})"
        if entry.get("fused_layers"):
            layer += f", with {', '.join(f'`{f}`' for f in entry['fused_layers'])} fused into it"
        parts.append(layer)
    if entry.get("node"):
        compared = "compared at its output, " if entry.get("layer_nodes") else ""
        parts.append(f"{compared}ONNX node `{entry['node']}` ({entry.get('op') or '?'})")
    return ", ".join(parts) or "an unnamed node"


def suspect_lines(first: dict[str, Any]) -> list[str]:
    """One line per ONNX node of the diverging layer whose weight matches none of the layer's Keras weights."""
    return [
        f"node `{s['node']}` ({s['op']}), input {s['input']} `{s['initializer']}` {s['shape']}: {s['reason']}"
        for s in first.get("suspect_nodes") or []
    ]


def validation_section(report: dict[str, Any]) -> Section | None:
    """Per pair and output: the verdict and the errors of the worst input set."""
    validation = report.get("validation") or {}
    if not validation:
        return None
    tol = report.get("tolerance") or {}
    intro = Paragraph(
        f"Tolerance: atol {tol.get('atol', 0):g} (in units of the reference output's standard deviation), "
        f"rtol {tol.get('rtol', 0):g}; per-output overrides from the config. Each row is the worst input set.",
        tone="muted",
    )
    table = Table(
        [
            "pair",
            "output",
            "verdict",
            "max abs error",
            "max rel error",
            "error / spread",
            "mismatch",
            "needed atol",
            "worst set",
        ]
    )
    for pair, result in validation.items():
        if result.get("passed") is None:
            table.add(pair, "-", Cell("skipped", tone="muted"), Cell(result.get("skipped") or "", span=6))
            continue
        for output, comp in result.get("outputs", {}).items():
            verdict = Cell("pass" if comp["passed"] else "**FAIL**", tone="pass" if comp["passed"] else "fail")
            if not comp.get("informative", True):
                verdict.text += " (uninformative: constant output)"
            vs_spread = comp["max_abs_error"] / comp["scale"] if comp.get("scale") else None
            numbers = [comp["max_abs_error"], comp["max_rel_error"], vs_spread]
            table.add(
                pair,
                output,
                verdict,
                *(Cell(fmt(n), num=True) for n in numbers),
                Cell(f"{comp['mismatch_fraction']:.2%}", num=True),
                Cell(fmt(comp["needed_atol"]), num=True),
                comp.get("worst_set") or "-",
            )
        for set_name, per_set in (result.get("sets") or {}).items():
            if per_set.get("error"):
                table.add(pair, f"(input set `{set_name}`)", _FAIL, Cell(per_set["error"], span=6))
    return Section("Validation", [intro, table])


def input_sets_section(report: dict[str, Any]) -> Section | None:
    """Per input set: its purpose, value ranges and the verdict of each pair."""
    sets = report.get("input_sets") or []
    if not sets:
        return None
    pairs = [p for p, r in (report.get("validation") or {}).items() if r.get("passed") is not None]
    table = Table(["set", "batch", "purpose", "values", *pairs])
    for described in sets:
        name = described["name"]
        values = "; ".join(
            f"{k}: [{fmt(v['min'])}, {fmt(v['max'])}]" for k, v in (described.get("inputs") or {}).items()
        )
        verdicts = []
        for pair in pairs:
            per_set = (report["validation"][pair].get("sets") or {}).get(name)
            if per_set is None:
                verdicts.append(Cell("-"))
            elif per_set.get("error"):
                verdicts.append(Cell("**did not run**", tone="fail"))
            elif per_set["passed"]:
                verdicts.append(_PASS)
            else:
                verdicts.append(Cell("**FAIL**: " + ", ".join(per_set.get("failed_outputs") or []), tone="fail"))
        table.add(name, Cell(fmt(described.get("batch")), num=True), described["purpose"], values, *verdicts)
    return Section("Input sets", [table])


def verdict_section(report: dict[str, Any]) -> Section | None:
    """The diagnosis: which stage is blamed, findings, and a divergence trail per localised pair."""
    diagnosis = report.get("diagnosis") or {}
    if not diagnosis:
        return None
    if diagnosis.get("blame"):
        blocks: list[Any] = [Paragraph(f"**Blame: {', '.join(diagnosis['blame'])}**: {diagnosis.get('summary', '')}.")]
    else:
        blocks = [Paragraph(f"{diagnosis.get('summary', '')}.")]
    if diagnosis.get("findings"):
        blocks.append(Bullets(list(diagnosis["findings"]), callout=True))
    walks = [walk_section(pair, walk, report) for pair, walk in (diagnosis.get("localization") or {}).items()]
    return Section("Verdict", blocks, subsections=walks)


def walk_section(pair: str, walk: dict[str, Any], report: dict[str, Any]) -> Section:
    """One localisation walk: the first diverging node and layer, the error plot, the trail around it."""
    section = Section(f"Divergence trail: {PAIR_TITLES.get(pair, pair)}", level=3)
    if walk.get("status") == "unavailable":
        section.blocks.append(Paragraph(f"Localisation unavailable: {walk.get('reason')}", tone="muted"))
        return section
    section.blocks.append(
        Paragraph(
            f"{walk.get('method', '')}; input set `{walk.get('input_set')}`"
            + (f", torch on {walk['device']}" if walk.get("device") and pair == "ort_vs_torch" else "")
            + f"; {walk.get('compared', 0)} compared, {walk.get('not_compared', 0)} not comparable"
            + f", {fmt(walk.get('seconds'))} s.",
            tone="muted",
        )
    )
    first = walk.get("first_divergence")
    tol = (report.get("tolerance") or {}).get("atol")
    if first is None:
        section.blocks.append(Paragraph("No node diverges: every compared intermediate is within tolerance."))
    else:
        section.blocks.append(
            Paragraph(
                f"**First divergence** (stage: {walk.get('stage')}): {_where(first)}; error {fmt(first['error'])} x "
                f"spread (tolerance {fmt(tol)}), max abs error {fmt(first['max_abs_error'])}"
                + (f"; {first['detail']}" if first.get("detail") else "")
                + ("" if first.get("inputs_agree") else "; its inputs were not all compared")
                + "."
            )
        )
        if first.get("layer_nodes"):
            nodes = ", ".join(f"`{n['node']}` ({n['op']})" for n in first["layer_nodes"])
            section.blocks.append(Paragraph(f"ONNX nodes in that layer (the divergence is among them): {nodes}"))
        suspects = suspect_lines(first)
        if suspects:
            section.blocks.append(Paragraph("Weights in that layer that match none of its Keras weights:"))
            section.blocks.append(Bullets(suspects, callout=True))
    trail = walk.get("trail") or []
    if trail:
        label = "Keras layer" if pair == "tf_vs_ort" else "ONNX node"
        section.blocks.append(Figure(error_plot(trail, float(tol or 0.0), first, label=label)))
        section.blocks.append(_trail_table(trail, first))
    return section


def _trail_table(trail: list[dict[str, Any]], first: dict[str, Any] | None) -> Table:
    at = first["index"] if first else 0
    shown = [e for e in trail if at - TRAIL_BEFORE <= e["index"] <= at + TRAIL_AFTER]
    table = Table(["#", "Keras layer", "ONNX node", "op", "error / spread", "verdict"])
    if shown and shown[0]["index"] > 0:
        table.add("...", Cell(f"({shown[0]['index']} before)", span=5))
    for entry in shown:
        is_first = bool(first and entry["index"] == first["index"])
        mark = Cell("**FIRST DIVERGENCE**", tone="fail") if is_first else _PASS if entry["passed"] else _FAIL
        table.add(
            Cell(str(entry["index"]), num=True),
            entry.get("layer") or "-",
            f"`{entry.get('node') or '-'}`",
            entry.get("op") or "-",
            Cell(fmt(entry["error"]), num=True),
            mark,
            highlight=is_first,
        )
    rest = len(trail) - (shown[-1]["index"] + 1) if shown else 0
    if rest > 0:
        failing = sum(1 for e in trail if e["index"] > shown[-1]["index"] and not e["passed"])
        table.add("...", Cell(f"({rest} after, {failing} over tolerance)", span=5))
    return table


def placement_section(report: dict[str, Any]) -> Section | None:
    """Where ONNX Runtime ran the nodes: kernels per execution provider, and the providers' options."""
    ort = report.get("onnxruntime") or {}
    placement = ort.get("nodes_by_provider") or {}
    if not placement:
        return None
    blocks: list[Any] = [
        Paragraph(
            "Kernels executed per provider, from ONNX Runtime's profiler (after its graph optimisations; the ONNX "
            f"file has {ort.get('graph_nodes', '?')} nodes).",
            tone="muted",
        )
    ]
    table = Table(["provider", "nodes", "ops"])
    for provider, info in placement.items():
        table.add(provider, Cell(str(info["nodes"]), num=True), ", ".join(f"{op} {n}" for op, n in info["ops"].items()))
    blocks.append(table)
    for provider, options in (ort.get("provider_options") or {}).items():
        if options:
            blocks.append(Paragraph(f"{provider} options: " + ", ".join(f"{k}={v}" for k, v in options.items())))
    return Section("ONNX Runtime node placement", blocks)
