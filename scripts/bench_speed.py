"""Speed of converted models against ONNX Runtime and hand-written PyTorch, side by side in one run.

For each model: convert it with the pipeline (TensorFlow in worker processes), then, in this
process (torch and ONNX Runtime only), time at batch 1 and 8, threads pinned, median of repeated
runs after warm-up:

* ONNX Runtime on ``model_fixed.onnx`` (CPU, intra-op threads as torch, thread spinning off: with
  spinning on, its idle threads keep the cores busy and slow whatever runs next);
* the converted program (``model.pt2``), the ``model.py`` module of the direct translator (when the
  conversion wrote one) and the same architecture written by hand in torchvision (random weights,
  same FLOPs), each

  - **eager**: 4-D weights contiguous (NCHW);
  - **channels_last**: 4-D weights (and torchvision's input) in channels-last memory format; the
    Keras programs take NHWC inputs, whose permute to NCHW is already channels-last. ``model.pt2``
    stores its weights this way (pipeline/stages/layout.py): this row is the artifact as loaded;
  - **compiled**: ``torch.compile`` with Inductor's ``freezing`` (weights folded as constants),
    one compile per batch size; its compile seconds (first call) are printed;
* the AOTInductor package (``model_aoti.pt2``, config ``compile: aot``) when the conversion wrote one.

Ratios are to ONNX Runtime (lower is faster; 1.00 = as fast). The machine's load average is
printed before and after: compare columns of one run, not seconds across runs.

    .venv/bin/python scripts/bench_speed.py [--models resnet50 mobilenet_v2] [--threads 2] [--compile none]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "resnet50": ("keras.applications:ResNet50", "resnet50"),
    "mobilenet_v2": ("keras.applications:MobileNetV2", "mobilenet_v2"),
    "densenet121": ("keras.applications:DenseNet121", "densenet121"),
}
BATCHES = (1, 8)


def _convert(source: str, out: Path, fresh: bool) -> dict[str, Any]:
    report = out / "report.json"
    if fresh or not report.is_file():
        subprocess.run([sys.executable, "-m", "pipeline", "convert", source, "--out", str(out)], cwd=ROOT, check=False)
    data = json.loads(report.read_text())
    if data["status"] != "passed":
        raise SystemExit(f"{source} did not convert: {data.get('error') or data['status']}")
    return data


def _time(fn: Callable[..., Any], args: tuple[Any, ...], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn(*args)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _load_model_py(path: Path) -> Any:
    """``load()`` of a translator's ``model.py`` (weights from the ``model.safetensors`` beside it)."""
    spec = importlib.util.spec_from_file_location(f"bench_model_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load()


def layout(module: Any, channels_last: bool) -> Any:
    """``module`` with its 4-D parameters and buffers in channels-last or contiguous memory format (in place)."""
    import torch

    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.dim() == 4:
                tensor.data = tensor.data.contiguous(memory_format=memory_format)
    return module


def _candidates(out: Path, key: str, model_py: Path | None) -> dict[str, Callable[[], Any]]:
    """name -> builder of a module taking the bench's input (NHWC for Keras programs, NCHW for torchvision)."""
    import torch
    import torchvision

    found: dict[str, Callable[[], Any]] = {"converted": lambda: torch.export.load(str(out / "model.pt2")).module()}
    py = model_py or out / "model.py"
    if py.is_file():
        found["model.py"] = lambda: _load_model_py(py)
    found["torchvision"] = lambda: getattr(torchvision.models, MODELS[key][1])(weights=None).eval()
    return found


def bench_model(key: str, out: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    import onnxruntime as ort
    import torch
    from torch._inductor import config as inductor_config

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(out / "model_fixed.onnx"), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    rows = []
    builders = _candidates(out, key, args.model_py)
    aoti = out / "model_aoti.pt2"
    for batch in BATCHES:
        nhwc = torch.rand(batch, 224, 224, 3)
        nchw = nhwc.permute(0, 3, 1, 2).contiguous()
        row: dict[str, Any] = {"model": key, "batch": batch, "times": {}, "compile_s": {}}
        row["times"]["onnxruntime"] = _time(session.run, (None, {name: nhwc.numpy()}), args.repeats)
        for family, build in builders.items():
            x = nchw if family == "torchvision" else nhwc
            with torch.inference_mode():
                row["times"][f"{family} eager"] = _time(layout(build(), False), (x,), args.repeats)
                x_cl = x.contiguous(memory_format=torch.channels_last) if family == "torchvision" else x
                row["times"][f"{family} channels_last"] = _time(layout(build(), True), (x_cl,), args.repeats)
            if args.compile == "all" or (args.compile == "converted" and family == "converted"):
                torch._dynamo.reset()
                inductor_config.freezing = True
                compiled = torch.compile(build(), dynamic=False)
                with torch.no_grad():
                    start = time.perf_counter()
                    compiled(x)
                    row["compile_s"][family] = time.perf_counter() - start
                    row["times"][f"{family} compiled"] = _time(compiled, (x,), args.repeats)
                inductor_config.freezing = False
        if aoti.is_file():
            runner = torch._inductor.aoti_load_package(str(aoti))
            with torch.inference_mode():
                row["times"]["converted aot"] = _time(runner, (nhwc,), args.repeats)
        rows.append(row)
        print(f"{key} batch {batch}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in row["times"].items()), flush=True)
    return rows


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def _cell(ms: float | None, ort_ms: float | None) -> str:
    if ms is None:
        return f"{'-':>22}"
    text = f"{ms:.1f} ms" if ort_ms is None else f"{ms:.1f} ms  {ms / ort_ms:.2f}x"
    return f"{text:>22}"


def print_table(rows: list[dict[str, Any]], threads: int) -> None:
    import onnxruntime as ort
    import torch

    columns: list[str] = []
    for row in rows:
        columns += [c for c in row["times"] if c != "onnxruntime" and c not in columns]
    print(f"\nmedian ms per forward and ratio to ONNX Runtime (lower is faster), {threads} threads,")
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__} (spinning off)")
    width = max(len(c) for c in columns) + 2
    header = f"{'':<{width}}" + "".join(f"{row['model'] + ' b' + str(row['batch']):>22}" for row in rows)
    print(header)
    print(f"{'onnxruntime':<{width}}" + "".join(_cell(r["times"]["onnxruntime"], None) for r in rows))
    for column in columns:
        cells = [_cell(r["times"].get(column), r["times"]["onnxruntime"]) for r in rows]
        print(f"{column:<{width}}" + "".join(cells))
    families = sorted({f for r in rows for f in r["compile_s"]})
    for family in families:
        cells = [f"{r['compile_s'].get(family, float('nan')):>21.1f}s" for r in rows]
        print(f"{'compile s ' + family:<{width}}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2"], choices=sorted(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--compile", choices=("all", "converted", "none"), default="all")
    parser.add_argument("--model-py", type=Path, help="a translator's model.py to time (default: the conversion's)")
    parser.add_argument("--fresh", action="store_true", help="convert again even if out/bench has a result")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench"))
    parser.add_argument("--json", help="also write the raw measurements here")
    args = parser.parse_args()

    for key in args.models:  # conversions first, each in its own processes
        _convert(MODELS[key][0], Path(args.out) / key, args.fresh)

    import torch

    torch.set_num_threads(args.threads)
    print(f"before: {_load()}", flush=True)
    rows = []
    for key in args.models:
        rows += bench_model(key, Path(args.out) / key, args)
    print(f"after: {_load()}")
    print_table(rows, args.threads)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
