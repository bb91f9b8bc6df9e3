"""Stages 4-5, the torch side: import the fixed ONNX graph, export ``model.pt2``, run it in a clean process.

:func:`torch_stage` runs :data:`TORCH` (onnx2torch + :mod:`custom_ops`, ``torch.export``,
safetensors, logits probes) in a torch worker; in validate mode a given torch program stands in
for it. :func:`torch_check_stage` runs :data:`TORCH_CHECK`: ``model.pt2`` loaded with onnx2torch
and this package's converters unimportable, so the program is shown to stand on its own.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.context import StageRecord, TensorSpec, TorchResult, Workspace, from_json, timed, to_json
from pipeline.helpers import torch_full_precision
from pipeline.translate.stage import module_program_used, write_whole_model
from pipeline.worker import Task

if TYPE_CHECKING:
    from pipeline.conversion import Conversion


def torch_stage(conv: Conversion) -> None:
    """Run :data:`TORCH`; in validate mode copy the given torch program instead."""
    assert conv.export is not None
    given = conv.given_torch
    if given is not None:
        with timed(conv.stages, "load_torch"):
            shutil.copyfile(given, conv.workspace.pt2)
        return
    if module_program_used(conv):  # model.pt2 came from model.py's module
        return
    result = conv.run_task(
        TORCH,
        stage="import",
        in_process=conv.in_process_torch,
        probes=conv.probes,
        layers=conv.export.layers,
        inputs=to_json(conv.export.inputs),
    )
    conv.torch = from_json(TorchResult, result)
    conv.stages.extend(conv.torch.stages)
    conv.notes.extend(conv.torch.warnings)


def torch_check_stage(conv: Conversion) -> None:
    """Run :data:`TORCH_CHECK` on every input set."""
    assert conv.export is not None
    result = conv.run_task(
        TORCH_CHECK,
        stage="torch_run",
        in_process=conv.in_process_torch,
        shared_process=conv.in_process_torch,  # the caller's process: nothing is blocked there
        outputs=conv.export.outputs,
        inputs=to_json(conv.export.inputs),
    )
    conv.torch_device = result["device"]
    if result.get("errors"):
        conv.run_errors["torch"] = result["errors"]
    conv.notes.extend(result.get("notes") or [])
    conv.stages.append(StageRecord(name="torch_run", seconds=result["seconds"]))
    conv.stages.extend(from_json(StageRecord, s) for s in result.get("stages") or [])  # compile: aot


def torch_task(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task: import the fixed ONNX graph into torch, export ``model.pt2``, capture probes."""
    import json

    import numpy as np
    import onnx
    import torch

    from pipeline import onnx_utils
    from pipeline.batching import probe_sets
    from pipeline.helpers import package_version
    from pipeline.inputs import load_sets
    from pipeline.stages.importer import capture, import_model
    from pipeline.stages.layout import store_channels_last
    from pipeline.stages.torch_export import export_program, save

    torch_full_precision()
    ws = Workspace(Path(request["workspace"]))
    specs = [from_json(TensorSpec, s) for s in request["inputs"]]
    stages: list[StageRecord] = []
    with timed(stages, "import"):
        model = onnx_utils.load(ws.onnx_fixed, stage="import")
        imported = import_model(model, request.get("layers"), model_dir=ws.root)
        ws.scratch.mkdir(parents=True, exist_ok=True)  # for localisation: ONNX node -> torch submodule
        (ws.scratch / "onnx_modules.json").write_text(json.dumps(imported.node_modules), encoding="utf-8")
    sets = load_sets(ws.inputs)
    probes: dict[str, str] = request.get("probes") or {}
    if probes:
        with timed(stages, "torch_probes"):
            probe_module = capture(imported.module, imported.tensor_nodes, list(probes.values()))
            n_out = len(model.graph.output)
            merged = probe_sets(probe_module, sets, specs, list(probes), n_out)  # sets merged per call
            np.savez(ws.probes_torch, **{f"{s}/{k}": v for s, values in merged.items() for k, v in values.items()})
    with timed(stages, "torch_export"):
        example_set = _example_set(model, sets)
        example = [torch.from_numpy(example_set[s.name]) for s in specs]
        onnx_of = {module: node for node, module in imported.node_modules.items()}
        program, dynamic, notes = export_program(imported.module, example, specs, onnx_of)
        # with a model.py, model.safetensors is its state dict; the program's weights go beside it
        weights = ws.root / "program.safetensors" if (ws.root / "model.py").is_file() else ws.weights
        write_whole_model(program, ws, specs)  # no Keras layer graph: the program itself as model.py
        store_channels_last(program)  # NHWC end to end on CPU (pipeline/stages/layout.py)
        params, nbytes = save(program, ws.pt2, weights)
    result = TorchResult(
        dynamic_batch=dynamic,
        parameters=params,
        weight_bytes=nbytes,
        stages=stages,
        warnings=notes,
        versions={
            "torch": torch.__version__,
            "onnx2torch": package_version("onnx2torch"),
            "onnx": onnx.__version__,
        },
    )
    return to_json(result)


