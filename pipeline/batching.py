"""Input sets run as one call per runtime: sets that fit together are concatenated along the batch.

The default validation sets of an image model are ``random`` (batch 2), ``batch1`` and three edge
sets (batch 1 each): five forward passes per runtime, each paying the per-call cost (kernel and
memory set-up, Python dispatch). :func:`run_merged` concatenates every set whose inputs all have a
batch axis at 0 and agree on the other dimensions and dtypes into one call, splits the outputs
back per set, and runs ``batch1`` on its own (it checks a batch of one, which a merged call would
hide). When a merged call fails or its outputs do not carry the batch at axis 0, its sets run
one by one as before, so an error still names the set that caused it.

Merging assumes that the rows of a batch do not affect one another. A model can break that (a
``tf.cond`` on ``flag[0, 0]`` takes one branch for the whole batch), so ``batch1``, when it fits a
merged call, rides along as its last rows: where its rows there differ from its own call, the
merged sets run one by one too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

Sets = dict[str, dict[str, np.ndarray]]
Outputs = dict[str, dict[str, np.ndarray]]
RunSets = Callable[[Sets], tuple[Outputs, dict[str, str]]]  # sets -> (outputs per set, errors per set)
ALONE = ("batch1",)  # sets that always run on their own
MERGED = "merged:"  # prefix of a merged set's name


def plan(sets: Sets, batch_axes: dict[str, int | None]) -> list[list[str]]:
    """Groups of set names to run as one call each (a group of one runs as it is), in set order."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    order: list[list[str]] = []
    for name, arrays in sets.items():
        key = _signature(arrays, batch_axes) if name not in ALONE else None
        if key is None:
            order.append([name])
            continue
        if key not in groups:
            groups[key] = []
            order.append(groups[key])
        groups[key].append(name)
    return order


def _signature(arrays: dict[str, np.ndarray], batch_axes: dict[str, int | None]) -> tuple[Any, ...] | None:
    """What sets must share to be concatenated; None when a set cannot be (an input without batch axis 0)."""
    parts = []
    for input_name, array in sorted(arrays.items()):
        if batch_axes.get(input_name) != 0 or array.ndim == 0:
            return None
        parts.append((input_name, array.dtype.str, array.shape[1:]))
    return tuple(parts)


def run_merged(run: RunSets, sets: Sets, batch_axes: dict[str, int | None]) -> tuple[Outputs, dict[str, str]]:
    """``run`` over ``sets`` with the sets that fit together merged into one call each (see the module)."""
    groups = plan(sets, batch_axes)
    if all(len(group) == 1 for group in groups):
        return run(sets)
    calls: Sets = {}
    witness = {s: _signature(sets[s], batch_axes) for s in ALONE if s in sets}  # rides along, see the module
    riders: dict[str, str] = {}
    for group in groups:
        name = group[0] if len(group) == 1 else MERGED + "+".join(group)
        if len(group) == 1:
            calls[name] = sets[group[0]]
            continue
        signature = _signature(sets[group[0]], batch_axes)
        rider = next((s for s, sig in witness.items() if sig is not None and sig == signature), None)
        members = [sets[s] for s in group] + ([sets[rider]] if rider else [])
        calls[name] = _concat(members)
        if rider:
            riders[name] = rider
    try:
        outputs, errors = run(calls)
    except Exception:  # e.g. no call ran at all: the sets one by one decide what is an error
        return run(sets)
    result: Outputs = {}
    result_errors: dict[str, str] = {}
    again: Sets = {}
    for group, name in zip(groups, calls, strict=True):
        if len(group) == 1:
            if name in outputs:
                result[name] = outputs[name]
            if name in errors:
                result_errors[name] = errors[name]
            continue
        rider = riders.get(name)
        rows = [_rows(sets[s]) for s in group] + ([_rows(sets[rider])] if rider else [])
        parts = _split(outputs.get(name), rows)
        if parts is not None and rider and not _same(parts.pop(), outputs.get(rider)):
            parts = None  # the rows of the merged call depend on one another
        if parts is None:
            again.update({s: sets[s] for s in group})
        else:
            result.update(zip(group, parts, strict=True))
    if again:
        more, more_errors = run(again)
        result.update(more)
        result_errors.update(more_errors)
    ordered = {name: result[name] for name in sets if name in result}
    return ordered, {name: result_errors[name] for name in sets if name in result_errors}


