"""Conversion seconds, end to end and per stage, against plain tf2onnx + onnx2torch, in one run.

For each model, one after the other on the same machine:

* **pipeline**: ``python -m pipeline convert SOURCE`` with default settings (every input set,
  three-way validation, ``model.pt2``), as a user runs it; wall seconds of the whole command, the
  report's stage table, and each worker's wall time (its start-up = worker seconds minus the
  stages it ran);
* **baseline**: what the two tools do alone, as two processes run one after the other: TensorFlow
  + ``tf2onnx.convert.from_function`` (opset 15, ``model.onnx``), then torch + ``onnx2torch.convert``
  and one forward pass at batch 1 (no validation, no ``torch.export``).

The load average is printed before and after: the machine is shared, so compare the columns of
one run, not seconds across runs.

    .venv/bin/python scripts/bench_convert.py [--models resnet50 mobilenet_v2] [--repeat 1] [--before DIR]

``--before DIR``: a checkout of an earlier version (``git worktree add DIR COMMIT``, with its
``.venv``) runs alternately with this one, and a before/after table of stage seconds is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "resnet50": "keras.applications:ResNet50",
    "mobilenet_v2": "keras.applications:MobileNetV2",
}
# the stages each worker runs (report.json stage names); the rest of its wall time is start-up
WORKER_STAGES = {
    "tensorflow": ("load", "inputs", "export", "translate", "tf_reference"),
    "torch": ("import", "torch_probes", "torch_export"),
    "torch_check": ("torch_run",),
}


def _env(root: Path = ROOT) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def pipeline_run(source: str, out: Path, root: Path = ROOT) -> dict[str, Any]:
    """``python -m pipeline convert`` as a user runs it (the checkout at ``root``): wall seconds, stages, workers."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "convert", source, "--out", str(out)],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    report = json.loads((out / "report.json").read_text(encoding="utf-8")) if (out / "report.json").is_file() else {}
    stages: dict[str, float] = {}
    for stage in report.get("stages", []):
        stages[stage["name"]] = stages.get(stage["name"], 0.0) + stage["seconds"]
    workers = report.get("worker_seconds") or {}
    startups = {
        name: workers[name] - sum(stages.get(s, 0.0) for s in names)
        for name, names in WORKER_STAGES.items()
        if name in workers
    }
    return {
        "wall": wall,
        "status": report.get("status", f"exit {proc.returncode}"),
        "stages": stages,
        "workers": workers,
        "startups": startups,
        "tail": proc.stderr[-2000:] if proc.returncode not in (0, 1) else "",
    }


def baseline_tf_child(source: str, onnx_path: str, result_path: str) -> None:
    """Child process: TensorFlow + tf2onnx alone (``from_function`` at opset 15)."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    import tensorflow as tf
    import tf2onnx

    times["import"] = time.perf_counter() - start
    t = time.perf_counter()
    module, attr = source.split(":")
    import importlib

    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    model = obj(weights=None)
    spec = [tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32, name="input")]
    function = tf.function(lambda x: model(x, training=False), input_signature=spec, autograph=False)
    times["build"] = time.perf_counter() - t
    t = time.perf_counter()
    tf2onnx.convert.from_function(function, input_signature=spec, opset=15, output_path=onnx_path)
    times["export"] = time.perf_counter() - t
    Path(result_path).write_text(json.dumps(times), encoding="utf-8")


def baseline_torch_child(onnx_path: str, result_path: str) -> None:
    """Child process: onnx2torch alone, then one forward pass at batch 1."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    import onnx
    import onnx2torch
    import torch

    times["import"] = time.perf_counter() - start
    t = time.perf_counter()
    model = onnx.load(onnx_path)
    module = onnx2torch.convert(model).eval()
    times["convert"] = time.perf_counter() - t
    dims = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
    t = time.perf_counter()
    with torch.inference_mode():
        module(torch.rand(*dims))
    times["run"] = time.perf_counter() - t
    Path(result_path).write_text(json.dumps(times), encoding="utf-8")


