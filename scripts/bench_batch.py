"""Wall time of one batch at several JOBS values, side by side: ``make bench-batch [CONFIG=...]``.

Runs ``python -m pipeline batch CONFIG --force --jobs N`` for each N (into ``OUT/jobs-N``), one
run after the other, ``--repeat`` times in alternating order (1 2, 2 1, ...) so that a change in the
machine's load does not favour one side. Prints per-model seconds, the batch's wall time and the
CPU time of all its processes per run, the median wall time per N, and the load average around each
run (the batch shares the machine with whatever else runs). Results also land in ``OUT/bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every waited-for descendant rolls up here
    return usage.ru_utime + usage.ru_stime


def run_once(config: str, out: Path, jobs: int) -> dict[str, Any]:
    """One ``--force`` run of the batch; its wall and CPU seconds and per-model results."""
    target = out / f"jobs-{jobs}"
    cmd = [sys.executable, "-m", "pipeline", "batch", config, "--out", str(target), "--jobs", str(jobs), "--force"]
    print(f"$ {' '.join(cmd)}", flush=True)
    load_before, cpu_before, start = os.getloadavg()[0], _cpu_seconds(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_before
    summary = json.loads((target / "summary.json").read_text())
    return {
        "jobs": jobs,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "exit_code": proc.returncode,
        "models": {m["name"]: {"status": m["status"], "seconds": m["seconds"]} for m in summary["models"]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(ROOT / "configs" / "bench_batch.yaml"))
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="runs per JOBS value, in alternating order")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench-batch"))
    args = parser.parse_args()
    out = Path(args.out)
    runs = []
    for r in range(args.repeat):
        for jobs in args.jobs if r % 2 == 0 else list(reversed(args.jobs)):
            runs.append(run_once(args.config, out, jobs))

    names = list(runs[0]["models"])
    width = max(len(n) for n in [*names, "batch wall time"])
    heads = [f"JOBS={r['jobs']} #{i + 1}" for i, r in enumerate(runs)]
    print(f"\n{args.config}: {len(names)} models, {os.cpu_count()} cores")
    print(f"{'model':<{width}}" + "".join(f"  {h:>16}" for h in heads))
    for name in names:
        cells = [f"{r['models'][name]['seconds']:.1f} s {r['models'][name]['status'][:4]}" for r in runs]
        print(f"{name:<{width}}" + "".join(f"  {c:>16}" for c in cells))
    for label, key in (("batch wall time", "wall_seconds"), ("CPU time", "cpu_seconds")):
        print(f"{label:<{width}}" + "".join(f"  {r[key]:>14.1f} s" for r in runs))
    print(
        f"{'load avg before/after':<{width}}"
        + "".join(f"  {r['load_before']:>7.1f}/{r['load_after']:<6.1f}" for r in runs)
    )
    medians = {j: statistics.median(r["wall_seconds"] for r in runs if r["jobs"] == j) for j in args.jobs}
    print("median wall time: " + ", ".join(f"JOBS={j}: {s:.1f} s" for j, s in medians.items()))
    base = medians[args.jobs[0]]
    for jobs in args.jobs[1:]:
        print(f"JOBS={jobs} vs JOBS={args.jobs[0]}: {base / medians[jobs]:.2f}x")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps({"config": args.config, "runs": runs, "median_wall": medians}, indent=2))
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
