"""The ONNX Runtime vs torch walk: every ONNX tensor against the torch program's value for it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from pipeline.config import Tolerance
from pipeline.layers import layer_of
from pipeline.stages.trail import (
    BUDGET_BYTES,
    Localization,
    batch_of,
    finish,
    real_inputs,
    tensor_bytes,
    trail_entry,
    unavailable,
    walk_result,
)
from pipeline.stages.validate import compare_arrays


def _module_path(stack: dict[str, Any] | None) -> str | None:
    """The top-level submodule a program node was traced in (from its ``nn_module_stack``)."""
    for value in (stack or {}).values():
        path = value[0] if isinstance(value, tuple | list) else str(value)
        path = re.sub(r"^L\['self'\]\.?", "", str(path))
        if path:
            return path.split(".")[0]
    return None


def sanitize(name: str) -> str:
    """The submodule name the importer (and onnx2torch) derive from an ONNX node name."""
    base = re.sub(r"\W", "_", name).strip("_") or "tensor"
    return "t_" + base if base[0].isdigit() else base


def program_outputs(graph: Any) -> dict[str, tuple[str, str]]:
    """Top-level submodule -> (the program node holding its output, the submodule's type).

    A submodule's output is its node whose value is used outside it; submodules with several
    such nodes (several outputs) are left out.
    """
    owner: dict[str, str] = {}
    kind: dict[str, str] = {}
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        stack = node.meta.get("nn_module_stack")
        path = _module_path(stack)
        if path is None:
            continue
        owner[node.name] = path
        for value in (stack or {}).values():
            if isinstance(value, tuple | list) and len(value) > 1 and _module_path({"k": value}) == path:
                kind.setdefault(path, str(value[1]).rsplit(".", 1)[-1])
                break
    leaving: dict[str, list[str]] = {}
    for node in graph.nodes:
        path = owner.get(node.name)
        if path is None:
            continue
        if any(owner.get(user.name) != path for user in node.users):
            leaving.setdefault(path, []).append(node.name)
    return {path: (names[0], kind.get(path, "?")) for path, names in leaving.items() if len(names) == 1}


def _capture(module: Any, inputs: list[Any], wanted: set[str]) -> dict[str, np.ndarray]:
    """Run ``module`` node by node and keep the values of the ``wanted`` program nodes (as numpy)."""
    import torch
    from torch import fx

    class Capture(fx.Interpreter):
        def __init__(self) -> None:
            super().__init__(module, garbage_collect_values=True)
            self.values: dict[str, np.ndarray] = {}

        def run_node(self, n: fx.Node) -> Any:
            out = super().run_node(n)
            if n.name in wanted and isinstance(out, torch.Tensor):
                self.values[n.name] = out.detach().cpu().numpy()
            return out

    capture = Capture()
    with torch.no_grad():
        capture.run(*inputs)
    return capture.values


def walk_ort_torch(
    onnx_path: Path,
    pt2_path: Path,
    feeds: dict[str, np.ndarray],
    tolerance: Tolerance,
    *,
    layers: list[str] | None = None,
    modules: dict[str, str] | None = None,
    input_order: list[str] | None = None,
    device: str = "cpu",
    budget_bytes: int = BUDGET_BYTES,
) -> Localization:
    """Compare every ONNX node's output in ONNX Runtime with the torch program's value for it.

    ``modules`` maps ONNX node names to the program's submodule names (the importer's record);
    without it, names are derived the way the importer derives them. ``input_order`` is the
    program's positional input order (default: the ONNX graph's).
    """
    import torch

    from pipeline.artifacts import load_program
    from pipeline.stages.onnxruntime_run import chunked_intermediates

    start = time.perf_counter()
    result = walk_result("ort_vs_torch", "no divergence", device=device)
    model = onnx.load(str(onnx_path), load_external_data=False)  # weights stay in external data
    module = load_program(pt2_path).module()
    if device != "cpu":
        module = module.to(device)
    outputs = program_outputs(module.graph)
    modules = modules or {}
    graph_inputs = {i.name for i in model.graph.input}
    initializers = {i.name for i in model.graph.initializer}
    targets: list[tuple[int, onnx.NodeProto, str, str]] = []  # (position, node, program node, module type)
    for position, node in enumerate(model.graph.node):
        path = modules.get(node.name) or sanitize(node.name)
        if len([o for o in node.output if o]) != 1 or path not in outputs:
            result.not_compared += 1
            continue
        program_node, kind = outputs[path]
        targets.append((position, node, program_node, kind))
    if not targets:
        return unavailable(
            result,
            start,
            "the torch program's submodules do not match the ONNX nodes (it was not made from this ONNX file)",
        )

    sizes = tensor_bytes(model, batch_of(feeds))
    by_tensor = {t[1].output[0]: t for t in targets}
    agreed: dict[str, bool] = {}
    order = input_order or [i.name for i in real_inputs(model)]
    inputs = [torch.from_numpy(np.ascontiguousarray(feeds[name])).to(device) for name in order]
    for chunk in chunked_intermediates(onnx_path, list(by_tensor), feeds, sizes, budget_bytes):
        wanted = {by_tensor[t][2] for t in chunk}
        values = _capture(module, inputs, wanted)
        for tensor, ort_value in chunk.items():
            position, node, program_node, kind = by_tensor[tensor]
            if program_node not in values:
                result.not_compared += 1
                continue
            comp = compare_arrays(values.pop(program_node), np.asarray(ort_value), tolerance)
            compared_inputs = [agreed[i] for i in node.input if i in agreed]
            if compared_inputs:
                inputs_agree: bool | None = all(compared_inputs)
            elif all(not i or i in graph_inputs or i in initializers for i in node.input):
                inputs_agree = True  # reads only the model's inputs and weights
            else:
                inputs_agree = None  # its inputs were not compared
            entry = trail_entry(
                position,
                comp,
                node=node.name,
                op=node.op_type,
                layer=layer_of(node.name, layers or []),
                tensor=tensor,
                shape=[int(d) for d in np.shape(ort_value)],
                inputs_agree=inputs_agree,
                detail=f"torch module {kind}",
            )
            agreed[tensor] = entry.passed
            result.trail.append(entry)
        del chunk
    finish(result, start)
    return result
