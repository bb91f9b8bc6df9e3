"""Speed of model.py's module (the direct translation) against torchvision, side by side in one run.

Converts the model with the pipeline (TensorFlow in worker processes) unless ``--out`` already
holds a conversion, then, in this process (torch and torchvision only), times the module from
``model.py`` (Keras layout in: NHWC, a permute inside) and torchvision's hand-written
architecture (random weights, same FLOPs, NCHW), interleaved, batch 1 and 8, median of repeated
runs after warm-up, threads pinned. Prints milliseconds and the ratio to torchvision.

    .venv/bin/python scripts/bench_module.py [--model resnet50] [--threads 2] [--repeats 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "resnet50": ("keras.applications:ResNet50", "resnet50"),
    "mobilenet_v2": ("keras.applications:MobileNetV2", "mobilenet_v2"),
}


def _module(out: Path):
    spec = importlib.util.spec_from_file_location("translated_model", out / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50", choices=sorted(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default=None, help="a finished conversion folder (default: out/bench_module/<model>)")
    args = parser.parse_args()
    source, tv_name = MODELS[args.model]
    out = Path(args.out or ROOT / "out" / "bench_module" / args.model)
    if not (out / "model.py").is_file():
        subprocess.run([sys.executable, "-m", "pipeline", "convert", source, "--out", str(out)], cwd=ROOT, check=False)
    report = json.loads((out / "report.json").read_text())
    if report["status"] != "passed" or not (out / "model.py").is_file():
        raise SystemExit(f"{source} did not convert with a model.py: {report.get('error') or report['status']}")

    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    translated = _module(out)
    reference = getattr(torchvision.models, tv_name)(weights=None).eval()
    side = int(report["inputs"][0]["shape"][1])
    print(f"{args.model}: model.py module vs torchvision, {args.threads} threads, median of {args.repeats} runs")
    print(f"{'batch':>5}  {'model.py ms':>12}  {'torchvision ms':>14}  {'ratio':>6}")
    with torch.inference_mode():
        for batch in (1, 8):
            nhwc = torch.randn(batch, side, side, 3)
            nchw = nhwc.permute(0, 3, 1, 2).contiguous()
            for _ in range(3):
                translated(nhwc)
                reference(nchw)
            ours, theirs = [], []
            for _ in range(args.repeats):  # interleaved, so load on the machine hits both alike
                start = time.perf_counter()
                translated(nhwc)
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                reference(nchw)
                theirs.append(time.perf_counter() - start)
            a, b = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
            print(f"{batch:>5}  {a:>12.1f}  {b:>14.1f}  {a / b:>6.2f}")


if __name__ == "__main__":
    main()
