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
import sys
from pathlib import Path
from typing import Any

from batch_runs import ROOT, print_runs, timed_batch


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every waited-for descendant rolls up here
    return usage.ru_utime + usage.ru_stime


def run_once(config: str, out: Path, jobs: int) -> dict[str, Any]:
    """One ``--force`` run of the batch; its wall and CPU seconds and per-model results."""
    cpu_before = _cpu_seconds()
    run = timed_batch(config, out / f"jobs-{jobs}", ["--jobs", str(jobs)])
    del run["summary"]
    return {"jobs": jobs, **run, "cpu_seconds": round(_cpu_seconds() - cpu_before, 1)}


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

    heads = [f"JOBS={r['jobs']} #{i + 1}" for i, r in enumerate(runs)]
    print(f"\n{args.config}: {len(runs[0]['models'])} models, {os.cpu_count()} cores")
    print_runs(runs, heads, [("batch wall time", "wall_seconds"), ("CPU time", "cpu_seconds")])
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
