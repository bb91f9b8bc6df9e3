"""Localise a divergence: walk the graph in topological order and name where the runtimes part ways.

Run only when a pair fails (or when the config says ``localize: always``), so a passing
conversion pays nothing. Two walks:

* **ONNX Runtime vs torch** (the import stage): every ONNX node's output, exposed as an extra ONNX
  Runtime output, against the value of the torch program's node that computes it. The mapping
  comes from ``torch.export``'s ``nn_module_stack`` metadata: the importer gives every ONNX node
  its own submodule, so the last aten node of that submodule whose value leaves it is the node's
  output. Works for any ``.pt2`` whose submodules are named after ONNX nodes (ours, onnx2torch's).
* **TensorFlow vs ONNX Runtime** (the export stage): every Keras layer's own output (a sub-model
  exposing layer outputs) against the ONNX tensor that stands for it: the last tensor produced in
  the layer's name scope that leaves the scope. tf2onnx transposes NHWC to NCHW and moves the
  transposes around, so a tensor is compared in each layout its shape allows and the best match
  counts. A layer with no ONNX node of its own (a Conv folded into the BatchNormalization after it)
  is reported as fused with its neighbour.

Each walk compares with the same scale-aware rule as the outputs (``compare_arrays``). The first
divergence is the first node (layer) over tolerance whose compared inputs are all within it: the
one that introduced the error, not one that inherited it. Intermediates are fetched in chunks of a
bounded size and compared as they come, so memory stays bounded for large models.

The walks live in :mod:`pipeline.stages.walk_torch` and :mod:`pipeline.stages.walk_tf`, what they
produce in :mod:`pipeline.stages.trail`; this module holds their worker tasks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from pipeline.config import Tolerance
from pipeline.helpers import tf_full_precision, torch_full_precision
from pipeline.stages.trail import real_inputs, walk_result
from pipeline.stages.validate import compare_arrays
from pipeline.stages.walk_tf import walk_tf_ort
from pipeline.stages.walk_torch import walk_ort_torch
from pipeline.worker import Task


def _feeds(path: Path, set_name: str, names: Iterable[str]) -> dict[str, np.ndarray]:
    from pipeline.inputs import load_sets

    arrays = load_sets(path)[set_name]
    return {name: arrays[name] for name in names}


def torch_task(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task (torch process): the ONNX Runtime vs torch walk."""
    import json

    from pipeline.context import to_json

    torch_full_precision()
    modules_file = Path(request["modules"]) if request.get("modules") else None
    modules = json.loads(modules_file.read_text()) if modules_file and modules_file.is_file() else None
    onnx_path = Path(request["onnx"])
    model = onnx.load(str(onnx_path), load_external_data=False)
    feeds = _feeds(Path(request["inputs"]), request["set"], [i.name for i in real_inputs(model)])
    device = request.get("device") or "cpu"
    walk = functools.partial(
        walk_ort_torch,
        onnx_path,
        Path(request["pt2"]),
        feeds,
        Tolerance(**request["tolerance"]),
        layers=request.get("layers"),
        modules=modules,
        input_order=request.get("input_order"),
    )
    try:
        result = walk(device=device)
    except Exception as exc:
        if device == "cpu":
            raise
        result = walk(device="cpu")  # the same walk on CPU rather than none
        result.reason = f"torch on {device} failed ({type(exc).__name__}: {str(exc)[:200]}); walked on CPU"
    result.input_set = request["set"]
    return to_json(result)


def tf_task(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task (TensorFlow process): reload the source model and run the TensorFlow vs ONNX Runtime walk."""

    from pipeline.context import to_json
    from pipeline.inputs import load_sets
    from pipeline.stages.tensorflow_side import load_source

    tf_full_precision()
    set_name = request["set"]
    base = walk_result("tf_vs_ort", "unavailable", input_set=set_name)
    _config, loaded = load_source(request)
    if loaded.keras_model is None:
        base.reason = (
            "the source is not a Keras model (a SavedModel signature or tf.Module): no layer outputs to compare"
        )
        return to_json(base)
    names = [s.name for s in loaded.inputs]
    feeds = _feeds(Path(request["inputs"]), set_name, names)
    # the reloaded model must be the one that made the reference outputs (random weights need a seed)
    reference = load_sets(Path(request["reference"])).get(set_name, {})
    values = loaded.function(*[feeds[n] for n in names])
    for output, value in zip(loaded.outputs, values, strict=True):
        if output in reference:
            comp = compare_arrays(np.asarray(value), reference[output], Tolerance(atol=1e-6, rtol=1e-6))
            if not comp.passed:
                base.reason = (
                    f"the source model does not rebuild with the same weights (output '{output}' differs from the "
                    "reference by "
                    f"{comp.max_abs_error:.3g}); layer outputs cannot be matched"
                )
                return to_json(base)
    result = walk_tf_ort(loaded.keras_model, Path(request["onnx"]), feeds, names, Tolerance(**request["tolerance"]))
    result.input_set = set_name
    return to_json(result)


LOCALIZE_TORCH = Task("localize_torch", torch_task)


LOCALIZE_TF = Task("localize_tf", tf_task)
