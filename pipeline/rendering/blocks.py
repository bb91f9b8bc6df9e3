"""The section model both renderers read: a :class:`Section` holds typed blocks.

Text in blocks is plain text with two inline marks, ```code``` and ``**bold**``, which markdown
keeps and HTML turns into ``<code>`` and ``<b>``. ``tone`` (``pass``, ``fail``, ``muted``) colours
a block or cell in HTML only; in markdown a failure is bold in its text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def fmt(value: Any) -> str:
    """A number for a table cell: 3 significant digits, ``-`` when missing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


@dataclass
class Paragraph:
    """A paragraph; a line break in ``text`` is kept."""

    text: str
    tone: str | None = None


@dataclass
class Bullets:
    """A list of one-line items; ``callout``: in HTML each item is a highlighted box (a finding)."""

    items: list[str]
    callout: bool = False


@dataclass
class Cell:
    """A table cell; ``span`` columns wide (markdown pads with empty cells), ``num``: a right-aligned number."""

    text: str
    tone: str | None = None
    num: bool = False
    span: int = 1


@dataclass
class Row:
    cells: list[Cell]
    highlight: bool = False  # the row a reader looks for first (a first divergence)


@dataclass
class Table:
    header: list[str]
    rows: list[Row] = field(default_factory=list)

    def add(self, *cells: Cell | str, highlight: bool = False) -> None:
        """Append a row; a plain string is a plain cell."""
        self.rows.append(Row([c if isinstance(c, Cell) else Cell(c) for c in cells], highlight))


@dataclass
class Figure:
    """An inline SVG figure (HTML only)."""

    svg: str


Block = Paragraph | Bullets | Table | Figure


@dataclass
class Section:
    """A titled part of the report: blocks, then subsections one level down."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2
    subsections: list[Section] = field(default_factory=list)
