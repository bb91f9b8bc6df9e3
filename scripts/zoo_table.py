"""One line per converted model: status, seconds, max error per pair, the fixups that fired.

    python scripts/zoo_table.py out/zoo            # after `make zoo`
    python scripts/zoo_table.py out/MobileNet ...   # or given output folders

Reads each ``<folder>/report.json`` (folders without one are skipped); prints a Markdown table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PAIRS = ("tf_vs_ort", "ort_vs_torch", "tf_vs_torch")


def _reports(paths: list[str]) -> list[Path]:
    found = []
    for raw in paths:
        path = Path(raw)
        if (path / "report.json").is_file():
            found.append(path / "report.json")
        else:
            found.extend(sorted(path.glob("*/report.json")))
    return found


def row(report: dict) -> str:
    seconds = sum(s["seconds"] for s in report.get("stages", []))
    errors = []
    for pair in PAIRS:
        entry = report.get("validation", {}).get(pair) or {}
        errors.append("-" if entry.get("max_abs_error") is None else f"{entry['max_abs_error']:.2g}")
    needed = [
        c["needed_atol"]
        for entry in report.get("validation", {}).values()
        for c in (entry or {}).get("outputs", {}).values()
        if c.get("needed_atol") is not None
    ]
    errors.append(f"{max(needed):.2g}" if needed else "-")
    fixups = ", ".join(f["name"] for f in report.get("fixups", [])) or "-"
    status = report["status"]
    if report.get("error"):
        status += f": {report['error'].get('stage')}: {report['error']['message'][:80]}"
    return f"| {report['name']} | {status} | {seconds:.0f} | {' | '.join(errors)} | {fixups} |"


def main(argv: list[str]) -> int:
    reports = _reports(argv or ["out/zoo"])
    if not reports:
        print("no report.json found", file=sys.stderr)
        return 2
    print(
        "| model | status | seconds | max abs error tf_vs_ort | ort_vs_torch | tf_vs_torch "
        "| worst needed atol (x std) | fixups fired |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for path in reports:
        print(row(json.loads(path.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
