"""Peak memory of whole conversions against the model's weight bytes, side by side in one run.

Converts each model with the pipeline's command line (TensorFlow and torch sides in their own
worker processes), one at a time, and prints for each process (``tensorflow``, ``torch``,
``torch_check`` workers and the ``orchestrator`` running fixups, ONNX Runtime and validation)
its peak resident memory as measured by the pipeline (``report.json``: ``peak_rss_mb``), and
the ratio to the model's weight bytes (the ONNX initializers). Models:

* ``vgg16``: ``keras.applications.VGG16(weights=None)``, 528 MB of weights in 138M parameters;
* ``wide3g``: a stack of ``Dense(8192)`` layers holding about 3 GB of weights (:func:`wide_dense`),
  past protobuf's 2 GB limit;
* ``resnet50``: for time and memory against the plain tf2onnx export (``--baseline``).

``--baseline`` also runs the export the way tf2onnx does it by itself
(``tf2onnx.convert.from_function``: weights as constants in the graph), and with tf2onnx's
``large_model=True`` (which needs ``np.product``, gone in numpy 2: the child process puts it
back), each in a capped process, for the before/after comparison of the export stage.

Safe on a shared 24 GB machine: every process is capped (``--cap-gb``, 8 by default; the
pipeline's workers enforce it themselves, this script watches the whole process tree too and
kills it past the cap), a model is skipped when free memory or disk is short, and the large
output files are deleted after each model unless ``--keep``.

    .venv/bin/python scripts/bench_memory.py [--models vgg16 wide3g] [--baseline] [--cap-gb 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODELS: dict[str, tuple[str, dict[str, Any], float]] = {  # source, kwargs, approximate weight GB
    "vgg16": ("keras.applications:VGG16", {}, 0.55),
    "wide3g": ("scripts.bench_memory:wide_dense", {"gigabytes": 3.0}, 3.0),
    "resnet50": ("keras.applications:ResNet50", {}, 0.1),
}
PROCESSES = ("tensorflow", "torch", "torch_check", "orchestrator")


def wide_dense(gigabytes: float = 3.0, width: int = 8192, seed: int = 0) -> Any:
    """``Dense(width, tanh)`` layers holding about ``gigabytes`` of float32 weights (a callable source)."""
    import keras

    keras.utils.set_random_seed(seed)
    per_layer = (width * width + width) * 4
    layers = max(1, round(gigabytes * 1e9 / per_layer))
    inputs = keras.Input((width,), name="features")
    x = inputs
    for i in range(layers):
        x = keras.layers.Dense(width, activation="tanh", name=f"dense_{i}")(x)
    return keras.Model(inputs, x, name=f"wide_dense_{layers}x{width}")


# --------------------------------------------------------------------------- running capped


@dataclass
class Watched:
    """A finished command: exit code, this script's view of its peak, and whether it was killed."""

    returncode: int
    seconds: float
    tree_peak_mb: float = 0.0
    killed: str | None = None
    rusage_peak_mb: float = 0.0
    output: str = ""
    per_process_peak_mb: dict[str, float] = field(default_factory=dict)


def run_capped(command: list[str], cap_gb: float, tree_cap_gb: float, log: Path) -> Watched:
    """Run ``command`` in its own process group; kill the group when one process or the tree passes a cap."""
    import psutil

    start = time.perf_counter()
    with open(log, "wb") as handle:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    result = Watched(returncode=0, seconds=0.0)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            except psutil.Error:
                procs = []
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                if rss > cap_gb * 1024**3 and result.killed is None:
                    result.killed = f"a process passed {cap_gb:g} GB"
            result.tree_peak_mb = max(result.tree_peak_mb, total / 1024**2)
            if total > tree_cap_gb * 1024**3 and result.killed is None:
                result.killed = f"the process tree passed {tree_cap_gb:g} GB"
            if result.killed is not None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        _, status, rusage = os.wait4(proc.pid, 0)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    finally:
        done.set()
        watcher.join()
    proc.returncode = -1
    result.returncode = os.waitstatus_to_exitcode(status)
    result.seconds = time.perf_counter() - start
    result.rusage_peak_mb = rusage.ru_maxrss / 1024
    result.output = log.read_text(encoding="utf-8", errors="replace")[-3000:]
    return result


