"""The TensorFlow half of the training check (runs in the TensorFlow worker, after the reference).

With the model's own weights and the seeded ``random`` input set, in float64 (the model rebuilt
from its config, :mod:`pipeline.training.float64`; float32 where it cannot be, and the report says
why):

1. inference mode: a fixed scalar loss, ``sum_k <P_k, output_k>`` with a seeded random projection
   ``P_k`` of every float output (none left out), and its gradient w.r.t. every trainable variable
   (``tf.GradientTape``);
2. training mode (BatchNorm on batch statistics; Dropout/noise layers set to rate 0 so the step is
   deterministic, listed in the result): one forward and one backward, of the loss ``fit``
   minimises (``model.compute_loss``: compiled loss + regularisers) when the model is compiled,
   else of the same projection loss; one step of the compiled optimizer applies those gradients
   (uncompiled: SGD(0.01));
3. the outputs after the step (inference mode) and every variable's change in it.

Everything is saved in Keras layout keyed by variable path (``training_tf.npz``). Index maps
(:mod:`pipeline.training.index_maps`, ``training_index.npz``) say which Keras element each
state-dict element came from, so the torch side's results can be brought to Keras layout whatever
transposes, splits or gate orders the translator used. The model's variables and layer rates are
restored afterwards.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.helpers import first_line
from pipeline.training.arrays import ArrayWriter
from pipeline.training.compile_config import read_compile_config, training_code
from pipeline.training.float64 import float64_clone, float64_default, widen
from pipeline.training.index_maps import index_maps
from pipeline.training.layer_walk import graph_order, make_deterministic, restore

DEFAULT_LR = 0.01
TF_FILE = "training_tf.npz"
TF_INFO = "training_tf.json"
TF_INDEX = "training_index.npz"


def projections(outputs: list[np.ndarray], seed: int) -> list[np.ndarray | None]:
    """Seeded random projections of the float outputs (scaled so the loss is of order one)."""
    rng = np.random.default_rng(seed + 7919)
    out: list[np.ndarray | None] = []
    for value in outputs:
        if not np.issubdtype(value.dtype, np.floating):
            out.append(None)
            continue
        out.append((rng.standard_normal(value.shape) / np.sqrt(max(value.size, 1))).astype(np.float32))
    return out


def make_targets(
    model: Any, outputs: list[np.ndarray], compile_config: dict[str, Any] | None, seed: int
) -> list[np.ndarray]:
    """Seeded targets shaped as the compiled losses take them (one-hot, class indices, values)."""
    rng = np.random.default_rng(seed + 104729)
    losses = compile_config.get("loss") if compile_config else None
    names = list(getattr(model, "output_names", None) or [])
    targets = []
    for i, value in enumerate(outputs):
        loss = losses
        if isinstance(losses, list | tuple):
            loss = losses[i] if i < len(losses) else None
        elif isinstance(losses, dict) and "class_name" not in losses:
            loss = losses.get(names[i]) if i < len(names) else None
        name = str(loss.get("class_name") if isinstance(loss, dict) else loss).lower().replace("_", "")
        if "sparse" in name:
            targets.append(rng.integers(0, value.shape[-1], value.shape[:-1]).astype(np.int32))
        elif "categorical" in name:
            targets.append(
                np.eye(value.shape[-1], dtype=np.float32)[rng.integers(0, value.shape[-1], value.shape[:-1])]
            )
        elif "binary" in name:
            targets.append(rng.integers(0, 2, value.shape).astype(np.float32))
        else:
            targets.append(rng.standard_normal(value.shape).astype(np.float32))
    return targets


def variable_path(variable: Any) -> str:
    path = getattr(variable, "path", None)
    if path:
        return str(path)
    name = str(getattr(variable, "name", ""))
    return name[:-2] if name.endswith(":0") else name


def output_activations(model: Any) -> dict[str, str]:
    """Output name -> the activation of the layer that makes it (softmax heads compute from logits)."""
    names = list(getattr(model, "output_names", None) or [])
    outputs = model.outputs if isinstance(model.outputs, list | tuple) else [model.outputs]
    found = {}
    for name, tensor in zip(names, outputs, strict=False):
        history = getattr(tensor, "_keras_history", None)
        layer = history[0] if history is not None else None
        kind = type(layer).__name__
        if kind == "Softmax":
            found[name] = "softmax"
        elif kind == "Activation" or hasattr(layer, "activation"):
            act = getattr(layer, "activation", None)
            found[name] = str(getattr(act, "__name__", act or ""))
    return found


def write_training_code(loaded: Any, model_py: Path, info: dict[str, Any], source_path: str | None) -> dict[str, Any]:
    """Append make_optimizer / training_loss to ``model.py``; what they carry, for the report."""
    model = loaded.keras_model
    compile_config = read_compile_config(model, source_path)
    code = training_code(
        model,
        compile_config,
        info.get("weight_map") or {},
        output_keys=info.get("output_keys"),
        activations=output_activations(model),
    )
    if code.source and model_py.is_file():
        # written whole (rename): model.py's own check may be reading it meanwhile
        text = model_py.read_text(encoding="utf-8").rstrip() + "\n\n\n" + code.source
        partial = model_py.with_name(model_py.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(model_py)
    return {
        "compiled": code.compiled,
        "compile_config": compile_config,
        "optimizer": code.optimizer,
        "losses": code.losses,
        "regularizers": code.regularizers,
        "constraints": code.constraints,
        "not_carried": code.not_carried,
        "optimizer_carried": code.optimizer_carried,
        "loss_carried": code.loss_carried,
    }


def run(
    loaded: Any, config: Any, workspace: Path, sets: dict[str, dict[str, np.ndarray]], carried: dict[str, Any]
) -> dict[str, Any]:
    """The TensorFlow half; writes ``training_tf.npz`` / ``training_tf.json`` in ``workspace``."""
    compile_config = carried.get("compile_config")
    use_fit = bool(carried.get("optimizer_carried") and carried.get("loss_carried"))
    with float64_default():
        wide, why = float64_clone(loaded.keras_model)
        if wide is not None and use_fit:
            ensure_compiled(wide, compile_config)
        if wide is not None:
            try:
                info = _run(loaded, wide, config, workspace, sets, carried, "")
            except Exception as exc:  # an op without a float64 kernel: float32, said why
                first = first_line(exc, 200)
                wide, why = None, f"the float64 model does not run in TensorFlow ({type(exc).__name__}: {first})"
    if wide is None:
        info = _run(loaded, loaded.keras_model, config, workspace, sets, carried, why)
    del wide  # the float64 model is done before the index maps' translations start
    gc.collect()
    maps = index_maps(loaded.keras_model, config, [s.name for s in loaded.inputs])
    with ArrayWriter(workspace / TF_INDEX) as out:
        for key in list(maps):
            out[f"index/{key}"] = maps.pop(key)
    return info


def _run(
    loaded: Any,
    model: Any,
    config: Any,
    workspace: Path,
    sets: dict[str, dict[str, np.ndarray]],
    carried: dict[str, Any],
    narrow_why: str,
) -> dict[str, Any]:
    """Both modes on ``model`` (the float64 clone, or the model itself when ``narrow_why`` says
    why no clone); variables are named by the loaded model's paths (the clone's are the same)."""
    import time

    import tensorflow as tf

    original = loaded.keras_model
    dtype = tf.float32 if narrow_why else tf.float64
    batch = sets.get("random") or next(iter(sets.values()))
    feed_arrays = [batch[s.name] for s in loaded.inputs]
    if not narrow_why:
        feed_arrays = [widen(a) for a in feed_arrays]
    dict_inputs = isinstance(getattr(model, "input", None), dict)
    x: Any = (
        dict(zip([s.name for s in loaded.inputs], feed_arrays, strict=True))
        if dict_inputs
        else (feed_arrays if len(feed_arrays) > 1 else feed_arrays[0])
    )
    path_of = {id(v): variable_path(o) for v, o in zip(model.variables, original.variables, strict=True)}
    trainable = list(model.trainable_variables)
    everything = [v for v in model.variables if _is_float(v)]
    # the values before the step: the loaded model's, read when needed (the float64 clone took the
    # step); a copy only when the loaded model itself takes it
    originals = {variable_path(o): o for o in original.variables if _is_float(o)}
    saved = {path: o.numpy() for path, o in originals.items()} if narrow_why else {}

    def before(path: str) -> np.ndarray:
        return saved[path] if narrow_why else originals[path].numpy()

    def flat(result: Any) -> list[Any]:
        if isinstance(result, dict):
            return [result[k] for k in loaded.outputs]
        return list(result) if isinstance(result, list | tuple) else [result]

    def projected(outs: list[Any], projs: list[np.ndarray | None]) -> Any:
        pairs = [(o, p) for o, p in zip(outs, projs, strict=True) if p is not None]
        return tf.add_n([tf.reduce_sum(tf.cast(o, dtype) * tf.cast(p, dtype)) for o, p in pairs])

    def store(prefix: str, grads: list[Any]) -> None:
        for v, g in zip(trainable, grads, strict=True):
            if g is not None and not hasattr(g, "numpy"):  # tf.IndexedSlices (an Embedding's gradient)
                g = tf.convert_to_tensor(g)
            value = np.zeros(v.shape, np.float32) if g is None else np.asarray(g)
            arrays[f"{prefix}/{path_of[id(v)]}"] = value.astype(np.float32)  # ample for the comparison

    seconds: dict[str, float] = {}
    with ArrayWriter(workspace / TF_FILE) as arrays:
        start = time.perf_counter()
        with tf.GradientTape() as tape:
            outs = flat(model(x, training=False))
            projs = projections([np.asarray(o) for o in outs], config.seed)
            loss = projected(outs, projs)
        store("grad_inference", tape.gradient(loss, trainable))
        arrays["loss/inference"] = np.asarray(loss)
        for i, p in enumerate(projs):
            if p is not None:
                arrays[f"projection/{i}"] = p
        seconds["inference"] = time.perf_counter() - start

        notes, saved_rates = make_deterministic(model)
        compile_config = carried.get("compile_config")
        use_fit = bool(carried.get("optimizer_carried") and carried.get("loss_carried"))
        targets = make_targets(model, [np.asarray(o) for o in outs], compile_config if use_fit else None, config.seed)
        for i, t in enumerate(targets):
            arrays[f"target/{i}"] = t
        optimizer = _optimizer(model, compile_config if use_fit else None)
        start = time.perf_counter()
        try:
            with tf.GradientTape() as tape:
                outs = flat(model(x, training=True))
                loss = projected(outs, projs)
                fit_targets = targets if narrow_why else [widen(t) for t in targets]
                fit_loss = _fit_loss(model, x, fit_targets, outs) if use_fit else loss
            for i, o in enumerate(outs):
                arrays[f"train_out/{i}"] = np.asarray(o)
            # one backward in training mode: of the loss the step minimises (fit's, when compiled; the
            # projection's covers every output, and the outputs themselves are compared as well)
            fit_grads = tape.gradient(fit_loss, trainable)
            del tape
            store("grad_fit" if use_fit else "grad_training", fit_grads)
            arrays["loss/training"] = np.asarray(loss)
            arrays["loss/fit"] = np.asarray(fit_loss)
            pairs = [(g, v) for g, v in zip(fit_grads, trainable, strict=True) if g is not None]
            optimizer.apply_gradients(pairs)
            del fit_grads, pairs
            seconds["training"] = time.perf_counter() - start
            after = flat(model(x, training=False))
            for i, o in enumerate(after):
                arrays[f"after/{i}"] = np.asarray(o)
            for v in everything:  # the change, computed in the variable's own precision
                path, value = path_of[id(v)], v.numpy()
                arrays[f"delta/{path}"] = (value - before(path).astype(value.dtype)).astype(np.float32)
        finally:
            restore(saved_rates)
            if narrow_why:  # the loaded model itself took the step
                for v in everything:
                    v.assign(saved[path_of[id(v)]])
        for path in originals:
            arrays[f"before/{path}"] = before(path)
    info = {
        "deterministic": notes,
        "fit": use_fit,
        **carried,
        "precision": "float32" if narrow_why else "float64",
        "precision_why": narrow_why,
        "keras_optimizer": type(optimizer).__name__
        if use_fit
        else f"SGD(learning_rate={DEFAULT_LR}) on the projection loss",
        "trainable": {path_of[id(v)]: int(np.prod(v.shape)) for v in trainable},
        "non_trainable": {  # weights only: a dropout layer's seed state is not one
            path_of[id(v)]: int(np.prod(v.shape)) for v in model.non_trainable_variables if _is_float(v)
        },
        "graph_order": graph_order(original, variable_path),
        "outputs": len(outs),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    (workspace / TF_INFO).write_text(json.dumps(info, indent=1, default=str), encoding="utf-8")
    return info


def _is_float(variable: Any) -> bool:
    return "float" in str(variable.dtype)


def _optimizer(model: Any, compile_config: dict[str, Any] | None) -> Any:
    """A fresh optimizer from the compile config (the model's own is left untouched)."""
    import keras

    if compile_config is None:
        return keras.optimizers.SGD(learning_rate=DEFAULT_LR)
    return keras.optimizers.deserialize(compile_config["optimizer"])


def _fit_loss(model: Any, x: Any, targets: list[np.ndarray], outs: list[Any]) -> Any:
    """What ``fit`` minimises on this batch: ``compute_loss`` of the compiled model."""
    y: Any = targets if len(targets) > 1 else targets[0]
    y_pred: Any = outs if len(outs) > 1 else outs[0]
    if isinstance(getattr(model, "_outputs_struct", None), dict):
        y = dict(zip(model.output_names, targets, strict=True))
        y_pred = dict(zip(model.output_names, outs, strict=True))
    return model.compute_loss(x=x, y=y, y_pred=y_pred)


def ensure_compiled(model: Any, compile_config: dict[str, Any] | None) -> None:
    """Compile a model loaded without its training configuration (loss, loss weights) from it."""
    if compile_config is None or getattr(model, "compiled", False):
        return
    import keras

    model.compile(
        optimizer=keras.optimizers.deserialize(compile_config["optimizer"]),
        loss=compile_config.get("loss"),
        loss_weights=compile_config.get("loss_weights"),
    )
