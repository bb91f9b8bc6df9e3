"""Freeze a traced function for tf2onnx, its large variables left out as typed placeholders.

Small variables become constants as usual (TensorFlow's ``convert_variables_to_constants_v2``), but
large ones (:data:`WEIGHT_MIN_ELEMENTS` elements or more, read by plain reads outside control flow)
become placeholders named after the variable, so tf2onnx converts a graph that holds no large
tensor (:mod:`pipeline.stages.export` attaches them afterwards).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.onnx_utils import unique_name

# Variables this large (and not read inside control flow) stay out of the graph tf2onnx converts.
# Per-channel vectors (biases, BatchNorm statistics) stay constants: tf2onnx folds them into
# neighbouring ops and moves layout transposes past them only when they are.
WEIGHT_MIN_ELEMENTS = 16384
_CALL_OPS = frozenset(
    {
        "While",
        "StatelessWhile",
        "If",
        "StatelessIf",
        "Case",
        "StatelessCase",
        "PartitionedCall",
        "StatefulPartitionedCall",
    }
)


@dataclass
class Frozen:
    """A traced function frozen for tf2onnx, with its large variables as extra placeholders."""

    graph_def: Any
    inputs: list[str]  # TF tensor names of the model inputs
    outputs: list[str]
    weights: dict[str, Any] = field(default_factory=dict)  # placeholder tensor name -> tf.Variable
    sizes: dict[str, int] = field(default_factory=dict)  # placeholder tensor name -> bytes
    rename: dict[str, str] = field(default_factory=dict)  # TF tensor name -> ONNX name


def freeze(concrete: Any, min_elements: int) -> Frozen:
    """Freeze ``concrete`` into a GraphDef; variables of ``min_elements`` or more become placeholders.

    TensorFlow's own freezing (``convert_variables_to_constants_v2``: inlining, captured tensors,
    variables read in control flow) does the work; the large variables are left out of it and their
    ``ReadVariableOp`` s then read a typed placeholder instead. A variable read inside a function
    call or a loop stays a constant, as do variables tf2onnx pattern-matches (small ones).
    """
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants as c2c
    from tf2onnx import tf_loader
    from tf2onnx.convert import tensor_names_from_structed

    variables: dict[str, Any] = {}
    for outer, inner in concrete.graph.captures:
        if outer.dtype != tf.resource:
            continue
        for var in concrete.graph.variables:
            if var.handle is outer:
                variables[inner.op.name] = var
                break

    class _Freezer(c2c._FunctionConverterDataInEager):  # the converter convert_variables_to_constants_v2 uses
        kept_out: list[str] = []

        def _build_tensor_data(self) -> None:
            self.kept_out = _outside_candidates(self.graph_def, variables, min_elements)
            self._variable_names_denylist = set(self.kept_out)
            super()._build_tensor_data()

    data = _Freezer(concrete, lower_control_flow=False, aggressive_inlining=True)
    graph_def, _ = c2c._replace_variables_by_constants(data)
    graph_def = tf_loader.fix_freezing_errors_part2(graph_def)
    # the function's own arguments; captured tensors were frozen into constants above
    captured = {inner.name for _, inner in concrete.graph.captures}
    inputs = [t.name for t in concrete.inputs if t.dtype != tf.resource and t.name not in captured]
    outputs = [t.name for t in concrete.outputs if t.dtype != tf.resource]
    frozen = Frozen(graph_def=graph_def, inputs=inputs, outputs=outputs)
    frozen.rename = tensor_names_from_structed(concrete, inputs, outputs)
    taken = set(frozen.rename.values())
    nodes = {node.name: node for node in graph_def.node}
    consumers = _data_consumers(graph_def)
    for name in data.kept_out:
        var = variables[name]
        _to_placeholder(graph_def, nodes[name], var, _reads(name, consumers))
        tensor = f"{name}:0"
        frozen.weights[tensor] = var
        frozen.sizes[tensor] = int(var.shape.num_elements()) * var.dtype.size
        frozen.rename[tensor] = unique_name(_weight_name(var), taken)
    return frozen


def _weight_name(var: Any) -> str:
    """A readable initializer name for a variable: its path without the ``:0``."""
    name = str(getattr(var, "path", None) or var.name)
    return re.sub(r":\d+$", "", name) or "weight"


def _data_consumers(graph_def: Any) -> dict[str, list[Any]]:
    """Node name -> nodes reading one of its outputs as data (control inputs left out)."""
    consumers: dict[str, list[Any]] = {}
    for node in graph_def.node:
        for name in node.input:
            if not name.startswith("^"):
                consumers.setdefault(name.split(":")[0], []).append(node)
    return consumers


def _reads(name: str, consumers: dict[str, list[Any]]) -> tuple[list[Any], list[Any]]:
    """The ops reading resource ``name`` through any chain of Identity nodes (inlined calls make
    those), and the Identity nodes on the way."""
    reads, identities, todo, seen = [], [], [name], {name}
    while todo:
        for node in consumers.get(todo.pop(), []):
            if node.op == "Identity":
                if node.name not in seen:
                    seen.add(node.name)
                    identities.append(node)
                    todo.append(node.name)
            else:
                reads.append(node)
    return reads, identities


def _outside_candidates(graph_def: Any, variables: dict[str, Any], min_elements: int) -> list[str]:
    """Captured variables to keep out of the graph: large, numeric, read only by plain reads."""
    consumers = _data_consumers(graph_def)
    chosen = []
    for name, var in variables.items():
        count = var.shape.num_elements()
        if count is None or count < min_elements or not (var.dtype.is_floating or var.dtype.is_integer):
            continue
        if var.shape.rank is not None and var.shape.rank < 2 and count < 1 << 20:
            continue  # vectors: tf2onnx folds them into neighbouring ops
        reads, _ = _reads(name, consumers)
        if not reads or any(r.op not in ("ReadVariableOp", "ResourceGather") for r in reads):
            continue
        if any(c.op in _CALL_OPS for r in reads for c in consumers.get(r.name, [])):
            continue  # read by a loop or a call: tf2onnx's RNN rewriters want constants
        if any(r.op == "ResourceGather" and r.attr["batch_dims"].i != 0 for r in reads):
            continue
        chosen.append(name)
    return chosen


def _to_placeholder(graph_def: Any, holder: Any, var: Any, uses: tuple[list[Any], list[Any]]) -> None:
    """Turn the resource placeholder ``holder`` into a typed one and its reads (``uses``) into plain ops."""
    import tensorflow as tf

    dtype = var.dtype.as_datatype_enum
    holder.ClearField("attr")
    holder.attr["dtype"].type = dtype
    holder.attr["shape"].shape.CopyFrom(var.shape.as_proto())
    reads, identities = uses
    for node in identities:
        node.ClearField("attr")
        node.attr["T"].type = dtype
    for node in reads:
        if node.op == "ReadVariableOp":
            node.op = "Identity"
            node.ClearField("attr")
            node.attr["T"].type = dtype
        elif node.op == "ResourceGather":
            indices_type = node.attr["Tindices"].type
            axis = graph_def.node.add()
            axis.name = node.name + "/axis"
            axis.op = "Const"
            axis.attr["dtype"].type = indices_type
            axis.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(0, dtype=tf.as_dtype(indices_type)))
            node.op = "GatherV2"
            node.input.insert(2, axis.name)
            node.ClearField("attr")
            node.attr["Tparams"].type = dtype
            node.attr["Tindices"].type = indices_type
            node.attr["Taxis"].type = indices_type
