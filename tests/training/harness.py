"""Run the training check on a Keras model object without the ONNX route: translate it (the
conversion's own translate step), run both halves (real TensorFlow, real torch) in this process,
compare. ``plant`` edits the generated model.py before the torch half runs (a planted fault)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_check(model: Any, folder: Path, plant: Callable[[Path], None] | None = None, **config: Any) -> dict[str, Any]:
    from pipeline.config import ConversionConfig
    from pipeline.context import Workspace
    from pipeline.inputs import make_input_sets, resolve_specs, save_sets
    from pipeline.sources import Source, SourceKind
    from pipeline.stages.load import load_model
    from pipeline.training import torch_side
    from pipeline.training.stage import check, tf_part
    from pipeline.translate.stage import read_translation, translate_in_tf

    cfg = ConversionConfig(edge_inputs=False, **config)
    source = Source(SourceKind.OBJECT, str(id(model)))
    loaded = load_model(source, cfg, model)
    specs = resolve_specs(loaded.inputs, cfg)
    sets = make_input_sets(specs, cfg)
    folder.mkdir(parents=True, exist_ok=True)
    ws = Workspace(folder)
    save_sets(ws.inputs, sets)
    stages: list[Any] = []
    translate_in_tf(loaded, cfg, ws, stages)
    info = read_translation(folder)
    assert info is not None and info["status"] == "translated", info
    tf_part(loaded, cfg, ws, sets, stages, source)
    if plant is not None:
        plant(folder / "model.py")
    result = torch_side.task({"workspace": str(folder), "inputs": [s.name for s in specs]})
    return check(folder, info["weight_map"], result)


def worst(result: dict[str, Any]) -> dict[str, float]:
    """The largest error of each kind, in units of spread (for messages)."""
    return result["worst"]
