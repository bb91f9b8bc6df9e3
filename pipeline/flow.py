"""The conversion flow in one place: load -> export -> fixups -> import -> validate.

:func:`convert` drives one :class:`Conversion` through the stages:

1. **load + export** (TensorFlow process, :mod:`pipeline.stages.tensorflow_side`): read the model, derive its
   input specs, make seeded inputs, compute TensorFlow's outputs, export ONNX with tf2onnx;
2. **fixups** (this process, :mod:`pipeline.stages.onnx_side`): the ordered graph fixups of
   :mod:`pipeline.fixups`;
3. **onnxruntime** (this process, :mod:`pipeline.stages.onnx_side`): run the fixed graph, CUDA first;
4. **import + torch.export** (torch process, :mod:`pipeline.stages.torch_side`): build the torch module,
   export it as ``model.pt2`` with a dynamic batch, save weights as safetensors;
5. **torch run** (a clean torch process, :mod:`pipeline.stages.torch_side`): load ``model.pt2`` with
   onnx2torch and this package's converters blocked, and run it;
6. **validate** (this process, :mod:`pipeline.stages.diagnose`): compare TF / ONNX Runtime / torch
   pair by pair, say which stage is to blame and, when a pair fails, localise the first diverging node and Keras layer
   (:mod:`pipeline.stages.localize`, in a torch and/or TensorFlow worker).

:func:`validate_artifacts` runs the same flow on an ONNX file (and optionally a torch program)
made elsewhere: the TensorFlow side computes the reference but does not export.

This process imports neither TensorFlow nor torch unless the caller already has them; stages
exchange files in the conversion's workspace (ONNX, ``.npz``, JSON). Output goes to a staging
folder that replaces ``out_dir`` only when complete (:mod:`pipeline.publish`), so an interrupted or
failed conversion never leaves a half-written output directory. The :class:`Conversion` the stages
share lives in :mod:`pipeline.conversion`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from pipeline import outdir
from pipeline.config import ConversionConfig, default_name
from pipeline.context import Workspace
from pipeline.conversion import MODEL_OBJECTS, Conversion, ConversionResult
from pipeline.errors import InternalError, PipelineError, SourceNotFoundError, UserError
from pipeline.locate import complete_for
from pipeline.publish import publish, staging_dir
from pipeline.sources import Source, SourceKind, classify
from pipeline.stages.onnx_side import fixups_stage, onnx_source_stage, onnxruntime_stage
from pipeline.stages.tensorflow_side import tensorflow_stage
from pipeline.stages.torch_side import torch_check_stage, torch_stage
from pipeline.training.stage import training_stage
from pipeline.translate.stage import module_stage

__all__ = ["Conversion", "ConversionResult", "convert", "run", "start", "validate_artifacts"]


def convert(
    source: Any,
    out_dir: str | Path | None = None,
    config: ConversionConfig | dict[str, Any] | str | Path | None = None,
    *,
    inputs: str | Path | None = None,
    isolate: bool | None = None,
    raise_on_error: bool = True,
) -> ConversionResult:
    """Convert ``source`` (a path, ``module:callable``, ``example:<name>`` or a Keras model object).

    ``config`` is a :class:`ConversionConfig`, a dict with the keys of a YAML model entry, or the
    path of a YAML file.

    ``isolate=True`` runs the TensorFlow and torch sides in their own processes (the CLI does);
    by default each side runs in this process when that is safe (the library is already imported
    here and the other one would not crash it). Errors raise typed :class:`PipelineError` s unless
    ``raise_on_error`` is false; a validation mismatch is not an error: check ``result.passed``.
    """
    conversion = start(source, out_dir, config, inputs=inputs, isolate=isolate)
    result = run(conversion, Path(out_dir) if out_dir else None)
    if result.error is not None and raise_on_error:
        raise result.error
    return result


def validate_artifacts(
    source: Any,
    onnx_file: str | Path,
    torch_file: str | Path | None = None,
    out_dir: str | Path | None = None,
    config: ConversionConfig | str | Path | None = None,
    *,
    inputs: str | Path | None = None,
    isolate: bool | None = None,
    raise_on_error: bool = True,
) -> ConversionResult:
    """Validate an ONNX file (and a ``torch.export`` program) made elsewhere against ``source``.

    The source model gives the inputs and the TensorFlow reference; ONNX Runtime runs ``onnx_file``
    as given (inputs/outputs matched by name, else by position); torch runs ``torch_file``, or,
    without one, the ONNX file imported with this package's importer. Same report as :func:`convert`.
    """
    from pipeline.artifacts import check_torch_file

    if out_dir is not None:  # the artifacts under validation are protected like the source
        outdir.check_target(Path(out_dir), protect=outdir.protected_paths(onnx_file, torch_file))
    conversion = start(source, out_dir, config, inputs=inputs, isolate=isolate)
    conversion.given["onnx"] = str(Path(onnx_file).resolve())
    if torch_file is not None:
        conversion.given["torch"] = str(Path(torch_file).resolve())
    if conversion.error is None:
        try:
            if not conversion.source.has_tensorflow_side:
                raise UserError(
                    f"validate needs a TensorFlow/Keras source to compare against, got {conversion.source.spec}",
                    stage="load",
                )
            if not Path(onnx_file).is_file():
                raise SourceNotFoundError(f"ONNX file not found: {onnx_file}", stage="load")
            if torch_file is not None:
                check_torch_file(torch_file)
        except PipelineError as exc:
            conversion.error = exc
    result = run(conversion, Path(out_dir) if out_dir else None)
    if result.error is not None and raise_on_error:
        raise result.error
    return result


def start(
    source: Any,
    out_dir: str | Path | None,
    config: ConversionConfig | dict[str, Any] | str | Path | None,
    *,
    inputs: str | Path | None = None,
    isolate: bool | None = None,
) -> Conversion:
    """Resolve config and source, and open a staging workspace for the conversion."""
    from pipeline.config_files import from_mapping, load_for_model

    if isinstance(config, dict):
        config = from_mapping(config)
    error = None
    if isinstance(source, str | Path):
        spec = str(source)
        cfg = config if isinstance(config, ConversionConfig) else load_for_model(config, spec)
        cfg = cfg.with_overrides(source=spec)
        try:
            src = classify(spec, cfg.base_dir)
        except PipelineError as exc:
            src, error = Source(SourceKind.UNKNOWN, spec), exc
    else:
        cfg = config if isinstance(config, ConversionConfig) else load_for_model(config, None)
        MODEL_OBJECTS[id(source)] = source
        src = Source(SourceKind.OBJECT, str(id(source)))
        cfg = cfg.with_overrides(name=cfg.name or str(getattr(source, "name", "model")))
    if inputs is not None:
        cfg = cfg.with_overrides(inputs_file=str(inputs))
    name = cfg.name or default_name(cfg.source or "model")
    target = Path(out_dir) if out_dir else None
    if target is not None:  # refused before any work: never replace what the pipeline did not write
        outdir.check_target(target, protect=outdir.protected_paths(cfg.source, inputs, base_dir=cfg.base_dir))
    staging = staging_dir(target)
    has_tf, has_tv = "tensorflow" in sys.modules, "torchvision" in sys.modules
    if isolate is None:
        in_tf = src.kind is SourceKind.OBJECT or (has_tf and has_tv)
        in_torch = has_tv or (not has_tf and not in_tf and "torch" in sys.modules)
    else:
        in_tf = src.kind is SourceKind.OBJECT or not isolate
        in_torch = not isolate
    return Conversion(
        source=src,
        config=cfg,
        name=name,
        workspace=Workspace(staging),
        in_process_tf=in_tf,
        in_process_torch=in_torch,
        error=error,
    )


def run(conv: Conversion, out_dir: Path | None) -> ConversionResult:
    """Drive ``conv`` through every stage and publish its output folder."""
    from pipeline import ahead, prestart
    from pipeline.overlap import TensorflowSide, alongside, prestart_workers
    from pipeline.report import build_report, write_report
    from pipeline.stages.diagnose import validate_stage  # (numpy: imported once a conversion runs)

    ws = conv.workspace
    tensorflow = TensorflowSide(conv)
    training = ahead.Later(training_stage)  # 7. starts once model.py's check is done (pipeline/ahead.py)
    try:
        ws.root.mkdir(parents=True, exist_ok=True)
        # torch workers import while the TensorFlow side runs (pipeline/prestart.py)
        prestart_workers(conv, ("module_check",) if conv.source.has_tensorflow_side else ("torch", "torch_check"))
        if conv.error is None:  # (an unclassifiable source already failed in start())
            if conv.source.has_tensorflow_side:  # 1-2. load, inputs, tf2onnx export, model.py (TF reference after)
                tensorflow.until_export(tensorflow_stage)
            else:
                onnx_source_stage(conv)  # 1-2. an .onnx file: copy it, make inputs
            fixups_stage(conv)  # 3. graph fixups
            # 3b. ONNX Runtime on the fixed graph, in a thread alongside: the TensorFlow reference (still
            # running), 2b. model.py in a clean process (pipeline/translate/stage.py), 4-5. import,
            # torch.export, safetensors, 5b. run model.pt2 in a clean process (these from TensorFlow's outputs
            # on, beside the training check's TensorFlow half), 5c. a whole-model model.py
            main = [tensorflow.until_reference, module_stage, torch_stage, torch_check_stage]
            main += [tensorflow.finish_stage, training.start, module_stage]
            alongside(conv, onnxruntime_stage, main)
            validate_stage(conv)  # 6. three-way comparison
            training.join(conv)  # 7. gradients and one optimizer step vs TensorFlow (pipeline/training)
    except PipelineError as exc:
        conv.error = complete_for(conv, exc)  # node, op and Keras layer named from the graph
    except KeyboardInterrupt:
        tensorflow.thread = training.thread = None  # not waited for: its worker dies with this process
        ahead.wait_all(ws, join=False)
        shutil.rmtree(ws.root, ignore_errors=True)
        raise
    except Exception as exc:  # our bug: keep the traceback in the report
        import traceback

        conv.error = InternalError(
            f"{type(exc).__name__}: {exc}", stage=_current_stage(conv), details=traceback.format_exc()[-6000:]
        )
    finally:
        tensorflow.join()
        training.wait()
        ahead.wait_all(ws)
        prestart.close()
        if conv.source.kind is SourceKind.OBJECT:
            MODEL_OBJECTS.pop(int(conv.source.spec), None)
        conv.record_own_peak()

    report = build_report(conv)
    target = out_dir if out_dir is not None else ws.root
    target = publish(conv, report, target, write_report)
    return ConversionResult(status=conv.status, out_dir=target, report=report, error=conv.error)


def _current_stage(conv: Conversion) -> str | None:
    failed = [s.name for s in conv.stages if s.status == "failed"]
    return failed[-1] if failed else None
