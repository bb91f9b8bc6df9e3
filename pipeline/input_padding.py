"""The ``padded`` input set: sequences whose tail is the value a Masking or ``mask_zero`` layer masks.

Seeded random values almost never equal a mask value (a float input is never exactly 0.0, and
ids hit 0 only here and there), so the default sets run a masking model as if nothing were
masked. This set takes the ``random`` set and overwrites the tail of some rows with the input's
``pad_value``: row 0 stays whole, row ``r`` of ``n`` keeps ``T - r*T/n`` steps (half of them at
batch 1), so one batch mixes lengths and every row keeps at least one real step.
"""

from __future__ import annotations

import numpy as np

from pipeline.context import TensorSpec

PURPOSE = "sequences padded at the end with the mask value (Masking / Embedding mask_zero) in some rows"


def kept_steps(steps: int, rows: int) -> list[int]:
    """How many leading steps each row keeps (the rest is padding)."""
    if rows == 1:
        return [max(1, (steps + 1) // 2)]
    return [max(1, steps - (row * steps) // rows) for row in range(rows)]


def padded_set(arrays: dict[str, np.ndarray], specs: list[TensorSpec]) -> dict[str, np.ndarray] | None:
    """``arrays`` (one input set) with the tails of masked inputs padded; None when no input is masked."""
    masked = [s for s in specs if s.pad_value is not None and arrays[s.name].ndim >= 2]
    if not masked:
        return None
    out = {name: value.copy() for name, value in arrays.items()}
    for spec in masked:
        value = out[spec.name]
        row_axis = spec.batch_axis if spec.batch_axis is not None else 0
        step_axis = row_axis + 1
        if step_axis >= value.ndim:
            continue
        rows = np.moveaxis(value, (row_axis, step_axis), (0, 1))  # a view: writes land in ``value``
        for row, keep in enumerate(kept_steps(rows.shape[1], rows.shape[0])):
            rows[row, keep:] = spec.pad_value
    return out
