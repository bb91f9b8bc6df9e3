"""Lookup preprocessing layers inside models: Discretization and IntegerLookup, in every dense output mode."""

from __future__ import annotations

import numpy as np

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value

ENCODED = ("one_hot", "multi_hot", "count")


def translate_discretization(call: LayerCall, ctx: Context) -> Translation:
    """Discretization as ``torch.bucketize(x, boundaries, right=True)`` over a buffer, then Keras' encoding.

    TensorFlow's Bucketize counts the boundaries at or below each value (an upper-bound search):
    torch's ``right=True``. The boundaries (config or adapted) are a buffer of the helper module.
    output_mode one_hot, multi_hot and count encode the bucket over ``len(boundaries) + 1``
    positions as Keras' ``encode_categorical_inputs`` does, in the layer's output dtype.
    """
    layer = call.layer
    cfg = call.config
    mode = _mode(call, "Discretization")
    bounds = getattr(layer, "bin_boundaries", None)
    if bounds is None:
        raise Decline("Discretization without boundaries (neither given nor adapted)")
    boundaries = np.asarray([float(b) for b in bounds], np.float32)
    args = f"{boundaries.size}"
    if mode != "int":
        args += f', output_mode="{mode}", out_dtype=torch.{_torch_dtype(call)}'
    if cfg.get("sparse"):
        raise Decline("Discretization with sparse=True (torch.sparse output)")
    return _helper_call(call, ctx, "Discretization", f"Discretization({args})", {"boundaries": boundaries}, mode)


def translate_integer_lookup(call: LayerCall, ctx: Context) -> Translation:
    """IntegerLookup (either direction) as ``torch.searchsorted`` over sorted keys, then Keras' encoding.

    The table becomes two buffers (keys sorted, their indices or tokens), with Keras' rules for
    what is not in it: one OOV index as the default, several as ``oov_start + id mod n``
    (``oov_method="floormod"``), none as -1 (Keras raises on such ids; the input sets hold only
    keys then), the mask token to index 0 (inverted: index 0 to the mask token). output_mode
    one_hot, multi_hot and count count no mask index (Keras maps the mask token past the last
    position) and encode over the vocabulary size (``max_tokens`` with ``pad_to_max_tokens``).
    TensorFlow computes those outputs as int64 where Keras declares float32, which every next
    Keras layer casts them to: the module returns the declared dtype, with the same values.
    """
    layer = call.layer
    cfg = call.config
    mode = _mode(call, "IntegerLookup")
    if cfg.get("sparse"):
        raise Decline("IntegerLookup with sparse=True (torch.sparse output)")
    if cfg.get("oov_method", "floormod") != "floormod":
        raise Decline(f"IntegerLookup oov_method '{cfg.get('oov_method')}'")
    tokens = [int(v) for v in layer.get_vocabulary(include_special_tokens=False)]
    if not tokens:
        raise Decline("IntegerLookup with an empty vocabulary (neither given nor adapted)")
    mask = layer.mask_token
    num_oov = int(layer.num_oov_indices)
    oov_start = 1 if mask is not None and mode == "int" else 0
    start = oov_start + num_oov
    indices = list(range(start, start + len(tokens)))
    if layer.invert:
        keys, values, default = indices, tokens, int(layer.oov_token)
        args = f"{default}" + ("" if mask is None else f", mask_key=0, mask_value={int(mask)}")
    else:
        keys, values = tokens, indices
        default = -1 if num_oov != 1 else oov_start
        args = f"{default}"
        if mask is not None:
            depth = _depth(layer, start + len(tokens))
            args += f", mask_key={int(mask)}, mask_value={0 if mode == 'int' else depth}"
        if num_oov > 1:
            args += f", num_oov={num_oov}, oov_start={oov_start}"
    if mode != "int":
        depth = _depth(layer, start + len(tokens))
        args += f', output_mode="{mode}", depth={depth}, out_dtype=torch.{_torch_dtype(call)}'
    order = np.argsort(np.asarray(keys, np.int64), kind="stable")
    weights = {"keys": np.asarray(keys, np.int64)[order], "values": np.asarray(values, np.int64)[order]}
    return _helper_call(call, ctx, "IntegerLookup", f"IntegerLookup({len(keys)}, {args})", weights, mode)


def _mode(call: LayerCall, kind: str) -> str:
    """The layer's output mode, declining those with no dense torch counterpart here."""
    mode = str(call.config.get("output_mode", "int"))
    if mode != "int" and mode not in ENCODED:
        raise Decline(f"{kind} with output_mode '{mode}'")
    rank = call.inputs[0].rank
    if mode in ("multi_hot", "count") and rank != 2:
        # rank 1 counts the whole batch into one row; rank 3+ reduces axis 1, not what Keras declares
        raise Decline(f"{kind} with output_mode '{mode}' on a rank-{rank} input (Keras encodes rank 2)")
    return mode


def _depth(layer: object, size: int) -> int:
    """Positions of an encoded IntegerLookup output: ``max_tokens`` when padded to it, else the vocabulary."""
    if getattr(layer, "pad_to_max_tokens", False) and getattr(layer, "max_tokens", None):
        return int(layer.max_tokens)  # type: ignore[attr-defined]
    return size


def _torch_dtype(call: LayerCall) -> str:
    dtype = call.output_dtypes[0]
    if not dtype.startswith(("float", "int", "bfloat")):
        raise Decline(f"encoded lookup output of dtype {dtype}")
    return dtype


def _helper_call(
    call: LayerCall, ctx: Context, helper: str, ctor: str, buffers: dict[str, np.ndarray], mode: str
) -> Translation:
    """``out = self.<attr>(x)`` on a helper module whose buffers are ``buffers``."""
    value = call.inputs[0]
    if value.channels_first and value.rank >= 3:
        lines, value = ctx.keras_layout(value)
    else:
        lines = []
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0])
    helpers = [helper] if mode == "int" else ["encode_categories", helper]
    t = Translation(
        modules={}, lines=[*lines, f"{out} = self.{call.attr}({value.var})"], outputs=[result], helpers=helpers
    )
    if call.call_index == 0:
        t.modules[call.attr] = ctor
        for key, array in buffers.items():
            t.weights[f"{call.attr}.{key}"] = array
            t.buffers.add(f"{call.attr}.{key}")
    return t


ENTRIES = (
    LayerEntry.of(("Discretization",), translate_discretization),
    LayerEntry.of(("IntegerLookup",), translate_integer_lookup),
)
