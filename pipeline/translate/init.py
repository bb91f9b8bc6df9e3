"""``reset_parameters()`` lines reproducing a Keras initializer on a torch weight.

Keras computes fans from its own kernel layout (``(..., in, out)``), torch from its own
(``(out, in, ...)``). For most kernels the two agree and the line reads as written by hand
(``nn.init.xavier_uniform_``); where they differ (depthwise kernels) the bound is spelled out
as Keras computes it.
"""

from __future__ import annotations

import math
from typing import Any

_TRUNC = 0.87962566103423978  # stddev of a unit normal truncated at two stddevs (Keras divides by it)


def keras_fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras's fan_in / fan_out of a variable of ``shape``."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def torch_fans(shape: tuple[int, ...]) -> tuple[float, float] | None:
    if len(shape) < 2:
        return None
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return float(shape[1] * receptive), float(shape[0] * receptive)


def _num(x: float) -> str:
    return f"{x:.6g}"


def init_lines(initializer: Any, target: str, keras_shape: tuple[int, ...], torch_shape: tuple[int, ...]) -> list[str]:
    """Lines initialising ``target`` (``self.conv1.weight``) like ``initializer`` does in Keras."""
    if initializer is None:
        return []
    kind = type(initializer).__name__
    config = initializer.get_config() if hasattr(initializer, "get_config") else {}
    same = torch_fans(torch_shape) == keras_fans(keras_shape)
    fan_in, fan_out = keras_fans(keras_shape)
    if kind in ("Zeros", "ZerosInitializer"):
        return [f"nn.init.zeros_({target})"]
    if kind in ("Ones", "OnesInitializer"):
        return [f"nn.init.ones_({target})"]
    if kind == "Constant":
        return [f"nn.init.constant_({target}, {_num(float(config.get('value', 0.0)))})"]
    if kind == "GlorotUniform" and same:
        return [f"nn.init.xavier_uniform_({target})"]
    if kind == "HeUniform" and same:
        return [f'nn.init.kaiming_uniform_({target}, nonlinearity="relu")']
    presets = {
        "GlorotUniform": (1.0, "fan_avg", "uniform"),
        "GlorotNormal": (1.0, "fan_avg", "truncated_normal"),
        "HeUniform": (2.0, "fan_in", "uniform"),
        "HeNormal": (2.0, "fan_in", "truncated_normal"),
        "LecunUniform": (1.0, "fan_in", "uniform"),
        "LecunNormal": (1.0, "fan_in", "truncated_normal"),
    }
    if kind in presets or kind == "VarianceScaling":
        scale, mode, dist = presets.get(
            kind,
            (float(config.get("scale", 1.0)), str(config.get("mode", "fan_in")), str(config.get("distribution", ""))),
        )
        n = {"fan_in": fan_in, "fan_out": fan_out}.get(mode, (fan_in + fan_out) / 2)
        n = max(1.0, n)
        comment = f"  # Keras {kind}"
        if dist == "uniform":
            limit = math.sqrt(3.0 * scale / n)
            return [f"nn.init.uniform_({target}, -{_num(limit)}, {_num(limit)}){comment}"]
        if dist in ("normal", "untruncated_normal"):
            std = math.sqrt(scale / n) / (_TRUNC if dist == "normal" else 1.0)
            if dist == "normal":
                return [
                    f"nn.init.trunc_normal_({target}, std={_num(std)}, a=-{_num(2 * std)}, b={_num(2 * std)}){comment}"
                ]
            return [f"nn.init.normal_({target}, std={_num(std)}){comment}"]
        std = math.sqrt(scale / n) / _TRUNC
        return [f"nn.init.trunc_normal_({target}, std={_num(std)}, a=-{_num(2 * std)}, b={_num(2 * std)}){comment}"]
    if kind == "RandomNormal":
        mean, std = float(config.get("mean", 0.0)), float(config.get("stddev", 0.05))
        return [f"nn.init.normal_({target}, mean={_num(mean)}, std={_num(std)})"]
    if kind == "RandomUniform":
        low, high = float(config.get("minval", -0.05)), float(config.get("maxval", 0.05))
        return [f"nn.init.uniform_({target}, {_num(low)}, {_num(high)})"]
    if kind == "TruncatedNormal":
        mean, std = float(config.get("mean", 0.0)), float(config.get("stddev", 0.05))
        a, b = mean - 2 * std, mean + 2 * std
        return [f"nn.init.trunc_normal_({target}, mean={_num(mean)}, std={_num(std)}, a={_num(a)}, b={_num(b)})"]
    if kind == "Orthogonal":
        return [f"nn.init.orthogonal_({target}, gain={_num(float(config.get('gain', 1.0)))})"]
    if kind == "Identity" and len(torch_shape) == 2:
        return [f"nn.init.eye_({target})", f"{target}.data.mul_({_num(float(config.get('gain', 1.0)))})"]
    return [f"# {target}: Keras initializer {kind} has no torch counterpart; torch's default is kept"]


def layer_init(
    layer: Any, attribute: str, target: str, keras_shape: tuple[int, ...], torch_shape: tuple[int, ...]
) -> list[str]:
    """Init lines for ``layer.<attribute>`` (``kernel_initializer``) on ``target``."""
    return init_lines(getattr(layer, attribute, None), target, tuple(keras_shape), tuple(torch_shape))
