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
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_once(config: str, out: Path, way: str, extra: list[str]) -> dict[str, Any]:
    target = out / way
    cmd = [sys.executable, "-m", "pipeline", "batch", config, "--out", str(target), "--force", *extra]
    print(f"$ {' '.join(cmd)}", flush=True)
    load_before, start = os.getloadavg()[0], time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - start
    summary = json.loads((target / "summary.json").read_text())
    engine = summary.get("engine", {})
    return {
        "way": way,
        "wall_seconds": round(wall, 1),
        "ray_seconds": round(engine.get("startup_seconds", 0.0) + engine.get("shutdown_seconds", 0.0), 2),
        "engine": engine,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "exit_code": proc.returncode,
        "models": {m["name"]: {"status": m["status"], "seconds": m["seconds"]} for m in summary["models"]},
    }


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

    names = list(runs[0]["models"])
    width = max(len(n) for n in [*names, "Ray start+stop (summary)"])
    print(f"\n{args.config}: {len(names)} models, {os.cpu_count()} cores, {args.jobs} at a time on each side")
    print(f"{'model':<{width}}" + "".join(f"  {r['way']:>16}" for r in runs))
    for name in names:
        cells = [f"{r['models'][name]['seconds']:.1f} s {r['models'][name]['status'][:4]}" for r in runs]
        print(f"{name:<{width}}" + "".join(f"  {c:>16}" for c in cells))
    print(f"{'batch wall time':<{width}}" + "".join(f"  {r['wall_seconds']:>14.1f} s" for r in runs))
    print(f"{'Ray start+stop (summary)':<{width}}" + "".join(f"  {r['ray_seconds']:>14.1f} s" for r in runs))
    print(
        f"{'load avg before/after':<{width}}"
        + "".join(f"  {r['load_before']:>7.1f}/{r['load_after']:<6.1f}" for r in runs)
    )
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
