"""The HTML report's plot of the error along the graph, as one inline SVG.

For a localisation walk, the error of every compared node (layer) along the graph in units of the
reference's spread, on a log scale, against the tolerance, with the first divergence marked.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.rendering.html import escape

NAMED_TICKS = 40  # up to this many points, the x axis names each layer / node


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
        f'role="img" aria-label="error per {escape(label)} along the graph">',
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
            f"first divergence: {escape(name)}</text>"
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
                f'<text transform="translate({xx + 3:.1f} {base + 8}) rotate(45)" text-anchor="start">'
                f"{escape(name)}</text>"
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
            f"<title>{escape(tip)}: error {float(entry['error']):.3g} x spread</title></circle>"
        )
    svg.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 10}" text-anchor="middle">'
        f"{escape(label)}s in topological order (0 .. {n - 1})</text>"
    )
    svg.append(
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
        "max |error| / spread (log)</text>"
    )
    svg.append("</svg>")
    return "\n".join(svg)
