"""Values of shape computations: integers, plus ``k * batch`` where the batch stays symbolic.

:func:`evaluate` works out one node's output from the values of its inputs and the shapes of
the tensors it reads; it raises :class:`Unknown` when the value depends on data. The fold_shapes
fixup uses it to turn run-time shape arithmetic into constants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

INT_TYPES = (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
VALUE_TYPES = (*INT_TYPES, onnx.TensorProto.BOOL)
FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)  # only through Cast and Range (a causal mask)
MAX_ELEMENTS = 4096  # a folded constant larger than this stays a computation (Range of a long sequence)


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


class Unknown(Exception):
    """The value depends on data (or on an op this module does not evaluate)."""


def numel(tensor: onnx.TensorProto) -> int:
    return int(np.prod(tensor.dims)) if tensor.dims else 1


def const_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Small integer and boolean initializers, as object arrays."""
    values = {}
    for init in model.graph.initializer:
        if numel(init) > 64 or init.data_location == onnx.TensorProto.EXTERNAL:
            continue
        if init.data_type in VALUE_TYPES:
            values[init.name] = numpy_helper.to_array(init).astype(np.int64).astype(object)
        elif init.data_type in FLOAT_TYPES and numel(init) == 1:
            values[init.name] = numpy_helper.to_array(init).astype(np.float64).astype(object)
    return values


def symbol(param: str) -> Sym:
    """A dim_param as ``coef * name``: symbolic shape inference writes products like ``4*batch``."""
    match = re.fullmatch(r"\s*(\d+)\s*\*\s*(\w+)\s*|\s*(\w+)\s*\*\s*(\d+)\s*", param)
    if match and match.group(1):
        return Sym(match.group(2), int(match.group(1)))
    if match and match.group(3) and not match.group(3).isdigit():
        return Sym(match.group(3), int(match.group(4)))
    return Sym(param)


def collect_shapes(model: onnx.ModelProto) -> dict[str, list[Any]]:
    """Every tensor's shape the graph declares: inputs, value_info, outputs, and initializers.

    Initializer shapes matter: tf2onnx's einsum lowering reshapes a weight by ``f(Shape(weight))``.
    """
    shapes: dict[str, list[Any]] = {}
    graph = model.graph
    for init in graph.initializer:
        shapes[init.name] = [int(d) for d in init.dims]
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        dims: list[Any] = []
        for dim in tensor_type.shape.dim:
            if dim.HasField("dim_value"):
                dims.append(int(dim.dim_value))
            elif dim.dim_param:
                dims.append(symbol(dim.dim_param))
            else:
                dims.append(None)
        shapes.setdefault(value.name, dims)
    return shapes


def attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def ints(value: np.ndarray) -> list[int]:
    if any(not isinstance(v, int | np.integer) for v in value.reshape(-1)):
        raise Unknown
    return [int(v) for v in value.reshape(-1)]


def is_concrete(value: np.ndarray) -> bool:
    return all(isinstance(v, int | float | np.integer | np.floating) for v in value.reshape(-1))


def _scalar(value: np.ndarray) -> float:
    flat = value.reshape(-1)
    if flat.size != 1 or not is_concrete(flat):
        raise Unknown
    return flat[0]


def _shape_of(name: str, shapes: dict[str, list[Any]]) -> list[Any]:
    if name not in shapes:
        raise Unknown
    return shapes[name]


def _elementwise(op: str, x: Any, y: Any) -> Any:
    if isinstance(x, float | np.floating) or isinstance(y, float | np.floating):
        raise Unknown  # float values only pass through Cast and Range
    if op == "Mul":
        return x * y
    if op == "Div":
        if isinstance(x, int | np.integer) and isinstance(y, int | np.integer):
            if y == 0:
                raise Unknown
            return int(np.trunc(x / y))
        return x // y
    if op == "Max" or op == "Min":
        return extreme(x, y, op == "Max")
    if op in ("Add", "Sub") and isinstance(x, Sym) and isinstance(y, int | np.integer) and y == 0:
        return x
    if op == "Add" and isinstance(y, Sym) and isinstance(x, int | np.integer) and x == 0:
        return y
    if not (isinstance(x, int | np.integer) and isinstance(y, int | np.integer)):
        if op == "Equal" and isinstance(x, Sym) != isinstance(y, Sym):
            # k * batch (batch >= 1) never equals a constant below k (tf.slice's size=-1 test)
            sym, const = (x, y) if isinstance(x, Sym) else (y, x)
            if const < sym.coef:
                return 0
        raise Unknown
    x, y = int(x), int(y)
    table = {
        "Add": lambda: x + y,
        "Sub": lambda: x - y,
        "Mod": lambda: x % y if y else _raise(),
        "Equal": lambda: int(x == y),
        "Less": lambda: int(x < y),
        "Greater": lambda: int(x > y),
        "LessOrEqual": lambda: int(x <= y),
        "GreaterOrEqual": lambda: int(x >= y),
        "And": lambda: int(bool(x) and bool(y)),
        "Or": lambda: int(bool(x) or bool(y)),
    }
    if op not in table:
        raise Unknown
    return table[op]()


