"""Stage 2 (TensorFlow process): trace the loaded model and export it to ONNX with tf2onnx.

``tf2onnx.convert.from_function`` is used for every source (``from_keras`` breaks on Keras 3).
tf2onnx runs with ``continue_on_error`` and logs unsupported TF ops instead of raising; this stage
collects those log records and the leftover non-ONNX nodes, so one run names every op that failed,
with its Keras layer, instead of the first one.
"""

from __future__ import annotations

import logging
from typing import Any

import onnx

from pipeline.context import FixupRecord
from pipeline.errors import ExportError, Location, UnsupportedError
from pipeline.layers import layer_of
from pipeline.onnx_utils import iter_nodes
from pipeline.stages.load import LoadedModel

STAGE = "export"


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def export_onnx(loaded: LoadedModel, opset: int) -> tuple[onnx.ModelProto, list[FixupRecord]]:
    """Export ``loaded`` to an ONNX model whose inputs and outputs carry the model's own names.

    Also returns the trace fixups (:data:`pipeline.fixups.TRACE_FIXUPS`) that changed the traced
    function before tf2onnx saw it.
    """
    import tensorflow as tf
    import tf2onnx

    from custom_ops import attach_functions, tf2onnx_handlers
    from pipeline.fixups import TRACE_FIXUPS
    from pipeline.fixups.trace import Traced, run_trace_fixups

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
    concrete, trace_records = run_trace_fixups(function.get_concrete_function(), TRACE_FIXUPS)
    collector = _Collector()
    tf_logger = logging.getLogger("tf2onnx")
    tf_logger.addHandler(collector)
    handlers, extra_opsets = tf2onnx_handlers()
    try:
        model, _ = tf2onnx.convert.from_function(
            Traced(concrete),
            input_signature=signature,
            opset=opset,
            custom_op_handlers=handlers or None,
            extra_opset=extra_opsets or None,
        )
    except Exception as exc:
        raise ExportError(
            f"tf2onnx could not convert the model: {type(exc).__name__}: {_first_line(exc)}",
            stage=STAGE,
            details="\n".join(collector.messages[-20:]) or None,
        ) from None
    finally:
        tf_logger.removeHandler(collector)
    attach_functions(model)  # ONNX Runtime's reference for our custom-domain ops
    _check_all_converted(model, collector.messages, loaded.layers)
    _order_outputs(model, outputs)
    model.producer_name = "keras2torch-pipeline (tf2onnx " + tf2onnx.__version__ + ")"
    return model, trace_records


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
