"""Convert TensorFlow/Keras models to PyTorch through ONNX, and prove the result computes the same.

Python API (importable from a process that already has TensorFlow and torch)::

    result = pipeline.convert(model_or_source, out_dir=None, config=None)
    result.passed, result.report, result.torch_module

    module = pipeline.onnx_to_torch(onnx_model)   # fixups + import only
    result = pipeline.validate(source, "model.onnx", "model.pt2")   # artifacts made elsewhere

Nothing heavy is imported here: TensorFlow and torch load only in the stages that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.config import ConversionConfig, InputOverride, Tolerance
from pipeline.errors import (
    ConfigError,
    ExportError,
    InputSpecError,
    InternalError,
    NotAModelError,
    PipelineError,
    SourceNotFoundError,
    UnsafeModelError,
    UnsupportedError,
    UserError,
    WorkerCrashError,
)

if TYPE_CHECKING:
    import onnx
    import torch

    from pipeline.flow import ConversionResult
    from pipeline.stages.importer import ImportResult

__all__ = [
    "ConfigError",
    "ConversionConfig",
    "ConversionResult",
    "ExportError",
    "InputOverride",
    "InputSpecError",
    "InternalError",
    "NotAModelError",
    "PipelineError",
    "SourceNotFoundError",
    "Tolerance",
    "UnsafeModelError",
    "UnsupportedError",
    "UserError",
    "WorkerCrashError",
    "convert",
    "import_onnx",
    "onnx_to_torch",
    "validate",
]


def convert(source: Any, out_dir: Any = None, config: Any = None, **kwargs: Any) -> ConversionResult:
    """Convert and validate a model; see :func:`pipeline.flow.convert`."""
    from pipeline.flow import convert as _convert

    return _convert(source, out_dir, config, **kwargs)


def validate(source: Any, onnx_file: Any, torch_file: Any = None, out_dir: Any = None, **kwargs: Any) -> Any:
    """Validate an ONNX file (and a ``.pt2`` program) made elsewhere; see :func:`pipeline.flow.validate_artifacts`."""
    from pipeline.flow import validate_artifacts

    return validate_artifacts(source, onnx_file, torch_file, out_dir, **kwargs)


def onnx_to_torch(model: onnx.ModelProto, layers: list[str] | None = None, model_dir: Any = None) -> torch.nn.Module:
    """The fixups + import stage alone: an ONNX model in, a ``torch.nn.Module`` (fx GraphModule) out.

    ``model_dir`` is the folder external data is read from, for a model loaded with
    ``onnx.load(path, load_external_data=False)`` (large models: weights are read one at a time).
    """
    return import_onnx(model, layers, model_dir).module


def import_onnx(model: onnx.ModelProto, layers: list[str] | None = None, model_dir: Any = None) -> ImportResult:
    """:func:`onnx_to_torch`, with what the import stage records: the module, where each tensor
    lives in it, and which converter (ours or onnx2torch's) built each node."""
    from pipeline.fixups import DEFAULT_FIXUPS, FixupContext, run_fixups
    from pipeline.onnx_utils import graph_input_specs
    from pipeline.stages.importer import import_model

    context = FixupContext(inputs=graph_input_specs(model), layers=list(layers or []), model_dir=model_dir)
    fixed, _ = run_fixups(model, DEFAULT_FIXUPS, context)
    return import_model(fixed, layers, model_dir=model_dir)