def _raise() -> Any:
    raise Unknown


BINARY = ("Mul", "Div", "Add", "Sub", "Mod", "Max", "Min", "Equal", "Less", "Greater")
BINARY += ("LessOrEqual", "GreaterOrEqual", "And", "Or")


def _binary(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(a, b)
    out = np.empty(a.shape, dtype=object)
    for index in np.ndindex(a.shape):
        r = _elementwise(op, a[index], b[index])
        if r is NotImplemented:
            raise Unknown
        out[index] = r
    return out


def _small(value: np.ndarray) -> np.ndarray:
    if value.size > MAX_ELEMENTS:
        raise Unknown
    return value


def evaluate(node: onnx.NodeProto, known: dict[str, np.ndarray], shapes: dict[str, list[Any]]) -> np.ndarray:
    """The value of ``node``'s (single) output from known inputs, or raise :class:`Unknown`."""
    op = node.op_type

    def arg(i: int) -> np.ndarray:
        if i >= len(node.input) or not node.input[i] or node.input[i] not in known:
            raise Unknown
        return known[node.input[i]]

    def has(i: int) -> bool:
        return i < len(node.input) and bool(node.input[i])

    if op == "Shape":
        dims = _shape_of(node.input[0], shapes)
        dims = dims[attr(node, "start", 0) : attr(node, "end", None)]
        if any(d is None for d in dims):
            raise Unknown
        return np.array(dims, dtype=object)
    if op == "Size":
        dims = _shape_of(node.input[0], shapes)
        if any(not isinstance(d, int) for d in dims):
            raise Unknown
        return np.array(int(np.prod(dims)), dtype=object)
    if op == "Constant":
        value = attr(node, "value")
        if value is None or value.data_type not in VALUE_TYPES:
            raise Unknown
        return numpy_helper.to_array(value).astype(np.int64).astype(object)
    if op in ("Cast", "Identity"):
        value = arg(0)
        if op == "Cast" and attr(node, "to") in FLOAT_TYPES:
            return np.array([float(v) for v in ints(value)], dtype=object).reshape(value.shape)
        if op == "Cast" and attr(node, "to") not in VALUE_TYPES:
            raise Unknown
        if any(isinstance(v, float | np.floating) for v in value.reshape(-1)):
            return np.array([int(v) for v in value.reshape(-1)], dtype=object).reshape(value.shape)
        if op == "Cast" and attr(node, "to") == onnx.TensorProto.BOOL:
            return np.array([int(bool(v)) for v in ints(value)], dtype=object).reshape(value.shape)
        return value
    if op == "Gather":
        data, indices = arg(0), arg(1)
        if data.ndim != 1 or attr(node, "axis", 0) != 0:
            raise Unknown
        idx = np.array(ints(indices)).reshape(indices.shape)
        return data[np.where(idx < 0, idx + len(data), idx)]
    if op == "Slice":
        data = arg(0)
        if data.ndim != 1:
            raise Unknown
        starts, ends = ints(arg(1)), ints(arg(2))
        axes = ints(arg(3)) if has(3) else [0]
        steps = ints(arg(4)) if has(4) else [1]
        if axes not in ([0], [-1]) or len(starts) != 1:
            raise Unknown
        return data[slice(starts[0], max(ends[0], -(2**62)) if ends[0] < 0 else min(ends[0], 2**62), steps[0])]
    if op == "Concat":
        parts = [arg(i) for i in range(len(node.input))]
        if any(p.ndim != 1 for p in parts):
            raise Unknown
        return np.concatenate(parts)
    if op in ("Unsqueeze", "Squeeze"):
        data = arg(0)
        axes = attr(node, "axes")
        if axes is None and has(1):
            axes = ints(arg(1))
        if op == "Unsqueeze":
            out = data
            for axis in sorted(a % (data.ndim + len(axes)) for a in axes):
                out = np.expand_dims(out, axis)
            return out
        if not axes:
            return data.reshape([d for d in data.shape if d != 1])
        return data.reshape([d for i, d in enumerate(data.shape) if i not in [a % data.ndim for a in axes]])
    if op in BINARY and len(node.input) == 2:
        return _binary(op, arg(0), arg(1))
    if op == "Not":
        value = arg(0)
        return np.array([int(not v) for v in ints(value)], dtype=object).reshape(value.shape)
    if op in ("Neg", "Abs"):
        value = arg(0)
        return np.array([-v if op == "Neg" else abs(v) for v in ints(value)], dtype=object).reshape(value.shape)
    if op == "Where":
        cond, a, b = arg(0), arg(1), arg(2)
        cond, a, b = np.broadcast_arrays(np.array(ints(cond), dtype=object).reshape(cond.shape), a, b)
        return np.where(cond.astype(bool), a, b).astype(object)
    if op == "Range":
        start, limit, delta = (_scalar(arg(i)) for i in range(3))
        if delta == 0:
            raise Unknown
        values = np.arange(start, limit, delta)
        return _small(np.array(values.tolist(), dtype=object))
    if op == "Tile":
        data, repeats = arg(0), ints(arg(1))
        return _small(np.tile(data, repeats))
    if op == "Expand":
        data, target = arg(0), ints(arg(1))
        return _small(np.broadcast_to(data, np.broadcast_shapes(data.shape, tuple(target))).copy())
    if op == "Reshape":
        data, target = arg(0), ints(arg(1))
        target = [data.shape[i] if d == 0 else d for i, d in enumerate(target)]
        return data.reshape(target)
    if op == "ConstantOfShape":
        value = attr(node, "value")
        if value is not None and value.data_type not in VALUE_TYPES:
            raise Unknown
        fill = int(numpy_helper.to_array(value).reshape(-1)[0]) if value is not None else 0
        return _small(np.full(ints(arg(0)), fill, dtype=object))
    if op in ("ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin"):
        return _reduce(node, arg(0), ints(arg(1)) if has(1) else None)
    raise Unknown


def _reduce(node: onnx.NodeProto, data: np.ndarray, axes_input: list[int] | None) -> np.ndarray:
    """A whole-vector reduction of a shape (only 1-D inputs, the only kind shape code reduces)."""
    axes = attr(node, "axes")
    if axes is None:
        axes = axes_input
    if data.ndim != 1 or (axes and [a % 1 for a in axes] != [0]):
        raise Unknown
    values = list(data.reshape(-1))
    op = node.op_type
    if op == "ReduceProd":
        result: Any = 1
        for v in values:
            result = result * v
    elif not values or not is_concrete(data):
        raise Unknown
    elif op == "ReduceSum":
        result = sum(int(v) for v in values)
    else:
        result = max(values) if op == "ReduceMax" else min(values)
    if result is NotImplemented:
        raise Unknown
    return np.array(result, dtype=object) if attr(node, "keepdims", 1) == 0 else np.array([result], dtype=object)


def extreme(x: Any, y: Any, largest: bool) -> Any:
    """max/min of two dims; a symbolic ``k * batch`` (batch >= 1) is at least ``k``."""
    if x == y:
        return x
    if isinstance(x, int | np.integer) and isinstance(y, int | np.integer):
        return max(x, y) if largest else min(x, y)
    sym, const = (x, y) if isinstance(x, Sym) else (y, x)
    if isinstance(sym, Sym) and isinstance(const, int | np.integer) and const <= sym.coef:
        return sym if largest else const
    raise Unknown


FOLDABLE = (
    "Shape", "Size", "Gather", "Slice", "Concat", "Cast", "Unsqueeze", "Squeeze", "Identity",
    "ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin", "Not", "Neg", "Abs", "Where", "Range",
    "Tile", "Expand", "Reshape", "ConstantOfShape", "Constant", *BINARY,
)  # fmt: skip
