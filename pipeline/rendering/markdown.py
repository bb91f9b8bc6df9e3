"""Sections as markdown lines: a blank line before each heading and between blocks; figures are left out."""

from __future__ import annotations

from pipeline.rendering.blocks import Block, Bullets, Figure, Paragraph, Section, Table


def section_lines(section: Section) -> list[str]:
    """One section (and its subsections) as markdown lines, starting with a blank line."""
    lines = ["", f"{'#' * section.level} {section.title}"]
    for block in section.blocks:
        rendered = block_lines(block)
        if rendered:
            lines += ["", *rendered]
    for sub in section.subsections:
        lines += section_lines(sub)
    return lines


def sections_lines(sections: list[Section | None]) -> list[str]:
    """Several sections as markdown lines; None (a section with nothing to show) is skipped."""
    return [line for section in sections if section is not None for line in section_lines(section)]


def block_lines(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return block.text.split("\n")
    if isinstance(block, Bullets):
        return [f"- {_one_line(item)}" for item in block.items]
    if isinstance(block, Table):
        return _table(block)
    assert isinstance(block, Figure)
    return []


def _table(table: Table) -> list[str]:
    lines = ["|" + "".join(f" {_cell(h)} |" for h in table.header), "|" + "---|" * len(table.header)]
    for row in table.rows:
        # a spanning cell is followed by empty ones: markdown tables have no column spans
        lines.append("|" + "".join(f" {_cell(c.text)} |" + " |" * (c.span - 1) for c in row.cells))
    return lines


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _one_line(text: str) -> str:
    return str(text).replace("\n", " ")
