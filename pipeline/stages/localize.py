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
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from pipeline.config import Tolerance
from pipeline.layers import layer_of
from pipeline.stages.validate import compare_arrays
from pipeline.worker import Task

BUDGET_BYTES = 256 * 1024 * 1024  # per chunk of intermediates, per side
TRAIL_NODES_IN_LAYER = 30

# channels-first -> channels-last permutations tf2onnx's transposes may leave behind, by rank
_TO_CHANNELS_LAST = {3: (0, 2, 1), 4: (0, 2, 3, 1), 5: (0, 2, 3, 4, 1)}


@dataclass
class TrailEntry:
    """One compared tensor along the graph."""

    index: int  # position along the graph (topological order of the walk)
    node: str | None  # the ONNX node whose output was compared
    op: str | None
    layer: str | None  # the Keras layer it came from
    tensor: str | None
    passed: bool
    error: float  # max |a - b| in units of the reference's spread (the atol that would have been needed)
    max_abs_error: float
    shape: list[int] = field(default_factory=list)
    inputs_agree: bool | None = None  # every compared input within tolerance: this node introduced the error
    detail: str | None = None  # layout used, fused layers, torch module type


@dataclass
class Localization:
    """The result of one walk."""

    pair: str
    stage: str  # the stage under test: "export" (TF -> ONNX) or "import" (ONNX -> torch)
    status: str  # diverged | no divergence | unavailable
    method: str
    input_set: str | None = None
    device: str | None = None
    first_divergence: dict[str, Any] | None = None
    trail: list[TrailEntry] = field(default_factory=list)
    compared: int = 0
    not_compared: int = 0
    reason: str | None = None
    seconds: float = 0.0


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else 1e30


def _entry(index: int, comp: Any, **fields: Any) -> TrailEntry:
    return TrailEntry(
        index=index,
        passed=bool(comp.passed),
        error=_finite(comp.needed_atol),
        max_abs_error=_finite(comp.max_abs_error),
        **fields,
    )


def first_divergence(trail: list[TrailEntry]) -> TrailEntry | None:
    """The first entry over tolerance whose inputs agree; else the first over tolerance."""
    failing = [e for e in trail if not e.passed]
    if not failing:
        return None
    for entry in failing:
        if entry.inputs_agree is not False:
            return entry
    return failing[0]


def _tensor_bytes(model: onnx.ModelProto, batch: int) -> dict[str, int]:
    """Estimated size of every value in ``model`` at ``batch`` (unknown dims count as ``batch``)."""
    from pipeline.onnx_utils import infer_shapes

    sizes: dict[str, int] = {}
    inferred = infer_shapes(model)
    for value in [*inferred.graph.value_info, *inferred.graph.output]:
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        numel = 1
        for dim in tensor_type.shape.dim:
            numel *= dim.dim_value if dim.HasField("dim_value") else batch
        try:
            itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).itemsize
        except Exception:
            itemsize = 4
        sizes[value.name] = numel * itemsize
    return sizes


def _batch_of(feeds: dict[str, np.ndarray]) -> int:
    return max((int(a.shape[0]) for a in feeds.values() if a.ndim), default=1)


