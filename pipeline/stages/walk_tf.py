"""The TensorFlow vs ONNX Runtime walk: every Keras layer's output against the ONNX tensor leaving its scope."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from pipeline.config import Tolerance
from pipeline.layers import layer_of
from pipeline.stages.trail import (
    BUDGET_BYTES,
    TRAIL_NODES_IN_LAYER,
    Localization,
    batch_of,
    finish,
    finite,
    tensor_bytes,
    trail_entry,
    unavailable,
    walk_result,
)
from pipeline.stages.validate import compare_arrays

# channels-first -> channels-last permutations tf2onnx's transposes may leave behind, by rank
TO_CHANNELS_LAST = {3: (0, 2, 1), 4: (0, 2, 3, 1), 5: (0, 2, 3, 4, 1)}


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
    perm = TO_CHANNELS_LAST.get(onnx_value.ndim)
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
    return (0 if comp.passed else 1, finite(comp.needed_atol))


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
    result = walk_result("tf_vs_ort", "no divergence", device="cpu")
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
        return unavailable(
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

    batch = batch_of(feeds)
    onnx_sizes = tensor_bytes(model, batch)
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
            entry = trail_entry(
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
    finish(result, start)
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
    from pipeline.external_data import read

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
