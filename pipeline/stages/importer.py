"""Stage 4 (torch process): build a ``torch.fx.GraphModule`` from the fixed ONNX graph.

Converters come from ``custom_ops`` first (ours: export-friendly, newer opsets, ops onnx2torch
lacks, fixes for ones it gets wrong) and then from onnx2torch's registry, both keyed by
``(domain, op_type, since_version)``. Unlike ``onnx2torch.convert`` this builder

* looks up every node's converter before building anything, so one run names *every* op it
  cannot convert (node, op, opset, Keras layer);
* keeps float initializers as trainable parameters with readable names;
* records which fx node produces each ONNX tensor, for capturing intermediates;
* reads weights from the model's external data file one tensor at a time, when a converter
  asks for them (the graph proto never holds them), and infers shapes on the graph alone.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import getitem
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import onnx
from onnx import defs
from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription
from onnx2torch.onnx_graph import OnnxGraph, ValueType
from onnx2torch.onnx_tensor import OnnxTensor
from onnx2torch.utils.common import OperationConverterResult
from torch import fx, nn

from pipeline import external_data
from pipeline.errors import Location, UnsupportedError
from pipeline.layers import layer_of
from pipeline.locate import WORKAROUNDS
from pipeline.onnx_utils import infer_shapes, unique_name

STAGE = "import"
Converter = Callable[[Any, OnnxGraph], OperationConverterResult]


class ConverterUse(NamedTuple):
    """Which converter built a node: the op's schema key and the registry it came from."""

    domain: str
    op_type: str
    version: int  # the schema's since_version, the key converters are registered under
    source: str  # "custom_ops" or "onnx2torch"


@dataclass
class ImportResult:
    """The imported module and where each ONNX tensor lives in it."""

    module: fx.GraphModule
    tensor_nodes: dict[str, str] = field(default_factory=dict)  # ONNX tensor -> fx node name
    node_modules: dict[str, str] = field(default_factory=dict)  # ONNX node name -> torch submodule name
    converters: dict[str, ConverterUse] = field(default_factory=dict)  # ONNX node (unique name) -> whose converter


class _StoredTensor(OnnxTensor):
    """An initializer whose data stays in the external data file until a converter reads it."""

    def __init__(self, proto: onnx.TensorProto, model_dir: Path | None) -> None:
        super().__init__(proto)
        self._model_dir = model_dir

    def to_numpy(self) -> np.ndarray:
        return external_data.read(self._proto, self._model_dir)


class _Initializers(nn.Module):
    """Holds ONNX initializers: float tensors as parameters, the rest as buffers."""

    def forward(self, *args: Any, **kwargs: Any) -> None:  # pragma: no cover - never called
        raise RuntimeError("initializer container is not callable")


def since_version(domain: str, op_type: str, opset: int) -> int:
    """The ``since_version`` of the schema an op resolves to at ``opset`` (or ``opset`` if unknown)."""
    try:
        return defs.get_schema(op_type, max_inclusive_version=opset, domain=domain).since_version
    except Exception:
        return opset


def find_converter(domain: str, op_type: str, opset: int) -> tuple[Converter | None, str]:
    """Our converter for the op, else onnx2torch's; also says which registry answered."""
    from custom_ops import torch_converters

    version = since_version(domain, op_type, opset)
    ours = torch_converters().get((domain, op_type, version))
    if ours is not None:
        return ours, "custom_ops"
    theirs = _CONVERTER_REGISTRY.get(OperationDescription(domain=domain, operation_type=op_type, version=version))
    if theirs is not None:
        return theirs, "onnx2torch"
    return None, ""


def _safe_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"\W", "_", name).strip("_") or "tensor"
    if base[0].isdigit():
        base = "t_" + base
    return unique_name(base, taken)


def unsupported_nodes(model: onnx.ModelProto, layers: list[str] | None = None) -> list[Location]:
    """Every node that has no converter, with its location."""
    opsets = {entry.domain or "": entry.version for entry in model.opset_import}
    missing = []
    for node in model.graph.node:
        domain = "" if node.domain == "ai.onnx" else node.domain
        opset = opsets.get(domain, opsets.get("", 0))
        converter, _ = find_converter(domain, node.op_type, opset)
        if converter is None:
            missing.append(
                Location(
                    node=node.name,
                    op=node.op_type,
                    opset=since_version(domain, node.op_type, opset),
                    layer=layer_of(node.name, layers or []),
                )
            )
    return missing