# --------------------------------------------------------------------------- one model


def onnx_weight_bytes(path: Path) -> int:
    """Bytes of the ONNX model's initializers, read from the graph alone."""
    sys.path.insert(0, str(ROOT))
    from pipeline import external_data, onnx_utils

    return external_data.weight_bytes(onnx_utils.load(path))


@dataclass
class Row:
    key: str
    status: str
    weight_bytes: int = 0
    peaks: dict[str, float] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    data_files: list[str] = field(default_factory=list)
    note: str = ""


def convert(key: str, work: Path, cap_gb: float, keep: bool) -> Row:
    source, kwargs, approx_gb = MODELS[key]
    if not _room_for(approx_gb, work):
        return Row(key, "skipped", note="not enough free memory or disk for a safe run")
    out = work / key
    config = work / f"{key}.yaml"
    config.write_text(json.dumps({"memory_gb": cap_gb, "kwargs": kwargs, "timeout_s": 3600}), encoding="utf-8")
    command = [sys.executable, "-m", "pipeline", "convert", source, "--out", str(out), "--config", str(config)]
    watched = run_capped(command, cap_gb, tree_cap_gb=cap_gb * 1.6, log=work / f"{key}.log")
    report_path = out / "report.json"
    if not report_path.is_file():
        return Row(key, "error", seconds=watched.seconds, note=watched.killed or watched.output[-300:])
    report = json.loads(report_path.read_text(encoding="utf-8"))
    row = Row(
        key,
        report["status"] if watched.killed is None else "killed",
        peaks=dict(report.get("peak_rss_mb", {})),
        stages={s["name"]: s["seconds"] for s in report.get("stages", [])},
        seconds=watched.seconds,
        data_files=[v for k, v in report.get("artifacts", {}).items() if k.endswith("_data")],
        note=watched.killed or ((report.get("error") or {}).get("message") or ""),
    )
    if (out / "model.onnx").is_file():
        row.weight_bytes = onnx_weight_bytes(out / "model.onnx")
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return row


def _room_for(approx_gb: float, work: Path) -> bool:
    import psutil

    free_memory = psutil.virtual_memory().available / 1e9
    free_disk = shutil.disk_usage(work).free / 1e9
    return free_memory > 2.5 * approx_gb + 3 and free_disk > 3.5 * approx_gb + 1


# --------------------------------------------------------------------------- plain tf2onnx, for comparison


def baseline_export(source: str, kwargs_json: str, out: str, large_model: bool) -> None:
    """Child process: load like the pipeline, export with ``tf2onnx.convert.from_function`` alone."""
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    if large_model and not hasattr(np, "product"):
        np.product = np.prod  # type: ignore[attr-defined]  # tf2onnx 1.17's large_model path calls it

    from pipeline.config import ConversionConfig
    from pipeline.sources import classify
    from pipeline.stages.load import load_model

    loaded = load_model(classify(source), ConversionConfig(kwargs=json.loads(kwargs_json)))
    signature = [
        tf.TensorSpec([None if a == s.batch_axis else d for a, d in enumerate(s.shape)], s.dtype, name=s.name)
        for s in loaded.inputs
    ]
    function = tf.function(
        lambda *args: dict(zip(loaded.outputs, loaded.function(*args), strict=True)),
        input_signature=signature,
        autograph=False,
    )
    start = time.perf_counter()
    model, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=17, large_model=large_model)
    seconds = time.perf_counter() - start
    Path(out).write_text(json.dumps({"export_s": seconds, "proto_bytes": model.ByteSize()}), encoding="utf-8")


