"""Model inputs that hold strings (a StringLookup or TextVectorization reading raw text) are refused.

torch has no string tensors, so no conversion can take them; the refusal names the input and
the layer reading it, and says what converts: the model from that layer's integer output on.
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import Location, UnsupportedError


def refuse_string_input(name: str, dtype: str, consumers: list[Any], stage: str) -> None:
    """Raise :class:`UnsupportedError` (exit 2) when input ``name`` is a string tensor."""
    if dtype not in ("string", "str", "object", "bytes"):
        return
    readers = [str(layer.name) for layer in consumers]
    where = f" (read by {', '.join(repr(r) for r in readers)})" if readers else ""
    raise UnsupportedError(
        f"input '{name}' holds strings{where}: torch has no string tensors, so the model cannot take raw text",
        stage=stage,
        location=Location(layer=readers[0]) if readers else None,
        hint="convert the model that starts after the string lookup: an Input of its integer ids "
        "(keep the StringLookup / TextVectorization in your data pipeline)",
    )
