"""Exit codes: --help lists them; make prints the pipeline's code last."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline import exitcodes
from tests.conftest import ROOT, run_cli


def test_help_lists_exit_codes_without_markup() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "``" not in proc.stdout and ":func:" not in proc.stdout
    for code in (0, 1, 2, 3, 130):
        assert f"\n  {code:<4} " in proc.stdout
    assert "exit codes:" in run_cli("convert", "--help").stdout


def test_make_convert_names_the_pipeline_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "convert", f"MODEL={tmp_path / 'typo.keras'}", f"OUT={tmp_path / 'out'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2  # make's own code for any failure
    assert proc.stdout.strip().splitlines()[-1] == exitcodes.describe(2)
    assert exitcodes.describe(1).startswith("exit code 1: validation failed")
    assert exitcodes.main(["130"]) == 130
