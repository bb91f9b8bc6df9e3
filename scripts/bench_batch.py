"""Wall time of one batch at several JOBS values, side by side: ``make bench-batch [CONFIG=...]``.

Runs ``python -m pipeline batch CONFIG --force --jobs N`` once per N (one after the other, into
``OUT/jobs-N``), times each run, and prints per-model seconds and the batch's wall time per N.
The numbers land in ``OUT/bench.json``. Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(ROOT / "configs" / "bench_batch.yaml"))
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default=str(ROOT / "out" / "bench-batch"))
    args = parser.parse_args()
    out = Path(args.out)
    runs = {}
    for jobs in args.jobs:
        target = out / f"jobs-{jobs}"
        cmd = [sys.executable, "-m", "pipeline", "batch", args.config, "--out", str(target), "--jobs", str(jobs)]
        print(f"$ {' '.join(cmd)} --force", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([*cmd, "--force"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - start
        summary = json.loads((target / "summary.json").read_text())
        runs[jobs] = {
            "wall_seconds": round(wall, 1),
            "exit_code": proc.returncode,
            "models": {m["name"]: {"status": m["status"], "seconds": m["seconds"]} for m in summary["models"]},
        }
    names = list(next(iter(runs.values()))["models"])
    width = max(len(n) for n in [*names, "batch wall time"])
    print(f"\n{args.config}: {len(names)} models, {os.cpu_count()} cores")
    print(f"{'model':<{width}}" + "".join(f"  {'JOBS=' + str(j):>14}" for j in runs))
    for name in names:
        cells = [f"{r['models'][name]['seconds']:.1f} s {r['models'][name]['status'][:4]}" for r in runs.values()]
        print(f"{name:<{width}}" + "".join(f"  {c:>14}" for c in cells))
    print(f"{'batch wall time':<{width}}" + "".join(f"  {r['wall_seconds']:>12.1f} s" for r in runs.values()))
    first = runs[args.jobs[0]]["wall_seconds"]
    for jobs in args.jobs[1:]:
        print(f"JOBS={jobs} vs JOBS={args.jobs[0]}: {first / runs[jobs]['wall_seconds']:.2f}x faster")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps({"config": args.config, "runs": runs}, indent=2) + "\n")
    return 0 if all(r["exit_code"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
