"""Fixup: fold run-time shape arithmetic into constants, keeping the batch dimension symbolic."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from pipeline.fixups.base import FixupContext, FixupResult, rewrite_copy
from pipeline.fixups.shape_values import (
    FOLDABLE,
    Sym,
    Unknown,
    attr,
    collect_shapes,
    const_values,
    evaluate,
    is_concrete,
)
from pipeline.onnx_utils import infer_shapes, subgraph_inputs, unique_name

_NUMPY_TYPES = {
    onnx.TensorProto.INT32: np.int32,
    onnx.TensorProto.BOOL: np.bool_,
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.DOUBLE: np.float64,
}

MAX_ROUNDS = 6


def _elements_per(shape: list[Any] | None, symbol: str) -> int | None:
    """``k`` when ``shape`` has ``k * symbol`` elements, else None."""
    if shape is None:
        return None
    coef, seen = 1, False
    for d in shape:
        if isinstance(d, Sym) and d.name == symbol and not seen:
            coef, seen = coef * d.coef, True
        elif isinstance(d, int) and not isinstance(d, bool):
            coef *= d
        else:
            return None
    return coef if seen else None


_SHAPE_INPUT = {"Reshape": 1, "Expand": 1, "Slice": 2}
_TO_THE_END = 2**63 - 1


def _rewrite_shape_input(
    node: onnx.NodeProto, value: np.ndarray, shapes: dict[str, list[Any]], known: dict[str, np.ndarray]
) -> list[int] | None:
    """A constant that can stand for symbolic ``value`` as ``node``'s shape input, or None."""
    dims = list(value.reshape(-1))
    syms = [i for i, d in enumerate(dims) if isinstance(d, Sym)]
    if node.op_type == "Slice":
        data_shape = shapes.get(node.input[0])
        axes_value = known.get(node.input[3]) if len(node.input) > 3 and node.input[3] else None
        if data_shape is None or (len(node.input) > 3 and node.input[3] and axes_value is None):
            return None
        axes = [int(a) % len(data_shape) for a in axes_value.reshape(-1)] if axes_value is not None else None
        axes = axes if axes is not None else list(range(len(dims)))
        if len(axes) != len(dims) or any(data_shape[axes[i]] != dims[i] for i in syms):
            return None
        return [_TO_THE_END if i in syms else int(d) for i, d in enumerate(dims)]
    if node.op_type == "Reshape":
        if len(syms) != 1 or 0 in dims:
            return None
        if -1 in dims:  # the inferred dim is fixed by the input's size, itself k * the same symbol
            sym = dims[syms[0]]
            size = _elements_per(shapes.get(node.input[0]), sym.name)
            rest = int(np.prod([int(d) for i, d in enumerate(dims) if i != syms[0] and d != -1]))
            if size is None or size % (sym.coef * rest):
                return None
            dims = [size // (sym.coef * rest) if d == -1 else d for d in dims]
        return [-1 if i == syms[0] else int(d) for i, d in enumerate(dims)]
    if node.op_type == "Expand":
        data_shape = shapes.get(node.input[0])
        if data_shape is None:
            return None
        offset = len(dims) - len(data_shape)
        out = []
        for i, d in enumerate(dims):
            if isinstance(d, Sym):
                j = i - offset
                if j < 0 or data_shape[j] != d:
                    return None
                out.append(1)  # broadcasting keeps the input's (symbolic) size
            else:
                out.append(int(d))
        return out
    return None


def fold_shape_arithmetic(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Replace Shape -> Gather/Slice -> Concat -> Reshape/Expand chains by constants (batch as -1 or 1).

    tf2onnx exports Keras' Flatten, Reshape and broadcasts as shape arithmetic on tensor values;
    torch.export cannot trace a reshape whose target comes from tensor data, and onnx2torch keeps
    the chain as run-time ops. With every dimension but the batch pinned, all of it folds.
    """
    return rewrite_copy(model, lambda working: _fold(working, context))


def _fold(model: onnx.ModelProto, context: FixupContext) -> list[str]:
    changes: list[str] = []
    graph = model.graph
    for _ in range(MAX_ROUNDS):
        inferred = infer_shapes(model, symbolic=True)
        shapes = collect_shapes(inferred)
        known = const_values(model)
        for node in graph.node:
            if len(node.output) == 1:
                try:
                    # a scalar Gather index yields a bare element: keep every value an array
                    known[node.output[0]] = np.asarray(evaluate(node, known, shapes), dtype=object)
                except (Unknown, IndexError, ValueError, TypeError):
                    pass
        round_changes: list[str] = []
        protected = {o.name for o in graph.output}
        used = {name for node in graph.node for name in node.input}
        taken = {i.name for i in graph.initializer} | {o for n in graph.node for o in n.output}

        # 1. shape computations with a fully known result become initializers
        folded = 0
        for node in list(graph.node):
            out = node.output[0] if len(node.output) == 1 else None
            if node.op_type not in FOLDABLE or out is None or out in protected or out not in used:
                continue
            value = known.get(out)
            if value is None or not is_concrete(value):
                continue
            dtype = _NUMPY_TYPES.get(_output_type(inferred, out) or _declared_type(node), np.int64)
            graph.initializer.append(numpy_helper.from_array(np.array(value.tolist(), dtype=dtype), out))
            graph.node.remove(node)
            folded += 1
        if folded:
            round_changes.append(f"folded {folded} shape computation(s) into constants")

        # 2. targets that still hold the batch symbol: Reshape gets -1 there, Expand gets 1
        # (Slice ends that equal the sliced dim become "to the end")
        for node in graph.node:
            index = _SHAPE_INPUT.get(node.op_type)
            if index is None or len(node.input) <= index:
                continue
            value = known.get(node.input[index])
            if value is None or is_concrete(value):
                continue
            constant = _rewrite_shape_input(node, value, shapes, known)
            if constant is None:
                continue
            name = unique_name(f"{node.input[index]}__static", taken)
            graph.initializer.append(numpy_helper.from_array(np.array(constant, dtype=np.int64), name))
            node.input[index] = name
            round_changes.append(f"{node.op_type} '{node.name}': target {_fmt(value)} -> {constant}")

        removed = remove_dead_nodes(model)
        if removed:
            round_changes.append(f"removed {removed} node(s) left without consumers")
        if not round_changes:
            break
        changes.extend(round_changes)
    return changes


_BOOLEAN_OPS = ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or")


def _declared_type(node: onnx.NodeProto) -> int:
    """The output type ``node`` makes by its op alone, for outputs shape inference left untyped."""
    if node.op_type in _BOOLEAN_OPS:
        return onnx.TensorProto.BOOL
    if node.op_type == "Cast":
        return int(attr(node, "to", onnx.TensorProto.INT64))
    return onnx.TensorProto.INT64


def _output_type(model: onnx.ModelProto, name: str) -> int | None:
    for value in list(model.graph.value_info) + list(model.graph.output):
        if value.name == name:
            return value.type.tensor_type.elem_type
    return None


def _fmt(value: np.ndarray) -> str:
    return (
        "["
        + ", ".join(
            f"{d.coef}*{d.name}" if isinstance(d, Sym) and d.coef != 1 else (d.name if isinstance(d, Sym) else str(d))
            for d in value.reshape(-1)
        )
        + "]"
    )


def remove_dead_nodes(model: onnx.ModelProto) -> int:
    """Drop nodes whose outputs nobody reads, and initializers nobody uses; returns nodes removed."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
            needed.update(subgraph_inputs(node))
    removed = len(graph.node) - len(keep)
    if removed:
        kept = list(reversed(keep))
        del graph.node[:]
        graph.node.extend(kept)
    unused = [i for i in graph.initializer if i.name not in needed]
    for init in unused:
        graph.initializer.remove(init)
    return removed
