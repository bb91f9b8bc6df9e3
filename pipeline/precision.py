"""Low-precision models: the compute dtype a Keras model rounds to, and the tolerances that follow it.

A ``mixed_float16`` or bfloat16 model rounds every activation to 11 (float16) or 8 (bfloat16)
significant bits in TensorFlow itself; the runtimes it is compared with round at other places
(ONNX Runtime fuses, torch computes bfloat16 layers in float32). Differences of a few units of
that precision are the reference's own rounding, not a runtime's error, so the default tolerance
widens to twice the compute dtype's machine epsilon. Tolerances a config sets are kept as given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.config import ConversionConfig, Tolerance

EPSILON = {"float16": 2.0**-10, "bfloat16": 2.0**-7}


def compute_dtype(model: Any) -> str | None:
    """The lowest-precision compute dtype of any layer of ``model`` (``float16``/``bfloat16``), or None."""
    flatten = getattr(model, "_flatten_layers", None)
    found: set[str] = set()
    for layer in flatten(include_self=True, recursive=True) if flatten else []:
        dtype = str(getattr(layer, "compute_dtype", "") or "")
        if dtype in EPSILON:
            found.add(dtype)
    return max(found, key=EPSILON.__getitem__) if found else None


def tolerance_for(config: ConversionConfig, dtype: str | None) -> Callable[[str], Tolerance]:
    """``config.tolerance_for``, widened to the compute dtype's epsilon where the config set nothing."""
    if dtype not in EPSILON:
        return config.tolerance_for
    widened = widen(config.tolerance, dtype)

    def pick(output: str) -> Tolerance:
        if output in config.tolerances:
            return config.tolerances[output]
        return widened

    return pick


def widen(tolerance: Tolerance, dtype: str) -> Tolerance:
    """``tolerance`` if a config set it, else ``2 * epsilon(dtype)`` for both atol and rtol."""
    if tolerance != Tolerance():
        return tolerance
    bound = 2 * EPSILON[dtype]
    return Tolerance(atol=max(tolerance.atol, bound), rtol=max(tolerance.rtol, bound))


def note(config: ConversionConfig, dtype: str | None) -> str | None:
    """The report line saying the tolerance followed the compute dtype, or None."""
    if dtype not in EPSILON:
        return None
    tol = widen(config.tolerance, dtype)
    if tol == config.tolerance:
        return f"the model computes in {dtype}; the configured tolerance is kept"
    return f"the model computes in {dtype}: default tolerance widened to atol={tol.atol:.3g}, rtol={tol.rtol:.3g}"
