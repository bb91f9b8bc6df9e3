"""The validation part of the report: markdown sections and the self-contained ``report.html``.

Both render from ``report.json``'s content alone. The HTML page has no external assets (inline
CSS, inline SVG plots), so it can be mailed or archived as one file. Its plot shows, for each
localisation walk, the error of every compared node (layer) along the graph in units of the
reference's spread, on a log scale, against the tolerance, with the first divergence marked.
"""

from __future__ import annotations

import html
import math
from typing import Any

from pipeline.training.report import training_html

PAIR_TITLES = {
    "tf_vs_ort": "TensorFlow vs ONNX Runtime",
    "ort_vs_torch": "ONNX Runtime vs torch",
    "tf_vs_torch": "TensorFlow vs torch",
    "tf_vs_module": "TensorFlow vs model.py",
}
TRAIL_BEFORE, TRAIL_AFTER = 3, 5
NAMED_TICKS = 40  # up to this many points, the x axis names each layer / node


def fmt(value: Any) -> str:
    """A number for a table cell: 3 significant digits, ``-`` when missing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


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


# --------------------------------------------------------------------------- markdown


def markdown(report: dict[str, Any]) -> list[str]:
    """The validation sections of ``report.md``: per-pair table, input sets, verdict, divergence trail."""
    lines: list[str] = []
    validation = report.get("validation") or {}
    if validation:
        tol = report.get("tolerance") or {}
        lines += [
            "",
            "## Validation",
            "",
            f"Tolerance: atol {tol.get('atol', 0):g} (in units of the reference output's standard deviation), "
            f"rtol {tol.get('rtol', 0):g}; per-output overrides from the config. Each row is the worst input set.",
            "",
            "| pair | output | verdict | max abs error | max rel error | error / spread | mismatch | needed atol "
            "| worst set |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for pair, result in validation.items():
            if result.get("passed") is None:
                lines.append(f"| {pair} | - | skipped | {_cell(result.get('skipped') or '')} | | | | | |")
                continue
            for output, comp in result.get("outputs", {}).items():
                verdict = "pass" if comp["passed"] else "**FAIL**"
                if not comp.get("informative", True):
                    verdict += " (uninformative: constant output)"
                vs_spread = comp["max_abs_error"] / comp["scale"] if comp.get("scale") else None
                lines.append(
                    f"| {pair} | {output} | {verdict} | {fmt(comp['max_abs_error'])} | "
                    f"{fmt(comp['max_rel_error'])} | {fmt(vs_spread)} | {comp['mismatch_fraction']:.2%} | "
                    f"{fmt(comp['needed_atol'])} | {comp.get('worst_set') or '-'} |"
                )
            for set_name, per_set in (result.get("sets") or {}).items():
                if per_set.get("error"):
                    lines.append(
                        f"| {pair} | (input set `{set_name}`) | **FAIL** | {_cell(per_set['error'])} | | | | | |"
                    )
    lines += _input_sets_md(report)
    lines += _diagnosis_md(report)
    lines += _placement_md(report)
    return lines


def _input_sets_md(report: dict[str, Any]) -> list[str]:
    sets = report.get("input_sets") or []
    if not sets:
        return []
    pairs = [p for p, r in (report.get("validation") or {}).items() if r.get("passed") is not None]
    lines = [
        "",
        "## Input sets",
        "",
        "| set | batch | purpose | values | " + " | ".join(pairs) + " |",
        "|---|---|---|---|" + "---|" * len(pairs),
    ]
    for described in sets:
        name = described["name"]
        values = "; ".join(
            f"{k}: [{fmt(v['min'])}, {fmt(v['max'])}]" for k, v in (described.get("inputs") or {}).items()
        )
        verdicts = []
        for pair in pairs:
            per_set = (report["validation"][pair].get("sets") or {}).get(name)
            if per_set is None:
                verdicts.append("-")
            elif per_set.get("error"):
                verdicts.append("**did not run**")
            elif per_set["passed"]:
                verdicts.append("pass")
            else:
                verdicts.append("**FAIL**: " + ", ".join(per_set.get("failed_outputs") or []))
        lines.append(
            f"| {name} | {fmt(described.get('batch'))} | {_cell(described['purpose'])} | {_cell(values)} | "
            + " | ".join(verdicts)
            + " |"
        )
    return lines


def _diagnosis_md(report: dict[str, Any]) -> list[str]:
    diagnosis = report.get("diagnosis") or {}
    if not diagnosis:
        return []
    lines = ["", "## Verdict", ""]
    if diagnosis.get("blame"):
        lines.append(f"**Blame: {', '.join(diagnosis['blame'])}**: {diagnosis.get('summary', '')}.")
    else:
        lines.append(f"{diagnosis.get('summary', '')}.")
    if diagnosis.get("findings"):
        lines.append("")
        lines += [f"- {_cell(f)}" for f in diagnosis["findings"]]
    for pair, walk in (diagnosis.get("localization") or {}).items():
        lines += _walk_md(pair, walk, report)
    return lines


def _walk_md(pair: str, walk: dict[str, Any], report: dict[str, Any]) -> list[str]:
    title = PAIR_TITLES.get(pair, pair)
    lines = ["", f"### Divergence trail: {title}", ""]
    if walk.get("status") == "unavailable":
        return [*lines, f"Localisation unavailable: {walk.get('reason')}"]
    lines.append(
        f"{walk.get('method', '')}; input set `{walk.get('input_set')}`"
        + (f", torch on {walk['device']}" if walk.get("device") and pair == "ort_vs_torch" else "")
        + f"; {walk.get('compared', 0)} compared, {walk.get('not_compared', 0)} not comparable"
        + f", {fmt(walk.get('seconds'))} s."
    )
    lines.append("")
    first = walk.get("first_divergence")
    tol = (report.get("tolerance") or {}).get("atol")
    if first is None:
        lines.append("No node diverges: every compared intermediate is within tolerance.")
    else:
        lines.append(
            f"**First divergence** (stage: {walk.get('stage')}): {_where(first)}; error {fmt(first['error'])} x "
            f"spread (tolerance {fmt(tol)}), max abs error {fmt(first['max_abs_error'])}"
            + (f"; {first['detail']}" if first.get("detail") else "")
            + ("" if first.get("inputs_agree") else "; its inputs were not all compared")
            + "."
        )
        if first.get("layer_nodes"):
            nodes = ", ".join(f"`{n['node']}` ({n['op']})" for n in first["layer_nodes"])
            lines += ["", f"ONNX nodes in that layer (the divergence is among them): {nodes}"]
        suspects = suspect_lines(first)
        if suspects:
            lines += ["", "Weights in that layer that match none of its Keras weights:", ""]
            lines += [f"- {line}" for line in suspects]
    trail = walk.get("trail") or []
    if trail:
        at = first["index"] if first else 0
        shown = [e for e in trail if at - TRAIL_BEFORE <= e["index"] <= at + TRAIL_AFTER]
        lines += [
            "",
            "| # | Keras layer | ONNX node | op | error / spread | verdict |",
            "|---|---|---|---|---|---|",
        ]
        if shown and shown[0]["index"] > 0:
            lines.append(f"| ... | ({shown[0]['index']} before) | | | | |")
        for entry in shown:
            mark = "**FAIL**" if not entry["passed"] else "pass"
            if first and entry["index"] == first["index"]:
                mark = "**FIRST DIVERGENCE**"
            lines.append(
                f"| {entry['index']} | {entry.get('layer') or '-'} | `{entry.get('node') or '-'}` | "
                f"{entry.get('op') or '-'} | {fmt(entry['error'])} | {mark} |"
            )
        rest = len(trail) - (shown[-1]["index"] + 1) if shown else 0
        if rest > 0:
            failing = sum(1 for e in trail if e["index"] > shown[-1]["index"] and not e["passed"])
            lines.append(f"| ... | ({rest} after, {failing} over tolerance) | | | | |")
    return lines


def _placement_md(report: dict[str, Any]) -> list[str]:
    ort = report.get("onnxruntime") or {}
    placement = ort.get("nodes_by_provider") or {}
    if not placement:
        return []
    lines = [
        "",
        "## ONNX Runtime node placement",
        "",
        f"Kernels executed per provider, from ONNX Runtime's profiler (after its graph optimisations; the ONNX "
        f"file has {ort.get('graph_nodes', '?')} nodes).",
        "",
        "| provider | nodes | ops |",
        "|---|---|---|",
    ]
    for provider, info in placement.items():
        ops = ", ".join(f"{op} {n}" for op, n in info["ops"].items())
        lines.append(f"| {provider} | {info['nodes']} | {ops} |")
    for provider, options in (ort.get("provider_options") or {}).items():
        if options:
            lines.append(f"\n{provider} options: " + ", ".join(f"{k}={v}" for k, v in options.items()))
    return lines


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;color:#1d2330;
padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #dde2ea;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f5f8;padding:0 3px;border-radius:3px;
word-break:break-all}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.passed{background:#1f8a4c}.failed{background:#c62828}.error{background:#8e24aa}
.pass{color:#1f8a4c}.fail{color:#c62828;font-weight:600}
.finding{background:#fff4e5;border-left:4px solid #f0a020;padding:6px 10px;margin:6px 0}
.first{background:#fdecea}
.muted{color:#667085}
svg text{font:11px system-ui,sans-serif;fill:#1d2330}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one self-contained HTML page."""
    status = report.get("status", "?")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Conversion report: {_e(report.get('name'))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Conversion report: {_e(report.get('name'))} <span class='badge {_e(status)}'>{_e(status)}</span></h1>",
        f"<div class='muted'>source <code>{_e((report.get('source') or {}).get('spec'))}</code>"
        + (f" &middot; mode {_e(report.get('mode'))}" if report.get("mode") else "")
        + f" &middot; ONNX Runtime: {_e(', '.join(report.get('execution_providers') or []) or '-')}"
        + f" &middot; torch: {_e(report.get('torch_device') or '-')}</div>",
    ]
    if report.get("validated_artifacts"):
        parts.append(
            "<p>Validated artifacts: "
            + ", ".join(f"{_e(k)} <code>{_e(v)}</code>" for k, v in report["validated_artifacts"].items())
            + "</p>"
        )
    error = report.get("error")
    if error:
        parts.append(
            f"<h2>Error</h2><p class='fail'>{_e(error.get('type'))} in stage {_e(error.get('stage'))}: "
            f"{_e(error.get('message'))}</p>"
        )
    diagnosis = report.get("diagnosis") or {}
    if diagnosis:
        parts.append("<h2>Verdict</h2>")
        if diagnosis.get("blame"):
            parts.append(f"<p><b>Blame: {_e(', '.join(diagnosis['blame']))}</b>: {_e(diagnosis.get('summary'))}.</p>")
        else:
            parts.append(f"<p>{_e(diagnosis.get('summary'))}.</p>")
        for finding in diagnosis.get("findings") or []:
            parts.append(f"<div class='finding'>{_e(finding)}</div>")
    parts += _pairs_html(report)
    parts += _sets_html(report)
    parts += training_html(report)  # the training check (pipeline/training/report.py)
    for pair, walk in (diagnosis.get("localization") or {}).items():
        parts += _walk_html(pair, walk, report)
    if diagnosis and not diagnosis.get("localization"):
        parts.append(
            "<h2>Error along the graph</h2><p class='muted'>Not traced: every pair passed, so no localisation ran "
            "(set <code>localize: always</code> in the config to trace a passing model).</p>"
        )
    parts += _placement_html(report)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _verdict(passed: bool | None) -> str:
    if passed is None:
        return "<span class='muted'>skipped</span>"
    return "<span class='pass'>pass</span>" if passed else "<span class='fail'>FAIL</span>"


