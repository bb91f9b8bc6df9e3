"""Sections as HTML: escaped text, ```code``` and ``**bold**`` marks as tags, tones as CSS classes.

The page has no external assets (inline CSS, inline SVG figures), so it can be mailed or archived
as one file.
"""

from __future__ import annotations

import html
import re
from typing import Any

from pipeline.rendering.blocks import Block, Bullets, Cell, Figure, Paragraph, Section, Table

CSS = """
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
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def escape(value: Any) -> str:
    """Text as HTML, quotes included."""
    return html.escape(str(value), quote=True)


def inline(text: str) -> str:
    """Text with its inline marks as HTML: escaped, ```code``` and ``**bold**`` as tags."""
    return _BOLD.sub(r"<b>\1</b>", _CODE.sub(r"<code>\1</code>", escape(text))).replace("\n", "<br>\n")


def section_html(section: Section, *, subsections: bool = True) -> list[str]:
    """One section as HTML parts; ``subsections=False`` leaves them to the page."""
    parts = [f"<h{section.level}>{inline(section.title)}</h{section.level}>"]
    parts += [part for block in section.blocks for part in block_html(block)]
    if subsections:
        parts += [part for sub in section.subsections for part in section_html(sub)]
    return parts


def block_html(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [f"<p{_class(block.tone)}>{inline(block.text)}</p>"]
    if isinstance(block, Bullets):
        if block.callout:
            return [f"<div class='finding'>{inline(item)}</div>" for item in block.items]
        return ["<ul>", *(f"<li>{inline(item)}</li>" for item in block.items), "</ul>"]
    if isinstance(block, Table):
        return _table(block)
    assert isinstance(block, Figure)
    return [block.svg]


def _table(table: Table) -> list[str]:
    rows = ["<table><tr>" + "".join(f"<th>{inline(h)}</th>" for h in table.header) + "</tr>"]
    for row in table.rows:
        cells = "".join(_cell(cell) for cell in row.cells)
        rows.append(f"<tr{' class=first' if row.highlight else ''}>{cells}</tr>")
    rows.append("</table>")
    return rows


def _cell(cell: Cell) -> str:
    attrs = " class='num'" if cell.num else ""
    attrs += f" colspan='{cell.span}'" if cell.span > 1 else ""
    text = inline(cell.text)
    if cell.tone:
        text = f"<span class='{cell.tone}'>{text}</span>"
    return f"<td{attrs}>{text}</td>"


def _class(tone: str | None) -> str:
    return f" class='{tone}'" if tone else ""
