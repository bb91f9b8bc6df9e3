"""Small ONNX helpers shared by the stages (no TensorFlow, no torch)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
from onnx import helper

from pipeline import external_data
from pipeline.context import TensorSpec
from pipeline.errors import NotAModelError

# Highest IR version onnxruntime 1.31 loads; onnx 1.23's helpers write 14.
MAX_ORT_IR_VERSION = 13


def load(path: str | Path, stage: str = "load") -> onnx.ModelProto:
    """Read an ONNX file's graph, turning protobuf errors into :class:`NotAModelError`.

    External data stays on disk: such initializers keep their file references, and
    :func:`pipeline.external_data.read` reads one when it is needed (relative to ``path``'s folder).
    """
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # google.protobuf.message.DecodeError and friends
        raise NotAModelError(f"{path} is not a valid ONNX model: {exc}", stage=stage) from None


def save(model: onnx.ModelProto, path: str | Path) -> None:
    """Write ``model`` to ``path``; never past protobuf's 2 GB limit.

    Initializers already in external data keep their references (the data files must sit in
    ``path``'s folder). When the model uses external data already, or its inline tensors would
    take it past the limit, inline tensors of 1 KB or more are moved to ``<path>.data``.
    """
    path = Path(path)
    inline = sum(external_data.nbytes(t) for t in model.graph.initializer if not external_data.is_external(t))
    has_external = any(True for _ in external_data.external_tensors(model))
    large_inline = any(
        not external_data.is_external(t) and external_data.nbytes(t) >= external_data.MIN_EXTERNAL_BYTES
        for t in model.graph.initializer
    )
    if (has_external and large_inline) or inline > external_data.PROTO_LIMIT // 2:
        data = path.with_name(path.name + ".data")
        if data.name in external_data.data_files(model):
            raise ValueError(f"{data} is already referenced by the model; save to another path")
        with external_data.DataWriter(data) as writer:
            external_data.externalize_large(model, writer)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(model.SerializeToString())
    tmp.replace(path)


def copy_model(model: onnx.ModelProto, source_dir: Path, path: Path, external_data_mb: float) -> None:
    """Write ``model`` (its external data under ``source_dir``) to ``path``, weights next to it.

    Weights go to ``<path>.data`` when they add up to more than ``external_data_mb`` MB or the
    source already kept them outside; they are copied one tensor at a time.
    """
    path = Path(path)
    total = external_data.weight_bytes(model)
    external = any(True for _ in external_data.external_tensors(model)) or total > external_data.PROTO_LIMIT // 2
    external = external or (external_data_mb >= 0 and total > external_data_mb * 1e6)
    if external:
        with external_data.DataWriter(path.with_name(path.name + ".data")) as writer:
            external_data.relocate(model, Path(source_dir), writer)
    else:
        external_data.relocate(model, Path(source_dir), None)
    save(model, path)


def iter_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Every node, subgraphs (If/Loop/Scan bodies) included."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from iter_nodes(attr.g)
            for sub in attr.graphs:
                yield from iter_nodes(sub)


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``... whichever ``taken`` lacks; the result is added to it."""
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def subgraph_inputs(node: onnx.NodeProto) -> set[str]:
    """Every name read inside ``node``'s subgraphs (If branches, Loop bodies), at any depth."""
    names: set[str] = set()
    for attr in node.attribute:
        if attr.type not in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            continue
        for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
            for inner in sub.node:
                names.update(inner.input)
                names |= subgraph_inputs(inner)
    return names


def opset_of(model: onnx.ModelProto, domain: str = "") -> int:
    for entry in model.opset_import:
        if entry.domain in (domain, "ai.onnx" if domain == "" else domain):
            return entry.version
    return 0


def graph_input_specs(model: onnx.ModelProto) -> list[TensorSpec]:
    """Input specs read from an ONNX graph (for ``.onnx`` sources); a symbolic first dim is the batch."""
    initializers = {i.name for i in model.graph.initializer}
    specs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        dims: list[int | None] = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name
        integer = dtype.startswith(("int", "uint"))
        specs.append(
            TensorSpec(
                name=value.name,
                shape=dims,
                dtype=dtype,
                low=0.0 if integer else -1.0,
                high=10.0 if integer else 1.0,
                range_reason="default for integer inputs" if integer else "default for float inputs",
                batch_axis=0 if dims and dims[0] is None else None,
            )
        )
    return specs


def output_names(model: onnx.ModelProto) -> list[str]:
    return [o.name for o in model.graph.output]


def producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    """Tensor name -> the node that produces it (top-level graph)."""
    return {out: node for node in graph.node for out in node.output if out}


SMALL_INITIALIZER = 4096  # elements; larger initializers are passed to shape inference by type only


def infer_shapes(model: onnx.ModelProto, symbolic: bool = False) -> onnx.ModelProto:
    """ONNX shape inference on a light copy: large initializers become typed graph inputs.

    The result is for reading ``value_info``; it never holds the weights, so this is cheap for
    models of any size (``onnx.shape_inference`` alone refuses protos over 2 GB). With
    ``symbolic``, ONNX Runtime's symbolic shape inference runs first: it carries a symbolic
    dimension through Reshape/Transpose chains (the batch stays ``batch`` after ``Reshape(x,
    [-1, ...])``), where ONNX's own inference invents a new unknown; when it cannot handle the
    graph, ONNX's inference is used.
    """
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    graph = light.graph
    graph.name = model.graph.name
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    existing_inputs = {i.name for i in model.graph.input}
    for init in model.graph.initializer:
        numel = 1
        for d in init.dims:
            numel *= d
        if numel <= SMALL_INITIALIZER and init.data_location != onnx.TensorProto.EXTERNAL:
            graph.initializer.append(init)
        elif init.name not in existing_inputs:
            graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    if symbolic:
        inferred = _symbolic_shapes(light)
        if inferred is not None:
            return inferred
    try:
        return onnx.shape_inference.infer_shapes(light, strict_mode=False, data_prop=True)
    except Exception:
        return light


def _symbolic_shapes(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """ONNX Runtime's symbolic shape inference, keeping what it inferred when it cannot finish.

    Its ``infer_shapes`` entry point raises on a partial result and first writes a debug model
    into the working directory; the steps are driven here instead (they have been stable across
    onnxruntime releases). Returns None if the tool fails outright.
    """
    try:
        tool: Any = symbolic_shape_tool()
        inference = tool.SymbolicShapeInference(2**31 - 1, True, False, 0)  # int_max, auto_merge, guess_rank, verbose
        inference._preprocess(model)
        while inference.run_:
            inference._infer_impl()
        inference._update_output_from_vi()
        return inference.out_mp_
    except Exception:  # unknown ops (custom domains), ops it does not cover
        return None


def symbolic_shape_tool() -> object:
    """``onnxruntime.tools.symbolic_shape_infer``, loaded from its file.

    Importing it as a module of ``onnxruntime.tools`` runs that package's ``__init__``, which imports
    torch (``pytorch_export_helpers``): 1.7 s and 0.5 GB in a process that never runs torch.
    """
    import importlib.util
    import sys

    name = "keras2torch_symbolic_shape_infer"
    if name not in sys.modules:
        package = importlib.util.find_spec("onnxruntime")
        assert package is not None and package.origin is not None
        path = Path(package.origin).parent / "tools" / "symbolic_shape_infer.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]