def _pairs_html(report: dict[str, Any]) -> list[str]:
    validation = report.get("validation") or {}
    if not validation:
        return []
    tol = report.get("tolerance") or {}
    rows = [
        "<h2>Validation</h2>",
        f"<p class='muted'>|a - b| &le; atol &middot; std(b) + rtol &middot; |b| with atol {tol.get('atol', 0):g}, "
        f"rtol {tol.get('rtol', 0):g}; worst input set per output.</p>",
        "<table><tr><th>pair</th><th>output</th><th>verdict</th><th>max abs error</th><th>max rel error</th>"
        "<th>mismatch</th><th>needed atol (x spread)</th><th>worst set</th></tr>",
    ]
    for pair, result in validation.items():
        if result.get("passed") is None:
            rows.append(
                f"<tr><td>{_e(pair)}</td><td>-</td><td>{_verdict(None)}</td>"
                f"<td colspan='5'>{_e(result.get('skipped'))}</td></tr>"
            )
            continue
        for output, comp in (result.get("outputs") or {}).items():
            rows.append(
                f"<tr><td>{_e(pair)}</td><td>{_e(output)}</td><td>{_verdict(comp['passed'])}</td>"
                f"<td class='num'>{fmt(comp['max_abs_error'])}</td><td class='num'>{fmt(comp['max_rel_error'])}</td>"
                f"<td class='num'>{comp['mismatch_fraction']:.2%}</td><td class='num'>{fmt(comp['needed_atol'])}</td>"
                f"<td>{_e(comp.get('worst_set') or '-')}</td></tr>"
            )
        for set_name, per_set in (result.get("sets") or {}).items():
            if per_set.get("error"):
                rows.append(
                    f"<tr><td>{_e(pair)}</td><td>input set {_e(set_name)}</td><td>{_verdict(False)}</td>"
                    f"<td colspan='5'>{_e(per_set['error'])}</td></tr>"
                )
    rows.append("</table>")
    return rows


