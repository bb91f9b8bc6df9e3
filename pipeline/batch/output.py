"""A batch's files for people and CI: ``summary.md``, ``junit.xml``, and the table printed at the end.

``summary.json`` is :meth:`pipeline.batch.summary.BatchSummary.to_json`; the live progress lines are
:class:`pipeline.progress.BatchProgress`.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.batch.summary import BatchSummary, read_json


def short(text: str | None, width: int = 110) -> str:
    """The first line of ``text``, cut to ``width`` characters."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` at once (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def summary_table(summary: BatchSummary) -> str:
    """The per-model table and the totals line, as printed at the end of a run."""
    header = ("model", "status", "kind", "seconds", "detail")
    rows = [
        (
            m.name,
            m.status if m.status == "passed" else m.status.upper(),
            m.kind or "",
            f"{m.seconds:.1f}",
            short(m.message),
        )
        for m in summary.models
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header).rstrip(), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r).rstrip() for r in rows]
    lines.append(
        f"{summary.count('passed')} passed, {summary.count('failed')} failed, {summary.count('error')} errors"
        f" ({len(summary.models)} models)"
    )
    return "\n".join(lines)


def render_markdown(summary: BatchSummary) -> str:
    """``summary.md``: one table row per model, linking its report."""
    state = "" if summary.complete else (" (interrupted)" if summary.interrupted else " (running)")
    lines = [
        f"# Batch summary: `{summary.config}`{state}",
        "",
        f"**{summary.count('passed')} passed, {summary.count('failed')} failed, {summary.count('error')} errors** "
        f"of {len(summary.models)} models; {summary.jobs} in parallel, {summary.wall_seconds:.1f} s wall, "
        f"{sum(m.reused for m in summary.models)} reused from earlier runs.",
        "",
        "| model | status | kind | seconds | peak RSS (MB) | detail | report |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in summary.models:
        status = m.status if m.status == "passed" else f"**{m.status}**"
        detail = short(m.message, 200).replace("|", "\\|")
        rss = f"{m.peak_rss_mb:.0f}" if m.peak_rss_mb else ""
        report_md = m.report.replace("report.json", "report.md")
        lines.append(
            f"| {m.name} | {status} | {m.kind or ''} | {m.seconds:.1f} | {rss} | {detail} | [report]({report_md}) |"
        )
    return "\n".join(lines) + "\n"


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(summary: BatchSummary, suite: str) -> str:
    """``junit.xml``: one test case per model; ``failure`` for a validation mismatch, ``error`` otherwise."""
    import xml.etree.ElementTree as ET

    def clean(text: str | None) -> str:
        return _XML_INVALID.sub("", text or "")

    counts = {
        "tests": str(len(summary.models)),
        "failures": str(summary.count("failed")),
        "errors": str(summary.count("error")),
        "time": f"{summary.wall_seconds:.2f}",
    }
    root = ET.Element("testsuites", name="keras2torch batch", **counts)
    suite_el = ET.SubElement(root, "testsuite", name=clean(suite), skipped="0", timestamp=summary.started_at, **counts)
    for m in summary.models:
        case = ET.SubElement(suite_el, "testcase", classname=f"keras2torch.{clean(suite)}", name=clean(m.name))
        case.set("time", f"{m.seconds:.2f}")
        if m.status != "passed":
            tag = "failure" if m.status == "failed" else "error"
            details = _error_details(summary.out_dir / m.report)
            node = ET.SubElement(case, tag, message=clean(short(m.message, 500)), type=m.kind or m.status)
            node.text = clean(m.message or "") + ("\n\n" + clean(details) if details else "")
        out = ET.SubElement(case, "system-out")
        out.text = f"report: {m.report}" + (" (reused from an earlier run)" if m.reused else "")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _error_details(report_path: Path) -> str:
    report = read_json(report_path) or {}
    error = report.get("error") or {}
    parts = [f"hint: {error['hint']}"] if error.get("hint") else []
    if error.get("details"):
        parts.append(str(error["details"])[-4000:])
    return "\n".join(parts)