# --------------------------------------------------------------------------- ONNX Runtime vs torch


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
    result = Localization(
        pair="ort_vs_torch",
        stage="import",
        status="no divergence",
        method="every ONNX node's output: ONNX Runtime intermediates vs the torch program's",
        device=device,
    )
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
        return _unavailable(
            result,
            start,
            "the torch program's submodules do not match the ONNX nodes (it was not made from this ONNX file)",
        )

    sizes = _tensor_bytes(model, _batch_of(feeds))
    by_tensor = {t[1].output[0]: t for t in targets}
    agreed: dict[str, bool] = {}
    order = input_order or [i.name for i in _real_inputs(model)]
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
            entry = _entry(
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
    _finish(result, start)
    return result


def _real_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    initializers = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def _unavailable(result: Localization, start: float, reason: str) -> Localization:
    """``result``, marked as a walk that could not compare anything, and why."""
    result.status = "unavailable"
    result.reason = reason
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _finish(result: Localization, start: float) -> None:
    result.trail.sort(key=lambda e: e.index)
    for number, entry in enumerate(result.trail):
        entry.index = number
    result.compared = len(result.trail)
    found = first_divergence(result.trail)
    if found is not None:
        result.status = "diverged"
        result.first_divergence = _as_dict(found)
    result.seconds = round(time.perf_counter() - start, 3)


def _as_dict(entry: TrailEntry) -> dict[str, Any]:
    from pipeline.context import to_json

    return to_json(entry)


# --------------------------------------------------------------------------- TensorFlow vs ONNX Runtime


def layer_tensors(model: onnx.ModelProto, layers: list[str]) -> dict[str, dict[str, Any]]:
    """Keras layer -> the ONNX nodes in its name scope and the tensors that leave that scope.

    ``{"nodes": [node names], "ops": {node: op}, "leaving": [tensor names, in graph order]}``;
    the last leaving tensor is the layer's output.
    """
    scope: dict[str, str] = {}  # tensor -> layer of its producer
    found: dict[str, dict[str, Any]] = {}
    for node in model.graph.node:
        layer = layer_of(node.name, layers)
        if layer is None:
            continue
        info = found.setdefault(layer, {"nodes": [], "ops": {}, "leaving": []})
        info["nodes"].append(node.name)
        info["ops"][node.name] = node.op_type
        for out in node.output:
            if out:
                scope[out] = layer
    leaving: dict[str, set[str]] = {}
    for node in model.graph.node:
        layer = layer_of(node.name, layers)
        for tensor in node.input:
            owner = scope.get(tensor)
            if owner is not None and owner != layer:
                leaving.setdefault(owner, set()).add(tensor)
    for out in model.graph.output:
        if out.name in scope:
            leaving.setdefault(scope[out.name], set()).add(out.name)
    producer = {o: n for n in model.graph.node for o in n.output if o}
    order = {o: i for i, n in enumerate(model.graph.node) for o in n.output if o}
    for layer, tensors in leaving.items():
        ordered = sorted(tensors, key=lambda t: order[t])
        found[layer]["leaving"] = ordered
        found[layer]["producer"] = {t: producer[t].name for t in ordered}
    return found


def _layout_matches(onnx_value: np.ndarray, reference: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """``onnx_value`` in each layout whose shape equals the reference's (both when the shape cannot tell)."""
    candidates = []
    if onnx_value.shape == reference.shape:
        candidates.append((onnx_value, "same layout"))
    perm = _TO_CHANNELS_LAST.get(onnx_value.ndim)
    if perm is not None:
        moved = np.transpose(onnx_value, perm)
        if moved.shape == reference.shape:
            candidates.append((moved, "channels first -> last"))
    return candidates


def _best(onnx_value: np.ndarray, references: list[tuple[str, np.ndarray]], tolerance: Tolerance) -> Any:
    """The best comparison of ``onnx_value`` against any reference in any matching layout."""
    best = None
    for name, reference in references:
        for value, layout in _layout_matches(onnx_value, reference):
            comp = compare_arrays(value, reference, tolerance)
            comp.reason = f"{layout}; as the output of {name}" if name != references[0][0] else layout
            if best is None or _rank(comp) < _rank(best):
                best = comp
    return best


def _rank(comp: Any) -> tuple[int, float]:
    return (0 if comp.passed else 1, _finite(comp.needed_atol))


def _keras_graph(model: Any) -> tuple[list[Any], dict[str, list[str]], dict[str, Any]]:
    """The layers of the model's own graph in topological order, each one's inbound layers and its
    output tensor. Input layers are left out, and so are layers called more than once (their calls
    cannot be told apart by name scope) and layers with several outputs."""
    graph = getattr(model, "_functional", None) or model  # a Keras 3 Sequential keeps its graph there
    by_depth = getattr(graph, "_nodes_by_depth", None) or {}
    nodes = []
    for depth in sorted(by_depth, reverse=True):
        for node in by_depth[depth]:
            layer = getattr(node, "operation", None) or getattr(node, "layer", None)
            if hasattr(node, "output_tensors"):  # Keras 3
                outputs = _flatten(node.output_tensors)
                parents = [p.operation for p in node.parent_nodes]
            else:  # tf_keras
                outputs = _flatten(node.outputs)
                parents = _flatten(node.inbound_layers)
            nodes.append((layer, outputs, parents))
    calls: dict[int, int] = {}
    for layer, _, _ in nodes:
        calls[id(layer)] = calls.get(id(layer), 0) + 1
    layers, inbound, outputs_of = [], {}, {}
    for layer, outputs, parents in nodes:
        if layer is None or type(layer).__name__ == "InputLayer" or calls[id(layer)] > 1 or len(outputs) != 1:
            continue
        name = str(layer.name)
        layers.append(layer)
        inbound[name] = [str(p.name) for p in parents if type(p).__name__ != "InputLayer"]
        outputs_of[name] = outputs[0]
    return layers, inbound, outputs_of


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in _flatten(item)]
    if isinstance(value, list | tuple):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _sub_model(model: Any, outputs: list[Any]) -> Any:
    if type(model).__module__.startswith("tf_keras"):
        import tf_keras as library
    else:
        import keras as library
    inputs = model.inputs if len(model.inputs) > 1 else model.inputs[0]
    return library.Model(inputs=inputs, outputs=outputs)


def walk_tf_ort(
    keras_model: Any,
    onnx_path: Path,
    feeds: dict[str, np.ndarray],
    input_order: list[str],
    tolerance: Tolerance,
    *,
    budget_bytes: int = BUDGET_BYTES,
) -> Localization:
    """Compare every Keras layer's output with the ONNX tensor that stands for it in ONNX Runtime."""
    from pipeline.stages.onnxruntime_run import chunked_intermediates

    start = time.perf_counter()
    result = Localization(
        pair="tf_vs_ort",
        stage="export",
        status="no divergence",
        method="every Keras layer's output: TensorFlow layer outputs vs the ONNX tensor leaving the layer's scope",
        device="cpu",
    )
    model = onnx.load(str(onnx_path), load_external_data=False)  # weights stay in external data
    layers, inbound, outputs_of = _keras_graph(keras_model)
    names = [str(layer.name) for layer in keras_model.layers]
    scopes = layer_tensors(model, names)
    consumers: dict[str, list[str]] = {}
    for name, parents in inbound.items():
        for parent in parents:
            consumers.setdefault(parent, []).append(name)
    by_name = {str(layer.name): layer for layer in layers}
    compared = [str(layer.name) for layer in layers if scopes.get(str(layer.name), {}).get("leaving")]
    result.not_compared = len(layers) - len(compared)
    if not compared:
        return _unavailable(
            result,
            start,
            "no ONNX node carries a Keras layer's name scope (the ONNX file was not exported from this model)",
        )

    # Layers with no ONNX node of their own were fused into a neighbour by tf2onnx: a node-less
    # layer right after a compared one may be what its tensor really holds (Conv then folded BN),
    # and a node-less layer right before one is folded into it (a Conv named after its BN).
    absorbs: dict[str, list[str]] = {}
    fused_into: dict[str, list[str]] = {}
    for name in compared:
        chain, current = [], name
        while len(consumers.get(current, [])) == 1:
            follower = consumers[current][0]
            if follower in compared or follower not in by_name or len(inbound.get(follower, [])) != 1:
                break
            chain.append(follower)
            current = follower
        absorbs[name] = chain
        before = [p for p in inbound.get(name, []) if p in by_name and p not in compared]
        fused_into[name] = [p for p in before if consumers.get(p) == [name]]

    batch = _batch_of(feeds)
    onnx_sizes = _tensor_bytes(model, batch)
    candidates = {name: scopes[name]["leaving"][-3:] for name in compared}
    agreed: dict[str, bool] = {}
    position = {str(layer.name): i for i, layer in enumerate(layers)}
    feed_list = [feeds[name] for name in input_order]
    tf_feed = feed_list if len(feed_list) > 1 else feed_list[0]

    # chunk by layer groups; the TF side holds the same number of values as the ONNX side
    groups: list[list[str]] = []
    size = 0
    for name in compared:
        group_bytes = sum(onnx_sizes.get(t, 0) for t in candidates[name]) * 2
        if groups and size + group_bytes <= budget_bytes:
            groups[-1].append(name)
            size += group_bytes
        else:
            groups.append([name])
            size = group_bytes
    for group in groups:
        keras_names = [n for name in group for n in [name, *absorbs[name]]]
        sub = _sub_model(keras_model, [outputs_of[n] for n in keras_names])
        tf_values = sub(tf_feed, training=False)
        tf_values = dict(zip(keras_names, [np.asarray(v) for v in _flatten(tf_values)], strict=True))
        del sub
        tensors = [t for name in group for t in candidates[name]]
        ort_values: dict[str, np.ndarray] = {}
        for chunk in chunked_intermediates(onnx_path, tensors, feeds, onnx_sizes, budget_bytes):
            ort_values.update(chunk)
        for name in group:
            references = [(name, tf_values[name])] + [(n, tf_values[n]) for n in absorbs[name]]
            best, best_tensor = None, None
            for tensor in candidates[name]:
                comp = _best(np.asarray(ort_values[tensor]), references, tolerance)
                if comp is not None and (best is None or _rank(comp) < _rank(best)):
                    best, best_tensor = comp, tensor
            if best is None:
                result.not_compared += 1
                continue
            parents = [agreed[p] for p in inbound.get(name, []) if p in agreed]
            producer = scopes[name]["producer"][best_tensor]
            detail_parts = [best.reason or ""]
            if fused_into[name]:
                detail_parts.append(f"with {', '.join(fused_into[name])} fused into it")
            entry = _entry(
                position[name],
                best,
                node=producer,
                op=scopes[name]["ops"].get(producer),
                layer=name,
                tensor=best_tensor,
                shape=[int(d) for d in tf_values[name].shape],
                inputs_agree=all(parents) if parents else (not inbound.get(name) or None),
                detail="; ".join(p for p in detail_parts if p) or None,
            )
            agreed[name] = entry.passed
            result.trail.append(entry)
        del tf_values, ort_values
    _finish(result, start)
    if result.first_divergence is not None:
        layer = result.first_divergence["layer"]
        nodes = scopes[layer]["nodes"]
        result.first_divergence["layer_class"] = type(by_name[layer]).__name__
        result.first_divergence["fused_layers"] = fused_into.get(layer, [])
        result.first_divergence["layer_nodes"] = [
            {"node": n, "op": scopes[layer]["ops"][n]} for n in nodes[:TRAIL_NODES_IN_LAYER]
        ]
        keras_layers = [by_name[layer]] + [by_name[f] for f in fused_into.get(layer, [])]
        suspects = weight_suspects(model, nodes, keras_layers, model_dir=onnx_path.parent)
        if suspects:
            result.first_divergence["suspect_nodes"] = suspects
    return result


def weight_suspects(
    model: onnx.ModelProto, nodes: list[str], keras_layers: list[Any], model_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Nodes among ``nodes`` holding a weight that matches none of the Keras layers' own weights.

    tf2onnx transposes kernels, so values are compared as sorted multisets of the same size. A
    weight tf2onnx computed (a BatchNormalization folded into a Conv) also matches nothing; the
    report says so. Only nodes whose every float weight matches are cleared.
    """
    from pipeline.weights import read

    keras_weights: list[tuple[str, np.ndarray]] = []
    for layer in keras_layers:
        for variable, value in zip(layer.weights, layer.get_weights(), strict=False):
            keras_weights.append((str(getattr(variable, "path", None) or variable.name), np.sort(value, axis=None)))
    if not keras_weights:
        return []
    initializers = {i.name: i for i in model.graph.initializer}
    wanted = set(nodes)
    suspects = []
    for node in model.graph.node:
        if node.name not in wanted:
            continue
        for position, name in enumerate(node.input):
            init = initializers.get(name)
            if init is None or init.data_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
                continue
            value = read(init, model_dir)  # external data is read from ``model_dir``
            if value.size < 2:
                continue
            flat = np.sort(value, axis=None)
            same_size = [(w, v) for w, v in keras_weights if v.size == flat.size]
            if any(np.allclose(flat, v, rtol=1e-6, atol=1e-7) for _, v in same_size):
                continue
            suspects.append(
                {
                    "node": node.name,
                    "op": node.op_type,
                    "input": position,
                    "initializer": name,
                    "shape": list(value.shape),
                    "reason": (
                        "its values differ from the Keras weight of the same size ("
                        + ", ".join(w for w, _ in same_size)
                        + ")"
                        if same_size
                        else "no Keras weight of the layer has its size (computed by the export, e.g. a folded "
                        "BatchNormalization)"
                    ),
                }
            )
    return suspects


# --------------------------------------------------------------------------- worker tasks


def _feeds(path: Path, set_name: str, names: Iterable[str]) -> dict[str, np.ndarray]:
    from pipeline.inputs import load_sets

    arrays = load_sets(path)[set_name]
    return {name: arrays[name] for name in names}


def torch_task(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task (torch process): the ONNX Runtime vs torch walk."""
    import json

    import torch

    from pipeline.context import to_json

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    modules_file = Path(request["modules"]) if request.get("modules") else None
    modules = json.loads(modules_file.read_text()) if modules_file and modules_file.is_file() else None
    onnx_path = Path(request["onnx"])
    model = onnx.load(str(onnx_path), load_external_data=False)
    feeds = _feeds(Path(request["inputs"]), request["set"], [i.name for i in _real_inputs(model)])
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
    import tensorflow as tf

    from pipeline.context import to_json
    from pipeline.inputs import load_sets
    from pipeline.stages.tensorflow_side import load_source

    tf.config.experimental.enable_tensor_float_32_execution(False)
    set_name = request["set"]
    base = Localization(
        pair="tf_vs_ort",
        stage="export",
        status="unavailable",
        method="every Keras layer's output: TensorFlow layer outputs vs the ONNX tensor leaving the layer's scope",
        input_set=set_name,
    )
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