def _sets_html(report: dict[str, Any]) -> list[str]:
    sets = report.get("input_sets") or []
    if not sets:
        return []
    pairs = [p for p, r in (report.get("validation") or {}).items() if r.get("passed") is not None]
    rows = [
        "<h2>Input sets</h2><table><tr><th>set</th><th>batch</th><th>purpose</th><th>values</th>"
        + "".join(f"<th>{_e(p)}</th>" for p in pairs)
        + "</tr>"
    ]
    for described in sets:
        values = "<br>".join(
            f"{_e(k)}: {_e(v['shape'])} in [{fmt(v['min'])}, {fmt(v['max'])}]"
            for k, v in (described.get("inputs") or {}).items()
        )
        cells = []
        for pair in pairs:
            per_set = (report["validation"][pair].get("sets") or {}).get(described["name"])
            if per_set is None:
                cells.append("<td>-</td>")
            elif per_set.get("error"):
                cells.append(f"<td><span class='fail'>did not run</span><br><small>{_e(per_set['error'])}</small></td>")
            else:
                cells.append(f"<td>{_verdict(per_set['passed'])}</td>")
        rows.append(
            f"<tr><td>{_e(described['name'])}</td><td class='num'>{fmt(described.get('batch'))}</td>"
            f"<td>{_e(described['purpose'])}</td><td><small>{values}</small></td>{''.join(cells)}</tr>"
        )
    rows.append("</table>")
    return rows


