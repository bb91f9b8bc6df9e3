"""Validation inputs: specs from the model's signature plus config, seeded values, `.npz` files.

numpy only, so it runs on either side of the process boundary. Input *sets* are stored in one
``.npz`` with keys ``<set>/<input>``; a set is one forward pass. :data:`SET_PURPOSES` says what
each set is for: ``random`` at the configured batch size, ``batch1`` at batch 1 so that a fixed
batch dimension cannot hide, and edge cases at batch 1 (``zeros``, ``large``, ``negative``) for
float inputs, ``padded`` for inputs a Masking / ``mask_zero`` layer masks
(:mod:`pipeline.input_padding`); integer inputs (token ids) stay inside their valid range in every set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from pipeline import input_padding as padding
from pipeline.config import ConversionConfig, InputOverride
from pipeline.context import TensorSpec
from pipeline.errors import InputSpecError
from pipeline.input_vocabulary import nearest_known, with_known_values

InputSets = dict[str, dict[str, np.ndarray]]

# Value ranges keras.applications models expect, by their preprocessing mode:
#  "tf"    -> x / 127.5 - 1                  => [-1, 1]
#  "caffe" -> BGR minus ImageNet mean        => about [-124, 152]
#  "torch" -> (x / 255 - mean) / std         => about [-2.1, 2.6]
#  built-in preprocessing (Rescaling layers inside the model) => raw pixels [0, 255]
_KERAS_APPLICATION_RANGES: dict[str, tuple[float, float, str]] = {}
for _names, _range in (
    (
        (
            "MobileNet",
            "MobileNetV2",
            "ResNet50V2",
            "ResNet101V2",
            "ResNet152V2",
            "InceptionV3",
            "InceptionResNetV2",
            "Xception",
            "NASNetMobile",
            "NASNetLarge",
        ),
        (-1.0, 1.0, "tf"),
    ),
    (("ResNet50", "ResNet101", "ResNet152", "VGG16", "VGG19"), (-124.0, 152.0, "caffe")),
    (("DenseNet121", "DenseNet169", "DenseNet201"), (-2.1, 2.6, "torch")),
):
    for _name in _names:
        _KERAS_APPLICATION_RANGES[_name] = _range
_BUILTIN_PREPROCESSING = ("EfficientNet", "ConvNeXt", "MobileNetV3", "RegNet")

DEFAULT_IMAGE_SIDE = 224
DEFAULT_SEQUENCE = 16


def application_range(source: str | None) -> tuple[float, float, str] | None:
    """The input range a ``keras.applications:<Name>`` source expects, or None."""
    if not source or not source.startswith(("keras.applications", "tf.keras.applications")):
        return None
    name = source.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    if name in _KERAS_APPLICATION_RANGES:
        low, high, mode = _KERAS_APPLICATION_RANGES[name]
        return low, high, f"keras.applications preprocessing mode '{mode}'"
    if name.startswith(_BUILTIN_PREPROCESSING):
        return 0.0, 255.0, "keras.applications model with built-in preprocessing: raw pixels"
    return None


def fill_unknown_dims(shape: list[int | None], config: ConversionConfig) -> list[int | None]:
    """Give every unknown non-batch dimension a size (config ``default_dim`` or a shape-based guess)."""
    out: list[int | None] = [shape[0]] if shape else []
    for axis, dim in enumerate(shape[1:], start=1):
        if dim is not None:
            out.append(dim)
        elif config.default_dim:
            out.append(config.default_dim)
        elif len(shape) == 4 and axis in (1, 2):
            out.append(DEFAULT_IMAGE_SIDE)  # NHWC image with free spatial size
        else:
            out.append(DEFAULT_SEQUENCE)  # sequence length or other free axis
    return out


def _same_dtype(a: str, b: str) -> bool:
    try:
        return np.dtype(a) == np.dtype(b)
    except TypeError:  # a name numpy does not know (e.g. "string"): compare the names
        return a == b


def apply_override(spec: TensorSpec, override: InputOverride | None) -> TensorSpec:
    """Merge a config override into a signature-derived spec, checking that it fits."""
    if override is None:
        return spec
    shape = list(spec.shape)
    batch_axis = spec.batch_axis
    if override.shape is not None:
        if len(override.shape) != len(spec.shape):
            raise InputSpecError(
                f"input '{spec.name}': config shape {list(override.shape)} has rank {len(override.shape)}, "
                f"the model's signature {spec.shape} has rank {len(spec.shape)}",
                stage="inputs",
            )
        for axis, (want, have) in enumerate(zip(override.shape, spec.shape, strict=True)):
            if have is not None and want is not None and want != have and axis != batch_axis:
                raise InputSpecError(
                    f"input '{spec.name}': config shape {list(override.shape)} does not fit the model's "
                    f"signature {spec.shape} (axis {axis} is fixed at {have})",
                    stage="inputs",
                )
        # A size given for the batch axis sets the batch of the 'random' set; the axis stays dynamic.
        shape = [
            None if axis == batch_axis else (want if want is not None else have)
            for axis, (want, have) in enumerate(zip(override.shape, spec.shape, strict=True))
        ]
    if override.dtype is not None and spec.dtype and not _same_dtype(override.dtype, spec.dtype):
        raise InputSpecError(  # checked here: ONNX Runtime would fail later with a raw type message
            f"input '{spec.name}': config dtype {override.dtype} does not match the model's signature, "
            f"which takes {spec.dtype}",
            stage="inputs",
            hint=f"set dtype: {spec.dtype} for '{spec.name}' or leave it out (it comes from the model)",
        )
    low = override.low if override.low is not None else spec.low
    high = override.high if override.high is not None else spec.high
    reason = "config" if (override.low is not None or override.high is not None) else spec.range_reason
    if not low < high:
        raise InputSpecError(f"input '{spec.name}': low ({low}) must be below high ({high})", stage="inputs")
    return replace(
        spec,
        shape=shape,
        dtype=override.dtype or spec.dtype,
        low=low,
        high=high,
        range_reason=reason,
        batch_axis=batch_axis,
    )


def resolve_specs(specs: list[TensorSpec], config: ConversionConfig) -> list[TensorSpec]:
    """Apply config overrides (rejecting unknown input names) and fill unknown dims."""
    known = {s.name for s in specs}
    unknown = sorted(set(config.inputs) - known)
    if unknown:
        raise InputSpecError(
            f"config names input(s) {unknown} that the model does not have (inputs: {sorted(known)})",
            stage="inputs",
        )
    resolved = []
    for spec in specs:
        spec = apply_override(spec, config.inputs.get(spec.name))
        resolved.append(replace(spec, shape=fill_unknown_dims(spec.shape, config)))
    return resolved


def batch_for(config: ConversionConfig, specs: list[TensorSpec]) -> int:
    """Batch size of the main input set: an override's batch dim wins over ``batch_size``."""
    for spec in specs:
        override = config.inputs.get(spec.name)
        if override and override.shape and spec.batch_axis is not None:
            dim = override.shape[spec.batch_axis]
            if dim:
                return dim
    return config.batch_size