def baseline_run(source: str, work: Path) -> dict[str, Any]:
    """Both baseline processes, one after the other (a user's script would do the same)."""
    work.mkdir(parents=True, exist_ok=True)
    onnx_path, tf_json, torch_json = work / "model.onnx", work / "tf.json", work / "torch.json"
    script = str(Path(__file__).resolve())
    start = time.perf_counter()
    tf_proc = subprocess.run(
        [sys.executable, script, "--tf-child", source, str(onnx_path), str(tf_json)],
        env=_env(),
        capture_output=True,
        text=True,
    )
    tf_wall = time.perf_counter() - start
    if tf_proc.returncode != 0 or not tf_json.is_file():
        return {"wall": tf_wall, "status": "export failed", "tail": tf_proc.stderr[-2000:]}
    t = time.perf_counter()
    torch_proc = subprocess.run(
        [sys.executable, script, "--torch-child", str(onnx_path), str(torch_json)],
        env=_env(),
        capture_output=True,
        text=True,
    )
    torch_wall = time.perf_counter() - t
    wall = time.perf_counter() - start
    if torch_proc.returncode != 0 or not torch_json.is_file():
        return {"wall": wall, "status": "import failed", "tail": torch_proc.stderr[-2000:]}
    tf_times = json.loads(tf_json.read_text(encoding="utf-8"))
    torch_times = json.loads(torch_json.read_text(encoding="utf-8"))
    return {
        "wall": wall,
        "status": "ok",
        "stages": {
            "tf: start-up + import": tf_wall - tf_times["build"] - tf_times["export"],
            "tf: build model": tf_times["build"],
            "tf: tf2onnx export": tf_times["export"],
            "torch: start-up + import": torch_wall - torch_times["convert"] - torch_times["run"],
            "torch: onnx2torch convert": torch_times["convert"],
            "torch: one forward": torch_times["run"],
        },
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _stage_rows(
    results: dict[str, dict[str, list[dict[str, Any]]]], kind: str, label: str, absent: float, width: int
) -> None:
    """The header, status and per-stage median rows of ``kind`` (``pipeline`` or ``baseline``) runs."""
    keys = list(results)
    print(f"{'':<28}" + "".join(f"{k:>{width}}" for k in keys))
    print(f"{'status':<28}" + "".join(f"{results[k][kind][0]['status']:>{width}}" for k in keys))
    names: list[str] = []
    for k in keys:
        for run in results[k][kind]:
            names += [s for s in run.get("stages", {}) if s not in names]
    for name in names:
        cells = [_median([r.get("stages", {}).get(name, absent) for r in results[k][kind]]) for k in keys]
        print(f"{label + name:<28}" + "".join(f"{c:>{width}.2f}" for c in cells))


def print_tables(results: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    keys = list(results)
    width = 16
    print("\npipeline (`python -m pipeline convert`, default settings), seconds")
    _stage_rows(results, "pipeline", "  stage ", 0.0, width)
    for worker in WORKER_STAGES:
        cells = [_median([r["startups"].get(worker, float("nan")) for r in results[k]["pipeline"]]) for k in keys]
        print(f"{'  start-up ' + worker:<28}" + "".join(f"{c:>{width}.2f}" for c in cells))
    in_stages = [_median([sum(r["stages"].values()) for r in results[k]["pipeline"]]) for k in keys]
    walls = [_median([r["wall"] for r in results[k]["pipeline"]]) for k in keys]
    print(f"{'  sum of stages':<28}" + "".join(f"{c:>{width}.2f}" for c in in_stages))
    print(f"{'end to end':<28}" + "".join(f"{c:>{width}.2f}" for c in walls))

    print("\nbaseline (tf2onnx, then onnx2torch + one forward; no validation, no .pt2), seconds")
    _stage_rows(results, "baseline", "  ", float("nan"), width)
    base = [_median([r["wall"] for r in results[k]["baseline"]]) for k in keys]
    print(f"{'end to end':<28}" + "".join(f"{c:>{width}.2f}" for c in base))
    print(f"\n{'pipeline / baseline':<28}" + "".join(f"{w / b:>{width}.2f}" for w, b in zip(walls, base, strict=True)))


def print_before_after(results: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    """Stage seconds of the checkout given with ``--before`` beside this one's, run alternately."""
    width = 12
    for key, runs in results.items():
        before, after = runs["before"], runs["pipeline"]
        print(f"\n{key}: --before checkout vs this one (medians of alternating runs), seconds")
        print(f"{'':<28}{'before':>{width}}{'after':>{width}}{'after/before':>{width + 2}}")
        print(f"{'status':<28}{before[0]['status']:>{width}}{after[0]['status']:>{width}}")
        names: list[str] = []
        for run in before + after:
            names += [s for s in run["stages"] if s not in names]
        rows = [(f"  stage {n}", [[r["stages"].get(n, 0.0) for r in side] for side in (before, after)]) for n in names]
        rows.append(("  sum of stages", [[sum(r["stages"].values()) for r in side] for side in (before, after)]))
        rows.append(("end to end", [[r["wall"] for r in side] for side in (before, after)]))
        for label, (b, a) in rows:
            mb, ma = _median(b), _median(a)
            ratio = f"{ma / mb:.2f}" if mb > 0 else ""
            print(f"{label:<28}{mb:>{width}.2f}{ma:>{width}.2f}{ratio:>{width + 2}}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--tf-child":
        baseline_tf_child(*sys.argv[2:5])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--torch-child":
        baseline_torch_child(*sys.argv[2:4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=sorted(MODELS))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (medians are printed)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--json", help="also write the raw measurements here")
    parser.add_argument(
        "--before", type=Path, help="an earlier checkout (a git worktree): run alternately with this one"
    )
    args = parser.parse_args()

    print(f"before: {_load()}", flush=True)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-convert-") as tmp:
        for key in args.models:
            results[key] = {"pipeline": [], "baseline": [], "before": []}
            for i in range(args.repeat):
                if args.before is not None:
                    old = pipeline_run(MODELS[key], Path(tmp) / key / "before", args.before.resolve())
                    print(f"{key} --before run {i + 1}: {old['wall']:.1f} s, {old['status']}", flush=True)
                    results[key]["before"].append(old)
                run = pipeline_run(MODELS[key], Path(tmp) / key / "pipeline")
                print(f"{key} pipeline run {i + 1}: {run['wall']:.1f} s, {run['status']}", flush=True)
                if run["tail"]:
                    print(run["tail"])
                results[key]["pipeline"].append(run)
                if not args.no_baseline:
                    base = baseline_run(MODELS[key], Path(tmp) / key / "baseline")
                    print(f"{key} baseline run {i + 1}: {base['wall']:.1f} s, {base['status']}", flush=True)
                    if base.get("tail"):
                        print(base["tail"])
                    results[key]["baseline"].append(base)
    print(f"after: {_load()}")
    if args.no_baseline:
        for key in results:
            results[key]["baseline"] = [{"wall": float("nan"), "status": "skipped"}]
    print_tables(results)
    if args.before is not None:
        print_before_after(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
