"""Stage 2 (TensorFlow process): trace the loaded model and export it to ONNX with tf2onnx.

Every source is traced as a ``tf.function`` (tf2onnx's ``from_keras`` breaks on Keras 3) and
frozen here rather than by tf2onnx (:mod:`pipeline.stages.freezing`): small variables become
constants as usual, but large ones (:data:`WEIGHT_MIN_ELEMENTS` elements or more) become *graph
inputs* named after the variable. tf2onnx then converts a graph that holds no large tensor, which
keeps its memory and time independent of the weights (with constants, its optimizer re-serialises
every tensor in each pass: one Dense(25088 -> 4096) layer of 411 MB took 20.7 GB and 142 s).
:func:`pipeline.weight_folding.attach` then streams the variables into initializers (external data
above ``external_data_mb``), folding the kernel transposes and BatchNorm scales tf2onnx could not
fold itself.

tf2onnx runs with ``continue_on_error`` and logs unsupported TF ops instead of raising; this stage
collects those log records and :mod:`pipeline.stages.unconverted` names every op that failed (log
records and leftover non-ONNX nodes), with its Keras layer, in one error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from pipeline import external_data, weight_folding
from pipeline.context import FixupRecord
from pipeline.errors import ExportError
from pipeline.helpers import first_line
from pipeline.locate import WORKAROUNDS, locate, node_in_message
from pipeline.onnx_utils import save
from pipeline.stages.freezing import WEIGHT_MIN_ELEMENTS, Frozen, freeze
from pipeline.stages.load import LoadedModel
from pipeline.stages.unconverted import check_all_converted

STAGE = "export"


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
        log = "\n".join(collector.messages[-20:])
        node = node_in_message(str(exc)) or node_in_message(log)
        raise ExportError(
            f"tf2onnx could not convert the model: {type(exc).__name__}: {first_line(exc)}",
            stage=STAGE,
            location=locate(node, layers=loaded.layers) if node else None,
            hint=WORKAROUNDS[STAGE],
            details=log or None,
        ) from None
    finally:
        tf_logger.removeHandler(collector)
    attach_functions(model)  # ONNX Runtime's reference for our custom-domain ops
    check_all_converted(model, collector.messages, loaded.layers)
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
