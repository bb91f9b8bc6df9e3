"""Stage 2 (TensorFlow process): trace the loaded model and export it to ONNX with tf2onnx.

Every source is traced as a ``tf.function`` (tf2onnx's ``from_keras`` breaks on Keras 3) and
frozen here rather than by tf2onnx: small variables become constants as usual, but large ones
(:data:`WEIGHT_MIN_ELEMENTS` elements or more) become *graph inputs* named after the variable.
tf2onnx then converts a graph that holds no large tensor, which keeps its memory and time
independent of the weights (with constants, its optimizer re-serialises every tensor in each
pass: one Dense(25088 -> 4096) layer of 411 MB took 20.7 GB and 142 s). :func:`pipeline.weight_folding.attach`
then streams the variables into initializers (external data above ``external_data_mb``), folding
the kernel transposes and BatchNorm scales tf2onnx could not fold itself.

tf2onnx runs with ``continue_on_error`` and logs unsupported TF ops instead of raising; this stage
collects those log records and the leftover non-ONNX nodes, so one run names every op that failed,
with its Keras layer, instead of the first one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from pipeline import external_data, weight_folding
from pipeline.context import FixupRecord
from pipeline.errors import ExportError, Location, UnsupportedError
from pipeline.helpers import first_line
from pipeline.layers import layer_of
from pipeline.onnx_utils import iter_nodes, save, unique_name
from pipeline.stages.load import LoadedModel

STAGE = "export"
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


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Exported:
    """The exported model (graph only when its weights are external) and where its weights went."""

    model: onnx.ModelProto
    weight_bytes: int
    data_files: list[str] = field(default_factory=list)
    weights_outside_graph: int = 0  # variables passed to tf2onnx as inputs instead of constants
    changes: list[str] = field(default_factory=list)
    trace_fixups: list[FixupRecord] = field(default_factory=list)  # what changed the traced function


def export_onnx(loaded: LoadedModel, opset: int, path: Path, *, external_data_mb: float = 256.0) -> Exported:
    """Export ``loaded`` to ``path``: an ONNX model whose inputs and outputs carry the model's own names.

    Weights go to ``<path>.data`` (external data, next to the model) when they add up to more than
    ``external_data_mb``; 0 always does that, a negative value only past protobuf's 2 GB limit.
    The trace fixups (:data:`pipeline.fixups.TRACE_FIXUPS`) rewrite the traced function first.
    """
    import tensorflow as tf
    import tf2onnx

    from custom_ops import attach_functions, tf2onnx_handlers
    from custom_ops.lookup_table import annotate_tables
    from pipeline.fixups import TRACE_FIXUPS, run_fixups
    from pipeline.fixups.trace import KIND, STAGE
    from pipeline.stages.random_layers import refusal

    refused = refusal(loaded.keras_model, "export", loaded.function) if loaded.keras_model is not None else None
    if refused is not None:  # random draws: tf2onnx fails on the seed state, and no runtime could agree
        raise refused

    signature = [
        tf.TensorSpec(
            [None if axis == s.batch_axis else d for axis, d in enumerate(s.shape)],
            tf.as_dtype(s.dtype),
            name=s.name,
        )
        for s in loaded.inputs
    ]
    outputs = loaded.outputs

    def named(*args: Any) -> dict[str, Any]:
        # a dict result makes tf2onnx name the ONNX outputs after its keys
        return dict(zip(outputs, loaded.function(*args), strict=True))

    function = tf.function(named, input_signature=signature, autograph=False)
    concrete, trace_records = run_fixups(function.get_concrete_function(), TRACE_FIXUPS, kind=KIND, stage=STAGE)
    collector = _Collector()
    tf_logger = logging.getLogger("tf2onnx")
    tf_logger.addHandler(collector)
    handlers, extra_opsets = tf2onnx_handlers()
    try:
        frozen = freeze(concrete, WEIGHT_MIN_ELEMENTS)
        annotate_tables(frozen.graph_def, concrete)  # lookup tables' contents, for their tf2onnx handler
        model = _convert(frozen, concrete.name, opset, dict(handlers.items()), extra_opsets)
    except Exception as exc:
        raise ExportError(
            f"tf2onnx could not convert the model: {type(exc).__name__}: {first_line(exc)}",
            stage=STAGE,
            details="\n".join(collector.messages[-20:]) or None,
        ) from None
    finally:
        tf_logger.removeHandler(collector)
    attach_functions(model)  # ONNX Runtime's reference for our custom-domain ops
    _check_all_converted(model, collector.messages, loaded.layers)
    _order_outputs(model, outputs)
    model.producer_name = "keras2torch-pipeline (tf2onnx " + tf2onnx.__version__ + ")"
    exported = _write(model, frozen, Path(path), external_data_mb)
    exported.trace_fixups = trace_records
    return exported


def _write(model: onnx.ModelProto, frozen: Frozen, path: Path, external_data_mb: float) -> Exported:
    """Stream the variables into initializers (folding weight-only nodes) and save the model."""
    loaders = {frozen.rename[name]: (lambda v=var: _variable_array(v)) for name, var in frozen.weights.items()}
    total = external_data.weight_bytes(model) + sum(frozen.sizes.values())
    external = (external_data_mb >= 0 and total > external_data_mb * 1e6) or total > external_data.PROTO_LIMIT // 2
    data_path = path.with_name(path.name + ".data")
    if external:
        with external_data.DataWriter(data_path) as writer:
            result = weight_folding.attach(model, loaders, writer)
            external_data.externalize_large(model, writer)
    else:
        result = weight_folding.attach(model, loaders, None)
        data_path.unlink(missing_ok=True)
    save(model, path)
    changes = list(result.changes)
    if frozen.weights:
        changes.insert(0, f"{len(frozen.weights)} variable(s) kept out of tf2onnx's graph and attached by name")
    return Exported(
        model=model,
        weight_bytes=external_data.weight_bytes(model),
        data_files=external_data.data_files(model),
        weights_outside_graph=len(frozen.weights),
        changes=changes,
    )


def _variable_array(var: Any) -> Any:
    """A variable's value as numpy, sharing the tensor's buffer where TensorFlow allows it.

    ``Variable.numpy()`` copies; the value tensor's ``_numpy()`` is a read-only view of it, which
    is all writing it to a file needs (one transient copy of each weight less).
    """
    value = var.value()
    view = getattr(value, "_numpy", None)
    return view() if view is not None else value.numpy()


def _convert(frozen: Frozen, name: str, opset: int, handlers: dict[str, Any], extra_opsets: list[Any]) -> Any:
    """tf2onnx on the frozen graph: grappler, then ``_convert_common``, as ``from_graph_def`` does.

    The steps are spelled out for one reason: grappler allocates a zero-filled tensor for every
    placeholder of fully known shape (a fake feed), which for the weight placeholders is the
    weights over again. Their shapes are hidden from grappler and restored for the conversion.
    """
    import tensorflow as tf
    from tf2onnx import tf_loader
    from tf2onnx.convert import _convert_common

    holders = {name.split(":")[0] for name in frozen.weights}
    shapes = {}
    for node in frozen.graph_def.node:
        if node.name in holders:
            shapes[node.name] = node.attr["shape"].shape.SerializeToString()
            node.attr["shape"].shape.Clear()
            node.attr["shape"].shape.unknown_rank = True
    with tf.device("/cpu:0"):
        with tf.Graph().as_default():
            graph_def = tf_loader.tf_optimize(frozen.inputs + list(frozen.weights), frozen.outputs, frozen.graph_def)
        for node in graph_def.node:
            if node.name in shapes:
                node.attr["shape"].shape.ParseFromString(shapes[node.name])
        model, _ = _convert_common(
            graph_def,
            name=name,
            continue_on_error=True,
            opset=opset,
            custom_op_handlers=handlers or None,
            extra_opset=extra_opsets or None,
            input_names=frozen.inputs + list(frozen.weights),
            output_names=frozen.outputs,
            tensors_to_rename=frozen.rename,
        )
    return model


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


def _check_all_converted(model: onnx.ModelProto, log: list[str], layers: list[str]) -> None:
    """Raise :class:`UnsupportedError` naming every TF op tf2onnx left unconverted."""
    known_domains = {"", "ai.onnx", "ai.onnx.ml", "com.microsoft"} | {o.domain for o in model.opset_import}
    bad = []
    for node in iter_nodes(model.graph):
        is_schema = onnx.defs.has(node.op_type, node.domain) if node.domain in ("", "ai.onnx") else True
        if node.domain not in known_domains or not is_schema:
            bad.append(Location(node=node.name, op=node.op_type, layer=layer_of(node.name, layers)))
    failed = _failed_nodes(log)  # tf2onnx leaves a node half-converted when its handler raises
    if failed and not bad:
        raise ExportError(
            f"tf2onnx failed to convert {len(failed)} node(s): {', '.join(sorted(set(failed.values())))}",
            stage=STAGE,
            locations=[Location(node=n, op=op, layer=layer_of(n, layers)) for n, op in failed.items()],
            details="\n".join(m for m in log if m.startswith("Failed to convert node"))[-4000:] or None,
        )
    if bad:
        unique_ops = sorted({loc.op or "" for loc in bad})
        raise UnsupportedError(
            f"{len(bad)} TensorFlow op(s) have no ONNX conversion: {', '.join(unique_ops)}",
            stage=STAGE,
            locations=bad,
            hint="register a TF→ONNX handler for the op in custom_ops/ (see docs/SUPPORT.md)",
            details="\n".join(m for m in log if "not supported" in m or "Unsupported" in m) or None,
        )


def _failed_nodes(log: list[str]) -> dict[str, str]:
    """Node name -> TF-side handler, for every "Failed to convert node" record tf2onnx logged."""
    import re

    failed = {}
    for message in log:
        match = re.match(r"Failed to convert node '([^']+)'", message)
        if match:
            handler = re.search(r"fct=<(?:bound method|function) ([\w.<>]+)", message)
            failed[match.group(1)] = handler.group(1).split(".")[0].removesuffix("Op") if handler else "?"
    return failed


def _order_outputs(model: onnx.ModelProto, names: list[str]) -> None:
    """tf2onnx orders dict outputs by key; restore the model's own output order."""
    by_name = {o.name: o for o in model.graph.output}
    if set(by_name) != set(names):
        return
    ordered = [by_name[n] for n in names]
    copies = [onnx.ValueInfoProto() for _ in ordered]
    for dst, src in zip(copies, ordered, strict=True):
        dst.CopyFrom(src)
    del model.graph.output[:]
    model.graph.output.extend(copies)
