"""Fixup: merge per-channel Mul/Add after a Conv whose kernel is a weight into the kernel and bias, lazily."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import onnx

from pipeline.external_data import Loader, nbytes, read
from pipeline.fixups.base import FixupContext, FixupResult, LazyWeights, rewrite_copy
from pipeline.fixups.fold_weight_nodes import constant_values, kernel_shapes

SMALL_BYTES = 1 << 18  # per-channel constants read while deciding a fusion


def fuse_conv_affine(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Merge ``Conv -> Mul(c) -> Add(d)`` with per-channel constants ``c``, ``d`` into the Conv's weights and bias.

    tf2onnx merges the BatchNormalization scale and offset that follow a convolution into it only
    when the kernel is a constant; with the kernel a graph input (see ``fold_weight_nodes``) they
    stay Mul/Add nodes. Merged here, the new kernel and bias computed when they are written, the
    graph is the one an export with constant kernels gives. Runs only while the weights are
    attached (``context.weights``).
    """
    weights = context.weights
    if weights is None or not weights.tensors:
        return FixupResult(model, [])
    return rewrite_copy(model, lambda working: _fuse(working, weights))


def _fuse(model: onnx.ModelProto, weights: LazyWeights) -> list[str]:
    graph = model.graph
    lazy = weights.tensors
    inline: dict[str, onnx.TensorProto] = {i.name: i for i in graph.initializer}
    constants = constant_values(graph)

    def small(name: str) -> np.ndarray | None:
        """A constant that is not weight-derived and small enough to read right away."""
        if name in constants:
            return constants[name]
        tensor = inline.get(name)
        if tensor is None or name in lazy or nbytes(tensor) > SMALL_BYTES:
            return None
        return read(tensor, weights.base_dir)

    nodes = list(graph.node)
    shapes = dict(weights.shapes)
    if any(n.op_type == "Conv" and len(n.input) > 1 and n.input[1] in lazy and n.input[1] not in shapes for n in nodes):
        shapes.update(kernel_shapes(model, nodes, lazy))  # kernels no fold computed: the graph is whole
    graph_outputs = {o.name for o in graph.output}
    before = weights.fused
    kept = _fuse_conv_affine(nodes, weights, small, shapes, graph_outputs)
    fused = weights.fused - before
    if not fused:
        return []
    del graph.node[:]
    graph.node.extend(kept)
    return [f"merged {fused} per-channel Mul/Add node(s) into Conv weights"]


def _fuse_conv_affine(
    nodes: list[onnx.NodeProto],
    weights: LazyWeights,
    small: Callable[[str], np.ndarray | None],
    kernel_shapes: Mapping[str, list[int]],
    graph_outputs: set[str],
) -> list[onnx.NodeProto]:
    """Merge ``Conv -> Mul(c) -> Add(d)`` with per-channel constants ``c``, ``d`` into the Conv.

    tf2onnx does this itself when the kernel is a constant; with the kernel folded here, the
    BatchNorm scale and offset that follow a convolution are left for this pass.
    """
    lazy, origin = weights.tensors, weights.origin
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in nodes:
        for name in set(node.input):
            consumers.setdefault(name, []).append(node)
    removed: set[int] = set()
    created: set[str] = set()  # fused biases made here
    for conv in nodes:
        if conv.op_type != "Conv" or len(conv.input) < 2 or conv.input[1] not in lazy:
            continue
        shape = kernel_shapes.get(conv.input[1])
        if not shape or any(d <= 0 for d in shape):
            continue
        rank, channels = len(shape), shape[0]
        while True:
            out = conv.output[0]
            after = consumers.get(out, [])
            if len(after) != 1 or out in graph_outputs or len(after[0].input) != 2:
                break
            op = after[0]
            if op.op_type not in ("Mul", "Add") or op.input[0] == op.input[1]:
                break
            other = op.input[1] if op.input[0] == out else op.input[0]
            value = small(other)
            vector = per_channel(value, rank, channels) if value is not None and value.dtype.kind == "f" else None
            bias_name = conv.input[2] if len(conv.input) > 2 and conv.input[2] else None
            bias = None
            if bias_name:
                bias = lazy.get(bias_name) or (lambda name=bias_name: small(name))
            if vector is None or (bias_name and bias_name not in lazy and small(bias_name) is None):
                break
            weight = lazy[conv.input[1]]
            root = origin.get(conv.input[1])
            if op.op_type == "Mul":
                weight_name = _fresh(f"{conv.input[1]}/scaled", lazy)
                lazy[weight_name] = _scaled_weight(weight, vector)
                if root:
                    origin[weight_name] = root
                conv.input[1] = weight_name
            if bias_name in created:  # ours from the previous step: replace it, keep its name
                bias_out = bias_name
            else:
                base = root.rsplit("/", 1)[0] if root and "/" in root else (root or conv.input[1])
                bias_out = _fresh(f"{base}/bias", lazy)
                created.add(bias_out)
            lazy[bias_out] = _new_bias(bias, vector, op.op_type, channels)
            if len(conv.input) > 2:
                conv.input[2] = bias_out
            else:
                conv.input.append(bias_out)
            conv.output[0] = op.output[0]
            consumers[conv.output[0]] = consumers.get(op.output[0], [])
            removed.add(id(op))
            weights.fused += 1
    return [n for n in nodes if id(n) not in removed]


def per_channel(value: np.ndarray, rank: int, channels: int) -> np.ndarray | None:
    """``value`` as a vector over axis 1 of a rank-``rank`` NC... tensor, if it broadcasts that way."""
    if value.ndim > rank:
        return None
    shape = (1,) * (rank - value.ndim) + value.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(value.reshape(-1), (channels,)) if value.size == 1 else value.reshape(channels)


def _fresh(base: str, taken: Mapping[str, Any]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _scaled_weight(weight: Loader, vector: np.ndarray) -> Loader:
    def compute() -> np.ndarray:
        kernel = weight()
        return kernel * vector.astype(kernel.dtype).reshape((-1,) + (1,) * (kernel.ndim - 1))

    return compute


def _new_bias(bias: Loader | None, vector: np.ndarray, op: str, channels: int) -> Loader:
    def compute() -> np.ndarray:
        current = bias() if bias is not None else np.zeros(channels, dtype=vector.dtype)
        current = np.broadcast_to(current, (channels,))
        return (current * vector if op == "Mul" else current + vector).astype(current.dtype)

    return compute
