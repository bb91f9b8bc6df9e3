"""Assertions shared by the model tests."""

from __future__ import annotations

import json
from typing import Any

PAIRS = ("tf_vs_ort", "ort_vs_torch", "tf_vs_torch")


def assert_converted(result: Any, dynamic_batch: bool = True) -> None:
    """The conversion passed all three comparisons (and exported a dynamic batch)."""
    report = result.report
    assert result.status == "passed", json.dumps(report.get("error") or report.get("validation"), indent=1)[:4000]
    for pair in PAIRS:
        assert report["validation"][pair]["passed"] is True, pair
    if dynamic_batch:
        assert report["torch"]["dynamic_batch"] is True


def fired(result: Any) -> set[str]:
    """Names of the fixups (trace and graph) that changed something."""
    return {f["name"] for f in result.report["fixups"]}
