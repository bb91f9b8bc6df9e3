"""The ONNX stages in the orchestrator's process: an ONNX source, the graph fixups, ONNX Runtime.

:func:`onnx_source_stage` stands in for the TensorFlow side when the source is an ``.onnx`` file;
:func:`fixups_stage` runs :data:`pipeline.fixups.DEFAULT_FIXUPS` on the export and finds the
logits probes; :func:`onnxruntime_stage` runs :attr:`Conversion.ort_model` on every input set.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.context import ExportResult, timed

if TYPE_CHECKING:
    from pipeline.conversion import Conversion


def onnx_source_stage(conv: Conversion) -> None:
    """An ``.onnx`` source: copy it into the workspace and make its input sets (no TensorFlow reference)."""
    from pipeline import inputs as inputs_mod
    from pipeline import onnx_utils
    from pipeline.onnx_ranges import with_table_ranges

    ws = conv.workspace
    with timed(conv.stages, "load"):
        model = onnx_utils.load(conv.source.spec)
        specs = with_table_ranges(onnx_utils.graph_input_specs(model), model)  # ids stay inside their tables
        specs = inputs_mod.resolve_specs(specs, conv.config)
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
    """Run the graph fixups on ``model.onnx`` into ``model_fixed.onnx``; find the logits probes."""
    from pipeline import onnx_utils
    from pipeline.fixups import DEFAULT_FIXUPS, FixupContext, run_fixups

    assert conv.export is not None
    with timed(conv.stages, "fixups"):
        model = onnx_utils.load(conv.workspace.onnx_raw, stage="fixups")
        context = FixupContext(inputs=conv.export.inputs, layers=conv.export.layers, model_dir=conv.workspace.root)
        fixed, records = run_fixups(model, DEFAULT_FIXUPS, context)
        conv.fixups = [*conv.export.fixups, *records]  # trace fixups (TensorFlow side) first
        onnx_utils.save(fixed, conv.workspace.onnx_fixed)
        probe_model = onnx_utils.load(conv.ort_model, stage="fixups") if conv.validating else fixed
        conv.probes = logits_probes(probe_model, conv.export.logits_outputs)


def logits_probes(model: Any, logits_outputs: list[str]) -> dict[str, str]:
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
    """Run the ONNX model on every input set (CUDA first), logits probes included; save the outputs."""
    import numpy as np

    from pipeline.batching import ort_run_merged
    from pipeline.inputs import load_sets

    ws = conv.workspace
    with timed(conv.stages, "onnxruntime"):
        sets = load_sets(ws.inputs)
        axes = {spec.name: spec.batch_axis for spec in conv.export.inputs} if conv.export else {}
        result = ort_run_merged(conv.ort_model, sets, axes, list(conv.probes.values()))  # sets merged per call
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
