"""Stage 6: compare TensorFlow, ONNX Runtime and torch outputs, pair by pair, output by output.

The element check is ``|a - b| <= atol * s + rtol * |b|`` with ``s = std(b)``, the spread of
the reference output: the absolute tolerance is scale-aware. Random-weight networks put their
outputs at any scale (MobileNetV2's logits have a spread of ~4e-12, ResNet50's ~9), while the
disagreement between two correct runtimes is a fixed fraction of that spread (~1e-6 in float32),
so a fixed absolute atol either passes everything or nothing. The rtol term covers outputs whose
values are nearly constant (float32 resolution). Outputs behind a softmax are also compared as
logits, because near-uniform probabilities agree whatever the runtimes do. As in Polygraphy,
each comparison reports the tolerance that would have been needed (``needed_atol`` in units of
the spread).

Per output the result is the worst case over the input sets; per input set (``sets``) the pair
says whether every output agreed, and an input set that one side could not run at all (a model
exported with a fixed batch, given a batch it does not take) fails the pair with that side's
error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.config import Tolerance

PAIRS = (
    ("tf_vs_ort", "tf", "ort"),
    ("ort_vs_torch", "ort", "torch"),
    ("tf_vs_torch", "tf", "torch"),
    ("tf_vs_module", "tf", "module"),  # model.py (pipeline/translate)
)
RUNTIMES = {"tf": "TensorFlow", "ort": "ONNX Runtime", "torch": "torch", "module": "model.py"}
LOGITS_SUFFIX = ":logits"


@dataclass
class Comparison:
    """One output (or logits) of one pair, worst case over the input sets."""

    passed: bool
    max_abs_error: float
    max_rel_error: float
    mismatch_fraction: float
    needed_atol: float
    needed_rtol: float
    atol: float
    rtol: float
    scale: float
    worst_set: str | None = None
    informative: bool = True
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{verdict} max_abs={self.max_abs_error:.3g} max_rel={self.max_rel_error:.3g} "
            f"(needed atol={self.needed_atol:.3g} at rtol={self.rtol:g})"
        )


@dataclass
class SetResult:
    """One input set of one pair: did every output agree, or why it could not be compared."""

    passed: bool
    max_abs_error: float | None = None
    failed_outputs: list[str] = field(default_factory=list)
    error: str | None = None  # the set did not run on one side (e.g. a batch size the model does not take)


@dataclass
class PairResult:
    """All outputs of one pair of runtimes."""

    passed: bool | None  # None: skipped (a side did not run)
    max_abs_error: float | None
    outputs: dict[str, Comparison] = field(default_factory=dict)
    skipped: str | None = None
    sets: dict[str, SetResult] = field(default_factory=dict)


def compare_arrays(a: np.ndarray, b: np.ndarray, tol: Tolerance) -> Comparison:
    """Compare candidate ``a`` against reference ``b`` (see module docstring for the rule)."""
    if a.shape != b.shape:
        return Comparison(
            False,
            float("inf"),
            float("inf"),
            1.0,
            float("inf"),
            float("inf"),
            tol.atol,
            tol.rtol,
            0.0,
            reason=f"shape {list(a.shape)} != {list(b.shape)}",
        )
    if b.dtype == np.bool_ or np.issubdtype(b.dtype, np.integer):
        diff = a != b
        frac = float(diff.mean()) if diff.size else 0.0
        err = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if diff.size else 0.0
        return Comparison(
            frac == 0,
            err,
            err,
            frac,
            err,
            0.0,
            0.0,
            0.0,
            1.0,
            reason=None if frac == 0 else f"{diff.sum()} of {diff.size} values differ",
        )
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    nan_a, nan_b = np.isnan(a64), np.isnan(b64)
    if (nan_a != nan_b).any():
        n = int((nan_a != nan_b).sum())
        return Comparison(
            False,
            float("nan"),
            float("nan"),
            n / a.size,
            float("inf"),
            float("inf"),
            tol.atol,
            tol.rtol,
            0.0,
            reason=f"{n} values are NaN on one side only",
        )
    finite = ~nan_b
    a64, b64 = a64[finite], b64[finite]
    if a64.size == 0:
        return Comparison(True, 0.0, 0.0, 0.0, 0.0, 0.0, tol.atol, tol.rtol, 0.0)
    spread = float(b64.std())
    peak = float(np.abs(b64[np.isfinite(b64)]).max()) if np.isfinite(b64).any() else 0.0
    scale = spread if spread > 0 else (peak if peak > 0 else 1.0)
    diff = np.abs(a64 - b64)
    same_inf = np.isinf(a64) & np.isinf(b64) & (np.sign(a64) == np.sign(b64))
    diff[same_inf] = 0.0
    ref = np.abs(b64)
    ref[np.isinf(ref)] = 0.0
    allowed = tol.atol * scale + tol.rtol * ref
    bad = diff > allowed
    max_abs = float(diff.max())
    rel = diff / np.maximum(ref, np.finfo(np.float32).tiny)
    needed_atol = float(np.max(np.maximum(diff - tol.rtol * ref, 0.0)) / scale)
    needed_rtol = float(np.max(np.maximum(diff - tol.atol * scale, 0.0) / np.maximum(ref, 1e-30)))
    informative = a64.size == 1 or spread > 0
    return Comparison(
        passed=not bool(bad.any()),
        max_abs_error=max_abs,
        max_rel_error=float(rel.max()),
        mismatch_fraction=float(bad.mean()),
        needed_atol=needed_atol,
        needed_rtol=min(needed_rtol, 1e30),
        atol=tol.atol,
        rtol=tol.rtol,
        scale=scale,
        informative=informative,
        reason=None if not bad.any() else f"{int(bad.sum())} of {bad.size} values outside tolerance",
    )


Outputs = dict[str, dict[str, np.ndarray]]  # set -> tensor key -> array


def compare_runs(
    candidate: Outputs,
    reference: Outputs,
    tolerance_for: Any,
    keys: list[str] | None = None,
    errors: dict[str, str] | None = None,
) -> PairResult:
    """Compare two runtimes over every set they share; worst case per output.

    ``errors`` maps an input set to the reason one side could not run it; such a set fails the pair.
    """
    outputs: dict[str, Comparison] = {}
    sets: dict[str, SetResult] = {}
    for set_name, message in (errors or {}).items():
        sets[set_name] = SetResult(passed=False, error=message)
    for set_name, ref_arrays in reference.items():
        cand_arrays = candidate.get(set_name)
        if cand_arrays is None or set_name in sets:
            continue
        per_set = SetResult(passed=True, max_abs_error=0.0)
        for key in keys or list(ref_arrays):
            if key not in ref_arrays or key not in cand_arrays:
                continue
            base = key[: -len(LOGITS_SUFFIX)] if key.endswith(LOGITS_SUFFIX) else key
            result = compare_arrays(cand_arrays[key], ref_arrays[key], tolerance_for(base))
            result.worst_set = set_name
            if not result.passed:
                per_set.passed = False
                per_set.failed_outputs.append(key)
            per_set.max_abs_error = max(
                per_set.max_abs_error or 0.0, float(np.nan_to_num(result.max_abs_error, nan=np.inf))
            )
            previous = outputs.get(key)
            if previous is None or _worse(result, previous):
                outputs[key] = result
        sets[set_name] = per_set
    if not outputs and not any(r.error for r in sets.values()):
        return PairResult(passed=None, max_abs_error=None, skipped="no common outputs")
    passed = all(c.passed for c in outputs.values()) and all(r.passed for r in sets.values())
    max_abs = max((c.max_abs_error for c in outputs.values()), default=None)
    return PairResult(passed=passed, max_abs_error=max_abs, outputs=outputs, sets=sets)


def _worse(new: Comparison, old: Comparison) -> bool:
    if new.passed != old.passed:
        return not new.passed
    return bool(np.nan_to_num(new.max_abs_error, nan=np.inf) > np.nan_to_num(old.max_abs_error, nan=np.inf))


def validate(
    runs: dict[str, Outputs | None], tolerance_for: Any, errors: dict[str, dict[str, str]] | None = None
) -> dict[str, PairResult]:
    """All three pairs; a pair whose side did not run is skipped (passed = None).

    ``errors`` maps a runtime (``tf``, ``ort``, ``torch``) to the input sets it could not run.
    """
    errors = errors or {}
    results = {}
    for pair, left, right in PAIRS:
        cand, ref = runs.get(right), runs.get(left)
        if cand is None or ref is None:
            missing = left if ref is None else right
            results[pair] = PairResult(passed=None, max_abs_error=None, skipped=f"no {missing} outputs")
            continue
        failed: dict[str, str] = {}
        for side in (left, right):
            for set_name, message in errors.get(side, {}).items():
                text = f"did not run in {RUNTIMES[side]}: {message}"
                failed[set_name] = f"{failed[set_name]}; {text}" if set_name in failed else text
        results[pair] = compare_runs(cand, ref, tolerance_for, errors=failed)
    return results


def merge_probes(outputs: Outputs, probes: Outputs | None) -> Outputs:
    """Outputs plus logits probes (keys ``<output>:logits``) in one mapping."""
    merged = {s: dict(v) for s, v in outputs.items()}
    for set_name, values in (probes or {}).items():
        merged.setdefault(set_name, {}).update(values)
    return merged
