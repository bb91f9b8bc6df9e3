"""report.md and report.html from one section model: same content in both, marks and spans rendered per format."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from pipeline.rendering.blocks import Cell, Paragraph, Section, Table
from pipeline.rendering.html import section_html
from pipeline.rendering.markdown import section_lines
from pipeline.rendering.pages import html_page, markdown_page


def _report() -> dict[str, Any]:
    """A failed conversion's report.json content: one failing pair, localised to a layer."""
    comp = {"passed": False, "max_abs_error": 0.5, "max_rel_error": 0.2, "scale": 2.0, "mismatch_fraction": 0.25}
    trail = [
        {"index": i, "node": f"n{i}", "op": "Conv", "layer": f"l{i}", "error": e, "passed": e < 1e-4}
        for i, e in enumerate([1e-7, 2e-7, 0.5, 0.4, 0.0])
    ]
    return {
        "name": "m",
        "status": "failed",
        "source": {"spec": "m.keras", "kind": "keras"},
        "tolerance": {"atol": 1e-4, "rtol": 1e-3},
        "validation": {
            "tf_vs_ort": {"passed": False, "outputs": {"y": {**comp, "needed_atol": 0.3, "worst_set": "random"}}},
            "ort_vs_torch": {"passed": None, "skipped": "no torch | program"},
        },
        "input_sets": [{"name": "random", "batch": 2, "purpose": "seeded", "inputs": {"x": {"min": 0.0, "max": 1.0}}}],
        "diagnosis": {
            "blame": ["export"],
            "summary": "TensorFlow and ONNX Runtime differ",
            "findings": ["look at l2"],
            "localization": {
                "tf_vs_ort": {
                    "method": "layer walk",
                    "input_set": "random",
                    "compared": 5,
                    "not_compared": 0,
                    "seconds": 1.0,
                    "stage": "export",
                    "first_divergence": {**trail[2], "max_abs_error": 0.5, "inputs_agree": True},
                    "trail": trail,
                }
            },
        },
    }


def test_markdown_and_html_show_the_same_sections() -> None:
    report = _report()
    md, page = markdown_page(report), html_page(report)
    for title in ("Validation", "Input sets", "Verdict", "Divergence trail: TensorFlow vs ONNX Runtime"):
        assert f"## {title}\n" in md and f">{title}</h" in page
    assert "**Blame: export**: TensorFlow and ONNX Runtime differ." in md
    assert "<b>Blame: export</b>: TensorFlow and ONNX Runtime differ." in page
    assert "| tf_vs_ort | y | **FAIL** | 0.5 | 0.2 | 0.25 | 25.00% | 0.3 | random |" in md
    # a skipped pair's reason spans the remaining columns; a | in it is escaped in markdown only
    assert "| ort_vs_torch | - | skipped | no torch \\| program | | | | | |" in md
    assert "<td colspan='6'>no torch | program</td>" in page
    # the first divergence: marked in the trail table of both, plotted in the HTML page only
    assert "| 2 | l2 | `n2` | Conv | 0.5 | **FIRST DIVERGENCE** |" in md
    assert "<tr class=first>" in page and "<code>n2</code>" in page
    assert "<svg" in page and "<svg" not in md
    parser = HTMLParser()
    parser.feed(page)  # well-formed enough to parse
    parser.close()


def test_a_section_renders_its_blocks_and_subsections() -> None:
    table = Table(["a", "b"])
    table.add(Cell("`x`", tone="fail"), Cell("1.5", num=True))
    sub = Section("Sub", [Paragraph("two\nlines")], level=3)
    section = Section("Top", [Paragraph("**bold** <tag>", tone="muted"), table], subsections=[sub])
    assert section_lines(section) == [
        "",
        "## Top",
        "",
        "**bold** <tag>",
        "",
        "| a | b |",
        "|---|---|",
        "| `x` | 1.5 |",
        "",
        "### Sub",
        "",
        "two",
        "lines",
    ]
    assert section_html(section) == [
        "<h2>Top</h2>",
        "<p class='muted'><b>bold</b> &lt;tag&gt;</p>",
        "<table><tr><th>a</th><th>b</th></tr>",
        "<tr><td><span class='fail'><code>x</code></span></td><td class='num'>1.5</td></tr>",
        "</table>",
        "<h3>Sub</h3>",
        "<p>two<br>\nlines</p>",
    ]
    assert section_html(section, subsections=False)[-1] == "</table>"
