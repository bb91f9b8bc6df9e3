"""Value ranges for the integer inputs of an ``.onnx`` source that index a table (token ids, token types).

An ONNX file carries no Keras Embedding to read a vocabulary from, but its graph does: an integer
input that reaches ``Gather(table, ids)`` as the indices (directly or through casts and reshapes)
is valid in ``[0, rows)`` of that table. ONNX Runtime refuses an index past the end, so a default
range of 0..10 fails every input set on a two-row token-type table that ONNX Runtime runs fine.
"""

from __future__ import annotations

from dataclasses import replace

import onnx
from onnx import helper

from pipeline.context import TensorSpec

# ops that carry index values through unchanged (shape or type only)
_PASS_THROUGH = frozenset({"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand"})


def table_rows(model: onnx.ModelProto, name: str) -> int | None:
    """Rows of the smallest table that ``name`` (a graph input) indexes through ``Gather``, or None."""
    tables = {t.name: list(t.dims) for t in model.graph.initializer}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for tensor in node.input:
            readers.setdefault(tensor, []).append(node)
    rows: list[int] = []
    todo, seen = [name], {name}
    while todo:
        tensor = todo.pop()
        for node in readers.get(tensor, []):
            if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == tensor:
                dims = tables.get(node.input[0])
                axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 0)
                if dims and -len(dims) <= axis < len(dims):
                    rows.append(int(dims[axis]))
            elif node.op_type in _PASS_THROUGH and node.input and node.input[0] == tensor:
                for out in node.output:
                    if out and out not in seen:
                        seen.add(out)
                        todo.append(out)
    return min(rows) if rows else None


def with_table_ranges(specs: list[TensorSpec], model: onnx.ModelProto) -> list[TensorSpec]:
    """``specs`` with each integer input that indexes a table drawn from ``[0, rows)`` of it."""
    out = []
    for spec in specs:
        rows = table_rows(model, spec.name) if spec.dtype.startswith(("int", "uint")) else None
        if rows:
            spec = replace(spec, low=0.0, high=float(rows), range_reason=f"rows of the table it indexes ({rows})")
        out.append(spec)
    return out