def generate(spec: TensorSpec, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Seeded values for one input: uniform in [low, high) (ints: integers in [low, high))."""
    shape = spec.concrete_shape(batch)
    dtype = np.dtype(spec.dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        low, high = int(np.ceil(spec.low)), int(np.floor(spec.high))
        if high <= low:
            high = low + 1
        return with_known_values(rng.integers(low, high, size=shape).astype(dtype), spec, rng)
    return rng.uniform(spec.low, spec.high, size=shape).astype(dtype)


SET_PURPOSES: dict[str, str] = {
    "random": "seeded values in each input's expected range, at the configured batch size",
    "batch1": "batch of 1: catches a batch dimension fixed at export time",
    "zeros": "all-zero float inputs: biases and padding alone",
    "large": "float inputs at the extremes of their range (the top and bottom 5%): saturation, overflow, precision",
    "negative": "negative float inputs only: sign handling (ReLU cut-offs, abs, sqrt, log)",
    "user": "the user's own inputs (--inputs)",
    "padded": padding.PURPOSE,
}
EDGE_SETS = ("zeros", "large", "negative")
EDGE_BATCH = 1


def edge_value(spec: TensorSpec, kind: str, batch: int, rng: np.random.Generator) -> np.ndarray:
    """One input of an edge-case set. Integer and bool inputs keep to their valid range:
    ``zeros`` uses the lowest valid value, ``large`` the highest, ``negative`` random valid ones."""
    shape = spec.concrete_shape(batch)
    dtype = np.dtype(spec.dtype)
    if dtype == np.bool_ or np.issubdtype(dtype, np.integer):
        low, high = int(np.ceil(spec.low)), int(np.floor(spec.high))
        high = max(high, low + 1)  # exclusive bound
        if kind == "zeros":
            value = min(max(0, low), high - 1)
            return np.full(shape, nearest_known(value, spec), dtype=dtype)
        if kind == "large":
            return np.full(shape, nearest_known(high - 1, spec), dtype=dtype)
        return generate(spec, batch, rng)
    bound = max(abs(spec.low), abs(spec.high), 1.0)
    if kind == "zeros":
        return np.zeros(shape, dtype=dtype)
    if kind == "large":
        # Inside the model's domain: far outside it (100x the range was tried) float32 itself is
        # ill-conditioned: EfficientNetV2B0 run twice in TensorFlow, oneDNN on and off, differed
        # by 0.7% of the logits' spread there, 70x the default tolerance.
        edge = 0.05 * (spec.high - spec.low)
        top = rng.uniform(spec.high - edge, spec.high, size=shape)
        bottom = rng.uniform(spec.low, spec.low + edge, size=shape)
        return np.where(rng.random(size=shape) < 0.5, top, bottom).astype(dtype)
    if kind == "negative":
        return (-rng.uniform(0.0, bound, size=shape) - np.finfo(np.float32).eps * bound).astype(dtype)
    raise ValueError(f"unknown edge set {kind!r}")


def make_input_sets(specs: list[TensorSpec], config: ConversionConfig) -> InputSets:
    """The default validation sets (see :data:`SET_PURPOSES`).

    ``random`` at the configured batch; ``batch1`` when an input has a batch axis and that batch
    is not already 1; the edge sets when some input is a float (they would only repeat integer
    sets otherwise), at batch 1.
    """
    rng = np.random.default_rng(config.seed)
    batch = batch_for(config, specs)
    sets: InputSets = {"random": {s.name: generate(s, batch, rng) for s in specs}}
    batched = any(s.batch_axis is not None for s in specs)
    if batched and batch != 1:
        sets["batch1"] = {s.name: generate(s, 1, rng) for s in specs}
    padded = padding.padded_set(sets["random"], specs)  # Masking / mask_zero inputs only
    if padded is not None:
        sets["padded"] = padded
    if config.edge_inputs and any(np.issubdtype(np.dtype(s.dtype), np.floating) for s in specs):
        edge_batch = EDGE_BATCH if batched else batch
        for kind in EDGE_SETS:
            sets[kind] = {s.name: edge_value(s, kind, edge_batch, rng) for s in specs}
    return sets


def describe_sets(sets: InputSets, specs: list[TensorSpec]) -> list[dict[str, object]]:
    """What the report says about each input set: batch, purpose, and each input's shape and value range."""
    batch_axes = {s.name: s.batch_axis for s in specs}
    described = []
    for set_name, arrays in sets.items():
        batch = None
        values = {}
        for name, arr in arrays.items():
            axis = batch_axes.get(name)
            if axis is not None and arr.ndim > axis and batch is None:
                batch = int(arr.shape[axis])
            finite = arr[np.isfinite(arr)] if np.issubdtype(arr.dtype, np.floating) else arr
            values[name] = {
                "shape": list(arr.shape),
                "dtype": str(arr.dtype),
                "min": float(finite.min()) if finite.size else None,
                "max": float(finite.max()) if finite.size else None,
            }
        described.append(
            {
                "name": set_name,
                "batch": batch,
                "purpose": SET_PURPOSES.get(set_name, "input set"),
                "inputs": values,
            }
        )
    return described


def load_user_inputs(path: str | Path, specs: list[TensorSpec]) -> InputSets:
    """Read a user's ``.npz`` of inputs (keys = input names) and check it against the specs."""
    path = Path(path)
    if not path.is_file():
        raise InputSpecError(f"inputs file not found: {path}", stage="inputs")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError) as exc:
        raise InputSpecError(f"{path}: not a readable .npz file ({exc})", stage="inputs") from None
    check_arrays(arrays, specs, where=str(path))
    return {"user": arrays}


