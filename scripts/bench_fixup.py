"""What one graph fixup is worth at run time: the model converted with and without it, timed.

    python scripts/bench_fixup.py keras.applications:MobileNetV3Small --fixup cancel_transposes \\
        --kwargs '{"input_shape": [224, 224, 3]}'

Exports the model once (TensorFlow in a worker process), applies the default fixups with and
without ``--fixup``, and for each variant prints the node counts, ONNX Runtime's time and the
exported torch program's time (batch 1, median and minimum of ``--runs`` calls, variants
interleaved so that machine load hits both alike), and the largest output difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's pipeline, not an installed one


def _export(source: str, kwargs: dict, opset: int, folder: Path) -> tuple[Path, list]:
    from pipeline.config import ConversionConfig
    from pipeline.context import TensorSpec, Workspace, from_json, to_json
    from pipeline.sources import classify
    from pipeline.worker import call

    config = ConversionConfig(source=source, kwargs=kwargs, opset=opset)
    request = {"source": to_json(classify(source, None)), "config": to_json(config), "workspace": str(folder)}
    run = call("tensorflow", request, in_process=False, log_dir=folder / "logs")
    return Workspace(folder).onnx_raw, [from_json(TensorSpec, s) for s in run.result["inputs"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source")
    parser.add_argument("--fixup", default="cancel_transposes")
    parser.add_argument("--kwargs", default="{}")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import onnx

    folder = Path(tempfile.mkdtemp(prefix="bench-fixup-"))
    raw, specs = _export(args.source, json.loads(args.kwargs), args.opset, folder)

    import onnxruntime as ort
    import torch
    import torchvision  # noqa: F401  (before anything imports TensorFlow; nothing here does)

    from pipeline.fixups import DEFAULT_FIXUPS, FixupContext, run_fixups
    from pipeline.stages.importer import import_model

    torch.set_num_threads(args.threads)
    model = onnx.load(str(raw))
    rng = np.random.default_rng(0)
    feeds = {s.name: rng.uniform(s.low, s.high, s.concrete_shape(1)).astype(s.dtype) for s in specs}
    variants = {}
    for label, fixups in (
        ("with", DEFAULT_FIXUPS),
        ("without", DEFAULT_FIXUPS.without(args.fixup)),
    ):
        fixed, _ = run_fixups(model, fixups, FixupContext(inputs=specs))
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(fixed.SerializeToString(), options, providers=["CPUExecutionProvider"])
        module = import_model(fixed).module
        example = tuple(torch.from_numpy(v) for v in feeds.values())
        program = torch.export.export(module, example, strict=False).module()
        variants[label] = (fixed, session, program, example)
    times: dict[tuple[str, str], list[float]] = {}
    outputs: dict[str, list] = {}
    with torch.no_grad():
        for _ in range(args.runs):
            for label, (_, session, program, example) in variants.items():
                for runtime, fn in (
                    ("onnxruntime", lambda s=session: s.run(None, feeds)),
                    ("torch", lambda p=program, e=example: p(*e)),
                ):
                    start = time.perf_counter()
                    result = fn()
                    times.setdefault((label, runtime), []).append(time.perf_counter() - start)
                    if runtime == "torch":
                        outputs[label] = [r.numpy() for r in (result if isinstance(result, tuple) else (result,))]
    for label, (fixed, *_rest) in variants.items():
        counts = Counter(n.op_type for n in fixed.graph.node)
        print(f"{label} {args.fixup}: {sum(counts.values())} nodes, {counts.get('Transpose', 0)} Transpose")
        for runtime in ("onnxruntime", "torch"):
            values = sorted(times[(label, runtime)])[1:]  # the first call warms up
            print(f"  {runtime:12s} median {np.median(values) * 1e3:7.2f} ms   min {values[0] * 1e3:7.2f} ms")
    diff = max(float(np.abs(a - b).max()) for a, b in zip(outputs["with"], outputs["without"], strict=True))
    print(f"largest output difference between the variants: {diff:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
