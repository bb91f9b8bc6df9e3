"""docs/SUPPORT.md is the table the registries generate: regenerate it (``make support-table``) when they change."""

from __future__ import annotations

from pathlib import Path

from pipeline.support import support_table

SUPPORT_MD = Path(__file__).resolve().parent.parent / "docs" / "SUPPORT.md"


def test_support_md_is_current() -> None:
    assert SUPPORT_MD.read_text(encoding="utf-8") == support_table(), "docs/SUPPORT.md is stale: make support-table"
