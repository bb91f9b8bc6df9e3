"""Shape tensors as expressions over other tensors' sizes, for converters that must stay traceable.

tf2onnx computes run-time shapes as tensor arithmetic (``Shape -> Slice -> Concat -> Expand``,
e.g. ``tf.zeros([batch, units])`` for a recurrent layer's initial state). Read as values, such a
shape is data-dependent to torch.export; read as ``x.shape[0]``, it is a symbolic size it
traces. :func:`shape_expression` follows the producers of a 1-D shape tensor back to constants
and to ``Shape`` nodes, and returns one :class:`Dim` per element.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from custom_ops.base import constant_input


@dataclass(frozen=True)
class Dim:
    """One element of a shape: ``value`` if ``tensor`` is None, else ``tensor.shape[axis]``."""

    value: int = 0
    tensor: str | None = None
    axis: int = 0


def _attr(node: Any, name: str, default: Any = None) -> Any:
    return node.attributes.get(name, default)


def _rank(graph: Any, name: str) -> int | None:
    info = graph.value_info.get(name)
    if info is None or not info.type.tensor_type.HasField("shape"):
        return None
    return len(info.type.tensor_type.shape.dim)


def shape_expression(node: Any, graph: Any, index: int, depth: int = 0) -> list[Dim] | None:
    """Input ``index`` of ``node`` (a 1-D int tensor) as a list of :class:`Dim`, or None if it is data."""
    value = constant_input(node, graph, index)
    if value is not None:
        return [Dim(int(v)) for v in np.asarray(value).reshape(-1)]
    name = node.input_values[index] if index < len(node.input_values) else ""
    if not name or depth > 32:
        return None
    try:
        producer, _ = graph.value_as_node_output(name)
    except KeyError:
        return None
    op = producer.operation_type
    if op == "Shape":
        rank = _rank(graph, producer.input_values[0])
        if rank is None:
            return None
        start, end = _attr(producer, "start", 0), _attr(producer, "end", rank)
        axes = range(rank)[slice(start, end)]
        return [Dim(tensor=producer.input_values[0], axis=a) for a in axes]
    if op in ("Cast", "Identity"):
        return shape_expression(producer, graph, 0, depth + 1)
    if op == "Concat":
        parts = [shape_expression(producer, graph, i, depth + 1) for i in range(len(producer.input_values))]
        return None if any(p is None for p in parts) else [d for p in parts for d in p]  # type: ignore[union-attr]
    if op in ("Unsqueeze", "Squeeze"):  # of a scalar or 1-element vector
        inner = shape_expression(producer, graph, 0, depth + 1)
        return inner if inner is not None and len(inner) == 1 else None
    if op == "Gather":
        data = shape_expression(producer, graph, 0, depth + 1)
        indices = constant_input(producer, graph, 1)
        if data is None or indices is None or _attr(producer, "axis", 0) != 0:
            return None
        return [data[int(i)] for i in np.asarray(indices).reshape(-1)]
    if op == "Slice":
        data = shape_expression(producer, graph, 0, depth + 1)
        bounds = [constant_input(producer, graph, i) for i in (1, 2, 3, 4)]
        if data is None or bounds[0] is None or bounds[1] is None:
            return None
        start, end = int(bounds[0].reshape(-1)[0]), int(bounds[1].reshape(-1)[0])
        step = int(bounds[3].reshape(-1)[0]) if bounds[3] is not None else 1
        end = max(min(end, len(data)), -len(data) - 1)
        return data[start:end:step]
    return None


def same_symbol(graph: Any, a: str, axis_a: int, b: str, axis_b: int) -> bool:
    """Whether ``a.shape[axis_a]`` and ``b.shape[axis_b]`` carry the same symbolic dim (the batch)."""
    params = []
    for name, axis in ((a, axis_a), (b, axis_b)):
        info = graph.value_info.get(name)
        if info is None or not info.type.tensor_type.HasField("shape"):
            return False
        dims = info.type.tensor_type.shape.dim
        if axis >= len(dims) or not dims[axis].dim_param:
            return False
        params.append(dims[axis].dim_param)
    return params[0] == params[1]


def is_static(dims: list[Dim]) -> bool:
    return all(d.tensor is None for d in dims)


def references(dims: list[Dim]) -> list[str]:
    """The tensors whose sizes ``dims`` read, in first-use order."""
    seen: list[str] = []
    for d in dims:
        if d.tensor is not None and d.tensor not in seen:
            seen.append(d.tensor)
    return seen


def build(dims: list[Dim], refs: list[str], tensors: tuple[torch.Tensor, ...]) -> list[Any]:
    """The shape as Python ints and symbolic sizes, reading ``tensors`` (ordered as ``refs``)."""
    return [d.value if d.tensor is None else tensors[refs.index(d.tensor)].shape[d.axis] for d in dims]


def shaped_result(
    node: Any,
    graph: Any,
    index: int,
    module_of: Callable[[list[Dim], list[str]], torch.nn.Module],
    data_inputs: Sequence[str],
) -> Any | None:
    """The converter result for a shape input ``index`` built from other tensors' sizes, else None.

    The module is ``module_of(dims, refs)``; it takes ``data_inputs`` and then the tensors whose
    sizes the shape reads (``refs``), so torch.export sees those sizes as symbols.
    """
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    dims = shape_expression(node, graph, index)
    if dims is None:
        return None
    refs = references(dims)
    return OperationConverterResult(
        torch_module=module_of(dims, refs),
        onnx_mapping=OnnxMapping(inputs=(*data_inputs, *refs), outputs=node.output_values),
    )


def shape_input_converter(
    static: Callable[[list[int] | None], torch.nn.Module],
    shaped: Callable[[list[Dim], list[str]], torch.nn.Module],
) -> Callable[[Any, Any], Any]:
    """The converter of an op ``(x, shape)``: ``static(values)`` for a constant shape, ``shaped`` for
    one built from other tensors' sizes, ``static(None)`` (read in ``forward``) otherwise."""
    from custom_ops.common import const_ints, result

    def convert(node: Any, graph: Any) -> Any:
        values = const_ints(node, graph, 1)
        if values is not None:
            return result(static(values), node, (0,))
        built = shaped_result(node, graph, 1, shaped, node.input_values[:1])
        return built if built is not None else result(static(None), node)

    return convert
