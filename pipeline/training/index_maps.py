"""Which Keras element each state-dict element of ``model.py`` holds (the training check's maps).

The model is translated again with each float variable holding its own element numbers, so
whatever the translator does to a weight (transposes, gate reorders, splits, Flatten's reordered
rows), the numbers say where each element came from. float32 holds integers exactly below 2**24:
numbers are coded in digits of base 2**23 (1..2**23 each; anything else is "no Keras element"),
one translation per digit, so VGG16's fc1 kernel (103 million elements) takes two. Layers only the
ONNX fallback translates have no map (the comparison matches those by value).
"""

from __future__ import annotations

from typing import Any

import numpy as np

BASE = 2**23


def index_maps(model: Any, config: Any, input_names: list[str], base: int = BASE) -> dict[str, np.ndarray]:
    """state-dict key -> flat index into its Keras variable for every element (-1: not a Keras element)."""
    from pipeline.translate import translate_model
    from pipeline.translate.base import Decline

    variables = [v for v in model.variables if "float32" in str(v.dtype) and int(np.prod(v.shape)) > 0]
    largest = max((int(np.prod(v.shape)) for v in variables), default=1)
    digits = 1
    while base**digits < largest:
        digits += 1
    kind = np.int32 if largest < 2**31 else np.int64
    maps: dict[str, np.ndarray] = {}
    valid: dict[str, np.ndarray] = {}
    for digit in range(digits):
        saved = [v.numpy() for v in variables]
        try:
            for v in variables:
                numbers = np.arange(int(np.prod(v.shape)), dtype=np.int64)
                v.assign(((numbers // base**digit) % base + 1).astype(np.float32).reshape(v.shape))
            try:
                code = translate_model(model, layout=config.layout, input_names=input_names)
            except Decline:
                return {}
        finally:
            for v, value in zip(variables, saved, strict=True):
                v.assign(value)
            del saved
        for key in [k for k in code.weights if k in code.weight_map]:
            codes = code.weights.pop(key)
            if not np.issubdtype(codes.dtype, np.floating):
                continue
            ok = (codes >= 1) & (codes <= base) & (codes == np.round(codes))
            digit_value = np.where(ok, codes - 1, 0).astype(kind) * kind(base**digit)
            maps[key] = maps[key] + digit_value if key in maps else digit_value
            valid[key] = valid[key] & ok if key in valid else ok
        del code
    return {k: np.where(valid[k], index, -1).astype(kind) for k, index in maps.items()}