def import_model(
    model: onnx.ModelProto, layers: list[str] | None = None, *, model_dir: str | Path | None = None
) -> ImportResult:
    """Convert ``model`` (already fixed up) into an fx GraphModule.

    ``model_dir`` is the folder of the model file, where its external data (if any) lives.
    """
    missing = unsupported_nodes(model, layers)
    if missing:
        ops = sorted({f"{loc.op}-{loc.opset}" for loc in missing})
        raise UnsupportedError(
            f"{len(missing)} ONNX node(s) have no PyTorch converter: {', '.join(ops)}",
            stage=STAGE,
            locations=missing,
            hint=WORKAROUNDS[STAGE],
        )

    work = onnx.ModelProto()
    work.CopyFrom(model)  # the graph (weights too when inline; large models keep them external)
    model = work
    known = {v.name for v in model.graph.value_info}
    # converters read input ranks/shapes from value_info; inferred without the weights
    model.graph.value_info.extend(v for v in infer_shapes(model).graph.value_info if v.name not in known)
    opsets = {entry.domain or "": entry.version for entry in model.opset_import}
    initializer_names = {i.name for i in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in initializer_names]
    del model.graph.input[:]
    model.graph.input.extend(graph_inputs)
    onnx_graph = OnnxGraph(model.graph)
    onnx_graph.opsets = opsets  # type: ignore[attr-defined]  # for control-flow converters' subgraphs
    onnx_graph.import_model = import_model  # type: ignore[attr-defined]  # and the importer they go through
    base_dir = Path(model_dir) if model_dir is not None else None
    for tensor in model.graph.initializer:
        if external_data.is_external(tensor):
            onnx_graph._initializers[tensor.name] = _StoredTensor(tensor, base_dir)

    fx_graph = fx.Graph()
    root = nn.Module()
    initializers = _Initializers()
    root.add_module("initializers", initializers)
    taken: set[str] = set()
    fx_nodes: dict[str, fx.Node] = {}  # ONNX tensor name -> fx node producing it
    init_nodes: dict[str, fx.Node] = {}
    result = ImportResult(module=None)  # type: ignore[arg-type]

    for value_name in onnx_graph.input_values:
        fx_nodes[value_name] = fx_graph.placeholder(_safe_name(value_name, taken))

    module_names: set[str] = set()
    for node_key, onnx_node in onnx_graph.nodes.items():
        domain = onnx_node.domain if onnx_node.domain != "ai.onnx" else ""
        opset = opsets.get(domain, opsets.get("", 0))
        converter, source = find_converter(domain, onnx_node.operation_type, opset)
        assert converter is not None
        location = Location(
            node=onnx_node.name,
            op=onnx_node.operation_type,
            opset=since_version(domain, onnx_node.operation_type, opset),
            layer=layer_of(onnx_node.name, layers or []),
        )
        result.converters[node_key] = ConverterUse(domain, location.op or "", location.opset or opset, source)
        try:
            converted = converter(onnx_node, onnx_graph)
        except NotImplementedError as exc:
            raise UnsupportedError(f"cannot convert this node: {exc}", stage=STAGE, location=location) from None
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise UnsupportedError(
                f"converter failed: {type(exc).__name__}: {exc}", stage=STAGE, location=location
            ) from None
        module_name = _safe_name(node_key, module_names)
        root.add_module(module_name, converted.torch_module)
        result.node_modules[onnx_node.name] = module_name

        args: list[Any] = []
        for value_name in converted.onnx_mapping.inputs:
            kind = onnx_graph.value_type(value_name)
            if kind in (ValueType.GRAPH_INPUT, ValueType.NODE_OUTPUT):
                args.append(fx_nodes[value_name])
            elif kind == ValueType.GRAPH_INITIALIZER:
                if value_name not in init_nodes:
                    attr = _safe_name(value_name, taken)
                    tensor = onnx_graph.initializers[value_name].to_torch()
                    if tensor.is_floating_point():
                        initializers.register_parameter(attr, nn.Parameter(tensor, requires_grad=True))
                    else:
                        initializers.register_buffer(attr, tensor)
                    init_nodes[value_name] = fx_graph.get_attr(f"initializers.{attr}")
                args.append(init_nodes[value_name])
            elif kind == ValueType.EMPTY:
                args.append(None)
            else:
                raise UnsupportedError(
                    f"input tensor '{value_name}' is produced by nothing", stage=STAGE, location=location
                )

        kwargs: dict[str, Any] = {}
        if None in args:
            first = args.index(None)
            names = tuple(inspect.signature(converted.torch_module.forward).parameters)[first : len(args)]
            args, rest = args[:first], args[first:]
            kwargs = {n: v for n, v in zip(names, rest, strict=False) if v is not None}

        call = fx_graph.call_module(module_name, args=tuple(args), kwargs=kwargs)
        outputs = converted.onnx_mapping.outputs
        if len(outputs) == 1:
            fx_nodes[outputs[0]] = call
        else:
            for index, out_name in enumerate(outputs):
                if out_name:
                    fx_nodes[out_name] = fx_graph.call_function(getitem, args=(call, index))

    out_nodes = [fx_nodes[name] for name in onnx_graph.output_values]
    fx_graph.output(out_nodes[0] if len(out_nodes) == 1 else tuple(out_nodes))
    fx_graph.lint()
    module = fx.GraphModule(root, fx_graph)
    module.eval()
    result.module = module
    result.tensor_nodes = {tensor: node.name for tensor, node in fx_nodes.items()}
    return result


def capture(module: fx.GraphModule, tensor_nodes: dict[str, str], wanted: list[str]) -> fx.GraphModule:
    """A copy of ``module`` that also returns the ONNX tensors ``wanted`` (after its own outputs)."""
    graph = copy.deepcopy(module.graph)
    by_name = {node.name: node for node in graph.nodes}
    output = next(node for node in graph.nodes if node.op == "output")
    existing = output.args[0]
    existing = list(existing) if isinstance(existing, tuple | list) else [existing]
    output.args = (tuple(existing + [by_name[tensor_nodes[t]] for t in wanted]),)
    return fx.GraphModule(module, graph)
