"""k2t-* work folders of processes that no longer exist are removed by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline import tempdirs


def test_leftovers_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    left = tmp_path / f"k2t-tensorflow-{pid}-abc123"
    (left / "sub").mkdir(parents=True)
    (left / "sub" / "request.json").write_text("{}")
    mine = tmp_path / f"{tempdirs.prefix('torch')}xyz"
    mine.mkdir()
    other = tmp_path / "k2t-notes"  # not one of ours by name: kept
    other.mkdir()
    assert tempdirs.clean_dead(tmp_path) == [left]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other.name])
    assert str(os.getpid()) in mine.name