def _same(merged: dict[str, np.ndarray], alone: dict[str, np.ndarray] | None) -> bool:
    """Whether a set's rows of a merged call match its own call (up to the rounding of another batch size)."""
    if alone is None or set(merged) != set(alone):
        return False
    for key, value in alone.items():
        got, want = np.asarray(merged[key]), np.asarray(value)
        if got.shape != want.shape:
            return False
        if want.dtype.kind not in "fc":
            if not np.array_equal(got, want):
                return False
            continue
        finite = np.abs(want[np.isfinite(want)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        if not np.allclose(got, want, rtol=1e-3, atol=1e-4 * scale, equal_nan=True):
            return False
    return True


def _concat(members: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([m[name] for m in members], axis=0) for name in members[0]}


def _rows(arrays: dict[str, np.ndarray]) -> int:
    return int(next(iter(arrays.values())).shape[0])


def _split(values: dict[str, np.ndarray] | None, rows: list[int]) -> list[dict[str, np.ndarray]] | None:
    """Per-set outputs of a merged call; None when some output does not have the merged batch at axis 0."""
    if values is None:
        return None
    total = sum(rows)
    if any(np.ndim(v) == 0 or np.shape(v)[0] != total for v in values.values()):
        return None
    bounds = np.cumsum([0, *rows])
    return [
        {key: np.ascontiguousarray(value[start:stop]) for key, value in values.items()}
        for start, stop in itertools.pairwise(bounds)
    ]


def ort_run_merged(model: Any, sets: Sets, batch_axes: dict[str, int | None], probes: list[str]) -> Any:
    """:func:`pipeline.stages.onnxruntime_run.run` with merged sets; providers and placement of its first call."""
    from pipeline.stages import onnxruntime_run

    first: list[Any] = []
    probe_key = "\0probe:"

    def once(subset: Sets) -> tuple[Outputs, dict[str, str]]:
        result = onnxruntime_run.run(model, subset, probes=probes)
        first.append(result)
        outputs = {
            name: {**values, **{probe_key + p: a for p, a in result.probes.get(name, {}).items()}}
            for name, values in result.outputs.items()
        }
        return outputs, result.errors

    outputs, errors = run_merged(once, sets, batch_axes)
    run = first[0]
    run.outputs = {n: {k: v for k, v in vals.items() if not k.startswith(probe_key)} for n, vals in outputs.items()}
    run.probes = {
        n: {k.removeprefix(probe_key): v for k, v in vals.items() if k.startswith(probe_key)}
        for n, vals in outputs.items()
    }
    run.errors = errors
    return run


def probe_sets(module: Any, sets: Sets, specs: list[Any], keys: list[str], n_out: int) -> Outputs:
    """The probe tensors (a captured module's outputs after the first ``n_out``) per set, merged sets in one call.

    A set the module cannot run is left out; the torch check records why.
    """
    import torch

    def once(subset: Sets) -> tuple[Outputs, dict[str, str]]:
        out: Outputs = {}
        failed: dict[str, str] = {}
        with torch.no_grad():
            for set_name, arrays in subset.items():
                try:
                    result = module(*[torch.from_numpy(arrays[s.name]) for s in specs])
                except Exception as exc:
                    failed[set_name] = str(exc)
                    continue
                out[set_name] = {k: v.detach().numpy() for k, v in zip(keys, result[n_out:], strict=True)}
        return out, failed

    return run_merged(once, sets, {s.name: s.batch_axis for s in specs})[0]
