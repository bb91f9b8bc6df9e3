"""Wall time of one batch on the local engine and on Ray, side by side: ``make bench-batch ENGINE=ray``.

Runs ``python -m pipeline batch CONFIG --force`` three ways, one after the other, into ``OUT/<way>``:

- ``local``: the local engine, ``--jobs`` conversions at a time (default 2);
- ``ray-cluster``: a 2-node Ray cluster started here beforehand (``ray.cluster_utils.Cluster``: a
  head that runs no task and two worker nodes of ``--jobs / 2`` CPUs each, on this machine),
  ``--engine ray --address ADDR``: what a batch pays on a cluster that is already up;
- ``ray-local``: ``--engine ray`` without an address: the batch starts and stops its own instance.

Prints per-model seconds and each run's wall time, the time it took to bring the cluster up, and
Ray's start-up cost: the seconds the batch spent starting (or connecting to) Ray and shutting it
down, from ``summary.json``, and the wall time the Ray runs added over the local engine. Results
also land in ``OUT/bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from batch_runs import ROOT, print_runs, timed_batch


def run_once(config: str, out: Path, way: str, extra: list[str]) -> dict[str, Any]:
    run = timed_batch(config, out / way, extra)
    engine = run.pop("summary").get("engine", {})
    ray_seconds = round(engine.get("startup_seconds", 0.0) + engine.get("shutdown_seconds", 0.0), 2)
    return {"way": way, **run, "ray_seconds": ray_seconds, "engine": engine}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(ROOT / "configs" / "bench_batch.yaml"))
    parser.add_argument("--jobs", type=int, default=2, help="conversions at a time on each side (even)")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench-ray"))
    args = parser.parse_args()
    out = Path(args.out)
    import psutil
    from ray.cluster_utils import Cluster

    runs = [run_once(args.config, out, "local", ["--jobs", str(args.jobs)])]
    start = time.perf_counter()
    half = {"num_cpus": max(1, args.jobs // 2), "memory": psutil.virtual_memory().total // 2}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        for _ in range(2):
            cluster.add_node(**half)
        cluster_up = time.perf_counter() - start
        runs.append(run_once(args.config, out, "ray-cluster", ["--engine", "ray", "--address", cluster.address]))
    finally:
        cluster.shutdown()
    runs.append(run_once(args.config, out, "ray-local", ["--engine", "ray", "--jobs", str(args.jobs)]))

    models = len(runs[0]["models"])
    print(f"\n{args.config}: {models} models, {os.cpu_count()} cores, {args.jobs} at a time on each side")
    totals = [("batch wall time", "wall_seconds"), ("Ray start+stop (summary)", "ray_seconds")]
    print_runs(runs, [r["way"] for r in runs], totals)
    local = runs[0]["wall_seconds"]
    for run in runs[1:]:
        print(f"{run['way']} vs local: {run['wall_seconds'] / local:.2f}x wall, {run['wall_seconds'] - local:+.1f} s")
    print(f"2-node cluster brought up in {cluster_up:.1f} s (not part of the ray-cluster run)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(
        json.dumps(
            {"config": args.config, "jobs": args.jobs, "cluster_up_seconds": round(cluster_up, 1), "runs": runs},
            indent=2,
        )
    )
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