def check_arrays(arrays: Mapping[str, np.ndarray], specs: list[TensorSpec], where: str) -> None:
    """Names, ranks, fixed dims and dtype kinds of ``arrays`` must match ``specs``."""
    names = {s.name for s in specs}
    if set(arrays) != names:
        raise InputSpecError(
            f"{where}: inputs {sorted(arrays)} do not match the model's inputs {sorted(names)}",
            stage="inputs",
        )
    for spec in specs:
        arr = arrays[spec.name]
        if arr.ndim != len(spec.shape) or any(
            d is not None and d != a and axis != spec.batch_axis
            for axis, (d, a) in enumerate(zip(spec.shape, arr.shape, strict=True))
        ):
            raise InputSpecError(
                f"{where}: input '{spec.name}' has shape {list(arr.shape)}, the model expects {spec.shape} "
                "(None = any size)",
                stage="inputs",
            )
        want = np.dtype(spec.dtype)
        if np.issubdtype(want, np.floating) != np.issubdtype(arr.dtype, np.floating):
            raise InputSpecError(
                f"{where}: input '{spec.name}' has dtype {arr.dtype}, the model expects {want}",
                stage="inputs",
            )


def save_sets(path: Path, sets: InputSets) -> None:
    """Store sets in one ``.npz`` (keys ``<set>/<name>``)."""
    flat = {f"{set_name}/{name}": arr for set_name, arrays in sets.items() for name, arr in arrays.items()}
    np.savez(path, **flat)


def load_sets(path: Path) -> InputSets:
    """Inverse of :func:`save_sets`; names may themselves contain ``/``."""
    sets: InputSets = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            set_name, name = key.split("/", 1)
            sets.setdefault(set_name, {})[name] = data[key]
    return sets
