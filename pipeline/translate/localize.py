"""When model.py's module differs from TensorFlow: the first Keras layer whose output differs.

Each Keras layer of the model's own graph is compared with the module attribute named after it
(its first call), on one input set: TensorFlow's layer outputs come from a TensorFlow worker that
reloads the model (:func:`tf_layers_task`), the module's from forward hooks in the clean process
(``module_check.py``). Layers without an attribute (functional lines: Add, Flatten...) are not
compared. Channels-first tensors are compared after moving the channel axis back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.worker import Task

TOLERANCE = 1e-4  # of the layer output's spread, as the pipeline's default output tolerance


def tf_layers_task(request: dict[str, Any]) -> dict[str, Any]:
    """TensorFlow worker: every named layer's output on one input set, saved as ``.npz``."""
    from pipeline.config import from_json as config_from_json
    from pipeline.context import from_json
    from pipeline.conversion import model_object
    from pipeline.inputs import load_sets
    from pipeline.sources import Source, SourceKind
    from pipeline.stages.load import load_model

    source = from_json(Source, request["source"])
    source = Source(SourceKind(source.kind), source.spec)
    config = config_from_json(request["config"])
    if source.kind is SourceKind.CALLABLE:  # the same random weights as the conversion's build
        import keras

        keras.utils.set_random_seed(config.seed)
    loaded = load_model(source, config, model_object(source))
    model = loaded.keras_model
    arrays = load_sets(Path(request["inputs"]))[request["set"]]
    feeds = [arrays[s.name] for s in loaded.inputs]
    wanted, tensors = [], []
    for name in request["layers"]:
        try:
            layer = model.get_layer(name)
            output = layer.output
        except (ValueError, AttributeError):
            continue
        if isinstance(output, list | tuple | dict):
            continue
        wanted.append(name)
        tensors.append(output)
    if not tensors:
        return {"layers": []}
    module = type(model).__mro__[0]
    library = __import__(module.__module__.split(".")[0])
    sub = library.Model(model.inputs, tensors)
    values = sub(feeds if len(feeds) > 1 else feeds[0], training=False)
    values = values if isinstance(values, list | tuple) else [values]
    np.savez(request["out"], **{n: np.asarray(v) for n, v in zip(wanted, values, strict=True)})
    return {"layers": wanted}


def compare_layers(
    tf_path: Path, module_path: Path, order: list[tuple[str, str, str]], channels_first: set[str]
) -> dict[str, Any]:
    """Walk ``order`` ((layer, class, attribute)) and find the first layer whose outputs differ;
    attributes in ``channels_first`` hold their output channels-first."""
    trail = []
    first = None
    with np.load(tf_path) as tf_out, np.load(module_path) as mod_out:
        for layer, cls, attr in order:
            if layer not in tf_out.files or attr not in mod_out.files:
                continue
            ref, got = tf_out[layer], mod_out[attr]
            if attr in channels_first and got.ndim >= 3:
                got = np.moveaxis(got, 1, -1)
            if got.shape != ref.shape:
                continue
            spread = float(np.std(ref)) or 1.0
            error = float(np.max(np.abs(got.astype(np.float64) - ref))) / spread if ref.size else 0.0
            entry = {"layer": layer, "class": cls, "attribute": attr, "error_in_spreads": error}
            trail.append(entry)
            if first is None and not error <= TOLERANCE:
                first = entry
    return {"first_layer": first, "compared": len(trail), "trail": trail[:200]}


TRANSLATE_LAYERS_TF = Task("translate_layers_tf", tf_layers_task)