def _walk_html(pair: str, walk: dict[str, Any], report: dict[str, Any]) -> list[str]:
    title = PAIR_TITLES.get(pair, pair)
    parts = [f"<h2>Error along the graph: {_e(title)}</h2>"]
    if walk.get("status") == "unavailable":
        return [*parts, f"<p class='muted'>Localisation unavailable: {_e(walk.get('reason'))}</p>"]
    parts.append(
        f"<p class='muted'>{_e(walk.get('method'))}; input set {_e(walk.get('input_set'))}; "
        f"{walk.get('compared', 0)} compared, {walk.get('not_compared', 0)} not comparable.</p>"
    )
    first = walk.get("first_divergence")
    tol = float((report.get("tolerance") or {}).get("atol") or 0.0)
    if first:
        where = _where(first).replace("`", "")
        parts.append(
            f"<p><b>First divergence</b> (stage: {_e(walk.get('stage'))}): {_e(where)}; error "
            f"{fmt(first['error'])} &times; spread (tolerance {fmt(tol)}).</p>"
        )
        for line in suspect_lines(first):
            text = line.replace("`", "")
            parts.append(f"<div class='finding'>Weight matching none of the layer's Keras weights: {_e(text)}</div>")
    else:
        parts.append("<p>No node diverges: every compared intermediate is within tolerance.</p>")
    trail = walk.get("trail") or []
    if trail:
        parts.append(error_plot(trail, tol, first, label="Keras layer" if pair == "tf_vs_ort" else "ONNX node"))
        parts += _trail_table(trail, first)
    return parts


def _trail_table(trail: list[dict[str, Any]], first: dict[str, Any] | None) -> list[str]:
    at = first["index"] if first else 0
    shown = [e for e in trail if at - TRAIL_BEFORE <= e["index"] <= at + TRAIL_AFTER]
    rows = [
        "<table><tr><th>#</th><th>Keras layer</th><th>ONNX node</th><th>op</th><th>error / spread</th>"
        "<th>verdict</th><th>detail</th></tr>"
    ]
    for entry in shown:
        is_first = bool(first and entry["index"] == first["index"])
        rows.append(
            f"<tr{' class=first' if is_first else ''}><td class='num'>{entry['index']}</td>"
            f"<td>{_e(entry.get('layer') or '-')}</td><td><code>{_e(entry.get('node') or '-')}</code></td>"
            f"<td>{_e(entry.get('op') or '-')}</td><td class='num'>{fmt(entry['error'])}</td>"
            f"<td>{'<b>first divergence</b>' if is_first else _verdict(entry['passed'])}</td>"
            f"<td><small>{_e(entry.get('detail') or '')}</small></td></tr>"
        )
    rows.append(f"</table><p class='muted'>{len(shown)} of {len(trail)} entries shown; all are in report.json.</p>")
    return rows


