"""Fixup: fold run-time shape arithmetic into constants, keeping the batch dimension symbolic."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline.fixups.base import FixupContext, FixupResult, rewrite_copy
from pipeline.onnx_utils import infer_shapes, subgraph_inputs, unique_name

MAX_ROUNDS = 6
_INT_TYPES = (onnx.TensorProto.INT64, onnx.TensorProto.INT32)


@dataclass(frozen=True)
class Sym:
    """``coef * name``: a dimension known only up to a symbolic factor (the batch)."""

    name: str
    coef: int = 1

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, int | np.integer) and not isinstance(other, bool):
            return Sym(self.name, self.coef * int(other)) if other != 0 else 0
        return NotImplemented

    __rmul__ = __mul__

    def __floordiv__(self, other: Any) -> Any:
        if isinstance(other, int | np.integer) and other != 0 and self.coef % int(other) == 0:
            return Sym(self.name, self.coef // int(other))
        if isinstance(other, Sym) and other.name == self.name and self.coef % other.coef == 0:
            return self.coef // other.coef
        return NotImplemented


class _Unknown(Exception):
    pass


def _const_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    values = {}
    for init in model.graph.initializer:
        if init.data_type in _INT_TYPES and _numel(init) <= 64:
            values[init.name] = numpy_helper.to_array(init).astype(np.int64).astype(object)
    return values


def _numel(tensor: onnx.TensorProto) -> int:
    return int(np.prod(tensor.dims)) if tensor.dims else 1


def _symbol(param: str) -> Sym:
    """A dim_param as ``coef * name``: symbolic shape inference writes products like ``4*batch``."""
    match = re.fullmatch(r"\s*(\d+)\s*\*\s*(\w+)\s*|\s*(\w+)\s*\*\s*(\d+)\s*", param)
    if match and match.group(1):
        return Sym(match.group(2), int(match.group(1)))
    if match and match.group(3) and not match.group(3).isdigit():
        return Sym(match.group(3), int(match.group(4)))
    return Sym(param)


def _shape_of(name: str, shapes: dict[str, list[Any]]) -> list[Any]:
    if name not in shapes:
        raise _Unknown
    return shapes[name]


def _collect_shapes(model: onnx.ModelProto) -> dict[str, list[Any]]:
    shapes: dict[str, list[Any]] = {}
    graph = model.graph
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        dims: list[Any] = []
        for dim in tensor_type.shape.dim:
            if dim.HasField("dim_value"):
                dims.append(int(dim.dim_value))
            elif dim.dim_param:
                dims.append(_symbol(dim.dim_param))
            else:
                dims.append(None)
        shapes[value.name] = dims
    return shapes


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def _ints(value: np.ndarray) -> list[int]:
    if any(not isinstance(v, int | np.integer) for v in value.reshape(-1)):
        raise _Unknown
    return [int(v) for v in value.reshape(-1)]


def _evaluate(node: onnx.NodeProto, known: dict[str, np.ndarray], shapes: dict[str, list[Any]]) -> np.ndarray:
    """The value of ``node``'s (single) output from known inputs, or raise :class:`_Unknown`."""
    op = node.op_type

    def arg(i: int) -> np.ndarray:
        if i >= len(node.input) or not node.input[i] or node.input[i] not in known:
            raise _Unknown
        return known[node.input[i]]

    if op == "Shape":
        dims = _shape_of(node.input[0], shapes)
        start, end = _attr(node, "start", 0), _attr(node, "end", None)
        dims = dims[start:end]
        if any(d is None for d in dims):
            raise _Unknown
        return np.array(dims, dtype=object)
    if op == "Size":
        dims = _shape_of(node.input[0], shapes)
        if any(not isinstance(d, int) for d in dims):
            raise _Unknown
        return np.array(int(np.prod(dims)), dtype=object)
    if op == "Constant":
        value = _attr(node, "value")
        if value is None or value.data_type not in _INT_TYPES:
            raise _Unknown
        return numpy_helper.to_array(value).astype(np.int64).astype(object)
    if op in ("Cast", "Identity"):
        if op == "Cast" and _attr(node, "to") not in _INT_TYPES:
            raise _Unknown
        return arg(0)
    if op == "Gather":
        data, indices = arg(0), arg(1)
        axis = _attr(node, "axis", 0)
        if data.ndim != 1 or axis != 0:
            raise _Unknown
        idx = np.array(_ints(indices)).reshape(indices.shape)
        return data[np.where(idx < 0, idx + len(data), idx)]
    if op == "Slice":
        data = arg(0)
        if data.ndim != 1:
            raise _Unknown
        starts, ends = _ints(arg(1)), _ints(arg(2))
        axes = _ints(arg(3)) if len(node.input) > 3 and node.input[3] else [0]
        steps = _ints(arg(4)) if len(node.input) > 4 and node.input[4] else [1]
        if axes != [0] or len(starts) != 1:
            raise _Unknown
        return data[slice(starts[0], max(ends[0], -(2**62)) if ends[0] < 0 else min(ends[0], 2**62), steps[0])]
    if op == "Concat":
        parts = [arg(i) for i in range(len(node.input))]
        if any(p.ndim != 1 for p in parts):
            raise _Unknown
        return np.concatenate(parts)
    if op in ("Unsqueeze", "Squeeze"):
        data = arg(0)
        axes = _attr(node, "axes")
        if axes is None and len(node.input) > 1:
            axes = _ints(arg(1))
        if op == "Unsqueeze":
            out = data
            for axis in sorted(a % (data.ndim + len(axes)) for a in axes):
                out = np.expand_dims(out, axis)
            return out
        return data.reshape([d for i, d in enumerate(data.shape) if axes and i not in [a % data.ndim for a in axes]])
    if op in ("Mul", "Div", "Add", "Sub"):
        a, b = np.broadcast_arrays(arg(0), arg(1))
        out = np.empty(a.shape, dtype=object)
        for index in np.ndindex(a.shape):
            x, y = a[index], b[index]
            if op == "Mul":
                r = x * y
            elif op == "Div":
                if isinstance(x, int | np.integer) and isinstance(y, int | np.integer):
                    if y == 0:
                        raise _Unknown
                    r = int(np.trunc(x / y))
                else:
                    r = x // y
            elif isinstance(x, int | np.integer) and isinstance(y, int | np.integer):
                r = x + y if op == "Add" else x - y
            else:
                raise _Unknown
            if r is NotImplemented:
                raise _Unknown
            out[index] = r
        return out
    if op in ("Max", "Min") and len(node.input) == 2:
        a, b = np.broadcast_arrays(arg(0), arg(1))
        out = np.empty(a.shape, dtype=object)
        for index in np.ndindex(a.shape):
            out[index] = _extreme(a[index], b[index], op == "Max")
        return out
    if op == "ReduceProd":
        data = arg(0)
        axes = _attr(node, "axes")
        if axes is None and len(node.input) > 1 and node.input[1]:  # opset 18: axes is an input
            axes = _ints(arg(1))
        if axes and not (data.ndim == 1 and [a % 1 for a in axes] == [0]):
            raise _Unknown  # only the whole-vector product of a shape is folded
        values = list(data.reshape(-1))
        result: Any = 1
        for v in values:
            result = result * v
        if result is NotImplemented or isinstance(result, type(NotImplemented)):
            raise _Unknown
        return np.array(result, dtype=object) if _attr(node, "keepdims", 1) == 0 else np.array([result], dtype=object)
    raise _Unknown


