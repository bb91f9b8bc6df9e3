"""Name every TensorFlow op tf2onnx left unconverted, with its Keras layer, in one error.

tf2onnx runs with ``continue_on_error``: an op without a handler stays a non-ONNX node, and a
handler that raises is only logged ("Failed to convert node ..."). Both are collected here so one
run names every op that failed instead of the first one.
"""

from __future__ import annotations

import onnx

from pipeline.errors import ExportError, Location, UnsupportedError
from pipeline.layers import layer_of
from pipeline.locate import WORKAROUNDS
from pipeline.onnx_utils import iter_nodes

STAGE = "export"


def check_all_converted(model: onnx.ModelProto, log: list[str], layers: list[str]) -> None:
    """Raise :class:`UnsupportedError` naming every TF op tf2onnx left unconverted."""
    known_domains = {"", "ai.onnx", "ai.onnx.ml", "com.microsoft"} | {o.domain for o in model.opset_import}
    bad = []
    for node in iter_nodes(model.graph):
        is_schema = onnx.defs.has(node.op_type, node.domain) if node.domain in ("", "ai.onnx") else True
        if node.domain not in known_domains or not is_schema:
            bad.append(Location(node=node.name, op=node.op_type, layer=layer_of(node.name, layers)))
    failed = failed_nodes(log)  # tf2onnx leaves a node half-converted when its handler raises
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
            hint=WORKAROUNDS[STAGE],
            details="\n".join(m for m in log if "not supported" in m or "Unsupported" in m) or None,
        )


def failed_nodes(log: list[str]) -> dict[str, str]:
    """Node name -> TF-side handler, for every "Failed to convert node" record tf2onnx logged."""
    import re

    failed = {}
    for message in log:
        match = re.match(r"Failed to convert node '([^']+)'", message)
        if match:
            handler = re.search(r"fct=<(?:bound method|function) ([\w.<>]+)", message)
            failed[match.group(1)] = handler.group(1).split(".")[0].removesuffix("Op") if handler else "?"
    return failed
