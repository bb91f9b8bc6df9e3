"""Plain-text tables for the terminal (the CLI's summary, the conformance report)."""

from __future__ import annotations

from typing import Any


def text_table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    """Columns padded to their widest cell, a dashed rule under the header; the last column is not
    padded (a long message there does not push trailing blanks onto every line)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + ("  {}" if len(widths) > 1 else "{}")
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, r)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