def _example_set(model: Any, sets: dict[str, Any]) -> dict[str, Any]:
    """The input set to trace with: ``random`` unless the graph fixes a dimension it does not fit
    (an ONNX file exported with a fixed batch, given to ``validate``)."""
    fixed = {
        value.name: [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]
        for value in model.graph.input
    }

    def fits(arrays: dict[str, Any]) -> bool:
        for name, dims in fixed.items():
            shape = arrays[name].shape if name in arrays else None
            if shape is None or not dims:
                continue
            if len(dims) != len(shape) or any(d is not None and d != a for d, a in zip(dims, shape, strict=True)):
                return False
        return True

    ordered = [sets["random"]] if "random" in sets else []
    ordered += [arrays for name, arrays in sets.items() if name != "random"]
    return next((arrays for arrays in ordered if fits(arrays)), ordered[0])


def torch_check_task(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task: run ``model.pt2`` with onnx2torch and ``custom_ops`` unimportable."""
    import time

    import numpy as np
    import torch

    from pipeline.batching import run_merged
    from pipeline.config import from_json as config_from_json
    from pipeline.errors import TorchExportError
    from pipeline.inputs import load_sets
    from pipeline.stages.torch_export import block_modules

    # A fresh worker only: in the caller's process (in_process) the blocks would outlast the call
    # (the caller could no longer import TensorFlow), and onnx2torch is not imported there either
    # when model.pt2 came from model.py's module.
    if not request.get("shared_process") and "onnx2torch" not in sys.modules and "custom_ops" not in sys.modules:
        block_modules()
    torch_full_precision()
    ws = Workspace(Path(request["workspace"]))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    start_time = time.perf_counter()
    names = [spec["name"] for spec in request["inputs"]]
    sets = load_sets(ws.inputs)
    ordered = {s: {name: arrays[name] for name in names} for s, arrays in sets.items()}
    notes: list[str] = []
    axes = {spec["name"]: spec.get("batch_axis") for spec in request["inputs"]}

    def run_on(device: str) -> tuple[dict[str, Any], dict[str, str]]:  # input sets merged per call
        return run_merged(lambda subset: _run_sets(ws.pt2, subset, request["outputs"], device), ordered, axes)

    outputs, errors = run_on(device)
    if not outputs and device != "cpu":  # a program that cannot run on the GPU at all: CPU, said so
        notes.append(f"model.pt2 failed on {device} ({next(iter(errors.values()))}); it ran on CPU")
        device = "cpu"
        outputs, errors = run_on(device)
    if not outputs:
        first, message = next(iter(errors.items()))
        raise TorchExportError(f"model.pt2 failed on every input set; on '{first}': {message}", stage="torch_run")
    np.savez(ws.outputs_torch, **{f"{s}/{k}": v for s, values in outputs.items() for k, v in values.items()})
    seconds = round(time.perf_counter() - start_time, 3)
    stages: list[dict[str, Any]] = []
    config = config_from_json(request["config"])
    if config.compile == "aot":  # an AOTInductor package beside model.pt2, checked against it
        from pipeline.stages.aot import compile_and_check

        stages, aot_notes = compile_and_check(ws.pt2, ordered, request["outputs"], outputs, config.tolerance_for)
        notes.extend(aot_notes)
    return {"device": device, "seconds": seconds, "errors": errors, "notes": notes, "stages": stages}


def _run_sets(pt2: Path, sets: dict[str, Any], names: list[str], device: str) -> tuple[dict[str, Any], dict[str, str]]:
    from pipeline.stages.torch_export import run_program

    errors: dict[str, str] = {}
    return run_program(pt2, sets, names, device, errors=errors), errors


TORCH = Task("torch", torch_task)
TORCH_CHECK = Task("torch_check", torch_check_task)
