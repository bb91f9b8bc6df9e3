"""The conversion flow in one place: load -> export -> fixups -> import -> validate.

:func:`convert` drives one :class:`Conversion` through the stages:

1. **load + export** (TensorFlow process, :func:`tensorflow_side`): read the model, derive its
   input specs, make seeded inputs, compute TensorFlow's outputs, export ONNX with tf2onnx;
2. **fixups** (this process): the ordered graph fixups of :mod:`pipeline.fixups`;
3. **onnxruntime** (this process): run the fixed graph, CUDA first;
4. **import + torch.export** (torch process, :func:`torch_side`): build the torch module,
   export it as ``model.pt2`` with a dynamic batch, save weights as safetensors;
5. **torch run** (a clean torch process, :func:`torch_check`): load ``model.pt2`` with
   onnx2torch and this package's converters blocked, and run it;
6. **validate** (this process): compare TF / ONNX Runtime / torch pair by pair, say which stage
   is to blame and, when a pair fails, localise the first diverging node and Keras layer
   (:mod:`pipeline.stages.localize`, in a torch and/or TensorFlow worker).

:func:`validate_artifacts` runs the same flow on an ONNX file (and optionally a torch program)
made elsewhere: the TensorFlow side computes the reference but does not export.

This process imports neither TensorFlow nor torch unless the caller already has them; stages
exchange files in the conversion's workspace (ONNX, ``.npz``, JSON). Output goes to a staging
folder that replaces ``out_dir`` only when complete, so an interrupted or failed conversion never
leaves a half-written output directory.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import ConversionConfig, default_name
from pipeline.context import (
    ExportResult,
    FixupRecord,
    StageRecord,
    TorchResult,
    Workspace,
    from_json,
    timed,
    to_json,
)
from pipeline.errors import InternalError, PipelineError, SourceNotFoundError, UserError
from pipeline.sources import Source, SourceKind, classify
from pipeline.worker import WorkerLimits, call

# Model objects handed to the Python API, by id, for the in-process TensorFlow side.
_OBJECTS: dict[int, Any] = {}


@dataclass
class Conversion:
    """Everything one conversion has learned so far; each stage fills in its part."""

    source: Source
    config: ConversionConfig
    name: str
    workspace: Workspace
    in_process_tf: bool = False
    in_process_torch: bool = False
    export: ExportResult | None = None
    fixups: list[FixupRecord] = field(default_factory=list)
    probes: dict[str, str] = field(default_factory=dict)  # "<output>:logits" -> ONNX tensor
    providers: list[str] = field(default_factory=list)
    torch: TorchResult | None = None
    torch_device: str | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    stages: list[StageRecord] = field(default_factory=list)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    worker_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each worker call, start-up included
    notes: list[str] = field(default_factory=list)
    error: PipelineError | None = None
    # validation details: input sets that a runtime could not run, ONNX Runtime's node placement,
    # the input sets as run, the verdict (blame + localisation), artifacts given to `validate`
    run_errors: dict[str, dict[str, str]] = field(default_factory=dict)
    ort_placement: dict[str, Any] = field(default_factory=dict)
    input_sets: list[dict[str, Any]] = field(default_factory=list)
    diagnosis: dict[str, Any] | None = None
    given: dict[str, str] = field(default_factory=dict)  # "onnx" / "torch" -> path
    batch: dict[str, Any] | None = None  # set by a batch run: fingerprint and limits (pipeline/batch.py)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        verdicts = [p.passed for p in self.validation.values() if p.passed is not None]
        return "passed" if verdicts and all(verdicts) else "failed"

    def limits(self) -> WorkerLimits:
        return WorkerLimits(timeout_s=self.config.timeout_s, memory_gb=self.config.memory_gb)


@dataclass
class ConversionResult:
    """What :func:`convert` returns: status, report, and the converted module (loaded on demand)."""

    status: str
    out_dir: Path
    report: dict[str, Any]
    error: PipelineError | None = None
    _module: Any = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def torch_module(self) -> Any:
        """The converted model as a ``torch.nn.Module`` (from ``model.pt2``)."""
        if self._module is None:
            if self.error is not None:
                raise self.error
            import torch

            self._module = torch.export.load(str(self.out_dir / "model.pt2")).module()
        return self._module


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
    from pipeline.config import from_mapping, load_for_model

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
        _OBJECTS[id(source)] = source
        src = Source(SourceKind.OBJECT, str(id(source)))
        cfg = cfg.with_overrides(name=cfg.name or str(getattr(source, "name", "model")))
    if inputs is not None:
        cfg = cfg.with_overrides(inputs_file=str(inputs))
    name = cfg.name or default_name(cfg.source or "model")
    target = Path(out_dir) if out_dir else None
    staging = _staging_dir(target)
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
    from pipeline import prestart
    from pipeline.overlap import TensorflowSide, alongside, prestart_workers
    from pipeline.report import build_report, write_report

    ws = conv.workspace
    tensorflow = TensorflowSide(conv)
    try:
        ws.root.mkdir(parents=True, exist_ok=True)
        prestart_workers(conv, ("torch",) if conv.source.has_tensorflow_side else ("torch", "torch_check"))
        if conv.error is None:  # (an unclassifiable source already failed in start())
            if conv.source.has_tensorflow_side:  # 1-2. load, inputs, tf2onnx export (TF reference after it)
                tensorflow.until_export(tensorflow_stage)
            else:
                onnx_source_stage(conv)  # 1-2. an .onnx file: copy it, make inputs
            fixups_stage(conv)  # 3. graph fixups
            # 3b. ONNX Runtime on the fixed graph, alongside 4-5. import, torch.export, safetensors
            # and 5b. run model.pt2 in a clean process (and the TensorFlow reference, still running)
            alongside(conv, onnxruntime_stage, [torch_stage, torch_check_stage])
            tensorflow.finish()
            validate_stage(conv)  # 6. three-way comparison
    except PipelineError as exc:
        conv.error = exc
    except KeyboardInterrupt:
        tensorflow.thread = None  # not waited for: its worker dies with this process
        shutil.rmtree(ws.root, ignore_errors=True)
        raise
    except Exception as exc:  # our bug: keep the traceback in the report
        import traceback

        conv.error = InternalError(
            f"{type(exc).__name__}: {exc}", stage=_current_stage(conv), details=traceback.format_exc()[-6000:]
        )
    finally:
        tensorflow.join()
        prestart.close()
        if conv.source.kind is SourceKind.OBJECT:
            _OBJECTS.pop(int(conv.source.spec), None)
        _record_own_peak(conv)

    report = build_report(conv)
    target = out_dir if out_dir is not None else ws.root
    _publish(conv, report, target, write_report)
    return ConversionResult(status=conv.status, out_dir=target, report=report, error=conv.error)


def _current_stage(conv: Conversion) -> str | None:
    failed = [s.name for s in conv.stages if s.status == "failed"]
    return failed[-1] if failed else None


# --------------------------------------------------------------------------- stages (orchestrator)


def _request(conv: Conversion, **extra: Any) -> dict[str, Any]:
    return {
        "source": to_json(conv.source),
        "config": to_json(conv.config),
        "workspace": str(conv.workspace.root),
        **extra,
    }


def _record_worker(conv: Conversion, name: str, run: Any) -> None:
    conv.peak_rss_mb[name] = round(run.peak_rss_mb, 1)
    conv.worker_seconds[name] = round(run.seconds, 3)


def _record_own_peak(conv: Conversion) -> None:
    """This process's peak resident memory (fixups, ONNX Runtime, validation; in-process stages too)."""
    import resource

    conv.peak_rss_mb["orchestrator"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def tensorflow_stage(conv: Conversion) -> None:
    run = call(
        "tensorflow",
        _request(conv, skip_export="onnx" in conv.given),
        in_process=conv.in_process_tf,
        log_dir=conv.workspace.logs,
        limits=conv.limits(),
        stage="export",
    )
    _record_worker(conv, "tensorflow", run)
    conv.export = from_json(ExportResult, run.result)
    conv.stages.extend(conv.export.stages)
    conv.notes.extend(conv.export.notes)
    if "onnx" in conv.given:  # validate: the given ONNX file stands in for the export
        from pipeline.artifacts import adopt_onnx

        with timed(conv.stages, "load_onnx"):
            conv.notes.extend(
                adopt_onnx(conv.given["onnx"], conv.workspace.onnx_raw, conv.export.inputs, conv.export.outputs)
            )


def onnx_source_stage(conv: Conversion) -> None:
    from pipeline import inputs as inputs_mod
    from pipeline import onnx_utils

    ws = conv.workspace
    with timed(conv.stages, "load"):
        model = onnx_utils.load(conv.source.spec)
        specs = inputs_mod.resolve_specs(onnx_utils.graph_input_specs(model), conv.config)
        if conv.config.inputs_file:
            sets = inputs_mod.load_user_inputs(conv.config.inputs_file, specs)
        else:
            sets = inputs_mod.make_input_sets(specs, conv.config)
        inputs_mod.save_sets(ws.inputs, sets)
        onnx_utils.copy_model(model, Path(conv.source.spec).parent, ws.onnx_raw, conv.config.external_data_mb)
    conv.export = ExportResult(
        model_name=conv.name, inputs=specs, outputs=onnx_utils.output_names(model), has_reference=False
    )


def fixups_stage(conv: Conversion) -> None:
    from pipeline import onnx_utils
    from pipeline.fixups import DEFAULT_FIXUPS, FixupContext, run_fixups

    assert conv.export is not None
    with timed(conv.stages, "fixups"):
        model = onnx_utils.load(conv.workspace.onnx_raw, stage="fixups")
        context = FixupContext(inputs=conv.export.inputs, layers=conv.export.layers, model_dir=conv.workspace.root)
        fixed, records = run_fixups(model, DEFAULT_FIXUPS, context, copy=False)
        conv.fixups = [*conv.export.fixups, *records]  # trace fixups (TensorFlow side) first
        onnx_utils.save(fixed, conv.workspace.onnx_fixed)
        probe_model = onnx_utils.load(ort_model(conv), stage="fixups") if conv.given else fixed
        conv.probes = _logits_probes(probe_model, conv.export.logits_outputs)


def ort_model(conv: Conversion) -> Path:
    """The ONNX file ONNX Runtime runs: the fixed graph, or a given ONNX file as it is."""
    return conv.workspace.onnx_raw if "onnx" in conv.given else conv.workspace.onnx_fixed


def _logits_probes(model: Any, logits_outputs: list[str]) -> dict[str, str]:
    """For outputs behind a softmax, the ONNX tensor holding the logits (the Softmax node's input)."""
    from pipeline.onnx_utils import producers

    made_by = producers(model.graph)
    probes = {}
    for output in logits_outputs:
        node = made_by.get(output)
        while node is not None and node.op_type == "Identity":
            node = made_by.get(node.input[0])
        if node is not None and node.op_type == "Softmax":
            probes[f"{output}:logits"] = node.input[0]
    return probes


def onnxruntime_stage(conv: Conversion) -> None:
    import numpy as np

    from pipeline.batching import ort_run_merged
    from pipeline.inputs import load_sets

    ws = conv.workspace
    with timed(conv.stages, "onnxruntime"):
        sets = load_sets(ws.inputs)
        axes = {spec.name: spec.batch_axis for spec in conv.export.inputs} if conv.export else {}
        result = ort_run_merged(ort_model(conv), sets, axes, list(conv.probes.values()))
        conv.providers = result.providers
        conv.ort_placement = result.placement
        conv.notes.extend(result.notes)
        if result.errors:
            conv.run_errors["ort"] = result.errors
        flat = {f"{s}/{k}": v for s, values in result.outputs.items() for k, v in values.items()}
        for set_name, values in result.probes.items():
            for key, tensor in conv.probes.items():
                if tensor in values:
                    flat[f"{set_name}/{key}"] = values[tensor]
        np.savez(ws.outputs_ort, **flat)


def torch_stage(conv: Conversion) -> None:
    assert conv.export is not None
    if "torch" in conv.given:  # validate: a torch program made elsewhere stands in for the import
        with timed(conv.stages, "load_torch"):
            shutil.copyfile(conv.given["torch"], conv.workspace.pt2)
        return
    run = call(
        "torch",
        _request(conv, probes=conv.probes, layers=conv.export.layers, inputs=to_json(conv.export.inputs)),
        in_process=conv.in_process_torch,
        log_dir=conv.workspace.logs,
        limits=conv.limits(),
        stage="import",
    )
    _record_worker(conv, "torch", run)
    conv.torch = from_json(TorchResult, run.result)
    conv.stages.extend(conv.torch.stages)
    conv.notes.extend(conv.torch.warnings)


def torch_check_stage(conv: Conversion) -> None:
    assert conv.export is not None
    run = call(
        "torch_check",
        _request(conv, outputs=conv.export.outputs, inputs=to_json(conv.export.inputs)),
        in_process=conv.in_process_torch,
        log_dir=conv.workspace.logs,
        limits=conv.limits(),
        stage="torch_run",
    )
    _record_worker(conv, "torch_check", run)
    conv.torch_device = run.result["device"]
    if run.result.get("errors"):
        conv.run_errors["torch"] = run.result["errors"]
    conv.notes.extend(run.result.get("notes") or [])
    conv.stages.append(StageRecord(name="torch_run", seconds=run.result["seconds"]))
    conv.stages.extend(from_json(StageRecord, s) for s in run.result.get("stages") or [])


def validate_stage(conv: Conversion) -> None:
    from pipeline.inputs import describe_sets, load_sets
    from pipeline.stages.validate import merge_probes, validate

    assert conv.export is not None
    ws = conv.workspace
    with timed(conv.stages, "validate"):
        conv.input_sets = describe_sets(load_sets(ws.inputs), conv.export.inputs)
        runs: dict[str, Any] = {
            "tf": load_sets(ws.outputs_tf) if ws.outputs_tf.is_file() else None,
            "ort": load_sets(ws.outputs_ort),
            "torch": merge_probes(
                load_sets(ws.outputs_torch), load_sets(ws.probes_torch) if ws.probes_torch.is_file() else None
            ),
        }
        conv.validation = validate(runs, conv.config.tolerance_for, conv.run_errors)
    with timed(conv.stages, "diagnose"):
        from pipeline.stages.diagnose import diagnose_conversion

        conv.diagnosis = diagnose_conversion(conv)


# --------------------------------------------------------------------------- stage tasks (workers)


def tensorflow_side(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task: load, make inputs, export to ONNX, compute TensorFlow's outputs."""
    import numpy as np
    import onnx
    import tensorflow as tf

    from pipeline import inputs as inputs_mod
    from pipeline.overlap import hand_over
    from pipeline.stages.export import export_onnx
    from pipeline.stages.load import load_model

    tf.config.experimental.enable_tensor_float_32_execution(False)
    source = from_json(Source, request["source"])
    source = Source(SourceKind(source.kind), source.spec)
    config = _config_from(request["config"])
    ws = Workspace(Path(request["workspace"]))
    stages: list[StageRecord] = []
    with timed(stages, "load"):
        obj = _OBJECTS.get(int(source.spec)) if source.kind is SourceKind.OBJECT else None
        if source.kind is SourceKind.CALLABLE:  # same random weights when the model is built again
            from pipeline.stages.localize import seed_builds

            seed_builds(config.seed)
        loaded = load_model(source, config, obj)
    with timed(stages, "inputs"):
        specs = inputs_mod.resolve_specs(loaded.inputs, config)
        if config.inputs_file:
            sets = inputs_mod.load_user_inputs(config.inputs_file, specs)
        else:
            sets = inputs_mod.make_input_sets(specs, config)
        inputs_mod.save_sets(ws.inputs, sets)
    exported = None
    if not request.get("skip_export"):
        with timed(stages, "export"):
            exported = export_onnx(loaded, config.opset, ws.onnx_raw, external_data_mb=config.external_data_mb)
    import keras

    result = ExportResult(
        model_name=loaded.name,
        inputs=specs,
        outputs=loaded.outputs,
        logits_outputs=loaded.logits_outputs if config.compare_logits else [],
        layers=loaded.layers,
        fixups=exported.trace_fixups if exported else [],
        weight_bytes=exported.weight_bytes if exported else 0,
        notes=exported.changes if exported else [],
        stages=stages,
        versions={
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "tf2onnx": _version("tf2onnx"),
            "onnx": onnx.__version__,
        },
    )
    hand_over(ws, to_json(result))  # the orchestrator goes on while the reference runs
    with timed(stages, "tf_reference"):
        from pipeline.stages.reference import tf_outputs

        np.savez(ws.outputs_tf, **tf_outputs(loaded, sets, config))
    return to_json(result)


def torch_side(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task: import the fixed ONNX graph into torch, export ``model.pt2``, capture probes."""
    import json

    import numpy as np
    import onnx
    import torch

    from pipeline import onnx_utils
    from pipeline.batching import probe_sets
    from pipeline.context import TensorSpec
    from pipeline.inputs import load_sets
    from pipeline.stages.importer import capture, import_model
    from pipeline.stages.layout import store_channels_last
    from pipeline.stages.torch_export import export_program, save

    _torch_numerics()
    ws = Workspace(Path(request["workspace"]))
    specs = [from_json(TensorSpec, s) for s in request["inputs"]]
    stages: list[StageRecord] = []
    with timed(stages, "import"):
        model = onnx_utils.load(ws.onnx_fixed, stage="import")
        imported = import_model(model, request.get("layers"), model_dir=ws.root)
        ws.scratch.mkdir(parents=True, exist_ok=True)  # for localisation: ONNX node -> torch submodule
        (ws.scratch / "onnx_modules.json").write_text(json.dumps(imported.node_modules), encoding="utf-8")
    sets = load_sets(ws.inputs)
    probes: dict[str, str] = request.get("probes") or {}
    if probes:
        with timed(stages, "torch_probes"):
            probe_module = capture(imported.module, imported.tensor_nodes, list(probes.values()))
            n_out = len(model.graph.output)
            merged = probe_sets(probe_module, sets, specs, list(probes), n_out)
            np.savez(ws.probes_torch, **{f"{s}/{k}": v for s, values in merged.items() for k, v in values.items()})
    with timed(stages, "torch_export"):
        example_set = _example_set(model, sets)
        example = [torch.from_numpy(example_set[s.name]) for s in specs]
        onnx_of = {module: node for node, module in imported.node_modules.items()}
        program, dynamic, notes = export_program(imported.module, example, specs, onnx_of)
        store_channels_last(program)  # NHWC end to end on CPU (pipeline/stages/layout.py)
        params, nbytes = save(program, ws.pt2, ws.weights)
    result = TorchResult(
        dynamic_batch=dynamic,
        parameters=params,
        weight_bytes=nbytes,
        stages=stages,
        warnings=notes,
        versions={"torch": torch.__version__, "onnx2torch": _version("onnx2torch"), "onnx": onnx.__version__},
    )
    return to_json(result)


def _example_set(model: Any, sets: dict[str, Any]) -> dict[str, Any]:
    """The input set to trace with: ``random`` unless the graph fixes a dimension it does not fit
    (an ONNX file exported with a fixed batch, given to ``validate``)."""
    fixed = {
        value.name: [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]
        for value in model.graph.input
    }

    def fits(arrays: dict[str, Any]) -> bool:
        for name, dims in fixed.items():
            shape = arrays[name].shape if name in arrays else None
            if shape is None or not dims:
                continue
            if len(dims) != len(shape) or any(d is not None and d != a for d, a in zip(dims, shape, strict=True)):
                return False
        return True

    ordered = [sets["random"]] if "random" in sets else []
    ordered += [arrays for name, arrays in sets.items() if name != "random"]
    return next((arrays for arrays in ordered if fits(arrays)), ordered[0])


def torch_check(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task: run ``model.pt2`` with onnx2torch and ``custom_ops`` unimportable."""
    import time

    import numpy as np
    import torch

    from pipeline.batching import run_merged
    from pipeline.errors import TorchExportError
    from pipeline.inputs import load_sets
    from pipeline.stages.torch_export import block_modules

    if "onnx2torch" not in sys.modules:
        block_modules()
    _torch_numerics()
    ws = Workspace(Path(request["workspace"]))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    start_time = time.perf_counter()
    names = [spec["name"] for spec in request["inputs"]]
    sets = load_sets(ws.inputs)
    ordered = {s: {name: arrays[name] for name in names} for s, arrays in sets.items()}
    notes: list[str] = []
    axes = {spec["name"]: spec.get("batch_axis") for spec in request["inputs"]}

    def run_on(device: str) -> tuple[dict[str, Any], dict[str, str]]:
        return run_merged(lambda subset: _run_sets(ws.pt2, subset, request["outputs"], device), ordered, axes)

    outputs, errors = run_on(device)
    if not outputs and device != "cpu":  # a program that cannot run on the GPU at all: CPU, said so
        notes.append(f"model.pt2 failed on {device} ({next(iter(errors.values()))}); it ran on CPU")
        device = "cpu"
        outputs, errors = run_on(device)
    if not outputs:
        first, message = next(iter(errors.items()))
        raise TorchExportError(f"model.pt2 failed on every input set; on '{first}': {message}", stage="torch_run")
    np.savez(ws.outputs_torch, **{f"{s}/{k}": v for s, values in outputs.items() for k, v in values.items()})
    seconds = round(time.perf_counter() - start_time, 3)
    stages: list[dict[str, Any]] = []
    config = _config_from(request["config"])
    if config.compile == "aot":  # an AOTInductor package beside model.pt2, checked against it
        from pipeline.stages.aot import compile_and_check

        stages, aot_notes = compile_and_check(ws.pt2, ordered, request["outputs"], outputs, config.tolerance_for)
        notes.extend(aot_notes)
    return {"device": device, "seconds": seconds, "errors": errors, "notes": notes, "stages": stages}


def _run_sets(pt2: Path, sets: dict[str, Any], names: list[str], device: str) -> tuple[dict[str, Any], dict[str, str]]:
    from pipeline.stages.torch_export import run_program

    errors: dict[str, str] = {}
    return run_program(pt2, sets, names, device, errors=errors), errors


def _torch_numerics() -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def _config_from(data: dict[str, Any]) -> ConversionConfig:
    from pipeline.config import InputOverride, Tolerance

    data = dict(data)
    data["tolerance"] = Tolerance(**data["tolerance"])
    data["tolerances"] = {k: Tolerance(**v) for k, v in data.get("tolerances", {}).items()}
    data["inputs"] = {
        k: InputOverride(**{**v, "shape": tuple(v["shape"]) if v.get("shape") else None})
        for k, v in data.get("inputs", {}).items()
    }
    data["custom_objects"] = tuple(data.get("custom_objects", ()))
    return ConversionConfig(**data)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


# --------------------------------------------------------------------------- output folder


def _staging_dir(target: Path | None) -> Path:
    if target is None:
        return Path(tempfile.mkdtemp(prefix="keras2torch-work-"))
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    return target.parent / f".{target.name}.partial-{os.getpid()}"


def _remove_stale(target: Path) -> None:
    """Staging (and replaced) folders left by a conversion that was killed (its process no longer exists)."""
    for stale in [*target.parent.glob(f".{target.name}.partial-*"), *target.parent.glob(f".{target.name}.old-*")]:
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _publish(conv: Conversion, report: dict[str, Any], target: Path, write_report: Any) -> None:
    """Move the finished workspace to ``target``; after an error keep only the report and logs."""
    ws = conv.workspace
    shutil.rmtree(ws.scratch, ignore_errors=True)
    if conv.error is not None:
        for entry in list(ws.root.iterdir()) if ws.root.exists() else []:
            if entry.name != "logs":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    ws.root.mkdir(parents=True, exist_ok=True)
    write_report(report, ws.report_json, ws.report_md)
    if ws.root.resolve() == target.resolve():
        return
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        target.rename(old)
    ws.root.rename(target)
    conv.workspace = Workspace(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
