"""Plain-text tables of the CLI summary and the conformance report."""

from __future__ import annotations

from pipeline.rendering.text import text_table


def test_columns_align_and_the_last_is_not_padded() -> None:
    text = text_table([("tf_vs_ort", "logits", "PASS"), ("tf_vs_torch", "y", "FAIL: shape")], ("pair", "output", "v"))
    lines = text.splitlines()
    assert lines[0] == "pair         output  v"
    assert lines[1] == "-----------  ------  -----------"
    assert lines[2] == "tf_vs_ort    logits  PASS"
    assert lines[3] == "tf_vs_torch  y       FAIL: shape"
    assert all(line == line.rstrip() for line in lines)
