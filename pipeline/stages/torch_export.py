"""Stage 5 (torch process): make the imported module a self-contained ``torch.export`` program.

The program (``model.pt2``) holds aten ops and weights only, so it loads and runs without
onnx2torch or this package installed. The batch dimension is exported dynamic; when the graph
pins it (an ONNX model exported with a fixed batch), the program is exported static and the
report says so. Weights are also written as ``safetensors``.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pipeline.context import TensorSpec
from pipeline.errors import Location, TorchExportError
from pipeline.helpers import first_line
from pipeline.locate import WORKAROUNDS

STAGE = "torch_export"


def _culprit(exc: BaseException, module: nn.Module, onnx_of: dict[str, str]) -> Location | None:
    """The submodule whose forward raised, mapped back to its ONNX node."""
    by_id = {id(m): name for name, m in module.named_modules()}
    tb = exc.__traceback__
    found = None
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if owner is not None and id(owner) in by_id and by_id[id(owner)]:
            found = by_id[id(owner)]
        tb = tb.tb_next
    if found is None:
        return None
    node = onnx_of.get(found, found)
    return Location(node=node, op=type(dict(module.named_modules())[found]).__name__)


def export_program(
    module: nn.Module,
    example: list[torch.Tensor],
    specs: list[TensorSpec],
    onnx_of: dict[str, str],
) -> tuple[Any, bool, list[str]]:
    """Export with a dynamic batch where the inputs have one; fall back to static if the graph pins it."""
    notes: list[str] = []
    batched = [s.batch_axis is not None for s in specs]
    if any(batched):
        batch = torch.export.Dim("batch", min=1, max=1 << 20)
        dynamic = tuple({s.batch_axis: batch} if s.batch_axis is not None else None for s in specs)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return (
                    torch.export.export(module, tuple(example), dynamic_shapes=dynamic, strict=False),
                    True,
                    notes,
                )
        except Exception as exc:  # constraint violations: the graph fixes the batch somewhere
            if (
                "Constraints violated" not in str(exc)
                and "specialized" not in str(exc)
                and "guard" not in str(exc).lower()
            ):
                raise _export_error(exc, module, onnx_of) from None
            notes.append("batch dimension could not be exported dynamic (the graph fixes it): " + first_line(exc, 300))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.export(module, tuple(example), strict=False), False, notes
    except Exception as exc:
        raise _export_error(exc, module, onnx_of) from None


def _export_error(exc: BaseException, module: nn.Module, onnx_of: dict[str, str]) -> TorchExportError:
    location = _culprit(exc, module, onnx_of)
    return TorchExportError(
        f"torch.export could not trace the converted model: {type(exc).__name__}: {first_line(exc, 300)}",
        stage=STAGE,
        location=location,
        hint=WORKAROUNDS[STAGE],
        details="".join(traceback.format_exception_only(type(exc), exc))[-4000:],
    )


def save(program: Any, pt2: Path, weights: Path) -> tuple[int, int]:
    """Write the program and its weights; returns (parameter count, weight bytes)."""
    torch.export.save(program, str(pt2))
    state = program.state_dict
    write_safetensors(weights, state, metadata={"format": "pt"})
    params = sum(int(t.numel()) for t in state.values())
    nbytes = sum(int(t.numel() * t.element_size()) for t in state.values())
    return params, nbytes


_SAFETENSORS_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` in the safetensors format, one tensor at a time.

    ``safetensors.torch.save_file`` first turns every tensor into ``bytes`` (the whole model again
    in memory); this writes the same file layout (8-byte header size, JSON header, raw
    little-endian data) straight from each tensor's memory. Tensors that share storage are each
    written whole, as safetensors requires.
    """
    import json
    import struct

    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    ordered = sorted(tensors.items())
    for name, tensor in ordered:
        if tensor.dtype not in _SAFETENSORS_DTYPES:
            raise TypeError(f"tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store")
        size = tensor.numel() * tensor.element_size()
        header[name] = {
            "dtype": _SAFETENSORS_DTYPES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for _, tensor in ordered:
            flat = tensor.detach().to("cpu").contiguous().reshape(-1)
            if flat.numel():
                handle.write(memoryview(flat.view(torch.uint8).numpy()))
    tmp.replace(path)


def run_program(
    pt2: Path,
    sets: dict[str, dict[str, np.ndarray]],
    names: list[str],
    device: str,
    errors: dict[str, str] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Load ``model.pt2`` and run every input set; outputs keyed by set, in ``names`` order.

    With ``errors``, a set the program cannot run is recorded there (set -> message) instead of raising.
    """
    from pipeline.artifacts import load_program

    program = load_program(pt2)  # refuses pickled payloads: the program may come from elsewhere
    module = program.module()
    if device != "cpu":
        module = module.to(device)
    out: dict[str, dict[str, np.ndarray]] = {}
    with torch.no_grad():
        for set_name, arrays in sets.items():
            try:
                inputs = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays.values()]
                result = module(*inputs)
                if isinstance(result, torch.Tensor):
                    result = (result,)
                if len(result) != len(names):
                    raise ValueError(f"the program returns {len(result)} outputs, the model has {len(names)}")
                out[set_name] = {n: r.detach().cpu().numpy() for n, r in zip(names, result, strict=True)}
            except Exception as exc:
                if errors is None:
                    raise
                errors[set_name] = first_line(exc, 300)
    return out


def block_modules(names: tuple[str, ...] = ("onnx2torch", "custom_ops", "tensorflow")) -> None:
    """Make ``names`` unimportable in this process, to prove the program does not need them.

    A ``None`` entry in ``sys.modules`` makes ``import`` raise ImportError and ``find_spec``
    report the package as absent, exactly as if it were not installed.
    """
    for name in names:
        if name in sys.modules:
            raise RuntimeError(f"{name} is already imported; cannot block it")
        sys.modules[name] = None  # type: ignore[assignment]