def baseline(key: str, work: Path, cap_gb: float, large_model: bool = False) -> dict[str, Any]:
    source, kwargs, approx_gb = MODELS[key]
    if not _room_for(approx_gb, work):
        return {"status": "skipped"}
    mode = "large" if large_model else "plain"
    out = work / f"{key}.{mode}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--baseline-child", source, json.dumps(kwargs), str(out)]
    command.append(mode)
    watched = run_capped(command, cap_gb, tree_cap_gb=cap_gb, log=work / f"{key}.{mode}.log")
    result: dict[str, Any] = {"peak_mb": watched.rusage_peak_mb, "seconds": watched.seconds}
    if watched.killed or not out.is_file():
        result["status"] = f"killed: {watched.killed}" if watched.killed else "failed"
        result["peak_mb"] = max(watched.rusage_peak_mb, watched.tree_peak_mb)
    else:
        result.update(json.loads(out.read_text(encoding="utf-8")), status="ok")
    return result


# --------------------------------------------------------------------------- report


def print_table(rows: list[Row], baselines: dict[str, dict[str, Any]]) -> None:
    width = 24
    print()
    print(f"{'':<22}" + "".join(f"{r.key:>{width}}" for r in rows))
    print(f"{'status':<22}" + "".join(f"{r.status:>{width}}" for r in rows))
    print(f"{'weights MB':<22}" + "".join(f"{r.weight_bytes / 1e6:>{width}.0f}" for r in rows))
    for name in PROCESSES:
        cells = []
        for r in rows:
            peak = r.peaks.get(name)
            if peak is None or not r.weight_bytes:
                cells.append(f"{'-':>{width}}")
            else:
                cells.append(f"{f'{peak:.0f} MB ({peak * 1024**2 / r.weight_bytes:.2f}x)':>{width}}")
        print(f"{'peak ' + name:<22}" + "".join(cells))
    worst = []
    for r in rows:
        peak = max(r.peaks.values()) if r.peaks else 0
        ratio = peak * 1024**2 / r.weight_bytes if r.weight_bytes else 0
        worst.append(f"{f'{peak:.0f} MB ({ratio:.2f}x)':>{width}}")
    print(f"{'peak, any process':<22}" + "".join(worst))
    for stage in ("export", "onnxruntime", "import", "torch_export", "torch_run"):
        print(f"{stage + ' s':<22}" + "".join(f"{r.stages.get(stage, float('nan')):>{width}.1f}" for r in rows))
    print(f"{'conversion s':<22}" + "".join(f"{r.seconds:>{width}.1f}" for r in rows))
    print(f"{'external data':<22}" + "".join(f"{', '.join(r.data_files) or '-':>{width}}" for r in rows))
    for r in rows:
        if r.note:
            print(f"{r.key}: {r.note}")
    if baselines:
        print("\nexport with tf2onnx.convert.from_function alone (weights as graph constants), same caps:")
        for key, b in baselines.items():
            seconds = f"{b['export_s']:.1f} s" if "export_s" in b else "-"
            print(f"  {key:<22} {b['status']:<34} peak {b.get('peak_mb', 0):.0f} MB, export {seconds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vgg16", "wide3g"], choices=sorted(MODELS))
    parser.add_argument("--baseline", action="store_true", help="also export with plain tf2onnx, for comparison")
    parser.add_argument("--cap-gb", type=float, default=8.0, help="kill any process above this (default 8)")
    parser.add_argument("--work", help="folder for outputs (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the converted models")
    parser.add_argument("--baseline-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        source, kwargs_json, out, mode = args.baseline_child
        baseline_export(source, kwargs_json, out, large_model=mode == "large")
        return

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    rows, baselines = [], {}
    for key in args.models:  # one at a time: never two large conversions at once
        print(f"converting {key} ...", flush=True)
        rows.append(convert(key, work, args.cap_gb, args.keep))
        if args.baseline:
            print(f"exporting {key} with tf2onnx alone ...", flush=True)
            baselines[key] = baseline(key, work, args.cap_gb)
            baselines[f"{key} (large_model)"] = baseline(key, work, args.cap_gb, large_model=True)
    print_table(rows, baselines)
    if not args.work and not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
