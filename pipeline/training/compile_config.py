"""A Keras model's training configuration as ``model.py`` code: ``make_optimizer`` and ``training_loss``.

:func:`training_code` reads the compile config (``model.get_compile_config()`` or the one stored
in a ``.keras`` / ``.h5`` file: optimizer with its hyper-parameters and learning-rate schedule,
loss(es) with ``from_logits`` / ``label_smoothing`` / ``reduction``, ``loss_weights``) and the
regularisers and constraints on the model's variables, and writes

- ``make_optimizer(module)``: ``torch.optim.SGD`` where it computes what Keras does, else a small
  ``torch.optim.Optimizer`` subclass with Keras's exact update (:mod:`pipeline.training.templates`);
  weight constraints run as a step post-hook;
- ``training_loss(module, outputs, targets)``: the total Keras's ``fit`` minimises, compiled
  loss(es) times their weights plus the weight regularisers (L1/L2 on the mapped parameters);
- ``regularization_loss(module)`` whenever the model has regularisers.

What has no exact counterpart (an optimizer or schedule not listed, activity regularisers, EMA,
a custom loss) is listed in ``not_carried`` and the functions are not emitted for it.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.training import templates
from pipeline.training.weight_terms import constraint_lines, regularizer_lines

LOSS_ALIASES = {
    "categorical_crossentropy": "categorical_crossentropy",
    "categoricalcrossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy",
    "binary_crossentropy": "binary_crossentropy",
    "binarycrossentropy": "binary_crossentropy",
    "mse": "mean_squared_error",
    "mean_squared_error": "mean_squared_error",
    "meansquarederror": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mean_absolute_error": "mean_absolute_error",
    "meanabsoluteerror": "mean_absolute_error",
    "huber": "huber",
    "huber_loss": "huber",
    "kld": "kl_divergence",
    "kl_divergence": "kl_divergence",
    "kldivergence": "kl_divergence",
}
LOSS_ARGS = {  # Keras config key -> generated keyword (the loss function's own arguments)
    "categorical_crossentropy": ("from_logits", "label_smoothing"),
    "sparse_categorical_crossentropy": ("from_logits",),
    "binary_crossentropy": ("from_logits", "label_smoothing"),
    "huber": ("delta",),
}
OPTIMIZER_ARGS = {
    "SGD": ("momentum", "nesterov"),
    "Adam": ("beta_1", "beta_2", "epsilon", "amsgrad"),
    "AdamW": ("beta_1", "beta_2", "epsilon", "amsgrad"),
    "RMSprop": ("rho", "momentum", "epsilon", "centered"),
    "Adagrad": ("initial_accumulator_value", "epsilon"),
}
REDUCTIONS = ("sum_over_batch_size", "mean", "sum")


@dataclass
class TrainingCode:
    """The training functions for ``model.py`` and what they carry."""

    source: str = ""
    compiled: bool = False
    optimizer: str | None = None  # "KerasAdam(lr=0.001, ...)", for the report
    losses: list[str] = field(default_factory=list)
    regularizers: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    not_carried: list[str] = field(default_factory=list)
    sparse_note: str = ""  # what an optimizer does differently with an Embedding's sparse gradient
    optimizer_carried: bool = False
    loss_carried: bool = False


def read_compile_config(model: Any, source_path: str | None = None) -> dict[str, Any] | None:
    """The compile config of a compiled model object, else the one stored in its file (data only)."""
    if getattr(model, "optimizer", None) is not None and getattr(model, "compiled", True):
        try:
            config = model.get_compile_config()
        except Exception:  # tf_keras models or custom objects that do not serialise
            config = None
        if config:
            return config
    if source_path is None:
        return None
    path = Path(source_path)
    try:
        if path.suffix == ".keras" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("config.json")).get("compile_config")
        if path.suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                raw = f.attrs.get("training_config")
            if raw is None:
                return None
            text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            return _from_h5_training_config(json.loads(text))
    except (OSError, KeyError, ValueError):
        return None
    return None


def _from_h5_training_config(config: dict[str, Any]) -> dict[str, Any]:
    optimizer = config.get("optimizer_config")
    return {"optimizer": optimizer, "loss": config.get("loss"), "loss_weights": config.get("loss_weights")}


def training_code(
    model: Any,
    compile_config: dict[str, Any] | None,
    weight_map: dict[str, str],
    *,
    output_keys: list[str] | None = None,
    activations: dict[str, str] | None = None,
) -> TrainingCode:
    """The functions for ``model.py``. ``weight_map``: state-dict key -> Keras variable path;
    ``activations``: output name -> final activation ("softmax", "sigmoid", ...)."""
    code = TrainingCode(compiled=compile_config is not None)
    parts: list[str] = []
    helpers: list[str] = []
    keys_of: dict[str, list[str]] = {}
    for key, path in weight_map.items():
        keys_of.setdefault(path, []).append(key)
    reg_lines = regularizer_lines(model, keys_of, code)
    constraints = constraint_lines(model, keys_of, code)
    if reg_lines:
        parts.append(_function("regularization_loss", "module", _REG_DOC, [*reg_lines, "return total"]))
    if compile_config is not None:
        opt = _optimizer(compile_config.get("optimizer"), constraints, code, helpers)
        if opt is not None:
            parts.append(opt)
        loss = _loss(compile_config, model, bool(reg_lines), code, helpers, output_keys, activations or {})
        if loss is not None:
            parts.append(loss)
    embeddings = [layer.name for layer in _all_layers(model) if type(layer).__name__ == "Embedding"]
    if code.sparse_note and embeddings:
        code.not_carried.append(f"{code.sparse_note}: layer(s) {', '.join(embeddings)}")
    if not parts:
        return code
    blocks = [h for name in helpers for h in [_helper_source(name)] if h]
    header = "# --- training: the compile configuration of the Keras model, as torch code ---\nimport math\n"
    code.source = "\n\n".join([header, *dict.fromkeys(blocks), *parts]).rstrip() + "\n"
    return code


_REG_DOC = "The weight regularisers' penalty Keras adds to the loss (on the parameters they map to)."


def _all_layers(model: Any) -> list[Any]:
    found: list[Any] = []
    for layer in getattr(model, "layers", []) or []:
        found += [layer, *_all_layers(layer)]
    return found


def _helper_source(name: str) -> str:
    if name == "KerasOptimizer":
        return templates.KERAS_OPTIMIZER.strip()
    if name == "reduce_loss":
        return templates.LOSS_REDUCE.strip()
    if name == "keras_constraint":
        return templates.CONSTRAINTS.strip()
    if name.startswith("opt:"):
        return templates.OPTIMIZERS[name[4:]].strip()
    return templates.LOSSES[name].strip()


def _function(name: str, args: str, doc: str, body: list[str]) -> str:
    return "\n".join([f"def {name}({args}):", f'    """{doc}"""', *(f"    {line}" for line in body)])


# --------------------------------------------------------------------------- optimizer


def _num(value: Any) -> Any:
    """A hyper-parameter as written: Keras stores them as float32 (0.10000000149011612 -> 0.1)."""
    if isinstance(value, bool) or not isinstance(value, float):
        return value
    import numpy as np

    short = float(str(np.float32(value)))
    return short if np.float32(short) == np.float32(value) else value


def _optimizer(config: Any, constraints: list[str], code: TrainingCode, helpers: list[str]) -> str | None:
    if not isinstance(config, dict):
        name = str(config)
        config = {
            "class_name": {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}.get(
                name.lower(), name
            ),
            "config": {},
        }
    kind = str(config.get("class_name"))
    cfg = dict(config.get("config") or {})
    if kind not in OPTIMIZER_ARGS:
        code.not_carried.append(f"optimizer {kind} (no exact torch update written)")
        return None
    for flag in ("use_ema", "loss_scale_factor", "gradient_accumulation_steps"):
        if cfg.get(flag):
            code.not_carried.append(f"optimizer {kind}: {flag}={cfg[flag]}")
            return None
    schedule, lr = _schedule(cfg.get("learning_rate", 0.001), code)
    if schedule == "":
        return None
    extras = {k: _num(cfg[k]) for k in OPTIMIZER_ARGS[kind] if k in cfg}
    for name in ("weight_decay", "clipnorm", "global_clipnorm", "clipvalue"):
        if cfg.get(name):
            extras[name] = _num(float(cfg[name]))
    plain_sgd = kind == "SGD" and schedule is None and set(extras) <= {"momentum", "nesterov"}
    body = ["params = [p for p in module.parameters() if p.requires_grad]"]
    if plain_sgd:  # torch's SGD computes Keras's update at a constant rate: m_keras = -lr * buffer
        momentum, nesterov = float(extras.get("momentum", 0.0)), bool(extras.get("nesterov", False))
        args = f"params, lr={lr!r}, momentum={momentum!r}, nesterov={nesterov}"
        ctor = f"torch.optim.SGD({args})"
    else:
        helpers += ["KerasOptimizer", f"opt:{kind}"]
        kwargs = "".join(f", {k}={v!r}" for k, v in extras.items())
        sched = f", schedule={schedule}" if schedule else ""
        ctor = f"Keras{'Adam' if kind == 'AdamW' else kind}(params, lr={lr!r}{kwargs}{sched})"
    body.append(f"optimizer = {ctor}")
    if constraints:
        helpers.append("keras_constraint")
        body += ["", "def constrain(optimizer, args, kwargs):", "    with torch.no_grad():"]
        body += [f"        {line}" for line in constraints]
        body += ["", "optimizer.register_step_post_hook(constrain)"]
    body.append("return optimizer")
    if kind in ("Adam", "AdamW", "RMSprop", "Adagrad"):
        code.sparse_note = (
            f"{kind} on an Embedding: Keras squares its sparse gradient per occurrence of a token, "
            "torch the summed gradient (tokens repeated in a batch move differently)"
        )
    code.optimizer = ctor.replace("params, ", "")
    code.optimizer_carried = True
    doc = f"The optimizer the Keras model was compiled with ({kind}), with its hyper-parameters."
    return _function("make_optimizer", "module", doc, body)


def _schedule(value: Any, code: TrainingCode) -> tuple[str | None, float]:
    """(lambda source or None for a constant; "" when not carried, initial learning rate)."""
    if not isinstance(value, dict):
        return None, _num(float(value))
    kind = value.get("class_name")
    c = value.get("config") or {}
    init = float(c.get("initial_learning_rate", 0.0))
    if kind in ("ExponentialDecay", "InverseTimeDecay"):
        p = f"(step // {c['decay_steps']})" if c.get("staircase") else f"(step / {c['decay_steps']})"
        if kind == "ExponentialDecay":
            return f"lambda step: {init!r} * {float(c['decay_rate'])!r} ** {p}", init
        return f"lambda step: {init!r} / (1 + {float(c['decay_rate'])!r} * {p})", init
    if kind == "PiecewiseConstantDecay":
        bounds, values = c["boundaries"], [float(v) for v in c["values"]]
        expr = repr(values[-1])
        for b, v in reversed(list(zip(bounds, values[:-1], strict=True))):
            expr = f"({v!r} if step <= {b!r} else {expr})"
        return f"lambda step: {expr}", values[0]
    if kind == "CosineDecay" and not c.get("warmup_steps"):
        steps, alpha = c["decay_steps"], float(c.get("alpha", 0.0))
        cos = f"0.5 * (1 + math.cos(math.pi * min(step, {steps}) / {steps}))"
        return f"lambda step: {init!r} * ((1 - {alpha!r}) * {cos} + {alpha!r})", init
    if kind == "PolynomialDecay" and not c.get("cycle"):
        steps, end, power = c["decay_steps"], float(c.get("end_learning_rate", 0.0001)), float(c.get("power", 1.0))
        frac = f"(1 - min(step, {steps}) / {steps})"
        return f"lambda step: ({init!r} - {end!r}) * {frac} ** {power!r} + {end!r}", init
    code.not_carried.append(f"learning-rate schedule {kind}")
    return "", init


# --------------------------------------------------------------------------- loss


def _loss_entries(config: Any, n: int, keys: list[str] | None) -> list[Any] | None:
    if isinstance(config, dict) and "class_name" not in config:  # per-output dict
        if keys is None:
            return None
        return [config.get(k) for k in keys]
    if isinstance(config, list | tuple):
        return list(config) if len(config) == n else None
    return [config] * n


def _loss(
    compile_config: dict[str, Any],
    model: Any,
    has_regs: bool,
    code: TrainingCode,
    helpers: list[str],
    keys: list[str] | None,
    activations: dict[str, str],
) -> str | None:
    outputs = list(getattr(model, "output_names", None) or [])
    n = max(len(outputs), 1)
    entries = _loss_entries(compile_config.get("loss"), n, keys)
    if entries is None or all(e is None for e in entries):
        code.not_carried.append(f"loss {compile_config.get('loss')!r}")
        return None
    weights = compile_config.get("loss_weights")
    if isinstance(weights, dict):
        weights = [weights.get(k, 1.0) for k in (keys or outputs)]
    weights = list(weights) if isinstance(weights, list | tuple) else [1.0] * n
    terms: list[str] = []
    helpers.append("reduce_loss")
    for i, entry in enumerate(entries):
        if entry is None:
            continue
        term = _loss_term(entry, i, activations.get(outputs[i] if i < len(outputs) else "", ""), code, helpers)
        if term is None:
            return None
        w = float(weights[i]) if i < len(weights) else 1.0
        terms.append(term if w == 1.0 else f"{w!r} * {term}")
    body = [
        "if isinstance(outputs, dict):",
        f"    keys = {keys!r}" if keys else "    keys = list(outputs)",
        "    outputs = [outputs[k] for k in keys]",
        "    targets = [targets[k] for k in keys] if isinstance(targets, dict) else list(targets)",
        "elif not isinstance(outputs, (tuple, list)):",
        "    outputs, targets = [outputs], [targets]",
        f"total = {' + '.join(terms)}",
    ]
    if has_regs:
        body.append("total = total + regularization_loss(module)")
    body.append("return total")
    code.loss_carried = True
    doc = "The loss Keras's fit minimises: the compiled loss(es) times their weights, plus the regularisers."
    return _function("training_loss", "module, outputs, targets", doc, body)


def _loss_term(entry: Any, i: int, activation: str, code: TrainingCode, helpers: list[str]) -> str | None:
    if isinstance(entry, dict):
        name, cfg = str(entry.get("class_name")), dict(entry.get("config") or {})
    else:
        name, cfg = str(entry), {}
    kind = LOSS_ALIASES.get(name.lower())
    reduction = cfg.get("reduction", "sum_over_batch_size")
    if kind is None or reduction not in REDUCTIONS:
        code.not_carried.append(f"loss {name} (reduction {reduction})" if kind else f"loss {name}")
        return None
    args = [f"outputs[{i}]", f"targets[{i}]"]
    for key in LOSS_ARGS.get(kind, ()):
        if key in cfg and cfg[key] not in (False, 0, 0.0, None):
            args.append(f"{key}={cfg[key]!r}")
    if not cfg.get("from_logits"):
        if kind in ("categorical_crossentropy", "sparse_categorical_crossentropy") and activation == "softmax":
            args.append("softmax_output=True")
        if kind == "binary_crossentropy" and activation == "sigmoid":
            args.append("sigmoid_output=True")
    helpers.append(kind)
    code.losses.append(f"{kind}({', '.join(a for a in args[2:])}) on output {i}, reduction {reduction}")
    return f"reduce_loss({kind}({', '.join(args)}), {str(reduction)!r})"
