"""Helpers shared by the ONNX -> torch converters: attributes, static input facts, dtypes.

Converters read what is known at conversion time (constant inputs, ranks and dtypes from shape
inference) and bake it into their modules as Python values, so torch.export never has to read a
tensor's data; when an input is computed at run time they fall back to reading it in ``forward``
(eager only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np
import torch
from onnx import helper, numpy_helper

from custom_ops.base import TorchConverter, constant_input, mapping


def attributes(node: Any) -> dict[str, Any]:
    """The node's attributes as plain Python values (strings decoded, tensors as numpy arrays)."""
    out: dict[str, Any] = {}
    for attr in node.proto.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode() for v in value]
        elif hasattr(value, "data_type") and hasattr(value, "dims"):
            value = numpy_helper.to_array(value)
        out[attr.name] = value
    return out


def present(node: Any, index: int) -> bool:
    """Whether the node's input ``index`` is given (not missing, not the empty name)."""
    names = node.input_values
    return index < len(names) and bool(names[index])


def optional_inputs(
    node: Any, graph: Any, names: dict[int, str]
) -> tuple[dict[str, np.ndarray], tuple[int, ...], tuple[str, ...]]:
    """Split the optional inputs ``names`` (position -> name) into constants and run-time inputs.

    Returns ``(constants by name, input positions the module takes, names of the run-time ones)``:
    position 0 is always taken; an absent input appears in neither.
    """
    constants: dict[str, np.ndarray] = {}
    keep, fed = [0], []
    for index, name in names.items():
        if not present(node, index):
            continue
        value = constant_input(node, graph, index)
        if value is None:
            keep.append(index)
            fed.append(name)
        else:
            constants[name] = value
    return constants, tuple(keep), tuple(fed)


def const_ints(node: Any, graph: Any, index: int) -> list[int] | None:
    """A constant integer input as a list (None when absent or computed at run time)."""
    value = constant_input(node, graph, index)
    return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def const_floats(node: Any, graph: Any, index: int) -> list[float] | None:
    """A constant float input as a list (None when absent or computed at run time)."""
    value = constant_input(node, graph, index)
    return None if value is None else [float(v) for v in np.asarray(value).reshape(-1)]


def _tensor_type(node: Any, graph: Any, name: str) -> Any:
    info = graph.value_info.get(name)
    if info is None or not info.type.HasField("tensor_type"):
        return None
    return info.type.tensor_type


def input_shape(node: Any, graph: Any, index: int = 0) -> list[int | None] | None:
    """The static shape of an input (None per unknown dim), or None when the rank is unknown."""
    if not present(node, index):
        return None
    name = node.input_values[index]
    if name in graph.initializers:
        return list(graph.initializers[name].to_numpy().shape)
    tensor_type = _tensor_type(node, graph, name)
    if tensor_type is None or not tensor_type.HasField("shape"):
        value = constant_input(node, graph, index)
        return None if value is None else list(np.asarray(value).shape)
    return [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]


def onnx_to_torch_dtype(elem_type: int) -> torch.dtype:
    """The torch dtype of an ONNX TensorProto element type."""
    name = helper.tensor_dtype_to_np_dtype(elem_type).name
    special = {
        "bfloat16": torch.bfloat16,
        "float8_e4m3fn": torch.float8_e4m3fn,
        "float8_e4m3fnuz": torch.float8_e4m3fnuz,
        "float8_e5m2": torch.float8_e5m2,
        "float8_e5m2fnuz": torch.float8_e5m2fnuz,
        "bool": torch.bool,
    }
    if name in special:
        return special[name]
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise NotImplementedError(f"torch has no dtype for ONNX element type {name}")
    return dtype


def result(module: torch.nn.Module, node: Any, inputs: tuple[int, ...] | None = None) -> Any:
    """onnx2torch's OperationConverterResult for ``module``, fed by the inputs at ``inputs``."""
    from onnx2torch.utils.common import OperationConverterResult

    return OperationConverterResult(torch_module=module, onnx_mapping=mapping(node, inputs))


