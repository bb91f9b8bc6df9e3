"""The training check's stages (each called from :mod:`pipeline.flow` with a line).

1. TensorFlow worker, after the reference outputs (:func:`tf_part`): append the compile
   configuration as ``make_optimizer`` / ``training_loss`` to ``model.py`` (always, when there is a
   model.py), then the TensorFlow half of the check (``training_tf`` in the stage table);
2. orchestrator, after validation (:func:`training_stage`): the torch half in a torch worker
   (``training_torch``), then the comparison (``training_compare``); a failure makes the
   conversion's status ``failed`` (exit code 1), as a failed forward comparison does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.context import StageRecord, Workspace, timed

TRAINING_FILES = ("training_tf.npz", "training_tf.json", "training_index.npz", "training_torch.npz")


def tf_part(
    loaded: Any, config: Any, ws: Workspace, sets: dict[str, Any], stages: list[StageRecord], source: Any
) -> None:
    """TensorFlow worker: training functions into model.py, then the TensorFlow half of the check."""
    from pipeline.training import tf_side

    model_py = ws.root / "model.py"
    translation = ws.root / "translation.json"
    if loaded.keras_model is None or not model_py.is_file() or not translation.is_file():
        return
    info = json.loads(translation.read_text(encoding="utf-8"))
    if info.get("status") not in ("translated", "pending"):
        return
    kind, spec = (source["kind"], source["spec"]) if isinstance(source, dict) else (source.kind, source.spec)
    path = spec if str(getattr(kind, "value", kind)) in ("keras", "h5") else None
    with timed(stages, "training_code"):
        carried = tf_side.write_training_code(loaded, model_py, info, path)
    if not getattr(config, "check_training", True):
        return
    with timed(stages, "training_tf"):
        if carried.get("optimizer_carried") and carried.get("loss_carried"):
            tf_side.ensure_compiled(loaded.keras_model, carried.get("compile_config"))
        tf_side.run(loaded, config, ws.root, sets, carried)


def training_stage(conv: Any) -> None:
    """Orchestrator: the torch half and the comparison; the result goes to ``conv.training``."""
    from pipeline.training import torch_side
    from pipeline.worker import Task, call

    ws = conv.workspace
    if not getattr(conv.config, "check_training", True) or not (ws.root / "training_tf.json").is_file():
        return
    if not (ws.root / "model.py").is_file() or conv.run_errors.get("module"):
        conv.training = {"passed": None, "skipped": "model.py did not run; no training check"}
        return
    info = json.loads((ws.root / "translation.json").read_text(encoding="utf-8"))
    try:
        run = call(
            Task("training_torch", torch_side.task),
            {"workspace": str(ws.root), "inputs": info.get("inputs") or [s.name for s in conv.export.inputs]},
            in_process=conv.in_process_torch,
            log_dir=ws.logs,
            limits=conv.limits(),
            stage="training_torch",
        )
    except Exception as exc:  # the module trains differently or not at all: a failed check, said why
        conv.training = {"passed": False, "first_divergence": f"the torch half failed: {exc}"[:600]}
        conv.stages.append(StageRecord(name="training_torch", seconds=0.0, status="failed"))
        return
    conv.stages.append(StageRecord(name="training_torch", seconds=round(run.seconds, 3)))
    with timed(conv.stages, "training_compare"):
        conv.training = check(ws.root, info.get("weight_map") or {}, run.result)


def check(root: Path, weight_map: dict[str, str], torch_info: dict[str, Any]) -> dict[str, Any]:
    """Compare the two halves' files in ``root``; the report's ``training`` section."""
    from pipeline.training.arrays import ArrayFile, WeightsFile
    from pipeline.training.compare import compare, tolerance_for

    tf_info = json.loads((root / "training_tf.json").read_text(encoding="utf-8"))
    tf_arrays = ArrayFile(root / "training_tf.npz", root / "training_index.npz")
    torch_arrays = ArrayFile(root / "training_torch.npz")
    try:
        before = WeightsFile(root / "model.safetensors")
        result = compare(tf_arrays, torch_arrays, before, weight_map, tf_info, tolerance_for(tf_info, torch_info))
    finally:
        tf_arrays.close()
        torch_arrays.close()
    why = torch_info.get("precision_why") or tf_info.get("precision_why")
    result["precision"] = {"keras": tf_info.get("precision"), "torch": torch_info.get("precision"), "why": why or ""}
    keras_trainable = int(sum(tf_info.get("trainable", {}).values()))
    keras_frozen = int(sum(tf_info.get("non_trainable", {}).values()))
    counts = {
        "keras_trainable": keras_trainable,
        "keras_non_trainable": keras_frozen,
        "torch_trainable": torch_info.get("trainable_params"),
        "torch_non_trainable": torch_info.get("non_trainable_params"),
    }
    counts["equal"] = counts["torch_trainable"] == keras_trainable and counts["torch_non_trainable"] == keras_frozen
    if not counts["equal"]:
        result["passed"] = False
        result["problems"].append(
            f"parameter counts differ: trainable torch {counts['torch_trainable']:,} vs Keras {keras_trainable:,}, "
            f"non-trainable torch {counts['torch_non_trainable']:,} vs Keras {keras_frozen:,}"
        )
        result["first_divergence"] = result["first_divergence"] or result["problems"][-1]
    counts["torch_constants"] = torch_info.get("constant_parameters", [])
    result["parameters"] = counts
    result["deterministic"] = tf_info.get("deterministic", [])
    result["kept_in_eval"] = torch_info.get("kept_in_eval", [])
    result["step"] = {
        "fit": bool(tf_info.get("fit")),
        "keras_optimizer": tf_info.get("keras_optimizer"),
        "torch_optimizer": torch_info.get("optimizer"),
        "torch_fit_functions": bool(torch_info.get("fit")),
    }
    result["compile"] = {
        k: tf_info.get(k) for k in ("compiled", "optimizer", "losses", "regularizers", "constraints", "not_carried")
    }
    result["seconds"] = {"tf": tf_info.get("seconds"), "torch": torch_info.get("seconds")}
    if tf_info.get("fit") and not torch_info.get("fit"):
        result["passed"] = False
        result["problems"].append("model.py has no make_optimizer/training_loss for the compiled model")
    for name in TRAINING_FILES:
        (root / name).unlink(missing_ok=True)
    return result
