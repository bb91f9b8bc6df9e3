"""Speed of converted models against hand-written PyTorch and ONNX Runtime, side by side in one run.

For each model: convert it with the pipeline (TensorFlow in a worker process), then, in this
process (torch only), time the exported program (``model.pt2``), the same architecture written by
hand in torchvision (random weights; same FLOPs), and ONNX Runtime on ``model_fixed.onnx``.
Batch 1 and 8, median of repeated runs after warm-up, threads pinned. Prints ratios to torchvision.

    .venv/bin/python scripts/bench_speed.py [--models resnet50 mobilenet_v2] [--threads 2]
"""

from __future__ import annotations

import argparse
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
    "densenet121": ("keras.applications:DenseNet121", "densenet121"),
}


def _convert(source: str, out: Path) -> dict:
    report = out / "report.json"
    if not report.is_file():
        subprocess.run([sys.executable, "-m", "pipeline", "convert", source, "--out", str(out)], cwd=ROOT, check=False)
    data = json.loads(report.read_text())
    if data["status"] != "passed":
        raise SystemExit(f"{source} did not convert: {data.get('error') or data['status']}")
    return data


def _time(fn, args: tuple, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn(*args)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2"], choices=sorted(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "out" / "bench"))
    args = parser.parse_args()

    for key in args.models:  # conversions first, each in its own processes
        _convert(MODELS[key][0], Path(args.out) / key)

    import onnxruntime as ort
    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    rows = []
    for key in args.models:
        out = Path(args.out) / key
        ours = torch.export.load(str(out / "model.pt2")).module()  # an exported program runs in eval mode
        native = getattr(torchvision.models, MODELS[key][1])(weights=None).eval()
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(str(out / "model_fixed.onnx"), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for batch in (1, 8):
            nhwc = torch.rand(batch, 224, 224, 3)
            nchw = nhwc.permute(0, 3, 1, 2).contiguous()
            feed = {name: nhwc.numpy()}
            with torch.inference_mode():
                t_ours = _time(ours, (nhwc,), args.repeats)
                t_native = _time(native, (nchw,), args.repeats)
            t_ort = _time(session.run, (None, feed), args.repeats)
            rows.append((key, batch, t_ours, t_native, t_ort))
    print(f"\nmedian ms per forward, {args.threads} threads, torch {torch.__version__}, onnxruntime {ort.__version__}")
    print(f"{'model':<14}{'batch':>6}{'converted':>11}{'torchvision':>13}{'onnxruntime':>13}{'conv/tv':>9}")
    for key, batch, t_ours, t_native, t_ort in rows:
        print(f"{key:<14}{batch:>6}{t_ours:>11.1f}{t_native:>13.1f}{t_ort:>13.1f}{t_ours / t_native:>9.2f}")


if __name__ == "__main__":
    main()
