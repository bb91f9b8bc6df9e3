"""The custom-op contract: one op, both sides of ONNX, in one file.

A :class:`CustomOp` may carry

* ``tf`` handlers: tf2onnx ``custom_op_handlers`` for TensorFlow ops tf2onnx cannot convert;
* ``torch`` converters: ONNX -> torch converters with onnx2torch's contract
  (``fn(node, graph) -> OperationConverterResult``), keyed by ``(domain, op_type, since_version)``;
  they take precedence over onnx2torch's own, which is how a wrong or export-hostile converter is
  replaced;
* ``onnx_function``: a reference ONNX Runtime can execute (an ONNX function in a custom domain
  written with standard ops), so the three-way validator still covers an op that only exists
  for the pipeline. It is called with the model's default-domain opset, which a function's
  own opset import must match.

Its docstring (first line: what it handles; second line: which tool's quirk makes it needed) feeds
the generated support table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.registry import Doc

# Domain of ops that exist only between our TF handlers and our torch converters.
DOMAIN = "ai.keras2torch"
DOMAIN_VERSION = 1


@dataclass(frozen=True)
class TorchConverter:
    """ONNX -> torch converter for one op type and the ``since_version`` values it covers."""

    op_type: str
    versions: tuple[int, ...]
    fn: Callable[..., Any]
    domain: str = ""


@dataclass(frozen=True)
class TfHandler:
    """tf2onnx handler for TensorFlow op types: ``fn(ctx, node, name, args)``, as tf2onnx expects."""

    tf_ops: tuple[str, ...]
    fn: Callable[..., Any]


@dataclass(frozen=True)
class CustomOp:
    """One op's handlers on both sides of ONNX; see the module docstring."""

    name: str
    doc: Doc
    torch: tuple[TorchConverter, ...] = ()
    tf: tuple[TfHandler, ...] = ()
    onnx_function: Callable[[int], Any] | None = None  # (model opset) -> onnx.FunctionProto

    @classmethod
    def define(cls, documented: Callable[..., Any] | type, **parts: Any) -> CustomOp:
        """Build an op whose documentation is ``documented``'s docstring (usually the module's main class)."""
        return cls(name=parts.pop("name"), doc=Doc.of(documented), **parts)


def constant_input(node: Any, graph: Any, index: int) -> np.ndarray | None:
    """The value of ``node``'s input ``index`` when it is an initializer or a Constant output, else None."""
    names = node.input_values
    if index >= len(names) or not names[index]:
        return None
    name = names[index]
    if name in graph.initializers:
        return graph.initializers[name].to_numpy()
    try:
        producer, _ = graph.value_as_node_output(name)
    except KeyError:
        return None
    if producer.operation_type == "Constant":
        from onnx import numpy_helper

        for attr in producer.proto.attribute:
            if attr.name == "value":
                return numpy_helper.to_array(attr.t)
            if attr.name == "value_ints":
                return np.array(list(attr.ints), dtype=np.int64)
            if attr.name == "value_int":
                return np.array(attr.i, dtype=np.int64)
            if attr.name == "value_floats":
                return np.array(list(attr.floats), dtype=np.float32)
            if attr.name == "value_float":
                return np.array(attr.f, dtype=np.float32)
    return None


def mapping(node: Any, inputs: tuple[int, ...] | None = None) -> Any:
    """onnx2torch's OnnxMapping for ``node``, keeping only the input positions in ``inputs``."""
    from onnx2torch.utils.common import OnnxMapping

    names = node.input_values
    kept = names if inputs is None else tuple(names[i] for i in inputs if i < len(names))
    return OnnxMapping(inputs=tuple(kept), outputs=node.output_values)
