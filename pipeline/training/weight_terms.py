"""Weight regularisers and constraints of a Keras model as lines of ``model.py`` code.

Keras adds ``l1 * sum(|w|) + l2 * sum(w^2)`` of every regularised trainable variable to the loss
``fit`` minimises; the sums do not depend on layout, so they are written on the torch parameters
the variable maps to. Constraints (NonNeg, MaxNorm, UnitNorm, MinMaxNorm) run after every optimizer
step, as Keras applies them; their norm axes are moved from Keras's kernel layout
``(*spatial, in, out)`` to torch's ``(out, in, *spatial)``.
"""

from __future__ import annotations

from typing import Any


def _variables(model: Any) -> list[Any]:
    return [v for v in getattr(model, "trainable_variables", [])]


def _path(variable: Any) -> str:
    path = getattr(variable, "path", None)
    if path:
        return str(path)
    name = str(getattr(variable, "name", ""))
    return name[:-2] if name.endswith(":0") else name


def _params(path: str, keys_of: dict[str, list[str]]) -> list[str]:
    return [f'module.get_parameter("{k}")' for k in keys_of.get(path, [])]


def regularizer_lines(model: Any, keys_of: dict[str, list[str]], code: Any) -> list[str]:
    """``regularization_loss`` body lines for the L1/L2 regularisers on the model's variables;
    ``code`` (a TrainingCode) collects what is carried and what is not."""
    lines: list[str] = []
    for variable in _variables(model):
        reg = getattr(variable, "regularizer", None)
        if reg is None:
            continue
        path = _path(variable)
        params = _params(path, keys_of)
        kind = type(reg).__name__
        cfg = reg.get_config() if hasattr(reg, "get_config") else {}
        l1, l2 = float(cfg.get("l1", 0.0) or 0.0), float(cfg.get("l2", 0.0) or 0.0)
        if kind not in ("L1", "L2", "L1L2") or not params:
            code.not_carried.append(f"regulariser {kind} on {path}" + ("" if params else " (no torch parameter)"))
            continue
        for param in params:
            if l1:
                lines.append(f"total = total + {l1!r} * {param}.abs().sum()  # {path}: {kind}")
            if l2:
                lines.append(f"total = total + {l2!r} * {param}.square().sum()  # {path}: {kind}")
        code.regularizers.append(f"{kind}(l1={l1:g}, l2={l2:g}) on {path}")
    for layer in _layers(model):
        if getattr(layer, "activity_regularizer", None) is not None:
            code.not_carried.append(f"activity regulariser of layer '{layer.name}'")
    return ["total = 0.0", *lines] if lines else []


def _layers(model: Any) -> list[Any]:
    out: list[Any] = []
    for layer in getattr(model, "layers", []):
        out.append(layer)
        if hasattr(layer, "layers"):
            out += _layers(layer)
    return out


def constraint_lines(model: Any, keys_of: dict[str, list[str]], code: Any) -> list[str]:
    """Step post-hook lines applying the Keras constraints on the model's variables (after each step,
    as Keras's optimizers do); ``code`` collects what is carried and what is not."""
    lines: list[str] = []
    for variable in _variables(model):
        constraint = getattr(variable, "constraint", None)
        if constraint is None:
            continue
        path = _path(variable)
        kind = type(constraint).__name__
        cfg = constraint.get_config() if hasattr(constraint, "get_config") else {}
        keys = keys_of.get(path, [])
        if kind not in ("NonNeg", "MaxNorm", "UnitNorm", "MinMaxNorm") or not keys:
            code.not_carried.append(f"constraint {kind} on {path}")
            continue
        args = f'"{kind}"'
        if kind != "NonNeg":
            rank = len(variable.shape)
            axes = cfg.get("axis", 0)
            axes = list(axes) if isinstance(axes, list | tuple) else [axes]
            if len(keys) != 1 or not keys[0].endswith(".weight") or rank < 2:
                code.not_carried.append(f"constraint {kind} on {path} (axis of a split weight)")
                continue
            dims = tuple(sorted(_torch_axis(a % rank, rank) for a in axes))
            args += f", dims={dims}"
            for name in ("max_value", "min_value", "rate"):
                if name in cfg:
                    args += f", {name}={float(cfg[name])!r}"
        for key in keys:
            lines.append(f'keras_constraint(module.get_parameter("{key}"), {args})  # {path}')
        code.constraints.append(f"{kind} on {path}")
    return lines


def _torch_axis(axis: int, rank: int) -> int:
    """A Keras kernel axis in torch's layout: (*spatial, in, out) -> (out, in, *spatial)."""
    if axis == rank - 1:
        return 0
    if axis == rank - 2:
        return 1
    return axis + 2
