"""Stages 1-2, the TensorFlow side: load the model, make inputs, compute TensorFlow's outputs, export ONNX.

:func:`tensorflow_stage` (orchestrator) runs :data:`TENSORFLOW` in a TensorFlow worker process and
takes over its :class:`ExportResult`. In validate mode a given ONNX file stands in for the export:
the worker computes the reference only, and the given file is adopted as ``model.onnx``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.context import ExportResult, StageRecord, Workspace, from_json, timed, to_json
from pipeline.sources import Source, SourceKind
from pipeline.worker import Task

if TYPE_CHECKING:
    from pipeline.conversion import Conversion


def tensorflow_stage(conv: Conversion) -> None:
    """Run :data:`TENSORFLOW`; in validate mode adopt the given ONNX file as the export."""
    given = conv.given_onnx
    result = conv.run_task(TENSORFLOW, stage="export", in_process=conv.in_process_tf, skip_export=given is not None)
    conv.export = from_json(ExportResult, result)
    conv.stages.extend(conv.export.stages)
    conv.notes.extend(conv.export.notes)
    if given is not None:
        from pipeline.artifacts import adopt_onnx

        with timed(conv.stages, "load_onnx"):
            conv.notes.extend(adopt_onnx(given, conv.workspace.onnx_raw, conv.export.inputs, conv.export.outputs))


def load_source(request: dict[str, Any]) -> Any:
    """In a TensorFlow worker: the request's config and its source model, loaded (:class:`LoadedModel`).

    A model built by a callable is seeded first, so it gets the same random weights every time it is built.
    """
    from pipeline.config import from_json as config_from_json
    from pipeline.conversion import model_object
    from pipeline.stages.load import load_model

    source = from_json(Source, request["source"])
    source = Source(SourceKind(source.kind), source.spec)
    config = config_from_json(request["config"])
    if source.kind is SourceKind.CALLABLE:
        seed_builds(config.seed)
    return config, load_model(source, config, model_object(source))


def seed_builds(seed: int) -> None:
    """Seed Keras (and TensorFlow) so a model built by a callable gets the same random weights every time."""
    import keras

    keras.utils.set_random_seed(seed)


def tensorflow_task(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task: load, make inputs, export to ONNX, compute TensorFlow's outputs."""
    import numpy as np
    import onnx
    import tensorflow as tf

    from pipeline import inputs as inputs_mod
    from pipeline.helpers import package_version, tf_full_precision
    from pipeline.overlap import hand_over
    from pipeline.precision import compute_dtype
    from pipeline.stages.export import export_onnx
    from pipeline.stages.reference import tf_outputs
    from pipeline.translate.stage import translate_in_tf

    tf_full_precision()
    ws = Workspace(Path(request["workspace"]))
    stages: list[StageRecord] = []
    with timed(stages, "load"):
        config, loaded = load_source(request)
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
        translate_in_tf(loaded, config, ws, stages)  # model.py, model.safetensors, translation.json
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
        compute_dtype=compute_dtype(loaded.keras_model),
        stages=stages,
        versions={
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "tf2onnx": package_version("tf2onnx"),
            "onnx": onnx.__version__,
        },
    )
    hand_over(ws, to_json(result))  # the orchestrator goes on while the reference runs (pipeline/overlap.py)
    with timed(stages, "tf_reference"):
        try:
            partial = ws.scratch / ws.outputs_tf.name  # whole when it appears: stages start on it (overlap.py)
            np.savez(partial, **tf_outputs(loaded, sets, config))
            partial.replace(ws.outputs_tf)
        except tf.errors.InvalidArgumentError as exc:  # the inputs' fault: exit 2, naming them
            from pipeline.stages.input_fit import misfit

            raise misfit(exc, specs, loaded.layers) from None
    from pipeline.training.stage import tf_part as training_tf_part

    training_tf_part(loaded, config, ws, sets, stages, request["source"])  # model.py's training code, TF half
    return to_json(result)


TENSORFLOW = Task("tensorflow", tensorflow_task)
