"""Speed of model.py's module (the direct translation) against torchvision, side by side in one run.

Converts each model with the pipeline (TensorFlow in worker processes) unless ``--out`` already
holds a conversion, then, in this process (torch and torchvision only), times the module from
``model.py`` (Keras layout in: NHWC, a permute inside) and torchvision's hand-written
architecture (``weights=None``, same FLOPs, NCHW), in eval mode, at batch 1 and 8, eager (4-D
weights contiguous) and channels_last (4-D weights, and torchvision's input, channels-last; the
module's NHWC input permuted to NCHW already is). The two run interleaved, call by call, so load
on the machine hits both alike; medians of repeated runs after warm-up, threads pinned. Prints
milliseconds and the ratio model.py / torchvision (1.00 = as fast, lower is faster) and the
load average before and after.

    .venv/bin/python scripts/bench_module.py [--models resnet50 mobilenet_v2] [--repeats 20] [--batches 1 8]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_speed import layout

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "resnet50": ("keras.applications:ResNet50", "resnet50"),
    "mobilenet_v2": ("keras.applications:MobileNetV2", "mobilenet_v2"),
}
BATCHES = (1, 8)


def _module(out: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"translated_{out.name}", out / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load()


def _convert(source: str, out: Path) -> dict[str, Any]:
    if not (out / "model.py").is_file():
        subprocess.run([sys.executable, "-m", "pipeline", "convert", source, "--out", str(out)], cwd=ROOT, check=False)
    report = json.loads((out / "report.json").read_text())
    if report["status"] != "passed" or not (out / "model.py").is_file():
        raise SystemExit(f"{source} did not convert with a model.py: {report.get('error') or report['status']}")
    return report


def _interleaved(ours: Any, x: Any, theirs: Any, y: Any, repeats: int) -> tuple[float, float]:
    """Median milliseconds of ``ours(x)`` and ``theirs(y)``, called in turn."""
    for _ in range(3):
        ours(x)
        theirs(y)
    a, b = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ours(x)
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs(y)
        b.append(time.perf_counter() - start)
    return statistics.median(a) * 1000, statistics.median(b) * 1000


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=sorted(MODELS), choices=sorted(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    parser.add_argument("--out", default=str(ROOT / "out" / "bench"), help="conversion folders: <out>/<model>")
    parser.add_argument("--json", help="also write the measurements here")
    args = parser.parse_args()
    reports = {key: _convert(MODELS[key][0], Path(args.out) / key) for key in args.models}

    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    print(f"before: {_load()}", flush=True)
    rows = []
    for key in args.models:
        side = int(reports[key]["inputs"][0]["shape"][1])
        for memory in ("eager", "channels_last"):
            cl = memory == "channels_last"
            translated = layout(_module(Path(args.out) / key), cl)
            reference = layout(getattr(torchvision.models, MODELS[key][1])(weights=None).eval(), cl)
            for batch in args.batches:
                nhwc = torch.randn(batch, side, side, 3)
                fmt = torch.channels_last if cl else torch.contiguous_format
                nchw = nhwc.permute(0, 3, 1, 2).contiguous(memory_format=fmt)
                with torch.inference_mode():
                    ours, theirs = _interleaved(translated, nhwc, reference, nchw, args.repeats)
                row = {"model": key, "memory": memory, "batch": batch, "model_py_ms": ours, "torchvision_ms": theirs}
                rows.append(row)
                print(f"{key} {memory} b{batch}: model.py {ours:.1f} ms, torchvision {theirs:.1f} ms", flush=True)
    print(f"after: {_load()}")
    print(f"\nmodel.py module vs torchvision, {args.threads} threads, median of {args.repeats}:")
    print(f"{'model':<14}{'memory':<15}{'batch':>5}{'model.py ms':>13}{'torchvision ms':>16}{'ratio':>7}")
    for r in rows:
        ratio = r["model_py_ms"] / r["torchvision_ms"]
        print(
            f"{r['model']:<14}{r['memory']:<15}{r['batch']:>5}{r['model_py_ms']:>13.1f}{r['torchvision_ms']:>16.1f}{ratio:>7.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