@cache
def _schema_versions() -> dict[tuple[str, str], tuple[int, ...]]:
    from onnx import defs

    found: dict[tuple[str, str], set[int]] = {}
    for schema in defs.get_all_schemas_with_history():
        found.setdefault((schema.domain, schema.name), set()).add(schema.since_version)
    return {key: tuple(sorted(versions)) for key, versions in found.items()}


def versions_of(op_type: str, first: int = 1, domain: str = "") -> tuple[int, ...]:
    """The claimed ``since_version`` s of ``op_type``'s schema from ``first`` on.

    Claimed means listed in :data:`pipeline.custom_versions.CUSTOM`, the explicit table of what
    our converters cover (each entry run by a test: ``tests/custom_ops/claimed_versions.py``): a
    newer onnx with new schema versions adds no claim by itself.
    """
    from pipeline.custom_versions import CUSTOM

    claimed = CUSTOM.get((domain, op_type), ())
    return tuple(v for v in _schema_versions().get((domain, op_type), ()) if v >= first and v in claimed)


def converters(op_types: Sequence[str], fn: Callable[..., Any], first: int = 1) -> tuple[TorchConverter, ...]:
    """One :class:`TorchConverter` per op type covering its claimed schema versions from ``first`` on."""
    return tuple(TorchConverter(op, versions_of(op, first), fn) for op in op_types)


def widen(x: torch.Tensor) -> torch.Tensor:
    """Unsigned 16/32/64-bit tensors as int64 (torch's CPU kernels lack most uint ops)."""
    if x.dtype in (torch.uint16, torch.uint32):
        return x.to(torch.int64)
    if x.dtype == torch.uint64:
        return x.view(torch.int64)
    return x


def narrow(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Undo :func:`widen` (wrapping like unsigned arithmetic)."""
    if x.dtype == dtype:
        return x
    if dtype == torch.uint64 and x.dtype == torch.int64:
        return x.view(torch.uint64)
    if dtype in (torch.uint16, torch.uint32) and x.dtype == torch.int64:
        bits = 16 if dtype == torch.uint16 else 32
        return (x & ((1 << bits) - 1)).to(dtype)
    return x.to(dtype)


_SPECIAL = {  # numpy (ml_dtypes) name -> (same-size unsigned view, torch dtype name)
    "bfloat16": (np.uint16, "bfloat16"),
    "float8_e4m3fn": (np.uint8, "float8_e4m3fn"),
    "float8_e4m3fnuz": (np.uint8, "float8_e4m3fnuz"),
    "float8_e5m2": (np.uint8, "float8_e5m2"),
    "float8_e5m2fnuz": (np.uint8, "float8_e5m2fnuz"),
}


def from_numpy(array: np.ndarray) -> Any:
    """A numpy array (ml_dtypes included where torch has the type) as a torch tensor."""
    array = np.array(array, copy=True, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    if array.dtype == object:
        raise TypeError("string tensors have no torch equivalent")
    special = _SPECIAL.get(array.dtype.name)
    if special is not None:
        view, torch_name = special
        bits = torch.from_numpy(array.view(view))
        return bits.view(getattr(torch, torch_name))
    if array.dtype.kind not in "biufc":
        raise TypeError(f"torch has no dtype for {array.dtype.name}")
    return torch.from_numpy(array)


def to_numpy(value: Any) -> np.ndarray:
    """A torch output as a numpy array (bfloat16 and float8 through ml_dtypes)."""
    tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    tensor = tensor.detach().cpu()
    name = str(tensor.dtype).removeprefix("torch.")
    for np_name, (view, torch_name) in _SPECIAL.items():
        if name == torch_name:
            import ml_dtypes

            unsigned = torch.uint16 if view is np.uint16 else torch.uint8
            return tensor.view(unsigned).numpy().view(getattr(ml_dtypes, np_name))
    return tensor.resolve_conj().numpy()