def _extreme(x: Any, y: Any, largest: bool) -> Any:
    """max/min of two dims; a symbolic ``k * batch`` (batch >= 1) is at least ``k``."""
    if x == y:
        return x
    if isinstance(x, int | np.integer) and isinstance(y, int | np.integer):
        return max(x, y) if largest else min(x, y)
    sym, const = (x, y) if isinstance(x, Sym) else (y, x)
    if isinstance(sym, Sym) and isinstance(const, int | np.integer) and const <= sym.coef:
        return sym if largest else const
    raise _Unknown


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


def _is_concrete(value: np.ndarray) -> bool:
    return all(isinstance(v, int | np.integer) for v in value.reshape(-1))


def _rewrite_shape_input(node: onnx.NodeProto, value: np.ndarray, shapes: dict[str, list[Any]]) -> list[int] | None:
    """A constant that can stand for symbolic ``value`` as ``node``'s shape input, or None."""
    dims = list(value.reshape(-1))
    syms = [i for i, d in enumerate(dims) if isinstance(d, Sym)]
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


_FOLDABLE = (
    "Shape",
    "Size",
    "Gather",
    "Slice",
    "Concat",
    "Cast",
    "Unsqueeze",
    "Squeeze",
    "Mul",
    "Div",
    "Add",
    "Sub",
    "ReduceProd",
    "Identity",
    "Max",
    "Min",
)


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
        shapes = _collect_shapes(inferred)
        known = _const_values(model)
        for node in graph.node:
            if len(node.output) == 1:
                try:
                    # a scalar Gather index yields a bare element: keep every value an array
                    known[node.output[0]] = np.asarray(_evaluate(node, known, shapes), dtype=object)
                except (_Unknown, IndexError, ValueError, TypeError):
                    pass
        round_changes: list[str] = []
        protected = {o.name for o in graph.output}
        used = {name for node in graph.node for name in node.input}
        taken = {i.name for i in graph.initializer} | {o for n in graph.node for o in n.output}

        # 1. shape computations with a fully known result become initializers
        folded = 0
        for node in list(graph.node):
            out = node.output[0] if len(node.output) == 1 else None
            if node.op_type not in _FOLDABLE or out is None or out in protected or out not in used:
                continue
            value = known.get(out)
            if value is None or not _is_concrete(value):
                continue
            dtype = np.int32 if _output_type(inferred, out) == onnx.TensorProto.INT32 else np.int64
            graph.initializer.append(numpy_helper.from_array(np.array(value.tolist(), dtype=dtype), out))
            graph.node.remove(node)
            folded += 1
        if folded:
            round_changes.append(f"folded {folded} shape computation(s) into constants")

        # 2. targets that still hold the batch symbol: Reshape gets -1 there, Expand gets 1
        for node in graph.node:
            if node.op_type not in ("Reshape", "Expand") or len(node.input) < 2:
                continue
            value = known.get(node.input[1])
            if value is None or _is_concrete(value):
                continue
            constant = _rewrite_shape_input(node, value, shapes)
            if constant is None:
                continue
            name = unique_name(f"{node.input[1]}__static", taken)
            graph.initializer.append(numpy_helper.from_array(np.array(constant, dtype=np.int64), name))
            node.input[1] = name
            round_changes.append(f"{node.op_type} '{node.name}': target {_fmt(value)} -> {constant}")

        removed = remove_dead_nodes(model)
        if removed:
            round_changes.append(f"removed {removed} node(s) left without consumers")
        if not round_changes:
            break
        changes.extend(round_changes)
    return changes


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
