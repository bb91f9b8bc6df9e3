"""TensorFlow LookupTableFindV2 on integer keys (Keras ``IntegerLookup``) to standard ONNX ops.

The table's contents are not in the traced graph: it reads a captured table resource. The export
stage calls :func:`annotate_tables` on the frozen GraphDef, which copies each table's keys and
values (exported from the live resource) onto its lookup nodes as attributes; the tf2onnx handler
reads them from there. TensorFlow is imported only by :func:`annotate_tables`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from custom_ops.base import CustomOp, TfHandler

KEYS_ATTR = "_keras2torch_table_keys"
VALUES_ATTR = "_keras2torch_table_values"
FIND_OPS = ("LookupTableFindV2",)
# Keys spanning at most this many integers (and at most DENSE_RATIO times their count) become a
# dense table read by one Gather; sparser keys are matched by equality against every key.
DENSE_SPAN = 1 << 20
DENSE_RATIO = 16


def annotate_tables(graph_def: Any, function: Any) -> list[str]:
    """Copy the contents of every table ``function`` captures onto the lookup nodes of ``graph_def``.

    ``graph_def`` is ``function`` frozen (calls inlined), where a table is a placeholder for the
    captured resource. Returns one line per annotated node.
    """
    import tensorflow as tf

    handles = {inner.op.name: outer for outer, inner in function.graph.captures if outer.dtype == tf.resource}
    nodes = {node.name: node for node in graph_def.node}
    changes = []
    annotated = []
    for node in list(graph_def.node):
        if node.op not in FIND_OPS or not node.input:
            continue
        source = _producer(node.input[0], nodes)
        if source is None or source.name not in handles:
            continue
        keys, values = tf.raw_ops.LookupTableExportV2(
            table_handle=handles[source.name], Tkeys=node.attr["Tin"].type, Tvalues=node.attr["Tout"].type
        )
        node.attr[KEYS_ATTR].tensor.CopyFrom(tf.make_tensor_proto(keys.numpy()))
        node.attr[VALUES_ATTR].tensor.CopyFrom(tf.make_tensor_proto(values.numpy()))
        changes.append(f"{node.name}: table of {int(keys.shape[0])} keys read from '{source.name}'")
        annotated.append(node)
    if annotated:
        _pin_shapes(graph_def, annotated)
    return changes


def _pin_shapes(graph_def: Any, finds: list[Any]) -> None:
    """Follow each lookup in ``finds`` by an EnsureShape to its keys' shape, read by the consumers.

    The table placeholder carries no handle data, so TensorFlow cannot infer the lookup's output
    shape, and tf2onnx's fallback shape inference then forces the operands of a ``tf.where``
    after it (IntegerLookup's mask) to one shape ("Shapes must be equal rank"). tf2onnx writes
    EnsureShape as an Identity.
    """
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
    for find in finds:
        shape = graph.get_operation_by_name(find.name).inputs[1].shape
        if shape.rank is None:
            continue
        pinned = graph_def.node.add()
        pinned.name = find.name + "/keras2torch_shape"
        pinned.op = "EnsureShape"
        pinned.input.append(find.name)
        pinned.attr["T"].type = find.attr["Tout"].type
        pinned.attr["shape"].shape.CopyFrom(shape.as_proto())
        for node in graph_def.node:
            if node is not pinned:
                node.input[:] = [pinned.name if i in (find.name, find.name + ":0") else i for i in node.input]


def _producer(name: str, nodes: dict[str, Any]) -> Any:
    """The node behind tensor ``name``, looking through Identity nodes."""
    node = nodes.get(name.lstrip("^").split(":")[0])
    while node is not None and node.op == "Identity" and node.input:
        node = nodes.get(node.input[0].split(":")[0])
    return node


def table_find_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx handler: a lookup in a table with integer keys becomes a Gather or an equality match.

    tf2onnx converts only string<->int64 tables (to ai.onnx.ml CategoryMapper, which neither
    torch nor onnx2torch has) and only when it loaded the model itself; our export hands it a
    frozen graph, where Keras' IntegerLookup table is an opaque captured resource. With the keys
    and values :func:`annotate_tables` attached, keys spanning a small range become a dense table
    (``Where(0 <= x - min < span, Gather(table, x - min), default)``) and others an exact match
    (``default + ReduceSum((x == keys) * (values - default))``; keys are unique): standard ops
    that ONNX Runtime runs and onnx2torch imports.
    """
    from onnx import TensorProto, numpy_helper

    if KEYS_ATTR not in node.attr:
        raise ValueError("lookup table whose contents could not be read (not a table captured by the traced function)")
    keys = numpy_helper.to_array(node.attr[KEYS_ATTR].t)
    values = numpy_helper.to_array(node.attr[VALUES_ATTR].t)
    if keys.dtype.kind not in "iu" or values.dtype.kind not in "iuf":
        raise ValueError(f"lookup table from {keys.dtype} to {values.dtype}: only integer keys and numeric values")
    default_node = node.inputs[2]
    if not default_node.is_const():
        raise ValueError("lookup table default value computed at run time")
    default = np.asarray(default_node.get_tensor_value(as_list=False), values.dtype).reshape(())
    x = node.input[1]
    if ctx.get_dtype(x) != TensorProto.INT64:
        x = ctx.make_node("Cast", [x], attr={"to": TensorProto.INT64}, op_name_scope=name).output[0]
    keys = keys.astype(np.int64)
    table_node = node.inputs[0]
    outputs, shape, dtype = node.output, ctx.get_shape(node.output[0]), ctx.get_dtype(node.output[0])
    ctx.remove_node(node.name)
    if keys.size and _dense(keys):
        _dense_lookup(ctx, name, x, keys, values, default, outputs, shape, dtype)
    else:
        _match_lookup(ctx, name, x, keys, values, default, outputs, shape, dtype)
    while table_node is not None and not ctx.find_output_consumers(table_node.output[0]):
        upstream = table_node.inputs[0] if table_node.type == "Identity" and table_node.inputs else None
        ctx.remove_node(table_node.name)
        table_node = upstream


def _dense(keys: np.ndarray) -> bool:
    span = int(keys.max()) - int(keys.min()) + 1
    return span <= DENSE_SPAN and span <= DENSE_RATIO * keys.size


def _dense_lookup(
    ctx: Any, name: str, x: str, keys: np.ndarray, values: np.ndarray, default: np.ndarray, *out: Any
) -> None:
    low = int(keys.min())
    span = int(keys.max()) - low + 1
    table = np.full(span, default, values.dtype)
    table[keys - low] = values
    offset = ctx.make_const(name + "_low", np.array(low, np.int64)).output[0]
    zero = ctx.make_const(name + "_zero", np.array(0, np.int64)).output[0]
    size = ctx.make_const(name + "_span", np.array(span, np.int64)).output[0]
    dense = ctx.make_const(name + "_table", table).output[0]
    fill = ctx.make_const(name + "_default", default).output[0]
    index = ctx.make_node("Sub", [x, offset], op_name_scope=name).output[0]
    above = ctx.make_node("GreaterOrEqual", [index, zero], op_name_scope=name).output[0]
    below = ctx.make_node("Less", [index, size], op_name_scope=name).output[0]
    inside = ctx.make_node("And", [above, below], op_name_scope=name).output[0]
    safe = ctx.make_node("Where", [inside, index, zero], op_name_scope=name).output[0]
    found = ctx.make_node("Gather", [dense, safe], attr={"axis": 0}, op_name_scope=name).output[0]
    _finish(ctx, name, "Where", [inside, found, fill], *out)


def _match_lookup(
    ctx: Any, name: str, x: str, keys: np.ndarray, values: np.ndarray, default: np.ndarray, *out: Any
) -> None:
    from onnx import TensorProto
    from onnx.helper import np_dtype_to_tensor_dtype
    from tf2onnx.graph_builder import GraphBuilder

    kind = np_dtype_to_tensor_dtype(values.dtype)
    key_table = ctx.make_const(name + "_keys", keys).output[0]
    deltas = ctx.make_const(name + "_deltas", (values - default).astype(values.dtype)).output[0]
    fill = ctx.make_const(name + "_default", default).output[0]
    column = GraphBuilder(ctx).make_unsqueeze({"data": x, "axes": [-1]}, op_name_scope=name)
    equal = ctx.make_node("Equal", [column, key_table], op_name_scope=name).output[0]
    hit = ctx.make_node("Cast", [equal], attr={"to": kind}, op_name_scope=name).output[0]
    if kind == TensorProto.BOOL:
        raise ValueError("lookup table with boolean values")
    picked = ctx.make_node("Mul", [hit, deltas], op_name_scope=name).output[0]
    summed = GraphBuilder(ctx).make_reduce_sum(
        {"data": picked, "axes": [-1], "keepdims": 0, "noop_with_empty_axes": 0}, op_name_scope=name
    )
    _finish(ctx, name, "Add", [summed, fill], *out)


def _finish(ctx: Any, name: str, op: str, inputs: list[str], outputs: list[str], shape: Any, dtype: Any) -> None:
    ctx.make_node(op, inputs, name=name, outputs=outputs, shapes=[shape], dtypes=[dtype])


OP = CustomOp.define(table_find_handler, name="LookupTableFindV2", tf=(TfHandler(FIND_OPS, table_find_handler),))
