"""Fixup: move the model to the nearest opset at which every node has a torch converter."""

from __future__ import annotations

from collections.abc import Callable

import onnx
from onnx import defs, version_converter

from pipeline.fixups.base import FixupContext, FixupResult
from pipeline.onnx_utils import iter_nodes, opset_of

# version_converter's range; the search stays near the model's own opset
LOWEST, HIGHEST = 11, defs.onnx_opset_version()
Supported = Callable[[str, str, int], bool]  # (domain, op_type, since_version) -> has a converter


def converter_available(domain: str, op_type: str, since_version: int) -> bool:
    """True when ``custom_ops`` or onnx2torch converts the op at that ``since_version``.

    Reads both registries from snapshots (:mod:`pipeline.onnx2torch_versions`,
    :mod:`pipeline.custom_versions`): importing onnx2torch loads torchvision, which this process
    must not do when it has TensorFlow, and the custom converters load torch.
    """
    from pipeline.custom_versions import covered
    from pipeline.onnx2torch_versions import ONNX2TORCH

    if covered(domain, op_type, since_version):
        return True
    return since_version in ONNX2TORCH.get((domain, op_type), ())


def since_version(domain: str, op_type: str, opset: int) -> int | None:
    """The schema version an op resolves to at ``opset``; None if the op does not exist there."""
    try:
        return defs.get_schema(op_type, max_inclusive_version=opset, domain=domain).since_version
    except Exception:
        return None


def missing_at(model: onnx.ModelProto, opset: int, supported: Supported) -> list[str]:
    """``op-version`` of every default-domain op (subgraphs included) with no converter at ``opset``."""
    missing = set()
    for node in iter_nodes(model.graph):
        if node.domain not in ("", "ai.onnx"):
            continue  # custom domains are versioned on their own
        version = since_version("", node.op_type, opset)
        if version is None or not supported("", node.op_type, version):
            missing.add(f"{node.op_type}-{version or opset}")
    return sorted(missing)


def _candidates(current: int) -> list[int]:
    """Opsets by distance from ``current``; downwards first at equal distance (older = better covered)."""
    order = []
    for step in range(1, HIGHEST - LOWEST + 1):
        for target in (current - step, current + step):
            if LOWEST <= target <= HIGHEST:
                order.append(target)
    return order


def plan_opset(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Convert the graph (onnx.version_converter) to the nearest opset where every op has a converter.

    onnx2torch registers converters per ``since_version`` and has none for many newer schemas
    (at opset 18: ReduceMean, ReduceL2, Split, Pad, Resize...; at 19: Reshape, Cast, Shape), so
    a model tf2onnx exported at a newer opset fails to import although an older version of each
    op would do. Declines when the model imports as it is, or when no opset makes it whole (the
    import stage then names the missing converters).
    """
    supported = context.supported or converter_available
    current = opset_of(model)
    if not current or not missing_at(model, current, supported):
        return FixupResult(model, [])
    before = missing_at(model, current, supported)
    for target in _candidates(current):
        if missing_at(model, target, supported):
            continue
        try:
            converted = version_converter.convert_version(model, target)
            _drop_stale_attributes(converted, target)
            onnx.checker.check_model(converted)
        except Exception:
            continue  # no adapter between these versions for some op: try the next opset
        if missing_at(converted, target, supported):
            continue
        _restore_functions(model, converted, target)
        return FixupResult(
            converted, [f"opset {current} -> {target}: no converter for {', '.join(before)} at {current}"]
        )
    return FixupResult(model, [])


def _drop_stale_attributes(model: onnx.ModelProto, target: int) -> None:
    """Attributes the version converter's adapters carry over although the older schema lacks them.

    Reduce*-18 -> 17 keeps ``noop_with_empty_axes`` (only ReduceSum has it before 18); with the
    axes moved into an attribute it has no effect unless the axes are empty, which the adapter
    refuses anyway.
    """
    if target >= 18:
        return
    for node in iter_nodes(model.graph):
        if node.domain in ("", "ai.onnx") and node.op_type.startswith("Reduce") and node.op_type != "ReduceSum":
            stale = [a for a in node.attribute if a.name == "noop_with_empty_axes"]
            for attribute in stale:
                node.attribute.remove(attribute)


def _restore_functions(original: onnx.ModelProto, converted: onnx.ModelProto, target: int) -> None:
    """version_converter drops model-local functions; put them back at the new default opset."""
    for function in original.functions:
        copy = onnx.FunctionProto()
        copy.CopyFrom(function)
        for entry in copy.opset_import:
            if entry.domain in ("", "ai.onnx"):
                entry.version = target
        converted.functions.append(copy)