def error_plot(
    trail: list[dict[str, Any]],
    tolerance: float,
    first: dict[str, Any] | None,
    *,
    label: str = "node",
    width: int = 1000,
    height: int = 320,
) -> str:
    """An inline SVG: error / spread of each trail entry (log scale) along the graph, tolerance line, first
    divergence marked. Hovering a point shows its node, layer and error."""
    named_ticks = len(trail) <= NAMED_TICKS
    left, right, top, bottom = 64, 16, 16, 130 if named_ticks else 48
    plot_w, plot_h = width - left - right, height - top - bottom
    floor = 1e-12
    errors = [max(float(e["error"]), floor) for e in trail]
    lo = math.floor(math.log10(min([*errors, max(tolerance, floor)])))
    hi = math.ceil(math.log10(max([*errors, max(tolerance, floor)]) * 1.01))
    hi = max(hi, lo + 1)
    n = len(trail)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h * (hi - math.log10(max(value, floor))) / (hi - lo)

    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="error per {_e(label)} along the graph">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafbfc" stroke="#dde2ea"/>',
    ]
    for decade in range(lo, hi + 1):
        yy = y(10.0**decade)
        svg.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#eceff3"/>')
        svg.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">1e{decade}</text>')
    if tolerance > 0:
        yt = y(tolerance)
        svg.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{yt:.1f}" y2="{yt:.1f}" stroke="#f0a020" '
            'stroke-dasharray="6 4" stroke-width="1.5"/>'
        )
        svg.append(f'<text x="{left + plot_w - 4}" y="{yt - 5:.1f}" text-anchor="end">tolerance {tolerance:g}</text>')
    if first is not None:
        xf = x(int(first["index"]))
        svg.append(
            f'<line x1="{xf:.1f}" x2="{xf:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#c62828" stroke-width="1.5"/>'
        )
        name = first.get("layer") or first.get("node") or ""
        anchor = "start" if xf < left + plot_w * 0.7 else "end"
        dx = 5 if anchor == "start" else -5
        svg.append(
            f'<text x="{xf + dx:.1f}" y="{top + 14}" text-anchor="{anchor}" style="fill:#c62828;font-weight:600">'
            f"first divergence: {_e(name)}</text>"
        )
    step = 1 if named_ticks else max(1, round(n / 10))
    for i in range(0, n, step):
        xx, base = x(i), top + plot_h
        svg.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{base}" y2="{base + 4}" stroke="#98a2b3"/>')
        if named_ticks:
            entry = trail[i]
            name = entry.get("layer") if label == "Keras layer" else entry.get("node")
            name = str(name or "-")
            name = name if len(name) <= 22 else "..." + name[-21:]
            svg.append(
                f'<text transform="translate({xx + 3:.1f} {base + 8}) rotate(45)" text-anchor="start">{_e(name)}</text>'
            )
        else:
            svg.append(f'<text x="{xx:.1f}" y="{base + 16}" text-anchor="middle">{i}</text>')
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(errors))
    svg.append(f'<polyline points="{points}" fill="none" stroke="#4a6fa5" stroke-width="1.2"/>')
    radius = 3 if n <= 200 else 1.8
    for i, (entry, value) in enumerate(zip(trail, errors, strict=True)):
        color = "#1f8a4c" if entry["passed"] else "#c62828"
        tip = f"#{entry['index']} {entry.get('layer') or '-'} | {entry.get('node') or '-'} ({entry.get('op') or '?'})"
        svg.append(
            f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="{radius}" fill="{color}">'
            f"<title>{_e(tip)}: error {float(entry['error']):.3g} x spread</title></circle>"
        )
    svg.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 10}" text-anchor="middle">'
        f"{_e(label)}s in topological order (0 .. {n - 1})</text>"
    )
    svg.append(
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
        "max |error| / spread (log)</text>"
    )
    svg.append("</svg>")
    return "\n".join(svg)


def _placement_html(report: dict[str, Any]) -> list[str]:
    ort = report.get("onnxruntime") or {}
    placement = ort.get("nodes_by_provider") or {}
    if not placement:
        return []
    rows = [
        "<h2>ONNX Runtime node placement</h2>",
        f"<p class='muted'>Kernels executed per provider, from ONNX Runtime's profiler (after graph optimisations; "
        f"the ONNX file has {_e(ort.get('graph_nodes', '?'))} nodes).</p>",
        "<table><tr><th>provider</th><th>nodes</th><th>ops</th></tr>",
    ]
    for provider, info in placement.items():
        ops = ", ".join(f"{op} {n}" for op, n in info["ops"].items())
        rows.append(f"<tr><td>{_e(provider)}</td><td class='num'>{info['nodes']}</td><td>{_e(ops)}</td></tr>")
    rows.append("</table>")
    return rows
