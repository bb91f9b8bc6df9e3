"""Where an error happened, in the user's terms: ONNX node, op and Keras layer, and what to do.

Every stage names what it knows when it raises, but the tools under it report failures by node
name only (ONNX Runtime's ``Node:'model/dense_1/MatMul'``, tf2onnx's ``Failed to convert node``,
a torch module mapped back to its ONNX node). :func:`complete` fills in the rest for any
:class:`~pipeline.errors.PipelineError` once it reaches the orchestrator: the node from the
message when no location was given, its op from the ONNX graph, its Keras layer from the node
name's scope (:func:`pipeline.layers.layer_of`), and a workaround for the stage when the error
brings none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import Location, PipelineError
from pipeline.layers import layer_of

if TYPE_CHECKING:
    from pipeline.conversion import Conversion

# how ONNX Runtime, tf2onnx and onnx name the node they failed on
_NODE_PATTERNS = (
    r"[Nn]ode \(([^)]+)\)",  # ORT: "Node (model/dense/MatMul) Op (MatMul) ..."
    r"Name:'([^']+)'",  # ORT: "... running Reshape node. Name:'model/flat/Reshape' Status Message: ..."
    r"node name: ([^\s,]+)",
    r"Node:([^\s,]+)",
    r"[Nn]ode '([^']+)'",  # tf2onnx: "Failed to convert node 'model/x/Op' (fct=...)"
)

WORKAROUNDS = {
    "export": (
        "tf2onnx cannot convert this layer: build it from standard Keras layers or keras.ops "
        "(docs/SUPPORT.md lists what converts), or export the model to ONNX yourself and convert "
        "the .onnx file"
    ),
    "import": (
        "no PyTorch converter covers this op at this opset: set another `opset:` in the config "
        "(13..18), or rebuild the layer from ops docs/SUPPORT.md lists"
    ),
    "onnxruntime": (
        "ONNX Runtime fails on this node: set another `opset:` in the config (13..18), or give the "
        "inputs shapes the model accepts (`inputs: {NAME: {shape: [...]}}`)"
    ),
    "torch_export": (
        "this node computes a shape from tensor values: give every dimension but the batch a fixed "
        "size in the config (`inputs: {NAME: {shape: [null, ...]}}`) so the shape arithmetic folds "
        "into constants"
    ),
}


def node_in_message(text: str) -> str | None:
    """The node a tool's error message names, or None."""
    for pattern in _NODE_PATTERNS:
        match = re.search(pattern, text)
        if match:
            return match.group(1)
    return None


def locate(node: str, models: Iterable[Any] = (), layers: Iterable[str] = ()) -> Location:
    """``node``'s location: its op from the first of ``models`` (ONNX graphs) that has it, its Keras layer."""
    from pipeline.onnx_utils import iter_nodes

    op = None
    for model in models:
        found = next((n for n in iter_nodes(model.graph) if n.name == node), None)
        if found is not None:
            op = found.op_type
            break
    return Location(node=node, op=op, layer=layer_of(node, list(layers)))


def complete(error: PipelineError, models: Iterable[Any] = (), layers: Iterable[str] = ()) -> PipelineError:
    """``error`` with every location's op and Keras layer filled in, and a workaround for its stage.

    A location keeps the layer it names; its op becomes the node's op type where the graph has the
    node (torch.export failures know only the torch module's class). An error without a location
    gets one when its message (or details) names a node.
    """
    layers, models = list(layers), list(models)
    if not error.locations:
        node = node_in_message(error.message) or node_in_message(error.details or "")
        if node:
            error.locations.append(locate(node, models, layers))
    for location in error.locations:
        if not location.node:
            continue
        found = locate(location.node, models, layers)
        if found.op:  # the graph's op type, also where the stage knew a torch module's class only
            location.op = found.op
        location.layer = location.layer or found.layer
    if error.hint is None and error.stage in WORKAROUNDS and error.locations:
        error.hint = WORKAROUNDS[error.stage]
    return error


def complete_for(conv: Conversion, error: PipelineError) -> PipelineError:
    """:func:`complete` with the conversion's Keras layers and its ONNX graphs (fixed, then as
    exported or given; weights not read)."""
    import onnx

    layers = conv.export.layers if conv.export is not None else []
    models = []
    for path in (conv.workspace.onnx_fixed, conv.workspace.onnx_raw):
        if Path(path).is_file():
            try:
                models.append(onnx.load(str(path), load_external_data=False))
            except Exception:  # a broken file is the error itself; locate by name only
                pass
    try:
        return complete(error, models, layers)
    except Exception:  # locating is a courtesy: never replace the error it describes
        return error
