"""What the batch benchmarks share: one timed ``python -m pipeline batch`` run, and its per-model table.

Used by ``scripts/bench_batch.py`` (JOBS values side by side) and ``scripts/bench_ray.py`` (the
local engine against Ray).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def timed_batch(config: str, target: Path, extra: list[str]) -> dict[str, Any]:
    """One ``--force`` run of the batch into ``target``: wall seconds, load average around it, per-model results.

    ``summary`` is the run's ``summary.json``.
    """
    cmd = [sys.executable, "-m", "pipeline", "batch", config, "--out", str(target), "--force", *extra]
    print(f"$ {' '.join(cmd)}", flush=True)
    load_before, start = os.getloadavg()[0], time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - start
    summary = json.loads((target / "summary.json").read_text())
    return {
        "wall_seconds": round(wall, 1),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "exit_code": proc.returncode,
        "models": {m["name"]: {"status": m["status"], "seconds": m["seconds"]} for m in summary["models"]},
        "summary": summary,
    }


def print_runs(runs: list[dict[str, Any]], heads: list[str], totals: list[tuple[str, str]]) -> None:
    """Per model its seconds and status in each run, then a line per ``(label, key)`` of ``totals``, then the load."""
    names = list(runs[0]["models"])
    width = max(len(n) for n in [*names, *(label for label, _ in totals), "load avg before/after"])
    print(f"{'model':<{width}}" + "".join(f"  {h:>16}" for h in heads))
    for name in names:
        cells = [f"{r['models'][name]['seconds']:.1f} s {r['models'][name]['status'][:4]}" for r in runs]
        print(f"{name:<{width}}" + "".join(f"  {c:>16}" for c in cells))
    for label, key in totals:
        print(f"{label:<{width}}" + "".join(f"  {r[key]:>14.1f} s" for r in runs))
    print(
        f"{'load avg before/after':<{width}}"
        + "".join(f"  {r['load_before']:>7.1f}/{r['load_after']:<6.1f}" for r in runs)
    )
