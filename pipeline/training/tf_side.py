"""The TensorFlow half of the training check (runs in the TensorFlow worker, after the reference).

With the model's own weights and the seeded ``random`` input set:

1. inference mode: a fixed scalar loss, ``sum_k <P_k, output_k>`` with a seeded random projection
   ``P_k`` of every float output (none left out), and its gradient w.r.t. every trainable variable
   (``tf.GradientTape``);
2. training mode (BatchNorm on batch statistics; Dropout/noise layers set to rate 0 so the step is
   deterministic, listed in the result): one forward, the same projection loss and its gradients,
   and the loss ``fit`` minimises (``model.compute_loss``: compiled loss + regularisers) with its
   gradients, which one step of the compiled optimizer applies (uncompiled: SGD(0.01) on the
   projection loss);
3. the outputs after the step (inference mode), every variable after the step.

Everything is saved in Keras layout keyed by variable path (``training_tf.npz``). Index maps
(:func:`index_maps`) say which Keras element each state-dict element came from, so the torch side's
results can be brought to Keras layout whatever transposes, splits or gate orders the translator
used. The model's variables and layer rates are restored afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.training.compile_config import read_compile_config, training_code
from pipeline.training.tf_noise import inference_noise

STOCHASTIC = {  # Keras class -> attributes that make it random in training
    "Dropout": ("rate",),
    "SpatialDropout1D": ("rate",),
    "SpatialDropout2D": ("rate",),
    "SpatialDropout3D": ("rate",),
    "AlphaDropout": ("rate",),
    "GaussianDropout": ("rate",),
    "GaussianNoise": ("stddev",),
}
RECURRENT_RATES = ("dropout", "recurrent_dropout")
DEFAULT_LR = 0.01
TF_FILE = "training_tf.npz"
TF_INFO = "training_tf.json"


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


def _layers(model: Any) -> list[Any]:
    """Every layer inside ``model`` in the order Keras lists them, then the layers held inside
    layers (RNN cells, wrapped layers, an attention layer's dropout), depth first, each once."""
    return [layer for _, layer in _named_layers(model)]


def _named_layers(model: Any, owner: str | None = None, seen: set[int] | None = None) -> list[tuple[str, Any]]:
    """:func:`_layers` with a name for each: a layer of the model's graph by its own name, a layer
    held in another layer's attribute as ``<owner>/<attribute>`` (``mha/dropout``). Keras numbers
    the names it makes up (``dropout_2``) by how many such layers the process built before, so
    those names would change from run to run; the attribute does not."""
    seen = set() if seen is None else seen
    out: list[tuple[str, Any]] = []
    inner = [(None, layer) for layer in getattr(model, "layers", []) or []]
    inner += [
        (attr, v)
        for attr, v in vars(model).items()
        if type(v).__module__.startswith(("keras.", "tf_keras.")) and hasattr(v, "call")
    ]
    for attr, layer in inner:
        if id(layer) in seen or layer is model:
            continue
        seen.add(id(layer))
        name = str(layer.name)
        if attr is not None and owner is not None:
            name = f"{owner}/{attr.strip('_').removesuffix('_layer') or attr}"
        out.append((name, layer))
        out += _named_layers(layer, name, seen)
    return out


def make_deterministic(model: Any) -> tuple[list[str], list[tuple[Any, str, Any]]]:
    """Set every dropout/noise rate of the model to 0; (report lines, what to restore)."""
    notes: list[str] = []
    saved: list[tuple[Any, str, Any]] = []
    for name, layer in _named_layers(model):
        kind = type(layer).__name__
        attrs = STOCHASTIC.get(kind, ()) + tuple(a for a in RECURRENT_RATES if "Cell" in kind or "RNN" in kind)
        attrs += ("dropout",) if kind in ("MultiHeadAttention", "Attention", "AdditiveAttention") else ()
        for attr in attrs:
            value = getattr(layer, attr, None)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                try:
                    setattr(layer, attr, 0.0)
                except AttributeError:  # a read-only property: the layer's own Dropout sublayer has it
                    continue
                saved.append((layer, attr, value))
                notes.append(f"{name} ({kind}): {attr} {value:g} -> 0")
    return notes, saved


def restore(saved: list[tuple[Any, str, Any]]) -> None:
    for layer, attr, value in saved:
        setattr(layer, attr, value)


def variable_path(variable: Any) -> str:
    path = getattr(variable, "path", None)
    if path:
        return str(path)
    name = str(getattr(variable, "name", ""))
    return name[:-2] if name.endswith(":0") else name


def index_maps(model: Any, config: Any, input_names: list[str]) -> dict[str, np.ndarray]:
    """state-dict key -> flat index into its Keras variable for every element (-1: not a Keras element).

    The model is translated again with each float variable holding its own element numbers
    (1..n), so whatever the translator does to a weight (transposes, gate reorders, splits), the
    numbers say where each element came from. Layers only the ONNX fallback translates have no map.
    """
    from pipeline.translate import translate_model
    from pipeline.translate.base import Decline

    variables = [v for v in model.variables if "float32" in str(v.dtype) and 0 < int(np.prod(v.shape)) < 2**24]
    saved = [v.numpy() for v in variables]
    try:
        for v in variables:
            v.assign(np.arange(1, int(np.prod(v.shape)) + 1, dtype=np.float32).reshape(v.shape))
        try:
            code = translate_model(model, layout=config.layout, input_names=input_names)
        except Decline:
            return {}
    finally:
        for v, value in zip(variables, saved, strict=True):
            v.assign(value)
    maps = {}
    for key, array in code.weights.items():
        if key not in code.weight_map or not np.issubdtype(array.dtype, np.floating):
            continue
        codes = np.asarray(array, np.float64)
        index = np.where((codes >= 1) & (codes == np.round(codes)), codes - 1, -1).astype(np.int64)
        maps[key] = index
    return maps


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
        text = model_py.read_text(encoding="utf-8").rstrip() + "\n\n\n" + code.source
        model_py.write_text(text, encoding="utf-8")
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
    import tensorflow as tf

    model = loaded.keras_model
    batch = sets.get("random") or next(iter(sets.values()))
    feed_arrays = [batch[s.name] for s in loaded.inputs]
    dict_inputs = isinstance(getattr(model, "input", None), dict)
    x: Any = (
        dict(zip([s.name for s in loaded.inputs], feed_arrays, strict=True))
        if dict_inputs
        else (feed_arrays if len(feed_arrays) > 1 else feed_arrays[0])
    )
    trainable = list(model.trainable_variables)
    everything = [v for v in model.variables if _is_float(v)]
    before = {variable_path(v): v.numpy() for v in everything}
    arrays: dict[str, np.ndarray] = {}

    def flat(result: Any) -> list[Any]:
        if isinstance(result, dict):
            return [result[k] for k in loaded.outputs]
        return list(result) if isinstance(result, list | tuple) else [result]

    def projected(outs: list[Any], projs: list[np.ndarray | None]) -> Any:
        return tf.add_n(
            [tf.reduce_sum(tf.cast(o, tf.float32) * p) for o, p in zip(outs, projs, strict=True) if p is not None]
        )

    seconds: dict[str, float] = {}
    import time

    start = time.perf_counter()
    with tf.GradientTape() as tape:
        outs = flat(model(x, training=False))
        projs = projections([np.asarray(o) for o in outs], config.seed)
        loss = projected(outs, projs)
    grads = tape.gradient(loss, trainable)
    _store(arrays, "grad_inference", trainable, grads)
    arrays["loss/inference"] = np.asarray(loss)
    for i, p in enumerate(projs):
        if p is not None:
            arrays[f"projection/{i}"] = p
    seconds["inference"] = time.perf_counter() - start
    start = time.perf_counter()
    arrays |= inference_noise(model, x, projs, grads, [variable_path(v) for v in trainable], flat)
    seconds["float64_replay"] = time.perf_counter() - start

    notes, saved_rates = make_deterministic(model)
    compile_config = carried.get("compile_config")
    use_fit = bool(carried.get("optimizer_carried") and carried.get("loss_carried"))
    targets = make_targets(model, [np.asarray(o) for o in outs], compile_config if use_fit else None, config.seed)
    for i, t in enumerate(targets):
        arrays[f"target/{i}"] = t
    optimizer = _optimizer(model, compile_config if use_fit else None)
    start = time.perf_counter()
    try:
        with tf.GradientTape(persistent=use_fit) as tape:
            outs = flat(model(x, training=True))
            loss = projected(outs, projs)
            fit_loss = _fit_loss(model, x, targets, outs) if use_fit else loss
        for i, o in enumerate(outs):
            arrays[f"train_out/{i}"] = np.asarray(o)
        grads = tape.gradient(loss, trainable)
        fit_grads = tape.gradient(fit_loss, trainable) if use_fit else grads
        del tape
        _store(arrays, "grad_training", trainable, grads)
        _store(arrays, "grad_fit", trainable, fit_grads)
        arrays["loss/training"] = np.asarray(loss)
        arrays["loss/fit"] = np.asarray(fit_loss)
        pairs = [(g, v) for g, v in zip(fit_grads, trainable, strict=True) if g is not None]
        optimizer.apply_gradients(pairs)
        seconds["training"] = time.perf_counter() - start
        after = flat(model(x, training=False))
        for i, o in enumerate(after):
            arrays[f"after/{i}"] = np.asarray(o)
        for v in everything:
            arrays[f"value/{variable_path(v)}"] = v.numpy()
    finally:
        restore(saved_rates)
        for v in everything:
            v.assign(before[variable_path(v)])
    for path, value in before.items():
        arrays[f"before/{path}"] = value
    input_names = [s.name for s in loaded.inputs]
    maps = index_maps(model, config, input_names)
    for key, index in maps.items():
        arrays[f"index/{key}"] = index
    np.savez(workspace / TF_FILE, **arrays)
    info = {
        "deterministic": notes,
        "fit": use_fit,
        **carried,
        "keras_optimizer": type(optimizer).__name__
        if use_fit
        else f"SGD(learning_rate={DEFAULT_LR}) on the projection loss",
        "trainable": {variable_path(v): int(np.prod(v.shape)) for v in trainable},
        "non_trainable": {  # weights only: a dropout layer's seed state is not one
            variable_path(v): int(np.prod(v.shape)) for v in model.non_trainable_variables if _is_float(v)
        },
        "graph_order": _graph_order(model),
        "outputs": len(outs),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    (workspace / TF_INFO).write_text(json.dumps(info, indent=1, default=str), encoding="utf-8")
    return info


def _is_float(variable: Any) -> bool:
    return "float" in str(variable.dtype)


def _store(arrays: dict[str, np.ndarray], prefix: str, variables: list[Any], grads: list[Any]) -> None:
    for v, g in zip(variables, grads, strict=True):
        if g is not None and not hasattr(g, "numpy"):  # tf.IndexedSlices (an Embedding's gradient)
            import tensorflow as tf

            g = tf.convert_to_tensor(g)
        arrays[f"{prefix}/{variable_path(v)}"] = np.zeros(v.shape, np.float32) if g is None else np.asarray(g)


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
    if compile_config is None or getattr(model, "compiled_loss", None) is not None or getattr(model, "compiled", False):
        return
    import keras

    model.compile(
        optimizer=keras.optimizers.deserialize(compile_config["optimizer"]),
        loss=compile_config.get("loss"),
        loss_weights=compile_config.get("loss_weights"),
    )


def _graph_order(model: Any) -> list[str]:
    """Variable paths in the order their layers run (for naming the first divergence)."""
    paths = [variable_path(v) for layer in _layers(model) for v in getattr(layer, "weights", [])]
    return list(dict.fromkeys(paths))
